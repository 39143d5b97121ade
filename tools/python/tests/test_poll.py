# SPDX-License-Identifier: MIT
"""fileno(), wait_fd() and the arm protocol with select() and selectors."""
import select
import selectors
import threading
import time
import unittest

from support import SCALE, RegionTest

import dmxp

SLACK = 2.0 * SCALE


def readable(fd, timeout=0):
    return bool(select.select([fd], [], [], timeout)[0])


def writable(fd, timeout=0):
    return bool(select.select([], [fd], [], timeout)[1])


def native(chan):
    """True when libdmxp gave the channel a channel fd (kernel regions),
    False when the binding stands in for it (region files)."""
    chan.fileno()
    return chan._native_fd is not False


class TestFileno(RegionTest):
    CAPACITY = 4

    def test_fd_is_stable_and_event_masks(self):
        fd = self.chan.fileno()
        self.assertGreaterEqual(fd, 0)
        self.assertEqual(self.chan.fileno(), fd)
        self.assertEqual(self.chan.wait_fd(), (fd, selectors.EVENT_READ))
        send_fd, mask = self.chan.wait_fd(dmxp.ARM_SEND)
        if native(self.chan):   # the channel fd itself: writable when a slot is free
            self.assertEqual((send_fd, mask), (fd, selectors.EVENT_WRITE))
        else:               # a stand-in fd per event
            self.assertNotEqual(send_fd, fd)
            self.assertEqual(mask, selectors.EVENT_READ)
        with self.assertRaises(ValueError):
            self.chan.wait_fd(dmxp.ARM_RECV | dmxp.ARM_SEND)

    def test_arm_reports_a_waiting_message(self):
        self.chan.send(b"here")
        self.assertFalse(self.chan.arm())       # ready: not armed
        self.assertEqual(self.recv_waiters(), 0)
        self.chan.recv()
        self.assertTrue(self.chan.arm())        # empty: armed
        self.assertEqual(self.recv_waiters(), 1)
        self.chan.disarm()
        self.assertEqual(self.recv_waiters(), 0)
        with self.assertRaises(dmxp.InvalidArgument):
            self.chan.arm(0)

    def test_armed_fd_becomes_readable_on_send(self):
        fd = self.chan.fileno()
        self.assertTrue(self.chan.arm())
        self.assertFalse(readable(fd))
        with self.region.channel(self.CHANNEL) as producer:
            producer.send(b"ping")
        self.assertTrue(readable(fd, SLACK))
        self.chan.disarm()
        self.assertEqual(self.chan.recv(block=False)[0], b"ping")
        self.assertFalse(readable(fd))      # the stand-in: drained by the last disarm

    def test_send_side(self):
        self.chan.send_many([b"x"] * self.CAPACITY)
        fd, mask = self.chan.wait_fd(dmxp.ARM_SEND)
        ready = writable if mask == selectors.EVENT_WRITE else readable
        self.assertTrue(self.chan.arm(dmxp.ARM_SEND))
        self.assertEqual(self.send_waiters(), 1)
        self.assertFalse(ready(fd))
        receiver = threading.Thread(target=self.chan.recv)
        receiver.start()
        try:
            self.assertTrue(ready(fd, SLACK))
            self.chan.disarm(dmxp.ARM_SEND)
            self.assertEqual(self.send_waiters(), 0)
            self.chan.send(b"room", block=False)
        finally:
            receiver.join()

    def test_destroyed_while_armed(self):
        fd = self.chan.fileno()
        self.assertTrue(self.chan.arm())
        # Joined before the teardown closes the region under its call.
        destroyer = threading.Timer(0.05, self.region.destroy_channel, [self.CHANNEL])
        destroyer.start()
        try:
            self.assertTrue(readable(fd, SLACK))
            self.chan.disarm()
            with self.assertRaises(dmxp.ChannelDestroyed):
                self.chan.recv(block=False)
            with self.assertRaises(dmxp.ChannelDestroyed):
                self.chan.arm()
        finally:
            destroyer.join()


class TestSelectorLoop(RegionTest):
    CAPACITY = 16
    COUNT = 3000 // SCALE

    def test_drain_arm_wait_disarm(self):
        """The loop of include/dmxp.h, with a producer thread sending in
        bursts and pauses, loses no wake-up and no message."""
        def produce():
            with self.region.channel(self.CHANNEL) as c:
                for i in range(self.COUNT):
                    c.send(b"%d" % i)
                    if i % 100 == 99:
                        time.sleep(0.01)
        t = threading.Thread(target=produce)
        t.start()
        sel = selectors.DefaultSelector()
        sel.register(self.chan, selectors.EVENT_READ)   # uses chan.fileno()
        got, waits = [], 0
        deadline = time.monotonic() + 60 * SCALE
        while len(got) < self.COUNT and time.monotonic() < deadline:
            try:
                while True:
                    got.append(self.chan.recv(block=False)[0])
            except dmxp.WouldBlock:
                pass
            if len(got) == self.COUNT:
                break
            if not self.chan.arm():
                continue
            events = sel.select(timeout=10 * SCALE)
            self.chan.disarm()
            waits += 1
            self.assertTrue(events, "no wake-up within %s s: lost" % (10 * SCALE))
            self.assertIs(events[0][0].fileobj, self.chan)
        t.join()
        sel.close()
        self.assertEqual(got, [b"%d" % i for i in range(self.COUNT)])
        self.assertGreater(waits, 0)
        self.assertEqual(self.recv_waiters(), 0)


if __name__ == "__main__":
    unittest.main()
