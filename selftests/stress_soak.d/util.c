// SPDX-License-Identifier: MIT
/*
 * The tables of names, the options and the shared mappings, and the
 * small helpers every process uses: the random stream, sleeps, reports
 * of errors, atomic counters, and which worker a slot is.
 */
#include "stress_soak.h"

const struct soak_chan chans[NR_CHANS] = {
	{ 10, 2, false }, { 11, 4, false }, { 12, 64, false }, { 13, 1024, false },
	{ 200, 0, true }, { 201, 0, true },
};

const unsigned int churn_caps[NR_CHURN_CAPS] = { 2, 4, 8, 16, 64, 256 };

const char *const role_names[] = { "producer", "consumer", "churner" };

const char *const op_names[NR_OPS] = {
	"start", "exit", "send", "send_wait", "send_batch", "burst", "reserve+commit",
	"reserve+abort", "pause", "recv", "recv(small buffer)", "recv_wait", "recv_batch",
	"peek+release", "create", "destroy", "quiesce", "sleep",
};

const char *const stat_names[NR_STATS] = {
	"send", "send_wait", "send_batch", "batched msgs", "bursts", "commit", "abort",
	"full", "send timeouts", "recv", "recv small", "EMSGSIZE", "recv_wait",
	"recv timeouts", "recv_batch", "batch-received", "peek", "empty", "short msgs",
	"EIDRM/ENOENT", "absent at open", "opens", "pauses",
};

const char *const err_names[NR_ERRS] = {
	"corrupt", "tombstone", "meta", "order", "duplicate", "lost", "api", "timing",
	"stall", "child", "bookkeeping",
};

struct soak_opt opt = { .np = DEFAULT_PRODUCERS, .nc = DEFAULT_CONSUMERS };

/* Set by the test before it forks; every process of the run shares them. */
struct shared *sh;
__u64 *arena;
const char *region_path;

/* ------------------------------------------------------------- utilities */

__u64 mix64(__u64 x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

__u64 rng(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

unsigned int rnd(__u64 *s, unsigned int n)
{
	return (unsigned int)((rng(s) >> 32) % n);
}

long long rnd_ns(__u64 *s, long long n)
{
	return n > 0 ? (long long)(rng(s) % (__u64)n) : 0;
}

unsigned int pick(__u64 *s, const unsigned int *weights, unsigned int n)
{
	unsigned int i, total = 0, r;

	for (i = 0; i < n; i++)
		total += weights[i];
	r = rnd(s, total);
	for (i = 0; i < n; i++) {
		if (r < weights[i])
			return i;
		r -= weights[i];
	}
	return n - 1;
}

void sleep_ns(long long ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };

	nanosleep(&ts, NULL);
}

void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# %s\n", line);
}

void note_error(unsigned int kind, const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(&sh->errors[kind], 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&sh->first_error_taken, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->first_error, sizeof(sh->first_error), fmt, ap);
	va_end(ap);
}

bool flag(const __u32 *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

/* A counter with a single writer (its process), read by the supervisor. */
void bump(__u64 *c, __u64 n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

__u64 ld(const __u64 *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

unsigned int role_of(unsigned int i)
{
	return i == CHURNER ? ROLE_CHURNER : i < sh->np ? ROLE_PRODUCER : ROLE_CONSUMER;
}

unsigned int slot_of(unsigned int i)
{
	return i < sh->np ? i : i - sh->np;
}

bool in_use(unsigned int i)
{
	return i == CHURNER || i < sh->np + sh->nc;
}

/* "producer 3.17": role, slot and incarnation of process slot @i. */
const char *who(unsigned int i, char *buf, size_t len)
{
	if (i == CHURNER)
		snprintf(buf, len, "churner");
	else
		snprintf(buf, len, "%s %u.%u", role_names[role_of(i)], slot_of(i),
			 sh->w[i].incarnation);
	return buf;
}

__u32 chan_gen(const struct dmxp_global_header *hdr, unsigned int ch)
{
	return __atomic_load_n(&hdr->channels[chans[ch].id].generation, __ATOMIC_ACQUIRE);
}
