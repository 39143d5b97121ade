# SPDX-License-Identifier: MIT
"""The exceptions: libdmxp's negative errno returns as OSError subclasses.

Every exception is a :class:`dmxp.Error`, itself an :class:`OSError` whose
``errno`` is the C library's.  Where Python has a matching built-in
subclass the exception derives from it too, so ``except TimeoutError`` or
``except BlockingIOError`` work as expected::

    EAGAIN     WouldBlock          (BlockingIOError)   empty or full, non-blocking
    ETIMEDOUT  Timeout             (TimeoutError)
    EINTR      Interrupted         (InterruptedError)
    ENOENT     NotFound            (FileNotFoundError) no such region or channel
    EEXIST     Exists              (FileExistsError)
    EACCES,
    EPERM      PermissionDenied    (PermissionError)
    EINVAL     InvalidArgument     (ValueError)
    EMSGSIZE   MessageTooLarge                         payload > 960, or buffer too small
    EIDRM      ChannelDestroyed                        the channel was destroyed
    EPROTO     ProtocolError                           not a dmxp region, or corrupt
    ENOSPC     NoSpace                                 no room in the region for a ring
    EBUSY      Busy                                    a create/destroy is in progress
    ENODEV     NoDevice                                /dev/dmxp: module not loaded
    EOPNOTSUPP NotSupported
"""
import errno as _errno
import os


class Error(OSError):
    """An error of libdmxp; ``errno`` is the (positive) error number."""


class WouldBlock(Error, BlockingIOError):
    """A non-blocking call found the channel empty (receive) or full (send)."""


class Timeout(Error, TimeoutError):
    """A blocking call's timeout ran out."""


class Interrupted(Error, InterruptedError):
    """EINTR.  The binding's blocking calls do not raise it: they go on
    after a signal unless its handler raised (PEP 475)."""


class NotFound(Error, FileNotFoundError):
    """No such region, or the channel does not exist."""


class Exists(Error, FileExistsError):
    """The region (with excl) or the channel already exists."""


class PermissionDenied(Error, PermissionError):
    """A kernel region's mode or owner does not allow it."""


class InvalidArgument(Error, ValueError):
    """A bad argument: channel id, capacity, flags, size, region name."""


class MessageTooLarge(Error):
    """A payload over MAX_PAYLOAD bytes (nothing is sent), or a receive
    buffer too small for the next message (it stays in the channel)."""


class ChannelDestroyed(Error):
    """The channel was destroyed; the handle is of no further use."""


class ProtocolError(Error):
    """Not a dmxp region, another ABI version, or a corrupt region."""


class NoSpace(Error):
    """The region (or its file system) has no room for the ring."""


class Busy(Error):
    """Another process is creating or destroying the channel."""


class NoDevice(Error):
    """A /dev/dmxp path and the dmxp kernel module is not loaded."""


class NotSupported(Error):
    """The operation is not supported by this region's backend."""


_BY_ERRNO = {
    _errno.EAGAIN: WouldBlock,
    _errno.ETIMEDOUT: Timeout,
    _errno.EINTR: Interrupted,
    _errno.ENOENT: NotFound,
    _errno.EEXIST: Exists,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.EINVAL: InvalidArgument,
    _errno.EMSGSIZE: MessageTooLarge,
    _errno.EIDRM: ChannelDestroyed,
    _errno.EPROTO: ProtocolError,
    _errno.ENOSPC: NoSpace,
    _errno.EBUSY: Busy,
    _errno.ENODEV: NoDevice,
    _errno.EOPNOTSUPP: NotSupported,
}


def error(err, what=None, filename=None, plain=False):
    """The exception for errno ``err`` (positive or negative).

    ``what`` says what failed ("cannot open channel 7"): the message is
    then "what: strerror", or ``what`` alone with ``plain`` (when it says
    it all: "channel 7 is empty").  Without it the message is strerror.
    """
    err = abs(err)
    msg = os.strerror(err)
    if what and plain:
        msg = what
    elif what:
        msg = "%s: %s" % (what, msg)
    cls = _BY_ERRNO.get(err, Error)
    if filename is not None:
        return cls(err, msg, filename)
    return cls(err, msg)
