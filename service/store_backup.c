/* The metadata store's online backup (GET /v1/store/backup). */
#include <errno.h>

#include "internal.h"

int vol_service_store_backup(struct vol_service *s, const struct vol_caller *caller, int *ret_fd,
                             struct vol_error *err)
{
        int r;
        if (!vol_caller_is_admin(caller))
                r = vol_error_set(err, -EPERM, "only an admin backs up the metadata store: it holds every "
                                               "tenant's records");
        else
                r = vol_store_backup(s->store, ret_fd, err);
        vol_service_audit(caller, "back up the metadata store", r, err);
        return r;
}
