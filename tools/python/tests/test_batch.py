# SPDX-License-Identifier: MIT
"""Batches: send_many, recv_many, recv_many_into and RecvBatch."""
import os
import unittest

from support import RegionTest

import dmxp


class TestSendMany(RegionTest):
    CAPACITY = 1024

    def test_payloads_and_tuples(self):
        n = self.chan.send_many([b"a", (b"b", 2), bytearray(b"c"), (memoryview(b"d"), 4)],
                                type=9)
        self.assertEqual(n, 4)
        got = self.chan.recv_many(10)
        self.assertEqual([(p, m.message_type) for p, m in got],
                         [(b"a", 9), (b"b", 2), (b"c", 9), (b"d", 4)])
        self.assertEqual([m.message_id for _, m in got], [0, 1, 2, 3])

    def test_any_iterable(self):
        self.assertEqual(self.chan.send_many(b"%d" % i for i in range(300)), 300)
        self.assertEqual(self.chan.send_many(iter([])), 0)
        self.assertEqual(self.chan.send_many(()), 0)
        got = self.chan.recv_many(1000)
        self.assertEqual([p for p, _ in got], [b"%d" % i for i in range(300)])

    def test_more_than_one_claim(self):
        msgs = [os.urandom(i % 100) for i in range(1000)]
        self.assertEqual(self.chan.send_many(msgs), 1000)
        self.assertEqual([p for p, _ in self.chan.recv_many(1000)], msgs)

    def test_too_large_sends_nothing(self):
        with self.assertRaises(dmxp.MessageTooLarge) as cm:
            self.chan.send_many([b"ok", b"x" * 961, b"ok"])
        self.assertIn("message 1 of 961 bytes", str(cm.exception))
        self.assertEqual(self.chan.info().depth, 0)

    def test_bad_items(self):
        with self.assertRaises(TypeError):
            self.chan.send_many(["text"])
        with self.assertRaises(dmxp.InvalidArgument):
            self.chan.send_many([(b"x", -1)])
        with self.assertRaises(ValueError):
            self.chan.send_many([(b"x", 1, 2)])
        self.assertEqual(self.chan.info().depth, 0)


class TestSendManyFull(RegionTest):
    CAPACITY = 8

    def test_nonblocking_returns_what_fitted(self):
        self.assertEqual(self.chan.send_many([b"%d" % i for i in range(20)], block=False), 8)
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.send_many([b"x"], block=False)
        self.assertEqual([p for p, _ in self.chan.recv_many(3)], [b"0", b"1", b"2"])
        self.assertEqual(self.chan.send_many([b"a", b"b", b"c", b"d"], block=False), 3)

    def test_timeout_returns_what_was_sent(self):
        self.assertEqual(self.chan.send_many([b"x"] * 12, timeout=0.05), 8)
        with self.assertRaises(dmxp.Timeout):
            self.chan.send_many([b"y"], timeout=0.05)
        with self.assertRaises(ValueError):
            self.chan.send_many([b"y"], timeout=-1)


class TestRecvMany(RegionTest):
    CAPACITY = 1024

    def test_max_and_order(self):
        self.chan.send_many([b"%d" % i for i in range(10)])
        first = self.chan.recv_many(3)
        self.assertEqual([p for p, _ in first], [b"0", b"1", b"2"])
        rest = self.chan.recv_many()
        self.assertEqual([p for p, _ in rest], [b"%d" % i for i in range(3, 10)])
        self.assertEqual(rest[0][1].message_id, 3)
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.recv_many(block=False)
        with self.assertRaises(ValueError):
            self.chan.recv_many(0)

    def test_more_than_a_batch(self):
        self.chan.send_many([b"%d" % i for i in range(700)])
        got = self.chan.recv_many(600)
        self.assertEqual(len(got), 600)
        self.assertEqual(len(self.chan.recv_many(600)), 100)

    def test_meta(self):
        self.chan.send_many([(b"p", 5)])
        (payload, meta), = self.chan.recv_many()
        self.assertEqual((payload, meta.message_type, meta.channel_id, meta.sender_pid,
                          meta.sender_runtime), (b"p", 5, self.CHANNEL, os.getpid(),
                                                 dmxp.Runtime.PYTHON))

    def test_tombstones_are_skipped(self):
        self.chan.send(b"before")
        self.chan.reserve().abort()
        self.chan.send(b"after")
        self.assertEqual([p for p, _ in self.chan.recv_many()], [b"before", b"after"])


class TestRecvBatch(RegionTest):
    CAPACITY = 64

    def test_fill_and_read(self):
        batch = dmxp.RecvBatch(8)
        self.assertEqual((len(batch), batch.capacity, batch.buffer_size), (0, 8, 960))
        msgs = [(b"m%d" % i * (i + 1), i) for i in range(12)]
        self.chan.send_many(msgs)
        self.assertEqual(self.chan.recv_many_into(batch), 8)
        self.assertEqual(len(batch), 8)
        self.assertEqual(batch.tobytes(), [m for m, _ in msgs[:8]])
        self.assertEqual([bytes(p) for p in batch], [m for m, _ in msgs[:8]])
        self.assertEqual([bytes(p) for p in batch.payloads()], [m for m, _ in msgs[:8]])
        self.assertEqual(batch.lengths(), [len(m) for m, _ in msgs[:8]])
        self.assertEqual(batch.types(), list(range(8)))
        self.assertEqual(bytes(batch[0]), msgs[0][0])
        self.assertEqual(bytes(batch[-1]), msgs[7][0])
        self.assertIsInstance(batch[0], memoryview)
        self.assertEqual(batch.meta(3).message_type, 3)
        self.assertEqual(batch.meta(-1).message_id, 7)
        self.assertEqual([m.message_id for m in batch.metas()], list(range(8)))
        self.assertEqual(batch.items()[2], (msgs[2][0], batch.meta(2)))
        with self.assertRaises(IndexError):
            batch[8]
        with self.assertRaises(IndexError):
            batch.meta(8)
        self.assertIn("8/8", repr(batch))
        # The next fill replaces the contents.
        self.assertEqual(self.chan.recv_many_into(batch, 2), 2)
        self.assertEqual(batch.tobytes(), [msgs[8][0], msgs[9][0]])
        self.assertEqual(self.chan.recv_many_into(batch), 2)
        with self.assertRaises(dmxp.WouldBlock):
            self.chan.recv_many_into(batch, block=False)
        self.assertEqual(len(batch), 0)
        with self.assertRaises(ValueError):
            self.chan.recv_many_into(batch, 0)

    def test_small_buffers(self):
        batch = dmxp.RecvBatch(4, buffer_size=8)
        self.chan.send_many([b"short", b"fits-8!!", b"too long for 8", b"x"])
        self.assertEqual(self.chan.recv_many_into(batch), 2)     # stops before the long one
        with self.assertRaises(dmxp.MessageTooLarge) as cm:
            self.chan.recv_many_into(batch)
        self.assertIn("longer than the batch's buffers of 8 bytes", str(cm.exception))
        self.assertEqual(self.chan.recv()[0], b"too long for 8")
        self.assertEqual(self.chan.recv_many_into(batch), 1)
        self.assertEqual(batch.tobytes(), [b"x"])

    def test_bad_arguments(self):
        for cap, size in ((0, 960), (1, 0), (1, 961), ((1 << 24) + 1, 1)):
            with self.assertRaises(dmxp.InvalidArgument):
                dmxp.RecvBatch(cap, size)

    def test_zero_copy_views_are_reused(self):
        batch = dmxp.RecvBatch(2)
        self.chan.send_many([b"first", b"second"])
        self.chan.recv_many_into(batch)
        view = batch[0]
        self.chan.send_many([b"third"])
        self.chan.recv_many_into(batch)
        self.assertEqual(bytes(view), b"third")      # the same buffer, refilled


if __name__ == "__main__":
    unittest.main()
