// SPDX-License-Identifier: MIT
/*
 * dmxp-demo: a producer process and a consumer process exchange messages
 * through one channel of a region, and say what they did.
 *
 *	dmxp-demo [-r REGION] [-c CH] [-n COUNT] [-s BYTES]
 *
 * The producer sends COUNT messages of BYTES bytes (at least 16); each
 * carries its sequence number and a checksum of the rest.  The consumer
 * checks that every message arrives once, in order and intact.  The
 * channel is created for the run and destroyed afterwards; it must not
 * exist already.  Exit status 0 when every message arrived intact.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmxp.h"

struct demo_msg {
	__u64	seq;
	__u64	sum;	/* FNV-1a of the bytes after this header */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static __u64 fnv1a(const unsigned char *p, size_t len)
{
	__u64 h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void fill(unsigned char *p, size_t len, __u64 seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seq * 31 + i * 7);
}

static int producer(struct dmxp_chan *c, unsigned long count, size_t size)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct demo_msg *m = (struct demo_msg *)buf;
	unsigned long full = 0, i;
	double t0 = now_s(), dt;

	for (i = 0; i < count; i++) {
		int ret;

		m->seq = i;
		fill(buf + sizeof(*m), size - sizeof(*m), i);
		m->sum = fnv1a(buf + sizeof(*m), size - sizeof(*m));
		while ((ret = dmxp_chan_send(c, buf, size, 1)) == -EAGAIN) {
			full++;
			sched_yield();
		}
		if (ret) {
			fprintf(stderr, "producer: send: %s\n", strerror(-ret));
			return 1;
		}
	}
	dt = now_s() - t0;
	printf("producer[%d]: sent %lu messages of %zu bytes in %.3f s (%.2f M msg/s); ring full %lu times\n",
	       (int)getpid(), count, size, dt, count / dt / 1e6, full);
	return 0;
}

static int consumer(struct dmxp_chan *c, unsigned long count, size_t size)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct demo_msg *m = (struct demo_msg *)buf;
	unsigned long got = 0, corrupt = 0, misordered = 0;
	__u64 expect = 0;
	double t0 = 0, dt;
	struct dmxp_msg_meta meta;
	pid_t sender = 0;

	while (got < count) {
		ssize_t len = dmxp_chan_recv(c, buf, sizeof(buf), &meta);

		if (len == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (len < 0) {
			fprintf(stderr, "consumer: recv: %s\n", strerror((int)-len));
			return 1;
		}
		if (!got) {
			t0 = now_s();
			sender = (pid_t)meta.sender_pid;
		}
		got++;
		if ((size_t)len != size ||
		    m->sum != fnv1a(buf + sizeof(*m), (size_t)len - sizeof(*m)))
			corrupt++;
		else if (m->seq != expect)
			misordered++;
		expect = m->seq + 1;
	}
	dt = now_s() - t0;
	printf("consumer[%d]: received %lu messages from pid %d in %.3f s: %lu out of order, %lu corrupt\n",
	       (int)getpid(), got, (int)sender, dt, misordered, corrupt);
	return corrupt || misordered;
}

static int run_child(const char *path, unsigned int ch, bool produce,
		     unsigned long count, size_t size)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int ret;

	/* Each process attaches on its own, as unrelated programs would. */
	ret = dmxp_region_open(path, 0, 0, &r);
	if (!ret)
		ret = dmxp_chan_open(r, ch, &c);
	if (ret) {
		fprintf(stderr, "dmxp-demo: %s: %s\n", path, strerror(-ret));
		return 1;
	}
	ret = produce ? producer(c, count, size) : consumer(c, count, size);
	fflush(stdout);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return ret;
}

int main(int argc, char **argv)
{
	const char *path = getenv(DMXP_REGION_ENV);
	unsigned long count = 1000000;
	size_t size = 64;
	unsigned int ch = 0;
	struct dmxp_region *r;
	pid_t pids[2];
	int i, opt, ret, failed = 0;

	while ((opt = getopt(argc, argv, "r:c:n:s:h")) != -1) {
		switch (opt) {
		case 'r':
			path = optarg;
			break;
		case 'c':
			ch = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			size = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: dmxp-demo [-r REGION] [-c CH] [-n COUNT] [-s BYTES]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (size < sizeof(struct demo_msg) || size > DMXP_MAX_PAYLOAD || ch >= DMXP_MAX_CHANNELS) {
		fprintf(stderr, "dmxp-demo: BYTES must be 16..960 and CH 0..255\n");
		return 2;
	}

	ret = dmxp_region_open(path, 0, DMXP_OPEN_CREATE, &r);
	if (ret) {
		fprintf(stderr, "dmxp-demo: cannot open region: %s\n", strerror(-ret));
		return 1;
	}
	ret = dmxp_chan_create(r, ch, 1024);
	if (ret) {
		fprintf(stderr, "dmxp-demo: cannot create channel %u in %s: %s\n", ch,
			dmxp_region_path(r), strerror(-ret));
		return 1;
	}
	printf("dmxp-demo: region %s, channel %u (1024 slots): one producer and one consumer process, %lu messages\n",
	       dmxp_region_path(r), ch, count);
	fflush(stdout);

	for (i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("dmxp-demo: fork");
			return 1;
		}
		if (!pids[i])
			_exit(run_child(dmxp_region_path(r), ch, i == 1, count, size));
	}
	for (i = 0; i < 2; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			failed = 1;
	}
	dmxp_chan_destroy(r, ch);
	dmxp_region_close(r);
	printf("dmxp-demo: %s\n", failed ? "FAILED" : "every message arrived once, in order and intact");
	return failed;
}
