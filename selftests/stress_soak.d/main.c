// SPDX-License-Identifier: MIT
/*
 * Soak test: many producer and consumer processes on several channels,
 * for a long time, while channels are destroyed and created under them
 * and the processes themselves are replaced all the time.
 *
 * Channels.  Four data channels of 2, 4, 64 and 1024 slots live for the
 * whole run and are checked strictly: every message sent on them is
 * received exactly once.  Two churn channels are destroyed and created
 * again (with a random capacity) every few milliseconds to few hundred
 * milliseconds by a churner process while the workers use them; workers
 * get -EIDRM (or -ENOENT) and open them again.  A message on a churn
 * channel may be lost only because its channel was destroyed: every
 * message sent through the last incarnation of a churn channel must
 * arrive.  dmxp_chan_destroy() lets a call already in progress complete
 * on the old ring memory, which a new channel may reuse; so before
 * creating again, the churner waits until no worker is still inside a
 * call it started before the destroy (each worker announces the churn
 * channel it is in a call on, see busy_enter()).
 *
 * Workers.  Producers pick a channel and an operation at random:
 * dmxp_chan_send(), dmxp_chan_send_wait() with a random timeout (0, 1 us
 * .. 50 ms), dmxp_chan_send_batch(), bursts of sends, reserve + commit
 * (writing the message in place), reserve + abort (a tombstone, which no
 * consumer may ever see) and pauses that let consumers fall asleep.
 * Consumers mix dmxp_chan_recv(), receives into a too-small buffer
 * (-EMSGSIZE, the message stays), dmxp_chan_recv_wait() with random
 * timeouts, dmxp_chan_recv_batch() (some buffers too small) and
 * peek + release (checked in place).  A wait that times out must have
 * waited its timeout.
 *
 * Messages.  Payloads are 0..960 bytes.  From 32 bytes on, a message
 * starts with its producer, channel, the producer's incarnation, its
 * sequence number (per producer and channel), its length and a checksum
 * of everything else; the body is random.  Every message also carries
 * producer, channel and the sequence's low 25 bits in its message_type,
 * which is all a shorter message has room for: its bytes are then a
 * function of (producer, channel, sequence, length).  Consumers check the
 * checksum, the metadata (sender pid against the producer's incarnation),
 * that each producer's sequence strictly increases on each channel as
 * each consumer sees it, and that message_id strictly increases on each
 * data channel; they record each message in a bitmap in a private
 * MAP_SHARED mapping (a second arrival is a duplicate).  At the end every
 * sequence sent on a data channel must be in the bitmap, and the data
 * channels' head and tail must equal the messages plus tombstones sent.
 *
 * Restarts.  Every worker exits cleanly after a random 50 ms .. 2 s,
 * closing its handles, and the supervisor (the test process) starts a new
 * process in its place, which opens the region again; a producer goes on
 * with its sequences where the previous one stopped (kept in the
 * bookkeeping mapping, not in the region).
 *
 * Kills (unless --no-kill or DMXP_SOAK_KILL=0): the supervisor also
 * SIGKILLs workers at random moments, in the middle of any call.  Their
 * claims are repaired (Documentation/RELIABILITY.md), so the channels go
 * on.  The accounting then allows, on each channel, the messages a killed
 * producer was sending (its sequence range in flight: they may be
 * missing) and as many messages as a killed consumer's receive in
 * progress could claim; everything else stays strict.  A channel that
 * stays stuck behind a dead claim is reported by the watchdog with the
 * state of its slots.
 *
 * Duration: DMXP_STRESS_SECONDS (default 15) of sending, then the
 * consumers drain the channels.  Every wait is bounded: no progress for
 * a while, a worker stuck in one operation, or a phase that does not end
 * is reported as a failure with the state of every channel and worker.
 * The seed is printed; DMXP_SOAK_SEED=N (or --seed N) reuses it.
 *
 * Options (before or among the harness's): --kill, --no-kill, --seed N,
 * --producers N (1..16, default 5), --consumers N (1..16, default 5),
 * --seconds N; or DMXP_SOAK_KILL, DMXP_SOAK_SEED, DMXP_SOAK_PRODUCERS,
 * DMXP_SOAK_CONSUMERS.
 *
 * This file: our own main, which takes the soak's options out of argv
 * before the harness sees it.
 */
#include "stress_soak.h"

static unsigned int parse_count(const char *s, const char *what, unsigned int max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || v < 1 || v > max) {
		fprintf(stderr, "stress_soak: %s must be 1..%u, not '%s'\n", what, max, s);
		exit(2);
	}
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	const char *e;
	int i, n = 1;

	e = getenv("DMXP_SOAK_KILL");
	opt.kill = !e || !*e || strcmp(e, "0");
	e = getenv("DMXP_SOAK_SEED");
	if (e && *e) {
		opt.seed = strtoull(e, NULL, 0);
		opt.seed_set = true;
	}
	e = getenv("DMXP_SOAK_PRODUCERS");
	if (e && *e)
		opt.np = parse_count(e, "DMXP_SOAK_PRODUCERS", MAX_PRODUCERS);
	e = getenv("DMXP_SOAK_CONSUMERS");
	if (e && *e)
		opt.nc = parse_count(e, "DMXP_SOAK_CONSUMERS", MAX_CONSUMERS);

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--kill")) {
			opt.kill = true;
		} else if (!strcmp(a, "--no-kill")) {
			opt.kill = false;
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			opt.seed = strtoull(argv[++i], NULL, 0);
			opt.seed_set = true;
		} else if (!strcmp(a, "--producers") && i + 1 < argc) {
			opt.np = parse_count(argv[++i], "--producers", MAX_PRODUCERS);
		} else if (!strcmp(a, "--consumers") && i + 1 < argc) {
			opt.nc = parse_count(argv[++i], "--consumers", MAX_CONSUMERS);
		} else if (!strcmp(a, "--seconds") && i + 1 < argc) {
			opt.secs = parse_count(argv[++i], "--seconds", 1U << 30);
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: %s [--kill|--no-kill] [--seed N] [--producers N] [--consumers N] [--seconds N]\n"
			       "environment: DMXP_STRESS_SECONDS, DMXP_SOAK_KILL, DMXP_SOAK_SEED,\n"
			       "DMXP_SOAK_PRODUCERS, DMXP_SOAK_CONSUMERS, DMXP_TEST_BACKEND=kernel\n",
			       argv[0]);
			return 0;
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	if (!opt.seed_set)
		opt.seed = mix64((__u64)test_now_ns() ^ (__u64)getpid() << 40) & ((1ULL << 48) - 1);
	return soak_harness_run(n, argv);
}
