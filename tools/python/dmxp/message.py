# SPDX-License-Identifier: MIT
"""Message metadata, channel snapshots, and the reusable buffers of the
batch calls.

The batch buffers are laid out once, as the C library wants them (arrays
of struct dmxp_rmsg and struct dmxp_smsg pointing into one big buffer),
and read and written afterwards through memoryviews and the struct module:
no ctypes call or attribute access per message.
"""
import ctypes
import errno
import struct
from array import array
from functools import partial
from typing import NamedTuple

from . import _lib
from .constants import MAX_PAYLOAD
from .errors import InvalidArgument, MessageTooLarge


class Meta(NamedTuple):
    """The metadata of a received message (struct dmxp_msg_meta)."""
    message_id: int      #: the message's position in its channel
    timestamp_ns: int    #: CLOCK_MONOTONIC when it was sent
    channel_id: int
    message_type: int    #: chosen by the sender (``type`` of send())
    sender_pid: int      #: the sending process (0: the kernel)
    sender_runtime: int  #: a Runtime value: C, PYTHON, ...
    flags: int           #: MSG_* flags


class ChannelInfo(NamedTuple):
    """A snapshot of a channel's state (struct dmxp_chan_info)."""
    id: int
    flags: int           #: CHAN_* flags
    capacity: int        #: slots
    head: int            #: next position to consume
    tail: int            #: next position to produce
    depth: int           #: tail - head: messages claimed or waiting
    band_offset: int     #: where the ring lies in the region


# struct dmxp_msg_meta without payload_len and padding, as Meta's fields.
_META = struct.Struct("<QQIIIHH8x")
# The same at offset 16 of a struct dmxp_rmsg (56 bytes).
_RMSG_META = struct.Struct("<16xQQIIIHH8x")
assert _META.size == _lib.META_SIZE and _RMSG_META.size == _lib.RMSG_SIZE

# struct dmxp_rmsg as 32-bit words: message i's len and message_type.
_W = _lib.RMSG_SIZE // 4
_W_LEN = _lib.RMSG_LEN_OFFSET // 4
_W_TYPE = (_lib.RMSG_META_OFFSET + 20) // 4

#: Meta from a tuple of its fields, without namedtuple's Python-level _make.
new_meta = partial(tuple.__new__, Meta)


def meta_from(buf, offset=0):
    """The Meta of the struct dmxp_msg_meta at ``offset`` of ``buf``."""
    return new_meta(_META.unpack_from(buf, offset))


class RecvBatch:
    """Reusable buffers for :meth:`Channel.recv_many_into`.

    ``capacity`` messages of up to ``buffer_size`` bytes each are received
    in one call, into one preallocated buffer.  After the call the batch
    holds the messages until the next call fills it again::

        batch = dmxp.RecvBatch(256)
        while True:
            chan.recv_many_into(batch)
            for payload in batch:          # memoryviews into the batch
                handle(payload)

    The memoryviews (``batch[i]``, iteration, :meth:`payloads`) are
    zero-copy views of the batch's buffer: valid until the next receive
    into this batch.  :meth:`tobytes` and :meth:`items` copy.  A message
    longer than ``buffer_size`` ends a batch before it, and raises
    MessageTooLarge when it is the first (it stays in the channel).  A
    batch must not be filled by two threads at once.
    """

    __slots__ = ("capacity", "buffer_size", "count", "_raw", "_rmsgs", "_buf",
                 "_cbuf", "_mv", "_raw_mv", "_u32", "_offsets", "_rmsgs_addr",
                 "_buf_addr")

    def __init__(self, capacity=256, buffer_size=MAX_PAYLOAD):
        if not 1 <= capacity <= 1 << 24:
            raise InvalidArgument(errno.EINVAL, "batch capacity %r is not in 1..2^24" % (capacity,))
        if not 1 <= buffer_size <= MAX_PAYLOAD:
            raise InvalidArgument(errno.EINVAL, "buffer_size %r is not in 1..%d"
                                  % (buffer_size, MAX_PAYLOAD))
        self.capacity = capacity            #: messages per receive at most
        self.buffer_size = buffer_size      #: bytes of room per message
        self.count = 0                      #: messages held (len(batch))
        self._raw = bytearray(capacity * _lib.RMSG_SIZE)
        self._rmsgs = (_lib.RMsg * capacity).from_buffer(self._raw)
        self._buf = bytearray(capacity * buffer_size)
        self._cbuf = (ctypes.c_char * len(self._buf)).from_buffer(self._buf)
        self._mv = memoryview(self._buf)
        self._raw_mv = memoryview(self._raw)
        self._u32 = self._raw_mv.cast("I")
        self._offsets = list(range(0, len(self._buf), buffer_size))
        self._rmsgs_addr = ctypes.addressof(self._rmsgs)
        self._buf_addr = base = ctypes.addressof(self._cbuf)
        u64 = self._raw_mv.cast("Q")
        step = _lib.RMSG_SIZE // 8
        u64[0::step] = array("Q", [base + o for o in self._offsets])
        self._u32[_W_LEN - 1::_W] = array("I", [buffer_size] * capacity)     # buf_len

    def __len__(self):
        return self.count

    def lengths(self):
        """The payload length of each message held, as a list."""
        return self._u32[_W_LEN:self.count * _W:_W].tolist()

    def payloads(self):
        """Each message's payload, a memoryview into the batch (no copy)."""
        mv = self._mv
        return [mv[o:o + n] for o, n in zip(self._offsets, self.lengths())]

    def __iter__(self):
        return iter(self.payloads())

    def __getitem__(self, i):
        """The payload of message ``i``: a memoryview into the batch."""
        i = range(self.count)[i]
        o = self._offsets[i]
        return self._mv[o:o + self._u32[i * _W + _W_LEN]]

    def tobytes(self):
        """Each message's payload as bytes (copies)."""
        mv = self._mv
        return [mv[o:o + n].tobytes() for o, n in zip(self._offsets, self.lengths())]

    def meta(self, i):
        """The Meta of message ``i``."""
        i = range(self.count)[i]
        return new_meta(_RMSG_META.unpack_from(self._raw, i * _lib.RMSG_SIZE))

    def metas(self):
        """The Meta of each message held, as a list."""
        raw = self._raw_mv[:self.count * _lib.RMSG_SIZE]
        return list(map(new_meta, _RMSG_META.iter_unpack(raw)))

    def types(self):
        """The message_type of each message held, as a list."""
        return self._u32[_W_TYPE:self.count * _W:_W].tolist()

    def items(self):
        """A list of (payload bytes, Meta) for the messages held (copies)."""
        return list(zip(self.tobytes(), self.metas()))

    def __repr__(self):
        return "<dmxp.RecvBatch %d/%d messages of up to %d bytes>" % (
            self.count, self.capacity, self.buffer_size)


def normalize(messages, default_type):
    """Split send_many()'s items into (payloads, lengths, types), checked.

    Each item is a bytes-like payload (sent with ``default_type``) or a
    (payload, type) tuple.  Raises MessageTooLarge for a payload over
    MAX_PAYLOAD and InvalidArgument for a type outside 0..2^32-1, before
    anything is sent.
    """
    datas, types = [], []
    for item in messages:
        if type(item) is tuple:
            data, mtype = item
        else:
            data, mtype = item, default_type
        if type(data) is not bytes and type(data) is not bytearray:
            data = memoryview(data).cast("B")
        datas.append(data)
        types.append(mtype)
    lens = list(map(len, datas))
    if lens and max(lens) > MAX_PAYLOAD:
        i = next(i for i, n in enumerate(lens) if n > MAX_PAYLOAD)
        raise MessageTooLarge(errno.EMSGSIZE, "message %d of %d bytes is longer than %d "
                              "bytes: nothing sent" % (i, lens[i], MAX_PAYLOAD))
    try:
        types = array("I", types)
    except (OverflowError, TypeError) as e:
        raise InvalidArgument(errno.EINVAL, "bad message type: %s" % e) from None
    return datas, array("I", lens), types


class SendBuffer:
    """The packing area of Channel.send_many(): ``capacity`` struct
    dmxp_smsg, each pointing at its own MAX_PAYLOAD bytes of one buffer."""

    __slots__ = ("capacity", "base", "_raw", "smsgs", "_buf", "_cbuf", "_mv",
                 "_u32", "_offsets")

    def __init__(self, capacity):
        self.capacity = capacity
        self._raw = bytearray(capacity * _lib.SMSG_SIZE)
        self.smsgs = (_lib.SMsg * capacity).from_buffer(self._raw)
        self._buf = bytearray(capacity * MAX_PAYLOAD)
        self._cbuf = (ctypes.c_char * len(self._buf)).from_buffer(self._buf)
        self._mv = memoryview(self._buf)
        self._u32 = memoryview(self._raw).cast("I")
        self._offsets = range(0, len(self._buf), MAX_PAYLOAD)
        self.base = base = ctypes.addressof(self._cbuf)     # message 0's buffer
        u64 = memoryview(self._raw).cast("Q")
        u64[0::2] = array("Q", [base + o for o in self._offsets])

    def pack(self, datas, lens, types, start):
        """Copy messages start.. (at most capacity) in; return how many."""
        k = min(self.capacity, len(datas) - start)
        mv = self._mv
        for o, n, data in zip(self._offsets, lens[start:start + k], datas[start:start + k]):
            mv[o:o + n] = data
        self._u32[2:4 * k:4] = lens[start:start + k]
        self._u32[3:4 * k:4] = types[start:start + k]
        return k
