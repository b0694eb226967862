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
/* As vol_name_lock, but returns NULL at once when another thread holds
 * the stripe. */
pthread_mutex_t *vol_name_trylock(struct vol_name_locks *l, const char *name);
/* Unlocks a stripe returned by vol_name_lock. Accepts NULL. */
void vol_name_unlock(pthread_mutex_t *m);
/* Locks the stripes of names a and b (each once, in stripe order: no
 * deadlock with another pair) and returns them in ret[0], ret[1] (ret[1]
 * NULL when both names share a stripe), for vol_name_unlock each. */
void vol_name_lock2(struct vol_name_locks *l, const char *a, const char *b, pthread_mutex_t *ret[2]);
