/* SPDX-License-Identifier: MIT */
/*
 * The fuzzer's own header: its limits, the model of what the module
 * holds, the state of the run, and what its files share.
 */
#ifndef FUZZ_KMOD_H
#define FUZZ_KMOD_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/dmxp.h>

#include "kselftest.h"
#include "kmod_common.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE	0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC		0x80000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef PROT_SEM
#define PROT_SEM		0x8
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED	0x4000000
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT		0x00000008
#endif

#define SYSFS_DIR	"/sys/kernel/dmxp"
#define PARAM_DIR	"/sys/module/dmxp/parameters"

/* The smallest region the module takes: the header and one ring of 2. */
#define MIN_SIZE	(DMXP_HEADER_SIZE + DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)
/* The smallest that gets a claim table, between the header and the rings. */
#define CLAIMS_MIN_SIZE	(DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE + \
			 DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)
#define CLAIMS_END	(DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE)
#define META		sizeof(struct dmxp_msg_meta)
#define MSG_MAX		(META + DMXP_MAX_PAYLOAD)

#define NSLOTS		6	/* region names the run uses */
#define NCH		9	/* channel ids the run uses */
#define MAX_INST	64	/* regions alive, named or not */
#define MAX_FILES	24	/* open /dev/dmxp files */
#define MAX_DEVFDS	24
#define MAX_CHFDS	24
#define MAX_EVFDS	8
#define MAX_PIECES	96	/* mapped VMAs of regions */
#define MAX_REGS	192	/* eventfd registrations */
#define MAX_WILD	2
#define CHILD_FAILED	3	/* exit status of a child that found a failure */

/* ------------------------------------------------------------------ model */

struct mchan {
	bool		present;
	bool		band_known;
	__u64		cap;
	__u64		band;
	unsigned int	epoch;		/* +1 at every create and destroy: the generation */
	__u64		repaired;	/* slots repaired since created, */
	__u64		tombstoned;	/* and tombstones: exact while !table_dirty */
	__u64		seen;		/* repairs the last check saw */
};

struct minst {				/* a region, from creation until freed */
	bool		used;
	bool		named;		/* in the registry: not destroyed */
	bool		pinned;		/* a child's: the parent holds it */
	int		slot;		/* its name */
	__u64		size;
	__u32		mode;
	__u32		last_lease;	/* the highest lease seen: leases only grow */
	bool		hdr_dirty;	/* garbage may be in the header or entries */
	bool		table_dirty;	/* garbage may be in the claim table */
	bool		cursor_known;
	__u64		cursor;		/* alloc_cursor, when known */
	struct mchan	ch[NCH];
};

struct mfile {				/* an open file description of /dev/dmxp */
	bool		used;
	bool		inherited;	/* a child's: the parent holds it */
	bool		versioned;
	int		acc;		/* O_RDONLY, O_WRONLY or O_RDWR */
	int		inst;		/* bound region, or -1 */
	__u32		lease;		/* its claim owner in that region */
	int		nfds;		/* fds of this process on it */
};

struct mreg {				/* an eventfd registration */
	int		inst, ch, file;
	long		ev;
};

/* What the kernel holds: what a child reports back to its parent. */
struct shared {
	struct minst	inst[MAX_INST];
	struct mfile	file[MAX_FILES];
	struct mreg	reg[MAX_REGS];
	int		nreg;
};

struct mdevfd {
	int		fd;		/* -1: free */
	int		file;
};

struct mchfd {
	int		fd;
	int		inst, ch;
	unsigned int	epoch;		/* of the channel when opened */
	bool		nonblock;
	bool		poll_only;	/* of a read-only binding: no read or write */
	bool		in_epoll;
	bool		inherited;	/* a child's: its flags are the parent's too */
};

struct mevfd {
	int		fd;
	long		ev;		/* identity of the eventfd */
};

struct mpiece {				/* one VMA of a mapped region */
	unsigned char	*addr;
	size_t		len;
	__u64		off;		/* region offset of addr */
	int		prot;
	bool		maywrite;
	int		file, inst;
};

enum { K_DEV, K_CHAN, K_EV, K_EPOLL };

/* The run: its parameters, the module's, the model, and the counters. */
struct fuzz_state {
	/* parameters */
	unsigned long long seed, max_ops;
	double		seconds;
	bool		verbose, no_wild;
	unsigned int	op_timeout;
	__u64		budget;
	/* the module */
	__u64		default_size, max_region_size, max_total_size;
	__u32		default_mode;
	__u64		total_before;	/* bytes of the regions there at the start */
	/* names */
	char		name[NSLOTS][DMXP_NAME_MAX];
	char		nx_name[DMXP_NAME_MAX];
	char		race_name[DMXP_NAME_MAX];	/* only op_race() uses it */
	char		crash_name[DMXP_NAME_MAX];	/* only op_crash() uses it */
	int		default_slot;
	/* the model */
	struct shared	sh;
	struct mdevfd	devfd[MAX_DEVFDS];
	struct mchfd	chfd[MAX_CHFDS];
	struct mevfd	evfd[MAX_EVFDS];
	struct mpiece	piece[MAX_PIECES];
	long		next_ev;
	int		epfd;
	/* processes */
	bool		in_child, is_wild;
	bool		wild_running;	/* a child's: the parent has wild children */
	const char	*who;
	pid_t		wild[MAX_WILD];
	unsigned long long wild_until[MAX_WILD];
	int		nwild;
	/* counters */
	unsigned long long ops, calls, forks, wilds, errs[160];
	unsigned long long repairs, repairs_waited;	/* checked by op_crash() */
	unsigned long long repairs_seen;	/* where claim records were garbage */
	unsigned long	pg;
};

/* ----------------------------------------------------------- expectations */

/*
 * For each errno, whether its condition holds for the call about to be
 * made: NO, YES, or MAYBE when the model cannot tell.  The call may
 * return an errno that is YES or MAYBE, and may succeed only if none is
 * YES.  Which of several errors that hold is returned is not specified.
 */
enum tri { NO, MAYBE, YES };

#define NERR	160

struct expect {
	unsigned char t[NERR];
};

/* ------------------------------------------------------------ fd tables */

/* Pick one of @n candidates, or -1. */
#define PICK(n, cond) ({						\
	int __c[(n)], __k = 0, __i;					\
	for (__i = 0; __i < (n); __i++)					\
		if (cond)						\
			__c[__k++] = __i;				\
	__k ? __c[below(__k)] : -1;					\
})

/* ------------------------------------------------------------- arguments */

/*
 * Where an ioctl's argument lives: the normal page; a bad pointer; a
 * read-only page (the module cannot write its output there); or a mapped
 * region (the module's own memory).
 */
enum argm { A_OK, A_FAULT, A_RO, A_REGION };

struct argp {
	enum argm	m;
	void		*p;
	const char	*what;
};

/* A region name: a slot (>= 0), NAME_NX (valid, never created) or NAME_BAD. */
#define NAME_NX		(-1)
#define NAME_BAD	(-2)

/* ------------------------------------------------------------ the walk */

/* A kind of step of the walk, with its weight. */
struct op {
	const char	*name;
	bool		(*fn)(void);
	unsigned int	weight;
	bool		wild_ok;
	unsigned long long n;
};

/* ------------------------------------------------ shared between the files */

/* model.c */
extern const __u32 chan_ids[NCH];
extern struct fuzz_state g;
struct minst *inst(int i);
struct mfile *file(int f);
int named_inst(int slot);
bool has_claims(__u64 size);
__u64 bands_start(__u64 size);
int inst_new(int slot, __u64 size, __u32 mode);
void mark_dirty(int ins, __u64 off, __u64 len);
bool quiet(void);
__u64 live_bytes(void);
bool fits_budget(__u64 size);
void regs_drop(int ins, int ch, int f);
int reg_find(int ins, int ch, int f, long ev);
int reg_count(int ins, int ch);
bool regs_loose(void);
void gc(void);
bool chan_alive(const struct mchfd *c);
enum tri band_predict(const struct minst *in, __u64 cap, __u64 *off);

/* random.c */
extern __u64 rng;
__u64 rnd(void);
__u64 below(__u64 n);
bool pct(unsigned int p);
__u64 garbage64(void);
__u32 garbage32(void);

/* log.c */
extern char *cur_line;
const char *errname(int err);
void __attribute__((format(printf, 1, 2))) call(const char *fmt, ...);
void __attribute__((format(printf, 1, 2))) result(const char *fmt, ...);
void result_ret(long ret);
extern volatile int *child_failed;
void on_fatal(int sig);
extern jmp_buf fail_jmp;
extern char fail_msg[512];
void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...);
void arm(unsigned int seconds);
void ex_reset(struct expect *e);
void ex_add(struct expect *e, int err, enum tri t);
enum tri tri_of(bool c);
enum tri st(bool c);
bool ex_clean(const struct expect *e);
long verdict(const struct expect *e, long ret);

/* fdtab.c */
int devfd_slot(void);
int file_new(int acc);
int chfd_slot(void);
int piece_slots(void);
bool devfd_mine(int i);
int pick_devfd(void);
int pick_chfd(void);
int pick_evfd(void);
int pick_piece(int need_prot);
int pick_any_fd(int *kind);
const char *acc_name(int acc);

/* args.c */
extern unsigned char *arena;
extern unsigned char *ro_page, *ro_page_w;
void arg_pick(struct argp *a, size_t len, bool ro_ok);
void arg_set(struct argp *a, const void *src, size_t len);
bool arg_get(const struct argp *a, void *dst, size_t len);
void arg_expect(struct expect *e, const struct argp *a, bool out, enum tri eproto);
bool acc_allows(int acc, unsigned long cmd);
void ioc_expect(struct expect *e, const struct argp *a, bool out, const struct mfile *f,
		unsigned long cmd);
int gen_name(char *name, bool may_nx, bool sane);
const char *name_str(const char *name);
__u64 page_align(__u64 n);
__u64 gen_size(bool sane, bool *ok);
__u32 gen_mode(bool sane);
extern int want_ci;
int gen_chan(__u32 *id, bool sane);
__u64 gen_cap(bool sane, bool *ok);

/* ioctl.c */
bool dev_state(int di, struct mfile **f, struct minst **in);
void do_version(int di, bool sane);
bool do_region(int di, unsigned long cmd, bool sane);
void do_chan_create(int di, bool sane);
void do_chan_destroy(int di, bool sane);
void do_notify(int di, bool sane);
void do_chan_fd(int di, bool sane);
int evfd_new(void);
void do_eventfd(int di, bool sane);
bool op_eventfd_burst(void);

/* devfd.c */
bool op_open(void);
bool op_dup(void);
bool op_close_dev(void);
bool op_ioctl(void);

/* mmap.c */
bool do_mmap(int di, bool sane);
bool op_mmap(void);
bool op_munmap(void);
bool op_mremap(void);
bool op_mprotect(void);

/* region.c */
unsigned char *region_at(int ins, __u64 off, size_t len, int prot);
__u64 entry_off(int ci);
bool op_scribble(void);
bool op_peek(void);
bool op_send_mapped(void);

/* claims.c */
bool op_claim(void);
bool op_crash(void);
bool op_header(void);

/* chanfd.c */
bool op_chan_read(void);
bool op_chan_write(void);
bool op_chan_block(void);
bool op_poll(void);
bool op_fcntl_nonblock(void);
bool op_close_chfd(void);
bool op_eventfds(void);
bool op_epoll(void);

/* wrong.c */
bool op_unknown_ioctl(void);
bool op_wrong_fd_ioctl(void);
bool op_dev_rw(void);

/* sysfs.c */
long long read_num(const char *path, int base);
bool op_sysfs(void);
int vmalloc_usage_want(long long *areas, long long *pages, long long want_areas,
		       long long want_pages);
int vmalloc_usage(long long *areas, long long *pages);
extern long long start_areas, start_pages;
extern bool have_vmallocinfo;
void check_state(const char *when);
char *sysfs_snapshot(void);

/* children.c */
bool op_fork(void);
bool op_wild(void);
void reap_wild(bool all, bool check);
bool op_race(void);

/* walk.c */
extern struct op ops[];
extern const unsigned int op_count;
bool run_op(void);

/* cleanup.c */
void cleanup(bool check);

/* kmsg.c */
void kmsg_start(void);
int kmsg_bad(void);

#endif /* FUZZ_KMOD_H */
