/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/cfg.c - the strata.conf parser and validator.
 *
 * Reads the INI-like file line by line into a scratch struct strata_cfg and
 * copies it to the caller only when the whole file is valid, so a bad file
 * changes nothing. Keys are one table (section, name, handler); URL schemes
 * are another (scheme, check), so a new tier type is one more row. It checks
 * what can be checked without a backend: syntax, names, numbers, URLs and,
 * for file:// tiers, that the directory exists. Connecting to a tier is the
 * backend's job. Pure apart from reading the file and stat(2); thread-safe.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "util.h"

/* Longest line, without its newline. */
#define CFG_LINE_MAX 4095
/* Largest config file we read: far more than 32 tiers ever need. */
#define CFG_FILE_MAX (1u << 20)

enum cfg_sec {
	CFG_SEC_NONE,
	CFG_SEC_NAMESPACE,
	CFG_SEC_TIER,
};

struct cfg_parser;

struct cfg_key {
	enum cfg_sec sec;
	const char *name;
	int (*set)(struct cfg_parser *p, const char *key, const char *val);
};

static int cfg_ns_catalog(struct cfg_parser *p, const char *key,
			  const char *val);
static int cfg_ns_site(struct cfg_parser *p, const char *key, const char *val);
static int cfg_ns_placement(struct cfg_parser *p, const char *key,
			    const char *val);
static int cfg_ns_entry_timeout(struct cfg_parser *p, const char *key,
				const char *val);
static int cfg_ns_attr_timeout(struct cfg_parser *p, const char *key,
			       const char *val);
static int cfg_ns_rules(struct cfg_parser *p, const char *key, const char *val);
static int cfg_ns_movers(struct cfg_parser *p, const char *key,
			 const char *val);
static int cfg_ns_bandwidth(struct cfg_parser *p, const char *key,
			    const char *val);
static int cfg_tier_url(struct cfg_parser *p, const char *key, const char *val);
static int cfg_tier_site(struct cfg_parser *p, const char *key,
			 const char *val);
static int cfg_tier_capacity(struct cfg_parser *p, const char *key,
			     const char *val);

static const struct cfg_key cfg_keys[] = {
	{ CFG_SEC_NAMESPACE, "catalog", cfg_ns_catalog },
	{ CFG_SEC_NAMESPACE, "site", cfg_ns_site },
	{ CFG_SEC_NAMESPACE, "placement", cfg_ns_placement },
	{ CFG_SEC_NAMESPACE, "entry_timeout", cfg_ns_entry_timeout },
	{ CFG_SEC_NAMESPACE, "attr_timeout", cfg_ns_attr_timeout },
	{ CFG_SEC_NAMESPACE, "rules", cfg_ns_rules },
	{ CFG_SEC_NAMESPACE, "movers", cfg_ns_movers },
	{ CFG_SEC_NAMESPACE, "bandwidth", cfg_ns_bandwidth },
	{ CFG_SEC_TIER, "url", cfg_tier_url },
	{ CFG_SEC_TIER, "site", cfg_tier_site },
	{ CFG_SEC_TIER, "capacity", cfg_tier_capacity },
};

#define CFG_NKEYS STRATA_ARRAY_SIZE(cfg_keys)

static int cfg_check_file(struct cfg_parser *p, struct strata_cfg_tier *t);
static int cfg_check_nfs(struct cfg_parser *p, struct strata_cfg_tier *t);
static int cfg_check_s3(struct cfg_parser *p, struct strata_cfg_tier *t);

/* Accepted tier URL schemes. */
static const struct {
	const char *scheme;
	int (*check)(struct cfg_parser *p, struct strata_cfg_tier *t);
} cfg_schemes[] = {
	{ "file", cfg_check_file },
	{ "nfs", cfg_check_nfs },
	{ "s3", cfg_check_s3 },
};

/* Options of nfs:// URLs (man/strata.conf.5) and their numeric ranges;
 * max 0 takes any text. The driver (lib/backend/nfs.c) reads them. */
static const struct {
	const char *name;
	long min;
	long max;
} cfg_nfs_opts[] = {
	{ "conns", 1, 64 },	  { "timeout", 1, 3600 },
	{ "nfsport", 1, 65535 },  { "mountport", 1, 65535 },
	{ "uid", 0, 0x7fffffff }, { "gid", 0, 0x7fffffff },
	{ "tcp-syncnt", 1, 255 }, { "debug", 0, 10 },
	{ "version", 3, 3 },	  { "if", 0, 0 },
};

/* Options of s3:// URLs (man/strata.conf.5); max 0 takes text, which the
 * driver (lib/backend/s3.c) checks further when it opens the tier. */
static const struct {
	const char *name;
	long min;
	long max;
} cfg_s3_opts[] = {
	{ "endpoint", 0, 0 },
	{ "region", 0, 0 },
	{ "style", 0, 0 },
	{ "credentials", 0, 0 },
	{ "ca", 0, 0 },
	{ "timeout", 1, 3600 },
	{ "connect_timeout", 1, 3600 },
	{ "retries", 0, 20 },
	{ "conns", 1, 64 },
	{ "partsize", 5, 1024 },
	{ "readahead", 0, 1024 },
	{ "listpage", 1, 1000 },
};

struct cfg_parser {
	const char *name;	/* the file, for messages */
	const char *base;	/* directory relative paths resolve against */
	struct strata_cfg *cfg; /* scratch, copied out on success */
	char *err;
	unsigned int errlen;
	int line;
	enum cfg_sec sec;
	struct strata_cfg_tier *tier; /* the current [tier], or NULL */
	int ns_line;		      /* line of [namespace], 0 if none yet */
	int placement_line;
	int ns_seen[CFG_NKEYS]; /* line of each key, 0 if not set */
	int tier_seen[STRATA_CFG_MAX_TIERS][CFG_NKEYS];
	char buf[CFG_LINE_MAX + 1];
};

static void cfg_verr(char *err, unsigned int errlen, const char *name, int line,
		     const char *fmt, va_list ap)
{
	int n;

	if (!err || !errlen)
		return;
	n = snprintf(err, errlen, "%s:%d: ", name, line);
	if (n < 0 || (unsigned int)n >= errlen)
		return;
	vsnprintf(err + n, errlen - (unsigned int)n, fmt, ap);
}

static int cfg_err(struct cfg_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record "NAME:LINE: message" and return -EINVAL, for `return cfg_err()`. */
static int cfg_err(struct cfg_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(p->err, p->errlen, p->name, line, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void cfg_plain_err(char *err, unsigned int errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_plain_err(char *err, unsigned int errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Names of tiers and sites: 1..63 of [A-Za-z0-9_.-]. */
static bool cfg_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > STRATA_CFG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

static char *cfg_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static bool cfg_is_comment(const char *s)
{
	return *s == '#' || *s == ';';
}

/*
 * Cut a trailing comment off an unquoted, trimmed value: '#' or ';' starts a
 * comment at the start of the value or after white space, so "file:///a#b"
 * keeps its '#'.
 */
static void cfg_cut_comment(char *s)
{
	for (char *c = s; *c; c++) {
		if (cfg_is_comment(c) &&
		    (c == s || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			return;
		}
	}
}

/* Decode a double-quoted value in place; \" and \\ are the escapes. */
static int cfg_unquote(struct cfg_parser *p, char *s)
{
	char *in = s + 1;
	char *out = s;

	while (*in && *in != '"') {
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
			in++;
		*out++ = *in++;
	}
	if (*in != '"')
		return cfg_err(p, p->line, "missing closing '\"' in value");
	in = cfg_trim(in + 1);
	if (*in && !cfg_is_comment(in))
		return cfg_err(p, p->line, "unexpected '%s' after quoted value",
			       in);
	*out = '\0';
	return 0;
}

static int cfg_copy(struct cfg_parser *p, char *dst, size_t n, const char *what,
		    const char *val)
{
	if (strata_strlcpy(dst, val, n) < 0)
		return cfg_err(p, p->line, "%s is too long (at most %zu bytes)",
			       what, n - 1);
	return 0;
}

static int cfg_name(struct cfg_parser *p, char *dst, const char *key,
		    const char *val)
{
	if (!cfg_name_valid(val))
		return cfg_err(p, p->line,
			       "bad %s '%s': use 1 to %d of A-Z a-z 0-9 _ . -",
			       key, val, STRATA_CFG_NAME_MAX);
	return cfg_copy(p, dst, STRATA_CFG_NAME_MAX + 1, key, val);
}

/* A path relative to the config file's directory. */
static int cfg_path(struct cfg_parser *p, char *dst, size_t n, const char *key,
		    const char *val)
{
	int len;

	if (val[0] == '/')
		return cfg_copy(p, dst, n, key, val);
	len = snprintf(dst, n, "%s%s%s", p->base,
		       strcmp(p->base, "/") ? "/" : "", val);
	if (len < 0 || (size_t)len >= n)
		return cfg_err(p, p->line, "%s path '%s' is too long", key,
			       val);
	return 0;
}

static int cfg_ns_catalog(struct cfg_parser *p, const char *key,
			  const char *val)
{
	return cfg_path(p, p->cfg->catalog, sizeof(p->cfg->catalog), key, val);
}

/* The rules file need not exist yet: the engine waits for it. */
static int cfg_ns_rules(struct cfg_parser *p, const char *key, const char *val)
{
	return cfg_path(p, p->cfg->rules, sizeof(p->cfg->rules), key, val);
}

/* A rate: a size per second ("100MiB", "1G"); 0 turns the limit off. */
static int cfg_ns_bandwidth(struct cfg_parser *p, const char *key,
			    const char *val)
{
	if (strata_parse_size(val, &p->cfg->bandwidth) < 0)
		return cfg_err(p, p->line,
			       "bad '%s' value '%s' (expected bytes per "
			       "second, e.g. 200MiB; 0 for no limit)",
			       key, val);
	return 0;
}

static int cfg_ns_movers(struct cfg_parser *p, const char *key, const char *val)
{
	uint64_t v;

	if (strata_parse_size(val, &v) < 0 || v < 1 || v > 64)
		return cfg_err(p, p->line,
			       "bad '%s' value '%s' (expected 1 to 64)", key,
			       val);
	p->cfg->movers = (unsigned int)v;
	return 0;
}

static int cfg_ns_site(struct cfg_parser *p, const char *key, const char *val)
{
	return cfg_name(p, p->cfg->site, key, val);
}

static int cfg_ns_placement(struct cfg_parser *p, const char *key,
			    const char *val)
{
	p->placement_line = p->line;
	return cfg_name(p, p->cfg->placement, key, val);
}

static int cfg_seconds(struct cfg_parser *p, const char *key, const char *val,
		       double *out)
{
	if (strata_parse_seconds(val, out) < 0)
		return cfg_err(
			p, p->line,
			"bad duration '%s' for '%s' (expected e.g. 1, 0.5s, 2m)",
			val, key);
	return 0;
}

static int cfg_ns_entry_timeout(struct cfg_parser *p, const char *key,
				const char *val)
{
	return cfg_seconds(p, key, val, &p->cfg->entry_timeout);
}

static int cfg_ns_attr_timeout(struct cfg_parser *p, const char *key,
			       const char *val)
{
	return cfg_seconds(p, key, val, &p->cfg->attr_timeout);
}

static int cfg_check_file(struct cfg_parser *p, struct strata_cfg_tier *t)
{
	const char *path = t->uri.path;
	struct stat st;

	if ((t->uri.host[0] && strcmp(t->uri.host, "localhost") != 0) ||
	    path[0] != '/')
		return cfg_err(
			p, p->line,
			"path in URL '%s' is not absolute (write file:///abs/dir)",
			t->url);
	if (t->uri.query[0])
		return cfg_err(p, p->line, "file URL '%s' takes no '?' options",
			       t->url);
	if (stat(path, &st) < 0)
		return cfg_err(p, p->line, "cannot use tier directory '%s': %s",
			       path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cfg_err(p, p->line, "cannot use tier directory '%s': %s",
			       path, strerror(ENOTDIR));
	return 0;
}

static int cfg_check_nfs_opt(struct cfg_parser *p, struct strata_cfg_tier *t,
			     const char *kv, size_t len)
{
	const char *eq = memchr(kv, '=', len);
	size_t klen = eq ? (size_t)(eq - kv) : len;
	char val[32];
	char *end;
	long v;

	for (size_t i = 0; i < STRATA_ARRAY_SIZE(cfg_nfs_opts); i++) {
		if (strlen(cfg_nfs_opts[i].name) != klen ||
		    strncmp(cfg_nfs_opts[i].name, kv, klen) != 0)
			continue;
		if (!eq || eq + 1 == kv + len)
			return cfg_err(
				p, p->line,
				"option '%.*s' in URL '%s' needs a value",
				(int)klen, kv, t->url);
		if (cfg_nfs_opts[i].max == 0)
			return 0;
		if ((size_t)(kv + len - eq - 1) >= sizeof(val))
			goto bad;
		memcpy(val, eq + 1, (size_t)(kv + len - eq - 1));
		val[kv + len - eq - 1] = '\0';
		errno = 0;
		v = strtol(val, &end, 10);
		if (*end || errno || v < cfg_nfs_opts[i].min ||
		    v > cfg_nfs_opts[i].max)
			goto bad;
		return 0;
bad:
		return cfg_err(
			p, p->line,
			"option '%.*s' in URL '%s' wants a number from %ld to %ld",
			(int)klen, kv, t->url, cfg_nfs_opts[i].min,
			cfg_nfs_opts[i].max);
	}
	return cfg_err(p, p->line, "unknown option '%.*s' in URL '%s'",
		       (int)klen, kv, t->url);
}

/* nfs://HOST/PATH[?opt=val&...]: syntax only, the server is not asked. */
static int cfg_check_nfs(struct cfg_parser *p, struct strata_cfg_tier *t)
{
	const char *q = t->uri.query;
	int ret;

	if (!t->uri.host[0])
		return cfg_err(
			p, p->line,
			"URL '%s' names no server (write nfs://HOST/EXPORT)",
			t->url);
	if (t->uri.path[0] != '/' ||
	    strspn(t->uri.path, "/") == strlen(t->uri.path))
		return cfg_err(
			p, p->line,
			"URL '%s' names no export (write nfs://HOST/EXPORT)",
			t->url);
	while (*q) {
		size_t len = strcspn(q, "&");

		if (len) {
			ret = cfg_check_nfs_opt(p, t, q, len);
			if (ret < 0)
				return ret;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* One "key=value" of an s3:// URL. */
static int cfg_check_s3_opt(struct cfg_parser *p, struct strata_cfg_tier *t,
			    const char *kv, size_t len)
{
	const char *eq = memchr(kv, '=', len);
	size_t klen = eq ? (size_t)(eq - kv) : len;
	size_t vlen = eq ? (size_t)(kv + len - eq - 1) : 0;
	char val[PATH_MAX];
	char *end;
	long v;

	for (size_t i = 0; i < STRATA_ARRAY_SIZE(cfg_s3_opts); i++) {
		if (strlen(cfg_s3_opts[i].name) != klen ||
		    strncmp(cfg_s3_opts[i].name, kv, klen) != 0)
			continue;
		if (!eq || vlen == 0)
			return cfg_err(
				p, p->line,
				"option '%.*s' in URL '%s' needs a value",
				(int)klen, kv, t->url);
		if (vlen >= sizeof(val))
			return cfg_err(p, p->line,
				       "option '%.*s' in URL '%s' is too long",
				       (int)klen, kv, t->url);
		memcpy(val, eq + 1, vlen);
		val[vlen] = '\0';
		if (cfg_s3_opts[i].max == 0) {
			if (strcmp(cfg_s3_opts[i].name, "style") == 0 &&
			    strcmp(val, "path") != 0 &&
			    strcmp(val, "virtual") != 0)
				return cfg_err(
					p, p->line,
					"option 'style' in URL '%s' wants 'path' or 'virtual'",
					t->url);
			if ((strcmp(cfg_s3_opts[i].name, "credentials") == 0 ||
			     strcmp(cfg_s3_opts[i].name, "ca") == 0) &&
			    val[0] != '/')
				return cfg_err(
					p, p->line,
					"option '%s' in URL '%s' wants an absolute path",
					cfg_s3_opts[i].name, t->url);
			if (strcmp(cfg_s3_opts[i].name, "endpoint") == 0 &&
			    strncmp(val, "http://", 7) != 0 &&
			    strncmp(val, "https://", 8) != 0)
				return cfg_err(
					p, p->line,
					"option 'endpoint' in URL '%s' wants an http:// or https:// URL",
					t->url);
			return 0;
		}
		errno = 0;
		v = strtol(val, &end, 10);
		if (*end || errno || v < cfg_s3_opts[i].min ||
		    v > cfg_s3_opts[i].max)
			return cfg_err(
				p, p->line,
				"option '%.*s' in URL '%s' wants a number from %ld to %ld",
				(int)klen, kv, t->url, cfg_s3_opts[i].min,
				cfg_s3_opts[i].max);
		return 0;
	}
	return cfg_err(p, p->line, "unknown option '%.*s' in URL '%s'",
		       (int)klen, kv, t->url);
}

/* s3://BUCKET[/PREFIX][?opt=val&...]: syntax only, the server is not
 * asked and the credentials file is not read. */
static int cfg_check_s3(struct cfg_parser *p, struct strata_cfg_tier *t)
{
	const char *q = t->uri.query;
	int ret;

	if (!t->uri.host[0])
		return cfg_err(
			p, p->line,
			"URL '%s' names no bucket (write s3://BUCKET/PREFIX)",
			t->url);
	while (*q) {
		size_t len = strcspn(q, "&");

		if (len) {
			ret = cfg_check_s3_opt(p, t, q, len);
			if (ret < 0)
				return ret;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int cfg_tier_url(struct cfg_parser *p, const char *key, const char *val)
{
	struct strata_cfg_tier *t = p->tier;
	char why[STRATA_CFG_ERR_MAX];
	int ret;

	ret = cfg_copy(p, t->url, sizeof(t->url), key, val);
	if (ret < 0)
		return ret;
	ret = strata_uri_parse(val, &t->uri, why, sizeof(why));
	if (ret < 0)
		return cfg_err(p, p->line, "%s", why);
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(cfg_schemes); i++) {
		if (strcmp(cfg_schemes[i].scheme, t->uri.scheme) == 0)
			return cfg_schemes[i].check(p, t);
	}
	return cfg_err(p, p->line, "unsupported URL scheme '%s' in '%s'",
		       t->uri.scheme, val);
}

static int cfg_tier_site(struct cfg_parser *p, const char *key, const char *val)
{
	return cfg_name(p, p->tier->site, key, val);
}

static int cfg_tier_capacity(struct cfg_parser *p, const char *key,
			     const char *val)
{
	if (strata_parse_size(val, &p->tier->capacity) < 0)
		return cfg_err(
			p, p->line,
			"bad size '%s' for '%s' (expected e.g. 500GiB, 2TB)",
			val, key);
	return 0;
}

static int cfg_section_namespace(struct cfg_parser *p)
{
	if (p->ns_line)
		return cfg_err(
			p, p->line,
			"duplicate [namespace] section (first at line %d)",
			p->ns_line);
	p->ns_line = p->line;
	p->sec = CFG_SEC_NAMESPACE;
	p->tier = NULL;
	return 0;
}

static int cfg_section_tier(struct cfg_parser *p, const char *name)
{
	struct strata_cfg *cfg = p->cfg;
	const struct strata_cfg_tier *old;
	struct strata_cfg_tier *t;

	if (!*name)
		return cfg_err(p, p->line, "missing tier name in '[tier]'");
	if (!cfg_name_valid(name))
		return cfg_err(
			p, p->line,
			"bad tier name '%s': use 1 to %d of A-Z a-z 0-9 _ . -",
			name, STRATA_CFG_NAME_MAX);
	old = strata_cfg_tier(cfg, name);
	if (old)
		return cfg_err(p, p->line,
			       "duplicate tier '%s' (first at line %d)", name,
			       old->line);
	if (cfg->ntiers == STRATA_CFG_MAX_TIERS)
		return cfg_err(p, p->line, "too many tiers (at most %d)",
			       STRATA_CFG_MAX_TIERS);
	t = &cfg->tiers[cfg->ntiers++];
	strata_strlcpy(t->name, name, sizeof(t->name));
	t->line = p->line;
	p->tier = t;
	p->sec = CFG_SEC_TIER;
	return 0;
}

/* s points at '[' of a trimmed line. */
static int cfg_section(struct cfg_parser *p, char *s)
{
	char *close = strchr(s, ']');
	char *inner;
	char *rest;

	if (!close)
		return cfg_err(p, p->line, "missing ']' in section header");
	*close = '\0';
	rest = cfg_trim(close + 1);
	if (*rest && !cfg_is_comment(rest))
		return cfg_err(p, p->line,
			       "unexpected '%s' after section header", rest);
	inner = cfg_trim(s + 1);
	if (strcmp(inner, "namespace") == 0)
		return cfg_section_namespace(p);
	if (strncmp(inner, "tier", 4) == 0 &&
	    (inner[4] == '\0' || isspace((unsigned char)inner[4])))
		return cfg_section_tier(p, cfg_trim(inner + 4));
	return cfg_err(
		p, p->line,
		"unknown section '[%s]' (expected [namespace] or [tier NAME])",
		inner);
}

static const char *cfg_sec_label(struct cfg_parser *p, char *buf, size_t n)
{
	if (p->sec == CFG_SEC_NAMESPACE)
		return "[namespace]";
	snprintf(buf, n, "[tier %s]", p->tier->name);
	return buf;
}

static int cfg_keyval(struct cfg_parser *p, char *s)
{
	char *eq = strchr(s, '=');
	char label[STRATA_CFG_NAME_MAX + 8];
	const struct cfg_key *k = NULL;
	char *key;
	char *val;
	int *seen;
	size_t i;
	int ret;

	if (!eq)
		return cfg_err(p, p->line,
			       "missing '=' in '%s' (expected 'key = value')",
			       s);
	*eq = '\0';
	key = cfg_trim(s);
	val = cfg_trim(eq + 1);
	if (!*key)
		return cfg_err(p, p->line, "missing key before '='");
	if (p->sec == CFG_SEC_NONE)
		return cfg_err(p, p->line, "key '%s' outside of any section",
			       key);
	for (i = 0; i < CFG_NKEYS; i++) {
		if (cfg_keys[i].sec == p->sec &&
		    strcmp(cfg_keys[i].name, key) == 0) {
			k = &cfg_keys[i];
			break;
		}
	}
	if (!k)
		return cfg_err(p, p->line, "unknown key '%s' in %s", key,
			       cfg_sec_label(p, label, sizeof(label)));
	seen = p->sec == CFG_SEC_NAMESPACE ?
		       p->ns_seen :
		       p->tier_seen[p->tier - p->cfg->tiers];
	if (seen[i])
		return cfg_err(p, p->line,
			       "duplicate key '%s' in %s (first at line %d)",
			       key, cfg_sec_label(p, label, sizeof(label)),
			       seen[i]);
	seen[i] = p->line;
	if (*val == '"') {
		ret = cfg_unquote(p, val);
		if (ret < 0)
			return ret;
	} else {
		cfg_cut_comment(val);
		val = cfg_trim(val);
	}
	if (!*val)
		return cfg_err(p, p->line, "empty value for '%s'", key);
	return k->set(p, key, val);
}

static int cfg_line(struct cfg_parser *p, const char *text, size_t len)
{
	char *s;

	if (len > CFG_LINE_MAX)
		return cfg_err(p, p->line,
			       "line too long (more than %d characters)",
			       CFG_LINE_MAX);
	memcpy(p->buf, text, len);
	p->buf[len] = '\0';
	s = cfg_trim(p->buf);
	if (!*s || cfg_is_comment(s))
		return 0;
	if (*s == '[')
		return cfg_section(p, s);
	return cfg_keyval(p, s);
}

static int cfg_finish(struct cfg_parser *p)
{
	struct strata_cfg *cfg = p->cfg;
	static const char *const required[] = { "catalog", "site",
						"placement" };

	if (!p->ns_line)
		return cfg_err(p, 0, "missing [namespace] section");
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(required); i++) {
		for (size_t k = 0; k < CFG_NKEYS; k++) {
			if (cfg_keys[k].sec == CFG_SEC_NAMESPACE &&
			    strcmp(cfg_keys[k].name, required[i]) == 0 &&
			    !p->ns_seen[k])
				return cfg_err(p, p->ns_line,
					       "[namespace] is missing '%s'",
					       required[i]);
		}
	}
	if (cfg->ntiers == 0)
		return cfg_err(p, 0, "no [tier NAME] section");
	for (unsigned int i = 0; i < cfg->ntiers; i++) {
		struct strata_cfg_tier *t = &cfg->tiers[i];

		if (!t->url[0])
			return cfg_err(p, t->line, "[tier %s] is missing 'url'",
				       t->name);
		if (!t->site[0])
			strata_strlcpy(t->site, cfg->site, sizeof(t->site));
	}
	if (!strata_cfg_tier(cfg, cfg->placement))
		return cfg_err(p, p->placement_line,
			       "placement '%s' is not a defined tier",
			       cfg->placement);
	return 0;
}

static int cfg_run(struct cfg_parser *p, const char *text)
{
	const char *s = text;
	int ret;

	p->cfg->entry_timeout = 10;
	p->cfg->attr_timeout = 10;
	p->cfg->movers = STRATA_CFG_MOVERS_DEFAULT;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);

		if (len > 0 && s[len - 1] == '\r')
			len--; /* CRLF line ends */
		p->line++;
		ret = cfg_line(p, s, len);
		if (ret < 0)
			return ret;
		if (!nl)
			break;
		s = nl + 1;
	}
	return cfg_finish(p);
}

/* Parse text into out; out is untouched unless the whole text is valid. */
static int cfg_parse_at(const char *name, const char *abspath, const char *base,
			const char *text, struct strata_cfg *out, char *err,
			unsigned int errlen)
{
	struct cfg_parser *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = calloc(1, sizeof(*p->cfg));
	if (!p->cfg) {
		ret = -ENOMEM;
		goto out;
	}
	p->name = name;
	p->base = base;
	p->err = err;
	p->errlen = errlen;
	if (strata_strlcpy(p->cfg->path, abspath, sizeof(p->cfg->path)) < 0) {
		ret = cfg_err(p, 0, "config path is too long");
		goto out;
	}
	ret = cfg_run(p, text);
	if (ret < 0)
		goto out;
	*out = *p->cfg;
out:
	if (p)
		free(p->cfg);
	free(p);
	return ret;
}

int strata_cfg_parse(const char *name, const char *text, struct strata_cfg *out,
		     char *err, unsigned int errlen)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd))) {
		int ret = -errno;

		cfg_plain_err(err, errlen, "cannot get current directory: %s",
			      strerror(-ret));
		return ret;
	}
	return cfg_parse_at(name, name, cwd, text, out, err, errlen);
}

/* Read all of fd into a NUL-terminated buffer; *len excludes the NUL. */
static int cfg_slurp(int fd, char **out, size_t *len)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap);
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			char *bigger;

			if (cap > CFG_FILE_MAX) {
				ret = -EFBIG;
				goto out;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				ret = -ENOMEM;
				goto out;
			}
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	return ret;
}

static int cfg_line_of(const char *text, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n')
			line++;
	}
	return line;
}

/* Report an unreadable config file and pass ret through. */
static int cfg_unreadable(const char *path, int ret, char *err,
			  unsigned int errlen)
{
	cfg_plain_err(err, errlen, "cannot read config '%s': %s", path,
		      strerror(-ret));
	return ret;
}

int strata_cfg_load(const char *path, struct strata_cfg *out, char *err,
		    unsigned int errlen)
{
	char abspath[PATH_MAX];
	char base[PATH_MAX];
	char *text = NULL;
	const char *nul;
	char *slash;
	size_t len = 0;
	int fd;
	int ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = cfg_unreadable(path, -errno, err, errlen);
		goto out;
	}
	ret = cfg_slurp(fd, &text, &len);
	close(fd);
	if (ret == -EFBIG) {
		cfg_plain_err(err, errlen,
			      "%s:0: config file is too large (over %u bytes)",
			      path, CFG_FILE_MAX);
		ret = -EINVAL;
		goto out;
	}
	if (ret < 0) {
		ret = cfg_unreadable(path, ret, err, errlen);
		goto out;
	}
	nul = memchr(text, '\0', len);
	if (nul) {
		cfg_plain_err(err, errlen, "%s:%d: NUL byte in line", path,
			      cfg_line_of(text, (size_t)(nul - text)));
		ret = -EINVAL;
		goto out;
	}
	if (!realpath(path, abspath)) {
		ret = cfg_unreadable(path, -errno, err, errlen);
		goto out;
	}
	strata_strlcpy(base, abspath, sizeof(base));
	slash = strrchr(base, '/');
	if (slash == base)
		slash[1] = '\0'; /* the config sits in "/" */
	else
		*slash = '\0';
	ret = cfg_parse_at(path, abspath, base, text, out, err, errlen);
out:
	free(text);
	return ret;
}

static int uri_part(char *dst, size_t n, const char *src, size_t len,
		    const char *url, const char *what, char *err,
		    unsigned int errlen)
{
	if (len >= n) {
		cfg_plain_err(err, errlen, "bad URL '%s': %s is too long", url,
			      what);
		return -EINVAL;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int strata_uri_parse(const char *url, struct strata_uri *out, char *err,
		     unsigned int errlen)
{
	const char *sep = strstr(url, "://");
	const char *host;
	const char *path;
	const char *query;
	size_t slen;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!sep || sep == url) {
		cfg_plain_err(
			err, errlen,
			"bad URL '%s': missing scheme (expected scheme://...)",
			url);
		return -EINVAL;
	}
	slen = (size_t)(sep - url);
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)url[i];

		if (!isalpha(c) && (i == 0 || (!isdigit(c) && c != '+' &&
					       c != '-' && c != '.'))) {
			cfg_plain_err(err, errlen, "bad URL '%s': bad scheme",
				      url);
			return -EINVAL;
		}
	}
	ret = uri_part(out->scheme, sizeof(out->scheme), url, slen, url,
		       "scheme", err, errlen);
	if (ret < 0)
		return ret;
	for (char *c = out->scheme; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	host = sep + 3;
	path = host + strcspn(host, "/?");
	query = path + strcspn(path, "?");
	ret = uri_part(out->host, sizeof(out->host), host,
		       (size_t)(path - host), url, "host", err, errlen);
	if (ret < 0)
		return ret;
	ret = uri_part(out->path, sizeof(out->path), path,
		       (size_t)(query - path), url, "path", err, errlen);
	if (ret < 0)
		return ret;
	if (*query)
		query++;
	return uri_part(out->query, sizeof(out->query), query, strlen(query),
			url, "query", err, errlen);
}

const struct strata_cfg_tier *strata_cfg_tier(const struct strata_cfg *cfg,
					      const char *name)
{
	for (unsigned int i = 0; i < cfg->ntiers; i++) {
		if (strcmp(cfg->tiers[i].name, name) == 0)
			return &cfg->tiers[i];
	}
	return NULL;
}
