/* What the service's files share. Not a public header. */
#pragma once

#include "drivers/driver.h"
#include "locks.h"
#include "metrics.h"
#include "service.h"
#include "store/store.h"

struct vol_service {
        struct vol_store *store;
        struct vol_drivers drivers;
        char *prefix;
        char *default_driver;
        struct vol_name_locks locks;
        struct vol_metrics metrics;
};
