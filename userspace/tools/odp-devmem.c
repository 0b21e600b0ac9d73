/*
 * odp-devmem - can this machine do RDMA On-Demand Paging on device memory,
 * and what is it doing?  One binary with subcommands, in the style of
 * iproute2's rdma(8):
 *
 *   odp-devmem [-j] [status]           is it usable; exit 1 and why if not
 *   odp-devmem [-j] dev [show [DEV]]   RDMA devices: ODP capabilities, the
 *                                      alias switch, the ODP counters
 *   odp-devmem dev set DEV odp-alias on|off
 *   odp-devmem [-j] mr show DEV RKEY   the ODP counters of one MR
 *   odp-devmem [-j] exporter [show]    the device-memory exporters found
 *   odp-devmem [-j] exporter counters SPEC --evict
 *   odp-devmem [-j] where PID ADDR LEN where each page of a range lives
 *   odp-devmem run [-e SPEC] [-n N] [-q] [-R] [-r FILE] -- PROGRAM [ARG...]
 *                                      PROGRAM with its ODP MRs in device
 *                                      memory (libodp-devmem-preload.so)
 *
 * It reads the kernel's answers only (verbs, rdma netlink, /proc, /dev,
 * /sys) and never opens a test_hmm device unless told to: test_hmm moves
 * all of a device's memory back to RAM whenever one of its files closes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "backend.h"
#include "hmmem.h"
#include "rdma_nl.h"
#include "reason.h"

#define PROG "odp-devmem"
#define EXIT_UNUSABLE 1
#define EXIT_USAGE 2
/* where: the largest range it reads, 64 GiB of 4 KiB pages */
#define WHERE_MAX_PAGES (16UL << 20)

static bool json;

/* --- a small JSON writer: one document per run, on stdout ------------- */

static bool jw_first[16] = { true };
static int jw_depth;

static void jw_sep(const char *key)
{
	if (!jw_first[jw_depth])
		putchar(',');
	jw_first[jw_depth] = false;
	if (key)
		printf("\"%s\":", key);
}

static void jw_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 ||
			 c >= 0x7f) /* valid UTF-8 whatever it was */
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jw_open(const char *key, char bracket)
{
	jw_sep(key);
	putchar(bracket);
	jw_first[++jw_depth] = true;
}

static void jw_close(char bracket)
{
	putchar(bracket);
	jw_depth--;
	if (!jw_depth)
		putchar('\n');
}

static void jw_str(const char *key, const char *val)
{
	jw_sep(key);
	if (val)
		jw_string(val);
	else
		fputs("null", stdout);
}

static void jw_u64(const char *key, uint64_t val)
{
	jw_sep(key);
	printf("%" PRIu64, val);
}

static void jw_bool(const char *key, bool val)
{
	jw_sep(key);
	fputs(val ? "true" : "false", stdout);
}

/* --- RDMA devices ------------------------------------------------------ */

struct cap_name {
	uint64_t bit;
	const char *name;
};

static const struct cap_name general_caps[] = {
	{ IBV_ODP_SUPPORT, "ODP" },
	{ IBV_ODP_SUPPORT_IMPLICIT, "IMPLICIT" },
	{ IBV_ODP_SUPPORT_DEVICE_PRIVATE, "DEVICE_PRIVATE" },
	{ 0, NULL },
};

static const struct cap_name transport_caps[] = {
	{ IBV_ODP_SUPPORT_SEND, "SEND" },
	{ IBV_ODP_SUPPORT_RECV, "RECV" },
	{ IBV_ODP_SUPPORT_WRITE, "WRITE" },
	{ IBV_ODP_SUPPORT_READ, "READ" },
	{ IBV_ODP_SUPPORT_ATOMIC, "ATOMIC" },
	{ IBV_ODP_SUPPORT_SRQ_RECV, "SRQ_RECV" },
	{ IBV_ODP_SUPPORT_FLUSH, "FLUSH" },
	{ IBV_ODP_SUPPORT_ATOMIC_WRITE, "ATOMIC_WRITE" },
	{ 0, NULL },
};

struct rdev {
	char name[IBV_SYSFS_NAME_MAX];
	uint32_t index;
	int err; /* opening or querying it failed: an errno */
	uint64_t general;
	uint32_t transport[4]; /* rc, uc, ud, xrc */
	int alias_err; /* 0: the switch exists, alias_on says how it is */
	bool alias_on;
	unsigned int nports;
	int *port_err; /* per port, 0 if port_odp[] holds its counters */
	struct rdma_odp_dev *port_odp;
};

static const char *const transport_names[4] = { "rc", "uc", "ud", "xrc" };

static void query_rdev(struct ibv_device *ibdev, struct rdev *d)
{
	struct ibv_device_attr_ex attr;
	struct ibv_context *ctx;
	unsigned int p;
	int idx;

	snprintf(d->name, sizeof(d->name), "%s", ibv_get_device_name(ibdev));
	idx = ibv_get_device_index(ibdev);
	d->index = idx < 0 ? 0 : (uint32_t)idx;
	ctx = ibv_open_device(ibdev);
	if (!ctx) {
		d->err = errno ? errno : ENODEV;
		return;
	}
	d->err = ibv_query_device_ex(ctx, NULL, &attr);
	ibv_close_device(ctx);
	if (d->err)
		return;
	d->general = attr.odp_caps.general_caps;
	d->transport[0] = attr.odp_caps.per_transport_caps.rc_odp_caps;
	d->transport[1] = attr.odp_caps.per_transport_caps.uc_odp_caps;
	d->transport[2] = attr.odp_caps.per_transport_caps.ud_odp_caps;
	d->transport[3] = attr.xrc_odp_caps;
	d->alias_err = idx < 0 ? ENODEV :
				 rdma_nl_get_odp_alias(d->index, &d->alias_on);
	d->nports = attr.orig_attr.phys_port_cnt;
	d->port_err = calloc(d->nports ? d->nports : 1, sizeof(*d->port_err));
	d->port_odp = calloc(d->nports ? d->nports : 1, sizeof(*d->port_odp));
	if (!d->port_err || !d->port_odp) {
		d->nports = 0;
		return;
	}
	for (p = 0; p < d->nports; p++)
		d->port_err[p] = idx < 0 ? ENODEV :
					   rdma_nl_get_odp_dev(d->index, p + 1,
							       &d->port_odp[p]);
}

/* All RDMA devices, or the one named @only; *@n set.  NULL on failure. */
static struct rdev *query_rdevs(const char *only, int *n)
{
	struct ibv_device **list;
	struct rdev *devs;
	int i, num = 0, k = 0;

	list = ibv_get_device_list(&num);
	/* ENOSYS: the kernel has no RDMA user verbs, so no device either */
	if (!list && errno != ENOSYS) {
		fprintf(stderr, PROG ": cannot list RDMA devices: %s\n",
			strerror(errno));
		return NULL;
	}
	devs = calloc(num > 0 ? (size_t)num : 1, sizeof(*devs));
	if (!devs) {
		if (list)
			ibv_free_device_list(list);
		fprintf(stderr, PROG ": out of memory\n");
		return NULL;
	}
	for (i = 0; list && i < num; i++) {
		if (only && strcmp(only, ibv_get_device_name(list[i])))
			continue;
		query_rdev(list[i], &devs[k++]);
	}
	if (list)
		ibv_free_device_list(list);
	*n = k;
	return devs;
}

static void free_rdevs(struct rdev *devs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(devs[i].port_err);
		free(devs[i].port_odp);
	}
	free(devs);
}

/* Whether ODP MRs registered now on @d keep device private pages in place */
static bool rdev_in_place(const struct rdev *d)
{
	return !d->err && (d->general & IBV_ODP_SUPPORT) &&
	       (d->general & IBV_ODP_SUPPORT_DEVICE_PRIVATE) && !d->alias_err &&
	       d->alias_on;
}

static void print_caps(const char *label, uint64_t caps,
		       const struct cap_name *names)
{
	const struct cap_name *c;
	uint64_t rest = caps;

	printf(" %s", label);
	if (!caps)
		fputs(" none", stdout);
	for (c = names; c->name; c++) {
		if (caps & c->bit)
			printf(" %s", c->name);
		rest &= ~c->bit;
	}
	if (rest)
		printf(" 0x%" PRIx64, rest);
}

static void json_caps(const char *key, uint64_t caps,
		      const struct cap_name *names)
{
	const struct cap_name *c;
	uint64_t rest = caps;

	jw_open(key, '[');
	for (c = names; c->name; c++) {
		if (caps & c->bit)
			jw_str(NULL, c->name);
		rest &= ~c->bit;
	}
	if (rest) {
		char hex[24];

		snprintf(hex, sizeof(hex), "0x%" PRIx64, rest);
		jw_str(NULL, hex);
	}
	jw_close(']');
}

static const char *alias_state(const struct rdev *d)
{
	if (d->alias_err == EOPNOTSUPP)
		return "unsupported";
	if (d->alias_err)
		return "unknown";
	return d->alias_on ? "on" : "off";
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The @n counters @c names in the struct at @base: JSON members or text */
static void print_counters(const struct rdma_nl_counter *c, size_t n,
			   const void *base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)base + c[i].off, sizeof(v));
		if (json)
			jw_u64(c[i].name, v);
		else
			printf(" %s %" PRIu64, c[i].name, v);
	}
}

static void show_rdev_text(const struct rdev *d)
{
	unsigned int p, t;

	printf("%u: %s:", d->index, d->name);
	if (d->err) {
		printf(" cannot query: %s\n", strerror(d->err));
		return;
	}
	print_caps("odp", d->general, general_caps);
	printf(" odp-alias %s\n", alias_state(d));
	for (t = 0; t < 4; t++) {
		fputs("   ", stdout);
		print_caps(transport_names[t], d->transport[t], transport_caps);
		putchar('\n');
	}
	for (p = 0; p < d->nports; p++) {
		printf("    port %u", p + 1);
		if (d->port_err[p] == ENODATA) {
			fputs(" no ODP counters\n", stdout);
			continue;
		}
		if (d->port_err[p]) {
			printf(" counters unavailable: %s\n",
			       strerror(d->port_err[p]));
			continue;
		}
		print_counters(rdma_nl_odp_dev_counters,
			       rdma_nl_odp_dev_ncounters, &d->port_odp[p]);
		putchar('\n');
	}
}

static void show_rdev_json(const struct rdev *d)
{
	jw_open(NULL, '{');
	jw_u64("ifindex", d->index);
	jw_str("ifname", d->name);
	jw_str("error", d->err ? strerror(d->err) : NULL);
	if (!d->err) {
		unsigned int p, t;

		jw_open("odp", '{');
		json_caps("general", d->general, general_caps);
		for (t = 0; t < 4; t++)
			json_caps(transport_names[t], d->transport[t],
				  transport_caps);
		jw_close('}');
		jw_str("odp_alias", alias_state(d));
		jw_bool("device_private_in_place", rdev_in_place(d));
		jw_open("ports", '[');
		for (p = 0; p < d->nports; p++) {
			jw_open(NULL, '{');
			jw_u64("port", p + 1);
			if (d->port_err[p]) {
				jw_str("counters_error",
				       strerror(d->port_err[p]));
			} else {
				jw_open("counters", '{');
				print_counters(rdma_nl_odp_dev_counters,
					       rdma_nl_odp_dev_ncounters,
					       &d->port_odp[p]);
				jw_close('}');
			}
			jw_close('}');
		}
		jw_close(']');
	}
	jw_close('}');
}

/* --- exporters --------------------------------------------------------- */

struct exporter {
	char spec[32]; /* what hmmem_open() takes */
	char where[320]; /* device node, or why not available */
	const char *kind;
	char pci[64]; /* the PCI function whose BAR is the memory, or "" */
	bool usable; /* device private memory an importer can alias */
};

#define MAX_EXPORTERS 17

/* The last component of the symbolic link @path, in @buf; NULL if none */
static const char *link_base(const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);
	const char *base;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	base = strrchr(buf, '/');
	return base ? base + 1 : buf;
}

/*
 * Whether @path is a char device that sysfs names hmm_dmirror*.  If it is,
 * @pci gets the PCI function that is its parent device, or "" when it has
 * none: test_hmm's devices on a PCI function (test_hmm_bar) keep their
 * device memory in that function's BAR, the others in system RAM.  Such a
 * device has no class, hence no "device" link: its parent is the directory
 * its sysfs directory is in.
 */
static bool is_dmirror(const char *path, char *pci, size_t pci_len)
{
	char sys[64], dir[PATH_MAX], link[PATH_MAX], sub[PATH_MAX + 16];
	const char *base;
	struct stat st;
	char *slash;

	if (stat(path, &st) || !S_ISCHR(st.st_mode))
		return false;
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	if (!realpath(sys, dir) || !(slash = strrchr(dir, '/')) ||
	    strncmp(slash + 1, "hmm_dmirror", 11))
		return false;
	pci[0] = '\0';
	*slash = '\0';
	/* dir is the parent's directory now: a PCI function's, or not */
	snprintf(sub, sizeof(sub), "%s/subsystem", dir);
	base = link_base(sub, link, sizeof(link));
	if (!base || strcmp(base, "pci"))
		return true;
	base = strrchr(dir, '/') + 1;
	if (strlen(base) < pci_len)
		memcpy(pci, base, strlen(base) + 1);
	return true;
}

static int find_exporters(struct exporter *ex)
{
	struct dirent *de;
	int n = 0, h;
	DIR *dir;

	dir = opendir("/dev");
	while (dir && (de = readdir(dir)) && n < MAX_EXPORTERS - 1) {
		const char *num = de->d_name + 11;
		char path[300];
		char *end;
		unsigned long id;

		if (strncmp(de->d_name, "hmm_dmirror", 11) ||
		    !isdigit((unsigned char)*num))
			continue;
		id = strtoul(num, &end, 10);
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		if (*end || !is_dmirror(path, ex[n].pci, sizeof(ex[n].pci)))
			continue;
		snprintf(ex[n].spec, sizeof(ex[n].spec), "test_hmm:%lu", id);
		snprintf(ex[n].where, sizeof(ex[n].where), "%s", path);
		/*
		 * test_hmm numbers its devices: 0 and 1 device private, 2 and
		 * 3 device coherent, 4 and 5 device private in a PCI BAR (a
		 * BAR device is told by its PCI parent, found above).
		 */
		ex[n].usable = id != 2 && id != 3;
		ex[n].kind = ex[n].usable ? "device private" :
					    "device coherent";
		n++;
	}
	if (dir)
		closedir(dir);
	/* The first in /dev order is not 0: sort by spec for a stable list */
	for (h = 1; h < n; h++) {
		struct exporter t = ex[h];
		int j = h;

		for (; j > 0 && strcmp(ex[j - 1].spec, t.spec) > 0; j--)
			ex[j] = ex[j - 1];
		ex[j] = t;
	}
	snprintf(ex[n].spec, sizeof(ex[n].spec), "cuda");
	ex[n].kind = "device private";
	ex[n].pci[0] = '\0';
	h = hmmem_open("cuda");
	ex[n].usable = h >= 0;
	if (h >= 0) {
		hmmem_name(h, ex[n].where, sizeof(ex[n].where));
		hmmem_close(h);
	} else {
		snprintf(ex[n].where, sizeof(ex[n].where), "not available: %s",
			 hmmem_strerror(h));
	}
	return n + 1;
}

static void show_exporters(const struct exporter *ex, int n)
{
	int i;

	if (json)
		jw_open("exporters", '[');
	for (i = 0; i < n; i++) {
		if (!json && (ex[i].usable || strcmp(ex[i].spec, "cuda"))) {
			printf("%-12s %s, %s", ex[i].spec, ex[i].where,
			       ex[i].kind);
			if (ex[i].pci[0])
				printf(" in a BAR of PCI %s", ex[i].pci);
			putchar('\n');
			continue;
		}
		if (!json) {
			printf("%-12s %s\n", ex[i].spec, ex[i].where);
			continue;
		}
		jw_open(NULL, '{');
		jw_str("spec", ex[i].spec);
		jw_str("kind", ex[i].kind);
		jw_bool("available", ex[i].usable);
		jw_str("detail", ex[i].where);
		jw_str("pci", ex[i].pci[0] ? ex[i].pci : NULL);
		jw_close('}');
	}
	if (json)
		jw_close(']');
}

/* --- subcommands ------------------------------------------------------- */

static int cmd_status(void)
{
	struct exporter ex[MAX_EXPORTERS];
	int i, n = 0, nex, capable = 0, in_place = 0, exp = 0;
	char reason[256] = "", names[256] = "";
	struct rdev *devs;

	devs = query_rdevs(NULL, &n);
	if (!devs)
		return EXIT_UNUSABLE;
	nex = find_exporters(ex);
	for (i = 0; i < n; i++) {
		capable += !devs[i].err && !devs[i].alias_err;
		if (rdev_in_place(&devs[i])) {
			size_t l = strlen(names);

			snprintf(names + l, sizeof(names) - l, "%s%s",
				 in_place++ ? ", " : "", devs[i].name);
		}
	}
	for (i = 0; i < nex; i++)
		exp += ex[i].usable;

	if (!n)
		snprintf(reason, sizeof(reason),
			 "no RDMA device (modprobe a driver, or rdma link add "
			 "NAME type rxe netdev DEV)");
	else if (!capable)
		snprintf(reason, sizeof(reason),
			 "no RDMA device has the ODP alias switch (a kernel "
			 "without device-private ODP aliases, or drivers that "
			 "cannot map them)");
	else if (!in_place)
		snprintf(reason, sizeof(reason),
			 "no RDMA device maps aliases now (odp-alias off, or "
			 "no ODP): 'odp-devmem dev set DEV odp-alias on'");
	else if (!exp)
		snprintf(reason, sizeof(reason),
			 "no device-memory exporter (modprobe test_hmm, or a "
			 "GPU whose driver migrates pageable memory)");

	if (json) {
		jw_open(NULL, '{');
		jw_bool("usable", !*reason);
		jw_str("reason", *reason ? reason : NULL);
		jw_bool("kernel_aliases", capable > 0);
		jw_open("devices", '[');
		for (i = 0; i < n; i++)
			show_rdev_json(&devs[i]);
		jw_close(']');
		show_exporters(ex, nex);
		jw_close('}');
	} else {
		printf("kernel       device-private ODP aliases: %s\n",
		       capable ? "supported" :
		       n       ? "not offered by any RDMA device" :
				 "unknown (no RDMA device)");
		for (i = 0; i < n; i++) {
			const struct rdev *d = &devs[i];

			printf("%-12s ", d->name);
			if (d->err)
				printf("cannot query: %s\n", strerror(d->err));
			else if (!(d->general & IBV_ODP_SUPPORT))
				puts("no ODP");
			else if (rdev_in_place(d))
				puts("ODP, device private pages stay in place "
				     "(odp-alias on)");
			else
				printf("ODP, device private pages migrate "
				       "(odp-alias %s)\n",
				       alias_state(d));
		}
		show_exporters(ex, nex);
		if (!*reason)
			printf("usable       ODP MRs on %s reach device memory "
			       "in place\n",
			       names);
	}
	free_rdevs(devs, n);
	if (*reason) {
		fprintf(stderr, PROG ": not usable: %s\n", reason);
		return EXIT_UNUSABLE;
	}
	return 0;
}

static int cmd_dev_show(const char *only)
{
	struct rdev *devs;
	int i, n = 0;

	devs = query_rdevs(only, &n);
	if (!devs)
		return EXIT_UNUSABLE;
	if (only && !n) {
		fprintf(stderr, PROG ": no RDMA device %s\n", only);
		free(devs);
		return EXIT_UNUSABLE;
	}
	if (json)
		jw_open(NULL, '[');
	for (i = 0; i < n; i++) {
		if (json)
			show_rdev_json(&devs[i]);
		else
			show_rdev_text(&devs[i]);
	}
	if (json)
		jw_close(']');
	free_rdevs(devs, n);
	return 0;
}

/* The index of RDMA device @name, or -1 after a message. */
static int dev_index(const char *name)
{
	struct ibv_device **list;
	int i, num = 0, idx = -1;

	list = ibv_get_device_list(&num);
	for (i = 0; list && i < num; i++)
		if (!strcmp(name, ibv_get_device_name(list[i])))
			idx = ibv_get_device_index(list[i]);
	if (list)
		ibv_free_device_list(list);
	if (idx < 0)
		fprintf(stderr, PROG ": no RDMA device %s\n", name);
	return idx;
}

static int cmd_dev_set(const char *name, const char *attr, const char *val)
{
	int idx, err;
	uint8_t on;

	if (strcmp(attr, "odp-alias")) {
		fprintf(stderr, PROG ": unknown attribute '%s' (odp-alias)\n",
			attr);
		return EXIT_USAGE;
	}
	if (!strcmp(val, "on")) {
		on = 1;
	} else if (!strcmp(val, "off")) {
		on = 0;
	} else {
		fprintf(stderr, PROG ": odp-alias takes on or off, not '%s'\n",
			val);
		return EXIT_USAGE;
	}
	idx = dev_index(name);
	if (idx < 0)
		return EXIT_UNUSABLE;
	err = rdma_nl_set_odp_alias((uint32_t)idx, on);
	if (err) {
		fprintf(stderr, PROG ": %s odp-alias %s: %s%s\n", name, val,
			odp_reason(),
			err == EOPNOTSUPP ? " (the device cannot map aliases)" :
			err == EPERM	  ? " (needs CAP_NET_ADMIN)" :
					    "");
		return EXIT_UNUSABLE;
	}
	return 0;
}

/* Parses a whole unsigned number (0x.. hex, else decimal) into *@v. */
static bool parse_u64(const char *s, uint64_t *v)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned long long x;
	char *end;

	if (!isxdigit((unsigned char)s[hex ? 2 : 0]))
		return false;
	errno = 0;
	x = strtoull(s, &end, hex ? 16 : 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

static int cmd_mr_show(const char *name, const char *rkey_s)
{
	struct rdma_nl_odp_mr mr;
	uint64_t rkey;
	int idx, err;

	if (!parse_u64(rkey_s, &rkey) || rkey > UINT32_MAX) {
		fprintf(stderr, PROG ": '%s' is not an rkey\n", rkey_s);
		return EXIT_USAGE;
	}
	idx = dev_index(name);
	if (idx < 0)
		return EXIT_UNUSABLE;
	err = rdma_nl_get_odp_mr((uint32_t)idx, (uint32_t)rkey, &mr);
	if (err) {
		fprintf(stderr, PROG ": %s%s\n", odp_reason(),
			err == ENODATA ? " (not an ODP MR, or a kernel "
					 "without its counters)" :
			err == ENOENT && geteuid() ?
					 " (the kernel shows keys to "
					 "CAP_NET_ADMIN only)" :
					 "");
		return EXIT_UNUSABLE;
	}
	if (json) {
		jw_open(NULL, '{');
		jw_str("ifname", name);
		jw_u64("rkey", rkey);
		jw_str("odp_alias", mr.alias_on ? "on" : "off");
		jw_open("counters", '{');
	} else {
		printf("%s mr rkey 0x%" PRIx64 ": odp-alias %s\n   ", name,
		       rkey, mr.alias_on ? "on" : "off");
	}
	print_counters(rdma_nl_odp_mr_counters, rdma_nl_odp_mr_ncounters, &mr);
	if (json) {
		jw_close('}');
		jw_close('}');
	} else {
		putchar('\n');
	}
	return 0;
}

static int cmd_exporter_show(void)
{
	struct exporter ex[MAX_EXPORTERS];
	int n = find_exporters(ex);

	if (json)
		jw_open(NULL, '{');
	show_exporters(ex, n);
	if (json)
		jw_close('}');
	return 0;
}

static int cmd_exporter_counters(const char *spec, bool evict)
{
	struct hmmem_counters c;
	char name[64];
	int h, err;

	if (!strncmp(spec, "test_hmm", 8) && !evict) {
		fprintf(stderr,
			PROG ": reading %s's counters opens the device, and "
			     "test_hmm moves all of its memory back to RAM "
			     "when that file closes: add --evict to do it "
			     "anyway\n",
			spec);
		return EXIT_USAGE;
	}
	h = hmmem_open(spec);
	if (h < 0) {
		fprintf(stderr, PROG ": %s: %s\n", spec, hmmem_strerror(h));
		return EXIT_UNUSABLE;
	}
	hmmem_name(h, name, sizeof(name));
	err = hmmem_counters(h, &c, sizeof(c));
	if (err) {
		fprintf(stderr, PROG ": %s: counters: %s\n", name,
			hmmem_strerror(err));
		hmmem_close(h);
		return EXIT_UNUSABLE;
	}
	if (json) {
		jw_open(NULL, '{');
		jw_str("exporter", name);
		jw_open("counters", '{');
		jw_u64("migrated_to_host", c.migrated_to_host);
		jw_u64("alias_offered", c.alias_offered);
		jw_u64("alias_refused", c.alias_refused);
		jw_close('}');
		jw_close('}');
	} else {
		printf("%s: migrated_to_host %" PRIu64 " alias_offered %" PRIu64
		       " alias_refused %" PRIu64 "\n",
		       name, c.migrated_to_host, c.alias_offered,
		       c.alias_refused);
	}
	hmmem_close(h);
	return 0;
}

static int cmd_where(const char *pid_s, const char *addr_s, const char *len_s)
{
	static const uint8_t places[] = { HMMEM_PLACE_HOST,
					  HMMEM_PLACE_SOME_DEVICE,
					  HMMEM_PLACE_NONE,
					  HMMEM_PLACE_UNKNOWN };
	uint64_t pid, addr, len, page = hmmem_page_size(), first, npages;
	uint64_t count[8] = { 0 }, i, run;
	uint8_t *place;
	size_t k;
	int err;

	if (!parse_u64(pid_s, &pid) || !pid || pid > INT_MAX) {
		fprintf(stderr, PROG ": '%s' is not a process id\n", pid_s);
		return EXIT_USAGE;
	}
	if (!parse_u64(addr_s, &addr) || !parse_u64(len_s, &len) || !len ||
	    addr + len < addr) {
		fprintf(stderr,
			PROG ": '%s' '%s' is not a range (ADDR LEN, LEN > 0)\n",
			addr_s, len_s);
		return EXIT_USAGE;
	}
	first = addr / page;
	npages = (addr + len - 1) / page - first + 1;
	if (npages > WHERE_MAX_PAGES) {
		fprintf(stderr, PROG ": %" PRIu64 " pages: at most %lu\n",
			npages, WHERE_MAX_PAGES);
		return EXIT_USAGE;
	}
	place = malloc(npages);
	if (!place) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_UNUSABLE;
	}
	err = hmmem_pagemap_places_pid((int)pid, (uintptr_t)(first * page),
				       npages, HMMEM_PLACE_SOME_DEVICE, place);
	if (err) {
		fprintf(stderr, PROG ": /proc/%" PRIu64 "/pagemap: %s\n", pid,
			strerror(-err));
		free(place);
		return EXIT_UNUSABLE;
	}
	if (json) {
		char hex[24];

		jw_open(NULL, '{');
		jw_u64("pid", pid);
		snprintf(hex, sizeof(hex), "0x%" PRIx64, first * page);
		jw_str("start", hex);
		jw_u64("pages", npages);
		jw_open("ranges", '[');
	} else {
		printf("pid %" PRIu64 " 0x%" PRIx64 "-0x%" PRIx64 ": %" PRIu64
		       " page%s\n",
		       pid, first * page, (first + npages) * page, npages,
		       npages == 1 ? "" : "s");
	}
	for (i = 0; i < npages; i += run) {
		uint64_t start = (first + i) * page;

		for (run = 1; i + run < npages && place[i + run] == place[i];)
			run++;
		count[place[i] & 7] += run;
		if (json) {
			char hex[24];

			jw_open(NULL, '{');
			snprintf(hex, sizeof(hex), "0x%" PRIx64, start);
			jw_str("start", hex);
			jw_u64("pages", run);
			jw_str("place", hmmem_place_name(place[i]));
			jw_close('}');
		} else {
			printf("  0x%" PRIx64 "-0x%" PRIx64 " %8" PRIu64
			       " page%s %s\n",
			       start, start + run * page, run,
			       run == 1 ? " " : "s",
			       hmmem_place_name(place[i]));
		}
	}
	if (json) {
		jw_close(']');
		jw_open("count", '{');
	} else {
		fputs("total", stdout);
	}
	for (k = 0; k < ARRAY_SIZE(places); k++) {
		if (json)
			jw_u64(hmmem_place_name(places[k]), count[places[k]]);
		else
			printf(" %s %" PRIu64, hmmem_place_name(places[k]),
			       count[places[k]]);
	}
	if (json) {
		jw_close('}');
		jw_close('}');
	} else {
		putchar('\n');
		if (count[HMMEM_PLACE_UNKNOWN] && geteuid())
			puts("(unknown: swapped out, or device memory, which "
			     "the kernel shows to CAP_SYS_ADMIN only)");
	}
	free(place);
	return 0;
}

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [-j|--json] [COMMAND]\n"
	      "Whether RDMA On-Demand Paging reaches device memory in place "
	      "here, and how.\n\n"
	      "  status                        (default) kernel, RDMA devices, "
	      "exporters;\n"
	      "                                exit 1 with the reason when not "
	      "usable\n"
	      "  dev [show [DEV]]              ODP capabilities, odp-alias "
	      "switch, ODP counters\n"
	      "  dev set DEV odp-alias on|off  switch aliases for MRs "
	      "registered afterwards\n"
	      "  mr show DEV RKEY              the ODP counters of one MR "
	      "(CAP_NET_ADMIN)\n"
	      "  exporter [show]               device-memory exporters "
	      "(test_hmm, cuda)\n"
	      "  exporter counters SPEC --evict\n"
	      "                                an exporter's counters "
	      "(test_hmm: evicts its memory)\n"
	      "  where PID ADDR LEN            where each page of a range of "
	      "process PID lives\n"
	      "  run [-e SPEC] [-n N] [-q] [-R] [-r FILE] -- PROGRAM [ARG...]\n"
	      "                                PROGRAM with its ODP MRs' buffers "
	      "in device memory\n"
	      "                                (SPEC, default test_hmm), again "
	      "every N completions;\n"
	      "                                -R: the exporter refuses aliases, "
	      "-q: no report,\n"
	      "                                -r FILE: the report to FILE\n\n"
	      "  -j, --json   one JSON document on stdout\n"
	      "  -h, --help   this text\n"
	      "Exit status: 0 done (status: usable), 1 not usable or failed, "
	      "2 bad usage.\n",
	      f);
}

static int bad_usage(const char *what)
{
	fprintf(stderr, PROG ": %s\n", what);
	usage(stderr);
	return EXIT_USAGE;
}

/* test_hmm, test_hmm:N, test_hmm:/PATH, cuda or cuda:N (hmmem_open(3)) */
static bool valid_spec(const char *spec)
{
	const char *arg = strchr(spec, ':');
	size_t len = arg ? (size_t)(arg - spec) : strlen(spec);
	uint64_t n;

	if (len == 8 && !strncmp(spec, "test_hmm", 8))
		return !arg || arg[1] == '/' || parse_u64(arg + 1, &n);
	if (len == 4 && !strncmp(spec, "cuda", 4))
		return !arg || parse_u64(arg + 1, &n);
	return false;
}

/* The preload library: $ODP_DEVMEM_PRELOAD, beside this binary, or installed */
static bool find_preload(char *path, size_t len)
{
	const char *env = getenv("ODP_DEVMEM_PRELOAD");
	char exe[PATH_MAX - 64];
	ssize_t n;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return !access(path, R_OK);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, len, "%s/" ODP_DEVMEM_PRELOAD_NAME,
				     exe) < (int)len &&
			    !access(path, R_OK))
				return true;
		}
	}
	snprintf(path, len, "%s/" ODP_DEVMEM_PRELOAD_NAME, ODP_DEVMEM_LIBDIR);
	return !access(path, R_OK);
}

/*
 * run [-e SPEC] [-n N] [-q] [-R] [-r FILE] -- PROGRAM [ARG...]: PROGRAM with the
 * preload library, which moves every ODP MR's buffer to device memory at
 * registration (and every N completions); never returns on success.
 */
static int cmd_run(int n, char **a)
{
	const char *spec = "test_hmm", *every = NULL, *report = NULL;
	char preload[PATH_MAX];
	const char *old;
	int i = 1, err;
	uint64_t v;

	for (; i < n && a[i][0] == '-'; i++) {
		if (!strcmp(a[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(a[i], "-q")) {
			setenv("ODP_DEVMEM_QUIET", "1", 1);
			continue;
		}
		if (!strcmp(a[i], "-R")) {
			setenv("ODP_DEVMEM_ALIASES", "0", 1);
			continue;
		}
		if (i + 1 >= n || (strcmp(a[i], "-e") && strcmp(a[i], "-n") &&
				   strcmp(a[i], "-r")))
			return bad_usage(
				"run [-e SPEC] [-n N] [-q] [-R] [-r FILE] "
				"-- PROGRAM [ARG...]");
		if (!strcmp(a[i], "-e"))
			spec = a[++i];
		else if (!strcmp(a[i], "-n"))
			every = a[++i];
		else
			report = a[++i];
	}
	if (i >= n)
		return bad_usage("run: no PROGRAM to run");
	if (!valid_spec(spec)) {
		fprintf(stderr,
			PROG ": run -e %s: an exporter is test_hmm[:N|:PATH] "
			     "or cuda[:N]\n",
			spec);
		return EXIT_USAGE;
	}
	if (every && (!parse_u64(every, &v) || !v || v > ULONG_MAX)) {
		fprintf(stderr,
			PROG ": run -n %s: a number of completions, > 0\n",
			every);
		return EXIT_USAGE;
	}
	if (!find_preload(preload, sizeof(preload))) {
		fprintf(stderr, PROG ": run: no %s (set ODP_DEVMEM_PRELOAD)\n",
			preload);
		return EXIT_UNUSABLE;
	}
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t len = strlen(preload) + strlen(old) + 2;
		char *env = malloc(len);

		if (!env)
			return EXIT_UNUSABLE;
		snprintf(env, len, "%s:%s", preload, old);
		setenv("LD_PRELOAD", env, 1);
		free(env);
	} else {
		setenv("LD_PRELOAD", preload, 1);
	}
	setenv("ODP_DEVMEM_EXPORTER", spec, 1);
	if (every)
		setenv("ODP_DEVMEM_EVERY", every, 1);
	if (report)
		setenv("ODP_DEVMEM_REPORT", report, 1);
	execvp(a[i], a + i);
	err = errno;
	fprintf(stderr, PROG ": run: %s: %s\n", a[i], strerror(err));
	return err == ENOENT ? 127 : 126;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n;
	char **a;

	while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	a = argv + optind;
	n = argc - optind;
	if (n && !strcmp(a[0], "run"))
		return cmd_run(n, a);
	/* -j after the command too, as in "odp-devmem dev show -j" */
	for (a = argv + optind, n = 0; *a; a++) {
		if (!strcmp(*a, "-j") || !strcmp(*a, "--json")) {
			json = true;
		} else if (!strcmp(*a, "-h") || !strcmp(*a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			argv[optind + n++] = *a;
		}
	}
	argv[optind + n] = NULL;
	a = argv + optind;
	if (!n || !strcmp(a[0], "status"))
		return n > 1 ? bad_usage("status takes no arguments") :
			       cmd_status();
	if (!strcmp(a[0], "dev")) {
		if (n == 1 || (!strcmp(a[1], "show") && n <= 3))
			return cmd_dev_show(n == 3 ? a[2] : NULL);
		if (!strcmp(a[1], "set") && n == 5)
			return cmd_dev_set(a[2], a[3], a[4]);
		return bad_usage("dev [show [DEV]] | dev set DEV odp-alias "
				 "on|off");
	}
	if (!strcmp(a[0], "mr")) {
		if (n == 4 && !strcmp(a[1], "show"))
			return cmd_mr_show(a[2], a[3]);
		return bad_usage("mr show DEV RKEY");
	}
	if (!strcmp(a[0], "exporter")) {
		if (n == 1 || (n == 2 && !strcmp(a[1], "show")))
			return cmd_exporter_show();
		if ((n == 3 || n == 4) && !strcmp(a[1], "counters")) {
			if (n == 4 && strcmp(a[3], "--evict"))
				return bad_usage("exporter counters SPEC "
						 "--evict");
			return cmd_exporter_counters(a[2], n == 4);
		}
		return bad_usage("exporter [show] | exporter counters SPEC "
				 "--evict");
	}
	if (!strcmp(a[0], "where")) {
		if (n == 4)
			return cmd_where(a[1], a[2], a[3]);
		return bad_usage("where PID ADDR LEN");
	}
	fprintf(stderr, PROG ": unknown command '%s'\n", a[0]);
	usage(stderr);
	return EXIT_USAGE;
}
