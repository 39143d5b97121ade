// SPDX-License-Identifier: MIT
/*
 * The churner process: it destroys and creates the churn channels again
 * under the workers, waiting until no worker is in a call on the old one.
 */
#include "stress_soak.h"

/*
 * After destroying churn channel @ch: wait until every worker that was in
 * a call on it has left that call (bounded; a killed worker's mark is
 * cleared by the supervisor when it reaps it).
 */
static void quiesce(unsigned int ch, long long max_ns)
{
	long long start = test_now_ns(), waited;
	unsigned int i;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < sh->np + sh->nc; i++) {
		__u64 v = __atomic_load_n(&sh->w[i].busy, __ATOMIC_SEQ_CST);

		if ((v & 0xff) != ch + 1)
			continue;
		while (__atomic_load_n(&sh->w[i].busy, __ATOMIC_ACQUIRE) == v) {
			if (test_now_ns() - start > max_ns) {
				char name[64];

				note_error(E_STALL,
					   "%s (pid %d) still in %s on destroyed channel %u after %lld ms",
					   who(i, name, sizeof(name)), sh->w[i].pid,
					   op_names[sh->w[i].op], chans[ch].id, max_ns / 1000000);
				break;
			}
			sleep_ns(20000);
		}
	}
	waited = test_now_ns() - start;
	sh->quiesce_waits++;
	if ((__u64)waited > sh->quiesce_max_ns)
		sh->quiesce_max_ns = (__u64)waited;
}

static long long churn_life(__u64 *rs)
{
	/* Now and then a channel is destroyed right after it was created. */
	return rnd(rs, 10) ? 5000000 + rnd_ns(rs, 300000000) : rnd_ns(rs, 1000000);
}

int churner_main(long long quiesce_max_ns)
{
	struct worker *ws = &sh->w[CHURNER];
	long long next[NR_CHURN];
	bool exists[NR_CHURN];
	struct dmxp_region *r;
	__u64 rs = mix64(sh->seed ^ 0x636875726eULL) | 1;
	unsigned int k;
	int ret;

	ret = dmxp_region_open(region_path, 0, 0, &r);
	if (ret) {
		note_error(E_API, "churner: region open: %d", ret);
		return 10;
	}
	for (k = 0; k < NR_CHURN; k++) {
		exists[k] = true;	/* the test created them */
		next[k] = test_now_ns() + churn_life(&rs);
	}
	while (!flag(&sh->stop_produce) && !flag(&sh->abort)) {
		long long now = test_now_ns();

		for (k = 0; k < NR_CHURN; k++) {
			unsigned int ch = NR_DATA + k, id = chans[ch].id;

			if (now < next[k])
				continue;
			ws->chan = ch;
			__atomic_store_n(&ws->op_ns, now, __ATOMIC_RELAXED);
			if (exists[k]) {
				ws->op = OP_DESTROY;
				ret = dmxp_chan_destroy(r, id);
				if (ret) {
					note_error(E_API, "churner: destroy %u: %d", id, ret);
					continue;
				}
				sh->destroys[ch]++;
				ws->op = OP_QUIESCE;
				quiesce(ch, quiesce_max_ns);
				exists[k] = false;
				next[k] = test_now_ns() + rnd_ns(&rs, 20000000);
			} else {
				unsigned int cap = churn_caps[rnd(&rs, ARRAY_SIZE(churn_caps))];

				ws->op = OP_CREATE;
				ret = dmxp_chan_create(r, id, cap);
				if (ret) {
					note_error(E_API, "churner: create %u (%u slots): %d", id, cap, ret);
					next[k] = test_now_ns() + 10000000;
					continue;
				}
				sh->creates[ch]++;
				exists[k] = true;
				next[k] = test_now_ns() + churn_life(&rs);
			}
		}
		ws->op = OP_SLEEP;
		__atomic_store_n(&ws->op_ns, test_now_ns(), __ATOMIC_RELAXED);
		bump(&ws->ops, 1);
		sleep_ns(500000);
	}
	dmxp_region_close(r);
	return 0;
}
