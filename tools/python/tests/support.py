# SPDX-License-Identifier: MIT
"""What the tests share: where regions go, the backend, the C tools.

DMXP_TEST_BACKEND=kernel (as in the selftests' guest runs) puts every
region in the kernel module (/dev/dmxp:NAME); otherwise regions are files
in $DMXP_TEST_DIR (default /dev/shm).
"""
import ctypes
import itertools
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)                        # tools/python
TREE = os.path.dirname(os.path.dirname(PKG_ROOT))       # the dmxp tree
sys.path.insert(0, PKG_ROOT)

import dmxp  # noqa: E402
from dmxp import _lib  # noqa: E402

KERNEL = os.environ.get("DMXP_TEST_BACKEND") == "kernel"
TEST_DIR = os.environ.get("DMXP_TEST_DIR", "/dev/shm")
DMXPCTL = os.environ.get("DMXPCTL", os.path.join(TREE, "tools", "dmxpctl", "dmxpctl"))
# The guest emulates its CPUs (TCG): fewer messages and longer bounds there.
SLOW = KERNEL
SCALE = 10 if SLOW else 1
REGION_SIZE = 8 << 20

_names = itertools.count()


def region_path():
    """A fresh, unused region path for this backend."""
    n = next(_names)
    if KERNEL:
        return "/dev/dmxp:py-%d-%d" % (os.getpid(), n)
    return os.path.join(TEST_DIR, "dmxp-py-%d-%d" % (os.getpid(), n))


def remove_region(path):
    try:
        dmxp.unlink_region(path)
    except (dmxp.NotFound, dmxp.NoDevice):
        pass


class RegionTest(unittest.TestCase):
    """A test with a fresh region (self.region, at self.path) and, unless
    CHANNEL is None, its channel CHANNEL of CAPACITY slots (self.chan)."""

    CHANNEL = 1
    CAPACITY = 16

    def setUp(self):
        self.path = region_path()
        self.addCleanup(remove_region, self.path)
        self.region = dmxp.Region(self.path, size=REGION_SIZE, create=True, excl=True)
        self.addCleanup(self.region.close)
        self.chan = None
        if self.CHANNEL is not None:
            self.chan = self.region.channel(self.CHANNEL, create=True, capacity=self.CAPACITY)

    def entry_word(self, offset, chan_id=None):
        """A u32 of the channel entry, e.g. 40: recv_waiters, 44: send_waiters."""
        chan_id = self.CHANNEL if chan_id is None else chan_id
        addr = (self.region.header_address() + _lib.HEADER_CHANNELS_OFFSET +
                chan_id * _lib.ENTRY_SIZE + offset)
        return ctypes.c_uint32.from_address(addr).value

    def recv_waiters(self):
        return self.entry_word(40)

    def send_waiters(self):
        return self.entry_word(44)


def temp_dir(test):
    """A temporary directory removed after ``test``."""
    d = tempfile.TemporaryDirectory(prefix="dmxp-py-", dir=TEST_DIR if not KERNEL else None)
    test.addCleanup(d.cleanup)
    return d.name


def need_dmxpctl(test):
    if not os.access(DMXPCTL, os.X_OK):
        test.skipTest("%s is not built (make tools)" % DMXPCTL)
