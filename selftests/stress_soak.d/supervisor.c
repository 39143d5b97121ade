// SPDX-License-Identifier: MIT
/*
 * The supervisor (the test process): it starts, replaces and kills the
 * workers, watches for stalls, and ends the phases of the run.
 */
#include "stress_soak.h"

enum { PH_RUN, PH_WIND, PH_DRAIN, PH_STOP, PH_DONE };
static const char *const phase_names[] = { "run", "wind-down", "drain", "stop", "done" };

static void spawn(struct sup *s, unsigned int i)
{
	struct worker *ws = &sh->w[i];
	unsigned int role = role_of(i), slot = slot_of(i);
	long long now = test_now_ns();
	__u32 inc = 0;
	pid_t pid;

	if (role == ROLE_PRODUCER) {
		inc = sh->prod[slot].incarnations;
		__atomic_store_n(&sh->prod[slot].incarnations, inc + 1, __ATOMIC_RELEASE);
	} else if (role == ROLE_CONSUMER) {
		inc = sh->cons[slot].incarnations++;
	}
	ws->incarnation = inc;
	ws->killed = 0;
	ws->busy = 0;
	ws->op = OP_START;
	ws->spawned_ns = now;
	ws->op_ns = now;
	ws->kill_at_ns = 0;
	if (sh->kill && role != ROLE_CHURNER && inc < MAX_INC - 1 && rnd(&s->rs, 2))
		ws->kill_at_ns = now + 2000000 + rnd_ns(&s->rs, 1500000000);
	s->ops[i] = ld(&ws->ops);
	s->ops_ns[i] = now;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		note_error(E_CHILD, "fork: %s", strerror(errno));
		__atomic_store_n(&sh->abort, 1, __ATOMIC_RELEASE);
		return;
	}
	if (!pid) {
		/* The harness's asserts longjmp: never use them here. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != s->self)
			_exit(0);
		alarm(sh->secs + 600);	/* the last resort */
		dmxp_region_close(s->r);
		_exit(role == ROLE_CHURNER ? churner_main(s->quiesce_ns) : worker_main(i));
	}
	ws->pid = pid;
}

/* A worker died in the middle: what it was doing may be missing. */
static void account_kill(unsigned int i)
{
	unsigned int ch, slot = slot_of(i);

	if (role_of(i) == ROLE_PRODUCER) {
		struct prod_book *pb = &sh->prod[slot];

		for (ch = 0; ch < NR_CHANS; ch++) {
			if (pb->hi[ch] <= pb->next[ch])
				continue;
			if (sh->nr_maybe < MAX_MAYBE)
				sh->maybe[sh->nr_maybe++] = (struct maybe){
					slot, ch, pb->next[ch], pb->hi[ch] };
			else
				note_error(E_BOOK, "more than %u killed producers in flight", MAX_MAYBE);
			/* The next incarnation goes on after the range. */
			pb->next[ch] = pb->hi[ch];
		}
	} else {
		struct cons_book *cb = &sh->cons[slot];
		__u32 f = cb->inflight;

		if (f & 0xff)
			sh->allowance[(f & 0xff) - 1] += f >> 8;
		cb->inflight = 0;
	}
}

static bool may_respawn(const struct sup *s, unsigned int role)
{
	if (flag(&sh->abort) || s->failed)
		return false;
	if (role == ROLE_PRODUCER)
		return s->phase == PH_RUN;
	return s->phase < PH_STOP;
}

static unsigned int find_worker(pid_t pid)
{
	unsigned int i;

	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid == pid)
			return i;
	return ~0U;
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		unsigned int i = find_worker(pid), role;
		struct worker *ws;

		if (i == ~0U)
			continue;
		ws = &sh->w[i];
		ws->pid = 0;
		role = role_of(i);
		if (role == ROLE_CHURNER) {
			s->churner_done = true;
			if (status)
				note_error(E_CHILD, "churner: status %#x", status);
			continue;
		}
		if (WIFEXITED(status) && !WEXITSTATUS(status)) {
			sh->clean_exits[role]++;
		} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && ws->killed) {
			sh->kills[role]++;
			account_kill(i);
		} else {
			note_error(E_CHILD, "%s %u.%u (pid %d) %s %d in %s", role_names[role],
				   slot_of(i), ws->incarnation, pid,
				   WIFEXITED(status) ? "exited" : "died of signal",
				   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				   op_names[ws->op]);
			account_kill(i);
		}
		__atomic_store_n(&ws->busy, 0, __ATOMIC_RELEASE);
		if (may_respawn(s, role))
			spawn(s, i);
	}
}

static unsigned int alive(unsigned int role)
{
	unsigned int i, n = 0;

	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0 && role_of(i) == role)
			n++;
	return n;
}

static __u64 sum_sent(bool data_only)
{
	unsigned int i, ch;
	__u64 n = 0;

	for (i = 0; i < sh->np; i++)
		for (ch = 0; ch < (data_only ? NR_DATA : NR_CHANS); ch++)
			n += ld(&sh->w[i].sent[ch]);
	return n;
}

static __u64 sum_received(bool data_only)
{
	unsigned int i, ch;
	__u64 n = 0;

	for (i = sh->np; i < sh->np + sh->nc; i++)
		for (ch = 0; ch < (data_only ? NR_DATA : NR_CHANS); ch++)
			n += ld(&sh->w[i].received[ch]);
	return n;
}

static __u64 slot_seq(const struct dmxp_global_header *hdr, const struct dmxp_chan_info *in,
		      __u64 pos)
{
	const struct dmxp_slot *slots =
		(const void *)((const char *)hdr + in->band_offset);

	return __atomic_load_n(&slots[pos & (in->capacity - 1)].sequence, __ATOMIC_ACQUIRE);
}

/* Everything the watchdog knows, for a failure report. */
static void dump_state(struct sup *s, const char *why)
{
	long long now = test_now_ns();
	unsigned int ch, i;
	char name[64];

	say("---- state: %s, %.2f s into the run, phase %s (seed %llu)", why,
	    (now - s->start) / 1e9, phase_names[s->phase], (unsigned long long)sh->seed);
	for (ch = 0; ch < NR_CHANS; ch++) {
		const struct dmxp_channel_entry *e = &s->hdr->channels[chans[ch].id];
		struct dmxp_chan_info in;
		__u64 hs, ts;
		const char *hd = "", *td = "";

		if (dmxp_chan_info(s->r, chans[ch].id, &in)) {
			say("channel %u (%s): not created, generation %u", chans[ch].id,
			    chans[ch].churn ? "churn" : "data", chan_gen(s->hdr, ch));
			continue;
		}
		hs = slot_seq(s->hdr, &in, in.head);
		ts = slot_seq(s->hdr, &in, in.tail);
		if (in.tail != in.head && hs == in.head)
			hd = " (claimed by a producer, not published)";
		else if (hs == in.head + 1)
			hd = " (published, not claimed)";
		if (ts == in.tail - in.capacity + 1 && in.head > in.tail - in.capacity)
			td = " (claimed by a consumer, not freed)";
		else if (ts == in.tail)
			td = " (free)";
		say("channel %u (%s, %llu slots, gen %u): head %llu tail %llu depth %llu; slot seq at head %llu%s, at tail %llu%s; waiters recv %u send %u",
		    chans[ch].id, chans[ch].churn ? "churn" : "data",
		    (unsigned long long)in.capacity, chan_gen(s->hdr, ch),
		    (unsigned long long)in.head, (unsigned long long)in.tail,
		    (unsigned long long)in.depth, (unsigned long long)hs, hd,
		    (unsigned long long)ts, td,
		    __atomic_load_n(&e->recv_waiters, __ATOMIC_RELAXED),
		    __atomic_load_n(&e->send_waiters, __ATOMIC_RELAXED));
	}
	for (i = 0; i <= CHURNER; i++) {
		const struct worker *ws = &sh->w[i];

		if (!in_use(i))
			continue;
		say("%s: pid %d%s, %llu ops, %s on channel %u for %.1f ms, busy %#llx",
		    who(i, name, sizeof(name)), ws->pid,
		    ws->killed ? " (killed)" : "", (unsigned long long)ld(&ws->ops),
		    op_names[ws->op], chans[ws->chan].id,
		    (now - __atomic_load_n(&ws->op_ns, __ATOMIC_RELAXED)) / 1e6,
		    (unsigned long long)ws->busy);
	}
	say("sent %llu (data %llu), received %llu (data %llu)",
	    (unsigned long long)sum_sent(false), (unsigned long long)sum_sent(true),
	    (unsigned long long)sum_received(false), (unsigned long long)sum_received(true));
	if (sh->first_error_taken)
		say("first error: %s", sh->first_error);
}

static void fail(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct sup *s, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	note_error(E_STALL, "%s", why);
	dump_state(s, why);
	s->failed = true;
	__atomic_store_n(&sh->abort, 1, __ATOMIC_RELEASE);
}

/* No progress, a channel that does not move, a worker stuck in one call. */
static void watchdog(struct sup *s, long long now)
{
	__u64 p = sum_sent(false) + sum_received(false);
	unsigned int ch, i;

	if (p != s->progress) {
		s->progress = p;
		s->progress_ns = now;
	} else if (now - s->progress_ns > s->stall_ns) {
		fail(s, "no message sent or received for %lld s", s->stall_ns / 1000000000LL);
		return;
	}
	for (ch = 0; ch < NR_DATA; ch++) {
		struct dmxp_chan_info in;

		if (dmxp_chan_info(s->r, chans[ch].id, &in)) {
			fail(s, "data channel %u: info failed", chans[ch].id);
			return;
		}
		if (in.head != s->head[ch] || !in.depth) {
			s->head[ch] = in.head;
			s->head_ns[ch] = now;
		} else if (now - s->head_ns[ch] > s->stall_ns) {
			fail(s, "data channel %u: %llu messages waiting, head stuck at %llu for %lld s",
			     chans[ch].id, (unsigned long long)in.depth,
			     (unsigned long long)in.head, s->stall_ns / 1000000000LL);
			return;
		}
	}
	for (i = 0; i <= CHURNER; i++) {
		const struct worker *ws = &sh->w[i];
		__u64 o = ld(&ws->ops);

		if (!in_use(i) || ws->pid <= 0)
			continue;
		if (o != s->ops[i]) {
			s->ops[i] = o;
			s->ops_ns[i] = now;
		} else if (now - s->ops_ns[i] > s->stall_ns) {
			char name[64];

			fail(s, "%s (pid %d) stuck in %s on channel %u for %lld s",
			     who(i, name, sizeof(name)), ws->pid,
			     op_names[ws->op], chans[ws->chan].id, s->stall_ns / 1000000000LL);
			return;
		}
	}
}

/* Every created channel empty (and, without kills, every message in). */
static bool drained(struct sup *s, long long now)
{
	__u64 sent = sum_sent(true), recv = sum_received(false);
	bool empty = true;
	unsigned int ch;

	for (ch = 0; ch < NR_CHANS; ch++) {
		struct dmxp_chan_info in;

		if (!dmxp_chan_info(s->r, chans[ch].id, &in) && in.head != in.tail)
			empty = false;
	}
	if (recv != s->drain_recv) {
		s->drain_recv = recv;
		s->drain_ns = now;
	}
	if (!empty)
		return false;
	if (!sh->kill && sum_received(true) == sent)
		return now - s->drain_ns > 20000000;	/* claimed ones get recorded */
	/* Empty and still: what is missing is for the reconciliation. */
	return now - s->drain_ns > (sh->kill ? 500000000LL : 2000000000LL);
}

static void progress_report(struct sup *s, long long now)
{
	unsigned int ch;
	__u64 creates = 0, restarts = sh->clean_exits[0] + sh->clean_exits[1] +
				     sh->kills[0] + sh->kills[1];

	for (ch = NR_DATA; ch < NR_CHANS; ch++)
		creates += sh->creates[ch];
	say("%4.0f s: %llu sent, %llu received, %llu restarts, %llu churn creates, %u errors",
	    (now - s->start) / 1e9, (unsigned long long)sum_sent(false),
	    (unsigned long long)sum_received(false), (unsigned long long)restarts,
	    (unsigned long long)creates, sh->first_error_taken);
}

void supervise(struct sup *s, unsigned int secs)
{
	long long wind_max = s->stall_ns * 2, drain_max = s->stall_ns * 3;
	long long report_every = secs >= 120 ? 60000000000LL : 0;
	unsigned int i;

	s->phase = PH_RUN;
	s->progress_ns = s->checked_ns = s->report_ns = s->start;
	for (i = 0; i < NR_CHANS; i++)
		s->head_ns[i] = s->start;
	spawn(s, CHURNER);
	for (i = 0; i < sh->np + sh->nc; i++)
		spawn(s, i);

	while (s->phase != PH_DONE) {
		long long now;

		reap(s);
		if (flag(&sh->abort)) {
			if (!s->failed) {
				s->failed = true;
				dump_state(s, "aborted");
			}
			break;
		}
		now = test_now_ns();
		if (sh->kill && s->phase < PH_STOP) {
			for (i = 0; i < sh->np + sh->nc; i++) {
				struct worker *ws = &sh->w[i];

				if (ws->pid > 0 && ws->kill_at_ns && now >= ws->kill_at_ns &&
				    !ws->killed) {
					ws->killed = 1;
					kill(ws->pid, SIGKILL);
				}
			}
		}
		if (now - s->checked_ns > 50000000) {
			s->checked_ns = now;
			watchdog(s, now);
			if (s->failed)
				break;
		}
		if (report_every && now - s->report_ns > report_every) {
			s->report_ns = now;
			progress_report(s, now);
		}
		switch (s->phase) {
		case PH_RUN:
			if (now < s->end)
				break;
			__atomic_store_n(&sh->stop_produce, 1, __ATOMIC_RELEASE);
			s->phase = PH_WIND;
			s->phase_ns = now;
			break;
		case PH_WIND:
			if (!alive(ROLE_PRODUCER) && s->churner_done) {
				s->phase = PH_DRAIN;
				s->phase_ns = s->drain_ns = now;
			} else if (now - s->phase_ns > wind_max) {
				fail(s, "producers or churner still running %lld s after the end",
				     wind_max / 1000000000LL);
			}
			break;
		case PH_DRAIN:
			if (drained(s, now)) {
				__atomic_store_n(&sh->stop_all, 1, __ATOMIC_RELEASE);
				s->phase = PH_STOP;
				s->phase_ns = now;
			} else if (now - s->phase_ns > drain_max) {
				fail(s, "channels not drained after %lld s", drain_max / 1000000000LL);
			}
			break;
		case PH_STOP:
			if (!alive(ROLE_CONSUMER))
				s->phase = PH_DONE;
			else if (now - s->phase_ns > wind_max)
				fail(s, "consumers still running %lld s after the drain",
				     wind_max / 1000000000LL);
			break;
		}
		if (s->failed)
			break;
		sleep_ns(2000000);
	}
}

/* Kill and reap whatever still runs. */
void kill_all(void)
{
	unsigned int i;

	if (!sh)
		return;
	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0)
			kill(sh->w[i].pid, SIGKILL);
	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0) {
			waitpid(sh->w[i].pid, NULL, 0);
			sh->w[i].pid = 0;
		}
}
