/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/policy/test_plan.c - the planner over a real catalog (in
 * memory) and mem tiers: the jobs each rule kind wants, the catalog filter
 * compiled from conditions (files no rule can match are never returned by
 * the scan), pins over rules, re-placement after a rule change, evict
 * order, and explain.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "cfg.h"
#include "policy.h"
#include "util.h"
#include "vfs.h"

static const struct strata_cred root = { 0, 0 };

struct fixture {
	struct strata_cfg cfg;
	struct strata_vfs *vfs;
	struct strata_policy *pol;
	struct strata_job jobs[32];
	unsigned int njobs;
};

static int setup(void **state)
{
	struct strata_vfs_opts opts = { .entry_timeout = 1, .attr_timeout = 1 };
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256], url[128];

	strcpy(fx->cfg.catalog, ":memory:");
	strcpy(fx->cfg.site, "here");
	strcpy(fx->cfg.placement, "fast");
	fx->cfg.ntiers = 2;
	for (int i = 0; i < 2; i++) {
		struct strata_cfg_tier *t = &fx->cfg.tiers[i];

		strcpy(t->name, i == 0 ? "fast" : "slow");
		strcpy(t->site, "here");
		snprintf(url, sizeof(url), "mem://%s-%p", t->name, (void *)fx);
		strcpy(t->url, url);
		t->capacity = i == 0 ? 10000 : 0;
		assert_int_equal(
			strata_uri_parse(url, &t->uri, err, sizeof(err)), 0);
	}
	assert_int_equal(
		strata_vfs_new(&fx->cfg, &opts, &fx->vfs, err, sizeof(err)), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	strata_policy_free(fx->pol);
	strata_vfs_free(fx->vfs);
	free(fx);
	return 0;
}

static void rules(struct fixture *fx, const char *text)
{
	strata_policy_free(fx->pol);
	fx->pol = NULL;
	assert_int_equal(strata_policy_parse("rules", text, 0, &fx->pol, NULL),
			 0);
	assert_int_equal(strata_policy_check(fx->pol, &fx->cfg, NULL, NULL), 0);
}

/* A file /name of len bytes written now. */
static uint64_t file(struct fixture *fx, const char *name, size_t len)
{
	static char buf[4096];
	unsigned int oflags;
	struct stat st;
	uint64_t fh;
	size_t done;

	assert_int_equal(strata_vfs_create(fx->vfs, &root, 1, name, 0644,
					   O_RDWR, &st, &fh, &oflags),
			 0);
	if (len) {
		assert_int_equal(
			strata_vfs_write(fx->vfs, fh, 0, buf, len, &done), 0);
	}
	assert_int_equal(strata_vfs_release(fx->vfs, fh), 0);
	return st.st_ino;
}

static int collect(void *arg, const struct strata_job *job, const char *path,
		   uint64_t size)
{
	struct fixture *fx = arg;

	assert_true(fx->njobs < 32);
	fx->jobs[fx->njobs++] = *job;
	return 0;
}

static uint64_t pass(struct fixture *fx, const struct strata_policy *prev)
{
	struct strata_plan_stats st;

	fx->njobs = 0;
	assert_int_equal(strata_plan_run(fx->pol, prev, fx->vfs, strata_now(),
					 collect, fx, &st),
			 0);
	return st.files;
}

static uint32_t tier(struct fixture *fx, const char *name)
{
	struct strata_vfs_tier_info info;

	for (unsigned int i = 0; i < strata_vfs_tier_count(fx->vfs); i++) {
		assert_int_equal(strata_vfs_tier_info(fx->vfs, i, &info), 0);
		if (strcmp(info.name, name) == 0)
			return info.id;
	}
	fail();
	return 0;
}

static void migrate_moves_only_matching_files(void **state)
{
	struct fixture *fx = *state;
	uint64_t big = file(fx, "big", 2000);

	file(fx, "small", 10);
	rules(fx, "big: migrate \"**\" from fast to slow when size >= 1000\n");
	/* The size test became the scan's filter: one row, not two. */
	assert_int_equal(pass(fx, NULL), 1);
	assert_int_equal(fx->njobs, 1);
	assert_int_equal(fx->jobs[0].kind, STRATA_JOB_MOVE);
	assert_int_equal(fx->jobs[0].ino, big);
	assert_int_equal(fx->jobs[0].src_tier, tier(fx, "fast"));
	assert_int_equal(fx->jobs[0].dst_tier, tier(fx, "slow"));
	assert_string_equal(fx->jobs[0].rule, "big");
}

static void
conditions_the_filter_cannot_judge_pass_to_the_evaluator(void **state)
{
	struct fixture *fx = *state;
	uint64_t keep = file(fx, "keep.pt", 2000);

	file(fx, "other.bin", 2000);
	file(fx, "tiny.pt", 5);
	rules(fx, "m: migrate \"*.pt\" to slow when size > 100 or not "
		  "(size < 1)\n");
	/* "or not (...)" cannot narrow the scan: every file comes back. */
	assert_int_equal(pass(fx, NULL), 3);
	assert_int_equal(fx->njobs, 2);
	rules(fx, "m: migrate \"*.pt\" to slow when size > 100\n");
	assert_int_equal(pass(fx, NULL), 2);
	assert_int_equal(fx->njobs, 1);
	assert_int_equal(fx->jobs[0].ino, keep);
}

static void replicate_copies_and_pins_outrank_rules(void **state)
{
	struct fixture *fx = *state;
	uint64_t a = file(fx, "a", 100);
	struct strata_catalog *cat = strata_vfs_catalog(fx->vfs);

	rules(fx, "r: replicate \"/a\" to slow\n"
		  "m: migrate \"**\" from slow to fast when size > 1000000\n");
	assert_int_equal(pass(fx, NULL), 1);
	assert_int_equal(fx->njobs, 1);
	assert_int_equal(fx->jobs[0].kind, STRATA_JOB_COPY);
	assert_int_equal(fx->jobs[0].dst_tier, tier(fx, "slow"));
	/* Pinned to slow: moved there, whatever the rules say. */
	rules(fx, "m: migrate \"**\" from slow to fast when size > 1000000\n");
	assert_int_equal(strata_catalog_pin_set(cat, a, tier(fx, "slow")), 0);
	assert_int_equal(pass(fx, NULL), 1);
	assert_int_equal(fx->njobs, 1);
	assert_int_equal(fx->jobs[0].kind, STRATA_JOB_MOVE);
	assert_int_equal(fx->jobs[0].dst_tier, tier(fx, "slow"));
	assert_string_equal(fx->jobs[0].rule, "pin");
}

static void a_rule_change_re_places_what_the_old_placement_put(void **state)
{
	struct fixture *fx = *state;
	struct strata_policy *old;
	uint64_t a = file(fx, "a", 100);

	rules(fx, "p: place \"/a\" on fast\n");
	old = fx->pol;
	fx->pol = NULL;
	rules(fx, "p: place \"/a\" on slow\n");
	assert_int_equal(pass(fx, NULL), 0); /* no rule: nothing scanned */
	assert_int_equal(pass(fx, old), 1);
	assert_int_equal(fx->njobs, 1);
	assert_int_equal(fx->jobs[0].kind, STRATA_JOB_MOVE);
	assert_int_equal(fx->jobs[0].ino, a);
	assert_int_equal(fx->jobs[0].dst_tier, tier(fx, "slow"));
	strata_policy_free(old);
}

static void evict_takes_the_coldest_until_under_the_low_mark(void **state)
{
	struct fixture *fx = *state;
	struct strata_plan_stats st;
	struct strata_attr a;
	struct strata_catalog *cat = strata_vfs_catalog(fx->vfs);
	uint64_t f[4];

	/* fast holds 4 x 2200 of 10000 bytes: 88%. */
	for (int i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		f[i] = file(fx, name, 2200);
		assert_int_equal(strata_catalog_getattr(cat, f[i], &a), 0);
		a.atime.tv_sec = 1000000 + i * 1000; /* f0 coldest */
		assert_int_equal(strata_catalog_setattr(cat, f[i], &a,
							STRATA_SET_ATIME, &a),
				 0);
	}
	rules(fx, "e: evict fast to slow when used > 80% until used < 50%\n");
	fx->njobs = 0;
	assert_int_equal(strata_plan_evict(fx->pol, fx->vfs, strata_now(),
					   collect, fx, &st),
			 0);
	/* 8800 - 5000 = 3800 bytes to free: the two coldest files. */
	assert_int_equal(fx->njobs, 2);
	assert_int_equal(fx->jobs[0].ino, f[0]);
	assert_int_equal(fx->jobs[1].ino, f[1]);
	assert_int_equal(fx->jobs[0].kind, STRATA_JOB_MOVE);
}

static void line(void *arg, const char *l)
{
	char *out = arg;

	strcat(out, l);
	strcat(out, "\n");
}

static void explain_says_why_and_what(void **state)
{
	struct fixture *fx = *state;
	uint64_t f = file(fx, "f", 10);
	char out[4096] = "";

	rules(fx, "big: migrate \"**\" to slow when size >= 1000\n"
		  "all: replicate \"/f\" to slow\n");
	assert_int_equal(strata_plan_explain(fx->pol, fx->vfs, f, strata_now(),
					     line, out),
			 0);
	assert_non_null(strstr(out, "file '/f': 10 bytes, on fast\n"));
	assert_non_null(strstr(out, "size 10 B >= 1000 B [no]"));
	assert_non_null(strstr(out, "would copy to slow (rule 'all')"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
		T(migrate_moves_only_matching_files),
		T(conditions_the_filter_cannot_judge_pass_to_the_evaluator),
		T(replicate_copies_and_pins_outrank_rules),
		T(a_rule_change_re_places_what_the_old_placement_put),
		T(evict_takes_the_coldest_until_under_the_low_mark),
		T(explain_says_why_and_what),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
