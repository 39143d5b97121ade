// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the peers the kernel itself offers, each used the way its
 * manual page teaches.
 *
 * futex	a word per inbox in a MAP_SHARED page: store, FUTEX_WAKE;
 *		FUTEX_WAIT while it is 0.  A signal, not a queue: latency only.
 * eventfd	an eventfd per inbox, the message number in its counter.
 *		A signal, not a queue: latency only.
 * pipe		a pipe per inbox; a message is one write() of len bytes,
 *		atomic up to PIPE_BUF, so several writers and readers share it.
 * uds		a SOCK_SEQPACKET socketpair per inbox: record boundaries
 *		kept, several writers and readers share its two ends.
 * mq		a POSIX message queue per inbox (mq_overview(7)).
 * efdshm	eventfd-signalled shared memory, the usual hand-made
 *		transport: the ring of spsc.h, and after each message the
 *		producer rings the eventfd "doorbell"; a consumer that finds
 *		the ring empty sleeps in read() on the eventfd.  One producer,
 *		one consumer.
 *
 * x->nonblock puts the descriptors in non-blocking mode at creation (the
 * descriptions are shared by every side after fork()).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "spsc.h"

/* The file descriptors of the fd-based peers: fd[b][0] receive, fd[b][1] send. */
struct fds {
	int	fd[2][2];
};

/* x->priv: a struct fds with no descriptor yet, or NULL. */
static struct fds *fds_new(struct xport *x)
{
	struct fds *f = malloc(sizeof(*f));
	int b;

	if (f)
		for (b = 0; b < 2; b++)
			f->fd[b][0] = f->fd[b][1] = -1;
	x->priv = f;
	return f;
}

static void fds_teardown(struct xport *x)
{
	struct fds *f = x->priv;
	int b, e;

	if (!f)
		return;
	for (b = 0; b < 2; b++)
		for (e = 0; e < 2; e++)
			if (f->fd[b][e] >= 0 && (e == 0 || f->fd[b][1] != f->fd[b][0]))
				close(f->fd[b][e]);
	free(f);
	x->priv = NULL;
}

/* Does this side receive from (@end 0) or send to (@end 1) inbox @b? */
static bool uses(const struct xport *x, unsigned int b, int end)
{
	if (x->bc->drv == DRV_TPUT)
		return end == 0 ? x->side == ROLE_CONSUMER : x->side == ROLE_PRODUCER;
	return end == 0 ? (int)b == x->side : (int)b != x->side;
}

/*
 * Close the ends this side does not use, so that a side that died shows
 * as end-of-file or EPIPE to the others instead of a hang.
 */
static int fds_attach(struct xport *x)
{
	struct fds *f = x->priv;
	unsigned int b;
	int e;

	for (b = 0; b < x->nbox; b++) {
		if (f->fd[b][0] == f->fd[b][1])
			continue;	/* one descriptor for both ends */
		for (e = 0; e < 2; e++) {
			if (!uses(x, b, e) && f->fd[b][e] >= 0) {
				close(f->fd[b][e]);
				f->fd[b][e] = -1;
			}
		}
	}
	return 0;
}

static int io_result(ssize_t n, size_t len)
{
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (n == 0 && len)
		return -EPIPE;	/* the other side is gone */
	return (size_t)n == len ? 0 : -EPROTO;
}

/* ----------------------------------------------------------------- futex */

static long sys_futex(__u32 *uaddr, int op, __u32 val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static int futex_setup(struct xport *x)
{
	x->priv = shared_alloc(4096);
	return x->priv ? 0 : -ENOMEM;
}

static int nop_attach(struct xport *x)
{
	(void)x;
	return 0;
}

static __u32 *futex_word(struct xport *x, unsigned int box)
{
	return (__u32 *)x->priv + box * 16;	/* a line each */
}

static int futex_send(struct xport *x, unsigned int box, const void *buf)
{
	__u32 *w = futex_word(x, box);

	/* Partner: the acquire in futex_recv(). */
	__atomic_store_n(w, (__u32)get_seq(buf) + 1, __ATOMIC_RELEASE);
	return sys_futex(w, FUTEX_WAKE, 1) < 0 ? -errno : 0;
}

static int futex_recv(struct xport *x, unsigned int box, void *buf)
{
	__u32 *w = futex_word(x, box), v;

	/* Partner: the release in futex_send(). */
	while (!(v = __atomic_load_n(w, __ATOMIC_ACQUIRE))) {
		if (x->nonblock)
			return -EAGAIN;
		if (sys_futex(w, FUTEX_WAIT, 0) < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	__atomic_store_n(w, 0, __ATOMIC_RELAXED);	/* the next one is a reply away */
	put_seq(buf, v - 1);
	return 0;
}

static void futex_teardown(struct xport *x)
{
	shared_free(x->priv, 4096);
	x->priv = NULL;
}

const struct xport_ops xp_futex = {
	.setup		= futex_setup,
	.attach		= nop_attach,
	.send		= futex_send,
	.recv		= futex_recv,
	.teardown	= futex_teardown,
};

/* --------------------------------------------------------------- eventfd */

static int efd_setup(struct xport *x)
{
	struct fds *f = fds_new(x);
	unsigned int b;

	if (!f)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++) {
		f->fd[b][0] = f->fd[b][1] =
			eventfd(0, EFD_CLOEXEC | (x->nonblock ? EFD_NONBLOCK : 0));
		if (f->fd[b][0] < 0)
			return -errno;
	}
	return 0;
}

static int efd_send(struct xport *x, unsigned int box, const void *buf)
{
	u64 v = get_seq(buf) + 1;

	return io_result(write(((struct fds *)x->priv)->fd[box][1], &v, 8), 8);
}

static int efd_recv(struct xport *x, unsigned int box, void *buf)
{
	u64 v;
	int ret = io_result(read(((struct fds *)x->priv)->fd[box][0], &v, 8), 8);

	if (!ret)
		put_seq(buf, v - 1);
	return ret;
}

const struct xport_ops xp_eventfd = {
	.setup		= efd_setup,
	.attach		= nop_attach,
	.send		= efd_send,
	.recv		= efd_recv,
	.teardown	= fds_teardown,
};

/* ------------------------------------------------------------------ pipe */

static int pipe_setup(struct xport *x)
{
	struct fds *f = fds_new(x);
	unsigned int b;

	if (!f)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++)
		if (pipe2(f->fd[b], O_CLOEXEC | (x->nonblock ? O_NONBLOCK : 0)))
			return -errno;
	return 0;
}

static int fd_send(struct xport *x, unsigned int box, const void *buf)
{
	return io_result(write(((struct fds *)x->priv)->fd[box][1], buf, x->len), x->len);
}

static int fd_recv(struct xport *x, unsigned int box, void *buf)
{
	return io_result(read(((struct fds *)x->priv)->fd[box][0], buf, x->len), x->len);
}

const struct xport_ops xp_pipe = {
	.setup		= pipe_setup,
	.attach		= fds_attach,
	.send		= fd_send,
	.recv		= fd_recv,
	.teardown	= fds_teardown,
};

/* ------------------------------------------------------------------- uds */

static int uds_setup(struct xport *x)
{
	struct fds *f = fds_new(x);
	unsigned int b;

	if (!f)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
			       (x->nonblock ? SOCK_NONBLOCK : 0), 0, sv))
			return -errno;
		f->fd[b][0] = sv[0];
		f->fd[b][1] = sv[1];
	}
	return 0;
}

static int uds_send(struct xport *x, unsigned int box, const void *buf)
{
	return io_result(send(((struct fds *)x->priv)->fd[box][1], buf, x->len, MSG_NOSIGNAL),
			 x->len);
}

static int uds_recv(struct xport *x, unsigned int box, void *buf)
{
	return io_result(recv(((struct fds *)x->priv)->fd[box][0], buf, x->len, 0), x->len);
}

const struct xport_ops xp_uds = {
	.setup		= uds_setup,
	.attach		= fds_attach,
	.send		= uds_send,
	.recv		= uds_recv,
	.teardown	= fds_teardown,
};

/* -------------------------------------------------------------------- mq */

#define MQ_DEPTH	256	/* messages per queue; falls back to the system's msg_max */

static int mq_setup(struct xport *x)
{
	struct fds *f = fds_new(x);
	static unsigned int seq;
	unsigned int b;

	if (!f)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++) {
		struct mq_attr a = { .mq_maxmsg = MQ_DEPTH, .mq_msgsize = (long)x->len };
		int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
			    (x->nonblock ? O_NONBLOCK : 0);
		char name[64];
		mqd_t q;

		snprintf(name, sizeof(name), "/dmxp-bench-%d-%u-%u", (int)getpid(), seq++, b);
		q = mq_open(name, flags, 0600, &a);
		if (q == (mqd_t)-1 && (errno == EINVAL || errno == EMFILE)) {
			/* Without CAP_SYS_RESOURCE: the default depth. */
			a.mq_maxmsg = 10;
			q = mq_open(name, flags, 0600, &a);
		}
		if (q == (mqd_t)-1) {
			if (errno == ENOSYS) {
				snprintf(x->why, sizeof(x->why),
					 "POSIX message queues are not in this kernel");
				return SKIPPED;
			}
			return -errno;
		}
		mq_unlink(name);	/* the sides inherit the descriptor */
		f->fd[b][0] = f->fd[b][1] = (int)q;
	}
	return 0;
}

static int mq_send_x(struct xport *x, unsigned int box, const void *buf)
{
	mqd_t q = (mqd_t)((struct fds *)x->priv)->fd[box][1];

	return mq_send(q, buf, x->len, 0) ? -errno : 0;
}

static int mq_recv_x(struct xport *x, unsigned int box, void *buf)
{
	mqd_t q = (mqd_t)((struct fds *)x->priv)->fd[box][0];

	return io_result(mq_receive(q, buf, x->len, NULL), x->len);
}

const struct xport_ops xp_mq = {
	.setup		= mq_setup,
	.attach		= nop_attach,
	.send		= mq_send_x,
	.recv		= mq_recv_x,
	.teardown	= fds_teardown,
};

/* ---------------------------------------------------------------- efdshm */

#define EFDSHM_SLOTS	1024

struct efdshm {
	struct fds	fds;		/* fd[b][0] == fd[b][1]: the doorbell */
	void		*mem;		/* the rings */
	size_t		bytes;
};

static int efdshm_setup(struct xport *x)
{
	struct efdshm *e = calloc(1, sizeof(*e));
	unsigned int b;

	if (!e)
		return -ENOMEM;
	for (b = 0; b < 2; b++)
		e->fds.fd[b][0] = e->fds.fd[b][1] = -1;
	x->priv = e;
	e->bytes = spsc_ring_size(x->len, EFDSHM_SLOTS) * x->nbox;
	e->mem = shared_alloc(e->bytes);
	if (!e->mem)
		return -ENOMEM;
	if (x->bc->nprod > 1 || x->bc->ncons > 1) {
		snprintf(x->why, sizeof(x->why), "single producer, single consumer only");
		return SKIPPED;
	}
	for (b = 0; b < x->nbox; b++) {
		e->fds.fd[b][0] = e->fds.fd[b][1] = eventfd(0, EFD_CLOEXEC);
		if (e->fds.fd[b][0] < 0)
			return -errno;
	}
	return 0;
}

static int efdshm_attach(struct xport *x)
{
	struct efdshm *e = x->priv;
	struct spsc_end *ends = calloc(2, sizeof(*ends));
	unsigned int b;

	if (!ends)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++)
		spsc_end_init(&ends[b], (struct spsc_ring *)((char *)e->mem + b *
			      spsc_ring_size(x->len, EFDSHM_SLOTS)), x->len,
			      EFDSHM_SLOTS, uses(x, b, 1), 1);	/* the doorbell: every message */
	x->local = ends;
	return 0;
}

static int efdshm_send(struct xport *x, unsigned int box, const void *buf)
{
	struct efdshm *e = x->priv;
	u64 one = 1;
	int ret = spsc_push(&((struct spsc_end *)x->local)[box], buf);

	if (ret)
		return ret;
	return io_result(write(e->fds.fd[box][1], &one, 8), 8);
}

static int efdshm_recv(struct xport *x, unsigned int box, void *buf)
{
	struct efdshm *e = x->priv;
	u64 v;

	for (;;) {
		int ret = spsc_pop(&((struct spsc_end *)x->local)[box], buf);

		if (ret != -EAGAIN || x->nonblock)
			return ret;
		/* Empty: sleep until the producer rings, then look again. */
		ret = io_result(read(e->fds.fd[box][0], &v, 8), 8);
		if (ret && ret != -EINTR)
			return ret;
	}
}

static void efdshm_detach(struct xport *x)
{
	free(x->local);
	x->local = NULL;
}

static void efdshm_teardown(struct xport *x)
{
	struct efdshm *e = x->priv;
	unsigned int b;

	if (!e)
		return;
	for (b = 0; b < 2; b++)
		if (e->fds.fd[b][0] >= 0)
			close(e->fds.fd[b][0]);
	shared_free(e->mem, e->bytes);
	free(e);
	x->priv = NULL;
}

const struct xport_ops xp_efdshm = {
	.setup		= efdshm_setup,
	.attach		= efdshm_attach,
	.send		= efdshm_send,
	.recv		= efdshm_recv,
	.detach		= efdshm_detach,
	.teardown	= efdshm_teardown,
};
