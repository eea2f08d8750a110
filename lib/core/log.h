/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/log.h - the one logging entry point of Strata.
 *
 * Every message of every layer goes through strata_log(). The sink is chosen
 * once at start-up (stderr, or syslog when the mount daemonizes); libfuse's
 * own messages are routed here by fuse/. Debug output is enabled per
 * subsystem with a mask ("-o debug=catalog,backend"). Thread-safe: the level,
 * mask and sink are set before threads start and only read afterwards.
 */
#ifndef STRATA_CORE_LOG_H
#define STRATA_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum strata_log_level {
	STRATA_LOG_ERR = 3, /* same numbers as syslog priorities */
	STRATA_LOG_WARN = 4,
	STRATA_LOG_NOTICE = 5,
	STRATA_LOG_INFO = 6,
	STRATA_LOG_DEBUG = 7,
};

/* Subsystems, one bit each in the debug mask. */
enum strata_log_subsys {
	STRATA_SUB_CORE = 1u << 0,
	STRATA_SUB_CATALOG = 1u << 1,
	STRATA_SUB_BACKEND = 1u << 2,
	STRATA_SUB_VFS = 1u << 3,
	STRATA_SUB_FUSE = 1u << 4,
	STRATA_SUB_POLICY = 1u << 5,
	STRATA_SUB_CMD = 1u << 6,
	STRATA_SUB_ALL = 0x7f,
};

enum strata_log_sink {
	STRATA_LOG_STDERR,
	STRATA_LOG_SYSLOG,
};

/* Highest level printed for subsystems not in the debug mask (default INFO). */
void strata_log_set_level(enum strata_log_level level);

/*
 * Parse a comma-separated list of subsystem names ("catalog,backend", "all")
 * into a mask and enable DEBUG for those subsystems. Returns 0, or -EINVAL
 * for an unknown name, which is then copied to bad (if not NULL, size badlen).
 */
int strata_log_set_debug(const char *list, char *bad, unsigned int badlen);

/* Choose where messages go; ident names the program in syslog. */
void strata_log_set_sink(enum strata_log_sink sink, const char *ident);

/* True when a message of this level and subsystem would be emitted. */
bool strata_log_enabled(enum strata_log_level level, unsigned int subsys);

void strata_log(enum strata_log_level level, unsigned int subsys,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void strata_vlog(enum strata_log_level level, unsigned int subsys,
		 const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Check the level before formatting: use in hot paths. */
#define strata_debug(subsys, ...)                                            \
	do {                                                                 \
		if (strata_log_enabled(STRATA_LOG_DEBUG, (subsys)))          \
			strata_log(STRATA_LOG_DEBUG, (subsys), __VA_ARGS__); \
	} while (0)

#endif
