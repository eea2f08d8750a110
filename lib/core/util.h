/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/util.h - small helpers shared by every layer: size and duration
 * parsing, time stamps, safe string copies.
 *
 * All functions are pure or only read the clock; all are thread-safe.
 */
#ifndef STRATA_CORE_UTIL_H
#define STRATA_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef STRATA_TESTING
#define STRATA_STATIC
#else
#define STRATA_STATIC static
#endif

#define STRATA_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest name in a directory, as on Linux file systems. */
#define STRATA_NAME_MAX 255

/*
 * Parse a byte count: a decimal integer with an optional unit (B, KiB, MiB,
 * GiB, TiB, PiB, or K, M, G, T, P meaning the same powers of 1024; KB, MB,
 * GB, TB meaning powers of 1000). Returns 0 or -EINVAL (also on overflow).
 */
int strata_parse_size(const char *s, uint64_t *out);

/*
 * Parse a duration in seconds: a decimal number (fractions allowed) with an
 * optional unit s, m, h or d. Returns 0 or -EINVAL.
 */
int strata_parse_seconds(const char *s, double *out);

/* The real-time clock, as a timespec. */
struct timespec strata_now(void);
/* t plus ms milliseconds. */
struct timespec strata_ts_add_ms(struct timespec t, long ms);
/* Whether a is earlier than b. */
bool strata_ts_before(struct timespec a, struct timespec b);
/* The monotonic clock ms milliseconds from now (a deadline for
 * pthread_cond_timedwait() on a CLOCK_MONOTONIC condition). */
struct timespec strata_mono_in_ms(long ms);

/* Copy src into dst of size n, always NUL-terminated. Returns -ENAMETOOLONG
 * when src did not fit (dst then holds a truncated copy). */
int strata_strlcpy(char *dst, const char *src, size_t n);

/*
 * Find the mount at mnt (an absolute path, as the kernel shows it) in
 * /proc/self/mountinfo; when its type is type, copy its source to src.
 * Returns 0, -ENOENT (nothing mounted there), -EINVAL (another type), or
 * the errno of reading mountinfo.
 */
int strata_mount_source(const char *mnt, const char *type, char *src,
			size_t len);
/* The same mount's device number, "MAJOR:MINOR", into dev. */
int strata_mount_devno(const char *mnt, const char *type, char *dev,
		       size_t len);

#endif
