/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/s3.c - the S3 driver ("s3://" tiers), built on libcurl.
 *
 * URL: s3://BUCKET/PREFIX?endpoint=URL&region=R&style=path|virtual
 * &credentials=FILE&ca=FILE&timeout=S&connect_timeout=S&retries=N&conns=N
 * &partsize=MiB&readahead=MiB&listpage=N (man/strata.conf.5). Key K is the object
 * PREFIX/K. Credentials come from FILE (AWS shared-credentials format, mode
 * 0600 or the tier is refused) or else from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY; they live in s3->userpwd only and are never
 * logged, never put in a message, never in a URL. Requests are signed with
 * SigV4 by curl (CURLOPT_AWS_SIGV4); curl 7.88 neither adds
 * x-amz-content-sha256 nor sorts or encodes the query, so every request
 * carries "x-amz-content-sha256: UNSIGNED-PAYLOAD", queries are written
 * sorted and encoded, and keys are percent-encoded.
 *
 * Objects are immutable, so the driver has no STRATA_BCAP_RANDOM_WRITE
 * (backend.h says what writing means then): an object open for writing is
 * a stream of appends. Its bytes collect in a part buffer; below partsize
 * the whole object is one PUT at sync or close, above it the stream becomes
 * a multipart upload whose parts go up on the worker threads, at most
 * s3->conns per object and S3_UP_TOTAL bytes per tier in flight (parts
 * double in size every S3_PART_GROW parts), and which is completed at sync
 * or close
 * and aborted when anything fails, so a failed stream never replaces what
 * the key held. Appending after a sync, or to an object opened without
 * TRUNC, resumes from the stored object: small ones are read back, large
 * ones become the first parts of the new upload by server-side copy.
 *
 * Reads are ranged GETs. A sequential reader gets read-ahead: segments
 * fetched by the worker threads, as large as the window (S3_RA_START,
 * doubling) up to S3_RA_CHUNK, at most s3->ra_max bytes ahead per object
 * and S3_RA_TOTAL per tier, whose bytes readers take as they arrive; a
 * random read fetches just the bytes asked for. A ranged
 * GET that is retried asks only for the bytes it still lacks. Opening an
 * object for reading GETs its first MiB rather than sending a HEAD: the
 * size comes with the bytes that the first read wants.
 *
 * Every request goes through s3_do: it borrows a curl easy handle from a
 * pool (so connections are reused), retries 5xx answers, timeouts and
 * resets with exponential backoff and jitter for at most the tier's
 * timeout, and translates the outcome once into -errno (s3_errno), logging
 * the server's code and message. A tier that stops answering is logged
 * once, and once more when it answers again.
 *
 * Threads: any number may call in. s3->lock guards the handle pool and the
 * job queue; o->lock guards an object's segments, parts and stream error.
 * Workers take jobs from the queue and never wait for other jobs. No lock
 * is held across a request.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backend.h"
#include "backend_int.h"
#include "log.h"
#include "util.h"

#define S3_TIMEOUT_DEFAULT 30 /* seconds */
#define S3_TIMEOUT_MAX 3600
#define S3_CONNECT_DEFAULT 10
#define S3_RETRIES_DEFAULT 4
#define S3_RETRIES_MAX 20
#define S3_CONNS_DEFAULT 8u
#define S3_CONNS_MAX 64u
#define S3_PART_DEFAULT 16u /* MiB */
#define S3_PART_MIN 5u	    /* MiB: S3's smallest part but the last */
#define S3_PART_MAX 1024u
#define S3_RA_DEFAULT 64u /* MiB ahead of a sequential reader */
#define S3_RA_MAX 1024u
/* Bytes per read-ahead GET: radosgw spends about 3 ms of CPU on each
 * request, nearly what sending 4 MiB costs it (4 ms). */
#define S3_RA_CHUNK (16u << 20)
/* The window a reader starts with, and its first GET: a random reader
 * taken for a sequential one wastes no more than this (16 MiB made
 * radosgw and the OSD work 40% more for 030's random reads). */
#define S3_RA_START (4u << 20)
/* Bytes an open for reading GETs at once: the kernel's largest read. */
#define S3_RA_FIRST (1u << 20)
/* A read this close to the last one's end is still sequential. */
#define S3_RA_SLACK (4u << 20)
#define S3_RA_TOTAL (256u << 20) /* read-ahead bytes per tier */
#define S3_COPY_MAX (5ull << 30) /* CopyObject's limit */
#define S3_ERRBODY_MAX 4096
#define S3_CURL_BUF (512L << 10) /* curl's receive and send buffers */
#define S3_BACKOFF_MS 100
#define S3_BACKOFF_MAX_MS 2000
#define S3_FAIL_HOLD_MS 1000 /* see s3_read_failed_recently */
#define S3_MAX_PARTS 10000
/* Parts double in size every S3_PART_GROW parts, so that 10,000 parts of
 * at least partsize reach S3's 5 TiB object limit. */
#define S3_PART_GROW 1000u
#define S3_UP_TOTAL (256u << 20) /* part bytes in flight per tier */
#define S3_PBUF_ALIGN 4096u	 /* what O_DIRECT wants of a buffer */

struct s3_job {
	struct s3_job *next;
	void (*run)(struct s3_job *job);
};

struct s3_be {
	char bucket[64];
	char prefix[STRATA_KEY_MAX]; /* "" or "a/b/" */
	char base[640];		     /* endpoint URL up to the key */
	char endpoint[512];	     /* for messages */
	char region[64];
	char sigv4[96];
	char userpwd[512]; /* secret: never logged */
	char ca[PATH_MAX];
	bool virt;
	long timeout;  /* seconds */
	long ctimeout; /* seconds */
	unsigned int retries;
	unsigned int conns;
	size_t partsize;
	size_t ra_max;
	unsigned int listpage; /* keys per ListObjectsV2 page, 0: server's */

	pthread_mutex_t lock;
	CURL **hfree; /* guarded by lock */
	unsigned int nhfree;
	struct s3_job *qhead; /* guarded by lock */
	struct s3_job *qtail;
	pthread_cond_t qcond;
	bool stop;
	pthread_t *threads;
	unsigned int nthreads;
	size_t rabytes; /* guarded by lock: read-ahead buffers */
	size_t upbytes; /* guarded by lock: parts in flight */
	/* Buffers kept for reuse (guarded by lock): fresh ones this big are
	 * fresh mappings, whose page faults cost more than the copies. */
	struct s3_seg *segfree;
	unsigned int nsegfree;
	struct s3_pbuf *pbfree;
	unsigned int npbfree;
	pthread_cond_t upcond; /* upbytes went down */
	atomic_bool down;
	bool opening; /* the mount-time check: its error goes to the caller */
};

/*
 * One read-ahead GET; on o->segs from queued until dropped. Readers take
 * its bytes as they arrive: [off, off + got) of the object are in buf and
 * stay there unchanged (a retried GET asks only for the rest). Counted:
 * one reference for o->segs, one for the GET while it runs, one per loan
 * (s3_obj_read_lend); the last one gives it back to the pool, so a loan
 * may outlive the object.
 */
struct s3_seg {
	struct s3_job job;
	struct s3_seg *next; /* guarded by o->lock */
	struct strata_obj *obj;
	uint64_t off;
	size_t len;
	size_t got;   /* guarded by o->lock */
	int err;      /* guarded by o->lock, once !pending */
	bool pending; /* guarded by o->lock */
	bool dead;    /* guarded by o->lock: dropped, its GET stops */
	atomic_uint refs;
	char buf[];
};

/* A pooled part buffer, while free. */
struct s3_pbuf {
	struct s3_pbuf *next;
};

/* One part of a multipart upload on its way. */
struct s3_part {
	struct s3_job job;
	struct strata_obj *obj;
	unsigned int num;
	char *buf;
	size_t len;
	size_t cap;
};

struct s3_obj {
	char *key;     /* the object's full key, prefix included */
	char *path;    /* percent-encoded key, for URLs */
	uint64_t size; /* reading: the object's size at open */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a segment or a part completed */

	/* Reading. */
	struct s3_seg *segs;	/* guarded by lock: by offset */
	uint64_t ranext;	/* end of the last read */
	size_t rawin;		/* bytes to keep ahead: grows to ra_max */
	struct timespec failed; /* guarded by lock: last read gave -EIO */
	unsigned int rainflight;
	/* guarded by lock: the least object offset that readers waiting for
	 * a segment's bytes need reached, UINT64_MAX when none waits; the
	 * GET wakes them only then, not for every piece that lands. */
	uint64_t need;

	/* Writing. */
	uint64_t wpos;	 /* bytes in the stream */
	uint64_t stored; /* bytes durable under the key (after a sync) */
	bool resume;	 /* the next write continues from stored */
	bool dirty;	 /* written since the last sync */
	char *buf;	 /* the part being filled */
	size_t blen;
	size_t bcap;	     /* its size */
	char upload[256];    /* multipart upload id, or "" */
	unsigned int nparts; /* parts handed out so far */
	char (*etags)[80];   /* guarded by lock: per part */
	unsigned int etcap;
	unsigned int pinflight; /* guarded by lock */
	int werr;		/* guarded by lock: first part failure */
};

/* One request and its outcome. */
struct s3_req {
	const char *method;
	const char *path;  /* encoded key with prefix, NULL: the bucket */
	const char *query; /* sorted and encoded, or NULL */
	struct curl_slist *hdrs;
	const char *body; /* for PUT and POST */
	size_t blen;
	size_t bpos;
	/* Response body: into out (cap bytes, fixed) or a growing buffer. */
	char *out;
	size_t cap;
	size_t len;
	bool grow;
	bool overflow;
	/*
	 * A ranged GET of [roff, roff + cap) into out: each attempt asks for
	 * the bytes still missing, so the bytes in out [0, len) are written
	 * once and never again, and progress (when set) may publish them as
	 * they come. progress runs after each piece lands; false stops the
	 * transfer (the request then fails with -ECANCELED, unlogged).
	 */
	bool ranged;
	uint64_t roff;
	bool (*progress)(struct s3_req *r);
	void *arg;
	bool cancelled;
	bool badrange; /* the server sent all of it for a range from > 0 */
	/* The stall watch (s3_xfer_cb): when a byte last moved. */
	long timeout_ms;
	struct timespec moved;
	curl_off_t dlnow;
	curl_off_t ulnow;
	bool stalled;
	long status;
	char etag[80];
	uint64_t clen;
	bool has_clen;
	uint64_t total; /* the object's size, from Content-Range */
	bool has_total;
	time_t mtime;
	char err[S3_ERRBODY_MAX];
	size_t errlen;
	char curlerr[CURL_ERROR_SIZE];
};

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static CURLcode s3_global_rc;

static void s3_global_init(void)
{
	s3_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct s3_be *s3_be(struct strata_backend *be)
{
	return be->priv;
}

static struct s3_obj *s3_obj(struct strata_obj *obj)
{
	return obj->priv;
}

/* ---- buffers ---- */

#define S3_SEG_KEEP (S3_RA_TOTAL / S3_RA_CHUNK)

/* A read-ahead segment (room for S3_RA_CHUNK bytes), or NULL. */
static struct s3_seg *s3_seg_new(struct s3_be *s3)
{
	struct s3_seg *s = NULL;

	pthread_mutex_lock(&s3->lock);
	if (s3->segfree) {
		s = s3->segfree;
		s3->segfree = s->next;
		s3->nsegfree--;
	}
	pthread_mutex_unlock(&s3->lock);
	if (!s)
		s = malloc(sizeof(*s) + S3_RA_CHUNK);
	if (s) {
		memset(s, 0, sizeof(*s));
		atomic_init(&s->refs, 1);
	}
	return s;
}

/* Free s and give back its share of s3->rabytes (s3->lock not held). */
static void s3_seg_free(struct s3_be *s3, struct s3_seg *s)
{
	pthread_mutex_lock(&s3->lock);
	s3->rabytes -= s->len;
	if (s3->nsegfree < S3_SEG_KEEP) {
		s->next = s3->segfree;
		s3->segfree = s;
		s3->nsegfree++;
		s = NULL;
	}
	pthread_mutex_unlock(&s3->lock);
	free(s);
}

static void s3_seg_unref(struct s3_be *s3, struct s3_seg *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		s3_seg_free(s3, s);
}

/* A part buffer of cap bytes, page-aligned (see s3_obj_wbuf), or NULL. */
static char *s3_pbuf_get(struct s3_be *s3, size_t cap)
{
	struct s3_pbuf *b = NULL;
	void *p = NULL;

	if (cap == s3->partsize) {
		pthread_mutex_lock(&s3->lock);
		b = s3->pbfree;
		if (b) {
			s3->pbfree = b->next;
			s3->npbfree--;
		}
		pthread_mutex_unlock(&s3->lock);
	}
	if (b)
		return (char *)b;
	if (posix_memalign(&p, S3_PBUF_ALIGN, cap) != 0)
		return NULL;
	return p;
}

static void s3_pbuf_put(struct s3_be *s3, char *buf, size_t cap)
{
	struct s3_pbuf *b = (struct s3_pbuf *)buf;

	if (buf && cap == s3->partsize) {
		pthread_mutex_lock(&s3->lock);
		if (s3->npbfree < S3_UP_TOTAL / s3->partsize + 2) {
			b->next = s3->pbfree;
			s3->pbfree = b;
			s3->npbfree++;
			buf = NULL;
		}
		pthread_mutex_unlock(&s3->lock);
	}
	free(buf);
}

/* Percent-encode s into out; '/' stays when keep_slash. */
static int s3_encode(const char *s, bool keep_slash, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~' || (keep_slash && c == '/')) {
			if (j + 1 >= n)
				return -ENAMETOOLONG;
			out[j++] = (char)c;
		} else {
			if (j + 3 >= n)
				return -ENAMETOOLONG;
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	if (j >= n)
		return -ENAMETOOLONG;
	out[j] = '\0';
	return 0;
}

/* The full key and its encoded form for key K: PREFIX/K. */
static int s3_keypath(struct strata_backend *be, const char *key, char **full,
		      char **path)
{
	struct s3_be *s3 = s3_be(be);
	size_t n = strlen(s3->prefix) + strlen(key) + 1;
	char *f = malloc(n);
	char *p = malloc(n * 3);

	if (!f || !p) {
		free(f);
		free(p);
		return -ENOMEM;
	}
	snprintf(f, n, "%s%s", s3->prefix, key);
	s3_encode(f, true, p, n * 3);
	*full = f;
	*path = p;
	return 0;
}

/* ---- handles and requests ---- */

static CURL *s3_handle_get(struct s3_be *s3)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s3->lock);
	if (s3->nhfree > 0)
		h = s3->hfree[--s3->nhfree];
	pthread_mutex_unlock(&s3->lock);
	if (!h)
		h = curl_easy_init();
	else
		curl_easy_reset(h);
	return h;
}

/* Keep h for reuse (its connection stays open) unless it failed. */
static void s3_handle_put(struct s3_be *s3, CURL *h, bool broken)
{
	if (!h)
		return;
	if (!broken) {
		pthread_mutex_lock(&s3->lock);
		if (s3->nhfree < 2 * s3->conns + 8) {
			s3->hfree[s3->nhfree++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&s3->lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

static size_t s3_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;

	if (r->status == 0 || r->status >= 300) {
		size_t room = sizeof(r->err) - 1 - r->errlen;

		if (n < room)
			room = n;
		memcpy(r->err + r->errlen, data, room);
		r->errlen += room;
		r->err[r->errlen] = '\0';
		return n;
	}
	if (r->ranged && r->status == 200 && r->roff + r->len > 0) {
		/* The whole object for a range: not expected of S3. */
		r->badrange = true;
		return 0;
	}
	if (r->len + n > r->cap) {
		if (!r->grow) {
			r->overflow = true;
			return 0;
		}
		size_t cap = r->cap ? r->cap : 16384;
		char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->out, cap);
		if (!nb)
			return 0;
		r->out = nb;
		r->cap = cap;
	}
	memcpy(r->out + r->len, data, n);
	r->len += n;
	if (r->grow)
		r->out[r->len] = '\0';
	if (r->progress && !r->progress(r)) {
		r->cancelled = true;
		return 0;
	}
	return n;
}

static size_t s3_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;
	char line[512];
	char *v;
	size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	memcpy(line, data, l);
	line[l] = '\0';
	l = strcspn(line, "\r\n");
	line[l] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a retry). */
		r->status = strtol(line + strcspn(line, " "), NULL, 10);
		r->has_clen = false;
		r->has_total = false;
		r->etag[0] = '\0';
		return n;
	}
	v = strchr(line, ':');
	if (!v)
		return n;
	*v++ = '\0';
	while (*v == ' ')
		v++;
	if (strcasecmp(line, "etag") == 0) {
		strata_strlcpy(r->etag, v, sizeof(r->etag));
	} else if (strcasecmp(line, "content-length") == 0) {
		r->clen = strtoull(v, NULL, 10);
		r->has_clen = true;
	} else if (strcasecmp(line, "content-range") == 0) {
		const char *slash = strchr(v, '/');

		/* "bytes FIRST-LAST/TOTAL"; TOTAL may be "*". */
		if (slash && isdigit((unsigned char)slash[1])) {
			r->total = strtoull(slash + 1, NULL, 10);
			r->has_total = true;
		}
	} else if (strcasecmp(line, "last-modified") == 0) {
		time_t t = curl_getdate(v, NULL);

		if (t >= 0)
			r->mtime = t;
	}
	return n;
}

static size_t s3_read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;

	if (n > r->blen - r->bpos)
		n = r->blen - r->bpos;
	if (n == 0)
		return 0;
	memcpy(buf, r->body + r->bpos, n);
	r->bpos += n;
	return n;
}

/* The text of <tag> in xml (first one after from), into out. */
static const char *s3_xml_get(const char *xml, const char *tag, char *out,
			      size_t n)
{
	char open[64];
	char close[64];
	const char *a, *b;
	size_t len;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(xml, open);
	if (!a) {
		if (n)
			out[0] = '\0';
		return NULL;
	}
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return NULL;
	len = (size_t)(b - a);
	if (len >= n)
		len = n - 1;
	/* Undo the five XML escapes. */
	{
		size_t j = 0;

		for (size_t i = 0; i < len; i++) {
			static const struct {
				const char *s;
				char c;
			} ents[] = { { "&amp;", '&' },
				     { "&lt;", '<' },
				     { "&gt;", '>' },
				     { "&quot;", '"' },
				     { "&apos;", '\'' } };
			bool done = false;

			if (a[i] == '&') {
				for (size_t e = 0; e < 5 && !done; e++) {
					size_t el = strlen(ents[e].s);

					if (i + el <= len &&
					    strncmp(a + i, ents[e].s, el) ==
						    0) {
						out[j++] = ents[e].c;
						i += el - 1;
						done = true;
					}
				}
			}
			if (!done)
				out[j++] = a[i];
		}
		out[j] = '\0';
	}
	return b + strlen(close);
}

static bool s3_curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/*
 * Translate a finished request into 0 or -errno and log the server's (or
 * curl's) reason once. Expected answers (a missing key) are debug only.
 */
static int s3_errno(struct strata_backend *be, struct s3_req *r, CURLcode rc,
		    const char *op, const char *what)
{
	struct s3_be *s3 = s3_be(be);
	char code[64] = "";
	char msg[256] = "";
	int ret;

	if (rc != CURLE_OK) {
		if (s3->opening)
			strata_debug(STRATA_SUB_BACKEND,
				     "tier '%s': %s '%s': %s", be->name, op,
				     what,
				     r->curlerr[0] ? r->curlerr :
						     curl_easy_strerror(rc));
		else if (!atomic_exchange(&s3->down, true))
			strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				   "tier '%s': %s '%s': cannot reach '%s': %s",
				   be->name, op, what, s3->endpoint,
				   r->curlerr[0] ? r->curlerr :
						   curl_easy_strerror(rc));
		else
			strata_debug(STRATA_SUB_BACKEND,
				     "tier '%s': %s '%s': %s", be->name, op,
				     what, curl_easy_strerror(rc));
		return -EIO;
	}
	if (atomic_exchange(&s3->down, false))
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_BACKEND,
			   "tier '%s': '%s' answers again", be->name,
			   s3->endpoint);
	if (r->status >= 200 && r->status < 300)
		return 0;
	if (r->errlen) {
		s3_xml_get(r->err, "Code", code, sizeof(code));
		s3_xml_get(r->err, "Message", msg, sizeof(msg));
	}
	switch (r->status) {
	case 404:
		ret = -ENOENT;
		break;
	case 403:
		ret = -EACCES;
		break;
	case 409:
		ret = strcmp(code, "BucketNotEmpty") == 0 ? -ENOTEMPTY :
							    -EEXIST;
		break;
	case 412:
		ret = -EEXIST; /* a precondition (If-None-Match) failed */
		break;
	case 400:
	case 411:
	case 416:
		ret = -EINVAL;
		break;
	case 507:
		ret = -ENOSPC;
		break;
	default:
		ret = -EIO;
		break;
	}
	if (strcmp(code, "QuotaExceeded") == 0)
		ret = -EDQUOT;
	else if (strcmp(code, "EntityTooLarge") == 0)
		ret = -EFBIG;
	else if (strcmp(code, "NoSuchBucket") == 0)
		ret = -ENOENT;
	if ((ret == -ENOENT && strcmp(code, "NoSuchBucket") != 0) ||
	    s3->opening)
		strata_debug(STRATA_SUB_BACKEND, "tier '%s': %s '%s': %s",
			     be->name, op, what, code[0] ? code : "not found");
	else
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': %s '%s' failed: HTTP %ld%s%s%s%s",
			   be->name, op, what, r->status, code[0] ? " " : "",
			   code, msg[0] ? ": " : "", msg);
	return ret;
}

static void s3_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long s3_elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Give the transfer up once no byte moved either way for the timeout;
 * curl calls this at least once a second. */
static int s3_xfer_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
		      curl_off_t ultotal, curl_off_t ulnow)
{
	struct s3_req *r = arg;

	(void)dltotal;
	(void)ultotal;
	if (dlnow != r->dlnow || ulnow != r->ulnow) {
		r->dlnow = dlnow;
		r->ulnow = ulnow;
		clock_gettime(CLOCK_MONOTONIC, &r->moved);
		return 0;
	}
	if (s3_elapsed_ms(&r->moved) < r->timeout_ms)
		return 0;
	r->stalled = true;
	return 1;
}

/* Set up h for one attempt of r. */
static int s3_setup(struct s3_be *s3, CURL *h, struct s3_req *r,
		    struct curl_slist *hdrs)
{
	char url[sizeof(s3->base) + 6 * STRATA_KEY_MAX + 2048];
	int n;

	n = snprintf(url, sizeof(url), "%s%s%s%s%s", s3->base,
		     r->path ? "/" : "", r->path ? r->path : "",
		     r->query ? "?" : "", r->query ? r->query : "");
	if (n < 0 || (size_t)n >= sizeof(url))
		return -ENAMETOOLONG;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s3->userpwd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s3->ctimeout);
	/* A transfer stalled for the tier's timeout is given up. Not with
	 * CURLOPT_LOW_SPEED_TIME: curl averages the speed over the last five
	 * seconds, so a transfer that stops midway is given up only that
	 * much later. */
	clock_gettime(CLOCK_MONOTONIC, &r->moved);
	r->timeout_ms = s3->timeout * 1000;
	r->dlnow = 0;
	r->ulnow = 0;
	r->stalled = false;
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s3_xfer_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Bigger than curl's 16 and 64 KiB: fewer system calls and
	 * callbacks per MiB moved. */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, S3_CURL_BUF);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, S3_CURL_BUF);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s3_header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curlerr);
	if (s3->ca[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, s3->ca);
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, s3_read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)r->blen);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->blen);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	return 0;
}

/* The request headers of r's next attempt, or NULL. */
static struct curl_slist *s3_headers(const struct s3_req *r)
{
	struct curl_slist *hdrs, *l;
	char range[80];

	/* No "Expect:" to switch 100-continue off: curl 7.88 would sign the
	 * empty header it then leaves out. */
	hdrs = curl_slist_append(NULL,
				 "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	l = hdrs;
	if (l && strcmp(r->method, "POST") == 0)
		l = curl_slist_append(hdrs, "Content-Type: application/xml");
	if (l && r->ranged) {
		snprintf(range, sizeof(range),
			 "Range: bytes=%" PRIu64 "-%" PRIu64, r->roff + r->len,
			 r->roff + r->cap - 1);
		l = curl_slist_append(hdrs, range);
	}
	for (const struct curl_slist *e = r->hdrs; l && e; e = e->next)
		l = curl_slist_append(hdrs, e->data);
	if (!l) {
		curl_slist_free_all(hdrs);
		return NULL;
	}
	return hdrs;
}

/*
 * Run r, retrying what may succeed on a second try, and translate the
 * outcome (s3_errno). what names the object in messages.
 */
static int s3_do(struct strata_backend *be, struct s3_req *r, const char *op,
		 const char *what)
{
	struct s3_be *s3 = s3_be(be);
	struct curl_slist *hdrs = NULL;
	struct timespec t0;
	CURLcode rc = CURLE_OK;
	unsigned int attempt;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->len = 0;
	for (attempt = 0;; attempt++) {
		CURL *h;
		bool again;
		long wait;

		curl_slist_free_all(hdrs);
		hdrs = s3_headers(r);
		if (!hdrs) {
			ret = -ENOMEM;
			goto out;
		}
		h = s3_handle_get(s3);
		if (!h) {
			ret = -ENOMEM;
			goto out;
		}
		r->bpos = 0;
		if (!r->ranged)
			r->len = 0;
		r->status = 0;
		r->errlen = 0;
		r->err[0] = '\0';
		r->curlerr[0] = '\0';
		r->overflow = false;
		r->has_clen = false;
		ret = s3_setup(s3, h, r, hdrs);
		if (ret < 0) {
			s3_handle_put(s3, h, true);
			goto out;
		}
		rc = curl_easy_perform(h);
		if (rc == CURLE_ABORTED_BY_CALLBACK && r->stalled) {
			rc = CURLE_OPERATION_TIMEDOUT;
			snprintf(r->curlerr, sizeof(r->curlerr),
				 "nothing moved for %ld s", s3->timeout);
		}
		if (rc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE,
					  &r->status);
		s3_handle_put(s3, h, rc != CURLE_OK);
		if (rc == CURLE_WRITE_ERROR && r->cancelled) {
			ret = -ECANCELED;
			goto out;
		}
		if (rc == CURLE_WRITE_ERROR && (r->overflow || r->badrange)) {
			strata_log(
				STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				"tier '%s': %s '%s': %s", be->name, op, what,
				r->badrange ?
					"the server ignored the byte range" :
					"the server sent more than asked for");
			ret = -EIO;
			goto out;
		}
		again = (rc != CURLE_OK && s3_curl_retryable(rc)) ||
			(rc == CURLE_OK &&
			 (r->status >= 500 || r->status == 429));
		if (again && r->ranged && r->len == r->cap) {
			/* Every byte came before the failure. */
			rc = CURLE_OK;
			r->status = 206;
			again = false;
		}
		if (!again || attempt >= s3->retries)
			break;
		wait = (long)S3_BACKOFF_MS << (attempt < 5 ? attempt : 5);
		if (wait > S3_BACKOFF_MAX_MS)
			wait = S3_BACKOFF_MAX_MS;
		{
			unsigned int rnd = 0;

			if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) < 0)
				rnd = (unsigned int)t0.tv_nsec;
			wait = wait / 2 +
			       (long)(rnd % (unsigned long)(wait / 2 + 1));
		}
		if (s3_elapsed_ms(&t0) + wait > s3->timeout * 1000)
			break;
		strata_debug(STRATA_SUB_BACKEND,
			     "tier '%s': %s '%s': retry %u in %ld ms", be->name,
			     op, what, attempt + 1, wait);
		s3_sleep_ms(wait);
	}
	ret = s3_errno(be, r, rc, op, what);
out:
	curl_slist_free_all(hdrs);
	return ret;
}

/* ---- the worker threads ---- */

static void s3_queue(struct s3_be *s3, struct s3_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&s3->lock);
	if (s3->qtail)
		s3->qtail->next = job;
	else
		s3->qhead = job;
	s3->qtail = job;
	pthread_cond_signal(&s3->qcond);
	pthread_mutex_unlock(&s3->lock);
}

static void *s3_worker(void *arg)
{
	struct s3_be *s3 = arg;
	struct s3_job *job;

	for (;;) {
		pthread_mutex_lock(&s3->lock);
		while (!s3->qhead && !s3->stop)
			pthread_cond_wait(&s3->qcond, &s3->lock);
		job = s3->qhead;
		if (job) {
			s3->qhead = job->next;
			if (!s3->qhead)
				s3->qtail = NULL;
		}
		pthread_mutex_unlock(&s3->lock);
		if (!job)
			return NULL;
		job->run(job);
	}
}

/* ---- opening the tier ---- */

static int s3_num(const char *key, const char *val, long min, long max,
		  long *out, char *err, size_t errlen)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (!val[0] || *end || errno || v < min || v > max) {
		snprintf(err, errlen,
			 "option '%s' wants a number from %ld to %ld", key, min,
			 max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Read the keys from an AWS shared-credentials file (mode 0600). */
static int s3_read_creds(struct s3_be *s3, const char *file, char *err,
			 size_t errlen)
{
	char ak[256] = "", sk[256] = "";
	char line[1024];
	struct stat st;
	FILE *f = NULL;
	int fd = -1;
	int ret;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read credentials file '%s': %s",
			 file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(
			err, errlen,
			"credentials file '%s' must be a regular file of mode 0600 (it is %04o)",
			file, (unsigned int)(st.st_mode & 07777));
		ret = -EACCES;
		goto out;
	}
	f = fdopen(fd, "r");
	if (!f) {
		ret = -errno;
		goto out;
	}
	fd = -1;
	while (fgets(line, sizeof(line), f)) {
		char *k = line, *v, *e;

		while (isspace((unsigned char)*k))
			k++;
		v = strchr(k, '=');
		if (!v || *k == '#' || *k == ';' || *k == '[')
			continue;
		e = v;
		*v++ = '\0';
		while (e > k && isspace((unsigned char)e[-1]))
			*--e = '\0';
		while (isspace((unsigned char)*v))
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		e = v + strlen(v);
		while (e > v && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (strcmp(k, "aws_access_key_id") == 0 && !ak[0])
			strata_strlcpy(ak, v, sizeof(ak));
		else if (strcmp(k, "aws_secret_access_key") == 0 && !sk[0])
			strata_strlcpy(sk, v, sizeof(sk));
	}
	if (!ak[0] || !sk[0]) {
		snprintf(
			err, errlen,
			"credentials file '%s' has no aws_access_key_id and aws_secret_access_key",
			file);
		ret = -EINVAL;
		goto out;
	}
	snprintf(s3->userpwd, sizeof(s3->userpwd), "%s:%s", ak, sk);
	ret = 0;
out:
	explicit_bzero(sk, sizeof(sk));
	explicit_bzero(line, sizeof(line));
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int s3_parse_query(struct s3_be *s3, const char *query, char *creds,
			  size_t credlen, char *err, size_t errlen)
{
	char buf[sizeof(((struct strata_uri *)0)->query)];
	char endpoint[sizeof(s3->endpoint)] = "";
	char *save = NULL;
	char *kv;
	long v;
	int ret;

	s3->timeout = S3_TIMEOUT_DEFAULT;
	s3->ctimeout = S3_CONNECT_DEFAULT;
	s3->retries = S3_RETRIES_DEFAULT;
	s3->conns = S3_CONNS_DEFAULT;
	s3->partsize = (size_t)S3_PART_DEFAULT << 20;
	s3->ra_max = (size_t)S3_RA_DEFAULT << 20;
	strcpy(s3->region, "us-east-1");
	strata_strlcpy(buf, query, sizeof(buf));
	for (kv = strtok_r(buf, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		const char *val = eq ? eq + 1 : "";

		if (eq)
			*eq = '\0';
		ret = 0;
		if (strcmp(kv, "endpoint") == 0) {
			if (strncmp(val, "http://", 7) != 0 &&
			    strncmp(val, "https://", 8) != 0) {
				snprintf(
					err, errlen,
					"option 'endpoint' wants an http:// or https:// URL");
				return -EINVAL;
			}
			strata_strlcpy(endpoint, val, sizeof(endpoint));
			while (endpoint[0] &&
			       endpoint[strlen(endpoint) - 1] == '/')
				endpoint[strlen(endpoint) - 1] = '\0';
		} else if (strcmp(kv, "region") == 0) {
			if (!val[0] || strlen(val) >= sizeof(s3->region) ||
			    strspn(val,
				   "abcdefghijklmnopqrstuvwxyz0123456789-") !=
				    strlen(val)) {
				snprintf(err, errlen, "bad region '%s'", val);
				return -EINVAL;
			}
			strcpy(s3->region, val);
		} else if (strcmp(kv, "style") == 0) {
			if (strcmp(val, "path") != 0 &&
			    strcmp(val, "virtual") != 0) {
				snprintf(
					err, errlen,
					"option 'style' wants 'path' or 'virtual'");
				return -EINVAL;
			}
			s3->virt = val[0] == 'v';
		} else if (strcmp(kv, "credentials") == 0) {
			strata_strlcpy(creds, val, credlen);
		} else if (strcmp(kv, "ca") == 0) {
			strata_strlcpy(s3->ca, val, sizeof(s3->ca));
		} else if (strcmp(kv, "timeout") == 0) {
			ret = s3_num(kv, val, 1, S3_TIMEOUT_MAX, &s3->timeout,
				     err, errlen);
		} else if (strcmp(kv, "connect_timeout") == 0) {
			ret = s3_num(kv, val, 1, S3_TIMEOUT_MAX, &s3->ctimeout,
				     err, errlen);
		} else if (strcmp(kv, "retries") == 0) {
			ret = s3_num(kv, val, 0, S3_RETRIES_MAX, &v, err,
				     errlen);
			s3->retries = (unsigned int)v;
		} else if (strcmp(kv, "conns") == 0) {
			ret = s3_num(kv, val, 1, S3_CONNS_MAX, &v, err, errlen);
			s3->conns = (unsigned int)v;
		} else if (strcmp(kv, "partsize") == 0) {
			ret = s3_num(kv, val, S3_PART_MIN, S3_PART_MAX, &v, err,
				     errlen);
			s3->partsize = (size_t)v << 20;
		} else if (strcmp(kv, "listpage") == 0) {
			ret = s3_num(kv, val, 1, 1000, &v, err, errlen);
			s3->listpage = (unsigned int)v;
		} else if (strcmp(kv, "readahead") == 0) {
			ret = s3_num(kv, val, 0, S3_RA_MAX, &v, err, errlen);
			s3->ra_max = (size_t)v << 20;
		} else {
			snprintf(err, errlen, "unknown option '%s'", kv);
			return -EINVAL;
		}
		if (ret < 0)
			return ret;
	}
	if (s3->ctimeout > s3->timeout)
		s3->ctimeout = s3->timeout;
	if (!endpoint[0])
		snprintf(endpoint, sizeof(endpoint),
			 "https://s3.%s.amazonaws.com", s3->region);
	strata_strlcpy(s3->endpoint, endpoint, sizeof(s3->endpoint));
	if (s3->virt) {
		const char *host = strstr(endpoint, "://") + 3;

		snprintf(s3->base, sizeof(s3->base), "%.*s%s.%s",
			 (int)(host - endpoint), endpoint, s3->bucket, host);
	} else {
		snprintf(s3->base, sizeof(s3->base), "%s/%s", endpoint,
			 s3->bucket);
	}
	snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", s3->region);
	return 0;
}

static int s3_list_page(struct strata_backend *be, const char *prefix,
			const char *token, unsigned int max, struct s3_req *r);

/* The bucket answers and lets these credentials list it. */
static int s3_check_bucket(struct strata_backend *be, char *err, size_t errlen)
{
	struct s3_be *s3 = s3_be(be);
	struct s3_req r = { .grow = true };
	char code[64] = "";
	int ret;

	ret = s3_list_page(be, s3->prefix, NULL, 1, &r);
	if (ret < 0) {
		if (r.errlen)
			s3_xml_get(r.err, "Code", code, sizeof(code));
		if (r.status == 0)
			snprintf(err, errlen, "cannot reach '%s': %s",
				 s3->endpoint,
				 r.curlerr[0] ? r.curlerr : strerror(-ret));
		else if (ret == -EACCES)
			snprintf(
				err, errlen,
				"access to bucket '%s' at '%s' denied (%s): check the credentials",
				s3->bucket, s3->endpoint,
				code[0] ? code : "HTTP 403");
		else if (ret == -ENOENT)
			snprintf(err, errlen, "no bucket '%s' at '%s'",
				 s3->bucket, s3->endpoint);
		else
			snprintf(err, errlen,
				 "bucket '%s' at '%s' answers HTTP %ld%s%s",
				 s3->bucket, s3->endpoint, r.status,
				 code[0] ? " " : "", code);
	}
	free(r.out);
	return ret;
}

static void s3_close_be(struct strata_backend *be);

static int s3_open_be(struct strata_backend *be, const struct strata_uri *uri,
		      char *err, size_t errlen)
{
	struct s3_be *s3 = s3_be(be);
	char creds[PATH_MAX] = "";
	const char *p = uri->path;
	const char *ak, *sk;
	size_t plen;
	int ret;

	pthread_once(&s3_once, s3_global_init);
	if (s3_global_rc != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl: %s",
			 curl_easy_strerror(s3_global_rc));
		return -EIO;
	}
	if (!uri->host[0] || strlen(uri->host) >= sizeof(s3->bucket) ||
	    strspn(uri->host, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
		    strlen(uri->host)) {
		snprintf(err, errlen, "bad bucket name '%s'", uri->host);
		return -EINVAL;
	}
	strcpy(s3->bucket, uri->host);
	while (*p == '/')
		p++;
	plen = strlen(p);
	while (plen > 0 && p[plen - 1] == '/')
		plen--;
	if (plen + 2 >= sizeof(s3->prefix)) {
		snprintf(err, errlen, "prefix is too long");
		return -ENAMETOOLONG;
	}
	memcpy(s3->prefix, p, plen);
	if (plen)
		s3->prefix[plen++] = '/';
	s3->prefix[plen] = '\0';
	ret = s3_parse_query(s3, uri->query, creds, sizeof(creds), err, errlen);
	if (ret < 0)
		return ret;
	ak = getenv("AWS_ACCESS_KEY_ID");
	sk = getenv("AWS_SECRET_ACCESS_KEY");
	if (creds[0]) {
		ret = s3_read_creds(s3, creds, err, errlen);
		if (ret < 0)
			return ret;
	} else if (ak && sk && ak[0] && sk[0]) {
		snprintf(s3->userpwd, sizeof(s3->userpwd), "%s:%s", ak, sk);
	} else {
		snprintf(
			err, errlen,
			"no credentials: give 'credentials=FILE' or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return -EACCES;
	}
	pthread_mutex_init(&s3->lock, NULL);
	pthread_cond_init(&s3->qcond, NULL);
	pthread_cond_init(&s3->upcond, NULL);
	s3->hfree = calloc(2 * s3->conns + 8, sizeof(*s3->hfree));
	s3->threads = calloc(s3->conns, sizeof(*s3->threads));
	if (!s3->hfree || !s3->threads) {
		ret = -ENOMEM;
		goto fail;
	}
	s3->opening = true;
	ret = s3_check_bucket(be, err, errlen);
	s3->opening = false;
	if (ret < 0)
		goto fail;
	for (; s3->nthreads < s3->conns; s3->nthreads++) {
		ret = -pthread_create(&s3->threads[s3->nthreads], NULL,
				      s3_worker, s3);
		if (ret < 0) {
			snprintf(err, errlen, "cannot start a thread: %s",
				 strerror(-ret));
			goto fail;
		}
	}
	return 0;
fail:
	s3_close_be(be);
	return ret;
}

static void s3_close_be(struct strata_backend *be)
{
	struct s3_be *s3 = s3_be(be);

	pthread_mutex_lock(&s3->lock);
	s3->stop = true;
	pthread_cond_broadcast(&s3->qcond);
	pthread_mutex_unlock(&s3->lock);
	for (unsigned int i = 0; i < s3->nthreads; i++)
		pthread_join(s3->threads[i], NULL);
	s3->nthreads = 0;
	while (s3->nhfree > 0)
		curl_easy_cleanup(s3->hfree[--s3->nhfree]);
	while (s3->segfree) {
		struct s3_seg *sg = s3->segfree;

		s3->segfree = sg->next;
		free(sg);
	}
	while (s3->pbfree) {
		struct s3_pbuf *b = s3->pbfree;

		s3->pbfree = b->next;
		free(b);
	}
	free(s3->hfree);
	free(s3->threads);
	s3->hfree = NULL;
	s3->threads = NULL;
	pthread_cond_destroy(&s3->qcond);
	pthread_cond_destroy(&s3->upcond);
	pthread_mutex_destroy(&s3->lock);
	explicit_bzero(s3->userpwd, sizeof(s3->userpwd));
}

/* ---- requests by key ---- */

static int s3_head(struct strata_backend *be, const char *path,
		   const char *what, struct strata_obj_stat *out)
{
	struct s3_req r = { .method = "HEAD", .path = path };
	int ret = s3_do(be, &r, "stat", what);

	if (ret < 0)
		return ret;
	out->size = r.has_clen ? r.clen : 0;
	out->mtime.tv_sec = r.mtime;
	out->mtime.tv_nsec = 0;
	return 0;
}

static int s3_put(struct strata_backend *be, const char *path, const char *what,
		  const void *buf, size_t len)
{
	struct s3_req r = {
		.method = "PUT", .path = path, .body = buf, .blen = len
	};

	return s3_do(be, &r, "put", what);
}

/*
 * GET [r->roff, r->roff + r->cap) of path into r->out (r->progress and
 * r->arg as the caller set them); r->len is what came, r->total the
 * object's size when the server said it.
 */
static int s3_get_req(struct strata_backend *be, const char *path,
		      const char *what, struct s3_req *r)
{
	int ret;

	r->method = "GET";
	r->path = path;
	r->ranged = true;
	ret = s3_do(be, r, "read", what);
	if (ret == -EINVAL && r->status == 416)
		return 0; /* the object ends before the bytes asked for */
	return ret;
}

/* GET [off, off + len) of path into buf; *got is what came. */
static int s3_get(struct strata_backend *be, const char *path, const char *what,
		  uint64_t off, void *buf, size_t len, size_t *got)
{
	struct s3_req r = { .out = buf, .cap = len, .roff = off };
	int ret = s3_get_req(be, path, what, &r);

	*got = ret == 0 ? r.len : 0;
	return ret;
}

static int s3_stat(struct strata_backend *be, const char *key,
		   struct strata_obj_stat *out)
{
	char *full, *path;
	int ret = s3_keypath(be, key, &full, &path);

	if (ret < 0)
		return ret;
	ret = s3_head(be, path, full, out);
	free(full);
	free(path);
	return ret;
}

static int s3_remove(struct strata_backend *be, const char *key)
{
	struct strata_obj_stat st;
	struct s3_req r = { .method = "DELETE" };
	char *full, *path;
	int ret = s3_keypath(be, key, &full, &path);

	if (ret < 0)
		return ret;
	/* S3 answers 204 for a missing key too. */
	ret = s3_head(be, path, full, &st);
	if (ret == 0) {
		r.path = path;
		ret = s3_do(be, &r, "remove", full);
	}
	free(full);
	free(path);
	return ret;
}

/* ---- multipart uploads ---- */

static int s3_mpu_start(struct strata_backend *be, const char *path,
			const char *what, char *id, size_t idlen)
{
	struct s3_req r = { .method = "POST",
			    .path = path,
			    .query = "uploads=",
			    .grow = true };
	int ret = s3_do(be, &r, "start upload", what);

	if (ret == 0 &&
	    (!r.out || !s3_xml_get(r.out, "UploadId", id, idlen) || !id[0])) {
		strata_log(
			STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			"tier '%s': start upload '%s': no upload id in the answer",
			be->name, what);
		ret = -EIO;
	}
	free(r.out);
	return ret;
}

static int s3_mpu_query(const char *id, unsigned int part, char *q, size_t n)
{
	char enc[3 * 256];
	int len;

	if (s3_encode(id, false, enc, sizeof(enc)) < 0)
		return -EINVAL;
	if (part)
		len = snprintf(q, n, "partNumber=%u&uploadId=%s", part, enc);
	else
		len = snprintf(q, n, "uploadId=%s", enc);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

static void s3_mpu_abort(struct strata_backend *be, const char *path,
			 const char *what, const char *id)
{
	struct s3_req r = { .method = "DELETE", .path = path };
	char q[1024];

	if (s3_mpu_query(id, 0, q, sizeof(q)) < 0)
		return;
	r.query = q;
	s3_do(be, &r, "abort upload", what);
}

static int s3_mpu_part(struct strata_backend *be, const char *path,
		       const char *what, const char *id, unsigned int num,
		       const void *buf, size_t len, char *etag, size_t etaglen)
{
	struct s3_req r = {
		.method = "PUT", .path = path, .body = buf, .blen = len
	};
	char q[1024];
	int ret = s3_mpu_query(id, num, q, sizeof(q));

	if (ret < 0)
		return ret;
	r.query = q;
	ret = s3_do(be, &r, "upload part", what);
	if (ret == 0)
		strata_strlcpy(etag, r.etag, etaglen);
	return ret;
}

/*
 * Part num of upload id is the whole object src (at most S3_COPY_MAX
 * bytes). Never a range of it: curl 7.88 sorts the headers it signs as
 * "name:value" lines, which puts x-amz-copy-source-range before
 * x-amz-copy-source, and the server then rejects the signature.
 */
static int s3_mpu_copy(struct strata_backend *be, const char *path,
		       const char *what, const char *id, unsigned int num,
		       const char *src, char *etag, size_t etaglen)
{
	struct s3_be *s3 = s3_be(be);
	struct s3_req r = { .method = "PUT", .path = path, .grow = true };
	char hdr[6 * STRATA_KEY_MAX + 128];
	char q[1024];
	int ret = s3_mpu_query(id, num, q, sizeof(q));

	if (ret < 0)
		return ret;
	r.query = q;
	snprintf(hdr, sizeof(hdr), "x-amz-copy-source: /%s/%s", s3->bucket,
		 src);
	r.hdrs = curl_slist_append(NULL, hdr);
	if (!r.hdrs)
		return -ENOMEM;
	ret = s3_do(be, &r, "copy part", what);
	curl_slist_free_all(r.hdrs);
	if (ret == 0 && (!r.out || !s3_xml_get(r.out, "ETag", etag, etaglen))) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': copy part '%s': %s", be->name, what,
			   r.out && strstr(r.out, "<Error>") ?
				   "the server reported an error" :
				   "no ETag in the answer");
		ret = -EIO;
	}
	free(r.out);
	return ret;
}

static int s3_mpu_complete(struct strata_backend *be, const char *path,
			   const char *what, const char *id, char (*etags)[80],
			   unsigned int n)
{
	struct s3_req r = { .method = "POST", .path = path, .grow = true };
	size_t cap = 128 + (size_t)n * 160;
	char *xml = malloc(cap);
	char q[1024];
	size_t len;
	int ret;

	if (!xml)
		return -ENOMEM;
	ret = s3_mpu_query(id, 0, q, sizeof(q));
	if (ret < 0)
		goto out;
	len = (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
	for (unsigned int i = 0; i < n; i++)
		len += (size_t)snprintf(
			xml + len, cap - len,
			"<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
			i + 1, etags[i]);
	len += (size_t)snprintf(xml + len, cap - len,
				"</CompleteMultipartUpload>");
	r.query = q;
	r.body = xml;
	r.blen = len;
	ret = s3_do(be, &r, "complete upload", what);
	/* S3 may answer 200 and report the failure in the body. */
	if (ret == 0 && r.out && strstr(r.out, "<Error>")) {
		char code[64] = "";

		s3_xml_get(r.out, "Code", code, sizeof(code));
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': complete upload '%s' failed: %s",
			   be->name, what, code);
		ret = -EIO;
	}
out:
	free(r.out);
	free(xml);
	return ret;
}

/*
 * Server-side copy of src (size bytes) to path. Objects over CopyObject's
 * limit would need ranged part copies (see s3_mpu_copy): -EOPNOTSUPP, and
 * the registry copies them by reading and writing.
 */
static int s3_copy_object(struct strata_backend *be, const char *srcpath,
			  const char *path, const char *what, uint64_t size)
{
	struct s3_be *s3 = s3_be(be);
	struct s3_req r = { .method = "PUT", .path = path, .grow = true };
	char hdr[6 * STRATA_KEY_MAX + 128];
	int ret;

	if (size > S3_COPY_MAX)
		return -EOPNOTSUPP;
	snprintf(hdr, sizeof(hdr), "x-amz-copy-source: /%s/%s", s3->bucket,
		 srcpath);
	r.hdrs = curl_slist_append(NULL, hdr);
	if (!r.hdrs)
		return -ENOMEM;
	ret = s3_do(be, &r, "copy", what);
	curl_slist_free_all(r.hdrs);
	if (ret == 0 && r.out && strstr(r.out, "<Error>")) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': copy '%s' failed in the server",
			   be->name, what);
		ret = -EIO;
	}
	free(r.out);
	return ret;
}

static int s3_copy(struct strata_backend *be, const char *from, const char *to)
{
	struct strata_obj_stat st;
	char *sfull = NULL, *spath = NULL, *dfull = NULL, *dpath = NULL;
	int ret;

	ret = s3_keypath(be, from, &sfull, &spath);
	if (ret == 0)
		ret = s3_keypath(be, to, &dfull, &dpath);
	if (ret < 0)
		goto out;
	ret = s3_head(be, spath, sfull, &st);
	if (ret == 0 && strcmp(from, to) != 0)
		ret = s3_copy_object(be, spath, dpath, dfull, st.size);
out:
	free(sfull);
	free(spath);
	free(dfull);
	free(dpath);
	return ret;
}

/* ---- objects: writing ---- */

static int s3_etag_slot(struct s3_obj *o, unsigned int num)
{
	if (num > S3_MAX_PARTS)
		return -EFBIG;
	if (num > o->etcap) {
		unsigned int cap = o->etcap ? o->etcap * 2 : 64;
		char(*e)[80];

		while (cap < num)
			cap *= 2;
		e = realloc(o->etags, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		memset(e + o->etcap, 0, (cap - o->etcap) * sizeof(*e));
		o->etags = e;
		o->etcap = cap;
	}
	return 0;
}

static void s3_part_run(struct s3_job *job)
{
	struct s3_part *p = (struct s3_part *)job;
	struct strata_obj *obj = p->obj;
	struct s3_obj *o = s3_obj(obj);
	struct s3_be *s3 = s3_be(obj->be);
	char etag[80] = "";
	int ret;

	ret = s3_mpu_part(obj->be, o->path, o->key, o->upload, p->num, p->buf,
			  p->len, etag, sizeof(etag));
	pthread_mutex_lock(&o->lock);
	if (ret == 0)
		memcpy(o->etags[p->num - 1], etag, sizeof(etag));
	else if (o->werr == 0)
		o->werr = ret;
	o->pinflight--;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	pthread_mutex_lock(&s3->lock);
	s3->upbytes -= p->len;
	pthread_cond_broadcast(&s3->upcond);
	pthread_mutex_unlock(&s3->lock);
	s3_pbuf_put(s3, p->buf, p->cap);
	free(p);
}

/* Hand the part buffer to a worker; wait while conns parts are in flight. */
static int s3_send_part(struct strata_obj *obj)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	struct s3_part *p;
	int ret;

	if (!o->upload[0]) {
		ret = s3_mpu_start(obj->be, o->path, o->key, o->upload,
				   sizeof(o->upload));
		if (ret < 0)
			return ret;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&o->lock);
	ret = s3_etag_slot(o, o->nparts + 1);
	while (ret == 0 && o->pinflight >= s3->conns && !o->werr)
		pthread_cond_wait(&o->cond, &o->lock);
	if (ret == 0)
		ret = o->werr;
	if (ret == 0) {
		o->pinflight++;
		p->num = ++o->nparts;
	}
	pthread_mutex_unlock(&o->lock);
	if (ret < 0) {
		free(p);
		return ret;
	}
	pthread_mutex_lock(&s3->lock);
	while (s3->upbytes > 0 && s3->upbytes + o->blen > S3_UP_TOTAL)
		pthread_cond_wait(&s3->upcond, &s3->lock);
	s3->upbytes += o->blen;
	pthread_mutex_unlock(&s3->lock);
	p->job.run = s3_part_run;
	p->obj = obj;
	p->buf = o->buf;
	p->len = o->blen;
	p->cap = o->bcap;
	o->buf = NULL;
	o->blen = 0;
	o->bcap = 0;
	s3_queue(s3, &p->job);
	return 0;
}

/* Wait for the parts in flight; their first error, taken. */
static int s3_wait_parts(struct s3_obj *o)
{
	int ret;

	pthread_mutex_lock(&o->lock);
	while (o->pinflight > 0)
		pthread_cond_wait(&o->cond, &o->lock);
	ret = o->werr;
	o->werr = 0;
	pthread_mutex_unlock(&o->lock);
	return ret;
}

/* Forget the stream (after it is stored or aborted). */
static void s3_stream_reset(struct s3_be *s3, struct s3_obj *o)
{
	s3_pbuf_put(s3, o->buf, o->bcap);
	o->buf = NULL;
	o->blen = 0;
	o->bcap = 0;
	o->upload[0] = '\0';
	o->nparts = 0;
}

/*
 * Continue the stream from the o->stored bytes under the key: small
 * objects are read back into the part buffer, large ones become the first
 * parts of a new upload by server-side copy.
 */
static int s3_stream_resume(struct strata_obj *obj)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	size_t got;
	int ret;

	o->resume = false;
	if (o->stored == 0)
		return 0;
	if (o->stored < s3->partsize) {
		o->bcap = s3->partsize;
		o->buf = s3_pbuf_get(s3, o->bcap);
		if (!o->buf)
			return -ENOMEM;
		ret = s3_get(obj->be, o->path, o->key, 0, o->buf,
			     (size_t)o->stored, &got);
		if (ret == 0 && got != o->stored)
			ret = -EIO;
		if (ret < 0) {
			s3_stream_reset(s3_be(obj->be), o);
			return ret;
		}
		o->blen = got;
		return 0;
	}
	if (o->stored > S3_COPY_MAX) {
		strata_log(
			STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			"tier '%s': cannot append to '%s': objects over 5 GiB cannot be continued",
			obj->be->name, o->key);
		return -EOPNOTSUPP;
	}
	ret = s3_mpu_start(obj->be, o->path, o->key, o->upload,
			   sizeof(o->upload));
	if (ret == 0) {
		pthread_mutex_lock(&o->lock);
		ret = s3_etag_slot(o, 1);
		pthread_mutex_unlock(&o->lock);
	}
	if (ret == 0)
		ret = s3_mpu_copy(obj->be, o->path, o->key, o->upload, 1,
				  o->path, o->etags[0], sizeof(o->etags[0]));
	if (ret == 0)
		o->nparts = 1;
	if (ret < 0 && o->upload[0]) {
		s3_mpu_abort(obj->be, o->path, o->key, o->upload);
		s3_stream_reset(s3_be(obj->be), o);
	}
	return ret;
}

/*
 * Store the stream under the key: one PUT, or the last part and the
 * completion of the upload (aborted on any failure). The size stored is
 * checked with HEAD (radosgw 16 returns no ETag from the completion).
 */
static int s3_stream_store(struct strata_obj *obj)
{
	struct s3_obj *o = s3_obj(obj);
	struct strata_obj_stat st;
	int ret = 0;

	if (o->resume) {
		ret = s3_stream_resume(obj);
		if (ret < 0)
			return ret;
	}
	if (!o->upload[0]) {
		ret = s3_put(obj->be, o->path, o->key, o->buf, o->blen);
		if (ret < 0)
			return ret;
		goto stored;
	}
	if (o->blen > 0 || o->nparts == 0)
		ret = s3_send_part(obj);
	if (ret == 0)
		ret = s3_wait_parts(o);
	else
		s3_wait_parts(o);
	if (ret == 0)
		ret = s3_mpu_complete(obj->be, o->path, o->key, o->upload,
				      o->etags, o->nparts);
	if (ret == 0) {
		ret = s3_head(obj->be, o->path, o->key, &st);
		if (ret == 0 && st.size != o->wpos) {
			strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				   "tier '%s': upload '%s' stored %" PRIu64
				   " bytes of %" PRIu64,
				   obj->be->name, o->key, st.size, o->wpos);
			ret = -EIO;
		}
	}
	if (ret < 0) {
		s3_mpu_abort(obj->be, o->path, o->key, o->upload);
		s3_stream_reset(s3_be(obj->be), o);
		return ret;
	}
stored:
	s3_stream_reset(s3_be(obj->be), o);
	o->stored = o->wpos;
	o->resume = o->wpos > 0;
	o->dirty = false;
	return 0;
}

/* Make sure the stream has a part buffer to fill. */
static int s3_part_buf(struct strata_obj *obj)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	unsigned int grow;

	if (o->buf)
		return 0;
	grow = o->nparts / S3_PART_GROW;
	o->bcap = s3->partsize << (grow < 10 ? grow : 10);
	o->buf = s3_pbuf_get(s3, o->bcap);
	return o->buf ? 0 : -ENOMEM;
}

/*
 * Lend the rest of the part buffer: a writer that copies its bytes there
 * and hands them to s3_obj_write saves a copy (stage.c then writes the
 * staged copy from the same, aligned, memory).
 */
static int s3_obj_wbuf(struct strata_obj *obj, void **buf, size_t *room)
{
	struct s3_obj *o = s3_obj(obj);
	int ret;

	if (!(obj->flags & STRATA_OBJ_WRITE))
		return -EBADF;
	if (o->resume) {
		ret = s3_stream_resume(obj);
		if (ret < 0)
			return ret;
	}
	ret = s3_part_buf(obj);
	if (ret < 0)
		return ret;
	*buf = o->buf + o->blen;
	*room = o->bcap - o->blen;
	return 0;
}

static int s3_obj_write(struct strata_obj *obj, uint64_t off, const void *buf,
			size_t len)
{
	struct s3_obj *o = s3_obj(obj);
	size_t done = 0;
	int ret;

	if (!(obj->flags & STRATA_OBJ_WRITE))
		return -EBADF;
	if (off != o->wpos) {
		strata_debug(STRATA_SUB_BACKEND,
			     "tier '%s': write '%s' at %" PRIu64
			     " of a stream at %" PRIu64 ": not an append",
			     obj->be->name, o->key, off, o->wpos);
		return -EOPNOTSUPP;
	}
	if (len == 0)
		return 0;
	if (o->resume) {
		ret = s3_stream_resume(obj);
		if (ret < 0)
			return ret;
	}
	o->dirty = true;
	while (done < len) {
		const char *from = (const char *)buf + done;
		size_t n;

		ret = s3_part_buf(obj);
		if (ret < 0)
			return ret;
		n = o->bcap - o->blen;
		if (n > len - done)
			n = len - done;
		/* Bytes put where s3_obj_wbuf said are there already. */
		if (from != o->buf + o->blen)
			memcpy(o->buf + o->blen, from, n);
		o->blen += n;
		o->wpos += n;
		done += n;
		if (o->blen == o->bcap) {
			ret = s3_send_part(obj);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int s3_obj_truncate(struct strata_obj *obj, uint64_t size)
{
	struct s3_obj *o = s3_obj(obj);

	if (!(obj->flags & STRATA_OBJ_WRITE))
		return -EBADF;
	if (size == o->wpos)
		return 0;
	if (size != 0)
		return -EOPNOTSUPP;
	/* Start the stream over: nothing of it is kept. */
	s3_wait_parts(o);
	if (o->upload[0])
		s3_mpu_abort(obj->be, o->path, o->key, o->upload);
	s3_stream_reset(s3_be(obj->be), o);
	o->wpos = 0;
	o->stored = 0;
	o->resume = false;
	o->dirty = true;
	return 0;
}

static int s3_obj_sync(struct strata_obj *obj, bool datasync)
{
	struct s3_obj *o = s3_obj(obj);

	if (!(obj->flags & STRATA_OBJ_WRITE) || !o->dirty)
		return 0;
	return s3_stream_store(obj);
}

/* ---- objects: reading ---- */

/* Publish what a segment's GET has brought so far; false once the
 * segment was dropped (the GET stops). */
static bool s3_seg_progress(struct s3_req *r)
{
	struct s3_seg *s = r->arg;
	struct s3_obj *o = s3_obj(s->obj);
	bool live;

	pthread_mutex_lock(&o->lock);
	s->got = r->len;
	live = !s->dead;
	if (s->off + s->got >= o->need) {
		o->need = UINT64_MAX;
		pthread_cond_broadcast(&o->cond);
	}
	pthread_mutex_unlock(&o->lock);
	return live;
}

static void s3_seg_run(struct s3_job *job)
{
	struct s3_seg *s = (struct s3_seg *)job;
	struct strata_obj *obj = s->obj;
	struct s3_obj *o = s3_obj(obj);
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_req r = { .out = s->buf,
			    .cap = s->len,
			    .roff = s->off,
			    .progress = s3_seg_progress,
			    .arg = s };
	int ret;

	ret = s3_get_req(obj->be, o->path, o->key, &r);
	pthread_mutex_lock(&o->lock);
	s->got = r.len;
	s->err = ret;
	s->pending = false;
	o->rainflight--;
	o->need = UINT64_MAX;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	s3_seg_unref(s3, s); /* the GET's; o may be gone now */
}

/* Drop s from o->segs (o->lock held); prev is its predecessor or NULL. */
static void s3_seg_drop(struct s3_be *s3, struct s3_obj *o, struct s3_seg *prev,
			struct s3_seg *s)
{
	if (prev)
		prev->next = s->next;
	else
		o->segs = s->next;
	s->dead = true;
	s3_seg_unref(s3, s);
}

static void s3_ra_reset(struct s3_be *s3, struct s3_obj *o)
{
	while (o->segs)
		s3_seg_drop(s3, o, NULL, o->segs);
}

/* Queue segments up to o->ranext + ra_max (o->lock held). */
static void s3_ra_fill(struct strata_obj *obj, uint64_t from)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	struct s3_seg *last = NULL, *s;
	uint64_t at = from;
	uint64_t end = from + o->rawin;

	if (end > o->size)
		end = o->size;
	for (s = o->segs; s; s = s->next)
		last = s;
	if (last && last->off + last->len > at)
		at = last->off + last->len;
	while (at < end) {
		/* GETs as large as the window, up to S3_RA_CHUNK. */
		size_t len = S3_RA_CHUNK < o->rawin ? S3_RA_CHUNK : o->rawin;
		bool room;

		if (len > o->size - at)
			len = (size_t)(o->size - at);
		pthread_mutex_lock(&s3->lock);
		room = s3->rabytes + len <= S3_RA_TOTAL;
		if (room)
			s3->rabytes += len;
		pthread_mutex_unlock(&s3->lock);
		if (!room)
			break;
		s = s3_seg_new(s3);
		if (!s) {
			pthread_mutex_lock(&s3->lock);
			s3->rabytes -= len;
			pthread_mutex_unlock(&s3->lock);
			break;
		}
		s->job.run = s3_seg_run;
		s->obj = obj;
		s->off = at;
		s->len = len;
		s->pending = true;
		atomic_fetch_add(&s->refs, 1); /* the GET's */
		if (last)
			last->next = s;
		else
			o->segs = s;
		last = s;
		o->rainflight++;
		s3_queue(s3, &s->job);
		at += len;
	}
}

/*
 * A read of this object failed with -EIO less than S3_FAIL_HOLD_MS ago.
 * The kernel retries a failed page read at once; without this the reader
 * would wait for the tier's timeout twice.
 */
static bool s3_failed_locked(struct s3_obj *o)
{
	return (o->failed.tv_sec || o->failed.tv_nsec) &&
	       s3_elapsed_ms(&o->failed) < S3_FAIL_HOLD_MS;
}

static bool s3_read_failed_recently(struct s3_obj *o)
{
	bool recent;

	pthread_mutex_lock(&o->lock);
	recent = s3_failed_locked(o);
	pthread_mutex_unlock(&o->lock);
	return recent;
}

/*
 * Serve what read-ahead holds of [off, off + len) into buf, from off on;
 * returns the bytes served, and in *err a failure that a new request
 * would only repeat (the tier did not answer). Keeps a sequential
 * reader's window queued and drops the window of a reader that jumped.
 * With lent set, a range that one segment holds whole is lent rather than
 * copied: *lent then points into the segment, which *ref holds.
 */
static size_t s3_ra_read(struct strata_obj *obj, uint64_t off, void *buf,
			 size_t len, int *err, const void **lent,
			 struct s3_seg **ref)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	uint64_t end = off + len, pos = off;
	struct s3_seg *s, *prev;
	uint64_t need;
	bool seq, lend;

	pthread_mutex_lock(&o->lock);
	seq = off <= o->ranext + S3_RA_SLACK && off + S3_RA_SLACK >= o->ranext;
	if (!seq || (off == 0 && !o->segs)) {
		/* A jump, or the first read: the caller fetches just these
		 * bytes (the first byte comes soonest so), and read-ahead
		 * starts with one segment past them and doubles as the
		 * reader keeps going. */
		s3_ra_reset(s3, o);
		o->ranext = end;
		o->rawin = S3_RA_START < s3->ra_max ? S3_RA_START : s3->ra_max;
		if (seq)
			s3_ra_fill(obj, end);
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	/* Segments wholly behind this read are done with. */
	while (o->segs && o->segs->off + o->segs->len + S3_RA_SLACK <= off)
		s3_seg_drop(s3, o, NULL, o->segs);
	s3_ra_fill(obj, off);
	while (pos < end) {
		size_t n;

		prev = NULL;
		for (s = o->segs;
		     s && !(s->off <= pos && pos < s->off + s->len);
		     s = s->next)
			prev = s;
		if (!s)
			break;
		lend = lent && pos == off && end <= s->off + s->len;
		/* The reply needs them all: wait for the bytes of this read
		 * that the segment will hold, not just for the next ones. */
		need = end < s->off + s->len ? end : s->off + s->len;
		if (need > s->off + s->got && s->pending) {
			/* Its bytes are on their way. */
			if (need < o->need)
				o->need = need;
			pthread_cond_wait(&o->cond, &o->lock);
			if (s3_failed_locked(o)) {
				*err = -EIO; /* another reader just saw it */
				break;
			}
			continue;
		}
		if (pos >= s->off + s->got && s->err == -EIO) {
			/* Retried for the tier's timeout already: another
			 * GET would only make the reader wait as long again. */
			*err = s->err;
			clock_gettime(CLOCK_MONOTONIC, &o->failed);
			s3_seg_drop(s3, o, prev, s);
			s3_ra_reset(s3, o);
			break;
		}
		if (pos >= s->off + s->got) {
			/* It ended short of pos, or failed: the caller reads
			 * the rest itself and sees why. */
			s3_seg_drop(s3, o, prev, s);
			break;
		}
		n = s->off + s->got - pos < end - pos ?
			    (size_t)(s->off + s->got - pos) :
			    (size_t)(end - pos);
		if (lend && n == end - pos) {
			*lent = s->buf + (pos - s->off);
			*ref = s;
			atomic_fetch_add(&s->refs, 1);
		} else {
			memcpy((char *)buf + (pos - off),
			       s->buf + (pos - s->off), n);
		}
		pos += n;
		if (pos == s->off + s->len && o->rawin < s3->ra_max)
			o->rawin = o->rawin * 2 < s3->ra_max ? o->rawin * 2 :
							       s3->ra_max;
	}
	if (end > o->ranext)
		o->ranext = end;
	if (*err == 0)
		s3_ra_fill(obj, end);
	pthread_mutex_unlock(&o->lock);
	return (size_t)(pos - off);
}

/*
 * Read [off, off + len) into buf, or lend it from a read-ahead segment
 * that holds it whole when lent is set: then *lent points at it and *ref
 * is the segment's reference, for s3_ref_put.
 */
static int s3_read(struct strata_obj *obj, uint64_t off, void *buf, size_t len,
		   size_t *nread, const void **lent, struct s3_seg **ref)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	size_t done = 0, got = 0;
	int ret;

	*nread = 0;
	if (obj->flags & STRATA_OBJ_WRITE)
		return -EOPNOTSUPP; /* backend.h: no reading a stream */
	if (off >= o->size || len == 0)
		return 0;
	if (len > o->size - off)
		len = (size_t)(o->size - off);
	if (s3_read_failed_recently(o))
		return -EIO;
	ret = 0;
	if (s3->ra_max > 0)
		done = s3_ra_read(obj, off, buf, len, &ret, lent, ref);
	if (ret == 0 && done < len && s3_read_failed_recently(o))
		ret = -EIO;
	if (ret == 0 && done < len) {
		ret = s3_get(obj->be, o->path, o->key, off + done,
			     (char *)buf + done, len - done, &got);
		done += got;
	}
	if (ret == -EIO) {
		pthread_mutex_lock(&o->lock);
		clock_gettime(CLOCK_MONOTONIC, &o->failed);
		pthread_mutex_unlock(&o->lock);
	}
	if (ret < 0)
		return ret;
	*nread = done;
	return 0;
}

static int s3_obj_read(struct strata_obj *obj, uint64_t off, void *buf,
		       size_t len, size_t *nread)
{
	return s3_read(obj, off, buf, len, nread, NULL, NULL);
}

static int s3_obj_read_lend(struct strata_obj *obj, uint64_t off, void *buf,
			    size_t len, size_t *nread, const void **data,
			    void **ref)
{
	struct s3_seg *seg = NULL;
	const void *lent = NULL;
	int ret;

	ret = s3_read(obj, off, buf, len, nread, &lent, &seg);
	if (ret < 0 && seg) {
		s3_seg_unref(s3_be(obj->be), seg);
		seg = NULL;
		lent = NULL;
	}
	*data = lent ? lent : buf;
	*ref = seg;
	return ret;
}

static void s3_ref_put(struct strata_backend *be, void *ref)
{
	s3_seg_unref(s3_be(be), ref);
}

/* ---- objects: open and close ---- */

/*
 * Open for reading with a GET of the object's first S3_RA_FIRST bytes
 * instead of a HEAD: the size comes with them (Content-Range), and so do
 * the bytes that the first read most likely asks for, one round trip
 * sooner. Returns 0 and in *first a segment holding them, -ENOENT or
 * another error as a HEAD would, or 1 when a HEAD must tell (an empty
 * object answers 416; no room for read-ahead).
 */
static int s3_open_first(struct strata_backend *be, struct s3_obj *o,
			 struct strata_obj_stat *st, struct s3_seg **first)
{
	struct s3_be *s3 = s3_be(be);
	struct s3_req r = { .roff = 0 };
	struct s3_seg *s;
	size_t len = S3_RA_FIRST;
	bool room;
	int ret;

	if (s3->ra_max == 0)
		return 1;
	pthread_mutex_lock(&s3->lock);
	room = s3->rabytes + len <= S3_RA_TOTAL;
	if (room)
		s3->rabytes += len;
	pthread_mutex_unlock(&s3->lock);
	if (!room)
		return 1;
	s = s3_seg_new(s3);
	if (!s) {
		pthread_mutex_lock(&s3->lock);
		s3->rabytes -= len;
		pthread_mutex_unlock(&s3->lock);
		return 1;
	}
	s->len = len;
	r.out = s->buf;
	r.cap = len;
	ret = s3_get_req(be, o->path, o->key, &r);
	if (ret == 0 && r.status == 206 && r.has_total)
		st->size = r.total;
	else if (ret == 0 && r.status == 200 && r.has_clen && r.clen == r.len)
		st->size = r.len;
	else if (ret == 0)
		ret = 1;
	if (ret != 0) {
		s3_seg_unref(s3, s);
		return ret;
	}
	st->mtime.tv_sec = r.mtime;
	s->got = r.len;
	if (r.len < len) {
		/* The whole object: give back the room it does not need. */
		pthread_mutex_lock(&s3->lock);
		s3->rabytes -= len - r.len;
		pthread_mutex_unlock(&s3->lock);
		s->len = r.len;
	}
	*first = s;
	return 0;
}

static int s3_obj_open(struct strata_backend *be, const char *key,
		       unsigned int flags, struct strata_obj *obj)
{
	struct s3_be *s3 = s3_be(be);
	struct s3_obj *o = s3_obj(obj);
	struct s3_seg *first = NULL;
	struct strata_obj_stat st = { 0 };
	bool exists = false;
	bool need_head;
	int ret;

	ret = s3_keypath(be, key, &o->key, &o->path);
	if (ret < 0)
		return ret;
	/* Only a truncating create needs not know what the key holds. */
	need_head = (flags & STRATA_OBJ_EXCL) ||
		    (flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC |
			      STRATA_OBJ_CREATE)) !=
			    (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC |
			     STRATA_OBJ_CREATE);
	ret = 1;
	if (need_head && !(flags & STRATA_OBJ_WRITE))
		ret = s3_open_first(be, o, &st, &first);
	if (need_head && ret == 1)
		ret = s3_head(be, o->path, o->key, &st);
	if (need_head) {
		if (ret < 0 && ret != -ENOENT)
			goto fail;
		exists = ret == 0;
		ret = 0;
	}
	if (need_head && !exists &&
	    (!(flags & STRATA_OBJ_WRITE) || !(flags & STRATA_OBJ_CREATE))) {
		ret = -ENOENT;
		goto fail;
	}
	if (exists && (flags & STRATA_OBJ_CREATE) &&
	    (flags & STRATA_OBJ_EXCL)) {
		ret = -EEXIST;
		goto fail;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	o->size = st.size;
	o->need = UINT64_MAX;
	o->segs = first;
	o->rawin = S3_RA_START < s3->ra_max ? S3_RA_START : s3->ra_max;
	if (flags & STRATA_OBJ_WRITE) {
		/* TRUNC starts empty; otherwise appends go after what is
		 * stored. A new object is created at close even if empty. */
		o->stored = (flags & STRATA_OBJ_TRUNC) ? 0 : st.size;
		o->wpos = o->stored;
		o->resume = o->stored > 0;
		o->dirty = !exists || (flags & STRATA_OBJ_TRUNC);
	}
	return 0;
fail:
	if (first)
		s3_seg_unref(s3, first);
	free(o->key);
	free(o->path);
	o->key = NULL;
	o->path = NULL;
	return ret;
}

/* Close; store the stream first unless aborting (then abort it). */
static int s3_obj_end(struct strata_obj *obj, bool store)
{
	struct s3_be *s3 = s3_be(obj->be);
	struct s3_obj *o = s3_obj(obj);
	int ret = 0;

	if (obj->flags & STRATA_OBJ_WRITE) {
		if (o->dirty && store)
			ret = s3_stream_store(obj);
		s3_wait_parts(o);
		if (o->upload[0])
			s3_mpu_abort(obj->be, o->path, o->key, o->upload);
		s3_stream_reset(s3_be(obj->be), o);
	}
	pthread_mutex_lock(&o->lock);
	s3_ra_reset(s3, o);
	while (o->rainflight > 0)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
	free(o->etags);
	free(o->key);
	free(o->path);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	return ret;
}

static int s3_obj_close(struct strata_obj *obj)
{
	return s3_obj_end(obj, true);
}

static int s3_obj_abort(struct strata_obj *obj)
{
	return s3_obj_end(obj, false);
}

/* ---- listing ---- */

static int s3_list_page(struct strata_backend *be, const char *prefix,
			const char *token, unsigned int max, struct s3_req *r)
{
	char ptok[3 * 1024 + 1] = "";
	char ppfx[3 * STRATA_KEY_MAX + 1];
	char q[sizeof(ptok) + sizeof(ppfx) + 128];
	size_t n = 0;
	int ret;

	if (token && s3_encode(token, false, ptok, sizeof(ptok)) < 0)
		return -EINVAL;
	ret = s3_encode(prefix, false, ppfx, sizeof(ppfx));
	if (ret < 0)
		return ret;
	/* Parameters sorted by name: curl signs them as written. */
	if (token)
		n += (size_t)snprintf(q + n, sizeof(q) - n,
				      "continuation-token=%s&", ptok);
	n += (size_t)snprintf(q + n, sizeof(q) - n, "list-type=2");
	if (max)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "&max-keys=%u",
				      max);
	if (ppfx[0])
		snprintf(q + n, sizeof(q) - n, "&prefix=%s", ppfx);
	r->method = "GET";
	r->path = NULL;
	r->query = q;
	r->grow = true;
	return s3_do(be, r, "list", prefix[0] ? prefix : "/");
}

static int s3_parse_time(const char *iso, time_t *out)
{
	struct tm tm = { 0 };

	if (!strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

/* Call cb for each key of one page of a listing. */
static int s3_list_each(struct strata_backend *be, const char *xml,
			strata_backend_list_cb cb, void *arg)
{
	struct s3_be *s3 = s3_be(be);
	size_t plen = strlen(s3->prefix);
	const char *c, *e;
	char one[6 * STRATA_KEY_MAX + 1024]; /* a key may be escaped 6x */
	int ret = 0;

	for (c = strstr(xml, "<Contents>"); c && ret == 0;
	     c = strstr(e, "<Contents>")) {
		char key[2 * STRATA_KEY_MAX + 2]; /* prefix and key */
		char num[32], when[64];
		struct strata_obj_stat st = { 0 };

		e = strstr(c, "</Contents>");
		if (!e || (size_t)(e - c) >= sizeof(one))
			return -EIO;
		memcpy(one, c, (size_t)(e - c));
		one[e - c] = '\0';
		s3_xml_get(one, "Key", key, sizeof(key));
		s3_xml_get(one, "Size", num, sizeof(num));
		s3_xml_get(one, "LastModified", when, sizeof(when));
		st.size = strtoull(num, NULL, 10);
		s3_parse_time(when, &st.mtime.tv_sec);
		if (strncmp(key, s3->prefix, plen) != 0 ||
		    strata__backend_key_check(key + plen) < 0)
			continue;
		ret = cb(arg, key + plen, &st);
	}
	return ret;
}

static int s3_list(struct strata_backend *be, strata_backend_list_cb cb,
		   void *arg)
{
	struct s3_be *s3 = s3_be(be);
	char token[1024] = "";
	char truncated[16];
	int ret;

	for (;;) {
		struct s3_req r = { 0 };
		bool more = false;

		ret = s3_list_page(be, s3->prefix, token[0] ? token : NULL,
				   s3->listpage, &r);
		if (ret == 0 && r.out) {
			s3_xml_get(r.out, "IsTruncated", truncated,
				   sizeof(truncated));
			more = strcmp(truncated, "true") == 0;
			if (more && (!s3_xml_get(r.out, "NextContinuationToken",
						 token, sizeof(token)) ||
				     !token[0])) {
				strata_log(
					STRATA_LOG_ERR, STRATA_SUB_BACKEND,
					"tier '%s': list: a truncated page without a continuation token",
					be->name);
				ret = -EIO;
			}
			if (ret == 0)
				ret = s3_list_each(be, r.out, cb, arg);
		}
		free(r.out);
		if (ret != 0 || !more)
			break;
	}
	return ret;
}

const struct strata_backend_ops strata_s3_ops = {
	.scheme = "s3",
	.driver = "s3",
	/* New files written for a bucket go into part buffers of ours (and
	 * from there to the staged copy): the kernel's page cache on the way
	 * would be one more copy (STRATA_BCAP_WRITE_AROUND). */
	.caps = STRATA_BCAP_RANGE_READ | STRATA_BCAP_COPY |
		STRATA_BCAP_WRITE_AROUND,
	.priv_size = sizeof(struct s3_be),
	.obj_priv_size = sizeof(struct s3_obj),
	.open = s3_open_be,
	.close = s3_close_be,
	.obj_open = s3_obj_open,
	.obj_read = s3_obj_read,
	.obj_read_lend = s3_obj_read_lend,
	.ref_put = s3_ref_put,
	.obj_write = s3_obj_write,
	.obj_wbuf = s3_obj_wbuf,
	.obj_truncate = s3_obj_truncate,
	.obj_sync = s3_obj_sync,
	.obj_close = s3_obj_close,
	.obj_abort = s3_obj_abort,
	.stat = s3_stat,
	.remove = s3_remove,
	.copy = s3_copy,
	.list = s3_list,
};
