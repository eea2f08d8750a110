/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/log.c - strata_log() and its sinks.
 *
 * Level, debug mask and sink are plain globals set during start-up, before
 * any thread is created, and only read afterwards. Each message is formatted
 * into a stack buffer and written with one write(2) (stderr) or one
 * syslog(3) call, so lines from different threads never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static enum strata_log_level log_level = STRATA_LOG_INFO;
static unsigned int log_debug_mask;
static enum strata_log_sink log_sink = STRATA_LOG_STDERR;

static const struct {
	const char *name;
	unsigned int bit;
} log_subsys[] = {
	{ "core", STRATA_SUB_CORE },	   { "catalog", STRATA_SUB_CATALOG },
	{ "backend", STRATA_SUB_BACKEND }, { "vfs", STRATA_SUB_VFS },
	{ "fuse", STRATA_SUB_FUSE },	   { "policy", STRATA_SUB_POLICY },
	{ "cmd", STRATA_SUB_CMD },	   { "all", STRATA_SUB_ALL },
};

static const char *const log_level_names[] = {
	[STRATA_LOG_ERR] = "error",	[STRATA_LOG_WARN] = "warning",
	[STRATA_LOG_NOTICE] = "notice", [STRATA_LOG_INFO] = "info",
	[STRATA_LOG_DEBUG] = "debug",
};

void strata_log_set_level(enum strata_log_level level)
{
	log_level = level;
}

static unsigned int log_subsys_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(log_subsys); i++) {
		if (strlen(log_subsys[i].name) == len &&
		    strncmp(log_subsys[i].name, name, len) == 0)
			return log_subsys[i].bit;
	}
	return 0;
}

int strata_log_set_debug(const char *list, char *bad, unsigned int badlen)
{
	unsigned int mask = 0;
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		unsigned int bit = log_subsys_bit(p, len);

		if (len && !bit) {
			if (bad && badlen)
				snprintf(bad, badlen, "%.*s", (int)len, p);
			return -EINVAL;
		}
		mask |= bit;
		p += len;
		if (*p == ',')
			p++;
	}
	log_debug_mask = *list ? mask : STRATA_SUB_ALL;
	return 0;
}

void strata_log_set_sink(enum strata_log_sink sink, const char *ident)
{
	if (sink == STRATA_LOG_SYSLOG)
		openlog(ident, LOG_PID, LOG_DAEMON);
	log_sink = sink;
}

bool strata_log_enabled(enum strata_log_level level, unsigned int subsys)
{
	if (level <= log_level)
		return true;
	return level == STRATA_LOG_DEBUG && (log_debug_mask & subsys);
}

static const char *log_subsys_name(unsigned int subsys)
{
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(log_subsys); i++) {
		if (log_subsys[i].bit == subsys)
			return log_subsys[i].name;
	}
	return "strata";
}

void strata_vlog(enum strata_log_level level, unsigned int subsys,
		 const char *fmt, va_list ap)
{
	char line[2048];
	int n = 0;
	int saved = errno;

	if (!strata_log_enabled(level, subsys))
		return;
	if (log_sink == STRATA_LOG_SYSLOG) {
		vsnprintf(line, sizeof(line), fmt, ap);
		syslog((int)level, "%s: %s", log_subsys_name(subsys), line);
		errno = saved;
		return;
	}
	n = snprintf(line, sizeof(line),
		     "strata: %s: %s: ", log_level_names[level],
		     log_subsys_name(subsys));
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (line[n - 1] != '\n')
		line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
	errno = saved;
}

void strata_log(enum strata_log_level level, unsigned int subsys,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strata_vlog(level, subsys, fmt, ap);
	va_end(ap);
}
