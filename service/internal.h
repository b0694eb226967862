/* What the service's files share. Not a public header. */
#pragma once

#include "drivers/driver.h"
#include "engine/engine.h"
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
        struct vol_name_locks app_locks; /* apart from volume names: a deploy holds
                                            one while the engine calls back in */
        struct vol_metrics metrics;
        struct vol_engine *engine; /* NULL: no deploys */
        char *engine_driver;       /* what the engine calls volman's plugin */
};
