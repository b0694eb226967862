/* The reaper: destroys the storage of removed volumes in the background.
 *
 * A removal answers once the record is retired and a tombstone names its
 * storage (one durable write); the tree walk, however long, happens here,
 * holding no lock that another volume's operation could wait for. The name
 * is free at once: a new volume of that name gets a new id and directory.
 * When the storage is gone its tombstone is dropped; a crash before that
 * leaves the tombstone, and the next start queues it again. A storage that
 * cannot be destroyed now (a filesystem mounted inside it) is retried later. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/failpoint.h"
#include "core/xmalloc.h"
#include "internal.h"

#define RETRY_SECONDS 30

struct job {
        struct vol_volume *stub; /* id, name, driver, mountpoint, options */
        time_t not_before;
        unsigned attempts;
        struct job *next;
};

struct vol_reaper {
        struct vol_service *s;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct job *head, **tail;
        size_t pending;
        bool stopping;
};

static void job_free(struct job *j)
{
        vol_volume_free(j->stub);
        free(j);
}

static void enqueue(struct vol_reaper *r, struct job *j)
{
        pthread_mutex_lock(&r->lock);
        j->next = NULL;
        *r->tail = j;
        r->tail = &j->next;
        r->pending++;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
}

static struct vol_volume *stub_of(const char *id, const char *name, const char *driver,
                                  const char *mountpoint, const struct vol_kvs *options)
{
        struct vol_volume *v = vol_volume_new();
        snprintf(v->id, sizeof(v->id), "%s", id);
        v->name = xstrdup(name);
        v->driver = xstrdup(driver);
        v->mountpoint = xstrdup(mountpoint);
        vol_kvs_copy(&v->options, options);
        v->status = VOL_STATUS_DELETING;
        return v;
}

void vol_reaper_add(struct vol_reaper *r, const struct vol_tombstone *t)
{
        struct job *j = xcalloc(1, sizeof(*j));
        j->stub = stub_of(t->id, t->name, t->driver, t->mountpoint, &t->options);
        enqueue(r, j);
}

void vol_reaper_add_volume(struct vol_reaper *r, const struct vol_volume *v)
{
        struct job *j = xcalloc(1, sizeof(*j));
        j->stub = stub_of(v->id, v->name, v->driver, v->mountpoint ? v->mountpoint : "", &v->options);
        enqueue(r, j);
}

size_t vol_reaper_pending(struct vol_reaper *r)
{
        pthread_mutex_lock(&r->lock);
        size_t n = r->pending;
        pthread_mutex_unlock(&r->lock);
        return n;
}

/* Destroys one storage. Returns 0 when it is gone and forgotten. */
static int reap(struct vol_service *s, struct job *j)
{
        struct vol_volume *v = j->stub;
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        struct vol_error err = VOL_ERROR_INIT;
        int r;
        if (!d) {
                vol_service_log("error", "the storage of removed volume %s (%s) uses driver %s, which "
                                         "this volmand lacks; it stays until a volmand with that driver starts",
                                v->name, v->id, v->driver);
                return -ENODEV;
        }
        if ((r = d->ops->remove(d, v, &err)) < 0) {
                vol_service_log("warning", "destroying the data of removed volume %s (%s): %s; retried in %d s",
                                v->name, v->id, vol_error_message(&err), RETRY_SECONDS);
                vol_error_clear(&err);
                return r;
        }
        vol_failpoint("reap-after-driver");
        /* Ordered: a crash or power loss that loses this brings the
         * tombstone back, and removing a missing tree again is harmless. */
        if ((r = vol_store_drop_tombstone(s->store, v->id, VOL_SYNC_ORDERED, &err)) < 0) {
                vol_service_log("warning", "forgetting the tombstone of %s (%s): %s", v->name, v->id,
                                vol_error_message(&err));
                vol_error_clear(&err);
                return r;
        }
        vol_memory_release(s, d, &v->options);
        return 0;
}

static void *reaper_main(void *arg)
{
        struct vol_reaper *r = arg;
        pthread_mutex_lock(&r->lock);
        while (!r->stopping) {
                /* the first job that is due */
                time_t now = time(NULL), next_due = 0;
                struct job **pp = &r->head, *j = NULL;
                for (; *pp; pp = &(*pp)->next) {
                        if ((*pp)->not_before <= now) {
                                j = *pp;
                                break;
                        }
                        if (!next_due || (*pp)->not_before < next_due)
                                next_due = (*pp)->not_before;
                }
                if (!j) {
                        if (next_due) {
                                struct timespec ts = {.tv_sec = next_due};
                                pthread_cond_timedwait(&r->cond, &r->lock, &ts);
                        } else {
                                pthread_cond_wait(&r->cond, &r->lock);
                        }
                        continue;
                }
                *pp = j->next;
                if (r->tail == &j->next)
                        r->tail = pp;
                j->next = NULL;
                pthread_mutex_unlock(&r->lock);

                int rc = reap(r->s, j);

                pthread_mutex_lock(&r->lock);
                if (rc == 0) {
                        r->pending--;
                        job_free(j);
                } else {
                        j->attempts++;
                        j->not_before = time(NULL) + RETRY_SECONDS;
                        *r->tail = j;
                        r->tail = &j->next;
                }
        }
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int vol_reaper_start(struct vol_service *s, struct vol_reaper **ret, struct vol_error *err)
{
        struct vol_reaper *r = xcalloc(1, sizeof(*r));
        r->s = s;
        r->tail = &r->head;
        pthread_mutex_init(&r->lock, NULL);
        /* pthread_cond_timedwait takes CLOCK_REALTIME deadlines, as time() gives */
        pthread_cond_init(&r->cond, NULL);
        if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
                pthread_mutex_destroy(&r->lock);
                pthread_cond_destroy(&r->cond);
                free(r);
                return vol_error_set(err, -EAGAIN, "starting the reaper thread failed");
        }
        *ret = r;
        return 0;
}

void vol_reaper_stop(struct vol_reaper *r)
{
        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
        while (r->head) {
                struct job *j = r->head;
                r->head = j->next;
                job_free(j);
        }
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
}
