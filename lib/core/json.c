/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/json.c - the control channel's JSON: a recursive-descent reader
 * into a node tree, and an appending writer.
 *
 * The reader follows RFC 8259 except that bytes of 0x80 and above are
 * taken as they are (no UTF-8 validation). No global state; thread-safe.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct jr {
	const char *p;
	const char *end;
	const char *start;
	unsigned int depth;
};

static void jr_ws(struct jr *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
				 *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int jr_value(struct jr *r, struct strata_json **out);

static int jr_hex4(struct jr *r, unsigned int *out)
{
	unsigned int v = 0;

	if (r->end - r->p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		char c = *r->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t jr_utf8(unsigned int cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int jr_escape(struct jr *r, char *o, size_t *n)
{
	unsigned int cp, lo;
	char c;

	if (r->p >= r->end)
		return -EINVAL;
	c = *r->p++;
	switch (c) {
	case '"':
	case '\\':
	case '/':
		o[(*n)++] = c;
		return 0;
	case 'b':
		o[(*n)++] = '\b';
		return 0;
	case 'f':
		o[(*n)++] = '\f';
		return 0;
	case 'n':
		o[(*n)++] = '\n';
		return 0;
	case 'r':
		o[(*n)++] = '\r';
		return 0;
	case 't':
		o[(*n)++] = '\t';
		return 0;
	case 'u':
		break;
	default:
		return -EINVAL;
	}
	if (jr_hex4(r, &cp) < 0)
		return -EINVAL;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
			return -EINVAL;
		r->p += 2;
		if (jr_hex4(r, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000)
			return -EINVAL;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp < 0xe000) {
		return -EINVAL;
	}
	*n += jr_utf8(cp, o + *n);
	return 0;
}

/* A string; r->p is just after the opening quote. The unescaped text is
 * never longer than the escaped one, so one allocation suffices. */
static int jr_string(struct jr *r, char **out, size_t *len)
{
	const char *q = r->p;
	size_t n = 0;
	char *s;
	int ret;

	while (q < r->end && *q != '"') {
		if (*q == '\\')
			q++;
		q++;
	}
	if (q >= r->end)
		return -EINVAL;
	s = malloc((size_t)(q - r->p) + 1);
	if (!s)
		return -ENOMEM;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;

		if (c < 0x20) {
			ret = -EINVAL;
			goto fail;
		}
		r->p++;
		if (c != '\\') {
			s[n++] = (char)c;
			continue;
		}
		ret = jr_escape(r, s, &n);
		if (ret < 0)
			goto fail;
	}
	if (r->p >= r->end) {
		ret = -EINVAL;
		goto fail;
	}
	r->p++;
	s[n] = '\0';
	*out = s;
	*len = n;
	return 0;
fail:
	free(s);
	return ret;
}

static int jr_number(struct jr *r, struct strata_json *j)
{
	const char *s = r->p;
	char buf[64];
	char *end;
	bool frac = false;
	size_t n;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return -EINVAL;
	if (*r->p == '0') {
		r->p++;
	} else {
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && *r->p == '.') {
		frac = true;
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -EINVAL;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		frac = true;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return -EINVAL;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	n = (size_t)(r->p - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	j->type = STRATA_JSON_NUMBER;
	j->num = strtod(buf, NULL);
	if (!frac) {
		errno = 0;
		j->i = strtoll(buf, &end, 10);
		j->is_int = errno == 0 && *end == '\0';
	}
	return 0;
}

static int jr_word(struct jr *r, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return -EINVAL;
	r->p += n;
	return 0;
}

/* Members grow in powers of two from 4: capacity is implied by len. */
static int jr_push(struct strata_json *j, char *key, struct strata_json *item)
{
	struct strata_json **items;
	size_t cap = 0;
	char **keys;

	if (j->len == 0)
		cap = 4;
	else if (j->len >= 4 && (j->len & (j->len - 1)) == 0)
		cap = j->len * 2;
	if (cap) {
		items = realloc(j->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		j->items = items;
		if (j->type == STRATA_JSON_OBJECT) {
			keys = realloc(j->keys, cap * sizeof(*keys));
			if (!keys)
				return -ENOMEM;
			j->keys = keys;
		}
	}
	if (j->type == STRATA_JSON_OBJECT)
		j->keys[j->len] = key;
	j->items[j->len++] = item;
	return 0;
}

static int jr_container(struct jr *r, struct strata_json *j, bool obj)
{
	struct strata_json *item = NULL;
	char *key = NULL;
	size_t klen;
	int ret;

	if (++r->depth > STRATA_JSON_DEPTH)
		return -EINVAL;
	j->type = obj ? STRATA_JSON_OBJECT : STRATA_JSON_ARRAY;
	jr_ws(r);
	if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
		r->p++;
		r->depth--;
		return 0;
	}
	for (;;) {
		jr_ws(r);
		if (obj) {
			if (r->p >= r->end || *r->p != '"')
				return -EINVAL;
			r->p++;
			ret = jr_string(r, &key, &klen);
			if (ret < 0)
				return ret;
			jr_ws(r);
			if (r->p >= r->end || *r->p != ':') {
				free(key);
				return -EINVAL;
			}
			r->p++;
		}
		ret = jr_value(r, &item);
		if (ret == 0)
			ret = jr_push(j, key, item);
		if (ret < 0) {
			free(key);
			strata_json_free(item);
			return ret;
		}
		key = NULL;
		item = NULL;
		jr_ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
			r->p++;
			r->depth--;
			return 0;
		}
		return -EINVAL;
	}
}

static int jr_value(struct jr *r, struct strata_json **out)
{
	struct strata_json *j;
	int ret;

	*out = NULL;
	jr_ws(r);
	if (r->p >= r->end)
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	switch (*r->p) {
	case '{':
	case '[':
		r->p++;
		ret = jr_container(r, j, r->p[-1] == '{');
		break;
	case '"':
		r->p++;
		j->type = STRATA_JSON_STRING;
		ret = jr_string(r, &j->str, &j->len);
		break;
	case 't':
		j->type = STRATA_JSON_BOOL;
		j->b = true;
		ret = jr_word(r, "true");
		break;
	case 'f':
		j->type = STRATA_JSON_BOOL;
		ret = jr_word(r, "false");
		break;
	case 'n':
		ret = jr_word(r, "null");
		break;
	default:
		ret = jr_number(r, j);
		break;
	}
	if (ret < 0) {
		strata_json_free(j);
		return ret;
	}
	*out = j;
	return 0;
}

int strata_json_parse(const char *text, size_t len, struct strata_json **out,
		      size_t *where)
{
	struct jr r = { .p = text, .end = text + len, .start = text };
	struct strata_json *j = NULL;
	int ret;

	*out = NULL;
	ret = jr_value(&r, &j);
	if (ret == 0) {
		jr_ws(&r);
		if (r.p != r.end)
			ret = -EINVAL;
	}
	if (ret < 0) {
		if (where)
			*where = (size_t)(r.p - r.start);
		strata_json_free(j);
		return ret;
	}
	*out = j;
	return 0;
}

void strata_json_free(struct strata_json *j)
{
	if (!j)
		return;
	if (j->type == STRATA_JSON_ARRAY || j->type == STRATA_JSON_OBJECT) {
		for (size_t i = 0; i < j->len; i++) {
			if (j->keys)
				free(j->keys[i]);
			strata_json_free(j->items[i]);
		}
	}
	free(j->keys);
	free(j->items);
	free(j->str);
	free(j);
}

const struct strata_json *strata_json_get(const struct strata_json *j,
					  const char *key)
{
	if (!j || j->type != STRATA_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->len; i++)
		if (strcmp(j->keys[i], key) == 0)
			return j->items[i];
	return NULL;
}

const char *strata_json_str(const struct strata_json *j)
{
	return j && j->type == STRATA_JSON_STRING ? j->str : NULL;
}

const char *strata_json_get_str(const struct strata_json *j, const char *key,
				const char *def)
{
	const char *s = strata_json_str(strata_json_get(j, key));

	return s ? s : def;
}

int strata_json_get_int(const struct strata_json *j, const char *key,
			int64_t *out)
{
	const struct strata_json *v = strata_json_get(j, key);

	if (!v)
		return -ENOENT;
	if (v->type != STRATA_JSON_NUMBER || !v->is_int)
		return -EINVAL;
	*out = v->i;
	return 0;
}

bool strata_json_get_bool(const struct strata_json *j, const char *key,
			  bool def)
{
	const struct strata_json *v = strata_json_get(j, key);

	return v && v->type == STRATA_JSON_BOOL ? v->b : def;
}

/* Writer ------------------------------------------------------------------ */

static void jw_put(struct strata_jw *w, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (w->err)
		return;
	if (w->len + n + 1 > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + n + 1)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->err = -ENOMEM;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* A comma before every member but the first, except right after a key. */
static void jw_sep(struct strata_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (!w->first[w->depth])
		jw_put(w, ",", 1);
	w->first[w->depth] = false;
}

static void jw_open(struct strata_jw *w, char c)
{
	jw_sep(w);
	jw_put(w, &c, 1);
	if (w->depth >= STRATA_JSON_DEPTH) {
		w->err = -ENOMEM;
		return;
	}
	w->first[++w->depth] = true;
}

static void jw_close(struct strata_jw *w, char c)
{
	jw_put(w, &c, 1);
	if (w->depth)
		w->depth--;
}

void strata_jw_release(struct strata_jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void strata_jw_obj(struct strata_jw *w)
{
	jw_open(w, '{');
}

void strata_jw_obj_end(struct strata_jw *w)
{
	jw_close(w, '}');
}

void strata_jw_arr(struct strata_jw *w)
{
	jw_open(w, '[');
}

void strata_jw_arr_end(struct strata_jw *w)
{
	jw_close(w, ']');
}

static void jw_string(struct strata_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[8];

	jw_put(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_put(w, run, (size_t)(s - run));
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jw_put(w, esc, 2);
		} else if (c == '\n') {
			jw_put(w, "\\n", 2);
		} else if (c == '\t') {
			jw_put(w, "\\t", 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			jw_put(w, esc, 6);
		}
	}
	jw_put(w, run, (size_t)(s - run));
	jw_put(w, "\"", 1);
}

void strata_jw_key(struct strata_jw *w, const char *key)
{
	jw_sep(w);
	jw_string(w, key);
	jw_put(w, ":", 1);
	w->after_key = true;
}

void strata_jw_str(struct strata_jw *w, const char *s)
{
	jw_sep(w);
	if (s)
		jw_string(w, s);
	else
		jw_put(w, "null", 4);
}

void strata_jw_int(struct strata_jw *w, int64_t v)
{
	char buf[32];

	jw_sep(w);
	jw_put(w, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRId64, v));
}

void strata_jw_uint(struct strata_jw *w, uint64_t v)
{
	char buf[32];

	jw_sep(w);
	jw_put(w, buf, (size_t)snprintf(buf, sizeof(buf), "%" PRIu64, v));
}

void strata_jw_double(struct strata_jw *w, double v)
{
	char buf[64];

	jw_sep(w);
	if (!isfinite(v)) {
		jw_put(w, "null", 4);
		return;
	}
	jw_put(w, buf, (size_t)snprintf(buf, sizeof(buf), "%.17g", v));
}

void strata_jw_bool(struct strata_jw *w, bool v)
{
	jw_sep(w);
	jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void strata_jw_null(struct strata_jw *w)
{
	jw_sep(w);
	jw_put(w, "null", 4);
}

void strata_jw_kstr(struct strata_jw *w, const char *key, const char *s)
{
	strata_jw_key(w, key);
	strata_jw_str(w, s);
}

void strata_jw_kint(struct strata_jw *w, const char *key, int64_t v)
{
	strata_jw_key(w, key);
	strata_jw_int(w, v);
}

void strata_jw_kuint(struct strata_jw *w, const char *key, uint64_t v)
{
	strata_jw_key(w, key);
	strata_jw_uint(w, v);
}

void strata_jw_kbool(struct strata_jw *w, const char *key, bool v)
{
	strata_jw_key(w, key);
	strata_jw_bool(w, v);
}

int strata_jw_finish(struct strata_jw *w, const char **out, size_t *len)
{
	if (!w->err && !w->buf)
		jw_put(w, "", 0);
	if (w->err)
		return w->err;
	*out = w->buf;
	*len = w->len;
	return 0;
}
