/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_status.c - strata status [-c CONFIG] [--json] [PATH].
 *
 * Asks a running mount for each tier's capacity, use, free space, files
 * and jobs (pending, running, failed), and sums them per site; then the
 * files whose writes the mount could not record yet, if any. The mount
 * is the one holding PATH (default: the current directory) or CONFIG's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "util.h"

#define STATUS_USAGE "[-c CONFIG] [--json] [PATH]"
#define STATUS_SITES 32

struct status_site {
	const char *name;
	uint64_t v[7]; /* capacity used free files pending running failed */
	unsigned int unknown; /* bit k: v[k] is not known for some tier */
};

static const char *const status_keys[] = { "capacity", "used",	  "free",
					   "files",    "pending", "running",
					   "failed" };

/* A row; a value whose bit is set in unknown (an S3 tier's capacity and
 * free space, with no capacity configured) shows as "-". */
static void status_row(struct cmd_table *t, const char *name, const char *site,
		       const uint64_t *v, unsigned int unknown)
{
	char cells[7][32];
	const char *row[9] = { name, site };

	for (int i = 0; i < 7; i++) {
		if (unknown & (1u << i))
			snprintf(cells[i], sizeof(cells[i]), "-");
		else if (i < 3)
			cmd_size(v[i], cells[i], sizeof(cells[i]));
		else
			snprintf(cells[i], sizeof(cells[i]), "%" PRIu64, v[i]);
		row[2 + i] = cells[i];
	}
	cmd_table_row(t, row);
}

int cmd_status(int argc, char **argv, struct strata_ctx *ctx)
{
	static const char *const head[] = { "TIER",    "SITE",	  "CAPACITY",
					    "USED",    "FREE",	  "FILES",
					    "PENDING", "RUNNING", "FAILED" };
	struct status_site sites[STATUS_SITES];
	const struct strata_json *tiers, *jobs;
	struct strata_json *reply = NULL;
	unsigned int nsites = 0;
	struct cmd_table t;
	struct cmd_opts o;
	struct cmd_conn c;
	int status;

	status = cmd_op_call(argc, argv, ctx, STATUS_USAGE, &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	tiers = strata_json_get(reply, "tiers");
	cmd_table_init(&t, 9, 0x1fc);
	cmd_table_row(&t, head);
	memset(sites, 0, sizeof(sites));
	for (size_t i = 0; tiers && i < tiers->len; i++) {
		const struct strata_json *ti = tiers->items[i];
		const char *site = strata_json_get_str(ti, "site", "?");
		uint64_t v[7] = { 0 };
		unsigned int unknown = 0;
		unsigned int s;

		for (int k = 0; k < 7; k++) {
			int64_t x = 0;

			if (strata_json_get_int(ti, status_keys[k], &x) < 0)
				unknown |= 1u << k;
			v[k] = x < 0 ? 0 : (uint64_t)x;
		}
		status_row(&t, strata_json_get_str(ti, "name", "?"), site, v,
			   unknown);
		for (s = 0; s < nsites; s++)
			if (strcmp(sites[s].name, site) == 0)
				break;
		if (s == nsites && nsites < STATUS_SITES)
			sites[nsites++].name = site;
		for (int k = 0; s < nsites && k < 7; k++)
			sites[s].v[k] += v[k];
		if (s < nsites)
			sites[s].unknown |= unknown;
	}
	for (unsigned int s = 0; s < nsites; s++)
		status_row(&t, "(site)", sites[s].name, sites[s].v,
			   sites[s].unknown);
	cmd_table_print(&t);
	cmd_table_release(&t);
	jobs = strata_json_get(reply, "jobs");
	{
		int64_t p = 0, r = 0, f = 0;

		strata_json_get_int(jobs, "pending", &p);
		strata_json_get_int(jobs, "running", &r);
		strata_json_get_int(jobs, "failed", &f);
		printf("jobs: %" PRId64 " pending, %" PRId64
		       " running, %" PRId64 " failed\n",
		       p, r, f);
	}
	{
		int64_t u = 0;

		strata_json_get_int(reply, "unrecorded", &u);
		if (u > 0)
			printf("unrecorded: %" PRId64
			       " file(s) whose last writes the catalog could "
			       "not record yet (a full disk?); the mount "
			       "retries, and its log says more\n",
			       u);
	}
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
