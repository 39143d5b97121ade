// SPDX-License-Identifier: MIT
/*
 * The model of what the module holds: the run's state, and the helpers
 * that look up, create, free and reason about regions, files and
 * eventfd registrations in it.
 */
#include "fuzz_kmod.h"

const __u32 chan_ids[NCH] = { 0, 1, 2, 3, 4, 5, 6, 7, DMXP_MAX_CHANNELS - 1 };

struct fuzz_state g;

/* -------------------------------------------------------- model helpers */

struct minst *inst(int i)
{
	return &g.sh.inst[i];
}

struct mfile *file(int f)
{
	return &g.sh.file[f];
}

int named_inst(int slot)
{
	int i;

	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used && inst(i)->named && inst(i)->slot == slot)
			return i;
	return -1;
}

/* Whether a region of @size bytes has a claim table (region.c). */
bool has_claims(__u64 size)
{
	return size >= CLAIMS_MIN_SIZE;
}

/* Where its rings go from: after the claim table if it has one. */
__u64 bands_start(__u64 size)
{
	return has_claims(size) ? CLAIMS_END : DMXP_HEADER_SIZE;
}

int inst_new(int slot, __u64 size, __u32 mode)
{
	int i;

	for (i = 0; i < MAX_INST; i++) {
		if (inst(i)->used)
			continue;
		memset(inst(i), 0, sizeof(*inst(i)));
		inst(i)->used = true;
		inst(i)->named = true;
		inst(i)->slot = slot;
		inst(i)->size = size;
		inst(i)->mode = mode;
		inst(i)->cursor_known = true;
		inst(i)->cursor = bands_start(size);
		return i;
	}
	return -1;
}

/* Bytes [@off, @off + @len) of region @ins were written with anything. */
void mark_dirty(int ins, __u64 off, __u64 len)
{
	struct minst *in = inst(ins);

	if (off < DMXP_HEADER_SIZE)
		in->hdr_dirty = true;
	if (has_claims(in->size) && off < CLAIMS_END && off + len > DMXP_HEADER_SIZE)
		in->table_dirty = true;
}

/* No wild child can be writing anywhere: what the model knows is exact. */
bool quiet(void)
{
	return !g.is_wild && !g.nwild && !g.wild_running;
}

static int inst_free_count(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_INST; i++)
		n += !inst(i)->used;
	return n;
}

/* Bytes of every region this run keeps alive. */
__u64 live_bytes(void)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used)
			n += inst(i)->size;
	return n;
}

bool fits_budget(__u64 size)
{
	return inst_free_count() > 1 && live_bytes() + size <= g.budget;
}

void regs_drop(int ins, int ch, int f)
{
	int i;

	for (i = 0; i < g.sh.nreg; ) {
		struct mreg *r = &g.sh.reg[i];

		if ((ins < 0 || r->inst == ins) && (ch < 0 || r->ch == ch) &&
		    (f < 0 || r->file == f))
			g.sh.reg[i] = g.sh.reg[--g.sh.nreg];
		else
			i++;
	}
}

int reg_find(int ins, int ch, int f, long ev)
{
	int i;

	for (i = 0; i < g.sh.nreg; i++) {
		struct mreg *r = &g.sh.reg[i];

		if (r->inst == ins && r->ch == ch && r->file == f && r->ev == ev)
			return i;
	}
	return -1;
}

int reg_count(int ins, int ch)
{
	int i, n = 0;

	for (i = 0; i < g.sh.nreg; i++)
		n += g.sh.reg[i].inst == ins && g.sh.reg[i].ch == ch;
	return n;
}

/* Eventfd registration counts are exact only when no wild child lives. */
bool regs_loose(void)
{
	return g.is_wild || g.nwild > 0 || g.wild_running;
}

static bool file_held(int f)
{
	int i;

	if (file(f)->nfds || file(f)->inherited)
		return true;
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr && g.piece[i].file == f)
			return true;
	return false;
}

static bool inst_held(int ins)
{
	int i;

	if (inst(ins)->named || inst(ins)->pinned)
		return true;
	for (i = 0; i < MAX_FILES; i++)
		if (file(i)->used && file(i)->inst == ins)
			return true;
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr && g.piece[i].inst == ins)
			return true;
	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd >= 0 && g.chfd[i].inst == ins)
			return true;
	return false;
}

/* Release what nothing refers to any more, as the kernel does. */
void gc(void)
{
	int i;

	for (i = 0; i < MAX_FILES; i++) {
		if (!file(i)->used || file_held(i))
			continue;
		regs_drop(-1, -1, i);
		file(i)->used = false;
	}
	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used && !inst_held(i))
			inst(i)->used = false;
}

bool chan_alive(const struct mchfd *c)
{
	const struct minst *in = inst(c->inst);

	return in->named && in->ch[c->ch].present && in->ch[c->ch].epoch == c->epoch;
}

/*
 * Where the module's first fit puts a ring of @cap slots: YES when it
 * does not fit (ENOSPC), NO when it does at *@off, MAYBE when a band is
 * not known.
 */
enum tri band_predict(const struct minst *in, __u64 cap, __u64 *off)
{
	__u64 s[NCH], e[NCH], at = bands_start(in->size), bytes = cap * DMXP_SLOT_SIZE;
	int n = 0, i, j;

	for (i = 0; i < NCH; i++) {
		if (!in->ch[i].present)
			continue;
		if (!in->ch[i].band_known)
			return MAYBE;
		s[n] = in->ch[i].band;
		e[n] = s[n] + in->ch[i].cap * DMXP_SLOT_SIZE;
		n++;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s[j - 1] > s[j]; j--) {
			__u64 t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
			t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	for (i = 0; i <= n; i++) {
		__u64 next = i < n ? s[i] : in->size;

		if (next >= at && next - at >= bytes) {
			*off = at;
			return NO;
		}
		if (i < n && e[i] > at)
			at = e[i];
	}
	return YES;
}
