// SPDX-License-Identifier: MIT
/*
 * Steps on the mappings of regions: mmap, munmap, mremap and mprotect.
 */
#include "fuzz_kmod.h"

static int piece_add(unsigned char *addr, size_t len, __u64 off, int prot, bool maywrite,
		     int f, int ins)
{
	int i;

	for (i = 0; i < MAX_PIECES; i++) {
		if (g.piece[i].addr)
			continue;
		g.piece[i].addr = addr;
		g.piece[i].len = len;
		g.piece[i].off = off;
		g.piece[i].prot = prot;
		g.piece[i].maywrite = maywrite;
		g.piece[i].file = f;
		g.piece[i].inst = ins;
		return i;
	}
	fail("model: no room for a mapping");
}

/* [a, a + len) is no longer mapped in piece i: what is left of it stays. */
static void piece_cut(int i, unsigned char *a, size_t len)
{
	struct mpiece p = g.piece[i];

	g.piece[i].addr = NULL;
	if (a > p.addr)
		piece_add(p.addr, a - p.addr, p.off, p.prot, p.maywrite, p.file, p.inst);
	if (a + len < p.addr + p.len)
		piece_add(a + len, p.addr + p.len - (a + len), p.off + (a + len - p.addr), p.prot,
			  p.maywrite, p.file, p.inst);
}

/* A page-aligned part of piece i: all, a head, a tail or a middle. */
static void subrange(int i, unsigned char **a, size_t *len, bool may_split)
{
	size_t pages = g.piece[i].len / g.pg, s, n;

	switch (pages < 2 ? 0 : below(may_split ? 4 : 3)) {
	case 0:
		s = 0;
		n = pages;
		break;
	case 1:
		s = 0;
		n = 1 + below(pages - 1);
		break;
	case 2:
		n = 1 + below(pages - 1);
		s = pages - n;
		break;
	default:
		s = 1 + below(pages - 1);
		n = pages - s > 1 ? 1 + below(pages - s - 1) : 1;
		break;
	}
	*a = g.piece[i].addr + s * g.pg;
	*len = n * g.pg;
}

static void *scratch(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap scratch: %s", strerror(errno));
	return p;
}

/* The result of mmap() or mremap(), logged: 0, or -errno. */
static long map_result(void *p)
{
	long ret = p == MAP_FAILED ? -errno : 0;

	if (p == MAP_FAILED)
		result_ret(ret);
	else
		result("%p", p);
	return ret;
}

static const char *prot_str(int prot)
{
	static char buf[40];

	snprintf(buf, sizeof(buf), "%s%s%s%s%s", prot & PROT_READ ? "R" : "",
		 prot & PROT_WRITE ? "W" : "", prot & PROT_EXEC ? "X" : "",
		 prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC) ? "+" : "",
		 prot ? "" : "NONE");
	return buf;
}

#define LEGACY_MAP_MASK	(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | \
			 MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | \
			 MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | \
			 MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB)

bool do_mmap(int di, bool sane)
{
	int kind = K_DEV, fd, prot, flags, type, acc = O_RDWR, f = -1, ins = -1, nr = -1, ci;
	struct minst *in = NULL;
	unsigned char *want = NULL, *hint = NULL;
	bool bound = false, fixed = false, noreplace = false;
	__u64 size, len, alen, off = 0;
	struct expect e;
	void *p;
	long ret;

	if (di < 0) {
		kind = pct(85) ? K_DEV : -1;
		fd = pick_any_fd(&kind);
		if (kind == K_DEV)
			di = PICK(MAX_DEVFDS, g.devfd[__i].fd == fd);
		/* A read-only binding's channel fd is open for neither. */
		ci = kind == K_CHAN ? PICK(MAX_CHFDS, g.chfd[__i].fd == fd) : -1;
		if (ci >= 0 && g.chfd[ci].poll_only)
			acc = O_ACCMODE;
	}
	if (kind == K_DEV) {
		struct mfile *mf;

		fd = g.devfd[di].fd;
		bound = dev_state(di, &mf, &in);
		acc = mf->acc;
		f = g.devfd[di].file;
		ins = mf->inst;
	}
	size = in ? in->size : g.pg * (1 + below(64));
	len = size;
	if (!sane && pct(25)) {
		switch (below(9)) {
		case 0:
			len = size - g.pg;
			break;
		case 1:
			len = size + g.pg;
			break;
		case 2:
			len = size - 1 - below(g.pg - 1);	/* rounds up to size */
			break;
		case 3:
			len = g.pg;
			break;
		case 4:
			len = 0;
			break;
		case 5:
			len = page_align(size / 2);
			break;
		case 6:
			len = 1ULL << (44 + below(4));
			break;
		case 7:
			len = ~0ULL - below(g.pg);
			break;
		default:
			len = size + 1;
			break;
		}
	}
	if (!sane && pct(12)) {
		static const __u64 offs[] = { 4096, 8192, 1, 100, 1ULL << 40, 1ULL << 62 };

		off = offs[below(6)];
		if (off == 8192)
			off = size;
	}
	prot = acc == O_RDWR ? PROT_READ | PROT_WRITE : PROT_READ;
	if (!sane) {
		static const int prots[] = {
			PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_READ, PROT_READ, PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
			PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC, PROT_READ | PROT_SEM,
		};

		prot = prots[below(sizeof(prots) / sizeof(prots[0]))];
	}
	flags = MAP_SHARED;
	if (!sane) {
		switch (below(40)) {
		case 0 ... 3:
			flags = MAP_SHARED_VALIDATE;
			break;
		case 4 ... 7:
			flags = MAP_PRIVATE;
			break;
		case 8:
			flags = MAP_SHARED | MAP_POPULATE;
			break;
		case 9:
			flags = MAP_SHARED | MAP_LOCKED;
			break;
		case 10:
			flags = MAP_SHARED | MAP_NORESERVE;
			break;
		case 11:
			flags = MAP_SHARED_VALIDATE | MAP_SYNC;
			break;
		case 12:
			flags = 0;
			break;
		case 13:
			flags = MAP_SHARED | MAP_GROWSDOWN;
			break;
		case 14:
			flags = MAP_SHARED | MAP_HUGETLB;
			break;
		case 15 ... 17:
			fixed = len == size && size <= 64 << 20;
			break;
		case 18:
			nr = pick_piece(0);
			noreplace = nr >= 0;
			break;
		case 19:
			hint = (unsigned char *)(uintptr_t)(0x100000000ULL * (1 + below(0x7000)));
			break;
		default:
			break;
		}
	}
	if (fixed) {
		want = scratch(len);
		flags |= MAP_FIXED;
		hint = want;
	}
	if (noreplace) {
		flags |= MAP_FIXED_NOREPLACE;
		hint = g.piece[nr].addr;
	}

	type = flags & MAP_TYPE;
	alen = page_align(len);
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(!len || off % g.pg ||
				  (type != MAP_SHARED && type != MAP_PRIVATE &&
				   type != MAP_SHARED_VALIDATE) ||
				  flags & (MAP_GROWSDOWN | MAP_HUGETLB)));
	ex_add(&e, ENOMEM, len && !alen ? YES : len > (1ULL << 40) ? MAYBE : NO);
	ex_add(&e, EOVERFLOW, off >= (1ULL << 40) ? MAYBE : NO);
	ex_add(&e, EEXIST, tri_of(noreplace));
	ex_add(&e, EOPNOTSUPP, tri_of(type == MAP_SHARED_VALIDATE && flags & ~LEGACY_MAP_MASK &&
				      !noreplace));
	/*
	 * Not open for reading; or PROT_WRITE on a file not open for writing:
	 * the mm refuses a shared mapping, the module a private one too
	 * (after its EINVAL for MAP_PRIVATE).
	 */
	ex_add(&e, EACCES, tri_of(acc == O_WRONLY || acc == O_ACCMODE ||
				  (type != MAP_PRIVATE && prot & PROT_WRITE && acc == O_RDONLY)));
	if (prot & PROT_WRITE && acc == O_RDONLY)
		ex_add(&e, EACCES, MAYBE);
	/* PROT_EXEC: the module refuses it; the anon inodes are noexec. */
	ex_add(&e, EPERM, tri_of(prot & PROT_EXEC));
	if (kind != K_DEV) {
		ex_add(&e, ENODEV, YES);
	} else {
		ex_add(&e, ENXIO, st(!bound));
		ex_add(&e, EIDRM, st(bound && !in->named));
		ex_add(&e, EINVAL, tri_of(off || type == MAP_PRIVATE));
		/* The region's size: a wild child may not know the file is bound. */
		if (g.is_wild)
			ex_add(&e, EINVAL, MAYBE);
		else if (bound)
			ex_add(&e, EINVAL, tri_of(alen != in->size));
	}
	call("mmap(%p, %#llx, %s, %#x, %d %s, %#llx)", hint, (unsigned long long)len,
	     prot_str(prot), flags, fd, kind == K_DEV ? acc_name(acc) : kind == K_CHAN ? "chan" :
	     kind == K_EV ? "eventfd" : "epoll", (unsigned long long)off);
	p = mmap(hint, len, prot, flags, fd, (off_t)off);
	ret = map_result(p);
	verdict(&e, ret);
	if (p == MAP_FAILED) {
		if (want)
			munmap(want, len);
		return true;
	}
	if (want && p != want)
		fail("mmap MAP_FIXED at %p returned %p", want, p);
	if (!piece_slots() || (g.is_wild && !in)) {
		munmap(p, alen);
		return true;
	}
	piece_add(p, alen, 0, prot, acc == O_RDWR, f, ins);
	return true;
}

bool op_mmap(void)
{
	/* Keep room for splits: unmap instead when the table fills up. */
	if (piece_slots() < MAX_PIECES / 4)
		return op_munmap();
	return do_mmap(-1, false);
}

bool op_munmap(void)
{
	int i = pick_piece(0), ret;
	unsigned char *a;
	size_t len;

	if (i < 0)
		return false;
	if (pct(4)) {
		struct expect e;

		ex_reset(&e);
		ex_add(&e, EINVAL, YES);
		a = g.piece[i].addr + (pct(50) ? 1 + below(g.pg - 1) : 0);
		len = a == g.piece[i].addr ? 0 : g.pg;
		call("munmap(%p, %#zx)", a, len);
		ret = munmap(a, len) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		return true;
	}
	subrange(i, &a, &len, piece_slots() > 0);
	call("munmap(%p, %#zx) [piece %p+%#zx]", a, len, g.piece[i].addr, g.piece[i].len);
	ret = munmap(a, len);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("munmap: %s", strerror(errno));
	piece_cut(i, a, len);
	gc();
	return true;
}

bool op_mremap(void)
{
	int i = pick_piece(0), flags = 0, c;
	unsigned char *s, *target = NULL, *want;
	size_t pages, ol, nl, rem;
	struct mpiece p;
	struct expect e;
	void *q;
	long ret;

	if (i < 0 || piece_slots() < 3)
		return false;
	p = g.piece[i];
	pages = p.len / g.pg;
	s = p.addr + g.pg * below(pages);
	rem = (size_t)(p.addr + p.len - s);
	ol = g.pg * (1 + below(rem / g.pg));
	nl = ol;
	want = s;
	ex_reset(&e);
	c = (int)below(100);
	if (c < 25 && ol >= 2 * g.pg) {			/* shrink in place */
		nl = g.pg * (1 + below(ol / g.pg - 1));
		flags = pct(50) ? MREMAP_MAYMOVE : 0;
	} else if (c < 40) {				/* grow: never */
		nl = ol + g.pg * (1 + below(16));
		flags = pct(50) ? MREMAP_MAYMOVE : 0;
		ex_add(&e, EFAULT, YES);
	} else if (c < 65) {				/* move */
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		want = target;
	} else if (c < 73 && ol >= 2 * g.pg) {		/* move and shrink */
		nl = g.pg * (1 + below(ol / g.pg - 1));
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		want = target;
	} else if (c < 78) {				/* move and grow: never */
		nl = ol + g.pg * (1 + below(4));
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		ex_add(&e, EFAULT, YES);
	} else if (c < 83) {				/* the same size */
		flags = MREMAP_MAYMOVE;
	} else if (c < 87) {
		flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
		ex_add(&e, EINVAL, YES);
	} else if (c < 90) {				/* duplicate: old_len 0 */
		ol = 0;
		nl = g.pg;
		flags = MREMAP_MAYMOVE;
		ex_add(&e, EFAULT, YES);
	} else {
		ex_add(&e, EINVAL, YES);
		switch (below(6)) {
		case 0:
			flags = MREMAP_FIXED;
			target = scratch(nl);
			break;
		case 1:
			flags = 8;
			break;
		case 2:
			flags = MREMAP_DONTUNMAP;
			break;
		case 3:
			s += 1 + below(g.pg - 1);
			break;
		case 4:
			nl = 0;
			break;
		default:
			flags = MREMAP_MAYMOVE | MREMAP_FIXED;
			target = s + (ol > g.pg ? g.pg : 0);	/* overlaps the source */
			break;
		}
	}
	call("mremap(%p, %#zx, %#zx, %#x, %p) [piece %p+%#zx]", s, ol, nl, flags, target,
	     p.addr, p.len);
	q = mremap(s, ol, nl, flags, target);
	ret = map_result(q);
	verdict(&e, ret);
	if (q == MAP_FAILED) {
		if (target && !(target >= p.addr && target < p.addr + p.len))
			munmap(target, nl);
		return true;
	}
	if (q != want)
		fail("mremap returned %p, expected %p", q, want);
	if (q == s) {
		if (nl < ol)
			piece_cut(i, s + nl, ol - nl);
	} else {
		piece_cut(i, s, ol);
		piece_add(q, nl, p.off + (size_t)(s - p.addr), p.prot, p.maywrite, p.file, p.inst);
	}
	gc();
	return true;
}

bool op_mprotect(void)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_NONE, PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC,
		PROT_READ | PROT_SEM,
	};
	int i = pick_piece(0), prot, ret;
	unsigned char *a;
	struct mpiece p;
	struct expect e;
	size_t len;

	if (i < 0 || piece_slots() < 2)
		return false;
	p = g.piece[i];
	subrange(i, &a, &len, true);
	prot = prots[below(sizeof(prots) / sizeof(prots[0]))];
	ex_reset(&e);
	if (pct(6)) {
		static const int bad[] = { 0x10, 0x100, PROT_GROWSDOWN | PROT_READ,
					   PROT_GROWSUP | PROT_READ,
					   PROT_GROWSDOWN | PROT_GROWSUP | PROT_READ };

		prot = bad[below(5)];
		ex_add(&e, EINVAL, YES);
	} else if (pct(3)) {
		a += 1 + below(g.pg - 1);
		ex_add(&e, EINVAL, YES);
	} else {
		ex_add(&e, EACCES, tri_of(prot & PROT_EXEC || (prot & PROT_WRITE && !p.maywrite)));
	}
	call("mprotect(%p, %#zx, %s) [piece %p+%#zx %s%s]", a, len, prot_str(prot), p.addr,
	     p.len, prot_str(p.prot), p.maywrite ? "" : " never writable");
	ret = mprotect(a, len, prot) ? -errno : 0;
	result_ret(ret);
	verdict(&e, ret);
	if (ret || prot == p.prot)
		return true;
	/* Split into what lies before, the range, and what lies after. */
	piece_cut(i, a, len);
	piece_add(a, len, p.off + (size_t)(a - p.addr), prot, p.maywrite, p.file, p.inst);
	return true;
}
