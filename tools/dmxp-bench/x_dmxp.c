// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: dmxp itself, on a region file in /dev/shm (the embedded
 * backend) or on a /dev/dmxp region (the kernel backend).  Inbox b is
 * channel b.  The parent creates the region and its channels; every
 * side opens them on its own by path, as unrelated programs would.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "dmxp.h"

struct dmxp_x {
	char			path[64];
	struct dmxp_region	*r;		/* the parent's */
};

struct dmxp_local {
	struct dmxp_region	*r;
	struct dmxp_chan	*c[2];
};

/* Region files of benchmarks that were killed: their pid is gone.  Once. */
static void remove_stale_regions(void)
{
	static bool done;
	DIR *d;
	struct dirent *e;

	if (done)
		return;
	done = true;
	d = opendir("/dev/shm");

	while (d && (e = readdir(d))) {
		char path[300], *end;
		long pid;

		if (strncmp(e->d_name, "dmxp-bench-", 11))
			continue;
		pid = strtol(e->d_name + 11, &end, 10);
		if (*end || pid <= 0 || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;	/* alive, or not ours to judge */
		snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
		dmxp_region_unlink(path);
	}
	if (d)
		closedir(d);
}

static int dx_setup(struct xport *x)
{
	const struct dmxp_cfg *cfg = x->bc->cfg;
	__u64 slots = ring_slots(x->bc);
	struct dmxp_x *d = calloc(1, sizeof(*d));
	struct stat st;
	unsigned int i;
	int ret;

	if (!d)
		return -ENOMEM;
	x->priv = d;
	if (cfg->kernel) {
		if (stat("/dev/dmxp", &st)) {
			snprintf(x->why, sizeof(x->why),
				 "/dev/dmxp does not exist (the dmxp module is not loaded)");
			return SKIPPED;
		}
		snprintf(d->path, sizeof(d->path), "/dev/dmxp:bench-%d", (int)getpid());
	} else {
		remove_stale_regions();
		snprintf(d->path, sizeof(d->path), "/dev/shm/dmxp-bench-%d", (int)getpid());
	}
	dmxp_region_unlink(d->path);	/* a leftover of a killed run */
	ret = dmxp_region_open(d->path, (size_t)(2 * slots + 8) * sizeof(struct dmxp_slot) +
			       (1 << 20), DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &d->r);
	for (i = 0; i < x->nbox && !ret; i++)
		ret = dmxp_chan_create(d->r, i, slots);
	return ret;
}

static int dx_attach(struct xport *x)
{
	const struct dmxp_cfg *cfg = x->bc->cfg;
	struct dmxp_x *d = x->priv;
	struct dmxp_local *l = calloc(1, sizeof(*l));
	unsigned int i;
	int ret;

	if (!l)
		return -ENOMEM;
	x->local = l;
	ret = dmxp_region_open(d->path, 0, 0, &l->r);
	for (i = 0; i < x->nbox && !ret; i++) {
		ret = dmxp_chan_open(l->r, i, &l->c[i]);
		if (!ret && !cfg->spin)
			ret = dmxp_chan_set_spin(l->c[i], 0);
		if (!ret)
			ret = dmxp_chan_set_timestamp(l->c[i], opt.stamp);
	}
	return ret;
}

static int dx_send(struct xport *x, unsigned int box, const void *buf)
{
	struct dmxp_local *l = x->local;

	if (x->nonblock)
		return dmxp_chan_send(l->c[box], buf, x->len, 0);
	return dmxp_chan_send_wait(l->c[box], buf, x->len, 0, DMXP_WAIT_FOREVER);
}

static int dx_recv(struct xport *x, unsigned int box, void *buf)
{
	struct dmxp_local *l = x->local;
	ssize_t n;

	if (x->nonblock)
		n = dmxp_chan_recv(l->c[box], buf, x->len, NULL);
	else
		n = dmxp_chan_recv_wait(l->c[box], buf, x->len, NULL, DMXP_WAIT_FOREVER);
	if (n < 0)
		return (int)n;
	return (size_t)n == x->len ? 0 : -EPROTO;
}

/* Zero-copy: the message is built in its slot and read in place. */
static int dx_send_zc(struct xport *x, unsigned int box, const void *buf)
{
	struct dmxp_local *l = x->local;
	struct dmxp_ref ref;
	int ret = dmxp_chan_reserve(l->c[box], &ref);

	if (ret)
		return ret;
	memcpy(ref.payload, buf, x->len);
	return dmxp_chan_commit(l->c[box], &ref, x->len, 0);
}

static int dx_recv_zc(struct xport *x, unsigned int box, u64 *seq)
{
	struct dmxp_local *l = x->local;
	struct dmxp_ref ref;
	int ret = dmxp_chan_peek(l->c[box], &ref);

	if (ret)
		return ret;
	*seq = get_seq(ref.payload);
	ret = ref.len == x->len ? 0 : -EPROTO;
	dmxp_chan_release(l->c[box], &ref);
	return ret;
}

#define MANY_MAX	64

static int dx_send_many(struct xport *x, unsigned int box, const void *buf,
			unsigned int n)
{
	struct dmxp_local *l = x->local;
	struct dmxp_smsg m[MANY_MAX];
	unsigned int i;

	if (n > MANY_MAX)
		n = MANY_MAX;
	for (i = 0; i < n; i++) {
		m[i].buf = (const unsigned char *)buf + (size_t)i * x->len;
		m[i].len = (__u32)x->len;
		m[i].type = 0;
	}
	return dmxp_chan_send_batch(l->c[box], m, n);
}

static int dx_recv_many(struct xport *x, unsigned int box, void *buf, unsigned int n)
{
	struct dmxp_local *l = x->local;
	struct dmxp_rmsg m[MANY_MAX];
	unsigned int i;
	int ret;

	if (n > MANY_MAX)
		n = MANY_MAX;
	for (i = 0; i < n; i++) {
		m[i].buf = (unsigned char *)buf + (size_t)i * x->len;
		m[i].buf_len = (__u32)x->len;
	}
	ret = dmxp_chan_recv_batch(l->c[box], m, n);
	for (i = 0; ret > 0 && i < (unsigned int)ret; i++)
		if (m[i].len != x->len)
			return -EPROTO;
	return ret;
}

static void dx_detach(struct xport *x)
{
	struct dmxp_local *l = x->local;
	unsigned int i;

	for (i = 0; i < x->nbox; i++)
		if (l->c[i])
			dmxp_chan_close(l->c[i]);
	if (l->r)
		dmxp_region_close(l->r);
	free(l);
	x->local = NULL;
}

static void dx_teardown(struct xport *x)
{
	struct dmxp_x *d = x->priv;
	unsigned int i;

	if (!d)
		return;
	if (d->r) {
		for (i = 0; i < x->nbox; i++)
			dmxp_chan_destroy(d->r, i);
		dmxp_region_close(d->r);
		dmxp_region_unlink(d->path);
	}
	free(d);
	x->priv = NULL;
}

/* Two relaxed loads from the channel entry, as vyukov's backlog. */
static u64 dx_backlog(struct xport *x, unsigned int box)
{
	struct dmxp_local *l = x->local;
	const struct dmxp_channel_entry *e =
		&dmxp_region_header(l->r)->channels[dmxp_chan_id(l->c[box])];
	u64 head = __atomic_load_n(&e->head, __ATOMIC_RELAXED);

	return __atomic_load_n(&e->tail, __ATOMIC_RELAXED) - head;
}

const struct xport_ops xp_dmxp = {
	.setup		= dx_setup,
	.attach		= dx_attach,
	.send		= dx_send,
	.recv		= dx_recv,
	.send_zc	= dx_send_zc,
	.recv_zc	= dx_recv_zc,
	.send_many	= dx_send_many,
	.recv_many	= dx_recv_many,
	.backlog	= dx_backlog,
	.detach		= dx_detach,
	.teardown	= dx_teardown,
};
