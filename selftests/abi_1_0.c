// SPDX-License-Identifier: MIT
/*
 * A program written for, and built against, libdmxp 1.0: its header, its
 * library.  test_abi.sh runs it on the tree's library, where every call
 * must bind to the version it was built for and behave as it did.  Not
 * built by the Makefile: test_abi.sh builds it against the 1.0 header,
 * where dmxp_chan_abort() and dmxp_chan_release() return void.
 *
 * usage: abi_1_0 REGION_PATH; prints "ok" and exits 0, or says which
 * call failed and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <dmxp.h>

#define CHECK(expr, want) do {						\
	long __r = (long)(expr);					\
	if (__r != (long)(want)) {					\
		fprintf(stderr, "abi_1_0: %s: %ld, expected %ld\n",	\
			#expr, __r, (long)(want));			\
		return 1;						\
	}								\
} while (0)

/*
 * Every function 1.0 exported, referenced: the program then needs each
 * one, and with LD_BIND_NOW a library that lacks one fails to load it.
 */
static void *const everything[] __attribute__((used)) = {
	dmxp_region_open, dmxp_region_close, dmxp_region_unlink, dmxp_region_path,
	dmxp_region_size, dmxp_region_free, dmxp_region_header, dmxp_region_set_runtime,
	dmxp_chan_create, dmxp_chan_destroy, dmxp_chan_open, dmxp_chan_close,
	dmxp_chan_id, dmxp_chan_capacity, dmxp_chan_info, dmxp_chan_list,
	dmxp_chan_send, dmxp_chan_recv, dmxp_chan_reserve, dmxp_chan_commit,
	dmxp_chan_abort, dmxp_chan_peek, dmxp_chan_release, dmxp_chan_send_batch,
	dmxp_chan_recv_batch, dmxp_chan_recv_wait, dmxp_chan_send_wait, dmxp_chan_set_spin,
	dmxp_chan_arm, dmxp_chan_disarm, dmxp_chan_fd,
};

static int exercise(struct dmxp_region *r)
{
	struct dmxp_chan *c;
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref;
	struct dmxp_smsg out[3] = {
		{ .buf = "a", .len = 1, .type = 1 },
		{ .buf = "bb", .len = 2, .type = 2 },
		{ .buf = "ccc", .len = 3, .type = 3 },
	};
	struct dmxp_rmsg in[3];
	char bufs[3][DMXP_MAX_PAYLOAD], buf[DMXP_MAX_PAYLOAD];
	struct dmxp_chan_info info;
	unsigned int ids[4];
	int i;

	CHECK(sizeof(everything) / sizeof(everything[0]), 31);
	CHECK(dmxp_region_size(r), 1 << 20);
	CHECK(dmxp_region_header(r) != NULL, 1);
	CHECK(dmxp_region_free(r) > 0, 1);
	CHECK(dmxp_region_set_runtime(r, 0), 0);
	CHECK(dmxp_chan_create(r, 5, 8), 0);
	CHECK(dmxp_chan_list(r, ids, 4), 1);
	CHECK(ids[0], 5);
	CHECK(dmxp_chan_info(r, 5, &info), 0);
	CHECK(info.capacity, 8);
	CHECK(dmxp_chan_open(r, 5, &c), 0);
	CHECK(dmxp_chan_id(c), 5);
	CHECK(dmxp_chan_capacity(c), 8);
	CHECK(dmxp_chan_set_spin(c, 1000), 0);

	/* Copy in, copy out, with the metadata. */
	CHECK(dmxp_chan_send(c, "hello", 5, 42), 0);
	CHECK(dmxp_chan_recv(c, buf, sizeof(buf), &meta), 5);
	CHECK(memcmp(buf, "hello", 5), 0);
	CHECK(meta.message_type, 42);
	CHECK(meta.channel_id, 5);
	CHECK(dmxp_chan_recv(c, buf, sizeof(buf), NULL), -EAGAIN);

	/* Zero-copy: a reservation aborted (void in 1.0), one committed. */
	CHECK(dmxp_chan_reserve(c, &ref), 0);
	dmxp_chan_abort(c, &ref);
	CHECK(dmxp_chan_reserve(c, &ref), 0);
	memcpy(ref.payload, "zc", 2);
	CHECK(dmxp_chan_commit(c, &ref, 2, 7), 0);
	CHECK(dmxp_chan_peek(c, &ref), 0);
	CHECK(ref.len, 2);
	CHECK(memcmp(ref.payload, "zc", 2), 0);
	dmxp_chan_release(c, &ref);

	/* Batches. */
	CHECK(dmxp_chan_send_batch(c, out, 3), 3);
	for (i = 0; i < 3; i++) {
		in[i].buf = bufs[i];
		in[i].buf_len = sizeof(bufs[i]);
	}
	CHECK(dmxp_chan_recv_batch(c, in, 3), 3);
	for (i = 0; i < 3; i++) {
		CHECK(in[i].len, out[i].len);
		CHECK(memcmp(bufs[i], out[i].buf, out[i].len), 0);
		CHECK(in[i].meta.message_type, out[i].type);
	}

	/* The blocking calls: a free slot now, no message within 1 ms. */
	CHECK(dmxp_chan_send_wait(c, "w", 1, 0, 1000000), 0);
	CHECK(dmxp_chan_recv_wait(c, buf, sizeof(buf), NULL, 1000000), 1);
	CHECK(dmxp_chan_recv_wait(c, buf, sizeof(buf), NULL, 1000000), -ETIMEDOUT);

	dmxp_chan_close(c);
	CHECK(dmxp_chan_destroy(r, 5), 0);
	return 0;
}

int main(int argc, char **argv)
{
	struct dmxp_region *r;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: abi_1_0 REGION_PATH\n");
		return 2;
	}
	CHECK(dmxp_region_open(argv[1], 1 << 20, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r), 0);
	CHECK(strcmp(dmxp_region_path(r), argv[1]), 0);
	ret = exercise(r);
	dmxp_region_close(r);
	dmxp_region_unlink(argv[1]);
	if (!ret)
		printf("ok\n");
	return ret;
}
