/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/core/test_core.c - unit tests for lib/core: size and duration
 * parsing, string copies, the debug mask and the strata.conf parser.
 *
 * Config tests run in a mkdtemp directory holding two tier directories, a
 * regular file and a directory whose name contains '#'. In config texts,
 * "@D@" stands for that directory. Single-threaded.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"
#include "log.h"
#include "util.h"

struct fixture {
	char dir[PATH_MAX]; /* mkdtemp, resolved by realpath */
	char text[16384];   /* the config text, @D@ expanded */
	char err[STRATA_CFG_ERR_MAX];
	struct strata_cfg *cfg;
};

static void put_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/strata-core-XXXXXX";
	char path[PATH_MAX + 32];

	if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir))
		return -1;
	f->cfg = calloc(1, sizeof(*f->cfg));
	if (!f->cfg)
		return -1;
	snprintf(path, sizeof(path), "%s/nvme", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/capacity", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/hash#dir", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/conf", f->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/file", f->dir);
	put_file(path, "x", 1);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;
	int ret = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(f->cfg);
	free(f);
	return ret;
}

/* Expand @D@ in tmpl into f->text. */
static const char *expand(struct fixture *f, const char *tmpl)
{
	size_t n = 0;

	for (const char *s = tmpl; *s; s++) {
		if (strncmp(s, "@D@", 3) == 0) {
			size_t len = strlen(f->dir);

			assert_true(n + len < sizeof(f->text));
			memcpy(f->text + n, f->dir, len);
			n += len;
			s += 2;
			continue;
		}
		assert_true(n + 1 < sizeof(f->text));
		f->text[n++] = *s;
	}
	f->text[n] = '\0';
	return f->text;
}

static int parse(struct fixture *f, const char *tmpl)
{
	memset(f->cfg, 0, sizeof(*f->cfg));
	f->err[0] = '\0';
	return strata_cfg_parse("t.conf", expand(f, tmpl), f->cfg, f->err,
				sizeof(f->err));
}

/* Parse tmpl, expect -EINVAL, "t.conf:LINE: " and phrase in the message. */
static void expect_err(struct fixture *f, const char *tmpl, int line,
		       const char *phrase)
{
	char prefix[32];
	int ret = parse(f, tmpl);

	snprintf(prefix, sizeof(prefix), "t.conf:%d: ", line);
	if (ret != -EINVAL || strncmp(f->err, prefix, strlen(prefix)) != 0 ||
	    !strstr(f->err, phrase))
		fail_msg("ret %d, err '%s'; wanted -EINVAL, '%s...%s'", ret,
			 f->err, prefix, phrase);
}

#define NS                                                                \
	"[namespace]\ncatalog = /var/lib/strata/catalog.db\nsite = lab\n" \
	"placement = nvme\n"
#define TIER "[tier nvme]\nurl = file://@D@/nvme\n"

/* ---- util ---- */

static void parse_size_accepts_units(void **state)
{
	uint64_t v;

	assert_int_equal(strata_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(strata_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(strata_parse_size("512B", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(strata_parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(strata_parse_size("4KiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(strata_parse_size("100GiB", &v), 0);
	assert_int_equal(v, 100ull << 30);
	assert_int_equal(strata_parse_size("3 mib", &v), 0);
	assert_int_equal(v, 3ull << 20);
	assert_int_equal(strata_parse_size("2TB", &v), 0);
	assert_int_equal(v, 2000000000000ull);
	assert_int_equal(strata_parse_size("1P", &v), 0);
	assert_int_equal(v, 1ull << 50);
	assert_int_equal(strata_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
}

static void parse_size_rejects_garbage(void **state)
{
	uint64_t v = 7;

	assert_int_equal(strata_parse_size("", &v), -EINVAL);
	assert_int_equal(strata_parse_size("abc", &v), -EINVAL);
	assert_int_equal(strata_parse_size("-1", &v), -EINVAL);
	assert_int_equal(strata_parse_size(" 1", &v), -EINVAL);
	assert_int_equal(strata_parse_size("1X", &v), -EINVAL);
	assert_int_equal(strata_parse_size("1GiBs", &v), -EINVAL);
	assert_int_equal(strata_parse_size("18446744073709551616", &v),
			 -EINVAL);
	assert_int_equal(strata_parse_size("17179869184GiB", &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void parse_seconds_accepts_units(void **state)
{
	double v;

	assert_int_equal(strata_parse_seconds("1", &v), 0);
	assert_true(v == 1.0);
	assert_int_equal(strata_parse_seconds("0.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(strata_parse_seconds(".25s", &v), 0);
	assert_true(v == 0.25);
	assert_int_equal(strata_parse_seconds("2m", &v), 0);
	assert_true(v == 120.0);
	assert_int_equal(strata_parse_seconds("1h", &v), 0);
	assert_true(v == 3600.0);
	assert_int_equal(strata_parse_seconds("1d", &v), 0);
	assert_true(v == 86400.0);
	assert_int_equal(strata_parse_seconds("0", &v), 0);
	assert_true(v == 0.0);
}

static void parse_seconds_rejects_garbage(void **state)
{
	double v = 7;

	assert_int_equal(strata_parse_seconds("", &v), -EINVAL);
	assert_int_equal(strata_parse_seconds("soon", &v), -EINVAL);
	assert_int_equal(strata_parse_seconds("-1", &v), -EINVAL);
	assert_int_equal(strata_parse_seconds("1ms", &v), -EINVAL);
	assert_int_equal(strata_parse_seconds("1w", &v), -EINVAL);
	assert_int_equal(strata_parse_seconds("1e999", &v), -EINVAL);
	assert_true(v == 7.0);
}

static void mount_source_finds_proc_and_rejects_others(void **state)
{
	char src[64];

	assert_int_equal(strata_mount_source("/proc", "proc", src, sizeof(src)),
			 0);
	assert_string_equal(src, "proc");
	assert_int_equal(strata_mount_source("/proc", "fuse.strata", src,
					     sizeof(src)),
			 -EINVAL);
	assert_int_equal(strata_mount_source("/no/such/mount", "proc", src,
					     sizeof(src)),
			 -ENOENT);
}

static void strlcpy_copies_and_truncates(void **state)
{
	char buf[6];

	assert_int_equal(strata_strlcpy(buf, "abc", sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(strata_strlcpy(buf, "abcde", sizeof(buf)), 0);
	assert_string_equal(buf, "abcde");
	assert_int_equal(strata_strlcpy(buf, "abcdef", sizeof(buf)),
			 -ENAMETOOLONG);
	assert_string_equal(buf, "abcde");
	assert_int_equal(strata_strlcpy(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(strata_strlcpy(buf, "x", 0), -ENAMETOOLONG);
}

static void log_debug_mask_by_name(void **state)
{
	char bad[16] = "";

	assert_int_equal(
		strata_log_set_debug("catalog,backend", bad, sizeof(bad)), 0);
	assert_true(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_CATALOG));
	assert_true(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_BACKEND));
	assert_false(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_VFS));
	assert_true(strata_log_enabled(STRATA_LOG_ERR, STRATA_SUB_VFS));

	assert_int_equal(strata_log_set_debug("vfs,bogus", bad, sizeof(bad)),
			 -EINVAL);
	assert_string_equal(bad, "bogus");
	/* A bad list leaves the mask as it was. */
	assert_true(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_CATALOG));
	assert_false(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_VFS));

	assert_int_equal(strata_log_set_debug("all", NULL, 0), 0);
	assert_true(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_POLICY));
	assert_int_equal(strata_log_set_debug("core", NULL, 0), 0);
	assert_false(strata_log_enabled(STRATA_LOG_DEBUG, STRATA_SUB_POLICY));
	strata_log_set_level(STRATA_LOG_WARN);
	assert_false(strata_log_enabled(STRATA_LOG_INFO, STRATA_SUB_VFS));
	assert_true(strata_log_enabled(STRATA_LOG_WARN, STRATA_SUB_VFS));
	strata_log_set_level(STRATA_LOG_INFO);
}

/* ---- URLs ---- */

static void uri_splits_generic_urls(void **state)
{
	struct strata_uri u;
	char err[256];

	assert_int_equal(strata_uri_parse("nfs://filer:2049/export/a?v=4.1&x=1",
					  &u, err, sizeof(err)),
			 0);
	assert_string_equal(u.scheme, "nfs");
	assert_string_equal(u.host, "filer:2049");
	assert_string_equal(u.path, "/export/a");
	assert_string_equal(u.query, "v=4.1&x=1");

	assert_int_equal(strata_uri_parse("s3://bucket/some/prefix", &u, err,
					  sizeof(err)),
			 0);
	assert_string_equal(u.scheme, "s3");
	assert_string_equal(u.host, "bucket");
	assert_string_equal(u.path, "/some/prefix");
	assert_string_equal(u.query, "");

	assert_int_equal(strata_uri_parse("s3://bucket?region=eu", &u, err,
					  sizeof(err)),
			 0);
	assert_string_equal(u.host, "bucket");
	assert_string_equal(u.path, "");
	assert_string_equal(u.query, "region=eu");

	assert_int_equal(
		strata_uri_parse("FILE:///srv/tier", &u, err, sizeof(err)), 0);
	assert_string_equal(u.scheme, "file");
	assert_string_equal(u.host, "");
	assert_string_equal(u.path, "/srv/tier");
}

static void uri_rejects_missing_scheme(void **state)
{
	struct strata_uri u;
	char err[256];

	assert_int_equal(strata_uri_parse("/srv/tier", &u, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "missing scheme"));
	assert_non_null(strstr(err, "'/srv/tier'"));
	assert_int_equal(strata_uri_parse("://x", &u, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(strata_uri_parse("1a://x", &u, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad scheme"));
	assert_int_equal(strata_uri_parse("averyveryverylongscheme://x", &u,
					  err, sizeof(err)),
			 -EINVAL);
}

/* ---- good configs ---- */

static void cfg_minimal(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = f->cfg;
	char want[PATH_MAX + 8];

	assert_int_equal(parse(f, NS TIER), 0);
	assert_string_equal(c->path, "t.conf");
	assert_string_equal(c->catalog, "/var/lib/strata/catalog.db");
	assert_string_equal(c->site, "lab");
	assert_string_equal(c->placement, "nvme");
	assert_true(c->entry_timeout == 10.0);
	assert_true(c->attr_timeout == 10.0);
	assert_int_equal(c->ntiers, 1);
	assert_string_equal(c->tiers[0].name, "nvme");
	assert_string_equal(c->tiers[0].site, "lab");
	assert_string_equal(c->tiers[0].uri.scheme, "file");
	snprintf(want, sizeof(want), "%s/nvme", f->dir);
	assert_string_equal(c->tiers[0].uri.path, want);
	assert_int_equal(c->tiers[0].capacity, 0);
	assert_int_equal(c->tiers[0].line, 5);
	assert_ptr_equal(strata_cfg_tier(c, "nvme"), &c->tiers[0]);
	assert_null(strata_cfg_tier(c, "ssd"));
}

static void cfg_full(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = f->cfg;
	const struct strata_cfg_tier *t;

	assert_int_equal(parse(f, "[namespace]\n"
				  "catalog = /c.db\n"
				  "site = lab-1\n"
				  "placement = capacity\n"
				  "entry_timeout = 2.5s\n"
				  "attr_timeout = 1m\n"
				  "\n"
				  "[tier nvme]\n"
				  "url = file://@D@/nvme\n"
				  "capacity = 100GiB\n"
				  "[tier capacity]\n"
				  "site = far.away_2\n"
				  "url = file://localhost@D@/capacity/\n"
				  "capacity = 2TB\n"),
			 0);
	assert_true(c->entry_timeout == 2.5);
	assert_true(c->attr_timeout == 60.0);
	assert_string_equal(c->placement, "capacity");
	assert_int_equal(c->ntiers, 2);
	t = strata_cfg_tier(c, "nvme");
	assert_non_null(t);
	assert_int_equal(t->capacity, 100ull << 30);
	assert_string_equal(t->site, "lab-1");
	assert_int_equal(t->line, 8);
	t = strata_cfg_tier(c, "capacity");
	assert_non_null(t);
	assert_int_equal(t->capacity, 2000000000000ull);
	assert_string_equal(t->site, "far.away_2");
	assert_string_equal(t->uri.host, "localhost");
	assert_int_equal(t->line, 11);
	assert_non_null(strstr(t->url, "file://localhost/"));
}

static void cfg_comments_and_blank_lines(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = f->cfg;
	char want[PATH_MAX + 16];

	assert_int_equal(parse(f, "# a comment\n"
				  "; another\n"
				  "   \t\n"
				  "  [namespace]   # trailing\n"
				  "\tcatalog=/c.db ; semicolon comment\r\n"
				  "  # indented comment\n"
				  "site = lab # the lab\n"
				  "placement = nvme\t# tab before\n"
				  "[tier nvme] ; here\n"
				  "url = file://@D@/hash#dir   # '#' inside\n"
				  "# last line without newline"),
			 0);
	assert_string_equal(c->catalog, "/c.db");
	assert_string_equal(c->site, "lab");
	assert_string_equal(c->placement, "nvme");
	snprintf(want, sizeof(want), "%s/hash#dir", f->dir);
	assert_string_equal(c->tiers[0].uri.path, want);
}

static void cfg_quoted_values(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = f->cfg;

	assert_int_equal(parse(f, "[namespace]\n"
				  "catalog = \"/my dir/a \\\"b\\\" # c.db\""
				  "  # comment\n"
				  "site = \"lab\"\n"
				  "placement = \"nvme\"\n"
				  "[tier nvme]\n"
				  "url = \"file://@D@/nvme\"\n"),
			 0);
	assert_string_equal(c->catalog, "/my dir/a \"b\" # c.db");
	assert_string_equal(c->site, "lab");
}

static void cfg_relative_catalog_uses_config_dir(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char want[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/conf/strata.conf", f->dir);
	expand(f, "[namespace]\ncatalog = var/catalog.db\nsite = lab\n"
		  "placement = nvme\n" TIER);
	put_file(path, f->text, strlen(f->text));
	memset(f->cfg, 0, sizeof(*f->cfg));
	assert_int_equal(strata_cfg_load(path, f->cfg, f->err, sizeof(f->err)),
			 0);
	snprintf(want, sizeof(want), "%s/conf/var/catalog.db", f->dir);
	assert_string_equal(f->cfg->catalog, want);
	assert_string_equal(f->cfg->path, path);
}

static void cfg_parse_resolves_against_cwd(void **state)
{
	struct fixture *f = *state;
	char cwd[PATH_MAX];
	char want[PATH_MAX + 32];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(parse(f, "[namespace]\ncatalog = x/c.db\nsite = lab\n"
				  "placement = nvme\n" TIER),
			 0);
	snprintf(want, sizeof(want), "%s/x/c.db", cwd);
	assert_string_equal(f->cfg->catalog, want);
}

static void cfg_longest_line_is_accepted(void **state)
{
	struct fixture *f = *state;
	char tmpl[8192];
	size_t n;

	n = (size_t)snprintf(tmpl, sizeof(tmpl), "%s", NS TIER);
	memset(tmpl + n, '#', 4095);
	tmpl[n + 4095] = '\n';
	tmpl[n + 4096] = '\0';
	assert_int_equal(parse(f, tmpl), 0);
}

static void cfg_error_leaves_output_untouched(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = calloc(1, sizeof(*c));
	char err[STRATA_CFG_ERR_MAX];

	assert_non_null(c);
	c->ntiers = 77;
	strcpy(c->site, "keep");
	expand(f, NS TIER "bogus = 1\n");
	assert_int_equal(strata_cfg_parse("t.conf", f->text, c, err,
					  sizeof(err)),
			 -EINVAL);
	assert_int_equal(c->ntiers, 77);
	assert_string_equal(c->site, "keep");
	free(c);
}

/* ---- bad configs ---- */

static void cfg_policy_keys(void **state)
{
	struct fixture *f = *state;
	struct strata_cfg *c = f->cfg;

	assert_int_equal(parse(f, NS TIER), 0);
	assert_string_equal(c->rules, "");
	assert_int_equal(c->movers, STRATA_CFG_MOVERS_DEFAULT);
	assert_int_equal(c->bandwidth, 0);
	assert_int_equal(parse(f, NS "rules = /etc/strata/rules\n"
				     "movers = 8\n"
				     "bandwidth = 200MiB\n" TIER),
			 0);
	assert_string_equal(c->rules, "/etc/strata/rules");
	assert_int_equal(c->movers, 8);
	assert_int_equal(c->bandwidth, 200ull << 20);
	expect_err(f, NS "movers = 0\n" TIER, 5, "bad 'movers' value '0'");
	expect_err(f, NS "movers = 65\n" TIER, 5, "expected 1 to 64");
	expect_err(f, NS "bandwidth = fast\n" TIER, 5,
		   "bad 'bandwidth' value 'fast'");
}

static void cfg_bad_unknown_section(void **state)
{
	expect_err(*state, NS TIER "[bogus]\n", 7, "unknown section '[bogus]'");
	expect_err(*state, NS TIER "[tiers x]\n", 7, "unknown section");
}

static void cfg_bad_unknown_key(void **state)
{
	expect_err(*state, NS "colour = red\n" TIER, 5,
		   "unknown key 'colour' in [namespace]");
	expect_err(*state, NS TIER "placement = x\n", 7,
		   "unknown key 'placement' in [tier nvme]");
}

static void cfg_bad_duplicate_key(void **state)
{
	expect_err(*state, NS "site = other\n" TIER, 5,
		   "duplicate key 'site' in [namespace] (first at line 3)");
	expect_err(*state, NS TIER "url = file:///\n", 7,
		   "duplicate key 'url' in [tier nvme] (first at line 6)");
}

static void cfg_bad_duplicate_tier(void **state)
{
	expect_err(*state, NS TIER TIER, 7,
		   "duplicate tier 'nvme' (first at line 5)");
}

static void cfg_bad_duplicate_namespace(void **state)
{
	expect_err(*state, NS TIER "[namespace]\n", 7,
		   "duplicate [namespace] section (first at line 1)");
}

static void cfg_bad_missing_equals(void **state)
{
	expect_err(*state, NS "site lab\n" TIER, 5, "missing '='");
	expect_err(*state, NS "= lab\n" TIER, 5, "missing key");
}

static void cfg_bad_empty_value(void **state)
{
	expect_err(*state, "[namespace]\nsite =\n", 2,
		   "empty value for 'site'");
	expect_err(*state, "[namespace]\nsite = \"\"\n", 2,
		   "empty value for 'site'");
	expect_err(*state, "[namespace]\nsite =   # nothing\n", 2,
		   "empty value for 'site'");
}

static void cfg_bad_quotes(void **state)
{
	expect_err(*state, "[namespace]\nsite = \"lab\n", 2,
		   "missing closing '\"'");
	expect_err(*state, "[namespace]\nsite = \"lab\" x\n", 2,
		   "unexpected 'x' after quoted value");
}

static void cfg_bad_tier_name(void **state)
{
	char tmpl[256];

	expect_err(*state, NS "[tier bad/name]\n", 5,
		   "bad tier name 'bad/name'");
	expect_err(*state, NS "[tier two words]\n", 5, "bad tier name");
	expect_err(*state, NS "[tier]\n", 5, "missing tier name");
	snprintf(tmpl, sizeof(tmpl), NS "[tier %064d]\n", 0);
	expect_err(*state, tmpl, 5, "bad tier name");
	snprintf(tmpl, sizeof(tmpl),
		 NS "[tier %063d]\nurl = file://@D@/nvme\n"
		    "[tier nvme]\nurl = file://@D@/nvme\n",
		 0);
	assert_int_equal(parse(*state, tmpl), 0);
}

static void cfg_bad_site_name(void **state)
{
	expect_err(*state, "[namespace]\nsite = my lab\n", 2,
		   "bad site 'my lab'");
	expect_err(*state, NS "[tier nvme]\nsite = a:b\n", 6, "bad site 'a:b'");
}

static void cfg_bad_section_header(void **state)
{
	expect_err(*state, "[namespace\n", 1, "missing ']'");
	expect_err(*state, "[namespace] x\n", 1,
		   "unexpected 'x' after section header");
}

static void cfg_bad_url(void **state)
{
	expect_err(*state, NS "[tier nvme]\nurl = @D@/nvme\n", 6,
		   "missing scheme");
	expect_err(
		*state, NS "[tier nvme]\nurl = gopher://filer/export\n", 6,
		"unsupported URL scheme 'gopher' in 'gopher://filer/export'");
	expect_err(*state, NS "[tier nvme]\nurl = swift://bucket/prefix\n", 6,
		   "unsupported URL scheme 'swift'");
	expect_err(*state, NS "[tier nvme]\nurl = file://@D@/nvme?x=1\n", 6,
		   "takes no '?' options");
}

static void cfg_nfs_urls(void **state)
{
	struct fixture *f = *state;
	static const char *const good[] = {
		"nfs://filer/export",
		"nfs://10.0.0.5/vol/tiers/cold/",
		"nfs://filer/export?nfsport=2049&mountport=20048",
		"nfs://filer/e/p?conns=8&timeout=30&uid=0&gid=0&version=3",
		"nfs://filer/e?if=eth1&tcp-syncnt=3&debug=0",
	};
	char text[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "[namespace]\ncatalog = /c\nsite = lab\n"
			 "placement = cold\n[tier cold]\nurl = %s\n",
			 good[i]);
		assert_int_equal(strata_cfg_parse("t.conf", text, f->cfg,
						  f->err, sizeof(f->err)),
				 0);
		assert_string_equal(f->cfg->tiers[0].uri.scheme, "nfs");
		assert_string_equal(f->cfg->tiers[0].url, good[i]);
	}
}

static void cfg_bad_nfs_urls(void **state)
{
	expect_err(*state, NS "[tier nvme]\nurl = nfs:///export\n", 6,
		   "URL 'nfs:///export' names no server");
	expect_err(*state, NS "[tier nvme]\nurl = nfs://filer\n", 6,
		   "names no export");
	expect_err(*state, NS "[tier nvme]\nurl = nfs://filer/\n", 6,
		   "names no export");
	expect_err(*state, NS "[tier nvme]\nurl = nfs://filer/e?color=red\n", 6,
		   "unknown option 'color' in URL 'nfs://filer/e?color=red'");
	expect_err(
		*state, NS "[tier nvme]\nurl = nfs://filer/e?conns=0\n", 6,
		"option 'conns' in URL 'nfs://filer/e?conns=0' wants a number from 1 to 64");
	expect_err(*state, NS "[tier nvme]\nurl = nfs://filer/e?nfsport=x\n", 6,
		   "option 'nfsport'");
	expect_err(*state, NS "[tier nvme]\nurl = nfs://filer/e?version=4\n", 6,
		   "wants a number from 3 to 3");
	expect_err(
		*state, NS "[tier nvme]\nurl = nfs://filer/e?timeout\n", 6,
		"option 'timeout' in URL 'nfs://filer/e?timeout' needs a value");
}

static void cfg_s3_urls(void **state)
{
	struct fixture *f = *state;
	static const char *const good[] = {
		"s3://bucket",
		"s3://bucket/some/prefix/",
		"s3://b?endpoint=http://127.0.0.1:20609&credentials=/etc/s3",
		"s3://b/p?region=eu-west-1&style=virtual&ca=/etc/ca.pem",
		"s3://b?timeout=5&connect_timeout=2&retries=0&conns=16",
		"s3://b?partsize=64&readahead=0&listpage=2",
	};
	char text[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "[namespace]\ncatalog = /c\nsite = lab\n"
			 "placement = cold\n[tier cold]\nurl = %s\n",
			 good[i]);
		assert_int_equal(strata_cfg_parse("t.conf", text, f->cfg,
						  f->err, sizeof(f->err)),
				 0);
		assert_string_equal(f->cfg->tiers[0].uri.scheme, "s3");
		assert_string_equal(f->cfg->tiers[0].url, good[i]);
	}
}

static void cfg_bad_s3_urls(void **state)
{
	expect_err(*state, NS "[tier cold]\nurl = s3:///prefix\n", 6,
		   "URL 's3:///prefix' names no bucket");
	expect_err(*state, NS "[tier cold]\nurl = s3://b?colour=red\n", 6,
		   "unknown option 'colour' in URL 's3://b?colour=red'");
	expect_err(
		*state, NS "[tier cold]\nurl = s3://b?partsize=4\n", 6,
		"option 'partsize' in URL 's3://b?partsize=4' wants a number from 5 to 1024");
	expect_err(
		*state, NS "[tier cold]\nurl = s3://b?style=dns\n", 6,
		"option 'style' in URL 's3://b?style=dns' wants 'path' or 'virtual'");
	expect_err(
		*state, NS "[tier cold]\nurl = s3://b?credentials=creds\n", 6,
		"option 'credentials' in URL 's3://b?credentials=creds' wants an absolute path");
	expect_err(
		*state, NS "[tier cold]\nurl = s3://b?endpoint=ftp://x\n", 6,
		"option 'endpoint' in URL 's3://b?endpoint=ftp://x' wants an http:// or https:// URL");
	expect_err(*state, NS "[tier cold]\nurl = s3://b?timeout\n", 6,
		   "option 'timeout' in URL 's3://b?timeout' needs a value");
}

static void cfg_bad_file_path_not_absolute(void **state)
{
	expect_err(*state, NS "[tier nvme]\nurl = file://var/tiers/nvme\n", 6,
		   "not absolute");
	expect_err(*state, NS "[tier nvme]\nurl = file://\n", 6,
		   "not absolute");
}

static void cfg_bad_file_dir_missing(void **state)
{
	struct fixture *f = *state;
	char phrase[PATH_MAX + 64];

	snprintf(
		phrase, sizeof(phrase),
		"cannot use tier directory '%s/nope': No such file or directory",
		f->dir);
	expect_err(f, NS "[tier nvme]\nurl = file://@D@/nope\n", 6, phrase);
}

static void cfg_bad_file_not_a_dir(void **state)
{
	struct fixture *f = *state;
	char phrase[PATH_MAX + 64];

	snprintf(phrase, sizeof(phrase),
		 "cannot use tier directory '%s/file': Not a directory",
		 f->dir);
	expect_err(f, NS "[tier nvme]\nurl = file://@D@/file\n", 6, phrase);
}

static void cfg_bad_missing_required(void **state)
{
	expect_err(*state, "\n[namespace]\nsite = lab\nplacement = nvme\n" TIER,
		   2, "[namespace] is missing 'catalog'");
	expect_err(*state, "[namespace]\ncatalog = /c\nplacement = nvme\n" TIER,
		   1, "[namespace] is missing 'site'");
	expect_err(*state, "[namespace]\ncatalog = /c\nsite = lab\n" TIER, 1,
		   "[namespace] is missing 'placement'");
	expect_err(*state, NS TIER "[tier cap]\ncapacity = 1G\n", 7,
		   "[tier cap] is missing 'url'");
}

static void cfg_bad_missing_namespace(void **state)
{
	expect_err(*state, TIER, 0, "missing [namespace] section");
	expect_err(*state, "", 0, "missing [namespace] section");
}

static void cfg_bad_placement_unknown(void **state)
{
	expect_err(*state,
		   "[namespace]\ncatalog = /c\nplacement = ssd\n"
		   "site = lab\n" TIER,
		   3, "placement 'ssd' is not a defined tier");
}

static void cfg_bad_no_tiers(void **state)
{
	expect_err(*state, NS, 0, "no [tier NAME] section");
}

static void cfg_bad_numbers(void **state)
{
	expect_err(*state, NS TIER "capacity = lots\n", 7,
		   "bad size 'lots' for 'capacity'");
	expect_err(*state, NS TIER "capacity = 99999999999PiB\n", 7,
		   "bad size");
	expect_err(*state, NS "entry_timeout = soon\n" TIER, 5,
		   "bad duration 'soon' for 'entry_timeout'");
	expect_err(*state, NS "attr_timeout = -1\n" TIER, 5,
		   "bad duration '-1' for 'attr_timeout'");
}

static void cfg_bad_key_outside_section(void **state)
{
	expect_err(*state, "site = lab\n" NS TIER, 1,
		   "key 'site' outside of any section");
}

static void cfg_bad_too_many_tiers(void **state)
{
	char tmpl[8192];
	size_t n;

	n = (size_t)snprintf(tmpl, sizeof(tmpl), "%s", NS TIER);
	for (int i = 0; i < STRATA_CFG_MAX_TIERS; i++)
		n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n,
				      "[tier t%d]\nurl = file://@D@/nvme\n", i);
	expect_err(*state, tmpl, 5 + 2 * STRATA_CFG_MAX_TIERS,
		   "too many tiers");
}

static void cfg_bad_long_line(void **state)
{
	char tmpl[8192];
	size_t n;

	n = (size_t)snprintf(tmpl, sizeof(tmpl), "%s", NS);
	memcpy(tmpl + n, "site = ", 7);
	memset(tmpl + n + 7, 'a', 4089);
	tmpl[n + 4096] = '\n';
	tmpl[n + 4097] = '\0';
	expect_err(*state, tmpl, 5, "line too long");
}

static void cfg_load_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char want[PATH_MAX + 96];

	snprintf(path, sizeof(path), "%s/none.conf", f->dir);
	assert_int_equal(strata_cfg_load(path, f->cfg, f->err, sizeof(f->err)),
			 -ENOENT);
	snprintf(want, sizeof(want),
		 "cannot read config '%s': No such file or directory", path);
	assert_string_equal(f->err, want);
}

static void cfg_load_unreadable_file(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char want[PATH_MAX + 96];

	if (geteuid() == 0)
		skip(); /* root reads anything */
	snprintf(path, sizeof(path), "%s/secret.conf", f->dir);
	put_file(path, "", 0);
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(strata_cfg_load(path, f->cfg, f->err, sizeof(f->err)),
			 -EACCES);
	snprintf(want, sizeof(want),
		 "cannot read config '%s': Permission denied", path);
	assert_string_equal(f->err, want);
}

static void cfg_load_reports_path_and_line(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char want[PATH_MAX + 96];

	snprintf(path, sizeof(path), "%s/conf/bad.conf", f->dir);
	expand(f, NS "oops = 1\n" TIER);
	put_file(path, f->text, strlen(f->text));
	assert_int_equal(strata_cfg_load(path, f->cfg, f->err, sizeof(f->err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:5: unknown key 'oops' in [namespace]",
		 path);
	assert_string_equal(f->err, want);
}

static void cfg_load_nul_byte(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	char want[PATH_MAX + 64];
	static const char text[] = "[namespace]\nsite = l\0ab\n";

	snprintf(path, sizeof(path), "%s/conf/nul.conf", f->dir);
	put_file(path, text, sizeof(text) - 1);
	assert_int_equal(strata_cfg_load(path, f->cfg, f->err, sizeof(f->err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:2: NUL byte", path);
	assert_non_null(strstr(f->err, want));
}

static void timespec_sums_carry_and_compare(void **state)
{
	struct timespec t = { .tv_sec = 10, .tv_nsec = 900000000 };
	struct timespec u = strata_ts_add_ms(t, 1250);

	(void)state;
	assert_int_equal(u.tv_sec, 12);
	assert_int_equal(u.tv_nsec, 150000000);
	assert_true(strata_ts_before(t, u));
	assert_false(strata_ts_before(u, t));
	assert_false(strata_ts_before(t, t));
	u = strata_ts_add_ms(t, 99);
	assert_int_equal(u.tv_sec, 10);
	assert_int_equal(u.tv_nsec, 999000000);
	t = strata_mono_in_ms(0);
	assert_true(strata_ts_before(t, strata_mono_in_ms(1000)));
}

int main(void)
{
	const struct CMUnitTest util_tests[] = {
		cmocka_unit_test(parse_size_accepts_units),
		cmocka_unit_test(parse_size_rejects_garbage),
		cmocka_unit_test(parse_seconds_accepts_units),
		cmocka_unit_test(parse_seconds_rejects_garbage),
		cmocka_unit_test(strlcpy_copies_and_truncates),
		cmocka_unit_test(timespec_sums_carry_and_compare),
		cmocka_unit_test(mount_source_finds_proc_and_rejects_others),
		cmocka_unit_test(log_debug_mask_by_name),
		cmocka_unit_test(uri_splits_generic_urls),
		cmocka_unit_test(uri_rejects_missing_scheme),
	};
	const struct CMUnitTest cfg_tests[] = {
		cmocka_unit_test(cfg_minimal),
		cmocka_unit_test(cfg_full),
		cmocka_unit_test(cfg_policy_keys),
		cmocka_unit_test(cfg_comments_and_blank_lines),
		cmocka_unit_test(cfg_quoted_values),
		cmocka_unit_test(cfg_relative_catalog_uses_config_dir),
		cmocka_unit_test(cfg_parse_resolves_against_cwd),
		cmocka_unit_test(cfg_longest_line_is_accepted),
		cmocka_unit_test(cfg_error_leaves_output_untouched),
		cmocka_unit_test(cfg_bad_unknown_section),
		cmocka_unit_test(cfg_bad_unknown_key),
		cmocka_unit_test(cfg_bad_duplicate_key),
		cmocka_unit_test(cfg_bad_duplicate_tier),
		cmocka_unit_test(cfg_bad_duplicate_namespace),
		cmocka_unit_test(cfg_bad_missing_equals),
		cmocka_unit_test(cfg_bad_empty_value),
		cmocka_unit_test(cfg_bad_quotes),
		cmocka_unit_test(cfg_bad_tier_name),
		cmocka_unit_test(cfg_bad_site_name),
		cmocka_unit_test(cfg_bad_section_header),
		cmocka_unit_test(cfg_bad_url),
		cmocka_unit_test(cfg_nfs_urls),
		cmocka_unit_test(cfg_bad_nfs_urls),
		cmocka_unit_test(cfg_s3_urls),
		cmocka_unit_test(cfg_bad_s3_urls),
		cmocka_unit_test(cfg_bad_file_path_not_absolute),
		cmocka_unit_test(cfg_bad_file_dir_missing),
		cmocka_unit_test(cfg_bad_file_not_a_dir),
		cmocka_unit_test(cfg_bad_missing_required),
		cmocka_unit_test(cfg_bad_missing_namespace),
		cmocka_unit_test(cfg_bad_placement_unknown),
		cmocka_unit_test(cfg_bad_no_tiers),
		cmocka_unit_test(cfg_bad_numbers),
		cmocka_unit_test(cfg_bad_key_outside_section),
		cmocka_unit_test(cfg_bad_too_many_tiers),
		cmocka_unit_test(cfg_bad_long_line),
		cmocka_unit_test(cfg_load_missing_file),
		cmocka_unit_test(cfg_load_unreadable_file),
		cmocka_unit_test(cfg_load_reports_path_and_line),
		cmocka_unit_test(cfg_load_nul_byte),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("util", util_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("cfg", cfg_tests, group_setup,
					      group_teardown);
	return failed ? 1 : 0;
}
