/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/backend_int.h - helpers shared by the registry and the drivers,
 * not part of the backend interface.
 *
 * Key rules live here once so that every driver sees only keys it can map to
 * a name safely. Pure functions; thread-safe.
 */
#ifndef STRATA_BACKEND_BACKEND_INT_H
#define STRATA_BACKEND_BACKEND_INT_H

#include <stdbool.h>

/*
 * Names starting with this are a driver's scratch files (for example a
 * partial upload); list never reports them and keys may not use them.
 */
#define STRATA__BACKEND_TMP_PREFIX ".strata-tmp"

/*
 * Check a key: 1..STRATA_KEY_MAX bytes, '/'-separated components that are
 * neither empty, ".", ".." nor scratch names, no leading or trailing '/',
 * and no control characters. Returns 0, -EINVAL or -ENAMETOOLONG.
 */
int strata__backend_key_check(const char *key);

#endif
