# SPDX-License-Identifier: MIT
"""dmxp: lock-free message channels in shared memory, for Python.

A binding of libdmxp (``libdmxp.so.1``) with the standard library's
ctypes::

    import dmxp

    with dmxp.Region("/dev/shm/demo", create=True) as region:
        with region.channel(7, create=True) as chan:
            chan.send(b"hello", type=1)
            payload, meta = chan.recv()          # (b"hello", Meta(...))

Regions are region files (``/dev/shm/...``) or kernel regions
(``/dev/dmxp``, ``/dev/dmxp:NAME``); channels hold up to MAX_PAYLOAD (960)
bytes per message.  Send and receive calls block by default
(``block=True, timeout=None``); ``block=False`` raises WouldBlock at once
when the channel is empty or full.  Errors are OSError subclasses
(dmxp.Error) with the C library's errno.

The library is $DMXP_LIBRARY, else the first found of: the copy bundled in
this package, the build tree it sits in, its install prefix's lib/, the
dynamic loader's path (see dmxp._lib); library_path() says which.
"""
from ._lib import library_path
from .channel import Channel, Peeked, Reservation
from .constants import (ARM_RECV, ARM_SEND, CAPACITY_MAX, CAPACITY_MIN,
                        CHAN_BUSY, CHAN_CREATED, DEFAULT_CAPACITY,
                        DEFAULT_REGION, DEFAULT_REGION_SIZE, KERNEL_DEVICE,
                        MAX_CHANNELS, MAX_PAYLOAD, MSG_TOMBSTONE, REGION_ENV,
                        SLOT_SIZE, TIMESTAMP_COARSE, TIMESTAMP_NONE,
                        TIMESTAMP_PRECISE, VERSION, Runtime)
from .errors import (Busy, ChannelDestroyed, Error, Exists, Interrupted,
                     InvalidArgument, MessageTooLarge, NoDevice, NoSpace,
                     NotFound, NotSupported, PermissionDenied, ProtocolError,
                     Timeout, WouldBlock)
from .message import ChannelInfo, Meta, RecvBatch
from .region import Region, unlink_region

__version__ = VERSION

__all__ = [
    "Region", "Channel", "Meta", "ChannelInfo", "RecvBatch", "Peeked",
    "Reservation", "unlink_region", "library_path", "Runtime",
    "Error", "WouldBlock", "Timeout", "Interrupted", "NotFound", "Exists",
    "PermissionDenied", "InvalidArgument", "MessageTooLarge",
    "ChannelDestroyed", "ProtocolError", "NoSpace", "Busy", "NoDevice",
    "NotSupported",
    "MAX_PAYLOAD", "MAX_CHANNELS", "SLOT_SIZE", "CAPACITY_MIN", "CAPACITY_MAX",
    "DEFAULT_CAPACITY", "DEFAULT_REGION", "DEFAULT_REGION_SIZE", "REGION_ENV",
    "KERNEL_DEVICE", "CHAN_CREATED", "CHAN_BUSY", "MSG_TOMBSTONE", "ARM_RECV",
    "ARM_SEND", "TIMESTAMP_PRECISE", "TIMESTAMP_COARSE", "TIMESTAMP_NONE",
    "VERSION",
]
