# SPDX-License-Identifier: MIT
"""Python and C processes on one channel, both ways: the C side is the
dmxpctl tool (libdmxp).  Many messages through a small ring, so both
sides block and wake each other; content, order and metadata checked."""
import json
import os
import subprocess
import threading
import time
import unittest

import support
from support import DMXPCTL, SCALE, RegionTest

import dmxp

COUNT = 5000 // SCALE
TIMEOUT = 60 * SCALE


def lines(prefix, n):
    return [("%s-%d" % (prefix, i)).encode() for i in range(n)]


class TestWithDmxpctl(RegionTest):
    CAPACITY = 16

    def setUp(self):
        support.need_dmxpctl(self)
        super().setUp()

    def ctl(self, *args, **kw):
        return subprocess.Popen([DMXPCTL, "-r", self.path] + [str(a) for a in args], **kw)

    def test_c_to_python(self):
        expected = lines("c", COUNT)
        sender = self.ctl("send", self.CHANNEL, "--type", 42, stdin=subprocess.PIPE)
        feeder = threading.Thread(target=lambda: (sender.stdin.write(b"\n".join(expected) + b"\n"),
                                                  sender.stdin.close()))
        feeder.start()
        got = []
        while len(got) < COUNT:
            got += self.chan.recv_many(timeout=TIMEOUT)
        feeder.join()
        self.assertEqual(sender.wait(timeout=TIMEOUT), 0)
        self.assertEqual([p for p, _ in got], expected)
        metas = [m for _, m in got]
        self.assertEqual({m.sender_runtime for m in metas}, {dmxp.Runtime.C})
        self.assertEqual({m.sender_pid for m in metas}, {sender.pid})
        self.assertEqual({m.message_type for m in metas}, {42})
        self.assertEqual([m.message_id for m in metas], list(range(COUNT)))

    def test_python_to_c(self):
        expected = lines("py", COUNT)
        receiver = self.ctl("recv", self.CHANNEL, "-n", COUNT, "--timeout", TIMEOUT * 1000,
                            stdout=subprocess.PIPE)
        reader = threading.Thread(target=lambda: out.append(receiver.stdout.read()))
        out = []
        reader.start()
        sent = 0
        while sent < COUNT:            # a mix of the calls, all blocking
            if sent % 3 == 0:
                sent += self.chan.send_many(expected[sent:sent + 50], timeout=TIMEOUT)
            else:
                self.chan.send(expected[sent], timeout=TIMEOUT)
                sent += 1
        reader.join(TIMEOUT)
        self.assertEqual(receiver.wait(timeout=TIMEOUT), 0)
        self.assertEqual(out[0].split(b"\n")[:-1], expected)

    def test_python_metadata_seen_by_c(self):
        self.chan.send(b"meta", type=7)
        out = subprocess.run([DMXPCTL, "-r", self.path, "recv", str(self.CHANNEL), "--json"],
                             stdout=subprocess.PIPE, check=True).stdout
        msg = json.loads(out.decode().splitlines()[0])
        self.assertEqual(msg["type"], 7)
        self.assertEqual(msg["runtime"].lower(), "python")
        self.assertEqual(msg["sender_pid"], os.getpid())

    def test_both_ways_at_once(self):
        """dmxpctl feeds channel 1 while Python feeds channel 2 to another
        dmxpctl, with Python receiving and sending from two threads."""
        n = COUNT // 2
        to_py, to_c = lines("in", n), lines("out", n)
        self.region.create_channel(2, capacity=16)
        out_chan = self.region.channel(2)
        receiver = self.ctl("recv", 2, "-n", n, "--timeout", TIMEOUT * 1000,
                            stdout=subprocess.PIPE)
        sender = self.ctl("send", self.CHANNEL, stdin=subprocess.PIPE)
        results = {}

        def feed():
            sender.stdin.write(b"\n".join(to_py) + b"\n")
            sender.stdin.close()

        def send_out():
            out_chan.send_many(to_c, timeout=TIMEOUT)

        def collect():
            results["c"] = receiver.stdout.read()
        threads = [threading.Thread(target=f) for f in (feed, send_out, collect)]
        for t in threads:
            t.start()
        got = []
        t0 = time.monotonic()
        while len(got) < n and time.monotonic() - t0 < TIMEOUT:
            got += [p for p, _ in self.chan.recv_many(timeout=TIMEOUT)]
        for t in threads:
            t.join(TIMEOUT)
        self.assertEqual(sender.wait(timeout=TIMEOUT), 0)
        self.assertEqual(receiver.wait(timeout=TIMEOUT), 0)
        self.assertEqual(got, to_py)
        self.assertEqual(results["c"].split(b"\n")[:-1], to_c)

    def test_c_sees_python_channels(self):
        self.region.create_channel(9, capacity=8)
        with self.region.channel(9) as c:
            c.send_many([b"a", b"b", b"c"])
        out = subprocess.run([DMXPCTL, "-r", self.path, "list"], stdout=subprocess.PIPE,
                             check=True).stdout.decode()
        self.assertRegex(out, r"(?m)^9 +8 +3\b")
        self.assertRegex(out, r"(?m)^%d +%d +0\b" % (self.CHANNEL, self.CAPACITY))


class TestRegionsWithDmxpctl(unittest.TestCase):
    def setUp(self):
        support.need_dmxpctl(self)
        self.path = support.region_path()
        self.addCleanup(support.remove_region, self.path)

    def test_region_made_by_c(self):
        subprocess.run([DMXPCTL, "-r", self.path, "create", "4", "--capacity", "8"],
                       check=True)
        subprocess.run([DMXPCTL, "-r", self.path, "send", "4", "from C"], check=True)
        with dmxp.Region(self.path) as r, r.channel(4) as c:
            self.assertEqual(c.capacity, 8)
            payload, meta = c.recv(block=False)
            self.assertEqual((payload, meta.sender_runtime), (b"from C", dmxp.Runtime.C))


if __name__ == "__main__":
    unittest.main()
