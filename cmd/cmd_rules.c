/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_rules.c - strata rules check [-c CONFIG] FILE.
 *
 * Parses a rules file and judges what it means, against CONFIG's tiers
 * and sites when given, and prints every problem as "FILE:LINE:COL:
 * error|warning: message", in file order, then a summary line. Nothing is
 * moved and no mount is needed. Exit status: 0 when there are no errors
 * (warnings allowed), 1 when there are, 2 for bad usage. User and group
 * names resolve through the local passwd and group databases.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cmd.h"
#include "policy.h"

#define RULES_USAGE "usage: strata rules check [-c CONFIG] FILE"

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
	if (rules_print(argv[optind], &diags) < 0) {
		cmd_error(ctx, "out of memory");
		goto out;
	}
	if (diags.nerrors || !pol)
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

int cmd_rules(int argc, char **argv, struct strata_ctx *ctx)
{
	if (argc < 2) {
		cmd_error(ctx, RULES_USAGE);
		return 2;
	}
	if (strcmp(argv[1], "check") == 0)
		return rules_check(argc - 1, argv + 1, ctx);
	cmd_error(ctx, "unknown subcommand '%s'; %s", argv[1], RULES_USAGE);
	return 2;
}
