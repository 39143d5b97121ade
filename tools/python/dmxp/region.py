# SPDX-License-Identifier: MIT
"""Regions: a region file (normally on /dev/shm) or a kernel region
(/dev/dmxp, /dev/dmxp:NAME) holding up to 256 channels."""
import ctypes
import os
import threading
import weakref

from . import _lib
from .constants import (DEFAULT_CAPACITY, DEFAULT_REGION, KERNEL_DEVICE,
                        MAX_CHANNELS, OPEN_CREATE, OPEN_EXCL, REGION_ENV,
                        Runtime)
from ._handle import _Handle
from .errors import error
from .message import ChannelInfo


def _encode(path):
    return None if path is None else os.fsencode(path)


def _region_error(ret, path, doing):
    if path is None:
        path = os.environ.get(REGION_ENV) or DEFAULT_REGION
    return error(ret, "cannot %s region" % doing, filename=os.fsdecode(path))


def unlink_region(path=None):
    """Remove the region at ``path`` (None: $DMXP_REGION, else the default):
    the file, or the kernel region's name.  Processes that have it open
    keep using it until they close it.

    Raises NotFound, ProtocolError (not a dmxp region: left alone),
    PermissionDenied, or the Error of unlink(2).
    """
    ret = _lib.region_unlink(_encode(path))
    if ret < 0:
        raise _region_error(ret, path, "remove")


class Region(_Handle):
    """An open region: ``Region(path=None, size=0, create=False, excl=False)``.

    ``path`` is a region file, ``"/dev/dmxp"`` (the kernel module's default
    region) or ``"/dev/dmxp:NAME"``; None means $DMXP_REGION, else
    /dev/shm/dmxp_alloc.  With ``create`` a missing region is created with
    ``size`` bytes (0: the default size); with ``excl`` too, an existing
    one raises Exists.  Messages sent through the region are marked as
    sent by Python (Runtime.PYTHON).

    A context manager: ``with dmxp.Region(path, create=True) as r:``.
    Closing the region closes the channels opened through it.  Channels
    and their messages stay in the region after it is closed.

    Raises NotFound, Exists, InvalidArgument, ProtocolError (not a dmxp
    region, another version, corrupt), NoDevice (the module is not
    loaded), PermissionDenied, or another Error of open/mmap.
    """

    def __init__(self, path=None, size=0, create=False, excl=False):
        flags = (OPEN_CREATE if create else 0) | (OPEN_EXCL if excl else 0)
        handle = ctypes.c_void_p()
        ret = _lib.region_open(_encode(path), size, flags, ctypes.byref(handle))
        if ret < 0:
            raise _region_error(ret, path, "create" if create else "open")
        self._handle = handle.value
        self._lock = threading.Lock()
        self._channels = weakref.WeakSet()
        self.path = os.fsdecode(_lib.region_path(self._handle))  #: the region's path
        self.size = _lib.region_size(self._handle)               #: bytes, fixed at creation
        self.set_runtime(Runtime.PYTHON)

    # -- lifetime

    def close(self):
        """Close the channels opened through this region, then unmap it.
        Calling it again does nothing."""
        with self._lock:
            handle, self._handle = self._handle, None
            channels = list(self._channels)
        if handle is None:
            return
        for chan in channels:
            chan.close()
        _lib.region_close(handle)

    def __repr__(self):
        state = "closed" if self.closed else "%d bytes" % self.size
        return "<dmxp.Region %r, %s>" % (self.path, state)

    def _h(self):
        handle = self._handle
        if handle is None:
            raise ValueError("I/O operation on a closed region")
        return handle

    # -- region-wide

    @property
    def is_kernel(self):
        """True for a kernel region (/dev/dmxp...), False for a region file."""
        return self.path == KERNEL_DEVICE or self.path.startswith(KERNEL_DEVICE + ":")

    @property
    def free(self):
        """Bytes of the region not yet allocated to any ring."""
        return _lib.region_free(self._h())

    def set_runtime(self, runtime):
        """Record ``runtime`` (a Runtime) as the sender's runtime in the
        messages sent through this region (Python by default).
        Raises InvalidArgument for a value outside Runtime."""
        ret = _lib.region_set_runtime(self._h(), int(runtime))
        if ret < 0:
            raise error(ret, "runtime %r" % (runtime,))

    def header_address(self):
        """The address of the region's mapping (struct dmxp_global_header),
        for inspection with ctypes: it changes under the caller, and
        writing to it outside the ring protocol corrupts the region."""
        return _lib.region_header(self._h())

    # -- channels

    def create_channel(self, id, capacity=DEFAULT_CAPACITY):
        """Create channel ``id`` (0..255) with ``capacity`` slots, a power of
        two in 2..2^24.  Raises Exists, InvalidArgument, NoSpace, Busy."""
        ret = _lib.chan_create(self._h(), id, capacity)
        if ret < 0:
            raise error(ret, "cannot create channel %s with capacity %s" % (id, capacity))

    def destroy_channel(self, id):
        """Destroy channel ``id`` and discard its messages; its open handles
        get ChannelDestroyed.  Raises NotFound, InvalidArgument, Busy."""
        ret = _lib.chan_destroy(self._h(), id)
        if ret < 0:
            raise error(ret, "cannot destroy channel %s" % (id,))

    def channel(self, id, create=False, capacity=DEFAULT_CAPACITY):
        """Open channel ``id`` and return its :class:`Channel`; with
        ``create``, create it first if it does not exist (``capacity``
        slots).  Raises NotFound, InvalidArgument, ProtocolError."""
        from .channel import Channel
        return Channel(self, id, create=create, capacity=capacity)

    def channel_ids(self):
        """The ids of the created channels, ascending."""
        ids = (ctypes.c_uint * MAX_CHANNELS)()
        n = _lib.chan_list(self._h(), ids, MAX_CHANNELS)
        if n < 0:
            raise error(n, "cannot list channels")
        return list(ids[:min(n, MAX_CHANNELS)])

    def channel_info(self, id):
        """A :class:`ChannelInfo` snapshot of channel ``id``.
        Raises NotFound, InvalidArgument."""
        info = _lib.ChanInfo()
        ret = _lib.chan_info(self._h(), id, ctypes.byref(info))
        if ret < 0:
            raise error(ret, "no channel info for channel %s" % (id,))
        return ChannelInfo(info.id, info.flags, info.capacity, info.head,
                           info.tail, info.depth, info.band_offset)

    def _register(self, chan):
        with self._lock:
            self._h()
            self._channels.add(chan)
