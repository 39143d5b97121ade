// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the ZeroMQ peer, over ipc:// (UNIX domain stream sockets).
 *
 * Every inbox is served by PUSH/PULL sockets: each process that receives
 * from an inbox binds one PULL socket at an endpoint of its own, and each
 * process that sends to it connects one PUSH socket to all of those
 * endpoints.  A ping-pong has two inboxes with one receiver each (side s
 * binds inbox s and connects to inbox !s); a throughput case has inbox 0
 * with nprod PUSHes each connected to ncons PULLs.  PUSH/PULL is ZeroMQ's
 * work queue: a PUSH hands each message to exactly one of its connected
 * peers, round-robin over those that are not at their high-water mark,
 * and blocks (or gives EAGAIN) rather than drop when all of them are; a
 * PULL fair-queues from all of its peers.  That is what dmxp's inbox
 * does, without a broker in between.
 *
 * ZeroMQ contexts do not survive fork(), so the parent only names the
 * endpoints and maps some shared counters (setup), and removes the files
 * (teardown); each side makes its context and sockets in attach().  A
 * PUSH queues messages on a connecting pipe before the connection is up
 * (ZMQ_IMMEDIATE off), so nothing is lost nor skipped by the round-robin,
 * but attach() still waits, through a socket monitor, until every PUSH
 * finished its handshake with every PULL, so that no run times ZeroMQ's
 * reconnect timer.
 *
 * ZMQ_LINGER alone does not get every message across.  It keeps a closing
 * PUSH until its queue is written to the socket, but a PULL whose queue
 * is at its high-water mark has stopped reading the socket, and when the
 * PUSH then closes the connection, libzmq (4.3) takes the hang-up for an
 * error and drops what was still unread in the socket.  So each side
 * counts, in shared memory, the messages it put into and took from each
 * inbox, and a sender's detach() waits until the inbox's receivers took
 * everything its senders sent (or all of them detached, or nothing moved
 * for a while) before it closes anything.  Counting is a plain store to
 * a cache line of the side's own, beside the microseconds ZeroMQ takes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* DMXP_BENCH_NO_PEERS builds the peer as if absent (dmxp-bench-nopeers). */
#if __has_include(<zmq.h>) && !defined(DMXP_BENCH_NO_PEERS)
#include <zmq.h>

#define ZX_HWM		1000	/* messages queued per pipe and direction */
#define ZX_LINGER_MS	5000	/* for the socket to take what is queued */
#define ZX_RETRY_MS	5	/* connect retry while the PULL is not bound */
#define ZX_ATTACH_MS	20000	/* for every connection's handshake */
#define ZX_DRAIN_MS	5000	/* detach: the longest wait without progress */

/* One side's count of the messages it sent to or took from one inbox. */
struct zx_count {
	u64		n;
	bool		done;		/* detached: n is final */
} __attribute__((aligned(64)));

struct zx_priv {
	char		base[64];	/* /tmp/dmxp-bench-zmq-<pid>-<n> */
	unsigned int	nbox;
	unsigned int	ntx[2];		/* senders (connected PUSHes) per inbox */
	unsigned int	nrx[2];		/* receivers (bound PULLs) per inbox */
	/* Shared: per inbox, its senders' counts, then its receivers'. */
	struct zx_count	*count;
	size_t		count_size;
};

struct zx_local {
	void		*ctx;
	void		*rx[2];		/* PULL: the inbox this side reads */
	void		*tx[2];		/* PUSH: to every reader of the inbox */
	struct zx_count	*rxc[2];	/* this side's counts */
	struct zx_count	*txc[2];
};

/* A negative errno for the last ZeroMQ failure. */
static int zx_err(void)
{
	int e = zmq_errno();

	if (e > 0 && e < ZMQ_HAUSNUMERO)
		return -e;
	switch (e) {
	case ETERM:
		return -ESHUTDOWN;
	case EFSM:
		return -EPROTO;
	case ENOCOMPATPROTO:
		return -EPROTONOSUPPORT;
	case EMTHREAD:
		return -EMFILE;
	default:
		return -EIO;
	}
}

/* The socket file of inbox @box's receiver @i. */
static void zx_path(const struct zx_priv *p, unsigned int box,
		    unsigned int i, char *buf, size_t size)
{
	snprintf(buf, size, "%s-%u-%u", p->base, box, i);
}

static void zx_endpoint(const struct zx_priv *p, unsigned int box,
			unsigned int i, char *buf, size_t size)
{
	char path[96];

	zx_path(p, box, i, path, sizeof(path));
	snprintf(buf, size, "ipc://%s", path);
}

/* Inbox @box's sender (@rx false) or receiver (@rx true) @i's count. */
static struct zx_count *zx_count(const struct zx_priv *p, unsigned int box,
				 bool rx, unsigned int i)
{
	struct zx_count *c = p->count;
	unsigned int b;

	for (b = 0; b < box; b++)
		c += p->ntx[b] + p->nrx[b];
	return c + (rx ? p->ntx[box] : 0) + i;
}

static void zx_count_one(struct zx_count *c)
{
	/* Only this side writes it; the others read it in their detach. */
	__atomic_store_n(&c->n, c->n + 1, __ATOMIC_RELAXED);
}

static int zx_setup(struct xport *x)
{
	static unsigned int runs;
	const struct bench_case *bc = x->bc;
	bool tput = bc->drv == DRV_TPUT;
	struct zx_priv *p;
	unsigned int box;

	if (x->nbox != (tput ? 1 : 2))
		return -EINVAL;
	if (tput && (!bc->nprod || !bc->ncons))
		return -EINVAL;
	if (x->len < MSG_MIN || x->len > MSG_MAX)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->base, sizeof(p->base), "/tmp/dmxp-bench-zmq-%d-%u",
		 (int)getpid(), runs++);
	p->nbox = x->nbox;
	for (box = 0; box < p->nbox; box++) {
		p->ntx[box] = tput ? bc->nprod : 1;
		p->nrx[box] = tput ? bc->ncons : 1;
		p->count_size += (p->ntx[box] + p->nrx[box]) *
				 sizeof(*p->count);
	}
	p->count = shared_alloc(p->count_size);
	if (!p->count) {
		free(p);
		return -ENOMEM;
	}
	x->priv = p;
	return 0;
}

static int zx_setopt(void *sock, int name, int val)
{
	return zmq_setsockopt(sock, name, &val, sizeof(val)) ? zx_err() : 0;
}

static int zx_open(struct zx_local *l, int type, void **sockp)
{
	int hwm = type == ZMQ_PUSH ? ZMQ_SNDHWM : ZMQ_RCVHWM;
	void *sock;
	int ret;

	sock = zmq_socket(l->ctx, type);
	if (!sock)
		return zx_err();
	*sockp = sock;
	ret = zx_setopt(sock, ZMQ_LINGER, ZX_LINGER_MS);
	if (!ret)
		ret = zx_setopt(sock, hwm, ZX_HWM);
	if (!ret && type == ZMQ_PUSH) {
		/* Queue on a pipe whose connection is not up yet. */
		ret = zx_setopt(sock, ZMQ_IMMEDIATE, 0);
		if (!ret)
			ret = zx_setopt(sock, ZMQ_RECONNECT_IVL, ZX_RETRY_MS);
	}
	return ret;
}

/* Inbox @box's receiver @i binds its PULL. */
static int zx_bind_rx(struct xport *x, struct zx_local *l, unsigned int box,
		      unsigned int i)
{
	char ep[128];
	int ret;

	ret = zx_open(l, ZMQ_PULL, &l->rx[box]);
	if (ret)
		return ret;
	l->rxc[box] = zx_count(x->priv, box, true, i);
	zx_endpoint(x->priv, box, i, ep, sizeof(ep));
	return zmq_bind(l->rx[box], ep) ? zx_err() : 0;
}

/*
 * Wait until the monitor @mon counted @n successful handshakes; fail on a
 * failed one or at the deadline.
 */
static int zx_wait_handshakes(void *mon, unsigned int n)
{
	u64 deadline = now_ns() + (u64)ZX_ATTACH_MS * 1000000;
	unsigned int done = 0;

	while (done < n) {
		zmq_pollitem_t pi = { .socket = mon, .events = ZMQ_POLLIN };
		u64 now = now_ns();
		uint16_t event;
		zmq_msg_t msg;
		int more, rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = zmq_poll(&pi, 1, (long)((deadline - now) / 1000000 + 1));
		if (rc < 0) {
			if (zmq_errno() == EINTR)
				continue;
			return zx_err();
		}
		if (!rc)
			continue;
		/* An event is [u16 event, u32 value], then the endpoint. */
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, mon, 0) < 0) {
			zmq_msg_close(&msg);
			return zx_err();
		}
		if (zmq_msg_size(&msg) < sizeof(event)) {
			zmq_msg_close(&msg);
			return -EPROTO;
		}
		memcpy(&event, zmq_msg_data(&msg), sizeof(event));
		more = zmq_msg_more(&msg);
		zmq_msg_close(&msg);
		while (more) {
			zmq_msg_init(&msg);
			if (zmq_msg_recv(&msg, mon, 0) < 0) {
				zmq_msg_close(&msg);
				return zx_err();
			}
			more = zmq_msg_more(&msg);
			zmq_msg_close(&msg);
		}
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			done++;
		else
			return -ECONNREFUSED;
	}
	return 0;
}

/*
 * Inbox @box's sender @i connects its PUSH to every receiver of the
 * inbox, and waits until every connection finished its handshake.
 */
static int zx_connect_tx(struct xport *x, struct zx_local *l,
			 unsigned int box, unsigned int i)
{
	const struct zx_priv *p = x->priv;
	char ep[128];
	unsigned int r;
	void *mon;
	int ret;

	ret = zx_open(l, ZMQ_PUSH, &l->tx[box]);
	if (ret)
		return ret;
	l->txc[box] = zx_count(p, box, false, i);
	/*
	 * The monitor drops events while nobody is connected to it, so
	 * connect to it before the PUSH connects anywhere.
	 */
	snprintf(ep, sizeof(ep), "inproc://dmxp-bench-monitor-%u", box);
	if (zmq_socket_monitor(l->tx[box], ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
			       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
		return zx_err();
	mon = zmq_socket(l->ctx, ZMQ_PAIR);
	if (!mon) {
		ret = zx_err();
		goto out_monitor;
	}
	ret = zx_setopt(mon, ZMQ_LINGER, 0);
	if (ret)
		goto out_close;
	if (zmq_connect(mon, ep)) {
		ret = zx_err();
		goto out_close;
	}
	for (r = 0; r < p->nrx[box]; r++) {
		zx_endpoint(p, box, r, ep, sizeof(ep));
		if (zmq_connect(l->tx[box], ep)) {
			ret = zx_err();
			goto out_close;
		}
	}
	ret = zx_wait_handshakes(mon, p->nrx[box]);
out_close:
	zmq_close(mon);
out_monitor:
	zmq_socket_monitor(l->tx[box], NULL, 0);
	return ret;
}

/*
 * Wait until inbox @box's receivers took every message its senders sent,
 * once all of those are done, or until every receiver is gone: true, what
 * is still queued (if anything) will never be taken.  False when they
 * took nothing for ZX_DRAIN_MS.
 */
static bool zx_drain(const struct zx_priv *p, unsigned int box)
{
	u64 last = 0, since = now_ns();
	unsigned int i;

	for (;;) {
		bool senders_done = true, receivers_gone = true;
		u64 sent = 0, taken = 0;
		struct zx_count *c;

		for (i = 0; i < p->ntx[box]; i++) {
			c = zx_count(p, box, false, i);
			/* done before n: once done, n is final. */
			if (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
				senders_done = false;
			sent += __atomic_load_n(&c->n, __ATOMIC_RELAXED);
		}
		for (i = 0; i < p->nrx[box]; i++) {
			c = zx_count(p, box, true, i);
			if (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
				receivers_gone = false;
			taken += __atomic_load_n(&c->n, __ATOMIC_RELAXED);
		}
		if (receivers_gone || (senders_done && taken >= sent))
			return true;
		if (taken != last) {
			last = taken;
			since = now_ns();
		} else if (now_ns() - since > (u64)ZX_DRAIN_MS * 1000000) {
			return false;
		}
		usleep(100);
	}
}

/* This side takes no more and sends no more. */
static void zx_done(struct zx_local *l)
{
	unsigned int box;

	for (box = 0; box < 2; box++) {
		if (l->rxc[box])
			__atomic_store_n(&l->rxc[box]->done, true,
					 __ATOMIC_RELEASE);
		if (l->txc[box])
			__atomic_store_n(&l->txc[box]->done, true,
					 __ATOMIC_RELEASE);
	}
}

static void zx_close(struct xport *x)
{
	struct zx_local *l = x->local;
	unsigned int box;

	for (box = 0; box < 2; box++) {
		if (l->rx[box])
			zmq_close(l->rx[box]);
		if (l->tx[box])
			zmq_close(l->tx[box]);
	}
	/* Blocks until every PUSH wrote out its queue, or ZX_LINGER_MS. */
	while (zmq_ctx_term(l->ctx) && zmq_errno() == EINTR)
		;
	free(l);
	x->local = NULL;
}

static void zx_detach(struct xport *x)
{
	struct zx_local *l = x->local;
	unsigned int box;

	if (!l)
		return;
	zx_done(l);
	/*
	 * Keep the connections until the receivers took everything; then
	 * do not linger on what nobody will take (a receiver gone).
	 */
	for (box = 0; box < 2; box++) {
		if (l->txc[box] && zx_drain(x->priv, box))
			zx_setopt(l->tx[box], ZMQ_LINGER, 0);
	}
	zx_close(x);
}

static int zx_attach(struct xport *x)
{
	const struct zx_priv *p = x->priv;
	unsigned int s = x->side;
	struct zx_local *l;
	int ret;

	if (x->bc->drv != DRV_TPUT ? s > 1 :
	    x->idx >= (s == ROLE_CONSUMER ? p->nrx[0] : p->ntx[0]))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ctx = zmq_ctx_new();
	if (!l->ctx) {
		ret = zx_err();
		free(l);
		return ret;
	}
	x->local = l;
	if (x->bc->drv != DRV_TPUT) {
		/* Bind first: the peer's attach waits for our PULL. */
		ret = zx_bind_rx(x, l, s, 0);
		if (!ret)
			ret = zx_connect_tx(x, l, !s, 0);
	} else if (s == ROLE_CONSUMER) {
		ret = zx_bind_rx(x, l, 0, x->idx);
	} else {
		ret = zx_connect_tx(x, l, 0, x->idx);
	}
	if (ret) {
		zx_done(l);
		zx_close(x);
	}
	return ret;
}

static int zx_send(struct xport *x, unsigned int box, const void *buf)
{
	struct zx_local *l = x->local;
	int rc;

	if (box > 1 || !l->tx[box])
		return -EINVAL;
	rc = zmq_send(l->tx[box], buf, x->len, x->nonblock ? ZMQ_DONTWAIT : 0);
	if (rc < 0)
		return zx_err();
	zx_count_one(l->txc[box]);
	return (size_t)rc == x->len ? 0 : -EIO;
}

static int zx_recv(struct xport *x, unsigned int box, void *buf)
{
	struct zx_local *l = x->local;
	int rc;

	if (box > 1 || !l->rx[box])
		return -EINVAL;
	/* Gives the message's length, also when it cut it at x->len. */
	rc = zmq_recv(l->rx[box], buf, x->len, x->nonblock ? ZMQ_DONTWAIT : 0);
	if (rc < 0)
		return zx_err();
	zx_count_one(l->rxc[box]);
	return (size_t)rc == x->len ? 0 : -EPROTO;
}

static void zx_teardown(struct xport *x)
{
	struct zx_priv *p = x->priv;
	unsigned int box, i;
	char path[96];

	if (!p)
		return;
	/* A bound socket removes its file on close, unless its side died. */
	for (box = 0; box < p->nbox; box++) {
		for (i = 0; i < p->nrx[box]; i++) {
			zx_path(p, box, i, path, sizeof(path));
			unlink(path);
		}
	}
	shared_free(p->count, p->count_size);
	free(p);
	x->priv = NULL;
}

const struct xport_ops xp_zmq = {
	.setup		= zx_setup,
	.attach		= zx_attach,
	.send		= zx_send,
	.recv		= zx_recv,
	.detach		= zx_detach,
	.teardown	= zx_teardown,
};

#else /* !__has_include(<zmq.h>) */

static int zx_setup(struct xport *x)
{
	snprintf(x->why, sizeof(x->why),
		 "ZeroMQ is not installed (Debian package libzmq3-dev)");
	return SKIPPED;
}

const struct xport_ops xp_zmq = {
	.setup		= zx_setup,
};

#endif /* __has_include(<zmq.h>) */
