/*
 * odp_devmem_test - the odp-devmem tool against what the kernel says.
 *
 * The fixture writes through an ODP MR on rxe_b whose buffer lives in
 * test_hmm's device memory (aliases on), so that the device's and the MR's
 * ODP counters are not zero, then runs the tool.  Its text and JSON output
 * must carry exactly the values rdma netlink and test_hmm report (read
 * right before and after: nothing else moves them), every page's place in
 * a range that starts and ends mid-page, the alias switch as it is after
 * the tool set it, and a usage error (exit 2) or a failure (exit 1) with a
 * message for bad input.  Each JSON document must parse (python3).
 */
#include "odp_harness.h"

#include "rdma_nl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 8

/*
 * Runs `odp-devmem ARGS` (stderr with stdout if @with_stderr) and returns
 * its output (malloc'd, NUL-terminated) and exit status; NULL if it could
 * not run.
 */
static char *run_tool(int *status, bool with_stderr, const char *fmt, ...)
{
	char args[512], cmd[1024];
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	va_list ap;
	FILE *f;
	int rc;

	if (!out)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s%s", ODP_DEVMEM, args,
		 with_stderr ? " 2>&1" : " 2>/dev/null");
	f = popen(cmd, "r");
	if (!f) {
		free(out);
		return NULL;
	}
	for (;;) {
		size_t n = fread(out + len, 1, cap - len - 1, f);

		len += n;
		if (len < cap - 1)
			break;
		cap *= 2;
		char *bigger = realloc(out, cap);

		if (!bigger) {
			pclose(f);
			free(out);
			return NULL;
		}
		out = bigger;
	}
	out[len] = '\0';
	rc = pclose(f);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
	return out;
}

/*
 * Whether @json parses, by python3's json module; without python3, true
 * unless ODP_NO_SKIP (the VM has it).
 */
static bool json_parses(const char *json)
{
	FILE *f;

	if (access("/usr/bin/python3", X_OK))
		return !odp_no_skip();
	f = popen("/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' "
		  ">/dev/null 2>&1",
		  "w");
	if (!f)
		return false;
	fputs(json, f);
	return pclose(f) == 0;
}

/*
 * The exporter under test, odp_dmirror_path(), as the tool should name it:
 * its spec (test_hmm:N) and the PCI function whose BAR holds its memory,
 * found here from the driver's side: the function bound to test_hmm_bar
 * whose sysfs directory holds the device ("" for none: memory in RAM).
 */
struct exporter_name {
	char spec[64];
	char pci[64];
};

static bool exporter_name(struct exporter_name *e)
{
	static const char drv[] = "/sys/bus/pci/drivers/test_hmm_bar";
	const char *path = odp_dmirror_path(), *name = strrchr(path, '/');
	struct dirent *de;
	DIR *d;

	if (!name || strncmp(name + 1, "hmm_dmirror", 11))
		return false;
	name++;
	snprintf(e->spec, sizeof(e->spec), "test_hmm:%s", name + 11);
	e->pci[0] = '\0';
	d = opendir(drv);
	while (d && (de = readdir(d))) {
		char p[PATH_MAX];

		if (!strchr(de->d_name, ':') ||
		    strlen(de->d_name) >= sizeof(e->pci))
			continue; /* not a PCI address */
		snprintf(p, sizeof(p), "%s/%s/%s", drv, de->d_name, name);
		if (!access(p, F_OK)) {
			memcpy(e->pci, de->d_name, strlen(de->d_name) + 1);
			break;
		}
	}
	if (d)
		closedir(d);
	/* The BAR device is on a PCI function: else this checks nothing */
	return !odp_dmirror_is_bar() || e->pci[0];
}

#define EXPECT_HAS(out, needle)              \
	EXPECT_NE(NULL, strstr(out, needle)) \
	TH_LOG("expected \"%s\" in the output:\n%s", needle, out)

FIXTURE(odp_devmem)
{
	struct odp_pair pair;
	int dmirror;
	uint32_t index; /* rxe_b's */
	struct odp_buf dev; /* on rxe_b, in test_hmm's device memory */
	struct odp_buf local; /* on rxe_a, in RAM */
};

FIXTURE_SETUP(odp_devmem)
{
	size_t page = odp_page_size();
	struct ibv_wc wc;

	self->dmirror = -1;
	if (!open_pair(_metadata, &self->pair, IBV_ODP_SUPPORT_WRITE, 0))
		return;
	self->index = (uint32_t)self->pair.resp.index;
	self->dmirror = open_dmirror(_metadata);
	if (self->dmirror < 0)
		return;
	ASSERT_OK(odp_buf_alloc_aliases(
		&self->dev, &self->pair.resp, NPAGES * page,
		ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND, true));
	ASSERT_OK(odp_buf_alloc(&self->local, &self->pair.req, NPAGES * page,
				IBV_ACCESS_LOCAL_WRITE));
	migrate_to_device(_metadata, self->dmirror, self->dev.addr, NPAGES,
			  self->dev.seed);
	ASSERT_EQ(0, dmirror_set_device_flags(self->dmirror,
					      HMM_DMIRROR_DEVICE_EXPORT_ALIAS))
	TH_LOG("%s", odp_reason());
	/* Pages 1-3, mid-page to mid-page: the counters move */
	ASSERT_OK(odp_post_rdma(&self->pair, IBV_WR_RDMA_WRITE, &self->local,
				&self->dev, page + 123, 2 * page + 77, 1));
	ASSERT_TRUE(completes(_metadata, &self->pair.req, 1, IBV_WC_SUCCESS,
			      IBV_WC_RDMA_WRITE, &wc));
}

FIXTURE_TEARDOWN(odp_devmem)
{
	close_device_test(_metadata, &self->pair, self->dmirror,
			  (struct odp_buf *const[]){ &self->local, &self->dev },
			  2);
}

TEST_F(odp_devmem, status_says_usable_in_text_and_json)
{
	struct exporter_name e;
	char line[256];
	int st;
	char *out = run_tool(&st, true, "");

	ASSERT_NE(NULL, out);
	ASSERT_TRUE(exporter_name(&e))
	TH_LOG("%s: no such test_hmm device, or its PCI function not found",
	       odp_dmirror_path());
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	EXPECT_HAS(out, "device-private ODP aliases: supported");
	snprintf(line, sizeof(line),
		 "%-12s ODP, device private pages stay in place (odp-alias on)",
		 self->pair.resp.name);
	EXPECT_HAS(out, line);
	/* A BAR's PCI function is named; nothing follows RAM's kind */
	snprintf(line, sizeof(line), "%-12s %s, device private%s%s\n", e.spec,
		 odp_dmirror_path(), e.pci[0] ? " in a BAR of PCI " : "",
		 e.pci);
	EXPECT_HAS(out, line);
	EXPECT_HAS(out, "usable       ODP MRs on ");
	free(out);

	out = run_tool(&st, false, "--json status");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	EXPECT_TRUE(json_parses(out)) TH_LOG("%s", out);
	EXPECT_HAS(out,
		   "{\"usable\":true,\"reason\":null,\"kernel_aliases\":true,");
	free(out);
}

TEST_F(odp_devmem, dev_show_carries_the_kernel_counters)
{
	struct rdma_odp_dev before, after;
	char want[512];
	int st;
	char *json, *text;

	ASSERT_EQ(0, rdma_nl_get_odp_dev(self->index, 1, &before))
	TH_LOG("%s", odp_reason());
	json = run_tool(&st, false, "dev show %s -j", self->pair.resp.name);
	ASSERT_NE(NULL, json);
	EXPECT_EQ(0, st);
	text = run_tool(&st, true, "dev show %s", self->pair.resp.name);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, st);
	ASSERT_EQ(0, rdma_nl_get_odp_dev(self->index, 1, &after))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)))
	TH_LOG("the counters moved while the tool ran");
	EXPECT_NE(0ULL, after.alias_pages);

	EXPECT_TRUE(json_parses(json)) TH_LOG("%s", json);
	snprintf(want, sizeof(want),
		 "[{\"ifindex\":%u,\"ifname\":\"%s\",\"error\":null,"
		 "\"odp\":{\"general\":[\"ODP\",\"DEVICE_PRIVATE\"],",
		 self->index, self->pair.resp.name);
	EXPECT_HAS(json, want);
	EXPECT_HAS(json,
		   "\"odp_alias\":\"on\",\"device_private_in_place\":true");
	snprintf(want, sizeof(want),
		 "{\"port\":1,\"counters\":{\"odp_page_faults\":%" PRIu64
		 ",\"odp_page_invalidations\":%" PRIu64
		 ",\"odp_page_prefetch\":%" PRIu64
		 ",\"odp_alias_pages\":%" PRIu64
		 ",\"odp_alias_fallbacks\":%" PRIu64 "}}",
		 after.page_faults, after.page_invalidations,
		 after.page_prefetch, after.alias_pages, after.alias_fallbacks);
	EXPECT_HAS(json, want);

	snprintf(want, sizeof(want),
		 "%u: %s: odp ODP DEVICE_PRIVATE odp-alias on", self->index,
		 self->pair.resp.name);
	EXPECT_HAS(text, want);
	snprintf(want, sizeof(want),
		 "    port 1 odp_page_faults %" PRIu64
		 " odp_page_invalidations %" PRIu64
		 " odp_page_prefetch %" PRIu64 " odp_alias_pages %" PRIu64
		 " odp_alias_fallbacks %" PRIu64 "\n",
		 after.page_faults, after.page_invalidations,
		 after.page_prefetch, after.alias_pages, after.alias_fallbacks);
	EXPECT_HAS(text, want);
	free(json);
	free(text);
}

TEST_F(odp_devmem, mr_show_carries_the_kernel_counters)
{
	struct rdma_nl_odp_mr mr;
	char want[512];
	int st;
	char *json, *text;

	ASSERT_EQ(0, rdma_nl_get_odp_mr(self->index, self->dev.mr->rkey, &mr))
	TH_LOG("%s", odp_reason());
	EXPECT_NE(0ULL, mr.alias_pages);
	json = run_tool(&st, false, "-j mr show %s %#x", self->pair.resp.name,
			self->dev.mr->rkey);
	ASSERT_NE(NULL, json);
	EXPECT_EQ(0, st);
	EXPECT_TRUE(json_parses(json)) TH_LOG("%s", json);
	snprintf(want, sizeof(want),
		 "{\"ifname\":\"%s\",\"rkey\":%u,\"odp_alias\":\"on\","
		 "\"counters\":{\"page_faults\":%" PRIu64
		 ",\"page_faults_handled\":%" PRIu64
		 ",\"page_invalidations\":%" PRIu64
		 ",\"page_invalidations_handled\":%" PRIu64
		 ",\"page_prefetch\":%" PRIu64 ",\"alias_pages\":%" PRIu64
		 ",\"alias_fallbacks\":%" PRIu64 "}}",
		 self->pair.resp.name, self->dev.mr->rkey, mr.page_faults,
		 mr.page_faults_handled, mr.page_invalidations,
		 mr.page_invalidations_handled, mr.page_prefetch,
		 mr.alias_pages, mr.alias_fallbacks);
	EXPECT_HAS(json, want);
	text = run_tool(&st, true, "mr show %s %u", self->pair.resp.name,
			self->dev.mr->rkey);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, st);
	TH_LOG("odp-devmem mr show %s %u:\n%s", self->pair.resp.name,
	       self->dev.mr->rkey, text);
	snprintf(want, sizeof(want),
		 " alias_pages %" PRIu64 " alias_fallbacks %" PRIu64 "\n",
		 mr.alias_pages, mr.alias_fallbacks);
	EXPECT_HAS(text, want);
	free(json);
	free(text);

	/* No MR has this key: a failure, with the reason */
	text = run_tool(&st, true, "mr show %s %#x", self->pair.resp.name,
			self->dev.mr->rkey ^ 0xff00u);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(1, st);
	EXPECT_HAS(text, "no MR with rkey");
	free(text);
}

TEST_F(odp_devmem, dev_set_flips_the_switch)
{
	const char *dev = self->pair.resp.name;
	bool on = true;
	int st;
	char *out;

	out = run_tool(&st, true, "dev set %s odp-alias off", dev);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	free(out);
	/* No ASSERT until the switch is back on */
	EXPECT_EQ(0, rdma_nl_get_odp_alias(self->index, &on));
	EXPECT_FALSE(on);
	out = run_tool(&st, false, "-j dev show %s", dev);
	if (out) {
		EXPECT_HAS(out, "\"general\":[\"ODP\"],");
		EXPECT_HAS(
			out,
			"\"odp_alias\":\"off\",\"device_private_in_place\":false");
		free(out);
	}
	out = run_tool(&st, true, "status");
	if (out) {
		EXPECT_HAS(out,
			   "ODP, device private pages migrate (odp-alias off)");
		free(out);
	}
	out = run_tool(&st, true, "dev set %s odp-alias on", dev);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st) TH_LOG("%s", out);
	free(out);
	ASSERT_EQ(0, rdma_nl_get_odp_alias(self->index, &on));
	ASSERT_TRUE(on);

	out = run_tool(&st, true, "dev set %s odp-alias maybe", dev);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(2, st);
	EXPECT_HAS(out, "odp-alias takes on or off, not 'maybe'");
	free(out);
	out = run_tool(&st, true, "dev set %s mtu 1024", dev);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(2, st);
	EXPECT_HAS(out, "unknown attribute 'mtu'");
	free(out);
	out = run_tool(&st, true, "dev set no_such_dev odp-alias on");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(1, st);
	EXPECT_HAS(out, "no RDMA device no_such_dev");
	free(out);
	ASSERT_EQ(0, rdma_nl_get_odp_alias(self->index, &on));
	EXPECT_TRUE(on);
}

TEST_F(odp_devmem, where_reports_every_page)
{
	size_t page = odp_page_size(), i;
	uint8_t *buf = mmap(NULL, 12 * page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t base = (uintptr_t)buf;
	char want[768];
	int st;
	char *out;

	ASSERT_NE(MAP_FAILED, buf);
	/* Pages 0-3 on the device, 4-7 in RAM, 8-11 never touched */
	odp_fill(buf, 4 * page, self->dev.seed);
	migrate_to_device(_metadata, self->dmirror, buf, 4, self->dev.seed);
	for (i = 4; i < 8; i++)
		buf[i * page + i] = (uint8_t)i;

	out = run_tool(&st, false, "-j where %d %#lx %zu", (int)getpid(),
		       (unsigned long)(base + 100), 12 * page - 200);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st);
	EXPECT_TRUE(json_parses(out)) TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "{\"pid\":%d,\"start\":\"%#lx\",\"pages\":12,\"ranges\":["
		 "{\"start\":\"%#lx\",\"pages\":4,\"place\":\"some-device\"},"
		 "{\"start\":\"%#lx\",\"pages\":4,\"place\":\"host\"},"
		 "{\"start\":\"%#lx\",\"pages\":4,\"place\":\"none\"}],"
		 "\"count\":{\"host\":4,\"some-device\":4,\"none\":4,"
		 "\"unknown\":0}}\n",
		 (int)getpid(), (unsigned long)base, (unsigned long)base,
		 (unsigned long)(base + 4 * page),
		 (unsigned long)(base + 8 * page));
	EXPECT_STREQ(want, out);
	free(out);

	out = run_tool(&st, true, "where %d %#lx %zu", (int)getpid(),
		       (unsigned long)(base + 100), 12 * page - 200);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st);
	TH_LOG("odp-devmem where %d %#lx %zu:\n%s", (int)getpid(),
	       (unsigned long)(base + 100), 12 * page - 200, out);
	snprintf(want, sizeof(want),
		 "  %#lx-%#lx        4 pages some-device\n"
		 "  %#lx-%#lx        4 pages host\n"
		 "  %#lx-%#lx        4 pages none\n"
		 "total host 4 some-device 4 none 4 unknown 0\n",
		 (unsigned long)base, (unsigned long)(base + 4 * page),
		 (unsigned long)(base + 4 * page),
		 (unsigned long)(base + 8 * page),
		 (unsigned long)(base + 8 * page),
		 (unsigned long)(base + 12 * page));
	EXPECT_HAS(out, want);
	free(out);

	/* One page, the last byte of page 5: in RAM */
	out = run_tool(&st, true, "where %d %#lx 1", (int)getpid(),
		       (unsigned long)(base + 6 * page - 1));
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st);
	snprintf(
		want, sizeof(want),
		"  %#lx-%#lx        1 page  host\ntotal host 1 some-device 0 none 0 unknown 0\n",
		(unsigned long)(base + 5 * page),
		(unsigned long)(base + 6 * page));
	EXPECT_HAS(out, want);
	free(out);
	/* The device pages are still there: the tool moved nothing */
	EXPECT_OK(dmirror_check_places(self->dmirror, buf, 4, 0, 3,
				       DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE));
	munmap(buf, 12 * page);
}

TEST_F(odp_devmem, exporters_and_their_counters)
{
	struct hmm_dmirror_counters c;
	struct exporter_name e;
	char want[512], pci[80];
	int st;
	char *out;

	ASSERT_TRUE(exporter_name(&e))
	TH_LOG("%s: no such test_hmm device, or its PCI function not found",
	       odp_dmirror_path());
	out = run_tool(&st, false, "exporter -j");
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st);
	EXPECT_TRUE(json_parses(out)) TH_LOG("%s", out);
	if (e.pci[0])
		snprintf(pci, sizeof(pci), "\"%s\"", e.pci);
	else
		snprintf(pci, sizeof(pci), "null");
	snprintf(want, sizeof(want),
		 "{\"spec\":\"%s\",\"kind\":\"device private\","
		 "\"available\":true,\"detail\":\"%s\",\"pci\":%s}",
		 e.spec, odp_dmirror_path(), pci);
	EXPECT_HAS(out, want);
	EXPECT_HAS(out, "{\"spec\":\"cuda\",\"kind\":\"device private\","
			"\"available\":");
	free(out);

	/* Without --evict it refuses, and the device keeps its pages */
	out = run_tool(&st, true, "exporter counters %s", e.spec);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(2, st);
	EXPECT_HAS(out, "add --evict");
	free(out);
	EXPECT_OK(dmirror_check_places(self->dmirror, self->dev.addr, NPAGES, 0,
				       NPAGES - 1, DMIRROR_ON_DEVICE,
				       DMIRROR_ON_DEVICE));

	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &c))
	TH_LOG("%s", odp_reason());
	EXPECT_NE(0ULL, c.alias_offered);
	out = run_tool(&st, false, "-j exporter counters %s --evict", e.spec);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, st);
	snprintf(
		want, sizeof(want),
		"{\"exporter\":\"test_hmm:%s\",\"counters\":{\"migrated_to_host\":%llu,"
		"\"alias_offered\":%llu,\"alias_refused\":%llu}}\n",
		odp_dmirror_path(), (unsigned long long)c.migrated_to_ram,
		(unsigned long long)c.alias_offered,
		(unsigned long long)c.alias_refused);
	EXPECT_STREQ(want, out);
	free(out);
}

TEST(odp_devmem_bad_usage)
{
	static const struct {
		const char *args;
		int status;
		const char *says;
	} cases[] = {
		{ "frobnicate", 2, "unknown command 'frobnicate'" },
		{ "status now", 2, "status takes no arguments" },
		{ "--bogus", 2, "Usage:" },
		{ "where 0 0x1000 4096", 2, "'0' is not a process id" },
		{ "where -1 0x1000 4096", 2, "is not a process id" },
		{ "where 1 0x1000 0", 2, "is not a range" },
		{ "where 1 0x1000 -4096", 2, "is not a range" },
		{ "where 1 0xfffffffffffff000 8192", 2, "is not a range" },
		{ "where 1 0 0x100000000000", 2, "pages: at most" },
		{ "where 1 0x1000", 2, "where PID ADDR LEN" },
		{ "where 2147483647 0x1000 4096", 1,
		  "/proc/2147483647/pagemap" },
		{ "mr show rxe_a 0x1g", 2, "'0x1g' is not an rkey" },
		{ "mr show rxe_a 0x100000000", 2, "is not an rkey" },
		{ "mr show no_such_dev 1", 1, "no RDMA device no_such_dev" },
		{ "dev show no_such_dev", 1, "no RDMA device no_such_dev" },
		{ "dev set rxe_a odp-alias", 2,
		  "dev set DEV odp-alias on|off" },
		{ "exporter counters test_hmm:0 --now", 2, "--evict" },
		{ "exporter counters nosuch --evict", 1, "nosuch: " },
		{ "run -e test_hmmX -- true", 2, "an exporter is test_hmm" },
		{ "run -e cuda:x -- true", 2, "an exporter is test_hmm" },
		{ "run -n 1x -- true", 2, "a number of completions" },
		{ "run -x -- true", 2, "run [-e SPEC] [-n N]" },
		{ "dev show -h", 0, "Usage:" },
		{ "mr show rxe_a 0x", 2, "'0x' is not an rkey" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = -1;
		char *out = run_tool(&st, true, "%s", cases[i].args);

		ASSERT_NE(NULL, out);
		EXPECT_EQ(cases[i].status, st)
		TH_LOG("odp-devmem %s: %s", cases[i].args, out);
		EXPECT_NE(NULL, strstr(out, cases[i].says))
		TH_LOG("odp-devmem %s: expected \"%s\" in: %s", cases[i].args,
		       cases[i].says, out);
		free(out);
	}
}

TEST_HARNESS_MAIN
