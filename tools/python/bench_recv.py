#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Receive throughput of the Python binding's batch API.

A producer process (Python, sending 256 messages per ring claim with
send_many(), or the C tool dmxpctl reading lines from a pipe) feeds one
channel; this process receives them with the batch API and prints the
rate, the median of --repeat runs timed from the first message received
to the last:

    python3 tools/python/bench_recv.py                      # 64-byte messages
    python3 tools/python/bench_recv.py --api many --repeat 9 --json

--api into   recv_many_into(RecvBatch), iterating over each payload's
             memoryview (touching every message: len() of each)
--api bytes  recv_many_into(RecvBatch), then batch.tobytes(): a bytes each
--api many   recv_many(): a list of (bytes, Meta)
--api recv   recv() per message, for comparison

--mode drain fills the ring first and only then starts the receiver: the
receiver's own speed, without a producer competing for the CPUs.

--json prints one line in the format of tools/dmxp-bench --json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dmxp  # noqa: E402

CHANNEL = 1


def produce(region, count, size):
    """The producer process: ``count`` messages of ``size`` bytes; message
    i starts with the byte i % 256."""
    msgs = [bytes([i]) * size for i in range(256)]
    with dmxp.Region(region) as r, r.channel(CHANNEL) as chan:
        sent = 0
        while sent < count:
            n = min(256, count - sent)
            sent += chan.send_many(msgs if n == 256 else msgs[:n])


def start_producer(args, region):
    here = os.path.abspath(__file__)
    if args.producer == "python":
        cmd = [sys.executable, here, "--produce", region, str(args.count), str(args.size)]
        return subprocess.Popen(cmd)
    # dmxpctl: one message per line of standard input.
    ctl = os.path.join(os.path.dirname(here), "..", "dmxpctl", "dmxpctl")
    line = b"x" * args.size + b"\n"
    feeder = subprocess.Popen(["sh", "-c", 'yes "$0" | head -n "$1"',
                               line[:-1].decode(), str(args.count)], stdout=subprocess.PIPE)
    ctl_p = subprocess.Popen([ctl, "-r", region, "send", str(CHANNEL)], stdin=feeder.stdout)
    feeder.stdout.close()
    return ctl_p


def receive(chan, args):
    """Receive args.count messages; return the seconds from the first to
    the last, and a problem found in them (or None)."""
    count, api, check = args.count, args.api, args.producer == "python"
    batch = dmxp.RecvBatch(args.batch)
    got = 0
    t0 = None
    bad = None
    nbytes = 0
    while got < count:
        if api == "recv":
            payload, _ = chan.recv()
            n = 1
            nbytes += len(payload)
            first = payload[:1]
        elif api == "many":
            items = chan.recv_many(args.batch)
            n = len(items)
            for payload, _ in items:
                nbytes += len(payload)
            first = items[0][0][:1]
        else:
            n = chan.recv_many_into(batch)
            if api == "bytes":
                for payload in batch.tobytes():
                    nbytes += len(payload)
            else:
                for payload in batch:
                    nbytes += len(payload)
            first = bytes(batch[0][:1])
        if t0 is None:
            t0 = time.perf_counter()
        if check and bad is None and first != bytes([got % 256]):
            bad = "message %d starts with %r, expected %r" % (got, first, bytes([got % 256]))
        got += n
    elapsed = time.perf_counter() - t0
    if nbytes != count * args.size:
        bad = bad or "received %d bytes, expected %d" % (nbytes, count * args.size)
    return elapsed, bad


def one_run(args, region):
    with dmxp.Region(region, size=args.capacity * dmxp.SLOT_SIZE + (4 << 20),
                     create=True) as r:
        chan = r.channel(CHANNEL, create=True, capacity=args.capacity)
        if args.mode == "drain":
            proc = start_producer(args, region)
            if proc.wait() != 0:
                sys.exit("bench_recv: the producer failed")
            proc = None
        else:
            proc = start_producer(args, region)
        try:
            elapsed, bad = receive(chan, args)
        finally:
            if proc is not None and proc.wait() != 0:
                sys.exit("bench_recv: the producer failed")
        chan.close()
        r.destroy_channel(CHANNEL)
    if bad:
        sys.exit("bench_recv: " + bad)
    # The first message starts the clock: count the others.
    return (args.count - 1) / elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64, help="payload bytes (default 64)")
    ap.add_argument("--count", type=int, default=1000000, help="messages per run (default 1e6)")
    ap.add_argument("--repeat", type=int, default=5, help="runs; the median is reported")
    ap.add_argument("--api", choices=("into", "bytes", "many", "recv"), default="into")
    ap.add_argument("--mode", choices=("stream", "drain"), default="stream")
    ap.add_argument("--producer", choices=("python", "dmxpctl"), default="python")
    ap.add_argument("--batch", type=int, default=256, help="messages per receive call")
    ap.add_argument("--capacity", type=int, default=4096, help="ring slots (drain: >= count)")
    ap.add_argument("--region", help="region path (default: a new file in /dev/shm)")
    ap.add_argument("--json", action="store_true", help="also print a dmxp-bench JSON line")
    ap.add_argument("--produce", nargs=3, metavar=("REGION", "COUNT", "SIZE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.produce:
        produce(args.produce[0], int(args.produce[1]), int(args.produce[2]))
        return
    if args.mode == "drain":
        args.capacity = max(args.capacity, 1 << (args.count - 1).bit_length())
    region = args.region or "/dev/shm/dmxp-bench-py-%d" % os.getpid()
    rates = []
    try:
        for i in range(args.repeat):
            rates.append(one_run(args, region))
            print("run %d: %.3f M msg/s" % (i + 1, rates[-1] / 1e6), file=sys.stderr)
    finally:
        if not args.region:
            try:
                dmxp.unlink_region(region)
            except dmxp.NotFound:
                pass
    med = statistics.median(rates)
    print("python %s recv, %d-byte messages, %s producer, %s: %.3f M msg/s "
          "(median of %d; min %.3f, max %.3f)"
          % (args.api, args.size, args.producer, args.mode, med / 1e6, len(rates),
             min(rates) / 1e6, max(rates) / 1e6))
    if args.json:
        what = {"into": "recv_many_into() into a RecvBatch, a memoryview per message",
                "bytes": "recv_many_into() into a RecvBatch, then a bytes per message",
                "many": "recv_many(): a list of (bytes, Meta)",
                "recv": "recv() per message: (bytes, Meta)"}[args.api]
        print(json.dumps({
            "name": "py-recv/dmxp/%s/1x1/%d" % (args.api, args.size),
            "peer": "dmxp", "metric": "throughput",
            "value": round(med), "unit": "msg/s", "min": round(min(rates)),
            "max": round(max(rates)), "bytes_per_s": round(med * args.size),
            "parameters": {
                "description": "Python binding; %s; %s producer (%s)" % (
                    what, args.producer, args.mode),
                "payload_bytes": args.size, "repeat": len(rates),
                "statistic": "median of runs", "producers": 1, "consumers": 1,
                "api": "batch" if args.api != "recv" else "copy",
                "messages_per_run": args.count, "batch": args.batch,
                "capacity": args.capacity, "backend": "kernel" if region.startswith(
                    dmxp.KERNEL_DEVICE) else "file",
                "python": sys.version.split()[0],
            }}, separators=(",", ":")))


if __name__ == "__main__":
    main()
