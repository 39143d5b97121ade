// SPDX-License-Identifier: MIT
/*
 * The device's ioctls, each checked against the model: VERSION, the region
 * ioctls, CHAN_CREATE, CHAN_DESTROY, NOTIFY, CHAN_FD and CHAN_EVENTFD.
 */
#include "fuzz_kmod.h"

bool dev_state(int di, struct mfile **f, struct minst **in)
{
	*f = file(g.devfd[di].file);
	*in = (*f)->inst >= 0 ? inst((*f)->inst) : NULL;
	return *in != NULL;
}

void do_version(int di, bool sane)
{
	struct mfile *f = file(g.devfd[di].file);
	struct dmxp_ioc_version v = { .version = DMXP_VERSION }, out;
	struct expect e;
	struct argp a;
	long ret;

	if (!sane) {
		if (pct(8)) {
			static const __u32 vers[] = {
				0, DMXP_VERSION + 1, ~0U, 0x10001, 0xffff0001, 0x10002,
			};

			v.version = vers[below(6)];
		}
		if (pct(5))
			v.features = pct(50) ? garbage32() : DMXP_FEAT_KNOWN;
		if (pct(4))
			v.max_region_size = garbage64();
		if (pct(4))
			v.reserved[below(2)] = garbage64();
	}
	ex_reset(&e);
	/* Any minor of our major; features asked for must all be known. */
	ex_add(&e, EINVAL, tri_of(v.max_region_size || v.reserved[0] || v.reserved[1]));
	ex_add(&e, EPROTONOSUPPORT, tri_of(DMXP_ABI_MAJOR_OF(v.version) != DMXP_ABI_MAJOR));
	ex_add(&e, EOPNOTSUPP, tri_of(v.features & ~DMXP_FEAT_KNOWN));
	arg_pick(&a, sizeof(v), !sane && ex_clean(&e));
	arg_set(&a, &v, sizeof(v));
	arg_expect(&e, &a, true, NO);
	call("ioctl(%d, VERSION, %s{version=%u features=%#x max=%#llx rsv=%#llx,%#llx})",
	     g.devfd[di].fd, a.what, v.version, v.features,
	     (unsigned long long)v.max_region_size, (unsigned long long)v.reserved[0],
	     (unsigned long long)v.reserved[1]);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_VERSION, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret == 0) {
		f->versioned = true;
		if (arg_get(&a, &out, sizeof(out)) &&
		    (out.version != DMXP_ABI_VERSION(DMXP_ABI_MAJOR, DMXP_ABI_MINOR) ||
		     out.features != DMXP_FEAT_KNOWN ||
		     out.max_region_size != g.max_region_size || out.reserved[0] ||
		     out.reserved[1]))
			fail("VERSION returned version %u features %#x max_region_size %llu",
			     out.version, out.features, (unsigned long long)out.max_region_size);
	} else if ((ret == -EPROTONOSUPPORT || ret == -EOPNOTSUPP) &&
		   arg_get(&a, &out, sizeof(out)) &&
		   out.version != DMXP_ABI_VERSION(DMXP_ABI_MAJOR, DMXP_ABI_MINOR)) {
		fail("VERSION refused version %u but returned version %u", v.version,
		     out.version);
	}
}

static const char *region_cmd_name(unsigned long cmd)
{
	return cmd == DMXP_IOC_REGION_CREATE ? "REGION_CREATE" :
	       cmd == DMXP_IOC_REGION_ATTACH ? "REGION_ATTACH" : "REGION_DESTROY";
}

bool do_region(int di, unsigned long cmd, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_region rq, out;
	bool bound = dev_state(di, &f, &in), size_ok = true, name_ok, exists, creates, bad_in;
	bool create = cmd == DMXP_IOC_REGION_CREATE, attach = cmd == DMXP_IOC_REGION_ATTACH;
	bool rw = f->acc == O_RDWR;
	int slot, ex_i, ni;
	__u64 asize = 0;
	struct expect e;
	struct argp a;
	long ret;

	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	slot = gen_name(rq.name, !create, sane);
	name_ok = slot != NAME_BAD;
	ex_i = slot >= 0 ? named_inst(slot) : -1;
	exists = ex_i >= 0;
	if (create) {
		rq.size = gen_size(sane, &size_ok);
		rq.mode = gen_mode(sane);
		rq.flags = DMXP_REGION_CREATE | (pct(30) ? DMXP_REGION_EXCL : 0);
		if (!sane && pct(6)) {
			static const __u32 fl[] = {
				0, DMXP_REGION_EXCL, DMXP_REGION_CREATE | 4, 1U << 31,
				DMXP_REGION_CREATE | 0x100,
			};

			rq.flags = fl[below(5)];
		}
		asize = page_align(rq.size ? rq.size : g.default_size);
	} else if (!sane && pct(6)) {
		switch (below(3)) {
		case 0:
			rq.size = garbage64();
			break;
		case 1:
			rq.mode = 0600;
			break;
		default:
			rq.flags = DMXP_REGION_CREATE;
			break;
		}
	}
	if (!sane && pct(3))
		rq.uid = garbage32();
	if (!sane && pct(3))
		rq.gid = garbage32();
	if (!sane && pct(3)) {
		switch (below(3)) {
		case 0:
			rq.lease = garbage32();		/* out only */
			break;
		case 1:
			rq.__pad = garbage32();
			break;
		default:
			rq.reserved = garbage64();
			break;
		}
	}
	bad_in = rq.uid || rq.gid || rq.lease || rq.__pad || rq.reserved;

	/*
	 * Whether a valid call would create a region: only a file open for
	 * reading and writing creates one, "default" included.
	 */
	if (create)
		creates = !exists && name_ok && size_ok && !(rq.mode & ~0666) && rw;
	else
		creates = attach && !exists && slot >= 0 && slot == g.default_slot && rw;
	if (attach && creates)
		asize = page_align(g.default_size);
	if (creates && !fits_budget(asize)) {
		if (sane)
			return false;
		if (create) {
			rq.size = 1;	/* keep within the budget: an invalid size */
			size_ok = false;
		} else {
			return false;
		}
	}
	if (g.is_wild && creates)
		return false;

	ex_reset(&e);
	if (create) {
		ex_add(&e, EINVAL, tri_of(!name_ok || !size_ok || rq.mode & ~0666 ||
					  rq.flags & ~DMXP_REGION_FLAGS_KNOWN ||
					  !(rq.flags & DMXP_REGION_CREATE) || bad_in));
		ex_add(&e, EBUSY, st(bound));
		ex_add(&e, EEXIST, st(exists && rq.flags & DMXP_REGION_EXCL));
		ex_add(&e, ENOSPC, st(!exists && g.total_before + live_bytes() + asize >
				      g.max_total_size));
		ex_add(&e, ENOMEM, exists && !g.is_wild ? NO : MAYBE);
	} else {
		ex_add(&e, EINVAL, tri_of(!name_ok || rq.size || rq.mode || rq.flags || bad_in));
		if (attach) {
			/* A read-only file never creates "default". */
			bool dflt = slot >= 0 && slot == g.default_slot && rw;

			ex_add(&e, ENOENT, st(!exists && !dflt));
			ex_add(&e, EBUSY, st(bound));
			if (dflt) {
				ex_add(&e, ENOSPC, st(!exists && g.total_before + live_bytes() +
						      asize > g.max_total_size));
				ex_add(&e, ENOMEM, exists && !g.is_wild ? NO : MAYBE);
			}
		} else {
			ex_add(&e, ENOENT, st(!exists));
		}
	}
	arg_pick(&a, sizeof(rq), !sane && !g.is_wild && !(cmd == DMXP_IOC_REGION_DESTROY) &&
		 ex_clean(&e) && f->versioned && acc_allows(f->acc, cmd));
	arg_set(&a, &rq, sizeof(rq));
	ioc_expect(&e, &a, cmd != DMXP_IOC_REGION_DESTROY, f, cmd);
	call("ioctl(%d %s%s, %s, %s{name=\"%s\" size=%#llx mode=%#o flags=%#x uid=%u gid=%u lease=%u pad=%#x rsv=%#llx})",
	     g.devfd[di].fd, acc_name(f->acc), bound ? " bound" : "", region_cmd_name(cmd),
	     a.what, name_str(rq.name), (unsigned long long)rq.size, rq.mode, rq.flags,
	     rq.uid, rq.gid, rq.lease, rq.__pad, (unsigned long long)rq.reserved);
	ret = xioctl(g.devfd[di].fd, cmd, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret == 0 && cmd != DMXP_IOC_REGION_DESTROY && arg_get(&a, &out, sizeof(out)) &&
	    (!out.lease || out.__pad || out.reserved))
		fail("%s returned lease %u pad %#x reserved %#llx", region_cmd_name(cmd),
		     out.lease, out.__pad, (unsigned long long)out.reserved);
	if (g.is_wild) {
		/* Its own file: attached to a region the parent made. */
		if (ret == 0 && attach && exists) {
			f->inst = ex_i;
			f->lease = out.lease;
		}
		return true;
	}

	if (cmd == DMXP_IOC_REGION_DESTROY) {
		if (ret == 0) {
			inst(ex_i)->named = false;
			regs_drop(ex_i, -1, -1);
			gc();
		}
		return true;
	}
	/* A read-only result buffer fails before anything is created or bound. */
	if (ret != 0)
		return true;
	/* Created or attached, and bound. */
	if (exists) {
		ni = ex_i;
	} else {
		ni = inst_new(slot, asize, create ? rq.mode : g.default_mode);
		if (ni < 0)
			fail("model: no room for a region");
	}
	if (ret == 0) {
		f->inst = ni;
		arg_get(&a, &out, sizeof(out));
		if (a.m != A_RO && (out.size != inst(ni)->size || out.mode != inst(ni)->mode ||
				    out.uid != geteuid() || out.gid != getegid() ||
				    memcmp(out.name, rq.name, sizeof(rq.name))))
			fail("%s returned size %llu mode %#o uid %u gid %u; expected size %llu mode %#o",
			     region_cmd_name(cmd), (unsigned long long)out.size, out.mode,
			     out.uid, out.gid, (unsigned long long)inst(ni)->size,
			     inst(ni)->mode);
		/* Each file attached gets a new lease: they only grow. */
		if (a.m != A_RO && out.lease <= inst(ni)->last_lease)
			fail("%s returned lease %u, but lease %u was given before",
			     region_cmd_name(cmd), out.lease, inst(ni)->last_lease);
		f->lease = out.lease;
		inst(ni)->last_lease = out.lease;
	}
	gc();
	return true;
}

/*
 * alloc_cursor after a channel was created: the end of the highest band
 * of the channels there are (it stays where it is when one goes).
 */
static void cursor_update(struct minst *in)
{
	__u64 hw = 0;
	int i;

	for (i = 0; i < NCH; i++) {
		if (!in->ch[i].present)
			continue;
		if (!in->ch[i].band_known) {
			in->cursor_known = false;
			return;
		}
		if (in->ch[i].band + in->ch[i].cap * DMXP_SLOT_SIZE > hw)
			hw = in->ch[i].band + in->ch[i].cap * DMXP_SLOT_SIZE;
	}
	in->cursor = hw;
	in->cursor_known = true;
}

/* The errors of CHAN_DESTROY, NOTIFY and CHAN_FD about the channel. */
static void chan_common(struct expect *e, struct minst *in, int ci)
{
	bool bound = in != NULL;

	ex_add(e, ENXIO, st(!bound));
	ex_add(e, EIDRM, st(bound && !in->named));
	ex_add(e, ENOENT, st(bound && ci >= 0 && !in->ch[ci].present));
}

/* Now and then, unless @sane, garbage in the fields that must be 0. */
static void chan_garbage(struct dmxp_ioc_chan *c, bool sane)
{
	if (!sane && pct(3))
		c->flags = garbage32();
	if (!sane && pct(3))
		c->band_offset = garbage64();
	if (!sane && pct(3))
		c->reserved[below(2)] = garbage64();
}

/* CHAN_CREATE or CHAN_DESTROY of @c, passed as @a: logged, and judged by @e. */
static long chan_ioctl(int di, unsigned long cmd, const struct argp *a,
		       const struct dmxp_ioc_chan *c, const struct expect *e)
{
	long ret;

	call("ioctl(%d, %s, %s{id=%u cap=%llu flags=%#x band=%#llx rsv=%#llx,%#llx})",
	     g.devfd[di].fd, cmd == DMXP_IOC_CHAN_CREATE ? "CHAN_CREATE" : "CHAN_DESTROY",
	     a->what, c->id, (unsigned long long)c->capacity, c->flags,
	     (unsigned long long)c->band_offset, (unsigned long long)c->reserved[0],
	     (unsigned long long)c->reserved[1]);
	ret = xioctl(g.devfd[di].fd, cmd, a->p);
	result_ret(ret);
	verdict(e, ret);
	return ret;
}

void do_chan_create(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	bool bound = dev_state(di, &f, &in), cap_ok;
	struct dmxp_ioc_chan c, out;
	__u64 off = 0;
	enum tri nospc = NO;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	memset(&c, 0, sizeof(c));
	ci = gen_chan(&c.id, sane);
	c.capacity = gen_cap(sane, &cap_ok);
	chan_garbage(&c, sane);
	if (bound && cap_ok && ci >= 0)
		nospc = band_predict(in, c.capacity, &off);

	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(c.flags || c.band_offset || c.reserved[0] || c.reserved[1] ||
				  ci < 0 || !cap_ok));
	ex_add(&e, ENXIO, st(!bound));
	ex_add(&e, EIDRM, st(bound && !in->named));
	ex_add(&e, EEXIST, st(bound && ci >= 0 && in->ch[ci].present));
	ex_add(&e, ENOSPC, g.is_wild ? MAYBE : nospc);
	arg_pick(&a, sizeof(c), !sane && !g.is_wild && ex_clean(&e) && f->versioned &&
		 acc_allows(f->acc, DMXP_IOC_CHAN_CREATE));
	arg_set(&a, &c, sizeof(c));
	ioc_expect(&e, &a, true, f, DMXP_IOC_CHAN_CREATE);
	ret = chan_ioctl(di, DMXP_IOC_CHAN_CREATE, &a, &c, &e);
	/* A read-only result buffer fails before the channel is created. */
	if (g.is_wild || ret != 0)
		return;

	in->ch[ci].present = true;
	in->ch[ci].cap = c.capacity;
	in->ch[ci].epoch++;
	in->ch[ci].repaired = 0;
	in->ch[ci].tombstoned = 0;
	in->ch[ci].seen = 0;
	in->ch[ci].band_known = nospc == NO;
	in->ch[ci].band = off;
	cursor_update(in);
	if (ret != 0 || !arg_get(&a, &out, sizeof(out)))
		return;
	if (out.id != c.id || out.capacity != c.capacity || out.flags || out.reserved[0] ||
	    out.reserved[1])
		fail("CHAN_CREATE changed its input: id %u capacity %llu",
		     out.id, (unsigned long long)out.capacity);
	if (nospc == NO && out.band_offset != off)
		fail("CHAN_CREATE put the ring at %#llx; first fit is %#llx",
		     (unsigned long long)out.band_offset, (unsigned long long)off);
	if (out.band_offset % DMXP_BAND_ALIGN || out.band_offset < bands_start(in->size) ||
	    out.band_offset + c.capacity * DMXP_SLOT_SIZE > in->size)
		fail("CHAN_CREATE put the ring at %#llx, outside the region or in its header or claim table",
		     (unsigned long long)out.band_offset);
	in->ch[ci].band = out.band_offset;
	in->ch[ci].band_known = true;
	cursor_update(in);
}

void do_chan_destroy(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_chan c;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	dev_state(di, &f, &in);
	memset(&c, 0, sizeof(c));
	ci = gen_chan(&c.id, sane);
	if (!sane && pct(4))
		c.capacity = 2ULL << below(5);
	chan_garbage(&c, sane);
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(c.flags || c.band_offset || c.reserved[0] || c.reserved[1] ||
				  c.capacity || ci < 0));
	chan_common(&e, in, ci);
	arg_pick(&a, sizeof(c), false);
	arg_set(&a, &c, sizeof(c));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_DESTROY);
	ret = chan_ioctl(di, DMXP_IOC_CHAN_DESTROY, &a, &c, &e);
	if (ret == 0 && !g.is_wild) {
		in->ch[ci].present = false;
		in->ch[ci].band_known = false;
		in->ch[ci].epoch++;
		regs_drop(f->inst, ci, -1);
	}
}

void do_notify(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_notify n;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	dev_state(di, &f, &in);
	memset(&n, 0, sizeof(n));
	ci = gen_chan(&n.id, sane);
	n.flags = 1 + (__u32)below(3);
	if (!sane && pct(8))
		n.flags = pct(50) ? 0 : garbage32() | 4;
	if (!sane && pct(3))
		n.reserved = garbage64();
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || !n.flags || n.flags & ~DMXP_NOTIFY_KNOWN ||
				  n.reserved));
	chan_common(&e, in, ci);
	arg_pick(&a, sizeof(n), false);
	arg_set(&a, &n, sizeof(n));
	ioc_expect(&e, &a, false, f, DMXP_IOC_NOTIFY);
	call("ioctl(%d, NOTIFY, %s{id=%u flags=%#x rsv=%#llx})", g.devfd[di].fd, a.what,
	     n.id, n.flags, (unsigned long long)n.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_NOTIFY, a.p);
	result_ret(ret);
	verdict(&e, ret);
}

void do_chan_fd(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_chan_fd cf;
	struct expect e;
	struct argp a;
	int ci, fl, fdfl, k, acc;
	long ret;

	dev_state(di, &f, &in);
	memset(&cf, 0, sizeof(cf));
	ci = gen_chan(&cf.id, sane);
	cf.flags = pct(50) ? DMXP_CHAN_FD_NONBLOCK : 0;
	if (!sane && pct(5))
		cf.flags = garbage32() | 2;
	if (!sane && pct(3))
		cf.reserved = garbage64();
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || cf.flags & ~DMXP_CHAN_FD_KNOWN || cf.reserved));
	chan_common(&e, in, ci);
	ex_add(&e, EMFILE, MAYBE);
	ex_add(&e, ENOMEM, MAYBE);
	arg_pick(&a, sizeof(cf), false);
	arg_set(&a, &cf, sizeof(cf));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_FD);
	call("ioctl(%d, CHAN_FD, %s{id=%u flags=%#x rsv=%#llx})", g.devfd[di].fd, a.what,
	     cf.id, cf.flags, (unsigned long long)cf.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_FD, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret < 0)
		return;
	/* A read-only binding's channel fd is open neither for reading nor writing. */
	acc = f->acc == O_RDWR ? O_RDWR : O_ACCMODE;
	fl = fcntl((int)ret, F_GETFL);
	fdfl = fcntl((int)ret, F_GETFD);
	if (fl < 0 || fdfl < 0 || !(fdfl & FD_CLOEXEC) || (fl & O_ACCMODE) != acc ||
	    !!(fl & O_NONBLOCK) != !!(cf.flags & DMXP_CHAN_FD_NONBLOCK))
		fail("channel fd %ld of a %s binding has flags %#x, fd flags %#x", ret,
		     acc_name(f->acc), fl, fdfl);
	k = chfd_slot();
	if (k < 0 || !in) {
		close((int)ret);
		return;
	}
	g.chfd[k].fd = (int)ret;
	g.chfd[k].inst = f->inst;
	g.chfd[k].ch = ci;
	g.chfd[k].epoch = in->ch[ci].epoch;
	g.chfd[k].nonblock = cf.flags & DMXP_CHAN_FD_NONBLOCK;
	g.chfd[k].poll_only = acc != O_RDWR;
	g.chfd[k].in_epoll = false;
	g.chfd[k].inherited = false;
}

int evfd_new(void)
{
	int i = PICK(MAX_EVFDS, g.evfd[__i].fd < 0), fd;

	if (i < 0)
		return -1;
	call("eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)");
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("eventfd: %s", strerror(errno));
	g.evfd[i].fd = fd;
	g.evfd[i].ev = g.next_ev++;
	return i;
}

void do_eventfd(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	bool bound = dev_state(di, &f, &in), unreg, present, notev = false, badfd = false;
	struct dmxp_ioc_eventfd ev;
	long evid = -1;
	struct expect e;
	struct argp a;
	int ci, k, r, n = 0;
	long ret;

	memset(&ev, 0, sizeof(ev));
	ci = gen_chan(&ev.id, sane);
	present = bound && ci >= 0 && in->ch[ci].present;
	k = pick_evfd();
	if (k < 0 || pct(10))
		k = evfd_new();
	if (k < 0)
		return;
	ev.fd = g.evfd[k].fd;
	evid = g.evfd[k].ev;
	r = present ? reg_find(f->inst, ci, g.devfd[di].file, evid) : -1;
	unreg = r >= 0 ? pct(60) : pct(10);
	if (!sane && pct(10)) {
		int kind = -1;

		switch (below(3)) {
		case 0:
			ev.fd = -1 - (int)below(3);
			badfd = true;
			break;
		case 1:
			ev.fd = 4000 + (int)below(1000);	/* never open */
			badfd = true;
			break;
		default:
			kind = (int)below(3);
			kind = kind == K_EV ? K_EPOLL : kind;
			ev.fd = pick_any_fd(&kind);
			if (kind == K_EV)
				ev.fd = g.epfd;
			notev = true;
			break;
		}
	}
	ev.flags = unreg ? DMXP_EVENTFD_UNREGISTER : 0;
	if (!sane && pct(4))
		ev.flags = garbage32() | 2;
	if (!sane && pct(3))
		ev.__pad = garbage32();
	if (!sane && pct(3))
		ev.reserved = garbage64();
	if (g.sh.nreg >= MAX_REGS - 1 && !unreg)
		return;
	if (present)
		n = reg_count(f->inst, ci);

	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || ev.flags & ~DMXP_EVENTFD_KNOWN || ev.__pad ||
				  ev.reserved || notev));
	ex_add(&e, EBADF, tri_of(badfd));
	ex_add(&e, ENXIO, st(!bound));
	ex_add(&e, EIDRM, st(bound && !in->named));
	if (!notev && !badfd) {
		r = present ? reg_find(f->inst, ci, g.devfd[di].file, evid) : -1;
		ex_add(&e, ENOENT, st(bound && ci >= 0 && (!present || (unreg && r < 0))));
		ex_add(&e, EEXIST, st(present && !unreg && r >= 0));
		if (present && !unreg && r < 0)
			ex_add(&e, ENOSPC, regs_loose() ? MAYBE : tri_of(n >= DMXP_EVENTFD_MAX));
	} else {
		ex_add(&e, ENOENT, st(bound && ci >= 0 && !present));
	}
	if (!unreg)
		ex_add(&e, ENOMEM, MAYBE);
	arg_pick(&a, sizeof(ev), false);
	arg_set(&a, &ev, sizeof(ev));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_EVENTFD);
	call("ioctl(%d, CHAN_EVENTFD, %s{id=%u flags=%#x fd=%d pad=%#x rsv=%#llx})",
	     g.devfd[di].fd, a.what, ev.id, ev.flags, ev.fd, ev.__pad,
	     (unsigned long long)ev.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret != 0 || (g.is_wild && file(g.devfd[di].file)->inherited))
		return;
	r = reg_find(f->inst, ci, g.devfd[di].file, evid);
	if (unreg) {
		if (r >= 0)
			g.sh.reg[r] = g.sh.reg[--g.sh.nreg];
	} else {
		g.sh.reg[g.sh.nreg].inst = f->inst;
		g.sh.reg[g.sh.nreg].ch = ci;
		g.sh.reg[g.sh.nreg].file = g.devfd[di].file;
		g.sh.reg[g.sh.nreg].ev = evid;
		g.sh.nreg++;
	}
}

/*
 * Fill a channel's eventfd list up to DMXP_EVENTFD_MAX through one file,
 * check that the next registration gets ENOSPC, and take them all off.
 */
bool op_eventfd_burst(void)
{
	int di = PICK(MAX_DEVFDS, devfd_mine(__i) && file(g.devfd[__i].file)->versioned &&
		      file(g.devfd[__i].file)->acc == O_RDWR &&
		      file(g.devfd[__i].file)->inst >= 0 &&
		      inst(file(g.devfd[__i].file)->inst)->named);
	int fds[DMXP_EVENTFD_MAX + 1], nfd = 0, ci, n, i, want;
	struct dmxp_ioc_eventfd ev;
	struct mfile *f;
	struct minst *in;
	struct expect e;
	long ret;

	if (di < 0 || regs_loose() || g.sh.nreg + DMXP_EVENTFD_MAX + 1 >= MAX_REGS)
		return false;
	dev_state(di, &f, &in);
	ci = PICK(NCH, in->ch[__i].present);
	if (ci < 0)
		return false;
	n = reg_count(f->inst, ci);
	want = DMXP_EVENTFD_MAX - n;
	for (i = 0; i <= want; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.id = chan_ids[ci];
		ev.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (ev.fd < 0)
			fail("eventfd: %s", strerror(errno));
		fds[nfd++] = ev.fd;
		ex_reset(&e);
		ex_add(&e, ENOSPC, tri_of(i == want));
		ex_add(&e, ENOMEM, MAYBE);
		call("ioctl(%d, CHAN_EVENTFD, {id=%u fd=%d}) [%d registered]", g.devfd[di].fd,
		     ev.id, ev.fd, n + i);
		ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, &ev);
		result_ret(ret);
		verdict(&e, ret);
	}
	for (i = 0; i < want; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.id = chan_ids[ci];
		ev.fd = fds[i];
		ev.flags = DMXP_EVENTFD_UNREGISTER;
		ex_reset(&e);
		call("ioctl(%d, CHAN_EVENTFD, {id=%u fd=%d UNREGISTER})", g.devfd[di].fd, ev.id,
		     ev.fd);
		ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, &ev);
		result_ret(ret);
		verdict(&e, ret);
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return true;
}
