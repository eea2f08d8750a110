/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/policy.h - the rules language: parse a rules file, check it
 * against a config, and evaluate it for one file at a time.
 *
 * The language is documented in man/strata-rules.5. Parsing and checking
 * report problems as diagnostics (line, column, error or warning, message)
 * and never print. Evaluation (eval.c) is pure: it maps the policy, the
 * facts of one file and the time the caller passes in to a decision, with
 * no I/O and no clock reads; a caller that needs user or group names
 * resolved supplies a resolver. Carrying decisions out (copies, moves,
 * eviction passes on a timer) is the engine's business, not this module's.
 *
 * Threads: a policy is immutable after strata_policy_check(); evaluation
 * functions may run on any number of threads at once, provided the bound
 * config and resolver allow it. Functions that can fail return 0 or a
 * negative errno.
 */
#ifndef STRATA_POLICY_POLICY_H
#define STRATA_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ast.h"
#include "catalog.h"

struct strata_cfg;

/* Diagnostics ----------------------------------------------------------- */

enum strata_policy_severity {
	STRATA_POLICY_ERROR,
	STRATA_POLICY_WARNING,
};

#define STRATA_POLICY_MSG_MAX 256

struct strata_policy_diag {
	enum strata_policy_severity severity;
	int line;
	int col;
	char msg[STRATA_POLICY_MSG_MAX]; /* lower case, subject quoted */
};

/*
 * A growing list of diagnostics in the caller's storage: zero it before
 * first use, release it with strata_policy_diags_release(). Parse and check
 * append; entries stay in the order they were found.
 */
struct strata_policy_diags {
	struct strata_policy_diag *v;
	unsigned int n;
	unsigned int cap;
	unsigned int nerrors;
	unsigned int nwarnings;
};

void strata_policy_diags_release(struct strata_policy_diags *d);

/* "error" or "warning". */
const char *strata_policy_severity_name(enum strata_policy_severity sev);

/* Parsing ---------------------------------------------------------------- */

/* Keep the statements that parsed even when others did not (rules check). */
#define STRATA_POLICY_PARTIAL 0x1u

/*
 * Parse text; name stands for the file in the policy and in messages.
 * Syntax errors are appended to diags (which may be NULL): the parser stops
 * at the first error of a statement and goes on with the next line, so one
 * pass reports several. Returns 0 and a new policy in *out, -EINVAL when
 * there was a syntax error (then *out is NULL unless flags has
 * STRATA_POLICY_PARTIAL, in which case it holds the statements that
 * parsed), or -ENOMEM. Free the policy with strata_policy_free().
 */
int strata_policy_parse(const char *name, const char *text, unsigned int flags,
			struct strata_policy **out,
			struct strata_policy_diags *diags);

/*
 * The same, reading the file at path. Returns as strata_policy_parse(), or
 * the errno of opening or reading the file (no diagnostic then).
 */
int strata_policy_load(const char *path, unsigned int flags,
		       struct strata_policy **out,
		       struct strata_policy_diags *diags);

void strata_policy_free(struct strata_policy *p);

/* Checking --------------------------------------------------------------- */

/*
 * Resolves user and group names for owner and group conditions. Each
 * returns 0 and the id, or -ENOENT. NULL members resolve nothing. The
 * callbacks must be safe to call from every thread that evaluates.
 */
struct strata_policy_resolver {
	int (*user)(void *arg, const char *name, uint32_t *uid);
	int (*group)(void *arg, const char *name, uint32_t *gid);
	void *arg;
};

/*
 * Judge the policy's meaning against cfg (may be NULL: tier and site names
 * are then not checked) and bind cfg and res to it for evaluation; both are
 * borrowed and must outlive every later evaluation. Errors: an unknown
 * tier or site, TIER@SITE where the tier is at another site, 'from' equal
 * to 'to', evict marks outside 0..100 or out of order, evict over a site.
 * Warnings: a rule shadowed by an earlier unconditional rule of the same
 * kind whose pattern covers it, a condition that can never be true, a
 * pattern that can never match, a place condition on facts a new file
 * does not have yet, an owner or group the resolver does not know.
 * (Duplicate rule names and a duplicate or zero interval are syntax
 * errors, found by the parser.) Returns 0 when it found no error, -EINVAL
 * when it did, -ENOMEM.
 */
int strata_policy_check(struct strata_policy *p, const struct strata_cfg *cfg,
			const struct strata_policy_resolver *res,
			struct strata_policy_diags *diags);

/* Evaluation (pure) ------------------------------------------------------ */

/* A user.* extended attribute: name without "user.", value of len bytes. */
struct strata_policy_tag {
	const char *name;
	const void *value;
	size_t len;
};

/* Reads of the file within the last window seconds. */
typedef uint64_t (*strata_policy_heat_cb)(void *arg, double window);

/*
 * What evaluation knows of one file; borrowed for the call only. Tier
 * names in results may point into tiers[] and pin, so they live as long
 * as these do.
 */
struct strata_policy_facts {
	const char *path; /* from the mount root, starting with '/' */
	const char *name; /* the last component; NULL: taken from path */
	uint64_t size;
	struct timespec atime;
	struct timespec mtime;
	struct timespec ctime;
	struct timespec btime; /* creation; { 0, 0 }: use ctime */
	uint32_t uid;
	uint32_t gid;
	const struct strata_policy_tag *tags;
	unsigned int ntags;
	strata_policy_heat_cb heat; /* NULL: no reads */
	void *heat_arg;
	const char *const *tiers; /* tiers holding a valid replica */
	unsigned int ntiers;
	const char *pin; /* the tier the file is pinned to, or NULL */
};

/*
 * One thing to do: make a copy on tier because of rule. rule is NULL when
 * a pin or the config's placement decided. tier points into the bound
 * config, the policy or the facts.
 */
struct strata_policy_action {
	const struct strata_policy_rule *rule;
	const char *tier;
};

#define STRATA_POLICY_MAX_TIERS 32 /* as STRATA_CFG_MAX_TIERS */

struct strata_policy_decision {
	bool pinned; /* a pin decided the move; rules did not */
	/*
	 * The migrate rule (or pin) that decided, and the tier the file should
	 * live on; rule and tier are NULL when none applies. move says that
	 * work is needed: copy to migrate.tier unless it already holds a
	 * valid replica, then drop the replicas on drop[], none of which any
	 * applying replicate rule needs.
	 */
	struct strata_policy_action migrate;
	bool move;
	const char *drop[STRATA_POLICY_MAX_TIERS];
	unsigned int ndrop;
	/* Extra copies that replicate rules want and the file lacks. */
	struct strata_policy_action replicate[STRATA_POLICY_MAX_TIERS];
	unsigned int nreplicate;
};

/*
 * Where a new file lands: a pin, else the first place rule in file order
 * whose pattern and condition match, else the config's placement tier.
 * Returns 0, or -ENOENT when nothing names a tier (no rule matched and no
 * config is bound).
 */
int strata_policy_place(const struct strata_policy *p,
			const struct strata_policy_facts *f,
			struct timespec now, struct strata_policy_action *out);

/* What one evaluation pass wants for an existing file. Returns 0. */
int strata_policy_decide(const struct strata_policy *p,
			 const struct strata_policy_facts *f,
			 struct timespec now,
			 struct strata_policy_decision *out);

/*
 * A read of the file: the first cache rule in file order that matches
 * names the tier to copy it to; out->rule is NULL when no rule matched or
 * the file already has a replica on the rule's target. Returns 0.
 */
int strata_policy_on_read(const struct strata_policy *p,
			  const struct strata_policy_facts *f,
			  struct timespec now,
			  struct strata_policy_action *out);

/* The first evict rule over tier whose high mark used_pct exceeds, or NULL. */
const struct strata_policy_rule *
strata_policy_evict_rule(const struct strata_policy *p, const char *tier,
			 double used_pct);

/*
 * How cold the file is for an evict rule: a larger key goes first. Returns
 * 0, -ENOENT when the file has no replica on the rule's tier, or -EPERM
 * when it is pinned there.
 */
int strata_policy_evict_key(const struct strata_policy *p,
			    const struct strata_policy_rule *r,
			    const struct strata_policy_facts *f,
			    struct timespec now, double *key);

/* Whether rule r's pattern, 'from' and condition hold for the file. */
bool strata_policy_match(const struct strata_policy *p,
			 const struct strata_policy_rule *r,
			 const struct strata_policy_facts *f,
			 struct timespec now);

/*
 * Why rule r matches or not, with the file's values, into buf (always
 * NUL-terminated), e.g. "rule 'cold' (line 3): atime 9d > 7d and size
 * 2.0 MiB >= 1 MiB". Tests that fail are marked "[no]". Returns the length
 * it needed, as snprintf.
 */
int strata_policy_explain(const struct strata_policy *p,
			  const struct strata_policy_rule *r,
			  const struct strata_policy_facts *f,
			  struct timespec now, char *buf, size_t len);

/*
 * Match a rules-file glob against a path from the mount root: '*' and '?'
 * stay within a component, '[...]' is a class ('!' or '^' negates), '**'
 * crosses components and "**" followed by '/' matches zero or more whole
 * directories; '\' quotes the next character. A pattern without '/'
 * matches the last component, wherever it is.
 */
bool strata_policy_glob(const char *pattern, const char *path);

/* Planning (plan.c) ------------------------------------------------------ */

struct strata_vfs;
struct strata_vfs_tier_info;

/*
 * One job a plan wants (kind, ino, src_tier, dst_tier, rule set), with the
 * file's path (NULL from the evict plan) and size. Return 0 to go on, a
 * negative errno to stop the plan with it.
 */
typedef int (*strata_plan_cb)(void *arg, const struct strata_job *job,
			      const char *path, uint64_t size);
typedef void (*strata_plan_line_cb)(void *arg, const char *line);

struct strata_plan_stats {
	uint64_t files; /* files the catalog scan returned */
};

/*
 * One evaluation pass over the catalog: migrate and replicate rules, pins,
 * and evict rules of tiers over their high mark (their coldest files,
 * until the tier would be under its low mark, at most 16,384 files a
 * pass). The migrate and replicate rules' conditions become one catalog
 * filter, so files no rule can match are never evaluated; the evaluator
 * decides the rest. With prev (the rules before a change), files that
 * prev's placement put where they are and the new placement sends
 * elsewhere are moved too (re-placement). Reads the catalog only: never a
 * backend's bytes.
 */
int strata_plan_run(const struct strata_policy *p,
		    const struct strata_policy *prev, struct strata_vfs *vfs,
		    struct timespec now, strata_plan_cb cb, void *arg,
		    struct strata_plan_stats *st);
/*
 * One file after a change: the jobs a pass would make for it, and, after
 * a rename of the file or of a directory above it from path from to path
 * to, a move to where placement now sends it when placement sent it
 * elsewhere under its old path, it still is there, and no migrate rule or
 * pin decides (so a rename never undoes a migrate or an eviction). from
 * NULL: its tags changed. -ENOENT when ino is no linked regular file.
 */
int strata_plan_file(const struct strata_policy *p, struct strata_vfs *vfs,
		     uint64_t ino, const char *from, const char *to,
		     struct timespec now, strata_plan_cb cb, void *arg);
/* One read of ino: the copy a cache rule wants, if any. */
int strata_plan_read(const struct strata_policy *p, struct strata_vfs *vfs,
		     uint64_t ino, struct timespec now, strata_plan_cb cb,
		     void *arg);
/* Why the rules would do what they would to ino, as lines of text. */
int strata_plan_explain(const struct strata_policy *p, struct strata_vfs *vfs,
			uint64_t ino, struct timespec now,
			strata_plan_line_cb cb, void *arg);
/* The engine (engine.c) ------------------------------------------------- */

struct strata_engine;

/*
 * Start the policy engine of a mount: load and check cfg->rules (a bad
 * file refuses the start with "FILE:LINE:COL: message" in err; a missing
 * one is waited for), resume jobs a stop cut short, install the vfs hooks
 * (placement, reads, renames) and run passes, reloads and movers on a
 * thread of its own. cfg and vfs are borrowed until strata_engine_stop().
 * Call before the mount serves.
 */
int strata_engine_start(const struct strata_cfg *cfg, struct strata_vfs *vfs,
			struct strata_engine **out, char *err, size_t errlen);
/* Remove the hooks, let running jobs finish, stop the thread, free. Call
 * after the mount stopped serving. Accepts NULL. */
void strata_engine_stop(struct strata_engine *e);
/* Load and check a rules file against cfg with the system's user and
 * group names; on error "FILE:LINE:COL: message" (the first error) in
 * err. Warnings go to the log. */
int strata_engine_load_rules(const char *path, const struct strata_cfg *cfg,
			     struct strata_policy **out, char *err,
			     size_t errlen);
/* Resolves owner and group names with the system's databases. */
extern const struct strata_policy_resolver strata_engine_resolver;

/*
 * The control socket of the mount whose catalog is at catalog:
 * "CATALOG.sock", beside the catalog (the CLI finds the catalog in
 * mountinfo, as the mount's source). -ENAMETOOLONG when it does not fit.
 */
int strata_ctl_socket_path(const char *catalog, char *buf, size_t len);

/* "copy", "move", "drop". */
const char *strata_plan_kind_name(enum strata_job_kind kind);
/* The name of tier id among tiers, or NULL. */
const char *strata_plan_tier_name(const struct strata_vfs_tier_info *tiers,
				  unsigned int n, uint32_t id);

#endif
