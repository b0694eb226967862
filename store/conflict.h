/* The words of a refused conditional write, shared by the backends so that
 * a client reads the same message whichever store volmand runs on. Not a
 * public header: only the backends in store/ include it. */
#pragma once

#include <stdbool.h>

#include "core/error.h"

/* True for the errors of a refused compare-and-swap: -EEXIST (expected
 * nothing), -ENOENT (gone), -ESTALE (changed). */
static inline bool vol_store_is_conflict(int r)
{
        return r == -EEXIST || r == -ENOENT || r == -ESTALE;
}

/* Sets err to the message of conflict r (vol_store_is_conflict) on a write
 * of volume name ("volume NAME already exists"). Returns r. */
int vol_store_volume_conflict(int r, const char *name, struct vol_error *err);

/* The same for a document ("KIND KEY: exists already"). Returns r. */
int vol_store_doc_conflict(int r, const char *kind, const char *key, struct vol_error *err);
