// SPDX-License-Identifier: MIT
/*
 * The arguments of the device's ioctls: where they live (valid, faulting,
 * read-only, inside a region) and the errors that implies; generated
 * names, sizes, modes, channel ids and capacities, sane or not.
 */
#include "fuzz_kmod.h"

unsigned char *arena;		/* a page, then a PROT_NONE page */
unsigned char *ro_page, *ro_page_w;	/* one page: read-only view, writable view */

void arg_pick(struct argp *a, size_t len, bool ro_ok)
{
	unsigned int k = (unsigned int)below(100);
	int i;

	a->m = A_OK;
	a->p = arena;
	a->what = "";
	if (k < 4) {
		a->m = A_FAULT;
		switch (below(5)) {
		case 0:
			a->p = NULL;
			a->what = "NULL:";
			break;
		case 1:
			a->p = (void *)(uintptr_t)0xffff888000000000ULL;
			a->what = "kernel:";
			break;
		case 2:
			a->p = arena + g.pg - len / 2;
			a->what = "straddling:";
			break;
		case 3:
			a->p = arena + g.pg;
			a->what = "PROT_NONE:";
			break;
		default:
			a->p = (void *)(uintptr_t)-8;
			a->what = "-8:";
			break;
		}
	} else if (k < 10 && ro_ok) {
		a->m = A_RO;
		a->p = ro_page;
		a->what = "readonly:";
	} else if (k < 16 && !g.is_wild && !g.nwild && !g.wild_running) {
		i = PICK(MAX_PIECES, g.piece[__i].addr && (g.piece[__i].prot & PROT_WRITE) &&
			 g.piece[__i].len >= len + 8);
		if (i >= 0) {
			a->m = A_REGION;
			a->p = g.piece[i].addr + 8 * below((g.piece[i].len - len) / 8);
			a->what = "in-region:";
			mark_dirty(g.piece[i].inst,
				   g.piece[i].off + (__u64)((unsigned char *)a->p - g.piece[i].addr),
				   len);
		}
	}
}

void arg_set(struct argp *a, const void *src, size_t len)
{
	if (a->m == A_OK || a->m == A_REGION)
		memcpy(a->p, src, len);
	else if (a->m == A_RO)
		memcpy(ro_page_w, src, len);
}

/* The argument after the call, if this process can read it back. */
bool arg_get(const struct argp *a, void *dst, size_t len)
{
	if (a->m != A_OK && a->m != A_REGION)
		return false;
	memcpy(dst, a->p, len);
	return true;
}

/*
 * Add the argument's own errors: a bad pointer is all the module can see
 * (EFAULT, or EPROTO before the handshake); a read-only one fails the
 * copy out (only used where the call would otherwise succeed).
 */
void arg_expect(struct expect *e, const struct argp *a, bool out, enum tri eproto)
{
	if (a->m == A_FAULT) {
		ex_reset(e);
		ex_add(e, EFAULT, YES);
	} else if (a->m == A_RO && out) {
		ex_add(e, EFAULT, YES);
	}
	ex_add(e, EPROTO, eproto);
}

/*
 * Whether a file opened with @acc may issue @cmd (main.c, ioc_access()):
 * reading to bind, reading and writing to create, nothing more than the
 * binding for CHAN_FD, writing for every other change.
 */
bool acc_allows(int acc, unsigned long cmd)
{
	switch (cmd) {
	case DMXP_IOC_VERSION:
	case DMXP_IOC_CHAN_FD:
		return true;
	case DMXP_IOC_REGION_ATTACH:
		return acc != O_WRONLY;
	case DMXP_IOC_REGION_CREATE:
		return acc == O_RDWR;
	default:
		return acc != O_RDONLY;
	}
}

/*
 * The errors of the handshake and the file's open mode, which come
 * before the argument is looked at, and then the argument's own: EPROTO
 * before the handshake, then EBADF when the open mode does not allow the
 * command, then whatever @e holds.  A wild child cannot know whether the
 * parent did the handshake on a file they share meanwhile.
 */
void ioc_expect(struct expect *e, const struct argp *a, bool out, const struct mfile *f,
		unsigned long cmd)
{
	bool denied = !acc_allows(f->acc, cmd);

	if (f->versioned || g.is_wild) {
		if (denied) {
			ex_reset(e);
			ex_add(e, EBADF, YES);
			ex_add(e, EPROTO, f->versioned ? NO : MAYBE);
			return;
		}
		arg_expect(e, a, out, f->versioned ? NO : MAYBE);
		return;
	}
	ex_reset(e);
	ex_add(e, EPROTO, YES);
}

int gen_name(char *name, bool may_nx, bool sane)
{
	static const char *const bad[] = {
		"", ".", "..", "a/b", "a b", "tab\t", "nl\n", "caf\xe9", "\x80", "semi;colon",
		"star*", "~tilde", "q?",
	};
	int slot;

	memset(name, 0, DMXP_NAME_MAX);
	if (sane || pct(80)) {
		slot = (int)below(NSLOTS);
		if (g.is_wild && slot == g.default_slot)
			slot = 0;	/* attaching to "default" may create it */
		memcpy(name, g.name[slot], strlen(g.name[slot]));
		return slot;
	}
	if (may_nx && pct(40)) {
		memcpy(name, g.nx_name, strlen(g.nx_name));
		return NAME_NX;
	}
	switch (below(4)) {
	case 0:		/* 32 characters, no NUL */
		memset(name, 'n', DMXP_NAME_MAX);
		break;
	case 1:		/* a valid name with bytes after its NUL */
		memcpy(name, g.name[0], strlen(g.name[0]));
		name[DMXP_NAME_MAX - 1 - below(4)] = (char)(1 + below(255));
		break;
	case 2:		/* one bad byte in a valid name */
		memcpy(name, g.name[1], strlen(g.name[1]));
		name[below(strlen(g.name[1]))] = "/ \n:\x01\xff*%"[below(8)];
		break;
	default:
		strcpy(name, bad[below(sizeof(bad) / sizeof(bad[0]))]);
		break;
	}
	return NAME_BAD;
}

const char *name_str(const char *name)
{
	static char buf[4 * DMXP_NAME_MAX + 1];
	size_t i, n = 0;

	for (i = 0; i < DMXP_NAME_MAX && name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x21 && c < 0x7f && c != '\\')
			buf[n++] = (char)c;
		else
			n += sprintf(buf + n, "\\x%02x", c);
	}
	buf[n] = '\0';
	if (i < DMXP_NAME_MAX - 1 && name[DMXP_NAME_MAX - 1])
		strcat(buf, "\\0...");
	return buf;
}

__u64 page_align(__u64 n)
{
	return (n + g.pg - 1) & ~((__u64)g.pg - 1);
}

/* A region size; *@ok tells whether the module takes it. */
__u64 gen_size(bool sane, bool *ok)
{
	/* Around the smallest with a claim table too. */
	static const __u64 small[] = {
		MIN_SIZE, 102400, 131072, 131073, CLAIMS_MIN_SIZE, 200000, 262144, 524288,
		1 << 20, 2 << 20, 4 << 20,
	};
	__u64 s;

	*ok = true;
	if (sane || pct(85)) {
		switch (below(12)) {
		case 0:
			return 0;		/* the default size */
		case 1:
			s = MIN_SIZE + below(2 << 20);
			return s;
		case 2:
			if (g.max_region_size <= g.budget / 4)
				return g.max_region_size;
			return MIN_SIZE;
		default:
			return small[below(sizeof(small) / sizeof(small[0]))];
		}
	}
	*ok = false;
	switch (below(8)) {
	case 0:
		return MIN_SIZE - 1;
	case 1:
		return DMXP_HEADER_SIZE;
	case 2:
		return 1 + below(4096);
	case 3:
		return g.max_region_size + 1;
	case 4:
		return g.max_region_size + g.pg;
	case 5:
		return ~0ULL;
	case 6:
		return 1ULL << 63;
	default:
		return 1ULL << (40 + below(20));
	}
}

__u32 gen_mode(bool sane)
{
	static const __u32 good[] = { 0600, 0660, 0666, 0, 0644, 0400, 0200, 0606 };
	static const __u32 bad[] = { 0700, 0777, 01600, 02600, 04600, 0100600, 0xffffffff, 0667 };

	if (sane || pct(90))
		return good[below(sizeof(good) / sizeof(good[0]))];
	return bad[below(sizeof(bad) / sizeof(bad[0]))];
}

/* A channel the next gen_chan() should pick, or -1. */
int want_ci = -1;

/* A channel id: its index in chan_ids, or -1 for an invalid id. */
int gen_chan(__u32 *id, bool sane)
{
	if (want_ci >= 0) {
		int k = want_ci;

		want_ci = -1;
		*id = chan_ids[k];
		return k;
	}
	if (sane || pct(88)) {
		int k = (int)below(NCH);

		*id = chan_ids[k];
		return k;
	}
	switch (below(4)) {
	case 0:
		*id = DMXP_MAX_CHANNELS;
		break;
	case 1:
		*id = DMXP_MAX_CHANNELS + 1 + (__u32)below(1000000);
		break;
	case 2:
		*id = 0x80000000U;
		break;
	default:
		*id = ~0U;
		break;
	}
	return -1;
}

__u64 gen_cap(bool sane, bool *ok)
{
	__u64 c;

	*ok = true;
	if (sane || pct(85)) {
		if (pct(90))
			return 2ULL << below(6);	/* 2..64 */
		if (pct(70))
			return 2ULL << below(13);	/* up to 8192 */
		return DMXP_CAPACITY_MAX;
	}
	*ok = false;
	switch (below(7)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		c = 3 + 2 * below(100);
		return c;
	case 3:
		return DMXP_CAPACITY_MAX * 2;
	case 4:
		return DMXP_CAPACITY_MAX + 1;
	case 5:
		return 1ULL << 63;
	default:
		return ~0ULL;
	}
}
