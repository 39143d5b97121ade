// SPDX-License-Identifier: MIT
/*
 * Steps on the claim table: claims made by hand, files that die holding
 * claims and the module's repair of them, the header against the model.
 */
#include "fuzz_kmod.h"

static const char *state_name(__u32 st)
{
	static const char *const n[] = {
		"IDLE", "SEND", "SEND_WRITTEN", "RECV", "REPAIR", "WAIT_RECV", "WAIT_SEND",
	};
	static char buf[16];

	if (st < sizeof(n) / sizeof(n[0]))
		return n[st];
	snprintf(buf, sizeof(buf), "%#x", st);
	return buf;
}

/* Record @idx of region @ins's claim table, through a piece with @prot. */
static struct dmxp_claim *claim_at(int ins, unsigned int idx, int prot)
{
	return (void *)region_at(ins, DMXP_HEADER_SIZE + (__u64)idx * DMXP_CLAIM_SIZE,
				 DMXP_CLAIM_SIZE, prot);
}

/* A record's owner: a live file's lease, an earlier one, a small number, anything. */
static __u32 gen_owner(int ins)
{
	int f;

	switch (below(6)) {
	case 0:
	case 1:
		f = PICK(MAX_FILES, file(__i)->used && file(__i)->inst == ins && file(__i)->lease);
		if (f >= 0)
			return file(f)->lease;
		/* fallthrough */
	case 2:
		if (inst(ins)->last_lease)
			return 1 + (__u32)below(inst(ins)->last_lease);
		/* fallthrough */
	case 3:
		return 1 + (__u32)below(64);
	case 4:
		return garbage32();
	default:
		return 0;
	}
}

static __u32 gen_state(void)
{
	if (pct(90))
		return (__u32)below(DMXP_CLAIM_WAIT_SEND + 1);
	return pct(50) ? DMXP_CLAIM_WAIT_SEND + 1 + (__u32)below(4) : garbage32();
}

static __u32 gen_count(__u64 cap)
{
	switch (below(10)) {
	case 0 ... 4:
		return 1 + (__u32)below(4);
	case 5:
		return (__u32)(cap ? cap : 2);
	case 6:
		return pct(50) ? DMXP_CLAIM_BATCH_MAX : DMXP_CLAIM_BATCH_MAX + 1;
	case 7:
		return 0;
	case 8:
		return (__u32)(cap + 1);
	default:
		return garbage32();
	}
}

/* A position near where channel @ci's consumers and producers are. */
static __u64 gen_pos(int ins, int ci, __u64 cap)
{
	struct dmxp_channel_entry *e = (void *)region_at(ins, entry_off(ci), DMXP_ENTRY_SIZE,
							 PROT_READ);
	__u64 head, tail;

	if (!e || pct(10))
		return pct(50) ? garbage64() : below(1024);
	head = __atomic_load_n(&e->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&e->tail, __ATOMIC_RELAXED);
	switch (below(6)) {
	case 0:
		return head - 1 + below(3);
	case 1:
		return tail - 1 - below(2);
	case 2:
		return tail - head <= 4096 ? head + below(tail - head + 1) : head;
	case 3:
		return tail + below(3);
	case 4:
		return head - cap + below(2 * cap + 1);
	default:
		return tail - cap + below(2 * cap + 1);
	}
}

static void claim_write(struct dmxp_claim *rec, __u32 owner, __u32 state, __u64 pos, __u32 chan,
			__u32 count, __u32 gen)
{
	__atomic_store_n(&rec->owner, owner, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pos, pos, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->chan, chan, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->generation, gen, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pid, pct(80) ? (__u32)getpid() : garbage32(), __ATOMIC_RELAXED);
	__atomic_store_n(&rec->start_time, rnd(), __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pid_ns, pct(50) ? 0 : rnd(), __ATOMIC_RELAXED);
	/* The claim's state last, as a claimer publishes it. */
	__atomic_store_n(&rec->state, state, __ATOMIC_RELEASE);
}

static bool claim_send_side(__u32 state)
{
	return state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_SEND_WRITTEN ||
	       state == DMXP_CLAIM_REPAIR;
}

/* Metadata of a whole message at @p, as a producer writes it. */
static void meta_fill(struct dmxp_slot *s, __u64 p, __u32 id, __u32 len)
{
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = p;
	s->meta.channel_id = id;
	s->meta.message_type = (__u32)p ^ 0x5a5a;
	s->meta.sender_pid = (__u32)getpid();
	s->meta.sender_runtime = DMXP_RUNTIME_C;
	s->meta.payload_len = len;
	memset(s->payload, (int)(p & 0xff), len);
}

/*
 * What a process holds when it dies with claims: record @k positions of
 * channel @id in @rec under @owner, then take them through the mapping
 * (@e, @slots) and leave them so: a send claimed (SEND), written whole
 * but not published (SEND_WRITTEN), or being made a tombstone (REPAIR);
 * a receive claimed (RECV); or a sleeper counted in the waiter word
 * (WAIT_RECV, WAIT_SEND).  False, with the record freed, when the ring
 * does not have @k positions in the state the claim needs.
 */
static bool claim_make(struct dmxp_claim *rec, __u32 owner, __u32 state, __u32 id, __u32 gen,
		       struct dmxp_channel_entry *e, struct dmxp_slot *slots, __u64 cap, __u32 k,
		       __u64 *pos)
{
	bool send = claim_send_side(state);
	__u64 *cursor = send ? &e->tail : &e->head, p, j;

	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND) {
		p = __atomic_load_n(cursor, __ATOMIC_ACQUIRE);
		claim_write(rec, owner, state, p, id, k, gen);
		__atomic_fetch_add(state == DMXP_CLAIM_WAIT_RECV ? &e->recv_waiters :
				   &e->send_waiters, 1, __ATOMIC_SEQ_CST);
		*pos = p;
		return true;
	}
	p = __atomic_load_n(cursor, __ATOMIC_ACQUIRE);
	for (j = 0; j < k; j++)
		if (__atomic_load_n(&slots[(p + j) & (cap - 1)].sequence, __ATOMIC_ACQUIRE) !=
		    p + j + !send)
			return false;
	claim_write(rec, owner, state, p, id, k, gen);
	*pos = p;
	if (!__atomic_compare_exchange_n(cursor, pos, p + k, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		__atomic_store_n(&rec->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
		__atomic_store_n(&rec->owner, 0, __ATOMIC_RELEASE);
		return false;
	}
	for (j = 0; j < k; j++) {
		struct dmxp_slot *s = &slots[(p + j) & (cap - 1)];

		if (state == DMXP_CLAIM_SEND_WRITTEN) {
			meta_fill(s, p + j, id, (__u32)below(DMXP_MAX_PAYLOAD + 1));
		} else if (state == DMXP_CLAIM_SEND && pct(50)) {
			/* Died half way through the metadata. */
			s->meta.payload_len = garbage32();
			s->meta.flags = (__u16)rnd();
		} else if (state == DMXP_CLAIM_REPAIR) {
			__atomic_store_n(&s->sequence, DMXP_SEQ_REPAIRING(p + j), __ATOMIC_RELAXED);
		}
	}
	return true;
}

/*
 * Garbage in the claim table, which the module reads at every release of
 * a file of the region: records with owners that are leases of live
 * files, of released ones, small numbers or anything; every state and
 * others; channels, generations, positions near head and tail and counts
 * that are right or nearly; single fields; many records at once; and
 * real claims through the mapping under a live file's lease, left in
 * flight for the module to repair when that file goes.
 */
bool op_claim(void)
{
	int i = pick_piece(PROT_READ | PROT_WRITE), ins, ci, n, k, v;
	struct dmxp_channel_entry *e = NULL;
	struct dmxp_slot *slots = NULL;
	struct dmxp_claim *rec;
	struct mchan *c;
	unsigned int idx;
	__u32 owner, state, id, count, gen;
	__u64 pos;

	if (i < 0)
		return false;
	ins = g.piece[i].inst;
	if (!has_claims(inst(ins)->size))
		return false;
	ci = (int)below(NCH);
	c = &inst(ins)->ch[ci];
	idx = pct(10) ? (pct(50) ? 0 : DMXP_CLAIMS - 1) : (unsigned int)below(DMXP_CLAIMS);
	rec = claim_at(ins, idx, PROT_READ | PROT_WRITE);
	if (!rec)
		return false;
	id = pct(92) ? chan_ids[ci] : pct(50) ? DMXP_MAX_CHANNELS : garbage32();
	gen = pct(85) ? c->epoch : pct(50) ? c->epoch + 1 - 2 * (__u32)below(2) : garbage32();
	v = (int)below(20);
	if (v >= 9 && v <= 15) {
		e = (void *)region_at(ins, entry_off(ci), DMXP_ENTRY_SIZE, PROT_READ | PROT_WRITE);
		slots = c->present && c->band_known ?
			(void *)region_at(ins, c->band, c->cap * DMXP_SLOT_SIZE,
					  PROT_READ | PROT_WRITE) : NULL;
		if (!e || !slots)
			return false;
	}
	inst(ins)->table_dirty = true;

	switch (v) {
	case 0 ... 5:		/* a whole record */
		owner = gen_owner(ins);
		state = gen_state();
		pos = gen_pos(ins, ci, c->cap);
		count = gen_count(c->cap);
		call("claim record %u: owner %u %s pos %llu chan %u count %u gen %u", idx, owner,
		     state_name(state), (unsigned long long)pos, id, count, gen);
		claim_write(rec, owner, state, pos, id, count, gen);
		break;
	case 6 ... 8:		/* one field */
		switch (below(5)) {
		case 0:
			owner = gen_owner(ins);
			call("claim record %u: owner = %u", idx, owner);
			__atomic_store_n(&rec->owner, owner, __ATOMIC_RELEASE);
			break;
		case 1:
			state = gen_state();
			call("claim record %u: state = %s", idx, state_name(state));
			__atomic_store_n(&rec->state, state, __ATOMIC_RELEASE);
			break;
		case 2:
			pos = gen_pos(ins, ci, c->cap);
			call("claim record %u: pos = %llu", idx, (unsigned long long)pos);
			__atomic_store_n(&rec->pos, pos, __ATOMIC_RELAXED);
			break;
		case 3:
			count = gen_count(c->cap);
			call("claim record %u: count = %u", idx, count);
			__atomic_store_n(&rec->count, count, __ATOMIC_RELAXED);
			break;
		default:
			call("claim record %u: chan = %u, generation = %u", idx, id, gen);
			__atomic_store_n(&rec->chan, id, __ATOMIC_RELAXED);
			__atomic_store_n(&rec->generation, gen, __ATOMIC_RELAXED);
			break;
		}
		break;
	case 9 ... 15: {	/* a real claim, left in flight */
		int f = PICK(MAX_FILES, file(__i)->used && file(__i)->inst == ins &&
			     file(__i)->lease);

		/* A live file's lease (repaired when it goes), or most likely a dead one. */
		owner = f >= 0 && pct(50) ? file(f)->lease : gen_owner(ins);
		state = 1 + (__u32)below(DMXP_CLAIM_WAIT_SEND);
		count = pct(80) ? 1 : 1 + (__u32)below(c->cap < 8 ? c->cap : 8);
		call("claim %u positions of channel %u: record %u owner %u %s", count,
		     chan_ids[ci], idx, owner, state_name(state));
		if (!claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots, c->cap,
				count, &pos)) {
			/* The other side, else a sleeper. */
			state = claim_send_side(state) ? DMXP_CLAIM_RECV : DMXP_CLAIM_SEND;
			if (!claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots,
					c->cap, count, &pos)) {
				state = DMXP_CLAIM_WAIT_RECV + (__u32)below(2);
				claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots,
					   c->cap, count, &pos);
			}
		}
		result("%s at %llu", state_name(state), (unsigned long long)pos);
		return true;
	}
	case 16 ... 17:		/* many records */
		n = 16 + (int)below(DMXP_CLAIMS - 16);
		owner = gen_owner(ins);
		state = 1 + (__u32)below(DMXP_CLAIM_REPAIR);
		call("claim records %u..: %d of owner %u%s %s chan %u gen %u", idx, n, owner,
		     pct(50) ? "+" : "", state_name(state), id, gen);
		for (k = 0; k < n; k++) {
			rec = claim_at(ins, (idx + (unsigned int)k) % DMXP_CLAIMS,
				       PROT_READ | PROT_WRITE);
			if (!rec)
				continue;
			claim_write(rec, pct(70) ? owner : gen_owner(ins),
				    pct(80) ? state : gen_state(), gen_pos(ins, ci, c->cap), id,
				    pct(50) ? DMXP_CLAIM_BATCH_MAX : gen_count(c->cap), gen);
		}
		break;
	default:		/* free records */
		n = pct(50) ? 1 : 1 + (int)below(DMXP_CLAIMS);
		call("claim records %u..: %d freed", idx, n);
		for (k = 0; k < n; k++) {
			rec = claim_at(ins, (idx + (unsigned int)k) % DMXP_CLAIMS,
				       PROT_READ | PROT_WRITE);
			if (!rec)
				continue;
			if (pct(50))
				__atomic_store_n(&rec->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
			__atomic_store_n(&rec->owner, 0, __ATOMIC_RELEASE);
		}
		break;
	}
	result("done");
	return true;
}

/* The region and channel a dying file claims in. */
struct crash_target {
	const char	*name;
	__u64		size;
	__u32		id;
	__u64		cap, band;
	__u32		gen;		/* the channel's generation */
	__u32		*last_lease;
	__u64		*repaired, *tombstoned;	/* the model's counts, or NULL */
};

/* A file of our own on the target region, bound read-write: its fd; *@lease is set. */
static int crash_attach(const struct crash_target *t, __u32 *lease)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	long ret;
	int fd;

	call("open(%s, rw) [crash]", DMXP_DEVICE);
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, t->name);
	call("ioctl(%d, REGION_ATTACH, {name=\"%s\"}) [crash]", fd, rq.name);
	ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
	result("%ld, lease %u", ret, rq.lease);
	if (ret)
		fail("attaching to a region there is: %s", errname((int)-ret));
	if (rq.lease <= *t->last_lease)
		fail("REGION_ATTACH returned lease %u, but lease %u was given before", rq.lease,
		     *t->last_lease);
	*t->last_lease = rq.lease;
	*lease = rq.lease;
	return fd;
}

static unsigned char *crash_map(int fd, __u64 size)
{
	void *p;

	call("mmap(NULL, %#llx, RW, MAP_SHARED, %d) [crash]", (unsigned long long)size, fd);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		result_ret(-errno);
		fail("mmap of a region there is: %s", strerror(errno));
	}
	result("%p", p);
	return p;
}

/* The last reference to a file and its mapping goes: the module repairs. */
static void crash_release(int fd, unsigned char *m, __u64 size)
{
	bool unmap_first = pct(50);

	if (unmap_first && m) {
		call("munmap(%p, %#llx) [crash]", m, (unsigned long long)size);
		result_ret(munmap(m, size) ? -errno : 0);
	}
	call("close(%d) [crash]", fd);
	result_ret(close(fd) ? -errno : 0);
	if (!unmap_first && m) {
		call("munmap(%p, %#llx) [crash]", m, (unsigned long long)size);
		result_ret(munmap(m, size) ? -errno : 0);
	}
}

/*
 * The module repairs in its work item, which the release queues at once:
 * wait (at most 5 s) until the dead lease's record @rec is freed, the
 * repair's last step.
 */
static void crash_repair_wait(struct dmxp_claim *rec)
{
	int ms;

	call("wait for the repair");
	for (ms = 0; ms < 5000 && __atomic_load_n(&rec->owner, __ATOMIC_ACQUIRE); ms++)
		usleep(1000);
	result("after %d ms", ms);
}

static long long sysfs_chan_num(const struct crash_target *t, const char *attr)
{
	char path[160];

	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/%s", t->name, t->id, attr);
	return read_num(path, 10);
}

/*
 * Whether the @k positions from @p of a claim in @state were repaired, as
 * repair.c does it: a send published as a tombstone (REPAIR: the same),
 * one written whole published as it is, a receive freed.  NULL if so,
 * else what is wrong.
 */
static const char *crash_repaired(struct dmxp_slot *slots, __u64 cap, __u32 id, __u32 state,
				  __u64 p, __u32 k)
{
	static char what[160];
	__u64 j;

	for (j = 0; j < k; j++) {
		struct dmxp_slot *s = &slots[(p + j) & (cap - 1)];
		__u64 seq = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
		__u64 want = state == DMXP_CLAIM_RECV ? p + j + cap : p + j + 1;

		if (seq != want) {
			snprintf(what, sizeof(what), "position %llu: sequence %#llx, expected %#llx",
				 (unsigned long long)(p + j), (unsigned long long)seq,
				 (unsigned long long)want);
			return what;
		}
		if (state == DMXP_CLAIM_RECV)
			continue;
		if (state == DMXP_CLAIM_SEND_WRITTEN ?
		    s->meta.flags || s->meta.sender_runtime != DMXP_RUNTIME_C ||
		    s->meta.message_type != ((__u32)(p + j) ^ 0x5a5a) :
		    s->meta.flags != DMXP_MSG_TOMBSTONE || s->meta.payload_len ||
		    s->meta.sender_runtime != DMXP_RUNTIME_KERNEL || s->meta.sender_pid ||
		    s->meta.message_type || s->meta.__pad) {
			snprintf(what, sizeof(what),
				 "position %llu: flags %#x payload_len %u runtime %u type %#x pid %u",
				 (unsigned long long)(p + j), s->meta.flags, s->meta.payload_len,
				 s->meta.sender_runtime, s->meta.message_type, s->meta.sender_pid);
			return what;
		}
		if (s->meta.message_id != p + j || s->meta.channel_id != id) {
			snprintf(what, sizeof(what), "position %llu: message_id %llu channel %u",
				 (unsigned long long)(p + j),
				 (unsigned long long)s->meta.message_id, s->meta.channel_id);
			return what;
		}
	}
	return NULL;
}

/*
 * A file dies holding claims (see op_crash()): the observer @mo is a
 * mapping of the target region through another file, which stays.
 */
static void crash_one(const struct crash_target *t, unsigned char *mo)
{
	static const __u32 states[] = {
		DMXP_CLAIM_SEND, DMXP_CLAIM_SEND, DMXP_CLAIM_SEND_WRITTEN, DMXP_CLAIM_RECV,
		DMXP_CLAIM_RECV, DMXP_CLAIM_REPAIR, DMXP_CLAIM_WAIT_RECV, DMXP_CLAIM_WAIT_SEND,
	};
	__u32 la, lb = 0, state, k, *waiters = NULL, w0 = 0;
	struct dmxp_channel_entry *e, *eo = (void *)(mo + offsetof(struct dmxp_global_header,
							    channels) + (__u64)t->id * DMXP_ENTRY_SIZE);
	struct dmxp_slot *so = (void *)(mo + t->band);
	struct dmxp_claim *ra, *rb = NULL;
	long long rep0, tomb0, rep, tomb;
	__u64 erep0, etomb0, p = 0, tombs, fixed;
	unsigned int ia, ib = 0;
	unsigned char *ma;
	const char *bad;
	int fa, fb = -1, tries;
	bool cover;

	state = states[below(sizeof(states) / sizeof(states[0]))];
	k = pct(70) ? 1 : 1 + (__u32)below(t->cap < 16 ? t->cap : 16);
	cover = pct(35) && state != DMXP_CLAIM_REPAIR && state <= DMXP_CLAIM_RECV;

	fa = crash_attach(t, &la);
	ma = crash_map(fa, t->size);
	if (cover)
		fb = crash_attach(t, &lb);

	e = (void *)(ma + ((unsigned char *)eo - mo));
	ia = (unsigned int)below(DMXP_CLAIMS);
	ra = (void *)(ma + DMXP_HEADER_SIZE + (__u64)ia * DMXP_CLAIM_SIZE);
	if (cover) {
		/*
		 * The live record first, naming the positions the claim is
		 * about to take: a repair pass whose snapshot of tail and
		 * head shows them taken then sees it too.  Written after the
		 * claim, a pass already running when the claimer dies could
		 * judge by a snapshot from before it, and rightly repair: a
		 * record written after a claim took its positions is one
		 * whose own claim of them failed.
		 */
		__u64 p0 = __atomic_load_n(claim_send_side(state) ? &e->tail : &e->head,
					   __ATOMIC_ACQUIRE);

		ib = (ia + 1 + (unsigned int)below(DMXP_CLAIMS - 1)) % DMXP_CLAIMS;
		rb = (void *)(mo + DMXP_HEADER_SIZE + (__u64)ib * DMXP_CLAIM_SIZE);
		call("claim record %u: lease %u %s pos %llu count %u, the claim's to come", ib, lb,
		     state_name(state), (unsigned long long)p0, k);
		claim_write(rb, lb, state, p0, t->id, k, t->gen);
		result("done");
		p = p0;
	}
	call("claim %u positions of channel %u: record %u lease %u %s%s", k, t->id, ia, la,
	     state_name(state), cover ? ", as the live lease's record says" : "");
	if (!claim_make(ra, la, state, t->id, t->gen, e, (void *)(ma + t->band), t->cap, k, &p)) {
		/* Not in that state: a sleeper is always possible. */
		state = pct(50) ? DMXP_CLAIM_WAIT_RECV : DMXP_CLAIM_WAIT_SEND;
		if (!claim_make(ra, la, state, t->id, t->gen, e, (void *)(ma + t->band), t->cap,
				k, &p))
			fail("a sleeper's claim failed");
	}
	result("%s at %llu", state_name(state), (unsigned long long)p);
	if (cover && (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND ||
		      __atomic_load_n(&rb->pos, __ATOMIC_RELAXED) != p)) {
		/* Not the positions it names: no cover. */
		call("claim record %u: freed, not the claim's", ib);
		__atomic_store_n(&rb->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
		__atomic_store_n(&rb->owner, 0, __ATOMIC_RELEASE);
		result("done");
		cover = false;
	}
	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND) {
		waiters = state == DMXP_CLAIM_WAIT_RECV ? &eo->recv_waiters : &eo->send_waiters;
		w0 = __atomic_load_n(waiters, __ATOMIC_ACQUIRE);
	}
	rep0 = sysfs_chan_num(t, "repaired");
	tomb0 = sysfs_chan_num(t, "tombstoned");
	erep0 = __atomic_load_n(&eo->repaired, __ATOMIC_RELAXED);
	etomb0 = __atomic_load_n(&eo->tombstoned, __ATOMIC_RELAXED);
	if (rep0 < 0 || tomb0 < 0)
		fail("no repaired or tombstoned in channel %u's sysfs directory", t->id);

	/* From now on through the observer's mapping. */
	ra = (void *)(mo + DMXP_HEADER_SIZE + (__u64)ia * DMXP_CLAIM_SIZE);
	crash_release(fa, ma, t->size);
	if (cover) {
		/* A live lease names them: they wait, through the work's first passes. */
		usleep(20000);
		bad = crash_repaired(so, t->cap, t->id, state, p, k);
		rep = sysfs_chan_num(t, "repaired");
		if (!bad || rep != rep0 || __atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE) != la)
			fail("the claims of lease %u were repaired although lease %u's record names them too (%s; repaired %lld, was %lld; record %u's owner %u, state %u)",
			     la, lb, bad ? "the slots as they were" : "the slots repaired", rep,
			     rep0, ia, __atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE),
			     __atomic_load_n(&ra->state, __ATOMIC_ACQUIRE));
		if (pct(50)) {
			call("claim record %u: freed; wait for the repair", ib);
			__atomic_store_n(&rb->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
			__atomic_store_n(&rb->owner, 0, __ATOMIC_RELEASE);
			for (tries = 0; tries < 5000; tries++) {
				if (sysfs_chan_num(t, "repaired") != rep0 &&
				    !__atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE))
					break;
				usleep(1000);
			}
			result("after %d ms", tries);
		} else {
			crash_release(fb, NULL, 0);
			fb = -1;
			crash_repair_wait(ra);
			crash_repair_wait(rb);
		}
		g.repairs_waited++;
	} else {
		crash_repair_wait(ra);
	}

	/* Exactly what the claims needed, counted, and the record freed. */
	call("check the repair of channel %u", t->id);
	fixed = state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND ? 0 : k;
	tombs = state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_REPAIR ? k : 0;
	rep = sysfs_chan_num(t, "repaired");
	tomb = sysfs_chan_num(t, "tombstoned");
	result("repaired %lld, tombstoned %lld", rep, tomb);
	if (fixed && (bad = crash_repaired(so, t->cap, t->id, state, p, k)))
		fail("lease %u's %s claim of channel %u at %llu, count %u: %s", la,
		     state_name(state), t->id, (unsigned long long)p, k, bad);
	if (rep != rep0 + (long long)fixed || tomb != tomb0 + (long long)tombs)
		fail("channel %u: %lld repaired and %lld tombstoned, expected %lld and %lld", t->id,
		     rep, tomb, rep0 + (long long)fixed, tomb0 + (long long)tombs);
	if (__atomic_load_n(&eo->repaired, __ATOMIC_RELAXED) != erep0 + fixed ||
	    __atomic_load_n(&eo->tombstoned, __ATOMIC_RELAXED) != etomb0 + tombs)
		fail("channel %u's entry counts %llu repaired, %llu tombstoned; expected %llu and %llu",
		     t->id, (unsigned long long)eo->repaired, (unsigned long long)eo->tombstoned,
		     (unsigned long long)(erep0 + fixed), (unsigned long long)(etomb0 + tombs));
	/* Taken back unless it is 0 (garbage there may have wrapped it). */
	if (waiters && __atomic_load_n(waiters, __ATOMIC_ACQUIRE) != (w0 ? w0 - 1 : 0))
		fail("channel %u's waiter word is %u; the dead sleeper's count was not taken back from %u",
		     t->id, *waiters, w0);
	if (__atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&ra->state, __ATOMIC_ACQUIRE))
		fail("record %u of the dead lease %u: owner %u state %s, not freed", ia, la,
		     ra->owner, state_name(ra->state));
	if (rb && (__atomic_load_n(&rb->owner, __ATOMIC_ACQUIRE) ||
		   __atomic_load_n(&rb->state, __ATOMIC_ACQUIRE)))
		fail("record %u of lease %u: owner %u state %s, not freed", ib, lb, rb->owner,
		     state_name(rb->state));
	if (t->repaired) {
		*t->repaired += fixed;
		*t->tombstoned += tombs;
	}
	g.repairs++;
	if (fb >= 0)
		crash_release(fb, NULL, 0);
}

/* Send @n messages through a channel fd of @fd's region. */
static void crash_fill(int fd, __u32 id, __u64 n)
{
	struct dmxp_ioc_chan_fd cf = { .id = id, .flags = DMXP_CHAN_FD_NONBLOCK };
	char buf[64];
	__u64 i;
	long ret;
	int cfd;

	call("ioctl(%d, CHAN_FD, {id=%u}) [crash]; write %llu messages", fd, id,
	     (unsigned long long)n);
	cfd = (int)xioctl(fd, DMXP_IOC_CHAN_FD, &cf);
	if (cfd < 0) {
		result_ret(cfd);
		fail("CHAN_FD of a channel there is: %s", errname(-cfd));
	}
	memset(buf, 0x33, sizeof(buf));
	for (i = 0; i < n; i++) {
		ret = write(cfd, buf, 1 + below(sizeof(buf)));
		if (ret <= 0)
			fail("write to a channel with room: %s", ret ? strerror(errno) : "0");
	}
	close(cfd);
	result("done");
}

/*
 * A file dies holding claims: its own file is attached to a region and
 * maps it, records claims under its lease, takes positions of a channel
 * through the mapping (maybe writing the message), and is closed and
 * unmapped without finishing.  Its release must repair exactly that:
 * a send never published becomes a tombstone, one written whole is
 * published, a receive is freed, a sleeper's count leaves the waiter
 * word; the repair counts go up by as many, and the record is freed.
 * Sometimes a live file's record names the same positions: they must
 * wait until that record is freed (a later pass, within milliseconds)
 * or that file is released too.  Only where nothing else is in the
 * claim table, so that the outcome is exact: a region of the model that
 * no garbage reached while no wild child runs, or else a region of its
 * own, made for it and destroyed after.  The region is watched through
 * another file's mapping.
 */
bool op_crash(void)
{
	int ins = PICK(MAX_INST, inst(__i)->used && inst(__i)->named && !inst(__i)->table_dirty &&
		       has_claims(inst(__i)->size));
	struct crash_target t = { 0 };
	__u32 lo, last = 0, rounds, r;
	unsigned char *mo;
	int fo, ci = -1;

	if (g.is_wild)
		return false;
	if (quiet() && ins >= 0 && pct(60))
		ci = PICK(NCH, inst(ins)->ch[__i].present && inst(ins)->ch[__i].band_known);
	if (ci >= 0) {
		struct minst *in = inst(ins);

		t.name = g.name[in->slot];
		t.size = in->size;
		t.id = chan_ids[ci];
		t.cap = in->ch[ci].cap;
		t.band = in->ch[ci].band;
		t.gen = in->ch[ci].epoch;
		t.last_lease = &in->last_lease;
		t.repaired = &in->ch[ci].repaired;
		t.tombstoned = &in->ch[ci].tombstoned;
		fo = crash_attach(&t, &lo);
		mo = crash_map(fo, t.size);
		crash_one(&t, mo);
		crash_release(fo, mo, t.size);
		return true;
	} else {
		struct dmxp_ioc_version v = { .version = DMXP_VERSION };
		struct dmxp_ioc_region rq;
		struct dmxp_ioc_chan c;
		long ret;

		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.crash_name);
		rq.size = CLAIMS_MIN_SIZE + below(pct(80) ? 1 << 16 : 1 << 20);
		rq.mode = 0600;
		rq.flags = DMXP_REGION_CREATE | DMXP_REGION_EXCL;
		memset(&c, 0, sizeof(c));
		c.id = pct(80) ? (__u32)below(8) : (__u32)below(DMXP_MAX_CHANNELS);
		c.capacity = 2ULL << below(6);
		while (c.capacity > 2 && CLAIMS_END + c.capacity * DMXP_SLOT_SIZE > page_align(rq.size))
			c.capacity /= 2;
		call("open(%s, rw) [crash]; REGION_CREATE {name=\"%s\" size=%#llx}; CHAN_CREATE {id=%u cap=%llu}",
		     DMXP_DEVICE, rq.name, (unsigned long long)rq.size, c.id,
		     (unsigned long long)c.capacity);
		fo = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
		if (fo < 0 || ioctl(fo, DMXP_IOC_VERSION, &v))
			fail("open %s: %s", DMXP_DEVICE, strerror(errno));
		ret = xioctl(fo, DMXP_IOC_REGION_CREATE, &rq);
		if (ret == -ENOSPC || ret == -ENOMEM) {
			result_ret(ret);
			close(fo);
			return true;
		}
		if (ret || !rq.lease)
			fail("REGION_CREATE of a new region: %s, lease %u", errname((int)-ret),
			     rq.lease);
		ret = xioctl(fo, DMXP_IOC_CHAN_CREATE, &c);
		if (ret)
			fail("CHAN_CREATE in a new region: %s", errname((int)-ret));
		result("lease %u, ring at %#llx", rq.lease, (unsigned long long)c.band_offset);
		if (c.band_offset != CLAIMS_END)
			fail("the first ring of a region of %llu bytes is at %#llx, not after the claim table",
			     (unsigned long long)rq.size, (unsigned long long)c.band_offset);
		last = rq.lease;
		t.name = g.crash_name;
		t.size = rq.size;
		t.id = c.id;
		t.cap = c.capacity;
		t.band = c.band_offset;
		t.gen = 1;
		t.last_lease = &last;
		mo = crash_map(fo, t.size);
		{
			const struct dmxp_global_header *h = (void *)mo;

			if (h->magic != DMXP_MAGIC || h->region_size != t.size ||
			    h->claims_offset != DMXP_HEADER_SIZE || h->claims_count != DMXP_CLAIMS ||
			    h->alloc_cursor != t.band + t.cap * DMXP_SLOT_SIZE ||
			    h->channel_count != 1)
				fail("a new region's header: size %llu, claims at %#llx, %u, alloc_cursor %#llx, %u channels",
				     (unsigned long long)h->region_size,
				     (unsigned long long)h->claims_offset, h->claims_count,
				     (unsigned long long)h->alloc_cursor, h->channel_count);
		}
		/* Messages to take (or slots taken) for some of the claims. */
		crash_fill(fo, c.id, below(c.capacity + 1));
		rounds = 1 + (__u32)below(4);
		for (r = 0; r < rounds; r++)
			crash_one(&t, mo);
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [crash]", fo, rq.name);
		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.crash_name);
		ret = xioctl(fo, DMXP_IOC_REGION_DESTROY, &rq);
		result_ret(ret);
		if (ret)
			fail("REGION_DESTROY: %s", errname((int)-ret));
		crash_release(fo, mo, t.size);
		return true;
	}
}

/*
 * The header, the channel entries and the claim table as the module
 * wrote them, where nothing else wrote there: the claim table after the
 * header in a region big enough, the rings after it, alloc_cursor at the
 * end of the highest ring, every entry as its channel was made.
 */
bool op_header(void)
{
	int i = PICK(MAX_PIECES, g.piece[__i].addr && g.piece[__i].prot & PROT_READ &&
		     !inst(g.piece[__i].inst)->hdr_dirty);
	const struct dmxp_global_header *h;
	const struct dmxp_channel_entry *e;
	const struct dmxp_claim *r;
	struct minst *in;
	unsigned int id, n = 0, ci, j;
	bool claims;
	int ins;

	if (!quiet() || i < 0)
		return false;
	ins = g.piece[i].inst;
	in = inst(ins);
	claims = has_claims(in->size);
	call("check the header of region %s (%llu bytes)%s", g.name[in->slot],
	     (unsigned long long)in->size, in->table_dirty ? ", not its claim table" : "");
	h = (void *)region_at(ins, 0, 128, PROT_READ);
	for (ci = 0; ci < NCH; ci++)
		n += in->ch[ci].present;
	if (h && (h->magic != DMXP_MAGIC || h->version != DMXP_VERSION ||
		  h->max_channels != DMXP_MAX_CHANNELS || h->channel_count != n || h->reserved ||
		  h->region_size != in->size ||
		  h->claims_offset != (claims ? DMXP_HEADER_SIZE : 0) ||
		  h->claims_count != (claims ? DMXP_CLAIMS : 0) || h->__claims_pad ||
		  h->repair_lock || (in->cursor_known && h->alloc_cursor != in->cursor)))
		fail("region %s: magic %#llx version %u max_channels %u channel_count %u (%u) size %llu claims at %llu, %u; alloc_cursor %#llx (%s%#llx) repair_lock %#llx",
		     g.name[in->slot], (unsigned long long)h->magic, h->version, h->max_channels,
		     h->channel_count, n, (unsigned long long)h->region_size,
		     (unsigned long long)h->claims_offset, h->claims_count,
		     (unsigned long long)h->alloc_cursor, in->cursor_known ? "" : "unknown, ",
		     (unsigned long long)in->cursor, (unsigned long long)h->repair_lock);
	for (id = 0; id < DMXP_MAX_CHANNELS; id++) {
		struct mchan none = { 0 }, *c = &none;

		for (ci = 0; ci < NCH && chan_ids[ci] != id; ci++)
			;
		if (ci < NCH)
			c = &in->ch[ci];
		else if (pct(90))
			continue;
		e = (void *)region_at(ins, offsetof(struct dmxp_global_header, channels) +
				      (__u64)id * DMXP_ENTRY_SIZE, DMXP_ENTRY_SIZE, PROT_READ);
		if (!e)
			continue;
		if (e->channel_id != id || e->flags != (c->present ? DMXP_CHAN_CREATED : 0) ||
		    e->generation != c->epoch || e->owner_pid ||
		    e->capacity != (c->present ? c->cap : 0) ||
		    e->band_capacity != (c->present ? c->cap : 0) ||
		    (c->present && c->band_known && e->band_offset != c->band) ||
		    (!c->epoch && (e->band_offset || e->tail || e->head)) ||
		    e->__wake_pad[0] || e->__wake_pad[1] || e->owner_start || e->owner_ns)
			fail("region %s channel %u: id %u flags %#x generation %u (%u) owner %u capacity %llu band %#llx, %llu slots; expected%s %llu slots at %#llx",
			     g.name[in->slot], id, e->channel_id, e->flags, e->generation, c->epoch,
			     e->owner_pid, (unsigned long long)e->capacity,
			     (unsigned long long)e->band_offset,
			     (unsigned long long)e->band_capacity, c->present ? "" : " nothing:",
			     (unsigned long long)c->cap, (unsigned long long)c->band);
		for (j = 0; j < sizeof(e->__meta_pad) && !e->__meta_pad[j]; j++)
			;
		if (j < sizeof(e->__meta_pad))
			fail("region %s channel %u: padding byte %u is %#x", g.name[in->slot], id,
			     96 + j, e->__meta_pad[j]);
		/* Repairs change these only where there are claim records. */
		if (in->table_dirty)
			continue;
		if (e->recv_waiters || e->send_waiters || e->repaired != c->repaired ||
		    e->tombstoned != c->tombstoned)
			fail("region %s channel %u: waiters %u recv %u send, %llu repaired, %llu tombstoned; expected none and %llu, %llu",
			     g.name[in->slot], id, e->recv_waiters, e->send_waiters,
			     (unsigned long long)e->repaired, (unsigned long long)e->tombstoned,
			     (unsigned long long)c->repaired, (unsigned long long)c->tombstoned);
	}
	for (j = 0; claims && !in->table_dirty && j < DMXP_CLAIMS; j++) {
		r = claim_at(ins, j, PROT_READ);
		if (r && (r->owner || r->state))
			fail("region %s: claim record %u has owner %u state %s, but none was written",
			     g.name[in->slot], j, r->owner, state_name(r->state));
	}
	result("ok");
	return true;
}
