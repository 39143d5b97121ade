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
extern const char *region_path;	/* -r; NULL: $DMXP_REGION, then the default */

/* A one-line error on stderr and exit 1 (die) or 2 (usage_error). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void chan_error(unsigned int ch, int err) __attribute__((noreturn));

const char *region_name(void);
unsigned long long parse_num(const char *what, const char *s, unsigned long long max);
unsigned int parse_channel(const char *s);
struct dmxp_region *region_open(bool create, size_t size);
struct dmxp_region *region_open_flags(unsigned int flags, size_t size);
struct dmxp_chan *chan_open(struct dmxp_region *r, unsigned int ch);
/* getopt_long for one command; --help prints @help and exits 0. */
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

#endif /* DMXPCTL_H */
