/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/cfg.h - the strata.conf parser (format documented in
 * man/strata.conf.5).
 *
 * The file is INI-like: a [namespace] section and one [tier NAME] section
 * per tier, "key = value" lines, '#' or ';' comments. Parsing validates
 * everything it can without touching a backend: unknown sections and keys,
 * duplicate keys and tier names, malformed values and URLs, and, for file://
 * tiers, that the directory exists. Every error is reported as
 * "FILE:LINE: message" into the caller's buffer. Relative paths (the catalog)
 * are resolved against the directory holding the config file.
 *
 * A struct strata_cfg is plain data owned by the caller; it is not modified
 * after parsing and may be read from any thread.
 */
#ifndef STRATA_CORE_CFG_H
#define STRATA_CORE_CFG_H

#include <limits.h>
#include <stdint.h>

#define STRATA_CFG_NAME_MAX 63
#define STRATA_CFG_MAX_TIERS 32
#define STRATA_CFG_ERR_MAX 512
#define STRATA_CFG_MOVERS_DEFAULT 4

/* A tier URL split into parts; what the parts mean is the driver's business. */
struct strata_uri {
	char scheme[16];     /* "file", later "nfs", "s3" */
	char host[256];	     /* empty for file:// */
	char path[PATH_MAX]; /* absolute path (file) or /export/prefix */
	char query[1024];    /* after '?', without it; may be empty */
};

struct strata_cfg_tier {
	char name[STRATA_CFG_NAME_MAX + 1];
	char url[PATH_MAX + 64]; /* as written */
	struct strata_uri uri;
	char site[STRATA_CFG_NAME_MAX + 1]; /* defaults to the namespace site */
	uint64_t capacity; /* bytes; 0 = what the backend reports */
	int line;	   /* where the section starts, for messages */
};

struct strata_cfg {
	char path[PATH_MAX];	/* the config file itself, absolute */
	char catalog[PATH_MAX]; /* absolute */
	char site[STRATA_CFG_NAME_MAX + 1];
	char placement[STRATA_CFG_NAME_MAX + 1]; /* tier name */
	double entry_timeout; /* seconds the kernel caches names */
	double attr_timeout;  /* seconds the kernel caches attributes */
	char rules[PATH_MAX]; /* the rules file, absolute; "" for none */
	unsigned int movers;  /* copies and drops run at once */
	uint64_t bandwidth;   /* bytes/s all copies share; 0: no limit */
	unsigned int ntiers;
	struct strata_cfg_tier tiers[STRATA_CFG_MAX_TIERS];
};

/*
 * Parse and validate the config file at path into out. On failure returns
 * -EINVAL (bad content), -ENOENT/-EACCES (file unreadable) or -ENOMEM, and
 * writes "PATH:LINE: what is wrong" into err (size errlen).
 */
int strata_cfg_load(const char *path, struct strata_cfg *out, char *err,
		    unsigned int errlen);

/* Same, from a string; name stands for the file in messages and relative
 * paths resolve against the current directory. For tests. */
int strata_cfg_parse(const char *name, const char *text, struct strata_cfg *out,
		     char *err, unsigned int errlen);

/* Split a tier URL. Returns 0 or -EINVAL (message in err). */
int strata_uri_parse(const char *url, struct strata_uri *out, char *err,
		     unsigned int errlen);

/* The tier named name, or NULL. The pointer lives as long as cfg. */
const struct strata_cfg_tier *strata_cfg_tier(const struct strata_cfg *cfg,
					      const char *name);

#endif
