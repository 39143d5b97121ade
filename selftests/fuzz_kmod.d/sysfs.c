// SPDX-License-Identifier: MIT
/*
 * /sys/kernel/dmxp and the module's vmalloc'ed memory checked against the
 * model, and the step that reads sysfs.
 */
#include "fuzz_kmod.h"

long long read_num(const char *path, int base)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, base);
}

/* A channel's directory holds these files, and nothing else (sysfs.c). */
static const char *const chan_attrs[] = {
	"capacity", "head", "tail", "depth", "notifies", "repaired", "tombstoned",
};
#define NCATTR	(sizeof(chan_attrs) / sizeof(chan_attrs[0]))

/* The files of a channel's directory are chan_attrs[]: "" if so, else what. */
static const char *chan_dir_check(const char *dir)
{
	static char what[512];
	struct dirent **ents;
	unsigned int seen = 0, k;
	int n, i;

	what[0] = '\0';
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		snprintf(what, sizeof(what), "%s: %s", dir, strerror(errno));
		return what;
	}
	for (i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;

		if (d[0] != '.') {
			for (k = 0; k < NCATTR && strcmp(d, chan_attrs[k]); k++)
				;
			if (k == NCATTR && !what[0])
				snprintf(what, sizeof(what), "%s/%s should not be there", dir, d);
			else if (k < NCATTR)
				seen |= 1U << k;
		}
		free(ents[i]);
	}
	free(ents);
	for (k = 0; k < NCATTR && !what[0]; k++)
		if (!(seen & (1U << k)))
			snprintf(what, sizeof(what), "%s/%s is missing", dir, chan_attrs[k]);
	return what;
}

bool op_sysfs(void)
{
	static const char *const rattr[] = { "size", "channel_count", "uid", "gid", "mode" };
	int slot = (int)below(NSLOTS), ins = named_inst(slot), ci = (int)below(NCH), k, ret;
	bool chan = pct(60), there;
	const char *attr, *what;
	char path[160], buf[64];
	long long v, want = -1, t;
	struct minst *in = ins >= 0 ? inst(ins) : NULL;

	if (g.is_wild)
		return false;
	if (chan) {
		k = (int)below(NCATTR + 1);
		there = in && in->ch[ci].present;
		if (k == NCATTR) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u", g.name[slot], chan_ids[ci]);
			call("list %s", path);
			what = chan_dir_check(path);
			result("%s", what[0] ? what : "ok");
			if (!there && access(path, F_OK) == 0)
				fail("%s exists, but the channel does not", path);
			if (there && what[0])
				fail("%s", what);
			return true;
		}
		attr = chan_attrs[k];
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/%s", g.name[slot], chan_ids[ci], attr);
		if (there && k == 0)
			want = (long long)in->ch[ci].cap;
		/* Repairs happen only where there are claim records. */
		if (there && k >= 5 && quiet() && !in->table_dirty)
			want = (long long)(k == 5 ? in->ch[ci].repaired : in->ch[ci].tombstoned);
	} else {
		k = (int)below(5);
		attr = rattr[k];
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s", g.name[slot], attr);
		there = in;
		if (there) {
			switch (k) {
			case 0:
				want = (long long)in->size;
				break;
			case 1:
				want = 0;
				for (ci = 0; ci < NCH; ci++)
					want += in->ch[ci].present;
				break;
			case 2:
				want = geteuid();
				break;
			case 3:
				want = getegid();
				break;
			default:
				want = in->mode;
				break;
			}
		}
	}
	call("read %s", path);
	ret = read_text(path, buf, sizeof(buf));
	if (ret)
		result_ret(ret);
	else
		result("\"%s\"", buf);
	if (!there) {
		if (ret != -ENOENT)
			fail("%s: expected ENOENT", path);
		return true;
	}
	if (ret)
		fail("%s: %s", path, strerror(-ret));
	v = strtoll(buf, NULL, !chan && k == 4 ? 8 : 10);
	if (want >= 0 && v != want)
		fail("%s is %s, expected %lld", path, buf, want);
	if (chan && k == 3 && (v < 0 || v > (long long)in->ch[ci].cap))
		fail("%s is %s, beyond the capacity %llu", path, buf,
		     (unsigned long long)in->ch[ci].cap);
	if (chan && k == 5) {
		if ((__u64)v > in->ch[ci].seen && in->table_dirty)
			g.repairs_seen += (__u64)v - in->ch[ci].seen;
		in->ch[ci].seen = (__u64)v;
	}
	if (chan && k == 6) {
		/* Counted after the repair count: never more tombstones than repairs. */
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/repaired", g.name[slot],
			 chan_ids[ci]);
		t = read_num(path, 10);
		if (v < 0 || t < v)
			fail("%s: %lld repaired, %lld tombstoned", path, t, v);
	}
	return true;
}

/* The module's region memory: vmalloc areas of dmxp and their pages. */
static int vmalloc_read(long long *areas, long long *pages)
{
	char line[512];
	FILE *f = fopen("/proc/vmallocinfo", "re");

	*areas = *pages = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *p;

		long long n;

		/*
		 * Regions come from dmxp_kregion_mem() (VM_USERMAP in older
		 * modules, which did not list their page arrays so).
		 */
		if (!strstr(line, " [dmxp]") ||
		    (!strstr(line, " dmxp_kregion_mem+") && !strstr(line, " user")) ||
		    !(p = strstr(line, " pages=")))
			continue;
		n = strtoll(p + 7, NULL, 10);
		(*areas)++;
		*pages += n;
		/*
		 * A big region's page array is an area of its own with the
		 * same caller ("vpages" on the region's line): not a region.
		 */
		if (strstr(line, " vpages") && strstr(line, " dmxp_kregion_mem+")) {
			(*areas)--;
			*pages -= (n * (long long)sizeof(void *) + g.pg - 1) / g.pg;
		}
	}
	fclose(f);
	return 0;
}

/*
 * /proc/vmallocinfo is read a page at a time, each read() resuming at a
 * position in a list that other vmalloc users change meanwhile (a dead
 * child's kernel stack is freed after an RCU grace period): a reading can
 * miss or repeat an area.  Read until two readings in a row agree, and
 * keep reading a while if they do not give @want_areas and @want_pages
 * (-1: no wish), so that only a lasting difference counts.
 */
int vmalloc_usage_want(long long *areas, long long *pages, long long want_areas,
		       long long want_pages)
{
	long long a, p, pa = -1, pp = -1;
	int tries, ret;

	for (tries = 0; tries < 50; tries++) {
		ret = vmalloc_read(&a, &p);
		if (ret)
			return ret;
		*areas = a;
		*pages = p;
		if (a == pa && p == pp &&
		    (want_areas < 0 || (a == want_areas && p == want_pages) || tries >= 20))
			return 0;
		pa = a;
		pp = p;
		usleep(tries < 10 ? 1000 : 20000);
	}
	return 0;
}

int vmalloc_usage(long long *areas, long long *pages)
{
	return vmalloc_usage_want(areas, pages, -1, -1);
}

long long start_areas, start_pages;
bool have_vmallocinfo;

/* What the model holds, and what the module's vmalloc areas are. */
static void dump_model(void)
{
	char line[512];
	FILE *f;
	int i, j;

	for (i = 0; i < MAX_INST; i++) {
		struct minst *in = inst(i);

		if (!in->used)
			continue;
		printf("# model: region %d %s%s, %llu pages;", i, g.name[in->slot],
		       in->named ? "" : " (destroyed)", (unsigned long long)(in->size / g.pg));
		for (j = 0; j < MAX_FILES; j++)
			if (file(j)->used && file(j)->inst == i)
				printf(" file %d", j);
		for (j = 0; j < MAX_PIECES; j++)
			if (g.piece[j].addr && g.piece[j].inst == i)
				printf(" map %p+%#zx", g.piece[j].addr, g.piece[j].len);
		for (j = 0; j < MAX_CHFDS; j++)
			if (g.chfd[j].fd >= 0 && g.chfd[j].inst == i)
				printf(" chan-fd %d", g.chfd[j].fd);
		printf("\n");
	}
	f = fopen("/proc/vmallocinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " [dmxp]"))
			printf("# vmallocinfo: %s", line);
	if (f)
		fclose(f);
	snprintf(line, sizeof(line), "/proc/%d/maps", (int)getpid());
	f = fopen(line, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "dmxp"))
			printf("# maps: %s", line);
	if (f)
		fclose(f);
}

/* /sys/kernel/dmxp and the module's memory agree with the model. */
void check_state(const char *when)
{
	long long areas, pages, want_areas = start_areas, want_pages = start_pages, v;
	char path[160];
	int s, i, ci;

	for (s = 0; s < NSLOTS; s++) {
		struct minst *in;
		struct stat sb;
		int n = 0;

		i = named_inst(s);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s", g.name[s]);
		if (i < 0) {
			if (!stat(path, &sb))
				fail("%s: %s exists, but the region was destroyed", when, path);
			continue;
		}
		in = inst(i);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/size", g.name[s]);
		v = read_num(path, 10);
		if (v != (long long)in->size)
			fail("%s: %s is %lld, expected %llu", when, path, v,
			     (unsigned long long)in->size);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/mode", g.name[s]);
		v = read_num(path, 8);
		if (v != in->mode)
			fail("%s: %s is %llo, expected %o", when, path, v, in->mode);
		for (ci = 0; ci < NCH; ci++) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/capacity", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (in->ch[ci].present != (v >= 0) ||
			    (in->ch[ci].present && v != (long long)in->ch[ci].cap))
				fail("%s: %s is %lld, expected %lld", when, path, v,
				     in->ch[ci].present ? (long long)in->ch[ci].cap : -1LL);
			n += in->ch[ci].present;
			if (!in->ch[ci].present)
				continue;
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/repaired", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (v < 0)
				fail("%s: %s: %s", when, path, strerror(ENOENT));
			if ((__u64)v > in->ch[ci].seen && in->table_dirty)
				g.repairs_seen += (__u64)v - in->ch[ci].seen;
			in->ch[ci].seen = (__u64)v;
			if (!quiet() || in->table_dirty)
				continue;
			if (v != (long long)in->ch[ci].repaired)
				fail("%s: %s is %lld, expected %llu", when, path, v,
				     (unsigned long long)in->ch[ci].repaired);
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/tombstoned", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (v != (long long)in->ch[ci].tombstoned)
				fail("%s: %s is %lld, expected %llu", when, path, v,
				     (unsigned long long)in->ch[ci].tombstoned);
		}
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/channel_count", g.name[s]);
		v = read_num(path, 10);
		if (v != n)
			fail("%s: %s is %lld, expected %d", when, path, v, n);
	}
	if (!have_vmallocinfo || g.nwild)
		return;
	for (i = 0; i < MAX_INST; i++) {
		if (!inst(i)->used)
			continue;
		want_areas++;
		want_pages += (long long)(inst(i)->size / g.pg);
	}
	vmalloc_usage_want(&areas, &pages, want_areas, want_pages);
	if (areas != want_areas || pages != want_pages) {
		dump_model();
		fail("%s: the module holds %lld regions of %lld pages, expected %lld of %lld",
		     when, areas, pages, want_areas, want_pages);
	}
}

/* What /sys/kernel/dmxp holds that does not change by itself. */
char *sysfs_snapshot(void)
{
	static const char *const rattr[] = { "size", "channel_count", "uid", "gid", "mode" };
	size_t cap = 1 << 16, n = 0;
	char *out = calloc(1, cap), path[1024], buf[64];
	struct dirent **ents;
	int ne, i, k;

	if (!out)
		return NULL;
	ne = scandir(SYSFS_DIR, &ents, NULL, alphasort);
	for (i = 0; i < ne; i++) {
		struct dirent **chs;
		int nc, j;

		if (ents[i]->d_name[0] == '.')
			goto next;
		n += snprintf(out + n, cap - n, "%s:", ents[i]->d_name);
		for (k = 0; k < 5 && n < cap - 128; k++) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s", ents[i]->d_name, rattr[k]);
			if (read_text(path, buf, sizeof(buf)))
				strcpy(buf, "?");
			n += snprintf(out + n, cap - n, " %s=%s", rattr[k], buf);
		}
		snprintf(path, sizeof(path), SYSFS_DIR "/%s", ents[i]->d_name);
		nc = scandir(path, &chs, NULL, alphasort);
		for (j = 0; j < nc; j++) {
			if (!strncmp(chs[j]->d_name, "ch", 2) && n < cap - 128) {
				snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s/capacity",
					 ents[i]->d_name, chs[j]->d_name);
				if (read_text(path, buf, sizeof(buf)))
					strcpy(buf, "?");
				n += snprintf(out + n, cap - n, " %s=%s", chs[j]->d_name, buf);
			}
			free(chs[j]);
		}
		if (nc >= 0)
			free(chs);
		n += snprintf(out + n, cap - n, "\n");
next:
		free(ents[i]);
	}
	if (ne >= 0)
		free(ents);
	return out;
}
