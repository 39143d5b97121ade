# SPDX-License-Identifier: MIT
"""asyncio: recv_async and friends, woken by threads and processes, with
timeouts, cancellation and several waiters."""
import asyncio
import threading
import time
import unittest

from support import SCALE, RegionTest

import dmxp
from dmxp import aio

SLACK = 2.0 * SCALE


def send_later(chan, delay, *payloads):
    def run():
        time.sleep(delay)
        for p in payloads:
            chan.send(p)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


class TestAsync(RegionTest):
    CAPACITY = 16

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 60 * SCALE))

    def test_message_already_there(self):
        self.chan.send(b"ready", 2)
        payload, meta = self.run_async(self.chan.recv_async())
        self.assertEqual((payload, meta.message_type), (b"ready", 2))

    def test_woken_by_a_thread(self):
        async def main():
            send_later(self.chan, 0.1, b"late")
            t0 = time.monotonic()
            payload, _ = await self.chan.recv_async(timeout=10 * SCALE)
            return payload, time.monotonic() - t0
        payload, elapsed = self.run_async(main())
        self.assertEqual(payload, b"late")
        self.assertLess(elapsed, 0.1 + SLACK)
        self.assertEqual(self.recv_waiters(), 0)

    def test_the_loop_keeps_running_while_waiting(self):
        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1
            task = asyncio.ensure_future(ticker())
            send_later(self.chan, 0.3, b"done")
            await self.chan.recv_async()
            task.cancel()
            return ticks
        self.assertGreater(self.run_async(main()), 5)

    def test_timeout(self):
        async def main():
            t0 = time.monotonic()
            with self.assertRaises(dmxp.Timeout) as cm:
                await self.chan.recv_async(timeout=0.2)
            return time.monotonic() - t0, cm.exception
        elapsed, exc = self.run_async(main())
        self.assertGreaterEqual(elapsed, 0.19)
        self.assertLess(elapsed, 0.2 + SLACK)
        self.assertIsInstance(exc, TimeoutError)
        self.assertEqual(self.recv_waiters(), 0)
        with self.assertRaises(ValueError):
            self.run_async(self.chan.recv_async(timeout=-1))

    def test_cancel_disarms(self):
        async def main():
            task = asyncio.ensure_future(self.chan.recv_async())
            await asyncio.sleep(0.05)
            self.assertEqual(self.recv_waiters(), 1)      # armed while waiting
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual(self.recv_waiters(), 0)
            self.assertEqual(self.chan._aio_waits, {})
        self.run_async(main())

    def test_many_waiters_share_one_arm(self):
        async def main():
            tasks = [asyncio.ensure_future(self.chan.recv_async()) for _ in range(5)]
            await asyncio.sleep(0.05)
            self.assertEqual(self.recv_waiters(), 1)
            send_later(self.chan, 0.01, *[b"%d" % i for i in range(5)])
            got = await asyncio.gather(*tasks)
            return sorted(p for p, _ in got)
        self.assertEqual(self.run_async(main()), [b"%d" % i for i in range(5)])
        self.assertEqual(self.recv_waiters(), 0)

    def test_one_of_several_cancelled(self):
        async def main():
            a = asyncio.ensure_future(self.chan.recv_async())
            b = asyncio.ensure_future(self.chan.recv_async())
            await asyncio.sleep(0.05)
            a.cancel()
            await asyncio.sleep(0.05)
            self.assertEqual(self.recv_waiters(), 1)      # b still waits
            send_later(self.chan, 0.01, b"for b")
            return (await b)[0]
        self.assertEqual(self.run_async(main()), b"for b")

    def test_recv_many_async_and_into(self):
        async def main():
            send_later(self.chan, 0.05, b"a", b"b")
            got = await self.chan.recv_many_async(10, timeout=10 * SCALE)
            while len(got) < 2:
                got += await self.chan.recv_many_async(10, timeout=10 * SCALE)
            batch = dmxp.RecvBatch(4)
            send_later(self.chan, 0.05, b"c")
            n = await self.chan.recv_many_into_async(batch, timeout=10 * SCALE)
            return [p for p, _ in got], n, batch.tobytes()
        self.assertEqual(self.run_async(main()), ([b"a", b"b"], 1, [b"c"]))

    def test_send_async_waits_for_room(self):
        self.chan.send_many([b"x"] * self.CAPACITY)

        # Joined before the teardown closes the channel under its call.
        receiver = threading.Timer(0.1, self.chan.recv)

        async def main():
            receiver.start()
            t0 = time.monotonic()
            await self.chan.send_async(b"room", 5, timeout=10 * SCALE)
            elapsed = time.monotonic() - t0
            with self.assertRaises(dmxp.Timeout):
                await self.chan.send_async(b"no room", timeout=0.1)
            return elapsed
        try:
            self.assertLess(self.run_async(main()), 0.1 + SLACK)
        finally:
            receiver.join()
        self.assertEqual(self.send_waiters(), 0)
        got = self.chan.recv_many(100)
        self.assertEqual(got[-1][0], b"room")
        self.assertEqual(got[-1][1].message_type, 5)

    def test_destroyed_while_waiting(self):
        destroyer = threading.Timer(0.1, self.region.destroy_channel, [self.CHANNEL])

        async def main():
            destroyer.start()
            with self.assertRaises(dmxp.ChannelDestroyed):
                await self.chan.recv_async(timeout=10 * SCALE)
        try:
            self.run_async(main())
        finally:
            destroyer.join()

    def test_closed_while_waiting(self):
        async def main():
            task = asyncio.ensure_future(self.chan.recv_async())
            await asyncio.sleep(0.05)
            self.chan.close()
            with self.assertRaises(ValueError):
                await task
        self.run_async(main())

    def test_stream_from_a_thread(self):
        count = 2000 // SCALE

        async def main():
            def produce():
                with self.region.channel(self.CHANNEL) as c:
                    for i in range(count):
                        c.send(b"%d" % i)
                        if i % 200 == 199:
                            time.sleep(0.005)
            threading.Thread(target=produce).start()
            got = []
            while len(got) < count:
                got += [p for p, _ in await self.chan.recv_many_async(64, timeout=10 * SCALE)]
            return got
        self.assertEqual(self.run_async(main()), [b"%d" % i for i in range(count)])

    def test_module_functions(self):
        self.chan.send(b"via aio")
        self.assertEqual(self.run_async(aio.recv_async(self.chan))[0], b"via aio")


if __name__ == "__main__":
    unittest.main()
