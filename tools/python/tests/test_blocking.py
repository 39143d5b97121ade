# SPDX-License-Identifier: MIT
"""Blocking calls: timeouts and their bounds, wake-ups by other threads and
processes, signals, and destruction while waiting."""
import signal
import subprocess
import sys
import threading
import time
import unittest

import support
from support import SCALE, RegionTest

import dmxp

SLACK = 2.0 * SCALE         # seconds a wake-up may take on a loaded machine


def later(delay, fn, *args):
    """Run fn(*args) in a thread after ``delay`` seconds; return the thread."""
    def run():
        time.sleep(delay)
        fn(*args)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


class TestTimeouts(RegionTest):
    CAPACITY = 4

    def assertTimesOut(self, call, timeout):
        t0 = time.monotonic()
        with self.assertRaises(dmxp.Timeout) as cm:
            call()
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, timeout * 0.95)
        self.assertLess(elapsed, timeout + SLACK)
        self.assertIsInstance(cm.exception, TimeoutError)
        return cm.exception

    def test_recv_timeout(self):
        e = self.assertTimesOut(lambda: self.chan.recv(timeout=0.2), 0.2)
        self.assertIn("no message within 0.2 s", str(e))
        self.assertTimesOut(lambda: self.chan.recv_into(bytearray(8), timeout=0.1), 0.1)
        self.assertTimesOut(lambda: self.chan.recv_many(timeout=0.1), 0.1)
        self.assertTimesOut(lambda: self.chan.recv_many_into(dmxp.RecvBatch(4), timeout=0.1),
                            0.1)

    def test_send_timeout(self):
        self.chan.send_many([b"x"] * self.CAPACITY)
        e = self.assertTimesOut(lambda: self.chan.send(b"y", timeout=0.2), 0.2)
        self.assertIn("no free slot within 0.2 s", str(e))
        self.assertTimesOut(lambda: self.chan.send_many([b"y"], timeout=0.1), 0.1)

    def test_zero_timeout_does_not_wait(self):
        t0 = time.monotonic()
        with self.assertRaises(dmxp.Timeout):
            self.chan.recv(timeout=0)
        self.assertLess(time.monotonic() - t0, SLACK)
        self.chan.send(b"there")
        self.assertEqual(self.chan.recv(timeout=0)[0], b"there")

    def test_negative_timeout(self):
        with self.assertRaises(ValueError):
            self.chan.recv(timeout=-1)
        with self.assertRaises(ValueError):
            self.chan.send(b"x", timeout=-0.5)
        with self.assertRaises(ValueError):
            self.chan.recv_many(timeout=-1)
        with self.assertRaises(ValueError):
            self.chan.recv_into(bytearray(4), timeout=-1)

    def test_waiting_uses_no_cpu(self):
        cpu = []

        def wait():
            c0 = time.thread_time()
            with self.assertRaises(dmxp.Timeout):
                self.chan.recv(timeout=1.0)
            cpu.append(time.thread_time() - c0)
        t = threading.Thread(target=wait)
        t.start()
        t.join()
        self.assertLess(cpu[0], 0.1 * SCALE)
        self.assertEqual(self.recv_waiters(), 0)


class TestWakeUps(RegionTest):
    CAPACITY = 4

    def test_recv_woken_by_a_send(self):
        later(0.1, self.chan.send, b"wake", 3)
        t0 = time.monotonic()
        payload, meta = self.chan.recv(timeout=10 * SCALE)
        elapsed = time.monotonic() - t0
        self.assertEqual((payload, meta.message_type), (b"wake", 3))
        self.assertGreaterEqual(elapsed, 0.05)
        self.assertLess(elapsed, 0.1 + SLACK)

    def test_recv_forever_woken(self):
        later(0.05, self.chan.send, b"forever")
        self.assertEqual(self.chan.recv()[0], b"forever")

    def test_recv_into_and_batches_woken(self):
        buf = bytearray(16)
        later(0.05, self.chan.send, b"into")
        self.assertEqual(self.chan.recv_into(buf, timeout=10 * SCALE)[0], 4)
        later(0.05, self.chan.send_many, [b"a", b"b", b"c"])
        got = self.chan.recv_many(10, timeout=10 * SCALE)
        while len(got) < 3:
            got += self.chan.recv_many(10, timeout=10 * SCALE)
        self.assertEqual([p for p, _ in got], [b"a", b"b", b"c"])
        batch = dmxp.RecvBatch(8)
        later(0.05, self.chan.send_many, [b"d", b"e"])
        n = self.chan.recv_many_into(batch, timeout=10 * SCALE)
        payloads = batch.tobytes()
        while len(payloads) < 2:
            self.chan.recv_many_into(batch, timeout=10 * SCALE)
            payloads += batch.tobytes()
        self.assertGreaterEqual(n, 1)
        self.assertEqual(payloads, [b"d", b"e"])
        self.assertEqual(self.recv_waiters(), 0)

    def test_send_woken_by_a_recv(self):
        self.chan.send_many([b"%d" % i for i in range(self.CAPACITY)])
        later(0.1, self.chan.recv)
        t0 = time.monotonic()
        self.chan.send(b"room", timeout=10 * SCALE)
        self.assertLess(time.monotonic() - t0, 0.1 + SLACK)
        self.assertEqual(self.send_waiters(), 0)

    def test_destroy_wakes_a_sleeper(self):
        later(0.1, self.region.destroy_channel, self.CHANNEL)
        t0 = time.monotonic()
        with self.assertRaises(dmxp.ChannelDestroyed):
            self.chan.recv(timeout=10 * SCALE)
        self.assertLess(time.monotonic() - t0, 0.1 + SLACK)


class TestStreams(RegionTest):
    CAPACITY = 16
    COUNT = 20000 // SCALE

    def test_threads_through_a_small_ring(self):
        msgs = [b"%d" % i for i in range(self.COUNT)]
        t = threading.Thread(target=lambda: self.chan.send_many(msgs))
        t.start()
        got = []
        while len(got) < self.COUNT:
            got += [p for p, _ in self.chan.recv_many(timeout=10 * SCALE)]
        t.join()
        self.assertEqual(got, msgs)

    def test_processes_both_ways(self):
        """Python sender and receiver processes, both blocking."""
        code = ("import sys; sys.path.insert(0, %r); import dmxp\n"
                "r = dmxp.Region(%r); c = r.channel(%d)\n"
                "if sys.argv[1] == 'send':\n"
                "    c.send_many(b'%%d' %% i for i in range(%d))\n"
                "else:\n"
                "    got = []\n"
                "    while len(got) < %d: got += [p for p, _ in c.recv_many(timeout=60)]\n"
                "    assert got == [b'%%d' %% i for i in range(%d)], 'order'\n"
                % (support.PKG_ROOT, self.path, self.CHANNEL, self.COUNT, self.COUNT,
                   self.COUNT))
        sender = subprocess.Popen([sys.executable, "-c", code, "send"])
        got = []
        while len(got) < self.COUNT:
            got += self.chan.recv_many(timeout=30 * SCALE)
        self.assertEqual(sender.wait(timeout=30 * SCALE), 0)
        self.assertEqual([p for p, _ in got], [b"%d" % i for i in range(self.COUNT)])
        self.assertEqual({m.sender_pid for _, m in got}, {sender.pid})
        receiver = subprocess.Popen([sys.executable, "-c", code, "recv"])
        self.chan.send_many(b"%d" % i for i in range(self.COUNT))
        self.assertEqual(receiver.wait(timeout=30 * SCALE), 0)


class Alarm(Exception):
    pass


@unittest.skipUnless(threading.current_thread() is threading.main_thread(),
                     "signals go to the main thread")
class TestSignals(RegionTest):
    CAPACITY = 4

    def setUp(self):
        super().setUp()
        self.hits = 0
        old = signal.getsignal(signal.SIGALRM)
        self.addCleanup(signal.signal, signal.SIGALRM, old)
        self.addCleanup(signal.setitimer, signal.ITIMER_REAL, 0)

    def test_a_signal_does_not_end_the_wait(self):
        def handler(signum, frame):
            self.hits += 1
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        t0 = time.monotonic()
        with self.assertRaises(dmxp.Timeout):
            self.chan.recv(timeout=0.3)
        self.assertGreaterEqual(time.monotonic() - t0, 0.28)
        self.assertEqual(self.hits, 1)
        # Interrupted and retried, then woken by a message.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        later(0.2, self.chan.send, b"after the signal")
        self.assertEqual(self.chan.recv()[0], b"after the signal")
        self.assertEqual(self.hits, 2)

    def test_a_raising_handler_ends_the_wait(self):
        def handler(signum, frame):
            raise Alarm()
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        with self.assertRaises(Alarm):
            self.chan.recv()            # forever, but for the signal
        self.assertLess(time.monotonic() - t0, 0.1 + SLACK)
        self.chan.send_many([b"x"] * self.CAPACITY)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with self.assertRaises(Alarm):
            self.chan.send(b"full", timeout=30)
        self.assertEqual(self.recv_waiters(), 0)
        self.assertEqual(self.send_waiters(), 0)


if __name__ == "__main__":
    unittest.main()
