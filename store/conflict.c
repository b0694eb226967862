/* The words of a refused conditional write: see conflict.h. */
#include "conflict.h"

int vol_store_volume_conflict(int r, const char *name, struct vol_error *err)
{
        return vol_error_set(err, r, "volume %s %s", name,
                             r == -EEXIST   ? "already exists"
                             : r == -ENOENT ? "not found"
                                            : "was changed concurrently");
}

int vol_store_doc_conflict(int r, const char *kind, const char *key, struct vol_error *err)
{
        return vol_error_set(err, r, "%s %s: %s", kind, key,
                             r == -EEXIST   ? "exists already"
                             : r == -ENOENT ? "not found"
                                            : "was changed concurrently");
}
