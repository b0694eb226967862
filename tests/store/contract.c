/* store-contract BACKEND LOCATION: every op of store.h on a fresh store
 * (see store_contract.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/filter.h"
#include "core/strbuf.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "harness.h"

static int check_view(const struct vol_volume *v, void *userdata)
{
        same_volume(userdata, v, HERE);
        return 7;
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
        check_stored(s, v, HERE);
        CHECK(vol_store_view(s, "alpha", check_view, v, E) == 7,
              "view returns what its callback does");

        /* expect_rev 0: must not exist */
        _cleanup_(vol_volume_freep) struct vol_volume *twin = full_volume("alpha", 99);
        CHECK(vol_store_put(s, twin, 0, VOL_SYNC_FULL, E) == -EEXIST, "second create");
        /* every backend words a refused write alike */
        CHECK(!strcmp(last_err.msg, "volume alpha already exists"), "message: %s", last_err.msg);
        check_stored(s, v, HERE);

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
        check_stored(s, v, HERE);
        _cleanup_(vol_volume_freep) struct vol_volume *stale = vol_volume_dup(v);
        vol_kvs_set(&stale->labels, "again", "yes");
        CHECK(vol_store_put(s, stale, rev1, VOL_SYNC_FULL, E) == -ESTALE,
              "update from an old revision");
        check_stored(s, v, HERE);

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
        check_stored(s, v, HERE);
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
        check_stored(s, bare, HERE);
        bare->status = VOL_STATUS_DELETING;
        CHECK(vol_store_put(s, bare, bare->revision, VOL_SYNC_FULL, E) == 0, "status change");
        check_stored(s, bare, HERE);
        CHECK(vol_store_remove(s, "bare", VOL_REV_ANY, VOL_SYNC_FULL, E) == 0, "remove any");
        CHECK(vol_store_remove(s, "alpha", v->revision, VOL_SYNC_FULL, E) == 0, "remove");

        if (is_shared(s)) { /* cluster mode: the node holding the bytes */
                _cleanup_(vol_volume_freep) struct vol_volume *n = full_volume("on-node", 4);
                n->node = xstrdup("node-a");
                CHECK(vol_store_put(s, n, 0, VOL_SYNC_FULL, E) == 0, "create with a node");
                check_stored(s, n, HERE);
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
        same_volume(l->v, v, HERE);
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
                       want_fn want, const char *where)
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
                        fail(where, "list", "[%s] after %s limit %zu: #%zu is %s, not %s",
                             filters ? filters : "", after ? after : "-", limit, k,
                             k < sn.n ? sn.names[k] : "missing", listed[i].name);
                k++;
        }
        if (r != (int)k || sn.n != k)
                fail(where, "list", "[%s] after %s limit %zu: returned %d, gave %zu, wanted %zu",
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
        check_list(s, NULL, NULL, 0, want_all, HERE);
        check_list(s, NULL, "v10", 0, want_all, HERE);
        check_list(s, NULL, "v105", 0, want_all, HERE); /* after a name nobody has */
        check_list(s, NULL, "a", 5, want_all, HERE);
        check_list(s, NULL, "zzz", 0, want_all, HERE); /* after the last */
        check_list(s, NULL, NULL, 1, want_all, HERE);
        check_list(s, "driver=tmpfs", NULL, 0, want_tmpfs, HERE);
        check_list(s, "tenant=acme", NULL, 0, want_acme, HERE);
        check_list(s, "tenant=acme", "v20", 2, want_acme, HERE);
        check_list(s, "tenant=globex env=prod app=web", NULL, 0, want_globex_prod, HERE);
        check_list(s, "label=tier=gold", NULL, 0, want_gold, HERE);
        check_list(s, "label=tier", NULL, 0, want_all, HERE);
        check_list(s, "dangling=false", NULL, 0, want_mounted, HERE);
        check_list(s, "dangling=true", "v05", 3, want_unmounted, HERE);
        check_list(s, "name=a", NULL, 0, want_a_dot, HERE);
        check_list(s, "driver=local label=tier=gold", NULL, 0, want_local_gold, HERE);

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
        check_stored(s, a, HERE);

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
                       const char *where)
{
        struct docs_seen d = {0};
        int r = vol_store_list_docs(s, kind, prefix, doc_one, &d, E);
        char got[512] = "";
        for (size_t i = 0; i < d.n; i++)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
                         d.keys[i]);
        if (r != (int)d.n || strcmp(got, want) != 0)
                fail(where, "list_docs", "%s/%s: returned %d: [%s], not [%s]", kind,
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
        check_docs(s, "snapshot", "vol1/", "vol1/a vol1/b vol1/c", HERE);
        check_docs(s, "snapshot", "vol1", "vol1/a vol1/b vol1/c vol10/a", HERE);
        check_docs(s, "snapshot", "", "vol1/a vol1/b vol1/c vol10/a vol2/a", HERE);
        check_docs(s, "snapshot", NULL, "vol1/a vol1/b vol1/c vol10/a vol2/a", HERE);
        check_docs(s, "snapshot", "vol3", "", HERE);
        check_docs(s, "snap", "", "shot-vol1", HERE);
        check_docs(s, "nothing", "", "", HERE);
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

int contract(const char *backend, const char *location)
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
        contract_relocate(s);
        for (size_t i = 0; i < N_LISTED; i++)
                vol_volume_free(listed[i].v);
        vol_store_close(s);
        printf("contract held on %s\n", backend);
        return 0;
}
