// SPDX-License-Identifier: MIT
/*
 * A dmxp peer written from Documentation/MEMORY_LAYOUT.md alone: it uses
 * neither libdmxp nor the layout structs of the ABI header, only the
 * offsets and the protocol the document gives, to show that any language
 * can join a channel.  For a kernel region ("/dev/dmxp:NAME") it takes
 * the ioctl numbers and argument structs from <linux/dmxp.h>, as any
 * binding would.
 *
 *	helper_rawpeer produce REGION CH NAME COUNT
 *		send "NAME-0" .. "NAME-<COUNT-1>", waiting while the ring is full
 *	helper_rawpeer consume REGION CH
 *		print each payload on its own line until a payload "END"
 *	helper_rawpeer produce-silent REGION CH COUNT
 *		send "1" .. "COUNT" as the seed's protocol alone does: without
 *		the waker's steps (no look at the waiter word, no wake-up)
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/dmxp.h>	/* the kernel ABI: ioctls only */

/* Offsets from the layout document. */
#define MAGIC			0x444D58505F4D454DULL
#define HDR_SIZE		98432
#define ENTRY(ch)		(128 + (size_t)(ch) * 384)
#define E_FLAGS			4
#define E_CAPACITY		8
#define E_BAND_OFFSET		16
#define E_RECV_WAITERS		40
#define E_SEND_WAITERS		44
#define E_RECV_FUTEX		48
#define E_SEND_FUTEX		52
#define E_TAIL			128
#define E_HEAD			256
#define SLOT_SIZE		1088
#define S_SEQUENCE		0
#define S_MESSAGE_ID		8
#define S_TIMESTAMP		16
#define S_CHANNEL_ID		24
#define S_TYPE			28
#define S_PID			32
#define S_RUNTIME		36
#define S_FLAGS			38
#define S_LEN			40
#define S_PAYLOAD		64
#define MAX_PAYLOAD		960
#define FLAG_CREATED		1
#define MSG_TOMBSTONE		1
#define RUNTIME_OTHER		0xffff

static unsigned char *base;
static unsigned char *entry, *slots;
static uint64_t capacity;
static unsigned int channel;
static int kernel_fd = -1;	/* a kernel region's /dev/dmxp fd */

#define U64(p)	(*(uint64_t *)(void *)(p))
#define U32(p)	(*(uint32_t *)(void *)(p))
#define U16(p)	(*(uint16_t *)(void *)(p))

static void fail(const char *msg)
{
	fprintf(stderr, "helper_rawpeer: %s\n", msg);
	exit(1);
}

/* Open a region and return its size: a file, or a kernel region. */
static uint64_t region_open(const char *path, int *fdp)
{
	struct dmxp_ioc_version v = { .version = 1 };
	struct dmxp_ioc_region rq = { 0 };
	struct stat st;
	int fd;

	if (strncmp(path, "/dev/dmxp:", 10)) {
		fd = open(path, O_RDWR);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < HDR_SIZE)
			fail("cannot open the region");
		*fdp = fd;
		return (uint64_t)st.st_size;
	}
	fd = open("/dev/dmxp", O_RDWR);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v) < 0)
		fail("cannot open /dev/dmxp");
	if (strlen(path + 10) >= sizeof(rq.name))
		fail("region name too long");
	strcpy(rq.name, path + 10);
	if (ioctl(fd, DMXP_IOC_REGION_ATTACH, &rq) < 0)
		fail("cannot attach the kernel region");
	kernel_fd = fd;
	*fdp = fd;
	return rq.size;
}

static void attach(const char *path, unsigned int ch)
{
	uint64_t off, size;
	int fd;

	size = region_open(path, &fd);
	base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		fail("cannot map the region");
	if (__atomic_load_n(&U64(base), __ATOMIC_ACQUIRE) != MAGIC || ch > 255)
		fail("not a dmxp region");
	entry = base + ENTRY(ch);
	if (!(__atomic_load_n(&U32(entry + E_FLAGS), __ATOMIC_ACQUIRE) & FLAG_CREATED))
		fail("channel not created");
	capacity = U64(entry + E_CAPACITY);
	off = U64(entry + E_BAND_OFFSET);
	if (capacity < 2 || (capacity & (capacity - 1)) || off % 64 ||
	    off + capacity * SLOT_SIZE > size)
		fail("bad channel entry");
	slots = base + off;
	channel = ch;
}

/*
 * The waker's half of the wake protocol, after publishing (freeing) a
 * slot: a full fence, then, if anyone waits on that side, bump its futex
 * word and wake it (a kernel region: the DMXP_IOC_NOTIFY ioctl).
 */
static void wake(unsigned int waiters_off, unsigned int futex_off, unsigned int notify)
{
	uint32_t *futex_word = &U32(entry + futex_off);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&U32(entry + waiters_off), __ATOMIC_RELAXED))
		return;
	if (kernel_fd >= 0) {
		struct dmxp_ioc_notify n = { .id = channel, .flags = notify };

		ioctl(kernel_fd, DMXP_IOC_NOTIFY, &n);
		return;
	}
	__atomic_fetch_add(futex_word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, futex_word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static unsigned char *slot(uint64_t pos)
{
	return slots + (pos & (capacity - 1)) * SLOT_SIZE;
}

/* @name NULL: the payloads are the counters 1..@count; @silent: never wake. */
static void produce(const char *name, unsigned long count, int silent)
{
	uint64_t *tail = &U64(entry + E_TAIL);
	char msg[MAX_PAYLOAD];
	unsigned long i;

	for (i = 0; i < count; i++) {
		size_t len = name ? (size_t)snprintf(msg, sizeof(msg), "%s-%lu", name, i) :
				    (size_t)snprintf(msg, sizeof(msg), "%lu", i + 1);
		uint64_t pos = __atomic_load_n(tail, __ATOMIC_RELAXED);
		struct timespec ts;
		unsigned char *s;

		for (;;) {
			s = slot(pos);
			/* acquire: the consumer that freed the slot is done with it */
			int64_t diff = (int64_t)(__atomic_load_n(&U64(s + S_SEQUENCE),
								 __ATOMIC_ACQUIRE) - pos);
			if (diff == 0) {
				if (__atomic_compare_exchange_n(tail, &pos, pos + 1, 0,
								__ATOMIC_RELAXED,
								__ATOMIC_RELAXED))
					break;
			} else if (diff < 0) {
				sched_yield();	/* full */
				pos = __atomic_load_n(tail, __ATOMIC_RELAXED);
			} else {
				pos = __atomic_load_n(tail, __ATOMIC_RELAXED);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		U64(s + S_MESSAGE_ID) = pos;
		U64(s + S_TIMESTAMP) = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		U32(s + S_CHANNEL_ID) = channel;
		U32(s + S_TYPE) = 0;
		U32(s + S_PID) = (uint32_t)getpid();
		U16(s + S_RUNTIME) = RUNTIME_OTHER;
		U16(s + S_FLAGS) = 0;
		U32(s + S_LEN) = (uint32_t)len;
		memcpy(s + S_PAYLOAD, msg, len);
		/* release: publishes the message to the consumer of pos */
		__atomic_store_n(&U64(s + S_SEQUENCE), pos + 1, __ATOMIC_RELEASE);
		if (!silent)
			wake(E_RECV_WAITERS, E_RECV_FUTEX, DMXP_NOTIFY_RECV);
	}
}

static void consume(void)
{
	uint64_t *head = &U64(entry + E_HEAD);
	char msg[MAX_PAYLOAD + 1];

	for (;;) {
		uint64_t pos = __atomic_load_n(head, __ATOMIC_RELAXED);
		unsigned char *s;
		uint32_t len;
		int tomb;

		for (;;) {
			s = slot(pos);
			/* acquire: pairs with the producer's release of pos + 1 */
			int64_t diff = (int64_t)(__atomic_load_n(&U64(s + S_SEQUENCE),
								 __ATOMIC_ACQUIRE) - (pos + 1));
			if (diff == 0) {
				if (__atomic_compare_exchange_n(head, &pos, pos + 1, 0,
								__ATOMIC_RELAXED,
								__ATOMIC_RELAXED))
					break;
			} else if (diff < 0) {
				sched_yield();	/* empty */
				pos = __atomic_load_n(head, __ATOMIC_RELAXED);
			} else {
				pos = __atomic_load_n(head, __ATOMIC_RELAXED);
			}
		}
		len = U32(s + S_LEN);
		if (len > MAX_PAYLOAD)
			len = MAX_PAYLOAD;
		tomb = U16(s + S_FLAGS) & MSG_TOMBSTONE;
		memcpy(msg, s + S_PAYLOAD, len);
		msg[len] = 0;
		/* release: frees the slot for the producer of pos + capacity */
		__atomic_store_n(&U64(s + S_SEQUENCE), pos + capacity, __ATOMIC_RELEASE);
		wake(E_SEND_WAITERS, E_SEND_FUTEX, DMXP_NOTIFY_SEND);
		if (tomb)
			continue;
		if (!strcmp(msg, "END"))
			break;
		puts(msg);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "produce")) {
		attach(argv[2], (unsigned int)atoi(argv[3]));
		produce(argv[4], strtoul(argv[5], NULL, 0), 0);
	} else if (argc == 5 && !strcmp(argv[1], "produce-silent")) {
		attach(argv[2], (unsigned int)atoi(argv[3]));
		produce(NULL, strtoul(argv[4], NULL, 0), 1);
	} else if (argc == 4 && !strcmp(argv[1], "consume")) {
		attach(argv[2], (unsigned int)atoi(argv[3]));
		consume();
	} else {
		fail("usage: helper_rawpeer produce REGION CH NAME COUNT | consume REGION CH |\n"
		     "       produce-silent REGION CH COUNT");
	}
	return 0;
}
