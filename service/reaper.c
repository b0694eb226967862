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
/* The reaper yields the disk to foreground writes: it starts a batch once no
 * create, removal or mount began for QUIET_US, or once its oldest job waited
 * YIELD_MAX_S, or once PENDING_MAX jobs wait. */
#define QUIET_US 20000
#define YIELD_MAX_S 10
#define PENDING_MAX 8192

struct job {
        struct vol_volume *stub; /* id, name, driver, mountpoint, options */
        time_t queued;
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
        j->queued = time(NULL);
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

/* Whether storage id waits in the queue already (asked twice: a reaping
 * after a move elsewhere finds what a removal here queued). */
static bool queued(struct vol_reaper *r, const char *id)
{
        pthread_mutex_lock(&r->lock);
        bool found = false;
        for (struct job *j = r->head; j && !found; j = j->next)
                found = !strcmp(j->stub->id, id);
        pthread_mutex_unlock(&r->lock);
        return found;
}

void vol_reaper_add(struct vol_reaper *r, const struct vol_tombstone *t)
{
        if (queued(r, t->id))
                return;
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

#define BATCH_MAX 64

/* Destroys one storage (not yet durable). Returns 0 or < 0 (logged). */
static int destroy(struct vol_service *s, struct job *j)
{
        struct vol_volume *v = j->stub;
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        struct vol_error err = VOL_ERROR_INIT;
        if (!d) {
                vol_service_log("error", "the storage of removed volume %s (%s) uses driver %s, which "
                                         "this volmand lacks; it stays until a volmand with that driver starts",
                                v->name, v->id, v->driver);
                return -ENODEV;
        }
        int r = 0;
        if ((d->ops->caps & VOL_CAP_SNAPSHOT) && (r = vol_snapshots_destroy_all(s, v, &err)) < 0)
                vol_error_wrap(&err, "its snapshots: "); /* they go with the volume */
        if (r == 0)
                r = d->ops->remove(d, v, &err);
        if (r < 0)
                vol_service_log("warning", "destroying the data of removed volume %s (%s): %s; retried in %d s",
                                v->name, v->id, vol_error_message(&err), RETRY_SECONDS);
        vol_error_clear(&err);
        return r;
}

enum { FAILED, DESTROYED, SETTLED };

/* Makes a batch's removals durable, one sync per driver, then forgets their
 * tombstones in one store write. state[i] is DESTROYED for each job whose
 * storage went; on return SETTLED for those gone for good (the others are
 * retried). */
static void settle_batch(struct vol_service *s, struct job **jobs, unsigned char *state, size_t n)
{
        struct vol_error err = VOL_ERROR_INIT;
        for (size_t i = 0; i < n; i++) {
                if (state[i] != DESTROYED)
                        continue;
                struct vol_driver *d = vol_drivers_find(&s->drivers, jobs[i]->stub->driver);
                /* one sync covers every job of this driver in the batch */
                int r = d->ops->sync(d, &err);
                if (r < 0)
                        vol_service_log("warning", "making removals in %s durable: %s; retried in %d s",
                                        d->ops->name, vol_error_message(&err), RETRY_SECONDS);
                vol_error_clear(&err);
                for (size_t k = i; k < n; k++)
                        if (state[k] == DESTROYED && !strcmp(jobs[k]->stub->driver, d->ops->name))
                                state[k] = r < 0 ? FAILED : SETTLED;
        }
        const char *ids[BATCH_MAX];
        size_t n_ids = 0;
        for (size_t i = 0; i < n; i++)
                if (state[i] == SETTLED)
                        ids[n_ids++] = jobs[i]->stub->id;
        if (!n_ids)
                return;
        vol_failpoint("reap-after-driver");
        /* Ordered: a crash or power loss that loses this brings the tombstones
         * back, and removing a missing tree again is harmless. */
        if (vol_store_drop_tombstones(s->store, ids, n_ids, VOL_SYNC_ORDERED, &err) < 0) {
                vol_service_log("warning", "forgetting %zu tombstones: %s", n_ids, vol_error_message(&err));
                vol_error_clear(&err);
                for (size_t i = 0; i < n; i++)
                        if (state[i] == SETTLED)
                                state[i] = FAILED;
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (state[i] == SETTLED)
                        vol_memory_release(s, vol_drivers_find(&s->drivers, jobs[i]->stub->driver),
                                           &jobs[i]->stub->options);
}

static void *reaper_main(void *arg)
{
        struct vol_reaper *r = arg;
        struct job *batch[BATCH_MAX];
        unsigned char state[BATCH_MAX];
        pthread_mutex_lock(&r->lock);
        while (!r->stopping) {
                /* up to BATCH_MAX jobs that are due */
                time_t now = time(NULL), next_due = 0;
                size_t n = 0;
                for (struct job **pp = &r->head; *pp && n < BATCH_MAX;) {
                        struct job *j = *pp;
                        if (j->not_before > now) {
                                if (!next_due || j->not_before < next_due)
                                        next_due = j->not_before;
                                pp = &j->next;
                                continue;
                        }
                        *pp = j->next;
                        if (r->tail == &j->next)
                                r->tail = pp;
                        j->next = NULL;
                        batch[n++] = j;
                }
                /* foreground writes first, unless the work piles up or ages */
                uint64_t since = vol_now_us() - r->s->last_write_us;
                if (n && since < QUIET_US && r->pending < PENDING_MAX &&
                    now - batch[0]->queued < YIELD_MAX_S) {
                        for (size_t i = n; i-- > 0;) { /* put them back, in order */
                                batch[i]->next = r->head;
                                r->head = batch[i];
                                if (r->tail == &r->head)
                                        r->tail = &batch[i]->next;
                        }
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += (long)(QUIET_US - since) * 1000;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&r->cond, &r->lock, &ts);
                        continue;
                }
                if (!n) {
                        if (next_due) {
                                struct timespec ts = {.tv_sec = next_due};
                                pthread_cond_timedwait(&r->cond, &r->lock, &ts);
                        } else {
                                pthread_cond_wait(&r->cond, &r->lock);
                        }
                        continue;
                }
                pthread_mutex_unlock(&r->lock);

                for (size_t i = 0; i < n; i++)
                        state[i] = destroy(r->s, batch[i]) == 0 ? DESTROYED : FAILED;
                settle_batch(r->s, batch, state, n);

                pthread_mutex_lock(&r->lock);
                for (size_t i = 0; i < n; i++) {
                        struct job *j = batch[i];
                        if (state[i] == SETTLED) {
                                r->pending--;
                                job_free(j);
                        } else {
                                j->attempts++;
                                j->not_before = time(NULL) + RETRY_SECONDS;
                                *r->tail = j;
                                r->tail = &j->next;
                        }
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
