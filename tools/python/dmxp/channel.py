# SPDX-License-Identifier: MIT
"""Channels: sending and receiving messages.

Blocking follows the queue module: every send and receive call takes
``block=True, timeout=None``.

* ``block=True, timeout=None`` waits as long as it takes;
* ``block=True, timeout=SECONDS`` waits at most that long, then raises
  :class:`dmxp.Timeout` (a TimeoutError);
* ``block=False`` never waits: an empty (receive) or full (send) channel
  raises :class:`dmxp.WouldBlock` (a BlockingIOError) at once.

Waiting is libdmxp's: a short adaptive spin, then a sleep that costs no
CPU, woken by producers with no system call of theirs unless someone
sleeps.  The GIL is released while a call runs.  A signal interrupts a
wait; the call is retried (with the time left) unless the signal handler
raised, as for Python's own system calls (PEP 475).
"""
import ctypes
import errno
import selectors
import threading
import time

from . import _lib, _notify
from ._handle import _Handle
from .constants import (ARM_RECV, ARM_SEND, DEFAULT_CAPACITY, MAX_PAYLOAD,
                        WAIT_FOREVER)
from .errors import ChannelDestroyed, error
from .message import RecvBatch, SendBuffer, meta_from, normalize

_EAGAIN, _EINTR, _ETIMEDOUT = -errno.EAGAIN, -errno.EINTR, -errno.ETIMEDOUT
_EMSGSIZE, _EEXIST = -errno.EMSGSIZE, -errno.EEXIST
_BATCH = 256            # messages per C batch call of recv_many()/send_many()
_NS = 1000000000


class _Scratch:
    """A receive buffer and a metadata struct for one call at a time."""

    __slots__ = ("raw", "buf", "buf_addr", "meta_raw", "meta", "meta_addr")

    def __init__(self):
        self.raw = bytearray(MAX_PAYLOAD)
        self.buf = (ctypes.c_char * MAX_PAYLOAD).from_buffer(self.raw)
        self.buf_addr = ctypes.addressof(self.buf)
        self.meta_raw = bytearray(_lib.META_SIZE)
        self.meta = _lib.MsgMeta.from_buffer(self.meta_raw)
        self.meta_addr = ctypes.addressof(self.meta)


def _pop(pool, factory):
    try:
        return pool.pop()
    except IndexError:
        return factory()


def _check_timeout(timeout):
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be None or >= 0, not %r" % (timeout,))


def _wait(call, timeout):
    """Run call(timeout_ns) of a blocking C function, retrying after a
    signal with the time left; return its result."""
    if timeout is None:
        while True:
            ret = call(WAIT_FOREVER)
            if ret != _EINTR:
                return ret
            # A signal: its Python handler runs here, between two calls.
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    left = timeout
    while True:
        # At least 1 ns: 0 would be the C library's "do not wait at all".
        ret = call(max(1, int(left * _NS)))
        if ret != _EINTR:
            return ret
        left = deadline - time.monotonic()
        if left <= 0:
            return _ETIMEDOUT


def _check_type(mtype):
    """``mtype`` as a message type, 0..2^32-1, or InvalidArgument."""
    if not 0 <= mtype <= 0xFFFFFFFF:
        raise error(errno.EINVAL, "message type %r is not in 0..2^32-1" % (mtype,), plain=True)
    return mtype


def _pointer(data):
    """(something ctypes passes as a const void *, its length) for a
    bytes-like object."""
    if type(data) is bytes:
        return data, len(data)
    view = memoryview(data).cast("B")
    if view.readonly:
        data = view.tobytes()
        return data, len(data)
    return (ctypes.c_char * len(view)).from_buffer(view), len(view)


class Channel(_Handle):
    """An open channel of a region: ``Channel(region, id, create=False,
    capacity=1024)``, or ``region.channel(id, ...)``.

    With ``create`` the channel is created first if it does not exist.
    A context manager; close() releases the handle (the channel and its
    messages stay in the region).  One Channel may be used by several
    threads at once, but must not be closed while another thread is in
    one of its calls.

    Raises NotFound (not created), InvalidArgument (id >= 256, bad
    capacity), ProtocolError, or the errors of Region.create_channel().
    """

    def __init__(self, region, id, create=False, capacity=DEFAULT_CAPACITY):
        rh = region._h()
        if create:
            ret = _lib.chan_create(rh, id, capacity)
            if ret < 0 and ret != _EEXIST:
                raise error(ret, "cannot create channel %s with capacity %s" % (id, capacity))
        out = ctypes.c_void_p()
        ret = _lib.chan_open(rh, id, ctypes.byref(out))
        if ret < 0:
            raise error(ret, "cannot open channel %s" % (id,))
        self._handle = out.value
        self.region = region                    #: the Region
        self.id = id                            #: the channel id, 0..255
        self.capacity = _lib.chan_capacity(self._handle)  #: slots
        self._scratch = []                      # _Scratch pool
        self._recv_batches = []                 # RecvBatch pool (recv_many)
        self._send_buffers = []                 # SendBuffer pool (send_many)
        self._wait_lock = threading.Lock()
        self._native_fd = None                  # dmxp_chan_fd(), or False
        self._futex_fds = {}                    # ARM_*: _notify.FutexFd
        self._aio_waits = {}                    # (ARM_*, loop): aio._Wait
        region._register(self)

    # -- lifetime

    def close(self):
        """Release the handle.  Calling it again does nothing.  Coroutines
        awaiting the channel get ValueError."""
        if self._handle is None:
            return
        if self._aio_waits:
            from .aio import close_waits
            close_waits(self)
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with self._wait_lock:
            fds, self._futex_fds = self._futex_fds, {}
        for fx in fds.values():
            fx.close()
        _lib.chan_close(handle)

    def __repr__(self):
        state = "closed" if self.closed else "capacity %d" % self.capacity
        return "<dmxp.Channel %d of %r, %s>" % (self.id, self.region.path, state)

    def _h(self):
        handle = self._handle
        if handle is None:
            raise ValueError("I/O operation on a closed channel")
        return handle

    def _error(self, ret, doing, timeout=None):
        if ret == _EAGAIN:
            what = "channel %d is %s" % (self.id, "full" if doing == "send" else "empty")
        elif ret == _ETIMEDOUT:
            what = "channel %d: no %s within %g s" % (
                self.id, "free slot" if doing == "send" else "message", timeout)
        elif ret == -errno.EIDRM:
            what = "channel %d was destroyed" % self.id
        else:
            return error(ret, "channel %d: cannot %s" % (self.id, doing))
        return error(ret, what, plain=True)

    # -- state

    def info(self):
        """A ChannelInfo snapshot: capacity, head, tail, depth..."""
        return self.region.channel_info(self.id)

    def set_spin(self, max_ns):
        """Spin at most ``max_ns`` nanoseconds (0..1,000,000; default
        20,000) before a blocking call sleeps.  InvalidArgument above 1 ms."""
        ret = _lib.chan_set_spin(self._h(), max_ns)
        if ret < 0:
            raise error(ret, "spin of %r ns" % (max_ns,))

    def set_timestamp(self, policy):
        """What this handle's sends write into ``timestamp_ns``:
        ``TIMESTAMP_PRECISE`` (CLOCK_MONOTONIC, the default),
        ``TIMESTAMP_COARSE`` (CLOCK_MONOTONIC_COARSE: a clock tick's
        resolution, cheaper) or ``TIMESTAMP_NONE`` (0, "not stamped").
        InvalidArgument for another value."""
        if not isinstance(policy, int) or not 0 <= policy <= 0xffffffff:
            raise error(-errno.EINVAL, "timestamp policy %r" % (policy,))
        ret = _lib.chan_set_timestamp(self._h(), policy)
        if ret < 0:
            raise error(ret, "timestamp policy %r" % (policy,))

    # -- one message

    def send(self, data, type=0, *, block=True, timeout=None):
        """Send ``data`` (bytes-like, at most MAX_PAYLOAD bytes) with the
        message type ``type`` (0..2^32-1).

        Raises WouldBlock (full, block=False), Timeout, MessageTooLarge
        (nothing is sent), ChannelDestroyed.
        """
        h = self._h()
        ptr, n = _pointer(data)
        _check_type(type)
        if timeout is not None:
            _check_timeout(timeout)
        ret = _lib.chan_send(h, ptr, n, type)
        if ret == _EAGAIN and block:
            ret = _wait(lambda t: _lib.chan_send_wait(h, ptr, n, type, t), timeout)
        if ret < 0:
            if ret == _EMSGSIZE:
                raise error(ret, "message of %d bytes is longer than %d bytes"
                            % (n, MAX_PAYLOAD), plain=True)
            raise self._error(ret, "send", timeout)

    def _recv(self, h, buf, size, scratch, block, timeout):
        """Receive into ``buf`` (``size`` bytes) and scratch.meta."""
        meta = scratch.meta_addr
        if timeout is not None:
            _check_timeout(timeout)
        ret = _lib.chan_recv(h, buf, size, meta)
        if ret == _EAGAIN and block:
            ret = _wait(lambda t: _lib.chan_recv_wait(h, buf, size, meta, t), timeout)
        if ret < 0:
            if ret == _EMSGSIZE:
                raise error(ret, "buffer of %d bytes is too small for the next message "
                            "of channel %d (%d bytes); it stays in the channel"
                            % (size, self.id, scratch.meta.payload_len), plain=True)
            raise self._error(ret, "receive", timeout)
        return ret

    def recv(self, *, block=True, timeout=None):
        """Receive the oldest message: (payload bytes, Meta).

        Raises WouldBlock (empty, block=False), Timeout, ChannelDestroyed.
        """
        h = self._h()
        s = _pop(self._scratch, _Scratch)
        try:
            n = self._recv(h, s.buf_addr, MAX_PAYLOAD, s, block, timeout)
            return s.buf[:n], meta_from(s.meta_raw)
        finally:
            self._scratch.append(s)

    def recv_into(self, buffer, *, block=True, timeout=None):
        """Receive the oldest message into ``buffer`` (a writable bytes-like
        object: bytearray, memoryview, array...) and return (nbytes, Meta).

        Raises MessageTooLarge if the message does not fit (it stays in the
        channel), WouldBlock, Timeout, ChannelDestroyed; TypeError for a
        read-only buffer.
        """
        h = self._h()
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("recv_into() needs a writable buffer")
        target = (ctypes.c_char * len(view)).from_buffer(view)
        s = _pop(self._scratch, _Scratch)
        try:
            n = self._recv(h, target, len(view), s, block, timeout)
            return n, meta_from(s.meta_raw)
        finally:
            self._scratch.append(s)

    # -- batches

    def _fill(self, h, batch, n, block, timeout):
        """Receive up to ``n`` messages into ``batch``; return how many."""
        if timeout is not None:
            _check_timeout(timeout)
        ret = _lib.chan_recv_batch(h, batch._rmsgs, n)
        if ret == _EAGAIN and block:
            # Sleep for the first message in the library, into the batch's
            # first buffer and metadata, then take whatever else is there.
            buf0, meta0 = batch._buf_addr, batch._rmsgs_addr + _lib.RMSG_META_OFFSET
            size = batch.buffer_size
            ret = _wait(lambda t: _lib.chan_recv_wait(h, buf0, size, meta0, t), timeout)
            if ret >= 0:
                batch._u32[_lib.RMSG_LEN_OFFSET // 4] = ret
                ret = 1
                if n > 1:
                    more = _lib.chan_recv_batch(h, batch._rmsgs_addr + _lib.RMSG_SIZE, n - 1)
                    if more > 0:
                        ret += more
        if ret < 0:
            batch.count = 0
            if ret == _EMSGSIZE:
                raise error(ret, "the next message of channel %d is longer than the "
                            "batch's buffers of %d bytes; it stays in the channel"
                            % (self.id, batch.buffer_size), plain=True)
            raise self._error(ret, "receive", timeout)
        batch.count = ret
        return ret

    def recv_many_into(self, batch, max_messages=None, *, block=True, timeout=None):
        """Receive up to ``max_messages`` (default: the batch's capacity)
        messages into ``batch``, a :class:`RecvBatch`, with one claim of
        the ring; return how many (at least 1).  The fast path: no copy
        and no object per message until you ask the batch for them.

        With block=True it waits for the first message only, then takes
        what is there.  Raises WouldBlock, Timeout, ChannelDestroyed,
        MessageTooLarge (the oldest message is longer than the batch's
        buffer_size; it stays).
        """
        h = self._h()
        n = batch.capacity if max_messages is None else min(max_messages, batch.capacity)
        if n < 1:
            raise ValueError("max_messages must be at least 1")
        return self._fill(h, batch, n, block, timeout)

    def recv_many(self, max_messages=_BATCH, *, block=True, timeout=None):
        """Receive up to ``max_messages`` messages: a list of (payload bytes,
        Meta), oldest first, at least one.

        With block=True it waits for the first message only, then takes
        what is there.  Raises WouldBlock (empty, block=False), Timeout,
        ChannelDestroyed.
        """
        h = self._h()
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        batch = _pop(self._recv_batches, lambda: RecvBatch(_BATCH))
        try:
            self._fill(h, batch, min(max_messages, _BATCH), block, timeout)
            out = batch.items()
            while len(out) < max_messages and batch.count == _BATCH:
                try:
                    self._fill(h, batch, min(max_messages - len(out), _BATCH), False, None)
                except BlockingIOError:
                    break
                out += batch.items()
            return out
        finally:
            batch.count = 0
            self._recv_batches.append(batch)

    def send_many(self, messages, type=0, *, block=True, timeout=None):
        """Send ``messages``, an iterable of bytes-like payloads or of
        (payload, type) tuples (a bare payload gets ``type``), in order,
        up to 256 with each claim of the ring.  Return how many were sent.

        All of them unless the channel stays full: with block=False the
        count is what fitted at once, with a timeout what was sent when it
        ran out.  Raises WouldBlock or Timeout only when none could be
        sent, MessageTooLarge (nothing is sent) for a payload over
        MAX_PAYLOAD, InvalidArgument for a bad type, ChannelDestroyed.
        """
        h = self._h()
        datas, lens, types = normalize(messages, type)
        total = len(datas)
        if not total:
            return 0
        _check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        sb = _pop(self._send_buffers, lambda: SendBuffer(_BATCH))
        sent = 0
        try:
            while sent < total:
                k = sb.pack(datas, lens, types, sent)
                ret = _lib.chan_send_batch(h, sb.smsgs, k)
                if ret > 0:
                    sent += ret
                    continue
                if ret == _EAGAIN and block:
                    # Full: sleep in the library until the next one fits.
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        ret = _ETIMEDOUT
                    else:
                        n, t0 = lens[sent], types[sent]
                        ret = _wait(lambda t: _lib.chan_send_wait(h, sb.base, n, t0, t), left)
                        if ret == 0:
                            sent += 1
                            continue
                if ret in (_EAGAIN, _ETIMEDOUT):
                    if sent:
                        break
                    raise self._error(ret, "send", timeout)
                raise self._error(ret, "send")
            return sent
        finally:
            self._send_buffers.append(sb)

    # -- zero-copy

    def peek(self):
        """Claim the oldest message and read it in place: a
        :class:`Peeked` whose ``payload`` is a read-only memoryview of the
        slot, until its release() (a context manager releases it on exit).
        Producers behind the slot wait until then: release it soon.
        Raises WouldBlock (empty), ChannelDestroyed, or dmxp.Error
        (ECANCELED) when a repairer freed a tombstone the call was
        skipping: nothing was peeked; call again.
        """
        h = self._h()
        ref = _lib.Ref()
        ret = _lib.chan_peek(h, ctypes.byref(ref))
        if ret < 0:
            raise self._error(ret, "receive")
        return Peeked(self, h, ref)

    def reserve(self):
        """Claim the next free slot to write a message in place: a
        :class:`Reservation` whose ``buffer`` is a writable memoryview of
        MAX_PAYLOAD bytes; publish with commit(nbytes, type), or give the
        slot up with abort() (a context manager aborts on exit if not
        committed).  Consumers behind the slot wait until then.
        Raises WouldBlock (full), ChannelDestroyed.
        """
        h = self._h()
        ref = _lib.Ref()
        ret = _lib.chan_reserve(h, ctypes.byref(ref))
        if ret < 0:
            raise self._error(ret, "send")
        return Reservation(self, h, ref)

    # -- event loops

    def _fd_for(self, events):
        """The native channel fd, or the region-file stand-in for ``events``."""
        if events not in (ARM_RECV, ARM_SEND):
            raise error(errno.EINVAL, "events must be ARM_RECV or ARM_SEND, not %r"
                        % (events,), plain=True)
        h = self._h()
        with self._wait_lock:
            if self._native_fd is None:
                fd = _lib.chan_fd(h)
                if fd >= 0:
                    self._native_fd = fd
                elif fd == -errno.EOPNOTSUPP and _notify.supported():
                    self._native_fd = False
                elif fd in (-errno.ENOENT, -errno.EIDRM):
                    raise self._error(-errno.EIDRM, "poll")    # the module's word for it
                else:
                    raise error(fd, "channel %d: no pollable fd" % self.id)
            if self._native_fd is not False:
                return self._native_fd, None
            fx = self._futex_fds.get(events)
            if fx is None:
                hdr = _lib.region_header(self.region._h())
                word = (hdr + _lib.HEADER_CHANNELS_OFFSET + self.id * _lib.ENTRY_SIZE +
                        (_lib.ENTRY_RECV_FUTEX if events == ARM_RECV else _lib.ENTRY_SEND_FUTEX))
                fx = self._futex_fds[events] = _notify.FutexFd(word)
            return fx.fd, fx

    def wait_fd(self, events=ARM_RECV):
        """(fd, selectors event) to wait on for ``events``: ARM_RECV (a
        message came) or ARM_SEND (a slot was freed).

        On a kernel region it is the channel fd (dmxp_chan_fd), readable
        when a message waits and writable when a slot is free.  On a region
        file, where libdmxp has no channel fd, it is a stand-in fd per
        event that becomes readable when a producer (consumer) wakes the
        armed channel.  It belongs to the channel: do not close it.
        Either way, follow the arm protocol (see arm()).
        """
        fd, fx = self._fd_for(events)
        if fx is None and events == ARM_SEND:
            return fd, selectors.EVENT_WRITE
        return fd, selectors.EVENT_READ

    def fileno(self):
        """The fd that select()/selectors report readable when a message
        may be waiting: wait_fd(ARM_RECV)'s.  Follow the arm protocol."""
        return self._fd_for(ARM_RECV)[0]

    def arm(self, events=ARM_RECV):
        """Announce that you are about to wait on wait_fd(events) (fileno()
        for messages): producers (consumers) wake only announced waiters.

        Returns True when armed: now wait, and call disarm() once woken (or
        when giving up).  Returns False when the channel is already ready
        (not armed): receive (send) again instead of waiting.  The loop::

            while True:
                drain: chan.recv(block=False) until WouldBlock
                if not chan.arm():
                    continue            # a message came meanwhile
                selector.select()       # chan.fileno() is registered
                chan.disarm()

        Raises ChannelDestroyed.
        """
        h = self._h()
        try:
            fx = self._fd_for(events)[1]
        except ChannelDestroyed:
            fx = None           # dmxp_chan_arm() says so below
        ev = fx.load() if fx is not None else 0
        ret = _lib.chan_arm(h, events)
        if ret < 0:
            raise self._error(ret, "arm")
        if ret == 0 and fx is not None:
            fx.arm(ev)
        return ret == 0

    def disarm(self, events=ARM_RECV):
        """Undo one arm() that returned True."""
        h = self._h()
        _lib.chan_disarm(h, events)
        fx = self._futex_fds.get(events)
        if fx is not None:
            fx.disarm()

    async def recv_async(self, *, timeout=None):
        """Await the oldest message: (payload bytes, Meta).  See dmxp.aio."""
        from .aio import recv_async
        return await recv_async(self, timeout=timeout)

    async def recv_many_async(self, max_messages=_BATCH, *, timeout=None):
        """Await up to ``max_messages`` messages (at least one).  See dmxp.aio."""
        from .aio import recv_many_async
        return await recv_many_async(self, max_messages, timeout=timeout)

    async def recv_many_into_async(self, batch, max_messages=None, *, timeout=None):
        """Await messages into ``batch`` (a RecvBatch); return how many.
        See dmxp.aio."""
        from .aio import recv_many_into_async
        return await recv_many_into_async(self, batch, max_messages, timeout=timeout)

    async def send_async(self, data, type=0, *, timeout=None):
        """Await room and send ``data``.  See dmxp.aio."""
        from .aio import send_async
        return await send_async(self, data, type, timeout=timeout)


class Peeked:
    """A message read in place (Channel.peek()).

    ``payload`` is a read-only memoryview of the slot and ``meta`` its
    Meta, until release() (or the end of a ``with`` block) frees the slot.
    """

    def __init__(self, chan, handle, ref):
        self._chan, self._handle, self._ref = chan, handle, ref
        arr = (ctypes.c_char * ref.len).from_address(ref.payload)
        self.payload = memoryview(arr).cast("B").toreadonly()
        self.meta = meta_from(ctypes.string_at(ctypes.addressof(ref.meta.contents),
                                               _lib.META_SIZE))

    def release(self):
        """Free the slot; the payload view is invalid from now on.
        Does nothing when released already.  Raises dmxp.Error (ECANCELED)
        when a repairer had freed the slot under this process, believing
        it dead: what the payload held may have been a later message's."""
        if self._ref is None:
            return
        self.payload.release()
        ret = 0
        if self._chan._handle == self._handle:
            ret = _lib.chan_release(self._handle, ctypes.byref(self._ref))
        self._ref = None
        if ret == -errno.ECANCELED:
            raise error(ret, "release")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Reservation:
    """A slot claimed for writing in place (Channel.reserve()).

    Write up to MAX_PAYLOAD bytes into ``buffer`` (a writable memoryview of
    the slot), then commit(nbytes, type) publishes them, or abort() gives
    the slot up.  A ``with`` block aborts on exit unless committed.
    """

    def __init__(self, chan, handle, ref):
        self._chan, self._handle, self._ref = chan, handle, ref
        arr = (ctypes.c_char * MAX_PAYLOAD).from_address(ref.payload)
        self.buffer = memoryview(arr).cast("B")

    def commit(self, nbytes, type=0):
        """Publish the first ``nbytes`` bytes of ``buffer`` as a message.
        Raises MessageTooLarge (nbytes > MAX_PAYLOAD; still reserved),
        ChannelDestroyed (nothing published), ValueError when done."""
        if self._ref is None:
            raise ValueError("the reservation was already committed or aborted")
        _check_type(type)
        ret = _lib.chan_commit(self._handle, ctypes.byref(self._ref), nbytes, type)
        if ret == _EMSGSIZE:
            raise error(ret, "message of %d bytes is longer than %d bytes"
                        % (nbytes, MAX_PAYLOAD), plain=True)
        self._done()
        if ret < 0:
            raise self._chan._error(ret, "send")

    def abort(self):
        """Give the slot up (consumers skip it).  Does nothing when done."""
        if self._ref is None:
            return
        if self._chan._handle == self._handle:
            _lib.chan_abort(self._handle, ctypes.byref(self._ref))
        self._done()

    def _done(self):
        self.buffer.release()
        self._ref = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()
