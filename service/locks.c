#include "locks.h"

#include <stdint.h>

void vol_name_locks_init(struct vol_name_locks *l)
{
        for (int i = 0; i < VOL_LOCK_STRIPES; i++)
                pthread_mutex_init(&l->stripes[i], NULL);
}

void vol_name_locks_destroy(struct vol_name_locks *l)
{
        for (int i = 0; i < VOL_LOCK_STRIPES; i++)
                pthread_mutex_destroy(&l->stripes[i]);
}

static uint32_t stripe(const char *name)
{
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h % VOL_LOCK_STRIPES;
}

pthread_mutex_t *vol_name_lock(struct vol_name_locks *l, const char *name)
{
        pthread_mutex_t *m = &l->stripes[stripe(name)];
        pthread_mutex_lock(m);
        return m;
}

pthread_mutex_t *vol_name_trylock(struct vol_name_locks *l, const char *name)
{
        pthread_mutex_t *m = &l->stripes[stripe(name)];
        return pthread_mutex_trylock(m) == 0 ? m : NULL;
}

void vol_name_lock2(struct vol_name_locks *l, const char *a, const char *b, pthread_mutex_t *ret[2])
{
        uint32_t x = stripe(a), y = stripe(b);
        if (x > y) {
                uint32_t t = x;
                x = y;
                y = t;
        }
        ret[0] = &l->stripes[x];
        pthread_mutex_lock(ret[0]);
        ret[1] = NULL;
        if (y != x) {
                ret[1] = &l->stripes[y];
                pthread_mutex_lock(ret[1]);
        }
}

void vol_name_unlock(pthread_mutex_t *m)
{
        if (m)
                pthread_mutex_unlock(m);
}
