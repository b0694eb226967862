#include <string.h>

#include "store.h"

static const struct vol_store_ops *const backends[] = {
        &vol_store_sqlite_ops,
        &vol_store_etcd_ops,
};

const struct vol_store_ops *vol_store_find(const char *name)
{
        for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
                if (!strcmp(backends[i]->name, name))
                        return backends[i];
        return NULL;
}

int vol_store_open(const char *backend, const char *location, struct vol_store **ret,
                   struct vol_error *err)
{
        const struct vol_store_ops *ops = vol_store_find(backend);
        if (!ops)
                return vol_error_set(err, -EINVAL, "unknown store backend \"%s\"", backend);
        return ops->open(location, ret, err);
}
