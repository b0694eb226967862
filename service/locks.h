/* Per-name serialization: operations on one volume name run one at a time,
 * different names in parallel (striped mutexes). */
#pragma once

#include <pthread.h>

#define VOL_LOCK_STRIPES 256

struct vol_name_locks {
        pthread_mutex_t stripes[VOL_LOCK_STRIPES];
};

/* Initializes every stripe. */
void vol_name_locks_init(struct vol_name_locks *l);
/* Destroys every stripe. */
void vol_name_locks_destroy(struct vol_name_locks *l);
/* Locks the stripe of name and returns it, for vol_name_unlock. */
pthread_mutex_t *vol_name_lock(struct vol_name_locks *l, const char *name);
/* Unlocks a stripe returned by vol_name_lock. Accepts NULL. */
void vol_name_unlock(pthread_mutex_t *m);
