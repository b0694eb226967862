/* store-contract: the contract of store/store.h, checked through the ops
 * table on a real backend, so that every backend is held to the same rules
 * (tests/cluster/test_store_contract.py runs it on sqlite and on etcd).
 *
 *   store-contract BACKEND LOCATION
 *       every op on a fresh store: put/get/view and the revision rules
 *       (-EEXIST, -ESTALE, -ENOENT), list order, after, limit and filters,
 *       list_json, count, retire and tombstones, documents, and session
 *       documents where the backend has them (NULL where it must not).
 *   store-contract race BACKEND LOCATION N
 *       N threads, each with its own store handle: all create one name with
 *       expect_rev 0 (exactly one wins, the rest get -EEXIST), then each
 *       adds 1 to a counter document 200 times by compare-and-swap (read,
 *       put with expect_rev, again on -ESTALE): the count must be N*200.
 *       Prints "retries=K" (how many -ESTALE were met).
 *   store-contract down BACKEND LOCATION
 *       for a test that stops and starts the backend (etcd): writes, prints
 *       "written N"; after "stopped" on stdin, every op must fail with
 *       -EAGAIN naming the endpoint ("down-ok MS MESSAGE"); after "started",
 *       the same handle must work again and hold every acknowledged write
 *       ("up-ok").
 *   store-contract hung BACKEND LOCATION
 *       the same with the backend frozen (SIGSTOP) instead: requests time
 *       out, and a write that did may or may not be there afterwards.
 *   store-contract session BACKEND LOCATION TTL
 *       a session document stays while renewals go on, vanishes within
 *       TTL+2 s once they stop ("vanished-after-ms=MS"), and a lapsed
 *       session is reported and started anew.
 *   store-contract bigdocs BACKEND LOCATION
 *       40 documents of 1.4 MB listed whole and in order: more than one
 *       answer of etcd's may hold (64 MiB).
 *
 * Exit status 0 when every check held; 1 with the first failed check (its
 * line, the condition and the store's last error) on stderr; 64 for bad
 * usage. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/filter.h"
#include "core/strbuf.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "store/store.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static struct vol_error last_err;

static void fail(int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(int line, const char *cond, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "store-contract: FAILED at line %d: %s: ", line, cond);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (last store error %d: %s)\n", last_err.code,
                last_err.msg ? last_err.msg : "none");
        exit(1);
}

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fail(__LINE__, #cond, __VA_ARGS__);                                        \
        } while (0)

/* A store call's result, with its message kept for failures. */
#define E (vol_error_clear(&last_err), &last_err)

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct vol_store *open_store(const char *backend, const char *location)
{
        struct vol_store *s = NULL;
        int r = vol_store_open(backend, location, &s, E);
        CHECK(r == 0, "opening %s at %s: %d", backend, location, r);
        return s;
}

/* ---- volumes to store ---- */

static void make_id(char out[37], unsigned n)
{
        snprintf(out, 37, "%08x-0000-4000-8000-%012x", n, n * 7919u);
}

static struct vol_volume *volume(const char *name, const char *driver, unsigned n)
{
        struct vol_volume *v = vol_volume_new();
        make_id(v->id, n);
        v->name = xstrdup(name);
        v->driver = xstrdup(driver);
        v->status = VOL_STATUS_READY;
        v->created_at = 1700000000 + n;
        v->mountpoint = xasprintf("/var/lib/volman/%s/%s", driver, v->id);
        return v;
}

static void set_scope(struct vol_volume *v, const char *tenant, const char *env, const char *app,
                      const char *path)
{
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup(tenant);
        v->scope->env = xstrdup(env);
        v->scope->app = xstrdup(app);
        v->scope->path = xstrdup(path);
}

static struct vol_volume *full_volume(const char *name, unsigned n)
{
        struct vol_volume *v = volume(name, "local", n);
        vol_kvs_set(&v->labels, "team", "payments");
        vol_kvs_set(&v->labels, "empty", "");
        vol_kvs_set(&v->labels, "unicode", "caf\xc3\xa9 \xe2\x9c\x93 \"quoted\" \\ back");
        vol_kvs_set(&v->options, "uid", "1000");
        vol_kvs_set(&v->options, "size", "1G");
        set_scope(v, "acme", "prod", "orders", "/var/lib/state");
        struct vol_error e = VOL_ERROR_INIT;
        CHECK(vol_volume_add_mount(v, "admin", "ctr-1", 1700000100, "boot-a", &e) == 0,
              "add mount");
        CHECK(vol_volume_add_mount(v, "tenant:acme", "ctr-2", 1700000200, "", &e) == 0,
              "add mount");
        return v;
}

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Every field of want and got, the revision included. */
static void same_volume(const struct vol_volume *want, const struct vol_volume *got, int line)
{
#define SAME(cond, what)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fail(line, #cond, "volume %s: %s differs", want->name, what);              \
        } while (0)
        SAME(!strcmp(want->id, got->id), "id");
        SAME(str_eq(want->name, got->name), "name");
        SAME(str_eq(want->driver, got->driver), "driver");
        SAME(vol_kvs_equal(&want->options, &got->options), "options");
        SAME(vol_kvs_equal(&want->labels, &got->labels), "labels");
        SAME(vol_scope_equal(want->scope, got->scope), "scope");
        SAME(want->status == got->status, "status");
        SAME(want->created_at == got->created_at, "created_at");
        SAME(want->n_mounts == got->n_mounts, "mount count");
        for (size_t i = 0; i < want->n_mounts; i++) {
                SAME(str_eq(want->mounts[i].id, got->mounts[i].id), "mount id");
                SAME(want->mounts[i].since == got->mounts[i].since, "mount since");
                SAME(str_eq(want->mounts[i].owner, got->mounts[i].owner), "mount owner");
                SAME(str_eq(want->mounts[i].boot, got->mounts[i].boot), "mount boot");
        }
        SAME(str_eq(want->mountpoint, got->mountpoint), "mountpoint");
        SAME(str_eq(want->node, got->node), "node");
        SAME(want->revision == got->revision, "revision");
#undef SAME
}

static void check_stored(struct vol_store *s, const struct vol_volume *want, int line)
{
        struct vol_volume *got = NULL;
        int r = vol_store_get(s, want->name, &got, E);
        if (r != 0)
                fail(line, "get", "volume %s: %d", want->name, r);
        same_volume(want, got, line);
        vol_volume_free(got);
}

static int check_view(const struct vol_volume *v, void *userdata)
{
        same_volume(userdata, v, __LINE__);
        return 7;
}

static bool is_shared(struct vol_store *s)
{
        return s->ops->put_session_doc != NULL;
}

/* put/get/view/remove and their revision rules. */
static void contract_volumes(struct vol_store *s)
{
        struct vol_volume *got = NULL;
        CHECK(vol_store_get(s, "alpha", &got, E) == -ENOENT && last_err.msg, "get of nothing");
        CHECK(vol_store_view(s, "alpha", check_view, NULL, E) == -ENOENT, "view of nothing");

        _cleanup_(vol_volume_freep) struct vol_volume *v = full_volume("alpha", 1);
        CHECK(vol_store_put(s, v, 0, VOL_SYNC_FULL, E) == 0, "create");
        int64_t rev1 = v->revision;
        CHECK(rev1 > 0, "revision %" PRId64, rev1);
        check_stored(s, v, __LINE__);
        CHECK(vol_store_view(s, "alpha", check_view, v, E) == 7,
              "view returns what its callback does");

        /* expect_rev 0: must not exist */
        _cleanup_(vol_volume_freep) struct vol_volume *twin = full_volume("alpha", 99);
        CHECK(vol_store_put(s, twin, 0, VOL_SYNC_FULL, E) == -EEXIST, "second create");
        /* every backend words a refused write alike */
        CHECK(!strcmp(last_err.msg, "volume alpha already exists"), "message: %s", last_err.msg);
        check_stored(s, v, __LINE__);

        /* expect_rev > 0: must be the stored revision */
        vol_kvs_set(&v->labels, "added", "yes");
        CHECK(vol_store_put(s, v, rev1 + 1000, VOL_SYNC_FULL, E) == -ESTALE, "wrong revision");
        CHECK(!strcmp(last_err.msg, "volume alpha was changed concurrently"), "message: %s",
              last_err.msg);
        CHECK(v->revision == rev1, "a failed put left the revision");
        v->revision = rev1;
        CHECK(vol_store_get(s, "alpha", &got, E) == 0 && !vol_kvs_get(&got->labels, "added"),
              "failed put wrote");
        vol_volume_free(TAKE_PTR(got));
        CHECK(vol_store_put(s, v, rev1, VOL_SYNC_ORDERED, E) == 0, "update");
        int64_t rev2 = v->revision;
        CHECK(rev2 > rev1, "revision went from %" PRId64 " to %" PRId64, rev1, rev2);
        check_stored(s, v, __LINE__);
        _cleanup_(vol_volume_freep) struct vol_volume *stale = vol_volume_dup(v);
        vol_kvs_set(&stale->labels, "again", "yes");
        CHECK(vol_store_put(s, stale, rev1, VOL_SYNC_FULL, E) == -ESTALE,
              "update from an old revision");
        check_stored(s, v, __LINE__);

        /* expect_rev > 0 on nothing: -ENOENT, and nothing is made */
        _cleanup_(vol_volume_freep) struct vol_volume *ghost = volume("ghost", "local", 2);
        CHECK(vol_store_put(s, ghost, 12345, VOL_SYNC_FULL, E) == -ENOENT, "update of nothing");
        CHECK(!strcmp(last_err.msg, "volume ghost not found"), "message: %s", last_err.msg);
        CHECK(vol_store_get(s, "ghost", &got, E) == -ENOENT, "an update of nothing made it");

        /* remove */
        CHECK(vol_store_remove(s, "ghost", 5, VOL_SYNC_FULL, E) == -ENOENT, "remove of nothing");
        CHECK(vol_store_remove(s, "ghost", VOL_REV_ANY, VOL_SYNC_FULL, E) == -ENOENT,
              "remove any of nothing");
        CHECK(vol_store_remove(s, "alpha", rev1, VOL_SYNC_FULL, E) == -ESTALE,
              "remove at an old revision");
        CHECK(vol_store_remove(s, "alpha", 0, VOL_SYNC_FULL, E) == -ESTALE,
              "remove expecting nothing");
        check_stored(s, v, __LINE__);
        CHECK(vol_store_remove(s, "alpha", rev2, VOL_SYNC_FULL, E) == 0, "remove");
        CHECK(vol_store_get(s, "alpha", &got, E) == -ENOENT, "removed, still there");
        CHECK(vol_store_remove(s, "alpha", rev2, VOL_SYNC_FULL, E) == -ENOENT, "second remove");

        /* the name is free again; a minimal record round-trips too */
        CHECK(vol_store_put(s, v, 0, VOL_SYNC_FULL, E) == 0 && v->revision > 0,
              "create after remove");
        _cleanup_(vol_volume_freep) struct vol_volume *bare = volume("bare", "tmpfs", 3);
        bare->status = VOL_STATUS_CREATING;
        bare->created_at = 0;
        CHECK(vol_store_put(s, bare, 0, VOL_SYNC_FULL, E) == 0, "create minimal");
        check_stored(s, bare, __LINE__);
        bare->status = VOL_STATUS_DELETING;
        CHECK(vol_store_put(s, bare, bare->revision, VOL_SYNC_FULL, E) == 0, "status change");
        check_stored(s, bare, __LINE__);
        CHECK(vol_store_remove(s, "bare", VOL_REV_ANY, VOL_SYNC_FULL, E) == 0, "remove any");
        CHECK(vol_store_remove(s, "alpha", v->revision, VOL_SYNC_FULL, E) == 0, "remove");

        if (is_shared(s)) { /* cluster mode: the node holding the bytes */
                _cleanup_(vol_volume_freep) struct vol_volume *n = full_volume("on-node", 4);
                n->node = xstrdup("node-a");
                CHECK(vol_store_put(s, n, 0, VOL_SYNC_FULL, E) == 0, "create with a node");
                check_stored(s, n, __LINE__);
                CHECK(vol_store_remove(s, "on-node", n->revision, VOL_SYNC_FULL, E) == 0, "remove");
        }
}

/* ---- lists ---- */

#define N_LISTED 40

/* The volumes of the list checks, and how each was made (the expectations
 * are worked out from these, not with vol_filter_match). */
struct listed {
        char name[32];
        const char *driver;
        const char *tenant; /* NULL: unscoped */
        const char *env;
        bool labelled; /* label tier=gold */
        bool mounted;
        struct vol_volume *v;
};

static struct listed listed[N_LISTED];

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct listed *)a)->name, ((const struct listed *)b)->name);
}

static void make_listed(struct vol_store *s)
{
        /* names chosen so that byte order is not insertion order: '-' < '.' <
         * digits < upper case < '_' < lower case */
        static const char *odd[] = {"a-b", "a.b", "a0", "A1", "Zed", "a_b", "b", "B"};
        for (unsigned i = 0; i < N_LISTED; i++) {
                struct listed *l = &listed[i];
                if (i < ARRAY_SIZE(odd))
                        snprintf(l->name, sizeof(l->name), "%s", odd[i]);
                else
                        snprintf(l->name, sizeof(l->name), "v%02u",
                                 N_LISTED - i); /* made in reverse */
                l->driver = i % 3 == 0 ? "tmpfs" : "local";
                l->tenant = i % 4 == 0 ? NULL : i % 4 == 1 ? "acme" : "globex";
                l->env = i % 2 ? "prod" : "dev";
                l->labelled = i % 5 == 0;
                l->mounted = i % 7 == 0;
                struct vol_volume *v = volume(l->name, l->driver, 100 + i);
                if (l->tenant)
                        set_scope(v, l->tenant, l->env, "web", "/data");
                if (l->labelled)
                        vol_kvs_set(&v->labels, "tier", "gold");
                else
                        vol_kvs_set(&v->labels, "tier", "bronze");
                if (l->mounted) {
                        struct vol_error e = VOL_ERROR_INIT;
                        CHECK(vol_volume_add_mount(v, "admin", "ctr", 1700000000, "b", &e) == 0,
                              "mount");
                }
                CHECK(vol_store_put(s, v, 0, VOL_SYNC_ORDERED, E) == 0, "create %s", l->name);
                l->v = v;
        }
        qsort(listed, N_LISTED, sizeof(listed[0]), by_name);
}

/* What a list gave. */
struct seen {
        size_t n;
        const char *names[N_LISTED + 8];
        int stop_after; /* > 0: the callback answers `answer` at this one */
        int answer;
};

static struct listed *find_listed(const char *name)
{
        for (size_t i = 0; i < N_LISTED; i++)
                if (!strcmp(listed[i].name, name))
                        return &listed[i];
        return NULL;
}

static int seen_one(const struct vol_volume *v, void *userdata)
{
        struct seen *sn = userdata;
        struct listed *l = find_listed(v->name);
        CHECK(l != NULL, "list gave %s, which was not made", v->name);
        CHECK(sn->n < ARRAY_SIZE(sn->names), "list gave too many");
        same_volume(l->v, v, __LINE__);
        sn->names[sn->n++] = l->name;
        return sn->stop_after && (int)sn->n == sn->stop_after ? sn->answer : 0;
}

typedef bool (*want_fn)(const struct listed *l);

static bool want_all(const struct listed *l)
{
        return true;
}

/* Lists with f, after and limit, and checks the names against every made
 * volume that want keeps, in name order, after `after`, at most limit. */
static void check_list(struct vol_store *s, const char *filters, const char *after, size_t limit,
                       want_fn want, int line)
{
        struct vol_filter f;
        vol_filter_init(&f);
        _cleanup_free_ char *text = xstrdup(filters ? filters : "");
        for (char *p = strtok(text, " "); p; p = strtok(NULL, " "))
                CHECK(vol_filter_add(&f, p, E) == 0, "filter %s", p);
        struct seen sn = {0};
        int r = vol_store_list(s, &f, after, limit, seen_one, &sn, E);
        size_t k = 0;
        for (size_t i = 0; i < N_LISTED; i++) {
                if (!want(&listed[i]) || (after && strcmp(listed[i].name, after) <= 0))
                        continue;
                if (limit && k == limit)
                        break;
                if (k >= sn.n || strcmp(sn.names[k], listed[i].name) != 0)
                        fail(line, "list", "[%s] after %s limit %zu: #%zu is %s, not %s",
                             filters ? filters : "", after ? after : "-", limit, k,
                             k < sn.n ? sn.names[k] : "missing", listed[i].name);
                k++;
        }
        if (r != (int)k || sn.n != k)
                fail(line, "list", "[%s] after %s limit %zu: returned %d, gave %zu, wanted %zu",
                     filters ? filters : "", after ? after : "-", limit, r, sn.n, k);
        vol_filter_free(&f);
}

static bool want_tmpfs(const struct listed *l)
{
        return !strcmp(l->driver, "tmpfs");
}
static bool want_acme(const struct listed *l)
{
        return l->tenant && !strcmp(l->tenant, "acme");
}
static bool want_globex_prod(const struct listed *l)
{
        return l->tenant && !strcmp(l->tenant, "globex") && !strcmp(l->env, "prod");
}
static bool want_gold(const struct listed *l)
{
        return l->labelled;
}
static bool want_mounted(const struct listed *l)
{
        return l->mounted;
}
static bool want_unmounted(const struct listed *l)
{
        return !l->mounted;
}
static bool want_a_dot(const struct listed *l)
{
        return strstr(l->name, "a") != NULL;
}
static bool want_local_gold(const struct listed *l)
{
        return !strcmp(l->driver, "local") && l->labelled;
}

static void contract_lists(struct vol_store *s)
{
        make_listed(s);
        check_list(s, NULL, NULL, 0, want_all, __LINE__);
        check_list(s, NULL, "v10", 0, want_all, __LINE__);
        check_list(s, NULL, "v105", 0, want_all, __LINE__); /* after a name nobody has */
        check_list(s, NULL, "a", 5, want_all, __LINE__);
        check_list(s, NULL, "zzz", 0, want_all, __LINE__); /* after the last */
        check_list(s, NULL, NULL, 1, want_all, __LINE__);
        check_list(s, "driver=tmpfs", NULL, 0, want_tmpfs, __LINE__);
        check_list(s, "tenant=acme", NULL, 0, want_acme, __LINE__);
        check_list(s, "tenant=acme", "v20", 2, want_acme, __LINE__);
        check_list(s, "tenant=globex env=prod app=web", NULL, 0, want_globex_prod, __LINE__);
        check_list(s, "label=tier=gold", NULL, 0, want_gold, __LINE__);
        check_list(s, "label=tier", NULL, 0, want_all, __LINE__);
        check_list(s, "dangling=false", NULL, 0, want_mounted, __LINE__);
        check_list(s, "dangling=true", "v05", 3, want_unmounted, __LINE__);
        check_list(s, "name=a", NULL, 0, want_a_dot, __LINE__);
        check_list(s, "driver=local label=tier=gold", NULL, 0, want_local_gold, __LINE__);

        /* paging with after = the last name seen covers the whole list once */
        size_t total = 0;
        const char *after = NULL;
        char last[32];
        for (int pages = 0; pages < 100; pages++) {
                struct seen sn = {0};
                int r = vol_store_list(s, NULL, after, 7, seen_one, &sn, E);
                CHECK(r == (int)sn.n && r <= 7, "page of %d", r);
                for (size_t i = 0; i < sn.n; i++)
                        CHECK(!strcmp(sn.names[i], listed[total + i].name), "page order");
                total += sn.n;
                if (!sn.n)
                        break;
                snprintf(last, sizeof(last), "%s", sn.names[sn.n - 1]);
                after = last;
        }
        CHECK(total == N_LISTED, "pages gave %zu", total);

        /* the callback stops a list: > 0 stops, < 0 is the list's error */
        struct seen stop = {.stop_after = 3, .answer = 1};
        CHECK(vol_store_list(s, NULL, NULL, 0, seen_one, &stop, E) == 3 && stop.n == 3, "stop");
        struct seen bad = {.stop_after = 2, .answer = -EINTR};
        CHECK(vol_store_list(s, NULL, NULL, 0, seen_one, &bad, E) == -EINTR && bad.n == 2, "error");
}

struct json_seen {
        struct vol_store *s;
        size_t n;
        const char *names[N_LISTED];
};

static int json_one(const char *name, const char *driver, const char *json, size_t len,
                    void *userdata)
{
        struct json_seen *js = userdata;
        struct listed *l = find_listed(name);
        CHECK(l && js->n < N_LISTED, "list_json gave %s", name);
        CHECK(!strcmp(driver, l->driver), "list_json driver of %s", name);
        CHECK(len > 0 && json[len - 1] == '}' && strlen(json) >= len, "list_json text of %s", name);
        /* the stored JSON is what vol_volume_to_json writes for the record */
        struct vol_volume *v = NULL;
        CHECK(vol_store_get(js->s, name, &v, E) == 0, "get %s", name);
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_volume_to_json(&b, v, NULL);
        CHECK(b.len == len && !memcmp(b.data, json, len), "list_json of %s: %.*s, not %s", name,
              (int)len, json, b.data);
        vol_strbuf_free(&b);
        vol_volume_free(v);
        js->names[js->n++] = l->name;
        return 0;
}

static void check_list_json(struct vol_store *s, const char *filter, const char *after,
                            size_t limit, want_fn want)
{
        struct vol_filter f;
        vol_filter_init(&f);
        if (filter)
                CHECK(vol_filter_add(&f, filter, E) == 0, "filter");
        struct json_seen js = {s, 0, {0}};
        int r = vol_store_list_json(s, &f, after, limit, json_one, &js, E);
        size_t k = 0;
        for (size_t i = 0; i < N_LISTED && (!limit || k < limit); i++) {
                if (!want(&listed[i]) || (after && strcmp(listed[i].name, after) <= 0))
                        continue;
                CHECK(k < js.n && !strcmp(js.names[k], listed[i].name), "list_json #%zu is not %s",
                      k, listed[i].name);
                k++;
        }
        CHECK(r == (int)k && js.n == k, "list_json returned %d, gave %zu, wanted %zu", r, js.n, k);
        vol_filter_free(&f);
}

static void contract_list_json(struct vol_store *s)
{
        check_list_json(s, NULL, NULL, 0, want_all);
        check_list_json(s, NULL, "b", 4, want_all);
        check_list_json(s, "driver=tmpfs", NULL, 0, want_tmpfs);
        check_list_json(s, "tenant=acme", NULL, 0, want_acme);
        static const char *refused[] = {"name=a", "label=tier", "dangling=true"};
        for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
                struct vol_filter f;
                vol_filter_init(&f);
                CHECK(vol_filter_add(&f, refused[i], E) == 0, "filter");
                struct json_seen js = {s, 0, {0}};
                CHECK(vol_store_list_json(s, &f, NULL, 0, json_one, &js, E) == -EINVAL && js.n == 0,
                      "list_json with %s", refused[i]);
                vol_filter_free(&f);
        }
}

struct counts {
        uint64_t n[2][3]; /* [tmpfs?][status] */
        int calls;
};

static void count_one(const char *driver, enum vol_status status, uint64_t n, void *userdata)
{
        struct counts *c = userdata;
        CHECK(!strcmp(driver, "tmpfs") || !strcmp(driver, "local"), "count of driver %s", driver);
        CHECK((int)status >= 0 && status <= VOL_STATUS_DELETING, "status %d", (int)status);
        c->n[!strcmp(driver, "tmpfs")][status] += n;
        c->calls++;
}

static void contract_count(struct vol_store *s)
{
        /* one of each driver to deleting */
        struct vol_volume *a = find_listed("v01")->v, *b = find_listed("a-b")->v;
        a->status = b->status = VOL_STATUS_DELETING;
        CHECK(vol_store_put(s, a, a->revision, VOL_SYNC_FULL, E) == 0, "put");
        CHECK(vol_store_put(s, b, b->revision, VOL_SYNC_FULL, E) == 0, "put");
        struct counts want = {0}, got = {0};
        for (size_t i = 0; i < N_LISTED; i++)
                want.n[!strcmp(listed[i].driver, "tmpfs")][listed[i].v->status]++;
        CHECK(vol_store_count(s, count_one, &got, E) == 0, "count");
        CHECK(!memcmp(want.n, got.n, sizeof(want.n)), "counts differ");
        int pairs = 0;
        for (int d = 0; d < 2; d++)
                for (int st = 0; st < 3; st++)
                        pairs += want.n[d][st] > 0;
        CHECK(got.calls == pairs, "count called %d times for %d pairs", got.calls, pairs);
}

/* ---- lists longer than one answer of a shared backend (512 keys) ---- */

#define N_PAGED 700

struct names {
        size_t n;
        char (*names)[32];
};

static int name_one(const struct vol_volume *v, void *userdata)
{
        struct names *nm = userdata;
        CHECK(nm->n < 2 * N_PAGED, "too many");
        snprintf(nm->names[nm->n++], 32, "%s", v->name);
        return 0;
}

static int json_name_one(const char *name, const char *driver, const char *json, size_t len,
                         void *userdata)
{
        struct names *nm = userdata;
        CHECK(nm->n < 2 * N_PAGED, "too many");
        CHECK(strstr(json, name) != NULL, "the JSON of %s", name);
        snprintf(nm->names[nm->n++], 32, "%s", name);
        return 0;
}

static void contract_pages(struct vol_store *s)
{
        for (unsigned i = 0; i < N_PAGED; i++) {
                char name[32];
                snprintf(name, sizeof(name), "page-%04u", i);
                _cleanup_(vol_volume_freep) struct vol_volume *v =
                    volume(name, i % 2 ? "tmpfs" : "local", 0x20000 + i);
                CHECK(vol_store_put(s, v, 0, VOL_SYNC_ORDERED, E) == 0, "create %s", name);
        }
        struct names nm = {0, xcalloc(2 * N_PAGED, 32)};
        CHECK(vol_store_list(s, NULL, "page-", N_PAGED, name_one, &nm, E) == N_PAGED, "list of %zu",
              nm.n);
        for (unsigned i = 0; i < N_PAGED; i++) {
                char want[32];
                snprintf(want, sizeof(want), "page-%04u", i);
                CHECK(!strcmp(nm.names[i], want), "#%u is %s", i, nm.names[i]);
        }
        /* filtered, unlimited: the odd pages in order, then the tmpfs ones of the list checks */
        struct vol_filter f;
        vol_filter_init(&f);
        CHECK(vol_filter_add(&f, "driver=tmpfs", E) == 0, "filter");
        size_t tail = 0;
        for (size_t i = 0; i < N_LISTED; i++)
                tail += want_tmpfs(&listed[i]) && strcmp(listed[i].name, "page-") > 0;
        nm.n = 0;
        int r = vol_store_list(s, &f, "page-", 0, name_one, &nm, E);
        CHECK(r == (int)(N_PAGED / 2 + tail) && nm.n == (size_t)r, "filtered list of %d", r);
        for (unsigned i = 0; i < N_PAGED / 2; i++) {
                char want[32];
                snprintf(want, sizeof(want), "page-%04u", 2 * i + 1);
                CHECK(!strcmp(nm.names[i], want), "filtered #%u is %s", i, nm.names[i]);
        }
        nm.n = 0;
        r = vol_store_list_json(s, &f, "page-0099", 0, json_name_one, &nm, E);
        CHECK(r == (int)(N_PAGED / 2 - 50 + tail) && !strcmp(nm.names[0], "page-0101"),
              "list_json of %d", r);
        vol_filter_free(&f);
        free(nm.names);
        for (unsigned i = 0; i < N_PAGED; i++) {
                char name[32];
                snprintf(name, sizeof(name), "page-%04u", i);
                CHECK(vol_store_remove(s, name, VOL_REV_ANY, VOL_SYNC_ORDERED, E) == 0, "remove %s",
                      name);
        }
}

/* ---- retire and tombstones ---- */

struct tombs {
        size_t n;
        char ids[1024][37];
        int stop_after;
};

static const struct vol_volume *tomb_want; /* the one to compare in full */
static int64_t tomb_from, tomb_to;

static int tomb_one(const struct vol_tombstone *t, void *userdata)
{
        struct tombs *ts = userdata;
        CHECK(ts->n < ARRAY_SIZE(ts->ids), "too many tombstones");
        memcpy(ts->ids[ts->n++], t->id, 37);
        if (tomb_want && !strcmp(t->id, tomb_want->id)) {
                CHECK(str_eq(t->name, tomb_want->name) && str_eq(t->driver, tomb_want->driver) &&
                          str_eq(t->mountpoint, tomb_want->mountpoint) &&
                          vol_kvs_equal(&t->options, &tomb_want->options) &&
                          str_eq(t->node, tomb_want->node),
                      "tombstone of %s", tomb_want->name);
                CHECK(t->retired_at >= tomb_from && t->retired_at <= tomb_to, "retired_at %" PRId64,
                      t->retired_at);
        }
        return ts->stop_after && (int)ts->n == ts->stop_after;
}

static void tombstones(struct vol_store *s, struct tombs *ts)
{
        ts->n = 0;
        int r = vol_store_list_tombstones(s, tomb_one, ts, E);
        CHECK(r == (int)ts->n, "list_tombstones returned %d, gave %zu", r, ts->n);
}

static void retire(struct vol_store *s, struct vol_volume *v)
{
        CHECK(vol_store_retire(s, v, v->revision, VOL_SYNC_FULL, E) == 0, "retire %s", v->name);
}

static void contract_tombstones(struct vol_store *s)
{
        static struct tombs ts;
        tombstones(s, &ts);
        CHECK(ts.n == 0, "a fresh store has %zu tombstones", ts.n);

        struct vol_volume *a = volume("retire-a", "local", 0xaaaa),
                          *b = volume("retire-b", "tmpfs", 0xbbbb),
                          *c = volume("retire-c", "local", 0x0001);
        vol_kvs_set(&a->options, "size", "5G");
        if (is_shared(s))
                a->node = xstrdup("node-b");
        struct vol_volume *all[] = {a, b, c};
        for (size_t i = 0; i < 3; i++)
                CHECK(vol_store_put(s, all[i], 0, VOL_SYNC_FULL, E) == 0, "create");

        CHECK(vol_store_retire(s, a, a->revision + 1000, VOL_SYNC_FULL, E) == -ESTALE,
              "retire, wrong revision");
        _cleanup_(vol_volume_freep) struct vol_volume *ghost =
            volume("retire-ghost", "local", 0xdead);
        ghost->revision = 3;
        CHECK(vol_store_retire(s, ghost, 3, VOL_SYNC_FULL, E) == -ENOENT, "retire nothing");
        tombstones(s, &ts);
        CHECK(ts.n == 0, "a failed retire left a tombstone");
        check_stored(s, a, __LINE__);

        tomb_from = time(NULL);
        retire(s, a);
        retire(s, b);
        tomb_to = time(NULL);
        tomb_want = a;
        tombstones(s, &ts);
        tomb_want = NULL;
        CHECK(ts.n == 2 && !strcmp(ts.ids[0], a->id) && !strcmp(ts.ids[1], b->id),
              "tombstones of a, b");
        struct vol_volume *got = NULL;
        CHECK(vol_store_get(s, "retire-a", &got, E) == -ENOENT, "a retired volume is still there");
        /* the name is free: a new volume of that name is no problem */
        _cleanup_(vol_volume_freep) struct vol_volume *again = volume("retire-a", "local", 0xaaab);
        CHECK(vol_store_put(s, again, 0, VOL_SYNC_FULL, E) == 0, "create after retire");
        CHECK(vol_store_remove(s, "retire-a", again->revision, VOL_SYNC_FULL, E) == 0, "remove");

        /* oldest first: c is retired a second later, and its id sorts first */
        sleep(1);
        while (time(NULL) <= tomb_to)
                usleep(50000);
        retire(s, c);
        tombstones(s, &ts);
        CHECK(ts.n == 3 && !strcmp(ts.ids[0], a->id) && !strcmp(ts.ids[1], b->id) &&
                  !strcmp(ts.ids[2], c->id),
              "oldest first, then by id: %s %s %s", ts.ids[0], ts.ids[1], ts.ids[2]);
        ts.stop_after = 1;
        tombstones(s, &ts);
        CHECK(ts.n == 1, "the callback stops list_tombstones");
        ts.stop_after = 0;

        const char *drop[] = {a->id, "00000000-dead-4000-8000-000000000000", b->id};
        CHECK(vol_store_drop_tombstones(s, drop, 3, VOL_SYNC_FULL, E) == 0, "drop");
        tombstones(s, &ts);
        CHECK(ts.n == 1 && !strcmp(ts.ids[0], c->id), "after the drop: %zu", ts.n);
        CHECK(vol_store_drop_tombstones(s, drop, 1, VOL_SYNC_FULL, E) == 0,
              "a drop of what is gone");

        /* more than one etcd transaction's worth in one call, more than one
         * range answer's worth (512 keys) to list */
        enum { MANY = 600 };
        static char ids[MANY + 1][37];
        const char *idp[MANY + 1];
        for (unsigned i = 0; i < MANY; i++) {
                char name[32];
                snprintf(name, sizeof(name), "many-%03u", i);
                _cleanup_(vol_volume_freep) struct vol_volume *v =
                    volume(name, "local", 0x10000 + i);
                CHECK(vol_store_put(s, v, 0, VOL_SYNC_ORDERED, E) == 0, "create %s", name);
                CHECK(vol_store_retire(s, v, v->revision, VOL_SYNC_ORDERED, E) == 0, "retire %s",
                      name);
                memcpy(ids[i], v->id, 37);
                idp[i] = ids[i];
        }
        memcpy(ids[MANY], c->id, 37);
        idp[MANY] = ids[MANY];
        tombstones(s, &ts);
        CHECK(ts.n == MANY + 1, "%zu tombstones", ts.n);
        CHECK(vol_store_drop_tombstones(s, idp, MANY + 1, VOL_SYNC_FULL, E) == 0, "drop many");
        tombstones(s, &ts);
        CHECK(ts.n == 0, "%zu tombstones left", ts.n);
        for (size_t i = 0; i < 3; i++)
                vol_volume_free(all[i]);
}

/* ---- documents ---- */

struct docs_seen {
        size_t n;
        char keys[16][32];
        int64_t revs[16];
        int stop_after;
};

static int doc_one(const char *key, const char *json, int64_t revision, void *userdata)
{
        struct docs_seen *d = userdata;
        CHECK(d->n < 16, "too many documents");
        char want[64];
        snprintf(want, sizeof(want), "{\"key\":\"%s\"}", key);
        CHECK(!strcmp(json, want), "document %s holds %s", key, json);
        snprintf(d->keys[d->n], sizeof(d->keys[0]), "%s", key);
        d->revs[d->n++] = revision;
        return d->stop_after && (int)d->n == d->stop_after;
}

static void check_docs(struct vol_store *s, const char *kind, const char *prefix, const char *want,
                       int line)
{
        struct docs_seen d = {0};
        int r = vol_store_list_docs(s, kind, prefix, doc_one, &d, E);
        char got[512] = "";
        for (size_t i = 0; i < d.n; i++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
                         d.keys[i]);
        if (r != (int)d.n || strcmp(got, want) != 0)
                fail(line, "list_docs", "%s/%s: returned %d: [%s], not [%s]", kind,
                     prefix ? prefix : "(null)", r, got, want);
}

static int64_t put_doc_key(struct vol_store *s, const char *kind, const char *key)
{
        char json[64];
        snprintf(json, sizeof(json), "{\"key\":\"%s\"}", key);
        int64_t rev = 0;
        CHECK(vol_store_put_doc(s, kind, key, json, 0, VOL_SYNC_FULL, &rev, E) == 0 && rev > 0,
              "put %s", key);
        return rev;
}

static void contract_docs(struct vol_store *s)
{
        char *json = NULL;
        int64_t rev = 0, r1, r2, r3;
        CHECK(vol_store_get_doc(s, "resize", "x", &json, &rev, E) == -ENOENT && last_err.msg,
              "get of nothing");
        const char *text = "{\"size\":\"5G\",\"note\":\"caf\xc3\xa9\"}";
        CHECK(vol_store_put_doc(s, "resize", "x", text, 0, VOL_SYNC_FULL, &r1, E) == 0 && r1 > 0,
              "create");
        CHECK(vol_store_get_doc(s, "resize", "x", &json, &rev, E) == 0 && !strcmp(json, text) &&
                  rev == r1,
              "get");
        free(TAKE_PTR(json));
        CHECK(vol_store_put_doc(s, "resize", "x", "{}", 0, VOL_SYNC_FULL, &rev, E) == -EEXIST,
              "second create");
        CHECK(!strcmp(last_err.msg, "resize x: exists already"), "message: %s", last_err.msg);
        CHECK(vol_store_put_doc(s, "resize", "x", "{}", r1 + 1000, VOL_SYNC_FULL, &rev, E) ==
                  -ESTALE,
              "stale");
        CHECK(!strcmp(last_err.msg, "resize x: was changed concurrently"), "message: %s",
              last_err.msg);
        CHECK(vol_store_put_doc(s, "resize", "x", "{\"n\":2}", r1, VOL_SYNC_FULL, &r2, E) == 0 &&
                  r2 > r1,
              "update");
        CHECK(vol_store_put_doc(s, "resize", "x", "{}", r1, VOL_SYNC_FULL, &rev, E) == -ESTALE,
              "old revision");
        CHECK(vol_store_get_doc(s, "resize", "x", &json, &rev, E) == 0 &&
                  !strcmp(json, "{\"n\":2}") && rev == r2,
              "get after update");
        free(TAKE_PTR(json));
        CHECK(vol_store_put_doc(s, "resize", "y", "{}", 7, VOL_SYNC_FULL, &rev, E) == -ENOENT,
              "update of nothing");
        CHECK(vol_store_get_doc(s, "resize", "y", &json, &rev, E) == -ENOENT,
              "an update of nothing made it");
        CHECK(vol_store_put_doc(s, "resize", "x", "{\"n\":3}", VOL_REV_ANY, VOL_SYNC_ORDERED, &r3,
                                E) == 0 &&
                  r3 > r2,
              "write any");
        CHECK(vol_store_put_doc(s, "resize", "y", "{}", VOL_REV_ANY, VOL_SYNC_ORDERED, NULL, E) ==
                  0,
              "create any");
        /* another kind with the same key is another document */
        CHECK(vol_store_get_doc(s, "token", "x", &json, &rev, E) == -ENOENT, "kinds are apart");

        CHECK(vol_store_remove_doc(s, "resize", "x", r2, VOL_SYNC_FULL, E) == -ESTALE,
              "remove stale");
        /* sqlite's answer, unlike a volume's remove expecting nothing (-ESTALE) */
        CHECK(vol_store_remove_doc(s, "resize", "x", 0, VOL_SYNC_FULL, E) == -EEXIST,
              "remove expecting nothing");
        CHECK(vol_store_remove_doc(s, "resize", "nothing", VOL_REV_ANY, VOL_SYNC_FULL, E) ==
                  -ENOENT,
              "remove nothing");
        CHECK(vol_store_remove_doc(s, "resize", "x", r3, VOL_SYNC_FULL, E) == 0, "remove");
        CHECK(vol_store_get_doc(s, "resize", "x", &json, &rev, E) == -ENOENT,
              "removed, still there");
        CHECK(vol_store_remove_doc(s, "resize", "y", VOL_REV_ANY, VOL_SYNC_FULL, E) == 0,
              "remove any");

        /* a large document round-trips whole */
        size_t big_n = 300000;
        _cleanup_free_ char *big = xmalloc(big_n + 16);
        strcpy(big, "{\"b\":\"");
        memset(big + 6, 'x', big_n);
        strcpy(big + 6 + big_n, "\"}");
        CHECK(vol_store_put_doc(s, "con-file-data", "big", big, VOL_REV_ANY, VOL_SYNC_FULL, NULL,
                                E) == 0,
              "big");
        CHECK(vol_store_get_doc(s, "con-file-data", "big", &json, NULL, E) == 0 &&
                  !strcmp(json, big),
              "big back");
        free(TAKE_PTR(json));

        /* prefix listing, in key order, with the revisions of the writes */
        const char *keys[] = {"vol2/a", "vol1/c", "vol10/a", "vol1/a", "vol1/b"};
        int64_t revs[5];
        for (size_t i = 0; i < 5; i++)
                revs[i] = put_doc_key(s, "snapshot", keys[i]);
        put_doc_key(s, "snapshotx", "vol1/z");
        put_doc_key(s, "snap", "shot-vol1");
        check_docs(s, "snapshot", "vol1/", "vol1/a vol1/b vol1/c", __LINE__);
        check_docs(s, "snapshot", "vol1", "vol1/a vol1/b vol1/c vol10/a", __LINE__);
        check_docs(s, "snapshot", "", "vol1/a vol1/b vol1/c vol10/a vol2/a", __LINE__);
        check_docs(s, "snapshot", NULL, "vol1/a vol1/b vol1/c vol10/a vol2/a", __LINE__);
        check_docs(s, "snapshot", "vol3", "", __LINE__);
        check_docs(s, "snap", "", "shot-vol1", __LINE__);
        check_docs(s, "nothing", "", "", __LINE__);
        struct docs_seen d = {0};
        CHECK(vol_store_list_docs(s, "snapshot", "vol1/", doc_one, &d, E) == 3, "list");
        CHECK(d.revs[0] == revs[3] && d.revs[1] == revs[4] && d.revs[2] == revs[1],
              "list_docs revisions");
        struct docs_seen stop = {.stop_after = 2};
        CHECK(vol_store_list_docs(s, "snapshot", "", doc_one, &stop, E) == 2,
              "the callback stops list_docs");
}

static int count_docs(const char *key, const char *json, int64_t revision, void *userdata)
{
        return 0;
}

/* Session documents: a shared backend has them, a backend for one process
 * must not pretend to. Lapsing is `session` mode's business. */
static void contract_sessions(struct vol_store *s, const char *backend)
{
        if (!is_shared(s)) {
                CHECK(s->ops->renew_session == NULL, "%s has renew_session without put_session_doc",
                      backend);
                return;
        }
        CHECK(s->ops->renew_session != NULL, "put_session_doc without renew_session");
        CHECK(s->ops->renew_session(s, E) == -ENOENT, "renewal without a session");
        CHECK(s->ops->put_session_doc(s, "node-alive", "n1", "{\"n\":1}", 10, E) == 0,
              "session doc");
        CHECK(s->ops->put_session_doc(s, "node-alive", "n2", "{\"n\":2}", 10, E) == 0,
              "session doc");
        CHECK(s->ops->renew_session(s, E) == 0, "renewal");
        char *json = NULL;
        int64_t rev = 0;
        CHECK(vol_store_get_doc(s, "node-alive", "n1", &json, &rev, E) == 0 &&
                  !strcmp(json, "{\"n\":1}") && rev > 0,
              "get a session doc");
        free(json);
        CHECK(vol_store_list_docs(s, "node-alive", "", count_docs, NULL, E) == 2,
              "list session docs");
        /* a plain write of the key takes it out of the session, a removal removes it */
        CHECK(vol_store_remove_doc(s, "node-alive", "n2", VOL_REV_ANY, VOL_SYNC_FULL, E) == 0,
              "remove");
        CHECK(vol_store_list_docs(s, "node-alive", "", count_docs, NULL, E) == 1,
              "list session docs");
        /* a shared backend makes keys of kinds: one with a '/' would run into another's */
        CHECK(s->ops->put_session_doc(s, "bad/kind", "n1", "{}", 10, E) == -EINVAL,
              "a kind with a /");
        CHECK(vol_store_put_doc(s, "bad/kind", "k", "{}", VOL_REV_ANY, VOL_SYNC_FULL, NULL, E) ==
                  -EINVAL,
              "a kind with a /");
}

static int contract(const char *backend, const char *location)
{
        struct vol_store *s = open_store(backend, location);
        CHECK(vol_store_health(s, E) == 0, "health");
        contract_volumes(s);
        contract_lists(s);
        contract_list_json(s);
        contract_count(s);
        contract_pages(s);
        contract_tombstones(s);
        contract_docs(s);
        contract_sessions(s, backend);
        for (size_t i = 0; i < N_LISTED; i++)
                vol_volume_free(listed[i].v);
        vol_store_close(s);
        printf("contract held on %s\n", backend);
        return 0;
}

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

static int race(const char *backend, const char *location, unsigned n)
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

/* hung: the backend was frozen (SIGSTOP), not stopped: it accepts
 * connections and answers nothing, so requests time out, and a write that
 * timed out may still be applied once it thaws. */
static int down(const char *backend, const char *location, bool hung)
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
                struct seen sn = {0};
                CHECK(vol_store_list(s, NULL, NULL, 0, seen_one, &sn, E) == -EAGAIN && sn.n == 0,
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
                check_stored(s, vs[i], __LINE__);
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
                same_volume(nv, v, __LINE__);
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

static int session(const char *backend, const char *location, int ttl)
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
static int bigdocs(const char *backend, const char *location)
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

static int usage(void)
{
        fprintf(stderr, "usage: store-contract BACKEND LOCATION\n"
                        "       store-contract race BACKEND LOCATION N\n"
                        "       store-contract down|hung BACKEND LOCATION\n"
                        "       store-contract session BACKEND LOCATION TTL\n"
                        "       store-contract bigdocs BACKEND LOCATION\n");
        return 64;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3)
                return contract(argv[1], argv[2]);
        if (argc == 5 && !strcmp(argv[1], "race") && atoi(argv[4]) > 0)
                return race(argv[2], argv[3], (unsigned)atoi(argv[4]));
        if (argc == 4 && (!strcmp(argv[1], "down") || !strcmp(argv[1], "hung")))
                return down(argv[2], argv[3], !strcmp(argv[1], "hung"));
        if (argc == 4 && !strcmp(argv[1], "bigdocs"))
                return bigdocs(argv[2], argv[3]);
        if (argc == 5 && !strcmp(argv[1], "session") && atoi(argv[4]) > 0)
                return session(argv[2], argv[3], atoi(argv[4]));
        return usage();
}
