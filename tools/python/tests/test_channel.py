# SPDX-License-Identifier: MIT
"""One message at a time: send, recv, recv_into, peek, reserve, and their
errors."""
import array
import errno
import os
import time
import unittest

from support import RegionTest

import dmxp


class TestSendRecv(RegionTest):
    CAPACITY = 4

    def test_roundtrip_and_meta(self):
        before = time.monotonic_ns()
        self.chan.send(b"hello", type=7)
        payload, meta = self.chan.recv()
        self.assertEqual(payload, b"hello")
        self.assertIsInstance(payload, bytes)
        self.assertIsInstance(meta, dmxp.Meta)
        self.assertEqual(meta.message_id, 0)
        self.assertEqual(meta.channel_id, self.CHANNEL)
        self.assertEqual(meta.message_type, 7)
        self.assertEqual(meta.sender_pid, os.getpid())
        self.assertEqual(meta.sender_runtime, dmxp.Runtime.PYTHON)
        self.assertEqual(meta.flags, 0)
        self.assertGreaterEqual(meta.timestamp_ns, before)
        self.assertLessEqual(meta.timestamp_ns, time.monotonic_ns())
        with self.assertRaises(AttributeError):
            meta.message_type = 1           # immutable
        self.chan.send(b"again")
        self.assertEqual(self.chan.recv()[1].message_id, 1)

    def test_order_and_types(self):
        for i in range(3):
            self.chan.send(b"m%d" % i, i + 100)
        got = [self.chan.recv() for _ in range(3)]
        self.assertEqual([p for p, _ in got], [b"m0", b"m1", b"m2"])
        self.assertEqual([m.message_type for _, m in got], [100, 101, 102])

    def test_sizes(self):
        for n in (0, 1, 64, dmxp.MAX_PAYLOAD):
            data = os.urandom(n)
            self.chan.send(data)
            self.assertEqual(self.chan.recv()[0], data)

    def test_too_large_sends_nothing(self):
        for block in (True, False):
            with self.assertRaises(dmxp.MessageTooLarge) as cm:
                self.chan.send(b"x" * (dmxp.MAX_PAYLOAD + 1), block=block)
            self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
            self.assertIn("961 bytes", str(cm.exception))
        self.assertEqual(self.chan.info().depth, 0)

    def test_bytes_like_payloads(self):
        ints = array.array("I", [1, 2, 3])
        for data in (bytearray(b"ba"), memoryview(b"mv-readonly"),
                     memoryview(bytearray(b"mv-writable")), ints,
                     memoryview(b"0123456789")[2:5]):
            self.chan.send(data)
            self.assertEqual(self.chan.recv()[0], bytes(memoryview(data).cast("B")))
        with self.assertRaises(TypeError):
            self.chan.send("text is not bytes")

    def test_bad_type(self):
        for bad in (-1, 1 << 32):
            with self.assertRaises(dmxp.InvalidArgument):
                self.chan.send(b"x", bad)
            with self.assertRaises(dmxp.InvalidArgument):
                self.chan.send_many([(b"x", bad)])
            with self.chan.reserve() as res, self.assertRaises(dmxp.InvalidArgument):
                res.commit(1, bad)
        self.chan.send(b"x", (1 << 32) - 1)
        self.assertEqual(self.chan.recv()[1].message_type, (1 << 32) - 1)

    def test_empty_and_full_would_block(self):
        with self.assertRaises(dmxp.WouldBlock) as cm:
            self.chan.recv(block=False)
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        self.assertIsInstance(cm.exception, BlockingIOError)
        self.assertIn("channel 1 is empty", str(cm.exception))
        for i in range(self.CAPACITY):
            self.chan.send(b"%d" % i, block=False)
        with self.assertRaises(dmxp.WouldBlock) as cm:
            self.chan.send(b"one too many", block=False)
        self.assertIn("channel 1 is full", str(cm.exception))
        self.assertEqual(self.chan.info().depth, self.CAPACITY)
        self.assertEqual(self.chan.recv(block=False)[0], b"0")

    def test_set_spin(self):
        self.chan.set_spin(0)
        self.chan.set_spin(1000000)
        with self.assertRaises(dmxp.InvalidArgument):
            self.chan.set_spin(1000001)

    def test_set_timestamp(self):
        self.chan.set_timestamp(dmxp.TIMESTAMP_NONE)
        self.chan.send(b"x", block=False)
        self.assertEqual(self.chan.recv(block=False)[1].timestamp_ns, 0)
        self.chan.set_timestamp(dmxp.TIMESTAMP_PRECISE)
        t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.chan.send(b"y", block=False)
        t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.assertTrue(t0 <= self.chan.recv(block=False)[1].timestamp_ns <= t1)
        for bad in (3, -1, 1 << 32, "none"):
            with self.assertRaises(dmxp.InvalidArgument):
                self.chan.set_timestamp(bad)

    def test_destroyed_channel(self):
        self.chan.send(b"lost")
        other = self.region.channel(self.CHANNEL)
        self.region.destroy_channel(self.CHANNEL)
        for call in (lambda: self.chan.recv(block=False), lambda: self.chan.send(b"x"),
                     lambda: other.recv(timeout=1), lambda: self.chan.recv_many(),
                     lambda: self.chan.send_many([b"a", b"b"]), lambda: self.chan.peek(),
                     lambda: self.chan.reserve(), lambda: self.chan.arm()):
            with self.assertRaises(dmxp.ChannelDestroyed) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EIDRM)
        # A new channel of the same id needs a new handle.
        self.region.create_channel(self.CHANNEL, capacity=4)
        with self.assertRaises(dmxp.ChannelDestroyed):
            self.chan.recv(block=False)
        with self.region.channel(self.CHANNEL) as fresh:
            with self.assertRaises(dmxp.WouldBlock):
                fresh.recv(block=False)

    def test_closed_channel(self):
        with self.region.channel(self.CHANNEL) as c:
            self.assertFalse(c.closed)
            self.assertIn("capacity 4", repr(c))
        self.assertTrue(c.closed)
        self.assertIn("closed", repr(c))
        c.close()
        for call in (lambda: c.send(b"x"), lambda: c.recv(), lambda: c.recv_into(bytearray(4)),
                     lambda: c.recv_many(), lambda: c.send_many([b"x"]), c.peek, c.reserve,
                     c.fileno, c.arm, lambda: c.set_spin(0),
                     lambda: c.recv_many_into(dmxp.RecvBatch(2))):
            with self.assertRaises(ValueError):
                call()

    def test_two_handles_share_the_channel(self):
        with self.region.channel(self.CHANNEL) as other:
            other.send(b"from other")
            self.assertEqual(self.chan.recv()[0], b"from other")


class TestRecvInto(RegionTest):
    CAPACITY = 4

    def test_into_bytearray(self):
        buf = bytearray(dmxp.MAX_PAYLOAD)
        self.chan.send(b"abc", 3)
        n, meta = self.chan.recv_into(buf)
        self.assertEqual((n, bytes(buf[:n]), meta.message_type), (3, b"abc", 3))

    def test_into_memoryview_slice_and_array(self):
        buf = bytearray(b"." * 16)
        self.chan.send(b"xyz")
        n, _ = self.chan.recv_into(memoryview(buf)[4:10])
        self.assertEqual((n, bytes(buf)), (3, b"....xyz........."))
        arr = array.array("H", [0] * 4)
        self.chan.send(b"\x01\x00\x02\x00")
        n, _ = self.chan.recv_into(arr)
        self.assertEqual((n, arr.tolist()), (4, [1, 2, 0, 0]))

    def test_buffer_reusable_many_times(self):
        buf = bytearray(64)
        for i in range(10):
            self.chan.send(b"%d" % i)
            n, _ = self.chan.recv_into(buf)
            self.assertEqual(bytes(buf[:n]), b"%d" % i)
        buf.extend(b"still resizable")

    def test_too_small_keeps_the_message(self):
        self.chan.send(b"0123456789")
        with self.assertRaises(dmxp.MessageTooLarge) as cm:
            self.chan.recv_into(bytearray(4))
        self.assertIn("4 bytes is too small", str(cm.exception))
        self.assertIn("(10 bytes)", str(cm.exception))
        self.assertEqual(self.chan.recv()[0], b"0123456789")

    def test_readonly_buffer(self):
        with self.assertRaises(TypeError):
            self.chan.recv_into(b"read-only bytes")

    def test_empty(self):
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.recv_into(bytearray(8), block=False)


class TestZeroCopy(RegionTest):
    CAPACITY = 4

    def test_reserve_commit_and_peek_release(self):
        with self.chan.reserve() as res:
            self.assertEqual(len(res.buffer), dmxp.MAX_PAYLOAD)
            res.buffer[:5] = b"in-sl"
            res.commit(5, type=9)
        with self.chan.peek() as msg:
            self.assertEqual(bytes(msg.payload), b"in-sl")
            self.assertTrue(msg.payload.readonly)
            self.assertEqual(msg.meta.message_type, 9)
            self.assertEqual(msg.meta.sender_runtime, dmxp.Runtime.PYTHON)
        with self.assertRaises(ValueError):
            msg.payload.tobytes()                           # released
        self.assertEqual(self.chan.info().depth, 0)
        msg.release()                                       # twice is fine

    def test_abort_is_skipped_by_consumers(self):
        res = self.chan.reserve()
        res.buffer[:4] = b"gone"
        res.abort()
        res.abort()
        with self.chan.reserve():
            pass                                            # aborted on exit
        self.chan.send(b"kept")
        self.assertEqual(self.chan.recv()[0], b"kept")
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.recv(block=False)

    def test_commit_errors(self):
        res = self.chan.reserve()
        with self.assertRaises(dmxp.MessageTooLarge):
            res.commit(dmxp.MAX_PAYLOAD + 1)
        res.buffer[:2] = b"ok"
        res.commit(2)                                       # still reserved after the error
        with self.assertRaises(ValueError):
            res.commit(2)
        self.assertEqual(self.chan.recv()[0], b"ok")

    def test_would_block(self):
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.peek()
        reservations = [self.chan.reserve() for _ in range(self.CAPACITY)]
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.reserve()
        for i, res in enumerate(reservations):
            res.buffer[0] = i
            res.commit(1)
        self.assertEqual([self.chan.recv()[0] for _ in range(4)],
                         [b"\x00", b"\x01", b"\x02", b"\x03"])


if __name__ == "__main__":
    unittest.main()
