/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_rules.c - strata rules check | explain | plan: the dry runs.
 *
 * check parses a rules file and judges what it means, against CONFIG's
 * tiers and sites when given, and prints every problem as "FILE:LINE:COL:
 * error|warning: message", in file order, then a summary line. explain
 * shows, for one file of a namespace, how each rule judges it and what the
 * engine would do; plan runs one evaluation pass and counts the files and
 * bytes it would move per rule. None of them moves anything, and none
 * needs the namespace to be mounted (it may be). Exit status: 0 ok, 1 an
 * error (for check: the file has errors), 2 bad usage. User and group
 * names resolve through the local passwd and group databases.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>
#include <limits.h>
#include <unistd.h>

#include "catalog.h"
#include "cfg.h"
#include "cmd.h"
#include "json.h"
#include "policy.h"
#include "util.h"
#include "vfs.h"

#define RULES_USAGE                                                       \
	"usage: strata rules check [-c CONFIG] FILE | explain -c CONFIG " \
	"[-r RULES] PATH | plan -c CONFIG [-r RULES] [--json]"

static int rules_user(void *arg, const char *name, uint32_t *id)
{
	struct passwd *pw = getpwnam(name);

	if (!pw)
		return -ENOENT;
	*id = pw->pw_uid;
	return 0;
}

static int rules_group(void *arg, const char *name, uint32_t *id)
{
	struct group *gr = getgrnam(name);

	if (!gr)
		return -ENOENT;
	*id = gr->gr_gid;
	return 0;
}

/* --json: the reply is built here and printed as one line at the end. */
static struct strata_jw *rules_jw;

static const struct strata_policy_diags *rules_sort_diags;

/* File order; among equal positions, the order they were found in. */
static int rules_cmp(const void *a, const void *b)
{
	const struct strata_policy_diag *v = rules_sort_diags->v;
	unsigned int i = *(const unsigned int *)a;
	unsigned int j = *(const unsigned int *)b;

	if (v[i].line != v[j].line)
		return v[i].line < v[j].line ? -1 : 1;
	if (v[i].col != v[j].col)
		return v[i].col < v[j].col ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int rules_print(const char *file, const struct strata_policy_diags *d)
{
	unsigned int *order = calloc(d->n ? d->n : 1, sizeof(*order));

	if (!order)
		return -ENOMEM;
	for (unsigned int i = 0; i < d->n; i++)
		order[i] = i;
	rules_sort_diags = d;
	qsort(order, d->n, sizeof(*order), rules_cmp);
	for (unsigned int i = 0; i < d->n; i++) {
		const struct strata_policy_diag *g = &d->v[order[i]];

		if (rules_jw) {
			strata_jw_obj(rules_jw);
			strata_jw_kint(rules_jw, "line", g->line);
			strata_jw_kint(rules_jw, "col", g->col);
			strata_jw_kstr(
				rules_jw, "severity",
				strata_policy_severity_name(g->severity));
			strata_jw_kstr(rules_jw, "message", g->msg);
			strata_jw_obj_end(rules_jw);
			continue;
		}
		printf("%s:%d:%d: %s: %s\n", file, g->line, g->col,
		       strata_policy_severity_name(g->severity), g->msg);
	}
	free(order);
	return 0;
}

static int rules_check(int argc, char **argv, struct strata_ctx *ctx)
{
	static const struct strata_policy_resolver res = {
		.user = rules_user,
		.group = rules_group,
	};
	struct strata_policy_diags diags = { 0 };
	struct strata_policy *pol = NULL;
	struct strata_cfg *cfg = NULL;
	const char *config = NULL;
	char err[STRATA_CFG_ERR_MAX];
	int status = 1;
	int opt, ret;

	optind = 1;
	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			printf("%s\n", RULES_USAGE);
			status = 0;
			goto out;
		default:
			cmd_error(ctx, RULES_USAGE);
			status = 2;
			goto out;
		}
	}
	if (optind + 1 != argc) {
		cmd_error(ctx, RULES_USAGE);
		status = 2;
		goto out;
	}
	if (config) {
		cfg = calloc(1, sizeof(*cfg));
		if (!cfg) {
			cmd_error(ctx, "out of memory");
			goto out;
		}
		ret = strata_cfg_load(config, cfg, err, sizeof(err));
		if (ret < 0) {
			cmd_error(ctx, "%s", err);
			goto out;
		}
	}
	ret = strata_policy_load(argv[optind], STRATA_POLICY_PARTIAL, &pol,
				 &diags);
	if (ret < 0 && ret != -EINVAL) {
		cmd_error(ctx, "cannot read rules file '%s': %s", argv[optind],
			  strerror(-ret));
		goto out;
	}
	if (pol) {
		ret = strata_policy_check(pol, cfg, &res, &diags);
		if (ret == -ENOMEM) {
			cmd_error(ctx, "out of memory");
			goto out;
		}
	}
	if (rules_jw) {
		strata_jw_kstr(rules_jw, "file", argv[optind]);
		strata_jw_key(rules_jw, "diagnostics");
		strata_jw_arr(rules_jw);
	}
	if (rules_print(argv[optind], &diags) < 0) {
		cmd_error(ctx, "out of memory");
		goto out;
	}
	if (rules_jw) {
		strata_jw_arr_end(rules_jw);
		strata_jw_kuint(rules_jw, "errors", diags.nerrors);
		strata_jw_kuint(rules_jw, "warnings", diags.nwarnings);
		strata_jw_kuint(rules_jw, "rules", pol ? pol->nrules : 0);
		strata_jw_kbool(rules_jw, "tiers_checked", cfg != NULL);
	} else if (diags.nerrors || !pol)
		printf("%s: %u error%s, %u warning%s\n", argv[optind],
		       diags.nerrors, diags.nerrors == 1 ? "" : "s",
		       diags.nwarnings, diags.nwarnings == 1 ? "" : "s");
	else
		printf("%s: ok, %u rule%s, interval %gs, %u warning%s%s\n",
		       argv[optind], pol->nrules, pol->nrules == 1 ? "" : "s",
		       pol->interval, diags.nwarnings,
		       diags.nwarnings == 1 ? "" : "s",
		       cfg ? "" : " (tiers not checked: no -c CONFIG)");
	status = diags.nerrors ? 1 : 0;
out:
	strata_policy_free(pol);
	strata_policy_diags_release(&diags);
	free(cfg);
	return status;
}

/* What explain and plan look at: the config, its rules, the namespace. */
struct rules_ns {
	struct strata_cfg *cfg;
	struct strata_policy *pol;
	struct strata_vfs *vfs;
};

static void rules_ns_close(struct rules_ns *ns)
{
	strata_vfs_free(ns->vfs);
	strata_policy_free(ns->pol);
	free(ns->cfg);
}

/* Parse "-c CONFIG [-r RULES]" and open all three; argv[optind] is next. */
static int rules_ns_open(int argc, char **argv, struct strata_ctx *ctx,
			 int nargs, struct rules_ns *ns)
{
	struct strata_vfs_opts vo = { .entry_timeout = 1, .attr_timeout = 1 };
	const char *config = NULL, *rules = NULL;
	char err[PATH_MAX + 512];
	int opt;

	memset(ns, 0, sizeof(*ns));
	vo.inspect = true;
	optind = 1;
	while ((opt = getopt(argc, argv, "+c:r:")) != -1) {
		if (opt == 'c')
			config = optarg;
		else if (opt == 'r')
			rules = optarg;
		else
			goto usage;
	}
	if (!config || argc - optind != nargs)
		goto usage;
	ns->cfg = calloc(1, sizeof(*ns->cfg));
	if (!ns->cfg) {
		cmd_error(ctx, "out of memory");
		return 1;
	}
	if (strata_cfg_load(config, ns->cfg, err, sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		return 1;
	}
	if (!rules)
		rules = ns->cfg->rules;
	if (!rules[0]) {
		cmd_error(ctx, "config '%s' names no rules file; give -r RULES",
			  config);
		return 1;
	}
	if (strata_engine_load_rules(rules, ns->cfg, &ns->pol, err,
				     sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		return 1;
	}
	if (strata_vfs_new(ns->cfg, &vo, &ns->vfs, err, sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		return 1;
	}
	return 0;
usage:
	cmd_error(ctx, RULES_USAGE);
	return 2;
}

/*
 * The namespace path of arg: a path through a strata mount loses the
 * mount point; anything else must be a path from the namespace root.
 */
static int rules_ns_path(const char *arg, char *out, size_t len)
{
	char real[PATH_MAX], src[PATH_MAX];
	char *cut;

	if (realpath(arg, real)) {
		for (cut = real + strlen(real); cut > real;) {
			char keep = *cut;

			*cut = '\0';
			if (strata_mount_source(real, "fuse.strata", src,
						sizeof(src)) == 0) {
				*cut = keep;
				return strata_strlcpy(out, keep ? cut : "/",
						      len);
			}
			*cut = keep;
			while (--cut > real && *cut != '/')
				;
		}
	}
	if (arg[0] != '/')
		return -EINVAL;
	return strata_strlcpy(out, arg, len);
}

/* Resolve a namespace path to its inode through the catalog. */
static int rules_lookup(struct strata_catalog *cat, const char *path,
			uint64_t *ino)
{
	char buf[PATH_MAX];
	struct strata_attr a;
	char *save = NULL, *part;
	strata_ino_t cur = STRATA_ROOT_INO;
	int ret;

	ret = strata_strlcpy(buf, path, sizeof(buf));
	if (ret < 0)
		return ret;
	for (part = strtok_r(buf, "/", &save); part;
	     part = strtok_r(NULL, "/", &save)) {
		ret = strata_catalog_lookup(cat, cur, part, &a);
		if (ret < 0)
			return ret;
		cur = a.ino;
	}
	*ino = cur;
	return 0;
}

static void rules_line(void *arg, const char *line)
{
	(void)arg;
	if (rules_jw)
		strata_jw_str(rules_jw, line);
	else
		printf("%s\n", line);
}

static int rules_explain(int argc, char **argv, struct strata_ctx *ctx)
{
	struct rules_ns ns;
	char path[PATH_MAX];
	uint64_t ino;
	int status, ret;

	status = rules_ns_open(argc, argv, ctx, 1, &ns);
	if (status)
		goto out;
	status = 1;
	if (rules_ns_path(argv[optind], path, sizeof(path)) < 0) {
		cmd_error(ctx, "'%s' is not in a strata namespace",
			  argv[optind]);
		goto out;
	}
	ret = rules_lookup(strata_vfs_catalog(ns.vfs), path, &ino);
	if (rules_jw) {
		strata_jw_kstr(rules_jw, "path", path);
		strata_jw_key(rules_jw, "lines");
		strata_jw_arr(rules_jw);
	}
	if (ret == 0)
		ret = strata_plan_explain(ns.pol, ns.vfs, ino, strata_now(),
					  rules_line, NULL);
	if (rules_jw)
		strata_jw_arr_end(rules_jw);
	if (ret == -ENOENT) {
		cmd_error(ctx, "'%s': no such regular file in the namespace",
			  path);
		goto out;
	}
	if (ret < 0) {
		cmd_error(ctx, "cannot explain '%s': %s", path, strerror(-ret));
		goto out;
	}
	status = 0;
out:
	rules_ns_close(&ns);
	return status;
}

#define RULES_PLAN_MAX 256

struct rules_tally {
	char rule[STRATA_JOB_RULE_MAX];
	enum strata_job_kind kind;
	uint64_t files;
	uint64_t bytes;
};

struct rules_plan {
	struct rules_tally v[RULES_PLAN_MAX];
	unsigned int n;
};

static int rules_count(void *arg, const struct strata_job *job,
		       const char *path, uint64_t size)
{
	struct rules_plan *rp = arg;
	unsigned int i;

	(void)path;
	for (i = 0; i < rp->n; i++)
		if (rp->v[i].kind == job->kind &&
		    strcmp(rp->v[i].rule, job->rule) == 0)
			break;
	if (i == rp->n) {
		if (rp->n == RULES_PLAN_MAX)
			return 0;
		rp->n++;
		strata_strlcpy(rp->v[i].rule, job->rule, sizeof(rp->v[i].rule));
		rp->v[i].kind = job->kind;
	}
	rp->v[i].files++;
	rp->v[i].bytes += size;
	return 0;
}

static int rules_plan(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_plan_stats st;
	struct timespec now = strata_now();
	struct rules_plan *rp = NULL;
	struct rules_ns ns;
	int status, ret;

	status = rules_ns_open(argc, argv, ctx, 0, &ns);
	if (status)
		goto out;
	status = 1;
	rp = calloc(1, sizeof(*rp));
	if (!rp) {
		cmd_error(ctx, "out of memory");
		goto out;
	}
	ret = strata_plan_run(ns.pol, NULL, ns.vfs, now, rules_count, rp, &st);
	if (ret < 0) {
		cmd_error(ctx, "planning failed: %s", strerror(-ret));
		goto out;
	}
	if (rules_jw) {
		strata_jw_key(rules_jw, "plan");
		strata_jw_arr(rules_jw);
		for (unsigned int i = 0; i < rp->n; i++) {
			strata_jw_obj(rules_jw);
			strata_jw_kstr(rules_jw, "rule", rp->v[i].rule);
			strata_jw_kstr(rules_jw, "job",
				       strata_plan_kind_name(rp->v[i].kind));
			strata_jw_kuint(rules_jw, "files", rp->v[i].files);
			strata_jw_kuint(rules_jw, "bytes", rp->v[i].bytes);
			strata_jw_obj_end(rules_jw);
		}
		strata_jw_arr_end(rules_jw);
		strata_jw_kuint(rules_jw, "looked_at", st.files);
		status = 0;
		goto out;
	}
	printf("%-20s %-5s %10s %16s\n", "RULE", "JOB", "FILES", "BYTES");
	for (unsigned int i = 0; i < rp->n; i++)
		printf("%-20s %-5s %10" PRIu64 " %16" PRIu64 "\n",
		       rp->v[i].rule, strata_plan_kind_name(rp->v[i].kind),
		       rp->v[i].files, rp->v[i].bytes);
	printf("%" PRIu64 " files looked at; nothing was moved\n", st.files);
	status = 0;
out:
	free(rp);
	rules_ns_close(&ns);
	return status;
}

static int rules_run(int argc, char **argv, struct strata_ctx *ctx)
{
	if (argc < 2) {
		cmd_error(ctx, RULES_USAGE);
		return 2;
	}
	if (strcmp(argv[1], "check") == 0)
		return rules_check(argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "explain") == 0)
		return rules_explain(argc - 1, argv + 1, ctx);
	if (strcmp(argv[1], "plan") == 0)
		return rules_plan(argc - 1, argv + 1, ctx);
	cmd_error(ctx, "unknown subcommand '%s'; %s", argv[1], RULES_USAGE);
	return 2;
}

int cmd_rules(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_jw w = { 0 };
	const char *text;
	size_t len;
	int status, n = 0;

	/* --json anywhere: taken out before the subcommands parse. */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			rules_jw = &w;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	if (rules_jw) {
		strata_jw_obj(&w);
		strata_jw_kstr(&w, "command", n > 1 ? argv[1] : "");
	}
	status = rules_run(n, argv, ctx);
	if (rules_jw && status != 2) {
		strata_jw_kbool(&w, "ok", status == 0);
		strata_jw_obj_end(&w);
		if (strata_jw_finish(&w, &text, &len) == 0) {
			printf("%s\n", text);
		} else {
			cmd_error(ctx, "out of memory");
			status = 1;
		}
	}
	strata_jw_release(&w);
	rules_jw = NULL;
	return status;
}
