// SPDX-License-Identifier: MIT
/*
 * The crash matrix: a producer or a consumer is stopped at one step of
 * its protocol (the library's test hooks, built in with DMXP_TEST_HOOKS),
 * then SIGKILLed, and the survivors of its channel check that
 *
 *	- they are stalled no longer than STALL_BOUND_MS once it is dead;
 *	- no message is delivered twice, and each producer's arrive in order;
 *	- every message is delivered except those the dead process held,
 *	  which are exactly what the channel's repair counters say;
 *	- afterwards every slot of the ring works: a full ring's worth of
 *	  messages goes through.
 *
 * On /dev/dmxp (DMXP_TEST_BACKEND=kernel) the module repairs when the
 * victim's file is released; on a region file the survivors find the
 * dead claimer themselves (lib/claim.c).  The victim always opens the
 * region itself, so that its file is its own.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helpers.h"
#include "internal.h"

extern int dmxp__hook_step;
extern unsigned int dmxp__hook_skip;

#define CH		7
#define CAP		8
#define LIVE_N		4		/* messages of the live producer */
#define STALL_BOUND_MS	100		/* Documentation/RELIABILITY.md */
#define WAIT_NS		(5LL * 1000000000LL)
#define VICTIM		1U		/* producer ids in the payload */
#define LIVE		2U
#define PARENT		3U

struct msg {
	__u32	producer;
	__u32	__pad;
	__u64	seq;
};

enum op { OP_SEND, OP_BATCH, OP_RESERVE, OP_RECV, OP_PEEK, OP_RBATCH, OP_REPAIRER };

/* What the victim reports through shared memory. */
struct shared {
	int		got;		/* messages the victim consumer received */
	struct msg	seen[16];
	int		live_sent;	/* the live producer's progress */
};

FIXTURE(crash) {
	char path[128];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct shared *sh;
	pid_t kids[4];
	unsigned int nkids;
};

FIXTURE_VARIANT(crash) {
	enum op op;
	int step;		/* hook, or 0: stop holding the reference */
	int delivered;		/* of the victim's in-flight messages */
	int repaired;
	int tombstoned;
	int taken;		/* messages a dead consumer took with it */
	bool files_only;
};

/* Producers: the victim has sent seq 0 and 1, then sends 2 (or 2..5). */
FIXTURE_VARIANT_ADD(crash, send_claiming) {
	.op = OP_SEND, .step = DMXP_HOOK_SEND_CLAIMING, .delivered = 0,
};
FIXTURE_VARIANT_ADD(crash, send_claimed) {
	.op = OP_SEND, .step = DMXP_HOOK_SEND_CLAIMED, .repaired = 1, .tombstoned = 1,
};
FIXTURE_VARIANT_ADD(crash, send_payload) {
	.op = OP_SEND, .step = DMXP_HOOK_SEND_PAYLOAD, .repaired = 1, .tombstoned = 1,
};
FIXTURE_VARIANT_ADD(crash, send_written) {
	.op = OP_SEND, .step = DMXP_HOOK_SEND_WRITTEN, .delivered = 1, .repaired = 1,
};
FIXTURE_VARIANT_ADD(crash, send_published) {
	.op = OP_SEND, .step = DMXP_HOOK_SEND_PUBLISHED, .delivered = 1,
};
FIXTURE_VARIANT_ADD(crash, batch_part) {
	.op = OP_BATCH, .step = DMXP_HOOK_BATCH_PART, .delivered = 1, .repaired = 3,
	.tombstoned = 3,
};
FIXTURE_VARIANT_ADD(crash, batch_written) {
	.op = OP_BATCH, .step = DMXP_HOOK_BATCH_WRITTEN, .repaired = 4, .tombstoned = 4,
};
FIXTURE_VARIANT_ADD(crash, reserve_held) {
	.op = OP_RESERVE, .step = 0, .repaired = 1, .tombstoned = 1,
};
/* Consumers: the victim has received one message, then takes the next. */
FIXTURE_VARIANT_ADD(crash, recv_claiming) {
	.op = OP_RECV, .step = DMXP_HOOK_RECV_CLAIMING,
};
FIXTURE_VARIANT_ADD(crash, recv_claimed) {
	.op = OP_RECV, .step = DMXP_HOOK_RECV_CLAIMED, .repaired = 1, .taken = 1,
};
FIXTURE_VARIANT_ADD(crash, recv_copied) {
	.op = OP_RECV, .step = DMXP_HOOK_RECV_COPIED, .repaired = 1, .taken = 1,
};
FIXTURE_VARIANT_ADD(crash, recv_freed) {
	.op = OP_RECV, .step = DMXP_HOOK_RECV_FREED, .taken = 1,
};
FIXTURE_VARIANT_ADD(crash, recv_batch_claimed) {
	.op = OP_RBATCH, .step = DMXP_HOOK_RECV_CLAIMED, .repaired = 3, .taken = 3,
};
FIXTURE_VARIANT_ADD(crash, recv_batch_copied) {
	.op = OP_RBATCH, .step = DMXP_HOOK_RECV_COPIED, .repaired = 3, .taken = 3,
};
FIXTURE_VARIANT_ADD(crash, peek_held) {
	.op = OP_PEEK, .step = 0, .repaired = 1, .taken = 1,
};
/* A survivor repairing the dead producer of send_claimed dies too. */
FIXTURE_VARIANT_ADD(crash, repairer_marked) {
	.op = OP_REPAIRER, .step = DMXP_HOOK_REPAIR_MARKED, .repaired = 1, .tombstoned = 1,
	.files_only = true,
};

static void region_setup(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self)
{
	test_region_path(self->path, sizeof(self->path), "crash");
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
}

static void region_teardown(FIXTURE_DATA(crash) *self)
{
	unsigned int i;

	for (i = 0; i < self->nkids; i++) {
		kill(self->kids[i], SIGKILL);
		waitpid(self->kids[i], NULL, 0);
	}
	dmxp_chan_close(self->c);
	dmxp_region_close(self->r);
	test_region_remove(self->path);
	munmap(self->sh, sizeof(*self->sh));
}

FIXTURE_SETUP(crash)
{
	region_setup(_metadata, self);
}

FIXTURE_TEARDOWN(crash)
{
	region_teardown(self);
}

static int send_msg(struct dmxp_chan *c, __u32 producer, __u64 seq)
{
	struct msg m = { .producer = producer, .seq = seq };

	return dmxp_chan_send_wait(c, &m, sizeof(m), producer, WAIT_NS);
}

/* The victim: its own region handle, a normal start, then the fatal op. */
static void victim(const char *path, const FIXTURE_VARIANT(crash) *v, struct shared *sh)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_ref ref;
	struct msg m;
	int ret = -1;

	if (dmxp_region_open(path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
		_exit(10);
	if (v->op == OP_SEND || v->op == OP_BATCH || v->op == OP_RESERVE) {
		if (send_msg(c, VICTIM, 0) || send_msg(c, VICTIM, 1))
			_exit(11);
	} else if (v->op != OP_REPAIRER) {
		if (dmxp_chan_recv_wait(c, &m, sizeof(m), NULL, WAIT_NS) != sizeof(m))
			_exit(12);
		sh->seen[sh->got++] = m;
	}
	dmxp__hook_step = v->step;
	switch (v->op) {
	case OP_SEND:
		ret = send_msg(c, VICTIM, 2);
		break;
	case OP_BATCH: {
		struct msg b[4];
		struct dmxp_smsg s[4];
		int i;

		for (i = 0; i < 4; i++) {
			b[i] = (struct msg){ .producer = VICTIM, .seq = 2 + (__u64)i };
			s[i] = (struct dmxp_smsg){ .buf = &b[i], .len = sizeof(b[i]),
						   .type = VICTIM };
		}
		ret = dmxp_chan_send_batch(c, s, 4);
		break;
	}
	case OP_RESERVE:
		ret = dmxp_chan_reserve(c, &ref);
		if (!ret) {
			m = (struct msg){ .producer = VICTIM, .seq = 2 };
			memcpy(ref.payload, &m, sizeof(m));
			raise(SIGSTOP);		/* holding the reservation */
		}
		break;
	case OP_RECV:
		ret = (int)dmxp_chan_recv_wait(c, &m, sizeof(m), NULL, WAIT_NS);
		break;
	case OP_RBATCH: {
		struct msg b[3];
		struct dmxp_rmsg rm[3];
		int i;

		for (i = 0; i < 3; i++)
			rm[i] = (struct dmxp_rmsg){ .buf = &b[i], .buf_len = sizeof(b[i]) };
		ret = dmxp_chan_recv_batch(c, rm, 3);
		break;
	}
	case OP_PEEK:
		ret = dmxp_chan_peek(c, &ref);
		if (!ret)
			raise(SIGSTOP);		/* holding the peeked slot */
		break;
	case OP_REPAIRER:
		/* Waits at the dead producer's slot, and repairs it. */
		ret = (int)dmxp_chan_recv_wait(c, &m, sizeof(m), NULL, WAIT_NS);
		break;
	}
	_exit(ret < 0 ? 13 : 14);	/* the step was never reached */
}

static pid_t spawn_victim(FIXTURE_DATA(crash) *self, const FIXTURE_VARIANT(crash) *v)
{
	pid_t pid = fork();

	if (pid == 0)
		victim(self->path, v, self->sh);
	if (pid > 0)
		self->kids[self->nkids++] = pid;
	return pid;
}

/* Wait until @pid stops at its step: 0, or -1 if it exited instead. */
static int wait_stopped(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, WUNTRACED) != pid)
		return -1;
	if (WIFSTOPPED(status))
		return 0;
	fprintf(stderr, "# victim exited: status 0x%x\n", status);
	return -1;
}

static void kill_reap(FIXTURE_DATA(crash) *self, pid_t pid)
{
	unsigned int i;

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (i = 0; i < self->nkids; i++)
		if (self->kids[i] == pid)
			self->kids[i] = self->kids[--self->nkids];
}

/* What `dmxpctl stat --json` says of the channel's repairs. */
static void check_dmxpctl(struct __test_metadata *_metadata, const char *path,
			  int repaired, int tombstoned)
{
	char exe[512], cmd[1024], out[4096], want[96];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;
	size_t got;

	ASSERT_LT(0, n);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "%s/../tools/dmxpctl/dmxpctl -r '%s' stat --json %d",
		 exe, path, CH);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	ASSERT_EQ(0, pclose(p)) TH_LOG("%s", cmd);
	snprintf(want, sizeof(want), "\"repaired\":%d,\"tombstoned\":%d,", repaired, tombstoned);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s: %s", want, out);
}

/* The counters, from the header and, on /dev/dmxp, from sysfs too. */
static void check_counters(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self,
			   int repaired, int tombstoned)
{
	const struct dmxp_channel_entry *e = &dmxp_region_header(self->r)->channels[CH];
	char p[256];
	FILE *f;
	long long v;

	EXPECT_EQ((__u64)repaired, __atomic_load_n(&e->repaired, __ATOMIC_RELAXED));
	EXPECT_EQ((__u64)tombstoned, __atomic_load_n(&e->tombstoned, __ATOMIC_RELAXED));
	check_dmxpctl(_metadata, self->path, repaired, tombstoned);
	if (!test_on_kernel())
		return;
	snprintf(p, sizeof(p), "/sys/kernel/dmxp/%s/ch%d/repaired",
		 strchr(self->path, ':') + 1, CH);
	f = fopen(p, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lld", &v));
	fclose(f);
	EXPECT_EQ(repaired, v);
	strcpy(strrchr(p, '/'), "/tombstoned");
	f = fopen(p, "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lld", &v));
	fclose(f);
	EXPECT_EQ(tombstoned, v);
}

/* Every slot works: a ring's worth of messages in, then out. */
static void check_ring_whole(struct __test_metadata *_metadata, struct dmxp_chan *c)
{
	struct msg m;
	int i;

	for (i = 0; i < CAP; i++)
		ASSERT_EQ(0, send_msg(c, PARENT, 1000 + (__u64)i));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send(c, &m, sizeof(m), 0));
	for (i = 0; i < CAP; i++) {
		ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(c, &m, sizeof(m), NULL));
		EXPECT_EQ(PARENT, m.producer);
		EXPECT_EQ(1000 + (__u64)i, m.seq);
	}
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, &m, sizeof(m), NULL));
}

static double ms_since(long long t0)
{
	return (double)(test_now_ns() - t0) / 1e6;
}

static void producer_death(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self,
			   const FIXTURE_VARIANT(crash) *v)
{
	__u64 next[4] = { 0 };
	int victim_got = 0, live_got = 0;
	long long t0;
	double stall;
	pid_t vp, lp;
	struct msg m;

	vp = spawn_victim(self, v);
	ASSERT_LT(0, vp);
	ASSERT_EQ(0, wait_stopped(vp));

	/* A live producer queues behind the victim's claim. */
	lp = fork();
	ASSERT_LE(0, lp);
	if (lp == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;
		int i;

		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
			_exit(20);
		for (i = 0; i < LIVE_N; i++) {
			if (send_msg(c, LIVE, (__u64)i))
				_exit(21);
			__atomic_store_n(&self->sh->live_sent, i + 1, __ATOMIC_RELEASE);
		}
		_exit(0);
	}
	self->kids[self->nkids++] = lp;
	/* Wait for what fits in the ring before the kill. */
	for (t0 = test_now_ns(); ms_since(t0) < 5000;) {
		if (__atomic_load_n(&self->sh->live_sent, __ATOMIC_ACQUIRE) >=
		    (v->op == OP_BATCH ? 2 : LIVE_N))
			break;
		usleep(1000);
	}

	kill_reap(self, vp);
	t0 = test_now_ns();	/* dead and reaped */

	/* Drain: everyone's messages, in order, none twice. */
	while (live_got < LIVE_N) {
		ssize_t n = dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, WAIT_NS);

		ASSERT_EQ((ssize_t)sizeof(m), n) TH_LOG("live %d victim %d", live_got, victim_got);
		ASSERT_TRUE(m.producer == VICTIM || m.producer == LIVE);
		EXPECT_EQ(next[m.producer], m.seq) TH_LOG("producer %u", m.producer);
		next[m.producer] = m.seq + 1;
		if (m.producer == LIVE)
			live_got++;
		else
			victim_got++;
	}
	stall = ms_since(t0);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	EXPECT_EQ(2 + v->delivered, victim_got);
	EXPECT_GT(STALL_BOUND_MS, stall);
	TH_LOG("%s: stall %.2f ms after the death", test_on_kernel() ? "kernel" : "file", stall);
	check_counters(_metadata, self, v->repaired, v->tombstoned);
	check_ring_whole(_metadata, self->c);
}

static void consumer_death(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self,
			   const FIXTURE_VARIANT(crash) *v)
{
	const int sent = 6;
	bool got[8] = { false };
	int i, mine = 0;
	__u64 last = 0;
	long long t0;
	double stall;
	pid_t vp;
	struct msg m;

	for (i = 0; i < sent; i++)
		ASSERT_EQ(0, send_msg(self->c, PARENT, (__u64)i));
	vp = spawn_victim(self, v);
	ASSERT_LT(0, vp);
	ASSERT_EQ(0, wait_stopped(vp));
	kill_reap(self, vp);
	t0 = test_now_ns();	/* dead and reaped */

	for (i = 0; i < self->sh->got; i++)
		got[self->sh->seen[i].seq] = true;
	/* The rest, in order. */
	while (dmxp_chan_recv(self->c, &m, sizeof(m), NULL) == sizeof(m)) {
		ASSERT_EQ(PARENT, m.producer);
		ASSERT_GT(sent, (int)m.seq);
		EXPECT_FALSE(got[m.seq]) TH_LOG("seq %llu twice", (unsigned long long)m.seq);
		EXPECT_LE(last, m.seq);
		last = m.seq;
		got[m.seq] = true;
		mine++;
	}
	/* Producers get every slot back: a full ring goes in. */
	for (i = 0; i < CAP; i++)
		ASSERT_EQ(0, send_msg(self->c, PARENT, 100 + (__u64)i)) TH_LOG("send %d", i);
	stall = ms_since(t0);
	for (i = 0; i < CAP; i++) {
		ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
		EXPECT_EQ(100 + (__u64)i, m.seq);
	}
	/* Lost: exactly what the dead consumer held (counted if it was claimed). */
	EXPECT_EQ(sent - v->taken, self->sh->got + mine);
	EXPECT_GT(STALL_BOUND_MS, stall);
	TH_LOG("%s: stall %.2f ms after the death", test_on_kernel() ? "kernel" : "file", stall);
	check_counters(_metadata, self, v->repaired, v->tombstoned);
	check_ring_whole(_metadata, self->c);
}

static void repairer_death(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self,
			   const FIXTURE_VARIANT(crash) *v)
{
	FIXTURE_VARIANT(crash) pv = { .op = OP_SEND, .step = DMXP_HOOK_SEND_CLAIMED };
	long long t0;
	pid_t pp, rp;
	struct msg m;
	int i;

	/* A producer dies holding a claim ... */
	pp = spawn_victim(self, &pv);
	ASSERT_LT(0, pp);
	ASSERT_EQ(0, wait_stopped(pp));
	kill_reap(self, pp);
	ASSERT_EQ(0, send_msg(self->c, LIVE, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
		EXPECT_EQ(VICTIM, m.producer);
		EXPECT_EQ((__u64)i, m.seq);
	}
	/* ... the survivor that repairs it dies after marking the slot ... */
	rp = spawn_victim(self, v);
	ASSERT_LT(0, rp);
	ASSERT_EQ(0, wait_stopped(rp));
	kill_reap(self, rp);
	t0 = test_now_ns();
	/* ... and the next one finishes the tombstone. */
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, WAIT_NS));
	EXPECT_EQ(LIVE, m.producer);
	EXPECT_GT(STALL_BOUND_MS, ms_since(t0));
	check_counters(_metadata, self, v->repaired, v->tombstoned);
	check_ring_whole(_metadata, self->c);
}

TEST_F_TIMEOUT(crash, kill, 60)
{
	if (variant->files_only && test_on_kernel())
		SKIP(return, "region files only: on /dev/dmxp the module repairs");
	switch (variant->op) {
	case OP_SEND:
	case OP_BATCH:
	case OP_RESERVE:
		producer_death(_metadata, self, variant);
		break;
	case OP_REPAIRER:
		repairer_death(_metadata, self, variant);
		break;
	default:
		consumer_death(_metadata, self, variant);
		break;
	}
}

/*
 * A child that dies mid-send with its parent's handle.  On a region file
 * its claim is its own (it took a record of its own after the fork) and
 * is repaired at once.  On /dev/dmxp the child shares the parent's file:
 * the claim is repaired when the parent closes the handle too.
 */
TEST(forked_child_with_parent_handle)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct dmxp_region *r2;
	struct dmxp_chan *c2;
	long long t0;
	struct msg m;
	pid_t pid;

	region_setup(_metadata, self);
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r2));
	ASSERT_EQ(0, dmxp_chan_open(r2, CH, &c2));
	ASSERT_EQ(0, send_msg(c2, PARENT, 0));	/* the parent's thread record */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		dmxp__hook_step = DMXP_HOOK_SEND_CLAIMED;
		send_msg(c2, VICTIM, 0);
		_exit(13);
	}
	self->kids[self->nkids++] = pid;
	ASSERT_EQ(0, wait_stopped(pid));
	kill_reap(self, pid);
	/* The parent's handle still works, behind the dead child's claim. */
	ASSERT_EQ(0, send_msg(c2, PARENT, 1));
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	EXPECT_EQ(0ULL, m.seq);
	if (test_on_kernel()) {
		/* The file lives on in the parent: nothing is repaired yet. */
		EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL,
							  20 * 1000000LL));
		dmxp_chan_close(c2);
		dmxp_region_close(r2);
		r2 = NULL;
	}
	t0 = test_now_ns();
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, WAIT_NS));
	EXPECT_EQ(PARENT, m.producer);
	EXPECT_EQ(1ULL, m.seq);
	EXPECT_GT(STALL_BOUND_MS, ms_since(t0));
	check_counters(_metadata, self, 1, 1);
	if (r2) {
		dmxp_chan_close(c2);
		dmxp_region_close(r2);
	}
	check_ring_whole(_metadata, self->c);
	region_teardown(self);
}

/*
 * fork() while another thread holds a lock of the library, here its
 * handle's pool lock while it sets up a new claim record: the child's
 * first send, which takes that lock, must not hang on it.  The fork
 * waits until the lock is let go.
 */
extern void (*dmxp__hook_fn)(int step);

/* The steps, each set once: the holder is in, the fork is next, let go. */
enum { FK_HELD, FK_FORKING, FK_LET_GO, FK_STEPS };

static struct {
	pthread_mutex_t		m;
	pthread_cond_t		cv;
	pthread_t		holder;
	bool			step[FK_STEPS];
	struct dmxp_chan	*c;
	pid_t			pid;
} fk = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void fk_set(int step)
{
	pthread_mutex_lock(&fk.m);
	fk.step[step] = true;
	pthread_cond_broadcast(&fk.cv);
	pthread_mutex_unlock(&fk.m);
}

static void fk_wait(int step)
{
	pthread_mutex_lock(&fk.m);
	while (!fk.step[step])
		pthread_cond_wait(&fk.cv, &fk.m);
	pthread_mutex_unlock(&fk.m);
}

/* The holder stays in, the lock held, until the test lets it go. */
static void fk_hook(int step)
{
	if (step != DMXP_HOOK_RECORD_SETUP || !pthread_equal(pthread_self(), fk.holder))
		return;
	fk_set(FK_HELD);
	fk_wait(FK_LET_GO);
}

static void *fk_send(void *arg)
{
	(void)arg;
	return (void *)(long)send_msg(fk.c, PARENT, 0);
}

static void *fk_fork(void *arg)
{
	(void)arg;
	fk_set(FK_FORKING);
	fk.pid = fork();
	if (fk.pid == 0)
		_exit(send_msg(fk.c, VICTIM, 0) ? 1 : 0);
	return NULL;
}

TEST(fork_while_a_thread_holds_a_lock)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct dmxp_region *r2;
	pthread_t tf;
	void *ret;
	int st = -1, i;

	region_setup(_metadata, self);
	/* A handle of its own: its first send takes a record under the lock. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r2));
	ASSERT_EQ(0, dmxp_chan_open(r2, CH, &fk.c));
	memset(fk.step, 0, sizeof(fk.step));
	dmxp__hook_fn = fk_hook;
	ASSERT_EQ(0, pthread_create(&fk.holder, NULL, fk_send, NULL));
	fk_wait(FK_HELD);
	ASSERT_EQ(0, pthread_create(&tf, NULL, fk_fork, NULL));
	fk_wait(FK_FORKING);
	usleep(100 * 1000);		/* the fork, under the held lock */
	fk_set(FK_LET_GO);
	ASSERT_EQ(0, pthread_join(fk.holder, &ret));
	ASSERT_EQ(0, pthread_join(tf, NULL));
	dmxp__hook_fn = NULL;
	EXPECT_EQ(0L, (long)ret);
	ASSERT_LT(0, fk.pid);
	for (i = 0; i < 300 && waitpid(fk.pid, &st, WNOHANG) == 0; i++)
		usleep(10 * 1000);
	if (i == 300) {
		kill(fk.pid, SIGKILL);
		waitpid(fk.pid, &st, 0);
	}
	EXPECT_LT(i, 300) TH_LOG("the child hung on a lock held at fork()");
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	dmxp_chan_close(fk.c);
	dmxp_region_close(r2);
	region_teardown(self);
}

/*
 * A producer that is only slow (stopped at a step, for far longer than a
 * repair takes) is never repaired: survivors waiting behind it find it
 * alive, and once it runs again its message arrives, once, whole.
 */
static void slow_producer(struct __test_metadata *_metadata, int step)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	FIXTURE_VARIANT(crash) v = { .op = OP_SEND, .step = step };
	const struct dmxp_channel_entry *e;
	int status, i;
	struct msg m;
	pid_t pid;

	region_setup(_metadata, self);
	e = (struct dmxp_channel_entry *)&dmxp_region_header(self->r)->channels[CH];
	pid = spawn_victim(self, &v);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, wait_stopped(pid));
	ASSERT_EQ(0, send_msg(self->c, LIVE, 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
		EXPECT_EQ(VICTIM, m.producer);
	}
	/* 200 ms stuck behind it, waiting and polling: 200 looks for the dead. */
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL,
						  100 * 1000000LL));
	for (i = 0; i < 100000; i++)
		EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL,
						  100 * 1000000LL));
	EXPECT_EQ(0ULL, __atomic_load_n(&e->repaired, __ATOMIC_RELAXED));
	/* It runs again: its message, then the one queued behind it. */
	ASSERT_EQ(0, kill(pid, SIGCONT));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->nkids = 0;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(14, WEXITSTATUS(status));	/* the send returned */
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, WAIT_NS));
	EXPECT_EQ(VICTIM, m.producer);
	EXPECT_EQ(2ULL, m.seq);
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	EXPECT_EQ(LIVE, m.producer);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	check_counters(_metadata, self, 0, 0);
	region_teardown(self);
}

TEST(slow_producer_claimed_is_not_repaired)
{
	slow_producer(_metadata, DMXP_HOOK_SEND_CLAIMED);
}

TEST(slow_producer_written_is_not_repaired)
{
	slow_producer(_metadata, DMXP_HOOK_SEND_WRITTEN);
}

/* The same for a consumer holding a claim: producers wait, nothing lost. */
TEST(slow_consumer_is_not_repaired)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	FIXTURE_VARIANT(crash) v = { .op = OP_RECV, .step = DMXP_HOOK_RECV_COPIED };
	int status, i, got = 0;
	struct msg m;
	pid_t pid;

	region_setup(_metadata, self);
	for (i = 0; i < CAP; i++)
		ASSERT_EQ(0, send_msg(self->c, PARENT, (__u64)i));
	pid = spawn_victim(self, &v);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, wait_stopped(pid));
	/* Drain the rest, then find the ring full at the slot it holds. */
	while (dmxp_chan_recv(self->c, &m, sizeof(m), NULL) == sizeof(m))
		got++;
	EXPECT_EQ(CAP - 2, got);
	ASSERT_EQ(0, send_msg(self->c, PARENT, 100));
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_send_wait(self->c, &m, sizeof(m), PARENT,
						  200 * 1000000LL));
	check_counters(_metadata, self, 0, 0);
	ASSERT_EQ(0, kill(pid, SIGCONT));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->nkids = 0;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(14, WEXITSTATUS(status));	/* the receive returned */
	EXPECT_EQ(1, self->sh->got);	/* and the one of the call it finished */
	ASSERT_EQ(0, dmxp_chan_send_wait(self->c, &m, sizeof(m), PARENT, WAIT_NS));
	check_counters(_metadata, self, 0, 0);
	region_teardown(self);
}

struct killer {
	pid_t pid;
	long long dead_ns;
};

static void *kill_when_stopped(void *arg)
{
	struct killer *k = arg;

	if (wait_stopped(k->pid) == 0) {
		kill(k->pid, SIGKILL);
		waitpid(k->pid, NULL, 0);
		k->dead_ns = test_now_ns();
	}
	return NULL;
}

/*
 * The consumer was already asleep when the producer died with a whole
 * message, and nobody else sends: the message still arrives (region
 * files: a sleeper looks for dead claimers every DMXP_SLEEP_SLICE_NS).
 */
TEST(sleeper_gets_a_dead_producers_whole_message)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct killer k = { 0 };
	pthread_t t;
	struct msg m;
	ssize_t n;

	region_setup(_metadata, self);
	k.pid = fork();
	ASSERT_LE(0, k.pid);
	if (k.pid == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;

		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
			_exit(10);
		usleep(100000);		/* the consumer is asleep by now */
		dmxp__hook_step = DMXP_HOOK_SEND_WRITTEN;
		send_msg(c, VICTIM, 7);
		_exit(13);
	}
	ASSERT_EQ(0, pthread_create(&t, NULL, kill_when_stopped, &k));
	dmxp_chan_set_spin(self->c, 0);
	n = dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, WAIT_NS);
	pthread_join(t, NULL);
	ASSERT_EQ((ssize_t)sizeof(m), n);
	EXPECT_EQ(VICTIM, m.producer);
	EXPECT_EQ(7ULL, m.seq);
	ASSERT_NE(0, k.dead_ns);
	TH_LOG("%s: delivered %.1f ms after the death", test_on_kernel() ? "kernel" : "file",
	       (double)(test_now_ns() - k.dead_ns) / 1e6);
	EXPECT_GT(1500LL * 1000000, test_now_ns() - k.dead_ns);
	check_counters(_metadata, self, 1, 0);
	region_teardown(self);
}

/*
 * A consumer killed asleep in recv_wait() leaves its count in
 * recv_waiters, which would make every later send pay a wake-up: the
 * count is taken back (by the module at release; on region files by the
 * next consumer that waits, never by a sender).
 */
TEST(dead_sleeper_count_is_taken_back)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	const struct dmxp_channel_entry *e;
	unsigned long passes;
	long long t0;
	struct msg m;
	pid_t pid;

	region_setup(_metadata, self);
	e = &dmxp_region_header(self->r)->channels[CH];
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;

		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
			_exit(10);
		dmxp_chan_set_spin(c, 0);
		dmxp_chan_recv_wait(c, &m, sizeof(m), NULL, DMXP_WAIT_FOREVER);
		_exit(11);
	}
	self->kids[self->nkids++] = pid;
	for (t0 = test_now_ns(); ms_since(t0) < 5000 &&
	     !__atomic_load_n(&e->recv_waiters, __ATOMIC_ACQUIRE);)
		usleep(1000);
	ASSERT_EQ(1U, e->recv_waiters);
	usleep(20000);		/* asleep, not just announced */
	kill_reap(self, pid);
	/* A send sees the dead sleeper's count and wakes, and looks no further. */
	passes = dmxp__hook_passes;
	ASSERT_EQ(0, send_msg(self->c, PARENT, 0));
	EXPECT_EQ(passes, dmxp__hook_passes);
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	if (!test_on_kernel())
		EXPECT_EQ(1U, __atomic_load_n(&e->recv_waiters, __ATOMIC_ACQUIRE));
	/* The next consumer to wait takes it back. */
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, 20 * 1000000LL));
	EXPECT_EQ(0U, __atomic_load_n(&e->recv_waiters, __ATOMIC_ACQUIRE));
	region_teardown(self);
}

/*
 * Region files: processes that die idle leave their records owned.  When
 * the table runs out, a repair pass frees the dead owners' records, and
 * every newcomer still gets one.
 */
TEST(dead_owners_records_are_reused)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char path[128];
	struct msg m;
	int i, status;

	if (test_on_kernel())
		SKIP(return, "region files only: the module frees them at release");
	test_region_path(path, sizeof(path), "reuse");
	ASSERT_EQ(0, dmxp_region_open(path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(r, CH, &c));
	for (i = 0; i < DMXP_CLAIMS + 16; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct dmxp_region *cr;
			struct dmxp_chan *cc;

			if (dmxp_region_open(path, 0, 0, &cr) || dmxp_chan_open(cr, CH, &cc))
				_exit(2);
			if (!dmxp__claim_thread(cr))
				_exit(3);	/* no record left */
			if (send_msg(cc, LIVE, (__u64)i))
				_exit(4);
			_exit(0);		/* without closing: the record stays */
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("process %d", i);
		ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(c, &m, sizeof(m), NULL));
		EXPECT_EQ((__u64)i, m.seq);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	test_region_remove(path);
}

/* ------------------------------------------ proofs of death and the repair lock */

#define OWNER_SETUP	0x80000000U	/* lib/claim.c: a record being set up */

static struct dmxp_claim *claim_table(struct dmxp_region *r)
{
	const struct dmxp_global_header *h = dmxp_region_header(r);

	return (struct dmxp_claim *)((char *)h + h->claims_offset);
}

/*
 * A process that runs @job as pid @want of a new pid namespace: a pid
 * that names nobody in ours, so kill(want, 0) says ESRCH here while it
 * lives (containers sharing /dev/shm).  @job stops at a hook; the
 * namespace's init reports it stopped, and lets it go on when told.
 */
struct nsjob {
	int	stage;		/* 1: stopped at its step; 2: done; -1: failed */
	int	go;		/* set by the test: let it run on */
	int	status;		/* the job's exit status */
};

static pid_t ns_free_pid(void)
{
	pid_t p;

	for (p = 2; p < (1 << 22); p++)
		if (kill(p, 0) && errno == ESRCH)
			return p;
	return -1;
}

static void ns_init(struct nsjob *j, pid_t want, void (*job)(const char *), const char *path)
{
	long long t0;
	int status, tries;
	pid_t h = -1;
	FILE *f;

	/* The next pid of this namespace (ours, as its pid 1) is @want. */
	f = fopen("/proc/sys/kernel/ns_last_pid", "w");
	if (f) {
		fprintf(f, "%d", (int)want - 1);
		fclose(f);
	}
	for (tries = 0; tries < 8192 && h != want; tries++) {
		h = fork();
		if (h == 0) {
			if (getpid() != want)
				_exit(0);
			job(path);
			_exit(30);
		}
		if (h < 0)
			break;
		if (h != want)
			waitpid(h, NULL, 0);
	}
	if (h != want || waitpid(h, &status, WUNTRACED) != h || !WIFSTOPPED(status)) {
		__atomic_store_n(&j->stage, -1, __ATOMIC_RELEASE);
		_exit(7);
	}
	__atomic_store_n(&j->stage, 1, __ATOMIC_RELEASE);
	for (t0 = test_now_ns(); !__atomic_load_n(&j->go, __ATOMIC_ACQUIRE) &&
	     test_now_ns() - t0 < 30LL * 1000000000LL;)
		usleep(1000);
	kill(h, SIGCONT);
	waitpid(h, &status, 0);
	j->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	__atomic_store_n(&j->stage, 2, __ATOMIC_RELEASE);
	_exit(0);
}

/* 0 with the job stopped, KSFT_SKIP without pid namespaces, or -1. */
static int ns_spawn(struct nsjob *j, pid_t *outer, pid_t want,
		    void (*job)(const char *), const char *path)
{
	long long t0;
	int status;
	pid_t a = fork();

	if (a < 0)
		return -1;
	if (a == 0) {
		pid_t b;

		if (unshare(CLONE_NEWPID))
			_exit(4);
		b = fork();
		if (b == 0)
			ns_init(j, want, job, path);
		if (b < 0 || waitpid(b, &status, 0) != b)
			_exit(5);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 6);
	}
	*outer = a;
	for (t0 = test_now_ns(); ms_since(t0) < 10000;) {
		int st = __atomic_load_n(&j->stage, __ATOMIC_ACQUIRE);

		if (st == 1)
			return 0;
		if (st < 0)
			break;
		if (waitpid(a, &status, WNOHANG) == a) {
			*outer = -1;
			return WIFEXITED(status) && WEXITSTATUS(status) == 4 ? 4 : -1;
		}
		usleep(1000);
	}
	return -1;
}

/* Let the job finish: its exit status. */
static int ns_finish(struct nsjob *j, pid_t outer)
{
	__atomic_store_n(&j->go, 1, __ATOMIC_RELEASE);
	if (outer > 0)
		waitpid(outer, NULL, 0);
	return __atomic_load_n(&j->stage, __ATOMIC_ACQUIRE) == 2 ? j->status : -1;
}

static void job_create(const char *path)
{
	struct dmxp_region *r;

	if (dmxp_region_open(path, 0, 0, &r))
		_exit(10);
	dmxp__hook_step = DMXP_HOOK_CHAN_BUSY;
	_exit(dmxp_chan_create(r, CH, CAP) ? 11 : 0);
}

/*
 * A region without a claim table (so without a repair lock): the only
 * guard of a channel being created is its entry's BUSY, which a survivor
 * breaks only on a proof that its holder died.  A creator alive in
 * another pid namespace, whose pid names nobody here, is no such proof.
 */
TEST(busy_entry_of_a_creator_in_another_pid_namespace_is_not_broken)
{
	const size_t size = ((DMXP_HEADER_SIZE + 4095ULL) & ~4095ULL) + (16ULL << 10);
	struct dmxp_channel_entry *e;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct nsjob *j;
	char path[128];
	pid_t want, outer;
	long long t0;
	double ms;
	int ret;

	if (test_on_kernel())
		SKIP(return, "region files only: on /dev/dmxp the module makes channels");
	want = ns_free_pid();
	ASSERT_LT(1, want);
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, j);
	test_region_path(path, sizeof(path), "nsbusy");
	ASSERT_EQ(0, dmxp_region_open(path, size, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0ULL, dmxp_region_header(r)->claims_offset);
	e = (struct dmxp_channel_entry *)&dmxp_region_header(r)->channels[CH];
	ret = ns_spawn(j, &outer, want, job_create, path);
	if (ret == 4) {
		test_region_remove(path);
		SKIP(return, "unshare(CLONE_NEWPID) is not permitted here");
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(DMXP_CHAN_BUSY, __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE));
	ASSERT_EQ((__u32)want, __atomic_load_n(&e->owner_pid, __ATOMIC_ACQUIRE));
	ASSERT_TRUE(kill(want, 0) && errno == ESRCH);
	/* Alive, held for as long as we wait: never taken from it. */
	t0 = test_now_ns();
	ret = dmxp_chan_create(r, CH, CAP);
	ms = ms_since(t0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("the creator in the other namespace was broken "
				      "after %.1f ms", ms);
	EXPECT_LE(200, ms);
	EXPECT_EQ(DMXP_CHAN_BUSY, __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE));
	/* It finishes: one channel, made once, that works. */
	EXPECT_EQ(0, ns_finish(j, outer));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(r, CH, &c));
	EXPECT_EQ(0, send_msg(c, PARENT, 1));
	EXPECT_EQ(16, dmxp_chan_recv(c, &(struct msg){ 0 }, sizeof(struct msg), NULL));
	dmxp_chan_close(c);
	dmxp_region_close(r);
	test_region_remove(path);
	munmap(j, sizeof(*j));
}

static void job_record(const char *path)
{
	struct dmxp_claim *rec;
	struct dmxp_region *r;

	if (dmxp_region_open(path, 0, 0, &r))
		_exit(10);
	dmxp__hook_step = DMXP_HOOK_RECORD_SETUP;
	rec = dmxp__claim_thread(r);
	if (!rec)
		_exit(11);
	/* Ours, set up: the repairer did not take it from under us. */
	_exit(__atomic_load_n(&rec->owner, __ATOMIC_ACQUIRE) == (__u32)getpid() ? 0 : 12);
}

/* The same for a claim record being set up by a process of another namespace. */
TEST(record_set_up_in_another_pid_namespace_is_not_taken)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct dmxp_claim *tab;
	unsigned int i, n;
	struct nsjob *j;
	pid_t want, outer;
	int ret, found = -1;

	if (test_on_kernel())
		SKIP(return, "region files only: on /dev/dmxp records belong to leases");
	want = ns_free_pid();
	ASSERT_LT(1, want);
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, j);
	region_setup(_metadata, self);
	tab = claim_table(self->r);
	n = dmxp_region_header(self->r)->claims_count;
	ret = ns_spawn(j, &outer, want, job_record, self->path);
	if (ret == 4) {
		region_teardown(self);
		SKIP(return, "unshare(CLONE_NEWPID) is not permitted here");
	}
	ASSERT_EQ(0, ret);
	for (i = 0; i < n; i++)
		if (__atomic_load_n(&tab[i].owner, __ATOMIC_ACQUIRE) == ((__u32)want | OWNER_SETUP))
			found = (int)i;
	ASSERT_LE(0, found);
	/* A survivor's repair pass finds it: alive, as far as anyone can tell. */
	dmxp__repair_now(self->r);
	EXPECT_EQ((__u32)want | OWNER_SETUP, __atomic_load_n(&tab[found].owner, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0, ns_finish(j, outer));
	EXPECT_EQ((__u32)want, __atomic_load_n(&tab[found].owner, __ATOMIC_ACQUIRE));
	region_teardown(self);
	munmap(j, sizeof(*j));
}

/*
 * A process that runs @job in a time namespace whose boottime runs
 * TN_BOOT_S seconds ahead of ours (only children enter a namespace made
 * by unshare(CLONE_NEWTIME)), in our pid namespace: /proc/PID/stat
 * field 22 of the same live process reads differently there and here.
 * @job stops at a hook; its parent reports it stopped, and lets it go on
 * when told.  The nsjob's stage, go and status as above.
 */
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif
#define TN_BOOT_S	100000

static void tn_parent(struct nsjob *j, void (*job)(const char *), const char *path)
{
	long long t0;
	int status;
	pid_t h = fork();

	if (h == 0) {
		job(path);
		_exit(30);
	}
	if (h < 0 || waitpid(h, &status, WUNTRACED) != h || !WIFSTOPPED(status)) {
		__atomic_store_n(&j->stage, -1, __ATOMIC_RELEASE);
		_exit(7);
	}
	__atomic_store_n(&j->stage, 1, __ATOMIC_RELEASE);
	for (t0 = test_now_ns(); !__atomic_load_n(&j->go, __ATOMIC_ACQUIRE) &&
	     test_now_ns() - t0 < 30LL * 1000000000LL;)
		usleep(1000);
	kill(h, SIGCONT);
	waitpid(h, &status, 0);
	j->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	__atomic_store_n(&j->stage, 2, __ATOMIC_RELEASE);
	_exit(0);
}

/* 0 with the job stopped, 4 without time namespaces, or -1. */
static int tn_spawn(struct nsjob *j, pid_t *outer, void (*job)(const char *), const char *path)
{
	long long t0;
	int status;
	pid_t a = fork();

	if (a < 0)
		return -1;
	if (a == 0) {
		FILE *f;

		if (unshare(CLONE_NEWTIME))
			_exit(4);
		f = fopen("/proc/self/timens_offsets", "w");
		if (!f)
			_exit(4);
		fprintf(f, "boottime %d 0\n", TN_BOOT_S);
		if (fclose(f))
			_exit(4);
		tn_parent(j, job, path);
	}
	*outer = a;
	for (t0 = test_now_ns(); ms_since(t0) < 10000;) {
		int st = __atomic_load_n(&j->stage, __ATOMIC_ACQUIRE);

		if (st == 1)
			return 0;
		if (st < 0)
			break;
		if (waitpid(a, &status, WNOHANG) == a) {
			*outer = -1;
			return WIFEXITED(status) && WEXITSTATUS(status) == 4 ? 4 : -1;
		}
		usleep(1000);
	}
	return -1;
}

static void job_reserve(const char *path)
{
	struct msg m = { .producer = VICTIM, .seq = 1 };
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_ref ref;
	int ret;

	if (dmxp_region_open(path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
		_exit(10);
	if (dmxp_chan_reserve(c, &ref))
		_exit(11);
	memcpy(ref.payload, &m, sizeof(m));
	raise(SIGSTOP);		/* alive, holding it */
	ret = dmxp_chan_commit(c, &ref, sizeof(m), 0);
	_exit(!ret ? 0 : ret == -ECANCELED ? 12 : 13);
}

/*
 * A producer alive in another time namespace, holding a reservation: a
 * stalled consumer's repair passes find it alive (its start time as read
 * here is not the one it read itself, and must not count as a reused
 * pid); its commit is delivered, nothing is repaired.
 */
TEST(reservation_of_a_producer_in_another_time_namespace_is_not_repaired)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct msg m = { 0 };
	struct nsjob *j;
	pid_t outer;
	int ret;

	if (test_on_kernel())
		SKIP(return, "region files only: the module repairs");
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, j);
	region_setup(_metadata, self);
	ret = tn_spawn(j, &outer, job_reserve, self->path);
	if (ret == 4) {
		region_teardown(self);
		munmap(j, sizeof(*j));
		SKIP(return, "unshare(CLONE_NEWTIME) or timens_offsets is not permitted here");
	}
	ASSERT_EQ(0, ret);
	dmxp__repair_now(self->r);
	dmxp__repair_now(self->r);
	dmxp_chan_set_spin(self->c, 0);
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL, 300000000LL));
	ret = ns_finish(j, outer);
	EXPECT_EQ(0, ret) TH_LOG("its commit: %s", ret == 12 ? "-ECANCELED" : "failed");
	EXPECT_EQ((ssize_t)sizeof(m), dmxp_chan_recv(self->c, &m, sizeof(m), NULL));
	EXPECT_EQ(VICTIM, m.producer);
	EXPECT_EQ(1ULL, m.seq);
	check_counters(_metadata, self, 0, 0);
	region_teardown(self);
	munmap(j, sizeof(*j));
}

/* The same for a creator's BUSY, on a region without a claim table. */
TEST(busy_entry_of_a_creator_in_another_time_namespace_is_not_broken)
{
	const size_t size = ((DMXP_HEADER_SIZE + 4095ULL) & ~4095ULL) + (16ULL << 10);
	struct dmxp_channel_entry *e;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct nsjob *j;
	char path[128];
	pid_t outer;
	long long t0;
	double ms;
	int ret;

	if (test_on_kernel())
		SKIP(return, "region files only: on /dev/dmxp the module makes channels");
	j = mmap(NULL, sizeof(*j), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, j);
	test_region_path(path, sizeof(path), "tnbusy");
	ASSERT_EQ(0, dmxp_region_open(path, size, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0ULL, dmxp_region_header(r)->claims_offset);
	e = (struct dmxp_channel_entry *)&dmxp_region_header(r)->channels[CH];
	ret = tn_spawn(j, &outer, job_create, path);
	if (ret == 4) {
		dmxp_region_close(r);
		test_region_remove(path);
		munmap(j, sizeof(*j));
		SKIP(return, "unshare(CLONE_NEWTIME) or timens_offsets is not permitted here");
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(DMXP_CHAN_BUSY, __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE));
	t0 = test_now_ns();
	ret = dmxp_chan_create(r, CH, CAP);
	ms = ms_since(t0);
	EXPECT_EQ(-EBUSY, ret) TH_LOG("the creator in the other time namespace was broken "
				      "after %.1f ms", ms);
	EXPECT_EQ(DMXP_CHAN_BUSY, __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0, ns_finish(j, outer));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(r, CH, &c));
	EXPECT_EQ(0, send_msg(c, PARENT, 1));
	EXPECT_EQ(16, dmxp_chan_recv(c, &(struct msg){ 0 }, sizeof(struct msg), NULL));
	dmxp_chan_close(c);
	dmxp_region_close(r);
	test_region_remove(path);
	munmap(j, sizeof(*j));
}

/*
 * A process dies holding the repair lock; its record is freed for a
 * newcomer (the table is full, so the newcomer frees it itself), which
 * must not inherit the lock: channels are made and repairs run.
 */
TEST(repair_lock_is_not_inherited_with_a_record)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct dmxp_global_header *h;
	struct dmxp_claim *tab, *me, *rec2;
	struct dmxp_region *r2;
	unsigned long passes;
	unsigned int i, n;
	int status;
	__u64 lock;
	pid_t pid;

	if (test_on_kernel())
		SKIP(return, "region files only: the module has no repair lock");
	region_setup(_metadata, self);
	h = (struct dmxp_global_header *)dmxp_region_header(self->r);
	tab = claim_table(self->r);
	n = h->claims_count;
	me = dmxp__claim_thread(self->r);
	ASSERT_NE(NULL, me);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dmxp_region *r;
		bool locked;

		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp__repair_lock_wait(r, &locked))
			_exit(10);
		_exit(locked ? 0 : 11);		/* dies holding it */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	lock = __atomic_load_n(&h->repair_lock, __ATOMIC_ACQUIRE);
	ASSERT_LT(0ULL, lock);
	ASSERT_GE((__u64)n, lock);
	ASSERT_EQ((__u32)pid, tab[lock - 1].owner);
	/* Every other record is taken, by a live owner (us). */
	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&tab[i].owner, __ATOMIC_ACQUIRE))
			continue;
		tab[i].pid = me->pid;
		tab[i].start_time = me->start_time;
		tab[i].pid_ns = me->pid_ns;
		__atomic_store_n(&tab[i].owner, me->owner, __ATOMIC_RELEASE);
	}
	/* A newcomer: the only record to be had is the dead holder's. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r2));
	rec2 = dmxp__claim_thread(r2);
	ASSERT_NE(NULL, rec2);
	EXPECT_EQ((long)(lock - 1), (long)(rec2 - claim_table(r2)));
	EXPECT_EQ(0, dmxp_chan_create(r2, CH + 1, CAP));
	EXPECT_EQ(0, dmxp_chan_destroy(r2, CH + 1));
	EXPECT_EQ(0, dmxp_chan_create(self->r, CH + 2, CAP));
	EXPECT_EQ(0ULL, __atomic_load_n(&h->repair_lock, __ATOMIC_ACQUIRE));
	passes = dmxp__hook_passes;
	dmxp__repair_now(self->r);
	EXPECT_EQ(passes + 1, dmxp__hook_passes) TH_LOG("no repair pass could run");
	dmxp_region_close(r2);
	region_teardown(self);
}

static void *create_thread(void *arg)
{
	return (void *)(long)dmxp_chan_create(arg, CH + 3, CAP);
}

/* A thread cancelled while it waits inside dmxp_chan_create() leaves no lock. */
TEST(cancelled_create_leaves_no_repair_lock)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct dmxp_channel_entry *e;
	struct dmxp_global_header *h;
	pthread_t t;
	void *res;

	if (test_on_kernel())
		SKIP(return, "region files only: the module has no repair lock");
	region_setup(_metadata, self);
	h = (struct dmxp_global_header *)dmxp_region_header(self->r);
	e = &h->channels[CH + 3];
	/* Entry BUSY for a live holder (us): the creator waits at it. */
	__atomic_store_n(&e->owner_pid, (__u32)getpid(), __ATOMIC_RELAXED);
	__atomic_store_n(&e->flags, DMXP_CHAN_BUSY, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_create(&t, NULL, create_thread, self->r));
	usleep(100000);
	ASSERT_NE(0ULL, __atomic_load_n(&h->repair_lock, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, pthread_cancel(t));
	ASSERT_EQ(0, pthread_join(t, &res));
	TH_LOG("the create %s", res == PTHREAD_CANCELED ? "was cancelled" : "returned");
	EXPECT_EQ(0ULL, __atomic_load_n(&h->repair_lock, __ATOMIC_ACQUIRE));
	__atomic_store_n(&e->owner_pid, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->flags, 0, __ATOMIC_RELEASE);
	EXPECT_EQ(0, dmxp_chan_create(self->r, CH + 3, CAP));
	region_teardown(self);
}

/* ------------------------------------------------------ no scans on the send path */

#define SCAN_CH		9
#define SCAN_CAP	1024
#define SCAN_REFS	4	/* reservations the live foreign producer holds */
#define SCAN_SENDS	300

struct scanner {
	struct dmxp_chan	*c;
	ssize_t			got;
	struct msg		m;
	long long		got_ns;
	unsigned long		passes, proofs;
};

static void *scan_consumer(void *arg)
{
	struct scanner *s = arg;

	dmxp_chan_set_spin(s->c, 0);
	s->got = dmxp_chan_recv_wait(s->c, &s->m, sizeof(s->m), NULL, 20LL * 1000000000LL);
	s->got_ns = test_now_ns();
	s->passes = dmxp__hook_passes;
	s->proofs = dmxp__hook_proofs;
	return NULL;
}

/*
 * A consumer asleep behind a live foreign producer's reservations, and a
 * producer sending all the while: the producer never scans the table
 * (no repair pass, no proof of death on its thread); the stalled sleeper
 * does, proving each foreign process once per pass; and once the holder
 * dies, the sleeper still gets going within the stall bound.
 */
TEST(sends_never_scan_for_the_dead)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct scanner s = { 0 };
	struct dmxp_region *r2;
	struct dmxp_chan *c2;
	unsigned long passes, proofs;
	long long t0, dead_ns;
	pthread_t t;
	pid_t pid;
	int i;

	if (test_on_kernel())
		SKIP(return, "region files only: the module repairs");
	region_setup(_metadata, self);
	ASSERT_EQ(0, dmxp_chan_create(self->r, SCAN_CH, SCAN_CAP));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dmxp_ref ref[SCAN_REFS];
		struct dmxp_region *r;
		struct dmxp_chan *c;

		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, SCAN_CH, &c))
			_exit(10);
		for (i = 0; i < SCAN_REFS; i++)
			if (dmxp_chan_reserve(c, &ref[i]))
				_exit(11);
		raise(SIGSTOP);		/* alive, holding them */
		_exit(12);
	}
	self->kids[self->nkids++] = pid;
	ASSERT_EQ(0, wait_stopped(pid));
	ASSERT_EQ(0, dmxp_chan_open(self->r, SCAN_CH, &s.c));
	ASSERT_EQ(0, pthread_create(&t, NULL, scan_consumer, &s));
	for (t0 = test_now_ns(); ms_since(t0) < 5000 &&
	     !__atomic_load_n(&dmxp_region_header(self->r)->channels[SCAN_CH].recv_waiters,
			      __ATOMIC_ACQUIRE);)
		usleep(1000);
	usleep(20000);
	/* The producer, with a handle of its own, sends for over a second. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r2));
	ASSERT_EQ(0, dmxp_chan_open(r2, SCAN_CH, &c2));
	passes = dmxp__hook_passes;
	proofs = dmxp__hook_proofs;
	for (i = 0; i < SCAN_SENDS; i++) {
		struct msg m = { .producer = PARENT, .seq = (__u64)i };

		ASSERT_EQ(0, dmxp_chan_send(c2, &m, sizeof(m), PARENT));
		usleep(4000);
	}
	EXPECT_EQ(passes, dmxp__hook_passes) TH_LOG("repair passes on the send path");
	EXPECT_EQ(proofs, dmxp__hook_proofs) TH_LOG("proofs of death on the send path");
	EXPECT_EQ(0, s.got_ns);		/* still stalled */
	kill_reap(self, pid);
	dead_ns = test_now_ns();
	pthread_join(t, NULL);
	ASSERT_EQ((ssize_t)sizeof(s.m), s.got);
	EXPECT_EQ(0ULL, s.m.seq);
	TH_LOG("sleeper: %lu passes, %lu proofs; going %.2f ms after the death", s.passes,
	       s.proofs, (double)(s.got_ns - dead_ns) / 1e6);
	EXPECT_GT(STALL_BOUND_MS * 1000000LL, s.got_ns - dead_ns);
	EXPECT_LT(0UL, s.passes);
	/* One foreign process: one proof per pass, whatever it holds. */
	EXPECT_GE(s.passes, s.proofs);
	dmxp_chan_close(s.c);
	dmxp_chan_close(c2);
	dmxp_region_close(r2);
	region_teardown(self);
}

/* ------------------------------------------------------------ sentinel aliasing */

/*
 * A region whose claim table the test writes by hand: records of a
 * process of ours that died (its pid is gone, its start time and pid
 * namespace ours), naming channel CH.
 */
struct forged {
	struct dmxp_channel_entry	*e;
	struct dmxp_slot		*slots;
	struct dmxp_claim		*tab, *me;
	unsigned int			n, next;
	pid_t				dead;
};

static void forge_setup(struct __test_metadata *_metadata, FIXTURE_DATA(crash) *self,
			struct forged *f)
{
	region_setup(_metadata, self);
	f->e = (struct dmxp_channel_entry *)&dmxp_region_header(self->r)->channels[CH];
	f->slots = (struct dmxp_slot *)((char *)dmxp_region_header(self->r) + f->e->band_offset);
	f->tab = claim_table(self->r);
	f->n = dmxp_region_header(self->r)->claims_count;
	f->next = 0;
	f->me = dmxp__claim_thread(self->r);
	ASSERT_NE(NULL, f->me);
	f->dead = fork();
	ASSERT_LE(0, f->dead);
	if (f->dead == 0)
		_exit(0);
	ASSERT_EQ(f->dead, waitpid(f->dead, NULL, 0));
}

/* The next free record of the table, the dead process's: @pos, @state.  NULL: none. */
static struct dmxp_claim *forge_record(struct forged *f, __u64 pos, __u32 state)
{
	for (; f->next < f->n; f->next++) {
		struct dmxp_claim *rec = &f->tab[f->next];

		if (rec->owner)
			continue;
		rec->pid = (__u32)f->dead;
		rec->start_time = f->me->start_time;
		rec->pid_ns = f->me->pid_ns;
		rec->chan = CH;
		rec->generation = f->e->generation;
		rec->count = 1;
		rec->pos = pos;
		rec->state = state;
		__atomic_store_n(&rec->owner, (__u32)f->dead, __ATOMIC_RELEASE);
		f->next++;
		return rec;
	}
	return NULL;
}

/*
 * DMXP_SEQ_REPAIRING(P) = P - 2^32 is also "free for position P - 2^32"
 * of the same slot.  A dead process's stale record naming P - 2^32 (a
 * claim that lost its CAS, never repaired since: nothing stalled) must
 * not be taken for a claim on the slot a dead repairer marked for P: the
 * next repairer finishes P's tombstone and the ring goes on.
 */
TEST(stale_record_aliasing_a_repair_mark_is_ignored)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	const __u64 P = (5ULL << 32) + 3;
	struct dmxp_claim *rd, *ra;
	struct forged f;
	struct msg m;
	__u64 k;

	if (test_on_kernel())
		SKIP(return, "region files only: builds the region state by hand");
	forge_setup(_metadata, self, &f);
	/* The ring at lap P; P claimed by a producer that died; marked by a repairer that died. */
	for (k = 0; k < CAP; k++)
		f.slots[(P + k) & (CAP - 1)].sequence = P + k;
	f.e->head = P;
	f.e->tail = P + 1;
	__atomic_store_n(&f.slots[P & (CAP - 1)].sequence, DMXP_SEQ_REPAIRING(P), __ATOMIC_RELEASE);
	ASSERT_EQ(P - (1ULL << 32), DMXP_SEQ_REPAIRING(P));
	/* First in the table: looked at first. */
	rd = forge_record(&f, DMXP_SEQ_REPAIRING(P), DMXP_CLAIM_SEND);
	ra = forge_record(&f, P, DMXP_CLAIM_REPAIR);
	ASSERT_NE(NULL, ra);
	ASSERT_EQ(0, send_msg(self->c, PARENT, 1));
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv_wait(self->c, &m, sizeof(m), NULL,
							  1000LL * 1000000LL));
	EXPECT_EQ(PARENT, m.producer);
	EXPECT_EQ(1ULL, m.seq);
	EXPECT_EQ(0U, __atomic_load_n(&rd->owner, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0U, __atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE));
	EXPECT_EQ(1ULL, __atomic_load_n(&f.e->repaired, __ATOMIC_RELAXED));
	EXPECT_EQ(1ULL, __atomic_load_n(&f.e->tombstoned, __ATOMIC_RELAXED));
	check_ring_whole(_metadata, self->c);
	region_teardown(self);
}

/*
 * Two deaths on one position: producer A claimed P, wrote it whole
 * (SEND_WRITTEN) and died; producer B had read tail = P, wrote its record
 * SEND for P and died before its CAS failed.  A repairer that looks at
 * B's record first must not make a tombstone of A's message: only the
 * owner of the claim that succeeded says SEND_WRITTEN, so A's message is
 * delivered (lib/model/ring.pml, -DTOMB_FIRST).
 */
TEST(whole_message_survives_a_lost_claim_on_its_position)
{
	FIXTURE_DATA(crash) data = { 0 }, *self = &data;
	struct msg sent = { .producer = 7, .seq = 42 }, m;
	struct dmxp_claim *rb, *ra;
	struct dmxp_msg_meta meta;
	struct dmxp_slot *s;
	struct forged f;
	__u64 P;

	if (test_on_kernel())
		SKIP(return, "region files only: builds the region state by hand");
	forge_setup(_metadata, self, &f);
	/* P claimed by A (tail moved), written whole, not published. */
	P = f.e->tail;
	ASSERT_EQ(P, f.e->head);
	s = &f.slots[P & (CAP - 1)];
	ASSERT_EQ(P, s->sequence);
	memcpy(s->payload, &sent, sizeof(sent));
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = P;
	s->meta.channel_id = CH;
	s->meta.sender_pid = (__u32)f.dead;
	s->meta.payload_len = sizeof(sent);
	f.e->tail = P + 1;
	/* B's record first in the table: looked at first. */
	rb = forge_record(&f, P, DMXP_CLAIM_SEND);
	ra = forge_record(&f, P, DMXP_CLAIM_SEND_WRITTEN);
	ASSERT_NE(NULL, ra);
	ASSERT_EQ((ssize_t)sizeof(m), dmxp_chan_recv_wait(self->c, &m, sizeof(m), &meta,
							  1000LL * 1000000LL));
	EXPECT_EQ(sent.producer, m.producer);
	EXPECT_EQ(sent.seq, m.seq);
	EXPECT_EQ(P, meta.message_id);
	/* B's record waited for A's; the next pass finds P published. */
	dmxp__repair_now(self->r);
	EXPECT_EQ(0U, __atomic_load_n(&rb->owner, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0U, __atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE));
	EXPECT_EQ(1ULL, __atomic_load_n(&f.e->repaired, __ATOMIC_RELAXED));
	EXPECT_EQ(0ULL, __atomic_load_n(&f.e->tombstoned, __ATOMIC_RELAXED));
	check_ring_whole(_metadata, self->c);
	region_teardown(self);
}

TEST_HARNESS_MAIN
