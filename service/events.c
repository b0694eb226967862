/* Events: what happened to volumes and apps, in order, for GET /v1/events.
 *
 * An event goes into a ring in memory (the last RING of them) and wakes the
 * followers; emitting never waits for a reader or the disk. Once a second, or
 * as soon as half the ring is waiting, a flusher writes the new events to the
 * store, as pages of PAGE events (documents of kind "events", keyed by page
 * number), keeping the last PAGES_KEPT pages: a bounded history that survives
 * restarts (a crash loses at most the last second of it). The flusher is not
 * woken per event: a page is rewritten whole, so a flush per event would
 * write PAGE events' worth for each one. A follower that falls behind the ring is
 * told ("events"/"dropped") and its stream ends: a slow reader costs only
 * itself. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "internal.h"

#define RING 1024
#define PAGE 256
#define PAGES_KEPT 40
#define FOLLOWERS_MAX 64
/* The kind of the history's documents: "events", and in a cluster
 * "events@NODE" (each node keeps its own; their sequence numbers are its own). */
static void history_kind(const struct vol_service *s, char out[96])
{
        const char *node = vol_service_node(s);
        if (node)
                snprintf(out, 96, "events@%s", node);
        else
                snprintf(out, 96, "events");
}

struct vol_events {
        pthread_mutex_t lock;
        pthread_cond_t cond;  /* followers wait here: a new event, or closing */
        pthread_cond_t fcond; /* the flusher waits here: half the ring waiting, or closing */
        struct vol_event *ring; /* slot seq % RING */
        uint64_t next;          /* the next event's seq */
        uint64_t flushed;       /* the last seq in the store */
        size_t followers;
        bool closing;
        pthread_t flusher;
        bool flusher_started;
        struct vol_service *s;
};

static int64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t oldest(const struct vol_events *ev)
{
        return ev->next > RING ? ev->next - RING : 1;
}

/* ---- the store's pages ---- */

struct page_load {
        struct vol_event *list;
        size_t n, cap;
};

static int take_page(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct page_load *pl = userdata;
        json_auto_t *arr = json_loads(json, 0, NULL);
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o)
        {
                struct vol_event e;
                if (vol_event_from_json(o, &e) < 0)
                        continue;
                if (pl->n == pl->cap) {
                        pl->cap = pl->cap ? pl->cap * 2 : 1024;
                        pl->list = xrealloc(pl->list, pl->cap * sizeof(*pl->list));
                }
                pl->list[pl->n++] = e;
        }
        return 0;
}

static int cmp_seq(const void *a, const void *b)
{
        const struct vol_event *x = a, *y = b;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every event the store keeps, in order (caller frees). */
static struct vol_event *load_history(struct vol_service *s, size_t *ret_n)
{
        struct page_load pl = {0};
        struct vol_error err = VOL_ERROR_INIT;
        char kind[96];
        history_kind(s, kind);
        if (vol_store_list_docs(s->store, kind, "", take_page, &pl, &err) < 0)
                vol_service_log("warning", "events: reading their history: %s", vol_error_message(&err));
        vol_error_clear(&err);
        if (pl.n)
                qsort(pl.list, pl.n, sizeof(*pl.list), cmp_seq);
        *ret_n = pl.n;
        return pl.list;
}

static void page_key(uint64_t page, char out[24])
{
        snprintf(out, 24, "%012" PRIu64, page);
}

/* Writes the pages holding events (from, to] from the ring (merged with the
 * page as stored when the ring no longer holds its start). */
static void flush_range(struct vol_events *ev, uint64_t from, uint64_t to, const struct vol_event *copy, uint64_t first)
{
        struct vol_service *s = ev->s;
        char kind[96];
        history_kind(s, kind);
        for (uint64_t page = (from + 1) / PAGE; page <= to / PAGE; page++) {
                uint64_t lo = page * PAGE, hi = lo + PAGE - 1;
                struct vol_strbuf b;
                vol_strbuf_init(&b, 0);
                vol_strbuf_putc(&b, '[');
                bool any = false;
                if (lo < first) { /* the page's start left the ring: keep what the store has of it */
                        char key[24];
                        page_key(page, key);
                        _cleanup_free_ char *json = NULL;
                        if (vol_store_get_doc(s->store, kind, key, &json, NULL, NULL) == 0) {
                                json_auto_t *arr = json_loads(json, 0, NULL);
                                size_t i;
                                json_t *o;
                                json_array_foreach(arr, i, o)
                                {
                                        struct vol_event e;
                                        if (vol_event_from_json(o, &e) == 0 && e.seq < first) {
                                                if (any)
                                                        vol_strbuf_putc(&b, ',');
                                                vol_event_to_json(&e, &b);
                                                any = true;
                                        }
                                }
                        }
                }
                for (uint64_t q = lo < first ? first : lo; q <= hi && q <= to; q++) {
                        if (any)
                                vol_strbuf_putc(&b, ',');
                        vol_event_to_json(&copy[q - first], &b);
                        any = true;
                }
                vol_strbuf_putc(&b, ']');
                char key[24];
                page_key(page, key);
                struct vol_error err = VOL_ERROR_INIT;
                if (b.data && vol_store_put_doc(s->store, kind, key, b.data, VOL_REV_ANY, VOL_SYNC_ORDERED, NULL,
                                                &err) < 0)
                        vol_service_log("warning", "events: keeping their history: %s", vol_error_message(&err));
                vol_error_clear(&err);
                vol_strbuf_free(&b);
                if (page >= PAGES_KEPT) { /* the history stays bounded */
                        page_key(page - PAGES_KEPT, key);
                        vol_store_remove_doc(s->store, kind, key, VOL_REV_ANY, VOL_SYNC_ORDERED, NULL);
                }
        }
}

static void flush_now(struct vol_events *ev)
{
        pthread_mutex_lock(&ev->lock);
        uint64_t from = ev->flushed, to = ev->next - 1, first = oldest(ev);
        if (to <= from) {
                pthread_mutex_unlock(&ev->lock);
                return;
        }
        if (from + 1 < first)
                from = first - 1; /* more than the ring holds came in a second: those are gone */
        /* a copy of the ring from the start of from+1's page, so that whole pages are written */
        uint64_t start = ((from + 1) / PAGE) * PAGE;
        if (start < first)
                start = first;
        size_t n = (size_t)(to - start + 1);
        struct vol_event *copy = xmalloc(n * sizeof(*copy));
        for (uint64_t q = start; q <= to; q++)
                copy[q - start] = ev->ring[q % RING];
        pthread_mutex_unlock(&ev->lock);
        flush_range(ev, from, to, copy, start);
        free(copy);
        pthread_mutex_lock(&ev->lock);
        ev->flushed = to;
        pthread_mutex_unlock(&ev->lock);
}

static void *flusher_main(void *arg)
{
        struct vol_events *ev = arg;
        pthread_mutex_lock(&ev->lock);
        while (!ev->closing) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                while (!ev->closing && ev->next - 1 - ev->flushed < RING / 2 &&
                       pthread_cond_timedwait(&ev->fcond, &ev->lock, &ts) == 0)
                        ;
                if (ev->closing || ev->next - 1 == ev->flushed)
                        continue;
                pthread_mutex_unlock(&ev->lock);
                flush_now(ev);
                pthread_mutex_lock(&ev->lock);
        }
        pthread_mutex_unlock(&ev->lock);
        return NULL;
}

int vol_events_open(struct vol_service *s, struct vol_error *err)
{
        struct vol_events *ev = xcalloc(1, sizeof(*ev));
        pthread_mutex_init(&ev->lock, NULL);
        pthread_cond_init(&ev->cond, NULL);
        pthread_cond_init(&ev->fcond, NULL);
        ev->ring = xcalloc(RING, sizeof(*ev->ring));
        ev->s = s;
        size_t n;
        struct vol_event *hist = load_history(s, &n);
        ev->next = n ? hist[n - 1].seq + 1 : 1;
        ev->flushed = ev->next - 1;
        for (size_t i = n > RING ? n - RING : 0; i < n; i++)
                ev->ring[hist[i].seq % RING] = hist[i];
        free(hist);
        s->events = ev;
        if (pthread_create(&ev->flusher, NULL, flusher_main, ev) != 0)
                return vol_error_set(err, -EAGAIN, "starting the events thread failed");
        ev->flusher_started = true;
        return 0;
}

void vol_events_close(struct vol_service *s)
{
        struct vol_events *ev = s->events;
        if (!ev)
                return;
        pthread_mutex_lock(&ev->lock);
        ev->closing = true;
        pthread_cond_broadcast(&ev->cond);
        pthread_cond_signal(&ev->fcond);
        pthread_mutex_unlock(&ev->lock);
        if (ev->flusher_started)
                pthread_join(ev->flusher, NULL);
        flush_now(ev); /* what came last */
        /* followers see `closing` and leave; wait for them */
        pthread_mutex_lock(&ev->lock);
        while (ev->followers) {
                pthread_cond_broadcast(&ev->cond);
                pthread_mutex_unlock(&ev->lock);
                struct timespec nap = {0, 10 * 1000 * 1000};
                nanosleep(&nap, NULL);
                pthread_mutex_lock(&ev->lock);
        }
        pthread_mutex_unlock(&ev->lock);
        pthread_mutex_destroy(&ev->lock);
        pthread_cond_destroy(&ev->cond);
        pthread_cond_destroy(&ev->fcond);
        free(ev->ring);
        free(ev);
        s->events = NULL;
}

void vol_event_emit(struct vol_service *s, const struct vol_caller *caller, struct vol_event *e)
{
        struct vol_events *ev = s->events;
        if (!ev)
                return;
        e->time_us = now_us();
        if (caller) {
                snprintf(e->face, sizeof(e->face), "%s", vol_face_name(caller->face));
                snprintf(e->who, sizeof(e->who), "%s", caller->who ? caller->who : "");
        }
        pthread_mutex_lock(&ev->lock);
        e->seq = ev->next++;
        ev->ring[e->seq % RING] = *e;
        if (ev->followers)
                pthread_cond_broadcast(&ev->cond);
        if (e->seq - ev->flushed == RING / 2)
                pthread_cond_signal(&ev->fcond);
        pthread_mutex_unlock(&ev->lock);
}

void vol_event_simple(struct vol_service *s, const struct vol_caller *caller, const char *type, const char *action,
                      const char *name, const char *tenant)
{
        struct vol_event e;
        memset(&e, 0, sizeof(e));
        snprintf(e.type, sizeof(e.type), "%s", type);
        snprintf(e.action, sizeof(e.action), "%s", action);
        snprintf(e.name, sizeof(e.name), "%s", name ? name : "");
        snprintf(e.tenant, sizeof(e.tenant), "%s", tenant ? tenant : "");
        vol_event_emit(s, caller, &e);
}

/* ---- followers ---- */

static bool visible(const struct vol_caller *caller, const struct vol_event *e)
{
        if (caller->face != VOL_FACE_TENANT)
                return true;
        return caller->tenant && *caller->tenant && !strcmp(caller->tenant, e->tenant);
}

static bool wanted(const struct vol_events_query *q, const struct vol_event *e)
{
        return visible(q->caller, e) && e->time_us >= q->since_us && (!q->until_us || e->time_us <= q->until_us) &&
               vol_event_match(&q->filter, e);
}

int vol_service_events(struct vol_service *s, const struct vol_events_query *q, vol_event_cb cb, void *userdata,
                       struct vol_error *err)
{
        struct vol_events *ev = s->events;
        pthread_mutex_lock(&ev->lock);
        if (ev->followers >= FOLLOWERS_MAX) {
                pthread_mutex_unlock(&ev->lock);
                return vol_error_set(err, -EAGAIN, "%d readers follow the events already; retry later", FOLLOWERS_MAX);
        }
        ev->followers++;
        uint64_t last = ev->next - 1; /* without since: only what comes from now on */
        if (q->admitted) {
                pthread_mutex_unlock(&ev->lock);
                q->admitted(userdata);
                pthread_mutex_lock(&ev->lock);
        }
        bool history = q->since_us > 0;
        uint64_t ring_first = oldest(ev);
        pthread_mutex_unlock(&ev->lock);
        int r = 0;
        if (history) {
                /* the store first, for what the ring no longer holds */
                size_t n;
                struct vol_event *hist = load_history(s, &n);
                last = ring_first - 1;
                for (size_t i = 0; i < n && r == 0; i++)
                        if (hist[i].seq < ring_first && wanted(q, &hist[i]))
                                r = cb(&hist[i], userdata);
                free(hist);
        }
        struct vol_event batch[64];
        while (r == 0) {
                pthread_mutex_lock(&ev->lock);
                if (last + 1 < oldest(ev) && last + 1 < ev->next) {
                        /* fallen behind the ring: the events between are gone for this reader */
                        uint64_t missed = oldest(ev) - last - 1;
                        pthread_mutex_unlock(&ev->lock);
                        struct vol_event d;
                        memset(&d, 0, sizeof(d));
                        snprintf(d.type, sizeof(d.type), "events");
                        snprintf(d.action, sizeof(d.action), "dropped");
                        snprintf(d.face, sizeof(d.face), "system");
                        snprintf(d.who, sizeof(d.who), "volmand");
                        d.time_us = now_us();
                        char num[32];
                        snprintf(num, sizeof(num), "%" PRIu64, missed);
                        vol_event_attr(&d, "missed", num);
                        vol_event_attr(&d, "reason", "this reader fell behind; follow again with since= to catch up");
                        cb(&d, userdata);
                        break;
                }
                size_t n = 0;
                while (last + 1 < ev->next && n < 64)
                        batch[n++] = ev->ring[(++last) % RING];
                bool closing = ev->closing;
                if (!n && q->until_us && now_us() > q->until_us) {
                        pthread_mutex_unlock(&ev->lock);
                        break; /* all that can match is sent */
                }
                if (!n && !closing) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 1;
                        pthread_cond_timedwait(&ev->cond, &ev->lock, &ts);
                }
                pthread_mutex_unlock(&ev->lock);
                for (size_t i = 0; i < n && r == 0; i++)
                        if (wanted(q, &batch[i]))
                                r = cb(&batch[i], userdata);
                if (r || closing)
                        break;
                if (q->until_us && now_us() > q->until_us)
                        break; /* nothing more can match */
                if (q->alive && !q->alive(userdata))
                        break; /* the reader went away */
        }
        pthread_mutex_lock(&ev->lock);
        ev->followers--;
        pthread_mutex_unlock(&ev->lock);
        return r < 0 ? r : 0;
}
