# SPDX-License-Identifier: MIT
"""A pollable file descriptor for the channels of region files.

libdmxp gives a channel fd (dmxp_chan_fd) for kernel regions only: the
sleepers of region files wait on futex words of the channel entry
(Documentation/MEMORY_LAYOUT.md, section 11).  So that select(),
selectors and asyncio work on both backends, the binding stands in for
the channel fd on region files with an eventfd (a pipe before Python
3.10) and a helper thread: while the channel is armed, the thread sleeps
on the entry's futex word as a blocked dmxp_chan_recv_wait() would, and
makes the fd readable when a producer wakes it.

The futex value the thread sleeps on is read *before* dmxp_chan_arm()
counts the sleeper in, so a producer's wake-up after the arm always
finds the word moved: the thread then returns at once (EAGAIN) instead
of sleeping through it.  Reading it earlier can only cause a spurious
wake-up, which the arm protocol absorbs (the poller drains and re-arms).
"""
import ctypes
import errno
import os
import platform
import threading

from . import _lib

# futex(2) by syscall number; None where unknown (the emulation is off).
_SYS_FUTEX = {
    "x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98,
    "loongarch64": 98, "i386": 240, "i686": 240, "armv7l": 240, "armv6l": 240,
    "ppc64le": 221, "ppc64": 221, "s390x": 238,
}.get(platform.machine())
_FUTEX_WAIT = 0         # shared, not FUTEX_PRIVATE_FLAG: the word is in a shared mapping
_SLICE_S = 0.25         # the thread re-reads its orders at least this often


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def supported():
    """True when this machine's futex syscall number is known."""
    return _SYS_FUTEX is not None


def _futex_wait(addr, val, timeout_s):
    """futex(FUTEX_WAIT) on the shared word at ``addr``: 0 or an errno."""
    ts = _Timespec(int(timeout_s), int((timeout_s % 1) * 1e9))
    c_long = ctypes.c_long
    ret = _lib.libc.syscall(c_long(_SYS_FUTEX), c_long(addr), c_long(_FUTEX_WAIT),
                            c_long(val), ctypes.byref(ts), c_long(0), c_long(0))
    return 0 if ret == 0 else ctypes.get_errno()


class _Signal:
    """An fd made readable by set() and unreadable by clear()."""

    def __init__(self):
        if hasattr(os, "eventfd"):
            self.fd = self._wfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            self.fd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self):
        try:
            os.write(self._wfd, (1).to_bytes(8, "little"))
        except BlockingIOError:
            pass            # already readable

    def clear(self):
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self):
        os.close(self.fd)
        if self._wfd != self.fd:
            os.close(self._wfd)


class FutexFd:
    """The stand-in channel fd for one side (receive or send) of a channel.

    ``word`` is the address of the futex word (recv_futex or send_futex of
    the channel entry).  The owner calls :meth:`load` before
    dmxp_chan_arm(), then :meth:`arm` with the value if it armed, and
    :meth:`disarm` after dmxp_chan_disarm().  The fd (:attr:`fd`) is
    readable from a wake-up while armed until the last disarm.
    """

    def __init__(self, word):
        self._word = word
        self._signal = _Signal()
        self.fd = self._signal.fd
        self._cond = threading.Condition(threading.Lock())
        self._armed = 0         # arms not yet disarmed
        self._round = 0         # +1 each time the arm count leaves 0
        self._ev = 0            # the futex value of the round
        self._fired = False     # the round's wake-up was signalled
        self._closed = False
        self._thread = None

    def load(self):
        """The futex word's value now (read it before arming)."""
        return ctypes.c_uint32.from_address(self._word).value

    def arm(self, ev):
        """Count one arm; the first of a round waits for the word to leave ``ev``."""
        with self._cond:
            if self._closed:
                return
            if self._armed == 0:
                self._round += 1
                self._ev = ev
                self._fired = False
                self._cond.notify()
            self._armed += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="dmxp-futex-fd")
                self._thread.start()

    def disarm(self):
        """Undo one arm; the last one makes the fd unreadable again."""
        with self._cond:
            if self._armed > 0:
                self._armed -= 1
            if self._armed == 0:
                self._signal.clear()
                self._fired = False

    def close(self):
        """Stop the thread (within its time slice) and close the fd."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
            # The thread may still be in futex_wait(): it only touches the
            # word through the kernel, which fails cleanly once unmapped.
            self._signal.close()

    def _run(self):
        cond = self._cond
        while True:
            with cond:
                while not self._closed and (self._armed == 0 or self._fired):
                    cond.wait()
                if self._closed:
                    return
                rnd, ev = self._round, self._ev
            err = _futex_wait(self._word, ev, _SLICE_S)
            if err in (errno.ETIMEDOUT, errno.EINTR):
                continue        # re-read the orders, wait again
            # Woken (0), or the word had moved (EAGAIN): signal this round.
            # Any other error (EFAULT: the region is gone) signals too, so
            # the poller wakes and finds out from its next call.
            with cond:
                if (not self._closed and self._round == rnd and self._armed
                        and not self._fired):
                    self._fired = True
                    self._signal.set()
                if err not in (0, errno.EAGAIN):
                    return
