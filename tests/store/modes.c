/* store-contract's other modes: race, down and hung, session, bigdocs
 * (see store_contract.c). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "harness.h"

/* ---- race ---- */

#define INCREMENTS 200

struct racer {
        pthread_t thread;
        struct vol_store *s;
        pthread_barrier_t *start;
        unsigned n;
        int create; /* what the create answered */
        unsigned retries;
        char error[512];
};

static void *race_main(void *arg)
{
        struct racer *rc = arg;
        struct vol_error e = VOL_ERROR_INIT;
        struct vol_volume *v = volume("contested", "local", 0x7000 + rc->n);
        pthread_barrier_wait(rc->start);
        rc->create = vol_store_put(rc->s, v, 0, VOL_SYNC_FULL, &e);
        vol_volume_free(v);
        pthread_barrier_wait(rc->start);
        for (int i = 0; i < INCREMENTS; i++) {
                for (;;) {
                        char *json = NULL;
                        int64_t rev = 0;
                        vol_error_clear(&e);
                        int r = vol_store_get_doc(rc->s, "counter", "c", &json, &rev, &e);
                        if (r < 0)
                                goto broken;
                        char next[32];
                        snprintf(next, sizeof(next), "%ld", strtol(json, NULL, 10) + 1);
                        free(json);
                        r = vol_store_put_doc(rc->s, "counter", "c", next, rev, VOL_SYNC_ORDERED,
                                              NULL, &e);
                        if (r == 0)
                                break;
                        if (r != -ESTALE)
                                goto broken;
                        rc->retries++;
                }
        }
        vol_error_clear(&e);
        return NULL;
broken:
        snprintf(rc->error, sizeof(rc->error), "%s", vol_error_message(&e));
        vol_error_clear(&e);
        return NULL;
}

int race(const char *backend, const char *location, unsigned n)
{
        struct racer *rcs = xcalloc(n, sizeof(*rcs));
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, n);
        struct vol_store *main_s = open_store(backend, location);
        CHECK(vol_store_put_doc(main_s, "counter", "c", "0", 0, VOL_SYNC_FULL, NULL, E) == 0,
              "counter");
        for (unsigned i = 0; i < n; i++) {
                rcs[i] =
                    (struct racer){.s = open_store(backend, location), .start = &start, .n = i};
                CHECK(pthread_create(&rcs[i].thread, NULL, race_main, &rcs[i]) == 0, "thread");
        }
        unsigned won = 0, lost = 0, retries = 0, winner = 0;
        for (unsigned i = 0; i < n; i++) {
                pthread_join(rcs[i].thread, NULL);
                CHECK(!rcs[i].error[0], "racer %u: %s", i, rcs[i].error);
                CHECK(rcs[i].create == 0 || rcs[i].create == -EEXIST, "racer %u's create gave %d",
                      i, rcs[i].create);
                if (rcs[i].create == 0) {
                        won++;
                        winner = i;
                } else {
                        lost++;
                }
                retries += rcs[i].retries;
                vol_store_close(rcs[i].s);
        }
        CHECK(won == 1 && lost == n - 1, "%u creates won, %u lost", won, lost);
        struct vol_volume *v = NULL;
        char id[37];
        make_id(id, 0x7000 + winner);
        CHECK(vol_store_get(main_s, "contested", &v, E) == 0 && !strcmp(v->id, id),
              "the winner's record");
        vol_volume_free(v);
        char *json = NULL;
        CHECK(vol_store_get_doc(main_s, "counter", "c", &json, NULL, E) == 0, "counter");
        long count = strtol(json, NULL, 10);
        free(json);
        CHECK(count == (long)n * INCREMENTS, "counter is %ld, not %u: lost updates", count,
              n * INCREMENTS);
        printf("race held on %s: 1 of %u creates won, counter %ld, retries=%u\n", backend, n, count,
               retries);
        vol_store_close(main_s);
        pthread_barrier_destroy(&start);
        free(rcs);
        return 0;
}

/* ---- the backend stopped and started under one handle ---- */

#define DOWN_VOLUMES 20

static void wait_line(const char *want)
{
        char line[64];
        CHECK(fgets(line, sizeof(line), stdin) != NULL, "stdin closed while waiting for %s", want);
        line[strcspn(line, "\n")] = 0;
        CHECK(!strcmp(line, want), "got \"%s\" on stdin, not \"%s\"", line, want);
}

static int count_one(const struct vol_volume *v, void *userdata)
{
        (*(size_t *)userdata)++;
        return 0;
}

/* hung: the backend was frozen (SIGSTOP), not stopped: it accepts
 * connections and answers nothing, so requests time out, and a write that
 * timed out may still be applied once it thaws. */
int down(const char *backend, const char *location, bool hung)
{
        struct vol_store *s = open_store(backend, location);
        struct vol_volume *vs[DOWN_VOLUMES];
        int64_t doc_revs[DOWN_VOLUMES];
        for (unsigned i = 0; i < DOWN_VOLUMES; i++) {
                char name[16], json[32];
                snprintf(name, sizeof(name), "d%02u", i);
                snprintf(json, sizeof(json), "{\"i\":%u}", i);
                vs[i] = full_volume(name, 0x9000 + i);
                CHECK(vol_store_put(s, vs[i], 0, i % 2 ? VOL_SYNC_FULL : VOL_SYNC_ORDERED, E) == 0,
                      "create %s", name);
                CHECK(vol_store_put_doc(s, "down", name, json, 0, VOL_SYNC_FULL, &doc_revs[i], E) ==
                          0,
                      "doc");
        }
        printf("written %d\n", DOWN_VOLUMES);

        wait_line("stopped");
        /* the endpoint: LOCATION up to its prefix */
        char endpoint[256];
        snprintf(endpoint, sizeof(endpoint), "%.*s", (int)strcspn(location, "/"), location);
        int64_t t0 = now_ms();
        struct vol_volume *v = NULL;
        int r = vol_store_get(s, "d00", &v, E);
        int64_t took = now_ms() - t0;
        CHECK(r == -EAGAIN && last_err.msg && strstr(last_err.msg, endpoint),
              "a read while down: %d", r);
        _cleanup_free_ char *msg = xstrdup(last_err.msg);
        _cleanup_(vol_volume_freep) struct vol_volume *nv = volume("while-down", "local", 0x9999);
        r = vol_store_put(s, nv, 0, VOL_SYNC_FULL, E);
        CHECK(r == -EAGAIN && strstr(last_err.msg, endpoint), "a write while down: %d", r);
        CHECK(!hung || strstr(last_err.msg, "may or may not have been applied"),
              "a write that timed out");
        if (!hung) {
                CHECK(vol_store_health(s, E) == -EAGAIN && strstr(last_err.msg, endpoint),
                      "health while down");
                size_t seen = 0;
                CHECK(vol_store_list(s, NULL, NULL, 0, count_one, &seen, E) == -EAGAIN && seen == 0,
                      "a list");
        }
        printf("down-ok %" PRId64 " %s\n", took, msg);

        wait_line("started");
        int64_t t1 = now_ms();
        while (vol_store_health(s, E) != 0) {
                CHECK(now_ms() - t1 < 20000, "the store did not come back in 20 s");
                usleep(100000);
        }
        for (unsigned i = 0; i < DOWN_VOLUMES; i++) {
                check_stored(s, vs[i], HERE);
                char *json = NULL;
                int64_t rev = 0;
                CHECK(vol_store_get_doc(s, "down", vs[i]->name, &json, &rev, E) == 0 &&
                          rev == doc_revs[i],
                      "doc %s after the restart", vs[i]->name);
                free(json);
                vol_volume_free(vs[i]);
        }
        r = vol_store_get(s, "while-down", &v, E);
        if (r == 0) { /* a write that timed out was applied after all: whole */
                CHECK(hung, "a write refused while down is there");
                nv->revision = v->revision;
                same_volume(nv, v, HERE);
                vol_volume_free(v);
        } else {
                CHECK(r == -ENOENT, "get: %d", r);
                CHECK(vol_store_put(s, nv, 0, VOL_SYNC_FULL, E) == 0, "a write after the restart");
        }
        printf("up-ok %" PRId64 "\n", now_ms() - t1);
        vol_store_close(s);
        return 0;
}

/* ---- a session that lapses ---- */

static int doc_there(struct vol_store *s, const char *key)
{
        char *json = NULL;
        int r = vol_store_get_doc(s, "node-alive", key, &json, NULL, E);
        free(json);
        CHECK(r == 0 || r == -ENOENT, "get_doc: %d", r);
        return r == 0;
}

int session(const char *backend, const char *location, int ttl)
{
        struct vol_store *s = open_store(backend, location),
                         *observer = open_store(backend, location);
        CHECK(s->ops->put_session_doc && s->ops->renew_session, "%s has no sessions", backend);
        CHECK(s->ops->put_session_doc(s, "node-alive", "n1", "{\"node\":\"n1\"}", ttl, E) == 0,
              "session doc");
        CHECK(doc_there(observer, "n1"), "the session doc is not there");

        /* renewed every third of the TTL for twice the TTL: it stays */
        int64_t t0 = now_ms(), last_renewal = t0;
        while (now_ms() - t0 < 2000 * ttl) {
                usleep((useconds_t)ttl * 1000000 / 3);
                CHECK(s->ops->renew_session(s, E) == 0, "renewal at %" PRId64 " ms", now_ms() - t0);
                last_renewal = now_ms();
                CHECK(doc_there(observer, "n1"), "the doc went at %" PRId64 " ms while renewed",
                      now_ms() - t0);
        }
        /* no more renewals: it goes within TTL + 2 s */
        while (doc_there(observer, "n1")) {
                CHECK(now_ms() - last_renewal < (int64_t)ttl * 1000 + 2000,
                      "still there %" PRId64 " ms after the last renewal", now_ms() - last_renewal);
                usleep(100000);
        }
        int64_t gone = now_ms() - last_renewal;
        CHECK(gone >= (int64_t)ttl * 1000 - 1000,
              "gone %" PRId64 " ms after the last renewal: too soon", gone);
        CHECK(s->ops->renew_session(s, E) == -ENOENT && last_err.msg,
              "renewal of a lapsed session");
        /* the next put starts a new session */
        CHECK(s->ops->put_session_doc(s, "node-alive", "n1", "{\"node\":\"n1\"}", ttl, E) == 0,
              "a new session");
        CHECK(doc_there(observer, "n1"), "the doc of the new session is not there");
        CHECK(s->ops->renew_session(s, E) == 0, "renewal of the new session");
        printf("vanished-after-ms=%" PRId64 "\n", gone);
        vol_store_close(observer);
        vol_store_close(s);
        return 0;
}

/* ---- documents too large for one answer ---- */

#define BIG_DOCS 40
#define BIG_DOC_BYTES 1400000 /* the largest /con file document (docs/con.md) */

struct big_seen {
        int n;
        const char *kind;
};

static char *big_doc(int i)
{
        char *d = xmalloc(BIG_DOC_BYTES + 1);
        int head = snprintf(d, BIG_DOC_BYTES, "{\"i\":%d,\"b\":\"", i);
        memset(d + head, 'a' + i % 26, BIG_DOC_BYTES - head - 2);
        strcpy(d + BIG_DOC_BYTES - 2, "\"}");
        return d;
}

static int big_one(const char *key, const char *json, int64_t revision, void *userdata)
{
        struct big_seen *b = userdata;
        char want_key[16];
        snprintf(want_key, sizeof(want_key), "big-%02d", b->n);
        CHECK(!strcmp(key, want_key), "#%d is %s", b->n, key);
        _cleanup_free_ char *want = big_doc(b->n);
        CHECK(strlen(json) == BIG_DOC_BYTES && !strcmp(json, want), "document %s differs", key);
        b->n++;
        return 0;
}

/* list_docs over more bytes than one answer may hold (64 MiB for etcd) */
int bigdocs(const char *backend, const char *location)
{
        struct vol_store *s = open_store(backend, location);
        for (int i = 0; i < BIG_DOCS; i++) {
                char key[16];
                snprintf(key, sizeof(key), "big-%02d", i);
                _cleanup_free_ char *d = big_doc(i);
                CHECK(vol_store_put_doc(s, "con-file-data", key, d, VOL_REV_ANY, VOL_SYNC_ORDERED,
                                        NULL, E) == 0,
                      "put %s", key);
        }
        int64_t t0 = now_ms();
        struct big_seen b = {0, "con-file-data"};
        CHECK(vol_store_list_docs(s, "con-file-data", "big-", big_one, &b, E) == BIG_DOCS &&
                  b.n == BIG_DOCS,
              "listed %d", b.n);
        printf("listed %d documents of %d bytes in %" PRId64 " ms\n", BIG_DOCS, BIG_DOC_BYTES,
               now_ms() - t0);
        vol_store_close(s);
        return 0;
}
