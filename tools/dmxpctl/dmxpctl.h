/* SPDX-License-Identifier: MIT */
/*
 * dmxpctl: what its command files share (dmxpctl.c, inspect.c).
 */
#ifndef DMXPCTL_H
#define DMXPCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "dmxp.h"

#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3

extern const char *prog;
extern const char *cmd_name;	/* the command being run ("list", "region create"), or NULL */
extern const char *region_path;	/* -r; NULL: $DMXP_REGION, then the default */

/*
 * A one-line error on stderr, "dmxpctl COMMAND: what", and exit 1 (die)
 * or 2 (usage_error, which adds the hint "(dmxpctl COMMAND --help)").
 */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void chan_error(unsigned int ch, int err) __attribute__((noreturn));
/* /dev/dmxp is missing: the one message for it, exit 1. */
void no_device(void) __attribute__((noreturn));

const char *region_name(void);
unsigned long long parse_num(const char *what, const char *s, unsigned long long max);
unsigned int parse_channel(const char *s);
/* BYTES with an optional K, M or G (powers of 1024), at least the smallest region. */
unsigned long long parse_size(const char *what, const char *s);
struct dmxp_region *region_open(bool create, size_t size);
struct dmxp_region *region_open_flags(unsigned int flags, size_t size);
struct dmxp_chan *chan_open(struct dmxp_region *r, unsigned int ch);
/*
 * getopt_long for one command: -r/--region is taken here, anywhere among
 * the command's words; --help prints @help and exits 0; an unknown option
 * or a missing value is a usage error.
 */
int next_opt(int argc, char **argv, const char *shortopts,
	     const struct option *longopts, const char *help);
bool read_sysfs(const char *dir, const char *file, char *buf, size_t len);

/* JSON and byte output (inspect.c). */
void json_str(FILE *f, const char *s);
void put_hex(FILE *f, const void *p, size_t len);
/* @p as text when it is printable ASCII, else NULL. */
bool is_text(const void *p, size_t len);
const char *runtime_name(unsigned int runtime);
/* A message's metadata and payload as JSON members (no braces). */
void json_message(FILE *f, const struct dmxp_msg_meta *m, const void *payload, size_t len);

/* The inspection commands (inspect.c). */
int cmd_list(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_dump(int argc, char **argv);

/* Who works on the channels, from the claim table (peers.c). */
enum liveness { LIVE_ALIVE, LIVE_DEAD, LIVE_UNKNOWN };
const char *liveness_name(enum liveness l);
/* The sleepers on channel @ch (named by claim records) whose process is gone. */
unsigned int dead_sleepers(struct dmxp_region *r, unsigned int ch, unsigned int generation);
int cmd_peers(int argc, char **argv);

#endif /* DMXPCTL_H */
