#include "syncer.h"

#include <string.h>

void vol_syncer_init(struct vol_syncer *s)
{
        memset(s, 0, sizeof(*s));
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
}

void vol_syncer_destroy(struct vol_syncer *s)
{
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
}

int vol_syncer_sync(struct vol_syncer *s, vol_flush_fn flush, void *arg)
{
        pthread_mutex_lock(&s->lock);
        uint64_t want = s->started + 1; /* a flush that begins from now on */
        s->callers++;
        for (;;) {
                if (s->error) {
                        int r = s->error;
                        s->callers--;
                        pthread_mutex_unlock(&s->lock);
                        return r;
                }
                if (s->done >= want) {
                        s->callers--;
                        pthread_mutex_unlock(&s->lock);
                        return 0;
                }
                if (!s->running) {
                        s->running = true;
                        uint64_t gen = ++s->started;
                        pthread_mutex_unlock(&s->lock);
                        int r = flush(arg);
                        pthread_mutex_lock(&s->lock);
                        s->running = false;
                        if (r == 0 && gen > s->done)
                                s->done = gen;
                        if (r < 0 && !s->error)
                                s->error = r;
                        pthread_cond_broadcast(&s->cond);
                        continue;
                }
                pthread_cond_wait(&s->cond, &s->lock);
        }
}
