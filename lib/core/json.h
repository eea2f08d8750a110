/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/json.h - a small JSON reader and writer for the control channel
 * (newline-delimited JSON between the strata CLI and a mount).
 *
 * The reader parses one complete text into a tree of nodes that the caller
 * frees with strata_json_free(). Numbers keep both a double and, when the
 * text is an integer that fits, an exact int64. Strings are unescaped
 * (\uXXXX and surrogate pairs become UTF-8); other bytes pass through as
 * they are, so file names that are not UTF-8 survive a round trip. Nesting
 * deeper than STRATA_JSON_DEPTH is refused.
 *
 * The writer appends to a growing buffer and never emits a newline, so its
 * output is one line of the protocol. Errors (only out of memory) stick:
 * every later call does nothing and strata_jw_finish() reports -ENOMEM.
 *
 * Nothing here prints or keeps global state; distinct objects may be used
 * on distinct threads.
 */
#ifndef STRATA_CORE_JSON_H
#define STRATA_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STRATA_JSON_DEPTH 64

enum strata_json_type {
	STRATA_JSON_NULL,
	STRATA_JSON_BOOL,
	STRATA_JSON_NUMBER,
	STRATA_JSON_STRING,
	STRATA_JSON_ARRAY,
	STRATA_JSON_OBJECT,
};

struct strata_json {
	enum strata_json_type type;
	bool b;
	double num;
	bool is_int; /* num is an integer that int64 holds exactly */
	int64_t i;
	char *str;   /* STRING: NUL-terminated; len excludes the NUL */
	size_t len;  /* STRING: bytes; ARRAY, OBJECT: members */
	char **keys; /* OBJECT: the member names */
	struct strata_json **items; /* ARRAY, OBJECT: the members */
};

/*
 * Parse text[0..len) (one value, white space around it allowed) into *out.
 * Returns 0, -EINVAL for malformed input (with the byte offset of the
 * problem in *where when where is not NULL), or -ENOMEM.
 */
int strata_json_parse(const char *text, size_t len, struct strata_json **out,
		      size_t *where);
/* Accepts NULL. */
void strata_json_free(struct strata_json *j);

/* Member key of an object, or NULL (also when j is no object). The node is
 * borrowed from j. */
const struct strata_json *strata_json_get(const struct strata_json *j,
					  const char *key);
/* The string of a STRING node, else NULL. */
const char *strata_json_str(const struct strata_json *j);
/* Member key as a string, or def when absent or of another type. */
const char *strata_json_get_str(const struct strata_json *j, const char *key,
				const char *def);
/* Member key as an integer: -ENOENT when absent, -EINVAL when not an
 * integer. */
int strata_json_get_int(const struct strata_json *j, const char *key,
			int64_t *out);
/* Member key as a boolean, or def when absent or of another type. */
bool strata_json_get_bool(const struct strata_json *j, const char *key,
			  bool def);

/* The writer: zero it before use, release it with strata_jw_release(). */
struct strata_jw {
	char *buf;
	size_t len;
	size_t cap;
	int err;
	unsigned int depth;
	bool first[STRATA_JSON_DEPTH + 1]; /* no member yet at this depth */
	bool after_key;
};

void strata_jw_release(struct strata_jw *w);
void strata_jw_obj(struct strata_jw *w);
void strata_jw_obj_end(struct strata_jw *w);
void strata_jw_arr(struct strata_jw *w);
void strata_jw_arr_end(struct strata_jw *w);
/* The name of the next object member. */
void strata_jw_key(struct strata_jw *w, const char *key);
void strata_jw_str(struct strata_jw *w, const char *s);
void strata_jw_int(struct strata_jw *w, int64_t v);
void strata_jw_uint(struct strata_jw *w, uint64_t v);
void strata_jw_double(struct strata_jw *w, double v);
void strata_jw_bool(struct strata_jw *w, bool v);
void strata_jw_null(struct strata_jw *w);
/* Shorthands for a member: key then value. */
void strata_jw_kstr(struct strata_jw *w, const char *key, const char *s);
void strata_jw_kint(struct strata_jw *w, const char *key, int64_t v);
void strata_jw_kuint(struct strata_jw *w, const char *key, uint64_t v);
void strata_jw_kbool(struct strata_jw *w, const char *key, bool v);
/*
 * The text so far, NUL-terminated, in *out (borrowed from w, valid until
 * the next call on w), its length in *len. Returns 0 or -ENOMEM.
 */
int strata_jw_finish(struct strata_jw *w, const char **out, size_t *len);

#endif
