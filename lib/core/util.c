/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/core/util.c - size and duration parsing, clocks, string copies.
 *
 * Pure functions; thread-safe.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const struct {
	const char *suffix;
	uint64_t mult;
} size_units[] = {
	{ "", 1 },
	{ "b", 1 },
	{ "k", 1ull << 10 },
	{ "kib", 1ull << 10 },
	{ "m", 1ull << 20 },
	{ "mib", 1ull << 20 },
	{ "g", 1ull << 30 },
	{ "gib", 1ull << 30 },
	{ "t", 1ull << 40 },
	{ "tib", 1ull << 40 },
	{ "p", 1ull << 50 },
	{ "pib", 1ull << 50 },
	{ "kb", 1000ull },
	{ "mb", 1000ull * 1000 },
	{ "gb", 1000ull * 1000 * 1000 },
	{ "tb", 1000ull * 1000 * 1000 * 1000 },
};

int strata_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(size_units); i++) {
		if (strcasecmp(end, size_units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / size_units[i].mult)
			return -EINVAL;
		*out = (uint64_t)v * size_units[i].mult;
		return 0;
	}
	return -EINVAL;
}

int strata_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;
	double mult = 1;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || v < 0)
		return -EINVAL;
	if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'd')
		mult = 86400;
	else if (*end != 's' && *end != '\0')
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	*out = v * mult;
	return 0;
}

struct timespec strata_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

struct timespec strata_ts_add_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

bool strata_ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

struct timespec strata_mono_in_ms(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return strata_ts_add_ms(ts, ms);
}

int strata_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return -ENAMETOOLONG;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

/* Undo the octal escapes (\040 for a space) of /proc/self/mountinfo. */
static void util_unescape(char *s)
{
	char *w = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* strata_mount_source() and strata_mount_devno(): src gets the source,
 * dev the device number, of the mount of type at mnt. */
static int util_mount_find(const char *mnt, const char *type, char *src,
			   size_t len, char *dev, size_t devlen)
{
	char line[3 * PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX];
		char fstype[64];
		char source[PATH_MAX];
		char devno[32];
		char *sep = strstr(line, " - ");

		if (!sep ||
		    sscanf(line, "%*s %*s %31s %*s %4095s", devno, point) !=
			    2 ||
		    sscanf(sep + 3, "%63s %4095s", fstype, source) != 2)
			continue;
		util_unescape(point);
		if (strcmp(point, mnt) != 0)
			continue;
		if (strcmp(fstype, type) != 0) {
			ret = -EINVAL;
			continue;
		}
		util_unescape(source);
		if (src)
			snprintf(src, len, "%s", source);
		if (dev)
			snprintf(dev, devlen, "%s", devno);
		ret = 0;
	}
	fclose(f);
	return ret;
}

int strata_mount_source(const char *mnt, const char *type, char *src,
			size_t len)
{
	return util_mount_find(mnt, type, src, len, NULL, 0);
}

int strata_mount_devno(const char *mnt, const char *type, char *dev, size_t len)
{
	return util_mount_find(mnt, type, NULL, 0, dev, len);
}
