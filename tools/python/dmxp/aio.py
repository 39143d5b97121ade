# SPDX-License-Identifier: MIT
"""asyncio: awaiting messages and free slots without a thread per channel.

Each call first tries without blocking.  When the channel is empty (full)
it follows the arm protocol of include/dmxp.h around the event loop's
wait on the channel's fd (Channel.wait_fd)::

    try to receive  ->  arm (re-checks)  ->  loop.add_reader(fd)  ->  woken:
    disarm, remove the reader  ->  try to receive again ...

so producers make no system call while nobody waits, and no wake-up is
lost.  The coroutines of one event loop waiting on the same channel (for
the same event) share one arm and one reader and are woken together.
Cancelling a coroutine (or its timeout) disarms when it was the last one
waiting.

    async def consume(chan):
        while True:
            payload, meta = await chan.recv_async()
            ...
"""
import asyncio
import errno
import selectors

from .constants import ARM_RECV, ARM_SEND
from .errors import WouldBlock


class _Wait:
    """One armed wait on a channel fd, shared by the coroutines of a loop."""

    def __init__(self, chan, events, loop):
        self.chan, self.events, self.loop = chan, events, loop
        self.future = loop.create_future()
        self.users = 0
        self.armed = True
        fd, mask = chan.wait_fd(events)
        self.fd = fd
        # A kernel channel fd is writable when a slot is free; the
        # region-file stand-in is readable for either event.
        self.writer = mask == selectors.EVENT_WRITE
        if self.writer:
            loop.add_writer(fd, self._woken)
        else:
            loop.add_reader(fd, self._woken)

    def disarm(self):
        """Undo the arm, once (from any thread)."""
        if self.armed:
            self.armed = False
            if not self.chan.closed:
                self.chan.disarm(self.events)

    def finish(self, exc=None):
        """In the loop: stop watching, disarm, wake the waiters; once."""
        waits = self.chan._aio_waits
        if waits.get((self.events, self.loop)) is self:
            del waits[(self.events, self.loop)]
            if self.writer:
                self.loop.remove_writer(self.fd)
            else:
                self.loop.remove_reader(self.fd)
        self.disarm()
        if not self.future.done():
            if exc is None:
                self.future.set_result(None)
            else:
                self.future.set_exception(exc)

    def _woken(self):
        self.finish()


async def _ready(chan, events):
    """Return when the channel may be ready for ``events`` (spuriously too)."""
    loop = asyncio.get_running_loop()
    key = (events, loop)
    wait = chan._aio_waits.get(key)
    if wait is None:
        if not chan.arm(events):
            return              # ready already: try again
        try:
            wait = _Wait(chan, events, loop)
        except BaseException:
            chan.disarm(events)
            raise
        chan._aio_waits[key] = wait
    wait.users += 1
    try:
        await asyncio.shield(wait.future)
    finally:
        wait.users -= 1
        if wait.users == 0 and not wait.future.done():
            wait.finish()       # the last waiter left: cancelled or timed out


async def _until_ready(chan, events, deadline, timeout):
    if deadline is None:
        return await _ready(chan, events)
    left = deadline - asyncio.get_running_loop().time()
    try:
        if left <= 0:
            raise asyncio.TimeoutError
        await asyncio.wait_for(_ready(chan, events), left)
    except asyncio.TimeoutError:
        raise chan._error(-errno.ETIMEDOUT, "send" if events == ARM_SEND else "receive",
                          timeout) from None


def _deadline(timeout):
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError("timeout must be None or >= 0, not %r" % (timeout,))
    return asyncio.get_running_loop().time() + timeout


async def recv_async(chan, *, timeout=None):
    """Await the oldest message of ``chan``: (payload bytes, Meta).

    Raises dmxp.Timeout after ``timeout`` seconds (None: no limit),
    ChannelDestroyed, and ValueError if the channel is closed meanwhile.
    """
    deadline = _deadline(timeout)
    while True:
        try:
            return chan.recv(block=False)
        except WouldBlock:
            pass
        await _until_ready(chan, ARM_RECV, deadline, timeout)


async def recv_many_async(chan, max_messages=256, *, timeout=None):
    """Await up to ``max_messages`` messages of ``chan`` (at least one): a
    list of (payload bytes, Meta).  Raises as recv_async()."""
    deadline = _deadline(timeout)
    while True:
        try:
            return chan.recv_many(max_messages, block=False)
        except WouldBlock:
            pass
        await _until_ready(chan, ARM_RECV, deadline, timeout)


async def recv_many_into_async(chan, batch, max_messages=None, *, timeout=None):
    """Await messages into ``batch`` (a RecvBatch); return how many.
    Raises as recv_async() and Channel.recv_many_into()."""
    deadline = _deadline(timeout)
    while True:
        try:
            return chan.recv_many_into(batch, max_messages, block=False)
        except WouldBlock:
            pass
        await _until_ready(chan, ARM_RECV, deadline, timeout)


async def send_async(chan, data, type=0, *, timeout=None):
    """Await a free slot of ``chan`` and send ``data`` with ``type``.
    Raises Timeout, MessageTooLarge, ChannelDestroyed."""
    deadline = _deadline(timeout)
    while True:
        try:
            return chan.send(data, type, block=False)
        except WouldBlock:
            pass
        await _until_ready(chan, ARM_SEND, deadline, timeout)


def close_waits(chan):
    """Before ``chan`` closes: disarm its waits and fail their waiters with
    ValueError (in their loop's thread)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for wait in list(chan._aio_waits.values()):
        wait.disarm()
        exc = ValueError("channel %d was closed while awaited" % chan.id)
        if running is wait.loop:
            wait.finish(exc)
        elif not wait.loop.is_closed():
            wait.loop.call_soon_threadsafe(wait.finish, exc)
