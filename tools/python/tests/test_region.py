# SPDX-License-Identifier: MIT
"""Regions: opening, creating, closing, removing, and channel management."""
import errno
import os
import pathlib
import subprocess
import sys
import unittest

import support
from support import KERNEL, REGION_SIZE, RegionTest, region_path, remove_region

import dmxp


class TestLoading(unittest.TestCase):
    def test_library_path_is_the_tree_or_override(self):
        path = dmxp.library_path()
        override = os.environ.get("DMXP_LIBRARY")
        if override:
            self.assertEqual(path, override)
        else:
            self.assertEqual(path, os.path.join(support.TREE, "lib", "libdmxp.so.1"))

    def _import_with(self, library):
        env = dict(os.environ, DMXP_LIBRARY=library)
        return subprocess.run([sys.executable, "-c", "import dmxp; print(dmxp.library_path())"],
                              cwd=support.PKG_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)

    def test_library_override(self):
        lib = os.path.join(support.TREE, "lib", "libdmxp.so.1")
        ok = self._import_with(lib)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.decode().strip(), lib)
        bad = self._import_with("/nonexistent/libdmxp.so.1")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"ImportError: dmxp: cannot load libdmxp.so.1; tried "
                      b"$DMXP_LIBRARY=/nonexistent/libdmxp.so.1", bad.stderr)
        self.assertIn(b"DMXP_LIBRARY", bad.stderr)

    def test_constants(self):
        self.assertEqual(dmxp.MAX_PAYLOAD, 960)
        self.assertEqual(dmxp.MAX_CHANNELS, 256)
        self.assertEqual(dmxp.SLOT_SIZE, 1088)
        self.assertEqual(dmxp.Runtime.PYTHON, 3)
        self.assertEqual(dmxp.Runtime.C, 1)
        self.assertEqual(dmxp.DEFAULT_CAPACITY, 1024)
        # The tree's VERSION file (selftests/test_version.sh checks the same).
        version = pathlib.Path(__file__).resolve().parents[3] / "VERSION"
        self.assertEqual(dmxp.__version__, version.read_text().strip())

    def test_errors_are_oserrors_with_builtin_bases(self):
        self.assertTrue(issubclass(dmxp.WouldBlock, BlockingIOError))
        self.assertTrue(issubclass(dmxp.Timeout, TimeoutError))
        self.assertTrue(issubclass(dmxp.NotFound, FileNotFoundError))
        self.assertTrue(issubclass(dmxp.Exists, FileExistsError))
        self.assertTrue(issubclass(dmxp.InvalidArgument, ValueError))
        self.assertTrue(issubclass(dmxp.Interrupted, InterruptedError))
        self.assertTrue(issubclass(dmxp.PermissionDenied, PermissionError))
        for cls in (dmxp.MessageTooLarge, dmxp.ChannelDestroyed, dmxp.ProtocolError,
                    dmxp.NoSpace, dmxp.Busy, dmxp.NoDevice, dmxp.NotSupported):
            self.assertTrue(issubclass(cls, dmxp.Error))
            self.assertTrue(issubclass(cls, OSError))


class TestOpen(unittest.TestCase):
    def setUp(self):
        self.path = region_path()
        self.addCleanup(remove_region, self.path)

    def test_missing_region_is_not_found(self):
        with self.assertRaises(dmxp.NotFound) as cm:
            dmxp.Region(self.path)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertEqual(cm.exception.filename, self.path)
        self.assertIn("cannot open region", str(cm.exception))

    def test_create_then_attach(self):
        with dmxp.Region(self.path, size=REGION_SIZE, create=True) as r:
            self.assertEqual(r.path, self.path)
            self.assertEqual(r.size, REGION_SIZE)
            self.assertFalse(r.closed)
            self.assertEqual(r.is_kernel, KERNEL)
            self.assertGreater(r.free, 0)
            self.assertLess(r.free, REGION_SIZE)
            self.assertNotEqual(r.header_address(), 0)
            self.assertIn(self.path, repr(r))
        self.assertTrue(r.closed)
        self.assertIn("closed", repr(r))
        if not KERNEL:      # any path-like object
            with dmxp.Region(pathlib.Path(self.path)) as rp:
                self.assertEqual(rp.path, self.path)
            with dmxp.Region(os.fsencode(self.path)) as rb:
                self.assertEqual(rb.path, self.path)
        # An existing region is attached whatever the size asked.
        with dmxp.Region(self.path, size=2 * REGION_SIZE, create=True) as r2:
            self.assertEqual(r2.size, REGION_SIZE)
        with dmxp.Region(self.path) as r3:
            self.assertEqual(r3.size, REGION_SIZE)

    def test_excl_refuses_an_existing_region(self):
        dmxp.Region(self.path, size=REGION_SIZE, create=True).close()
        with self.assertRaises(dmxp.Exists) as cm:
            dmxp.Region(self.path, create=True, excl=True)
        self.assertEqual(cm.exception.errno, errno.EEXIST)

    def test_too_small_size_is_invalid(self):
        with self.assertRaises(dmxp.InvalidArgument):
            dmxp.Region(self.path, size=4096, create=True)

    def test_default_path_from_environment(self):
        old = os.environ.get("DMXP_REGION")
        os.environ["DMXP_REGION"] = self.path
        try:
            with dmxp.Region(size=REGION_SIZE, create=True) as r:
                self.assertEqual(r.path, self.path)
            with self.assertRaises(dmxp.NotFound) as cm:
                os.environ["DMXP_REGION"] = self.path + "-missing"
                dmxp.Region()
            self.assertEqual(cm.exception.filename, self.path + "-missing")
        finally:
            if old is None:
                del os.environ["DMXP_REGION"]
            else:
                os.environ["DMXP_REGION"] = old

    def test_closed_region_refuses_calls(self):
        r = dmxp.Region(self.path, size=REGION_SIZE, create=True)
        r.close()
        r.close()       # twice is fine
        for call in (lambda: r.free, lambda: r.channel(1, create=True),
                     lambda: r.channel_ids(), lambda: r.create_channel(1),
                     lambda: r.set_runtime(dmxp.Runtime.C)):
            with self.assertRaises(ValueError):
                call()

    def test_unlink(self):
        dmxp.Region(self.path, size=REGION_SIZE, create=True).close()
        dmxp.unlink_region(self.path)
        with self.assertRaises(dmxp.NotFound):
            dmxp.Region(self.path)
        with self.assertRaises(dmxp.NotFound):
            dmxp.unlink_region(self.path)

    def test_unlink_while_open_keeps_it_usable(self):
        with dmxp.Region(self.path, size=REGION_SIZE, create=True) as r:
            chan = r.channel(1, create=True, capacity=4)
            dmxp.unlink_region(self.path)
            chan.send(b"still here")
            self.assertEqual(chan.recv()[0], b"still here")

    @unittest.skipIf(KERNEL, "region files only")
    def test_foreign_file_is_a_protocol_error(self):
        with open(self.path, "wb") as f:
            f.write(os.urandom(200000))
        with self.assertRaises(dmxp.ProtocolError) as cm:
            dmxp.Region(self.path)
        self.assertEqual(cm.exception.errno, errno.EPROTO)
        with self.assertRaises(dmxp.ProtocolError):
            dmxp.unlink_region(self.path)
        self.assertTrue(os.path.exists(self.path))
        os.unlink(self.path)

    @unittest.skipIf(KERNEL, "region files only")
    def test_region_file_in_missing_directory(self):
        with self.assertRaises(dmxp.NotFound):
            dmxp.Region("/nonexistent-dir/region", create=True)

    @unittest.skipIf(KERNEL or os.path.exists("/dev/dmxp"), "the module is loaded")
    def test_kernel_path_without_module_is_no_device(self):
        with self.assertRaises(dmxp.NoDevice) as cm:
            dmxp.Region("/dev/dmxp:py-none")
        self.assertEqual(cm.exception.errno, errno.ENODEV)

    @unittest.skipUnless(KERNEL, "kernel regions only")
    def test_bad_kernel_region_name(self):
        with self.assertRaises(dmxp.InvalidArgument):
            dmxp.Region("/dev/dmxp:bad/name!", create=True)


class TestRegionChannels(RegionTest):
    CHANNEL = None

    def test_runtime(self):
        self.region.set_runtime(dmxp.Runtime.C)
        self.region.set_runtime(dmxp.Runtime.PYTHON)
        with self.assertRaises(dmxp.InvalidArgument):
            self.region.set_runtime(77)

    def test_create_list_info_destroy(self):
        self.assertEqual(self.region.channel_ids(), [])
        self.region.create_channel(5, capacity=8)
        self.region.create_channel(2)
        self.assertEqual(self.region.channel_ids(), [2, 5])
        info = self.region.channel_info(5)
        self.assertIsInstance(info, dmxp.ChannelInfo)
        self.assertEqual((info.id, info.capacity, info.depth), (5, 8, 0))
        self.assertTrue(info.flags & dmxp.CHAN_CREATED)
        self.assertEqual(self.region.channel_info(2).capacity, dmxp.DEFAULT_CAPACITY)
        self.region.destroy_channel(5)
        self.assertEqual(self.region.channel_ids(), [2])
        with self.assertRaises(dmxp.NotFound):
            self.region.channel_info(5)

    def test_channel_errors(self):
        self.region.create_channel(3, capacity=4)
        with self.assertRaises(dmxp.Exists) as cm:
            self.region.create_channel(3)
        self.assertIn("cannot create channel 3", str(cm.exception))
        for bad in (256, 1000):
            with self.assertRaises(dmxp.InvalidArgument):
                self.region.create_channel(bad)
            with self.assertRaises(dmxp.InvalidArgument):
                self.region.channel(bad)
            with self.assertRaises(dmxp.InvalidArgument):
                self.region.destroy_channel(bad)
            with self.assertRaises(dmxp.InvalidArgument):
                self.region.channel_info(bad)
        for cap in (0 + 3, 1, (1 << 24) + 1, 1000):
            with self.assertRaises(dmxp.InvalidArgument):
                self.region.create_channel(4, capacity=cap)
        with self.assertRaises(dmxp.NotFound):
            self.region.destroy_channel(9)
        with self.assertRaises(dmxp.NotFound) as cm:
            self.region.channel(9)
        self.assertIn("cannot open channel 9", str(cm.exception))

    def test_no_space_for_a_big_ring(self):
        with self.assertRaises(dmxp.NoSpace):
            self.region.create_channel(7, capacity=1 << 16)     # 71 MB in 8 MB

    def test_channel_create_flag(self):
        with self.region.channel(6, create=True, capacity=4) as c:
            self.assertEqual(c.capacity, 4)
        # create=True on an existing channel opens it (its capacity stays).
        with self.region.channel(6, create=True, capacity=64) as c:
            self.assertEqual(c.capacity, 4)
        with dmxp.Channel(self.region, 6) as c:
            self.assertEqual((c.id, c.capacity, c.region), (6, 4, self.region))

    def test_close_closes_channels(self):
        c = self.region.channel(1, create=True, capacity=4)
        self.region.close()
        self.assertTrue(c.closed)
        with self.assertRaises(ValueError):
            c.send(b"x")

    def test_channels_persist_across_opens(self):
        with self.region.channel(1, create=True, capacity=4) as c:
            c.send(b"kept", type=4)
        self.region.close()
        with dmxp.Region(self.path) as r, r.channel(1) as c:
            payload, meta = c.recv()
            self.assertEqual((payload, meta.message_type), (b"kept", 4))


if __name__ == "__main__":
    unittest.main()
