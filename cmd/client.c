/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/client.c - the CLI's side of the control channel, shared by the
 * commands that talk to a running mount (see client.h), and the output
 * helpers they share: sizes, aligned tables, the progress bar.
 *
 * Blocking I/O on one socket; single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "client.h"
#include "policy.h"
#include "util.h"

#define CLIENT_POLL_MS 250 /* between progress requests */
#define CLIENT_PLAIN_S 2.0 /* between plain progress lines */
#define CLIENT_BAR 30	   /* characters of the bar */

int cmd_parse(int argc, char **argv, struct strata_ctx *ctx, unsigned int bits,
	      const char *usage, struct cmd_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "tier", required_argument, NULL, 't' },
		{ "to", required_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'F' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "wait", no_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 's' },
		{ "into", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		int opt;
		unsigned int bit;
	} need[] = {
		{ 't', CMD_OPT_TIER },	{ 'T', CMD_OPT_TO },
		{ 'F', CMD_OPT_FROM },	{ 'r', CMD_OPT_R },
		{ 'w', CMD_OPT_WAIT },	{ 'a', CMD_OPT_ALL },
		{ 's', CMD_OPT_STATE }, { 'i', CMD_OPT_INTO },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:t:rwh", longopts, NULL)) !=
	       -1) {
		for (size_t i = 0; i < STRATA_ARRAY_SIZE(need); i++)
			if (need[i].opt == opt && !(bits & need[i].bit))
				goto usage;
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
		case 'T':
		case 'F':
			o->tier = optarg;
			break;
		case 'r':
			o->recursive = true;
			break;
		case 'w':
			o->wait = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 's':
			o->state = optarg;
			break;
		case 'i':
			o->into = optarg;
			break;
		case 'h':
			printf("usage: strata %s %s\n", argv[0], usage);
			return -1;
		default:
			goto usage;
		}
	}
	return 0;
usage:
	cmd_error(ctx, "usage: strata %s %s", argv[0], usage);
	return 2;
}

/* The strata mount point holding real (an absolute, resolved path). */
static int client_find_mount(const char *real, char *mnt, size_t mlen,
			     char *src, size_t slen)
{
	char buf[PATH_MAX];
	char *cut;

	if (strata_strlcpy(buf, real, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (cut = buf + strlen(buf); cut > buf;) {
		char keep = *cut;

		*cut = '\0';
		if (strata_mount_source(buf[0] ? buf : "/", "fuse.strata", src,
					slen) == 0) {
			strata_strlcpy(mnt, buf[0] ? buf : "/", mlen);
			return 0;
		}
		*cut = keep;
		while (--cut > buf && *cut != '/')
			;
	}
	return -ENOENT;
}

static int client_sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	const char *base;
	int fd, dfd = -1, ret = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (strlen(path) < sizeof(sa.sun_path)) {
		strata_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	} else {
		/* Too long for sun_path: go through the directory. */
		strata_strlcpy(dir, path, sizeof(dir));
		base = strrchr(path, '/') + 1;
		dir[base - path] = '\0';
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || snprintf(sa.sun_path, sizeof(sa.sun_path),
					"/proc/self/fd/%d/%s", dfd,
					base) >= (int)sizeof(sa.sun_path))
			ret = dfd < 0 ? -errno : -ENAMETOOLONG;
	}
	if (ret == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	if (dfd >= 0)
		close(dfd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int cmd_connect(struct strata_ctx *ctx, const char *config, const char *path,
		struct cmd_conn *c)
{
	char real[PATH_MAX], err[STRATA_CFG_ERR_MAX];
	struct strata_cfg *cfg;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (config) {
		cfg = calloc(1, sizeof(*cfg));
		if (!cfg) {
			cmd_error(ctx, "out of memory");
			return 1;
		}
		ret = strata_cfg_load(config, cfg, err, sizeof(err));
		if (ret == 0)
			strata_strlcpy(c->catalog, cfg->catalog,
				       sizeof(c->catalog));
		free(cfg);
		if (ret < 0) {
			cmd_error(ctx, "%s", err);
			return 1;
		}
	} else {
		if (!path)
			path = ".";
		if (!realpath(path, real)) {
			cmd_error(ctx, "cannot resolve '%s': %s", path,
				  strerror(errno));
			return 1;
		}
		if (client_find_mount(real, c->mnt, sizeof(c->mnt), c->catalog,
				      sizeof(c->catalog)) < 0) {
			cmd_error(ctx,
				  "'%s' is not in a strata mount (give a path "
				  "inside one, or -c CONFIG)",
				  path);
			return 1;
		}
	}
	if (strata_ctl_socket_path(c->catalog, c->sock, sizeof(c->sock)) < 0) {
		cmd_error(ctx, "control socket path of '%s' is too long",
			  c->catalog);
		return 1;
	}
	c->fd = client_sock_connect(c->sock);
	if (c->fd < 0) {
		cmd_error(ctx,
			  "no running mount of '%s': cannot connect to '%s': "
			  "%s",
			  c->catalog, c->sock, strerror(-c->fd));
		return 1;
	}
	return 0;
}

void cmd_disconnect(struct cmd_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
}

int cmd_ns_path(struct strata_ctx *ctx, const struct cmd_conn *c,
		const char *arg, char *out, size_t len)
{
	char real[PATH_MAX], mnt[PATH_MAX], src[PATH_MAX];
	size_t n;

	if (realpath(arg, real) &&
	    client_find_mount(real, mnt, sizeof(mnt), src, sizeof(src)) == 0) {
		if (strcmp(src, c->catalog) != 0) {
			cmd_error(ctx,
				  "'%s' is in another strata mount ('%s') than "
				  "'%s'",
				  arg, mnt, c->mnt[0] ? c->mnt : c->catalog);
			return 1;
		}
		n = strlen(mnt);
		if (strcmp(mnt, "/") == 0)
			n = 0;
		if (strata_strlcpy(out, real[n] ? real + n : "/", len) < 0)
			goto toolong;
		return 0;
	}
	if (c->mnt[0] || arg[0] != '/') {
		if (access(arg, F_OK) < 0 && c->mnt[0])
			cmd_error(ctx, "'%s': %s", arg, strerror(errno));
		else
			cmd_error(ctx, "'%s' is not in a strata mount", arg);
		return 1;
	}
	/* With -c CONFIG: a path from the namespace root. */
	if (strata_strlcpy(out, arg, len) < 0)
		goto toolong;
	return 0;
toolong:
	cmd_error(ctx, "'%s': path too long", arg);
	return 1;
}

int cmd_put_paths(struct strata_ctx *ctx, const struct cmd_conn *c,
		  struct strata_jw *req, int n, char **argv)
{
	char ns[PATH_MAX];

	strata_jw_key(req, "paths");
	strata_jw_arr(req);
	for (int i = 0; i < n; i++) {
		if (cmd_ns_path(ctx, c, argv[i], ns, sizeof(ns)))
			return 1;
		strata_jw_str(req, ns);
	}
	strata_jw_arr_end(req);
	return 0;
}

static int client_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One line from the mount into a fresh string (without the newline). */
static int client_read_line(struct cmd_conn *c, char **line, size_t *llen)
{
	char *nl, *nb;
	ssize_t n;

	for (;;) {
		nl = c->in ? memchr(c->in, '\n', c->len) : NULL;
		if (nl) {
			*llen = (size_t)(nl - c->in);
			*line = malloc(*llen + 1);
			if (!*line)
				return -ENOMEM;
			memcpy(*line, c->in, *llen);
			(*line)[*llen] = '\0';
			memmove(c->in, nl + 1, c->len - *llen - 1);
			c->len -= *llen + 1;
			return 0;
		}
		if (c->cap - c->len < 65536) {
			nb = realloc(c->in, c->cap + 65536);
			if (!nb)
				return -ENOMEM;
			c->in = nb;
			c->cap += 65536;
		}
		n = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		c->len += (size_t)n;
	}
}

int cmd_call(struct strata_ctx *ctx, struct cmd_conn *c, struct strata_jw *req,
	     struct strata_json **reply)
{
	const char *text;
	char *line = NULL;
	size_t len;
	int ret;

	*reply = NULL;
	ret = strata_jw_finish(req, &text, &len);
	if (ret == 0)
		ret = client_write_all(c->fd, text, len);
	if (ret == 0)
		ret = client_write_all(c->fd, "\n", 1);
	if (ret == 0)
		ret = client_read_line(c, &line, &len);
	if (ret == 0) {
		ret = strata_json_parse(line, len, reply, NULL);
		if (ret == -EINVAL)
			ret = -EPROTO;
	}
	free(line);
	if (ret < 0) {
		cmd_error(ctx, "control socket '%s': %s", c->sock,
			  strerror(-ret));
		return 1;
	}
	if (!strata_json_get_bool(*reply, "ok", false)) {
		cmd_error(ctx, "%s",
			  strata_json_get_str(*reply, "error",
					      "the mount refused the request"));
		strata_json_free(*reply);
		*reply = NULL;
		return 1;
	}
	return 0;
}

static void client_json_value(const struct strata_json *j, struct strata_jw *w)
{
	switch (j->type) {
	case STRATA_JSON_NULL:
		strata_jw_null(w);
		break;
	case STRATA_JSON_BOOL:
		strata_jw_bool(w, j->b);
		break;
	case STRATA_JSON_NUMBER:
		if (j->is_int)
			strata_jw_int(w, j->i);
		else
			strata_jw_double(w, j->num);
		break;
	case STRATA_JSON_STRING:
		strata_jw_str(w, j->str);
		break;
	case STRATA_JSON_ARRAY:
	case STRATA_JSON_OBJECT:
		if (j->type == STRATA_JSON_ARRAY)
			strata_jw_arr(w);
		else
			strata_jw_obj(w);
		for (size_t i = 0; i < j->len; i++) {
			if (j->keys)
				strata_jw_key(w, j->keys[i]);
			client_json_value(j->items[i], w);
		}
		if (j->type == STRATA_JSON_ARRAY)
			strata_jw_arr_end(w);
		else
			strata_jw_obj_end(w);
		break;
	}
}

void cmd_print_json(const struct strata_json *j)
{
	struct strata_jw w = { 0 };
	const char *text;
	size_t len;

	client_json_value(j, &w);
	if (strata_jw_finish(&w, &text, &len) == 0)
		printf("%s\n", text);
	strata_jw_release(&w);
}

void cmd_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B",   "KiB", "MiB",
					     "GiB", "TiB", "PiB" };
	double d = (double)v;
	unsigned int u = 0;

	while (d >= 1024 && u + 1 < STRATA_ARRAY_SIZE(units)) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, units[u]);
}

/* Progress ------------------------------------------------------------- */

static double client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t client_u(const struct strata_json *j, const char *key)
{
	int64_t v = 0;

	strata_json_get_int(j, key, &v);
	return v < 0 ? 0 : (uint64_t)v;
}

static void client_eta(double secs, char *buf, size_t len)
{
	long s = secs >= 0 && secs < 1e7 ? (long)(secs + 0.5) : -1;

	if (s < 0)
		snprintf(buf, len, "--:--");
	else if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

/* One report: a redrawn bar on a TTY, a line otherwise. */
static void client_draw(const struct strata_json *p, double elapsed, bool tty,
			bool last)
{
	uint64_t files = client_u(p, "files"), done = client_u(p, "files_done");
	uint64_t bytes = client_u(p, "bytes"),
		 bdone = client_u(p, "bytes_done");
	char b1[32], b2[32], rate_s[32], eta[32], bar[CLIENT_BAR + 1];
	double rate = elapsed > 0 ? (double)bdone / elapsed : 0;
	double frac = bytes ? (double)bdone / (double)bytes :
		      files ? (double)done / (double)files :
			      1.0;
	double left = 0;

	if (frac > 1)
		frac = 1;
	if (bytes && rate > 0)
		left = (double)(bytes - (bdone < bytes ? bdone : bytes)) / rate;
	else if (done && files > done)
		left = elapsed * (double)(files - done) / (double)done;
	cmd_size(bdone, b1, sizeof(b1));
	cmd_size(bytes, b2, sizeof(b2));
	cmd_size((uint64_t)rate, rate_s, sizeof(rate_s));
	client_eta(last ? 0 : left, eta, sizeof(eta));
	if (!tty) {
		fprintf(stderr,
			"%" PRIu64 "/%" PRIu64
			" files, %s/%s, %s/s, eta %s%s\n",
			done, files, b1, b2, rate_s, eta,
			client_u(p, "retrying") ? " (some jobs failed and "
						  "retry: see strata jobs)" :
						  "");
		return;
	}
	for (int i = 0; i < CLIENT_BAR; i++)
		bar[i] = i < (int)(frac * CLIENT_BAR) ? '#' : '.';
	bar[CLIENT_BAR] = '\0';
	fprintf(stderr,
		"\r%3d%% [%s] %" PRIu64 "/%" PRIu64 " files  %s/%s  %s/s  "
		"ETA %s\033[K%s",
		(int)(frac * 100), bar, done, files, b1, b2, rate_s, eta,
		last ? "\n" : "");
}

int cmd_wait(struct strata_ctx *ctx, struct cmd_conn *c, bool json)
{
	struct strata_json *p = NULL;
	const struct strata_json *fails;
	struct strata_jw req = { 0 };
	bool tty = isatty(STDERR_FILENO) && !json;
	double start = client_now(), last_line = 0;
	int status;

	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", "progress");
	strata_jw_obj_end(&req);
	for (;;) {
		strata_json_free(p);
		status = cmd_call(ctx, c, &req, &p);
		if (status)
			goto out;
		if (strata_json_get_bool(p, "done", false))
			break;
		if (!json &&
		    (tty || client_now() - last_line >= CLIENT_PLAIN_S)) {
			client_draw(p, client_now() - start, tty, false);
			last_line = client_now();
		}
		poll(NULL, 0, CLIENT_POLL_MS);
	}
	if (json)
		cmd_print_json(p);
	else
		client_draw(p, client_now() - start, tty, true);
	fflush(stderr);
	fails = strata_json_get(p, "failures");
	for (size_t i = 0; fails && i < fails->len; i++)
		cmd_error(ctx, "'%s': %s",
			  strata_json_get_str(fails->items[i], "path", "?"),
			  strata_json_get_str(fails->items[i], "error", "?"));
	status = client_u(p, "failed") ? 1 : 0;
out:
	strata_json_free(p);
	strata_jw_release(&req);
	return status;
}

/* Tables ---------------------------------------------------------------- */

void cmd_table_init(struct cmd_table *t, unsigned int ncols, unsigned int right)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->right = right;
}

void cmd_table_row(struct cmd_table *t, const char *const *cols)
{
	char **nc;

	if (t->n + t->ncols > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64 * t->ncols;

		nc = realloc(t->cells, cap * sizeof(*nc));
		if (!nc)
			return;
		t->cells = nc;
		t->cap = cap;
	}
	for (unsigned int i = 0; i < t->ncols; i++)
		t->cells[t->n++] = strdup(cols[i] ? cols[i] : "-");
}

void cmd_table_print(struct cmd_table *t)
{
	size_t w[32] = { 0 };
	size_t rows = t->ncols ? t->n / t->ncols : 0;

	for (size_t i = 0; i < t->n; i++) {
		size_t l = t->cells[i] ? strlen(t->cells[i]) : 0;

		if (l > w[i % t->ncols])
			w[i % t->ncols] = l;
	}
	for (size_t r = 0; r < rows; r++) {
		for (unsigned int k = 0; k < t->ncols; k++) {
			const char *s = t->cells[r * t->ncols + k];
			bool last = k + 1 == t->ncols;

			if (!s)
				s = "?";
			if (t->right & (1u << k))
				printf("%*s%s", (int)w[k], s, last ? "" : "  ");
			else if (last)
				printf("%s", s);
			else
				printf("%-*s  ", (int)w[k], s);
		}
		putchar('\n');
	}
}

void cmd_table_release(struct cmd_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* migrate, prefetch, free ------------------------------------------------ */

int cmd_path_call(int argc, char **argv, struct strata_ctx *ctx,
		  unsigned int bits, bool need_tier, const char *usage,
		  struct cmd_opts *o, struct cmd_conn *c,
		  struct strata_json **reply)
{
	struct strata_jw req = { 0 };
	int status;

	*reply = NULL;
	status = cmd_parse(argc, argv, ctx, bits, usage, o);
	if (status)
		return status < 0 ? -1 : status;
	if (optind >= argc || (need_tier && !o->tier)) {
		cmd_error(ctx, "usage: strata %s %s", argv[0], usage);
		return 2;
	}
	status = cmd_connect(ctx, o->config, argv[optind], c);
	if (status)
		return status;
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", argv[0]);
	if (need_tier)
		strata_jw_kstr(&req, "tier", o->tier);
	strata_jw_kbool(&req, "recursive", o->recursive);
	status = cmd_put_paths(ctx, c, &req, argc - optind, argv + optind);
	strata_jw_obj_end(&req);
	if (status == 0)
		status = cmd_call(ctx, c, &req, reply);
	strata_jw_release(&req);
	if (status)
		cmd_disconnect(c);
	return status;
}

int cmd_op_call(int argc, char **argv, struct strata_ctx *ctx,
		const char *usage, struct cmd_opts *o, struct cmd_conn *c,
		struct strata_json **reply)
{
	struct strata_jw req = { 0 };
	int status;

	*reply = NULL;
	status = cmd_parse(argc, argv, ctx, 0, usage, o);
	if (status)
		return status < 0 ? -1 : status;
	if (argc - optind > 1) {
		cmd_error(ctx, "usage: strata %s %s", argv[0], usage);
		return 2;
	}
	status = cmd_connect(ctx, o->config,
			     optind < argc ? argv[optind] : NULL, c);
	if (status)
		return status;
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", argv[0]);
	strata_jw_obj_end(&req);
	status = cmd_call(ctx, c, &req, reply);
	strata_jw_release(&req);
	if (status)
		cmd_disconnect(c);
	return status;
}

int cmd_move_run(int argc, char **argv, struct strata_ctx *ctx,
		 unsigned int bits, const char *usage)
{
	struct strata_json *reply = NULL;
	struct cmd_opts o;
	struct cmd_conn c;
	char size[32];
	int status;

	status = cmd_path_call(argc, argv, ctx, bits | CMD_OPT_WAIT | CMD_OPT_R,
			       true, usage, &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.wait) {
		status = cmd_wait(ctx, &c, o.json);
		if (status == 0 && !o.json)
			printf("%s: every file is %s tier '%s'\n", argv[0],
			       strcmp(argv[0], "free") == 0 ? "off" : "on",
			       o.tier);
		goto out;
	}
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	cmd_size(client_u(reply, "bytes"), size, sizeof(size));
	printf("%s: %" PRIu64 " files (%s), %" PRIu64 " jobs queued\n", argv[0],
	       client_u(reply, "files"), size, client_u(reply, "jobs"));
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
