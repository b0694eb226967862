/* The etcd metadata store: the store of a cluster's nodes, shared by every
 * volmand that names the same etcd and prefix.
 *
 * Keys under /PREFIX/ (PREFIX "volman" unless the location names one):
 *   v/<name>         a volume record (etcd_codec.h)
 *   t/<id>           a tombstone
 *   d/<kind>/<key>   a document: its JSON text as it was given
 * A record's revision is etcd's mod_revision of its key. Every conditional
 * write is one etcd transaction that compares revisions and, when the
 * comparison fails, reads the key in the same transaction, so that "gone"
 * (-ENOENT) and "changed" (-ESTALE) are told apart without a race.
 *
 * Writes take no VOL_SYNC_* into account: etcd answers a write only once it
 * is committed to a quorum of members, each of which has fsync'd it to its
 * write-ahead log, so every acknowledged write is already as durable as
 * VOL_SYNC_FULL asks.
 *
 * The HTTP side (libcurl, loaded on first use; the handle pool; endpoints)
 * is etcd_client.c; the record codec and the location parser etcd_codec.c. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/strbuf.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "conflict.h"
#include "etcd_client.h"
#include "etcd_codec.h"
#include "store.h"

#define PAGE_KEYS 512   /* keys in one range answer */
#define TXN_OPS_MAX 100 /* etcd's default --max-txn-ops is 128 */

struct etcd_store {
        struct vol_store base;
        struct vol_etcd *client;
        char *root; /* "/PREFIX/" */
        pthread_mutex_t lease_lock;
        int64_t lease; /* the session's lease; 0: none */
};

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* Prefixes err's message (err may be NULL) with context; evaluates to r. */
#define WRAP(r, err, ...) (vol_error_wrap(err, __VA_ARGS__), (r))

static struct etcd_store *store_of(struct vol_store *base)
{
        return (struct etcd_store *)base;
}

/* The key of a volume (space "v") or a tombstone ("t"). */
static char *key_of(const struct etcd_store *s, const char *space, const char *name)
{
        return xasprintf("%s%s/%s", s->root, space, name);
}

static int check_kind(const char *kind, struct vol_error *err)
{
        if (!*kind || strchr(kind, '/'))
                return vol_error_set(err, -EINVAL,
                                     "metadata store: document kind \"%s\" is empty or holds a '/'",
                                     kind);
        return 0;
}

static char *doc_key(const struct etcd_store *s, const char *kind, const char *key)
{
        return xasprintf("%sd/%s/%s", s->root, kind, key);
}

/* The first key after every key that starts with prefix (etcd's range_end). */
static char *prefix_end(const char *prefix)
{
        char *end = xstrdup(prefix);
        size_t n = strlen(end);
        while (n && (unsigned char)end[n - 1] == 0xff)
                end[--n] = 0;
        if (n)
                end[n - 1]++;
        return end;
}

/* ---- requests ---- */

static json_t *b64(const char *s)
{
        return vol_etcd_b64(s, strlen(s));
}

static json_t *op_put(const char *key, const char *value)
{
        return json_pack("{s:{s:o, s:o}}", "requestPut", "key", b64(key), "value", b64(value));
}

static json_t *op_delete(const char *key)
{
        return json_pack("{s:{s:o}}", "requestDeleteRange", "key", b64(key));
}

/* A comparison of key's target revision ("CREATE", "MOD") with rev. */
static json_t *compare(const char *key, const char *target, const char *result, int64_t rev)
{
        json_t *c =
            json_pack("{s:s, s:o, s:s}", "target", target, "key", b64(key), "result", result);
        json_object_set_new(c, !strcmp(target, "MOD") ? "mod_revision" : "create_revision",
                            json_integer(rev));
        return c;
}

/* What a conditional write of key asks (store.h): expect_rev > 0, its
 * revision must be that; VOL_REV_ANY, anything goes (a put) or it must
 * exist (a delete); expect_rev 0, it must not exist (a put), or, for a
 * delete, never holds (as sqlite: -ENOENT when absent, else -ESTALE). */
static int write_compares(json_t *cmp, const char *key, int64_t expect_rev, bool delete,
                          struct vol_error *err)
{
        if (expect_rev < VOL_REV_ANY)
                return vol_error_set(err, -EINVAL,
                                     "metadata store: expected revision %lld is not one",
                                     (long long)expect_rev);
        if (delete)
                json_array_append_new(cmp, compare(key, "CREATE", "GREATER", 0));
        if (expect_rev == 0 && !delete)
                json_array_append_new(cmp, compare(key, "CREATE", "EQUAL", 0));
        else if (expect_rev != VOL_REV_ANY)
                json_array_append_new(cmp, compare(key, "MOD", "EQUAL", expect_rev));
        return 0;
}

/* Runs the transaction: if cmp holds, success. When it does not, key is read
 * in the same transaction: -EEXIST for a put that expected nothing, else
 * -ENOENT when key is absent and -ESTALE when it has another revision (not
 * messages: the caller words them). Returns 0 and *ret_rev (the revision of
 * what was written), or the error. */
static int txn(struct etcd_store *s, json_t *cmp, json_t *success, const char *key, bool put_new,
               int64_t *ret_rev, struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *req =
            json_pack("{s:o, s:o, s:[{s:{s:o}}]}", "compare", cmp, "success", success, "failure",
                      "requestRange", "key", b64(key));
        _cleanup_(json_decrefp) json_t *ans = NULL;
        int r = vol_etcd_call(s->client, "/v3/kv/txn", req, VOL_ETCD_WRITE, &ans, err);
        if (r < 0)
                return r;
        if (json_is_true(json_object_get(ans, "succeeded"))) {
                int64_t rev = vol_etcd_int(json_object_get(ans, "header"), "revision");
                if (rev <= 0)
                        return vol_error_set(
                            err, -EIO, "metadata store: etcd answered a write without a revision");
                if (ret_rev)
                        *ret_rev = rev;
                return 0;
        }
        if (put_new)
                return -EEXIST;
        json_t *range =
            json_object_get(json_array_get(json_object_get(ans, "responses"), 0), "response_range");
        return json_array_size(json_object_get(range, "kvs")) ? -ESTALE : -ENOENT;
}

/* The revision-conditional write of key: success ops (stolen) under the
 * compares write_compares makes. */
static int cas(struct etcd_store *s, const char *key, int64_t expect_rev, bool delete,
               json_t *success, int64_t *ret_rev, struct vol_error *err)
{
        json_t *cmp = json_array();
        int r = write_compares(cmp, key, expect_rev, delete, err);
        if (r < 0) {
                json_decref(cmp);
                json_decref(success);
                return r;
        }
        return txn(s, cmp, success, key, !delete &&expect_rev == 0, ret_rev, err);
}

/* The one key-value at key: 0 and *ret, -ENOENT (no message) when absent. */
static int get_one(struct etcd_store *s, const char *key, struct vol_etcd_kv *ret,
                   struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *req = json_pack("{s:o}", "key", b64(key));
        _cleanup_(json_decrefp) json_t *ans = NULL;
        int r = vol_etcd_call(s->client, "/v3/kv/range", req, VOL_ETCD_READ, &ans, err);
        if (r < 0)
                return r;
        json_t *kvs = json_object_get(ans, "kvs");
        if (!json_array_size(kvs))
                return -ENOENT;
        return vol_etcd_kv_decode(json_array_get(kvs, 0), ret, err);
}

/* Called once per key-value of a walk: 0 to go on, > 0 to stop, < 0 to fail. */
typedef int (*walk_cb)(const struct vol_etcd_kv *kv, void *userdata, struct vol_error *err);

/* Every key-value in [start, end), in key order, read page by page at one
 * revision (what the first page saw), so that a walk is one snapshot as a
 * list in one SQLite transaction is. A page past the answer's bound is asked
 * again for a quarter of the keys. Returns what the last cb returned (>= 0),
 * or < 0. */
static int walk(struct etcd_store *s, const char *start, size_t start_len, const char *end,
                walk_cb cb, void *userdata, struct vol_error *err)
{
        _cleanup_free_ char *from = xmalloc(start_len + 1);
        memcpy(from, start, start_len);
        from[start_len] = 0;
        size_t from_len = start_len;
        int64_t snapshot = 0, page = PAGE_KEYS;
        for (;;) {
                _cleanup_(json_decrefp) json_t *req =
                    json_pack("{s:o, s:o, s:I}", "key", vol_etcd_b64(from, from_len), "range_end",
                              b64(end), "limit", (json_int_t)page);
                if (snapshot)
                        json_object_set_new(req, "revision", json_integer(snapshot));
                _cleanup_(json_decrefp) json_t *ans = NULL;
                int r = vol_etcd_call(s->client, "/v3/kv/range", req, VOL_ETCD_READ, &ans, err);
                if (r == -E2BIG && page > 1) {
                        /* large documents (up to 1.4 MB): a quarter, so that
                         * few answers are cut at the bound and asked again */
                        page = page > 4 ? page / 4 : 1;
                        continue;
                }
                if (r < 0)
                        return r;
                if (!snapshot)
                        snapshot = vol_etcd_int(json_object_get(ans, "header"), "revision");
                size_t i;
                json_t *j;
                json_array_foreach(json_object_get(ans, "kvs"), i, j)
                {
                        struct vol_etcd_kv kv = {0};
                        if ((r = vol_etcd_kv_decode(j, &kv, err)) == 0)
                                r = cb(&kv, userdata, err);
                        if (r == 0) {
                                /* the next page starts just after this key */
                                free(from);
                                from = xmalloc(kv.key_len + 2);
                                memcpy(from, kv.key, kv.key_len);
                                from[kv.key_len] = 0;
                                from_len = kv.key_len + 1;
                        }
                        vol_etcd_kv_clear(&kv);
                        if (r != 0)
                                return r;
                }
                if (!json_is_true(json_object_get(ans, "more")) || !i)
                        return 0;
        }
}

/* Walks every key that starts with prefix (from after it, if given). */
static int walk_prefix(struct etcd_store *s, const char *prefix, const char *after, walk_cb cb,
                       void *userdata, struct vol_error *err)
{
        _cleanup_free_ char *end = prefix_end(prefix);
        if (!after || !*after)
                return walk(s, prefix, strlen(prefix), end, cb, userdata, err);
        /* the first key after prefix+after is prefix+after+"\0" */
        _cleanup_free_ char *start = xasprintf("%s%s", prefix, after);
        return walk(s, start, strlen(start) + 1, end, cb, userdata, err);
}

/* ---- volumes ---- */

static int decode_volume(struct etcd_store *s, const struct vol_etcd_kv *kv,
                         struct vol_volume **ret, struct vol_error *err)
{
        size_t skip = strlen(s->root) + 2; /* "v/" */
        const char *name = kv->key_len > skip ? kv->key + skip : "";
        int r = vol_etcd_volume_decode(kv->key, kv->value, kv->value_len, name, ret, err);
        if (r == 0)
                (*ret)->revision = kv->mod_revision;
        return r;
}

/* The volume called name: 0 and *ret, or -ENOENT with a message. */
static int read_volume(struct etcd_store *s, const char *name, struct vol_volume **ret,
                       struct vol_error *err)
{
        _cleanup_free_ char *key = key_of(s, "v", name);
        struct vol_etcd_kv kv = {0};
        int r = get_one(s, key, &kv, err);
        if (r == -ENOENT)
                return vol_error_set(err, r, "volume %s not found", name);
        if (r < 0)
                return r;
        r = decode_volume(s, &kv, ret, err);
        vol_etcd_kv_clear(&kv);
        return r;
}

static int etcd_get(struct vol_store *base, const char *name, struct vol_volume **ret,
                    struct vol_error *err)
{
        return read_volume(store_of(base), name, ret, err);
}

static int etcd_view(struct vol_store *base, const char *name, vol_store_list_cb cb, void *userdata,
                     struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = read_volume(store_of(base), name, &v, err);
        return r < 0 ? r : cb(v, userdata);
}

/* What a list walk carries. */
struct listing {
        struct etcd_store *s;
        const struct vol_filter *f; /* NULL: every volume */
        size_t limit, count;
        vol_store_list_cb cb;
        vol_store_json_cb json_cb;
        void *userdata;
        struct vol_strbuf json;
};

static int list_one(const struct vol_etcd_kv *kv, void *userdata, struct vol_error *err)
{
        struct listing *l = userdata;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = decode_volume(l->s, kv, &v, err);
        if (r < 0)
                return r;
        if (l->f && !vol_filter_match(l->f, v))
                return 0;
        l->count++;
        if (l->cb) {
                r = l->cb(v, l->userdata);
        } else {
                l->json.len = 0;
                if (vol_volume_to_json(&l->json, v, NULL) < 0)
                        return vol_error_set(err, -E2BIG, "volume %s: its JSON is too large",
                                             v->name);
                r = l->json_cb(v->name, v->driver, l->json.data, l->json.len, l->userdata);
        }
        return r != 0 ? r : l->limit && l->count >= l->limit;
}

static int list_walk(struct listing *l, const char *after, struct vol_error *err)
{
        _cleanup_free_ char *prefix = key_of(l->s, "v", "");
        int r = walk_prefix(l->s, prefix, after, list_one, l, err);
        vol_strbuf_free(&l->json);
        return r < 0 ? r : (int)l->count;
}

static int etcd_list(struct vol_store *base, const struct vol_filter *f, const char *after,
                     size_t limit, vol_store_list_cb cb, void *userdata, struct vol_error *err)
{
        struct listing l = {.s = store_of(base),
                            .f = f && !vol_filter_is_empty(f) ? f : NULL,
                            .limit = limit,
                            .cb = cb,
                            .userdata = userdata};
        return list_walk(&l, after, err);
}

static int etcd_list_json(struct vol_store *base, const struct vol_filter *f, const char *after,
                          size_t limit, vol_store_json_cb cb, void *userdata, struct vol_error *err)
{
        if (f && (f->name || f->n_labels || f->dangling >= 0))
                return vol_error_set(err, -EINVAL,
                                     "list_json takes only driver, tenant, env and app filters");
        struct listing l = {.s = store_of(base),
                            .f = f && !vol_filter_is_empty(f) ? f : NULL,
                            .limit = limit,
                            .json_cb = cb,
                            .userdata = userdata};
        vol_strbuf_init(&l.json, 0);
        return list_walk(&l, after, err);
}

/* The counts of a count: one entry per (driver, status). */
struct counting {
        size_t n;
        struct {
                char *driver;
                enum vol_status status;
                uint64_t n;
        } * items;
};

static int count_one(const struct vol_volume *v, void *userdata)
{
        struct counting *c = userdata;
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].status == v->status && !strcmp(c->items[i].driver, v->driver)) {
                        c->items[i].n++;
                        return 0;
                }
        c->items = xrealloc(c->items, (c->n + 1) * sizeof(*c->items));
        c->items[c->n].driver = xstrdup(v->driver);
        c->items[c->n].status = v->status;
        c->items[c->n++].n = 1;
        return 0;
}

/* A list of every volume, counted (etcd has no GROUP BY). */
static int etcd_count(struct vol_store *base, vol_store_count_cb cb, void *userdata,
                      struct vol_error *err)
{
        struct counting c = {0, NULL};
        struct listing l = {.s = store_of(base), .cb = count_one, .userdata = &c};
        int r = list_walk(&l, NULL, err);
        for (size_t i = 0; i < c.n; i++) {
                if (r >= 0)
                        cb(c.items[i].driver, c.items[i].status, c.items[i].n, userdata);
                free(c.items[i].driver);
        }
        free(c.items);
        return r < 0 ? r : 0;
}

static int write_error(int r, const char *name, struct vol_error *err)
{
        if (vol_store_is_conflict(r))
                return vol_store_volume_conflict(r, name, err);
        return WRAP(r, err, "writing volume %s: ", name);
}

/* The conditional write of v's record with ops (stolen), which put it; sets
 * v->revision. */
static int cas_volume(struct etcd_store *s, const char *key, struct vol_volume *v, int64_t expect_rev, json_t *ops,
                      struct vol_error *err)
{
        int64_t rev;
        int r = cas(s, key, expect_rev, false, ops, &rev, err);
        if (r < 0)
                return write_error(r, v->name, err);
        v->revision = rev;
        return 0;
}

static int etcd_put(struct vol_store *base, struct vol_volume *v, int64_t expect_rev,
                    enum vol_store_sync sync, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        if (sync == VOL_SYNC_NOWAIT)
                return -EWOULDBLOCK; /* every write is a network call */
        int r = vol_validate_name(v->name, err); /* it becomes a key */
        if (r < 0)
                return r;
        _cleanup_free_ char *value = NULL;
        if ((r = vol_etcd_volume_encode(v, &value, err)) < 0)
                return r;
        _cleanup_free_ char *key = key_of(s, "v", v->name);
        return cas_volume(s, key, v, expect_rev, json_pack("[o]", op_put(key, value)), err);
}

static int etcd_remove(struct vol_store *base, const char *name, int64_t expect_rev,
                       enum vol_store_sync sync, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        _cleanup_free_ char *key = key_of(s, "v", name);
        int r = cas(s, key, expect_rev, true, json_pack("[o]", op_delete(key)), NULL, err);
        return r < 0 ? write_error(r, name, err) : 0;
}

static int etcd_retire(struct vol_store *base, const struct vol_volume *v, int64_t expect_rev,
                       enum vol_store_sync sync, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        struct vol_tombstone t = {.name = v->name,
                                  .driver = v->driver,
                                  .mountpoint = v->mountpoint,
                                  .options = v->options,
                                  .retired_at = (int64_t)time(NULL),
                                  .node = v->node};
        memcpy(t.id, v->id, sizeof(t.id));
        _cleanup_free_ char *value = NULL;
        int r = vol_etcd_tombstone_encode(&t, &value, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *key = key_of(s, "v", v->name), *tkey = key_of(s, "t", v->id);
        /* one transaction: the record goes and the tombstone comes, or neither */
        json_t *ops = json_pack("[o, o]", op_delete(key), op_put(tkey, value));
        r = cas(s, key, expect_rev, true, ops, NULL, err);
        return r < 0 ? write_error(r, v->name, err) : 0;
}

static int etcd_bury(struct vol_store *base, const struct vol_tombstone *t, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        _cleanup_free_ char *value = NULL;
        int r = vol_etcd_tombstone_encode(t, &value, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *tkey = key_of(s, "t", t->id);
        r = txn(s, json_array(), json_pack("[o]", op_put(tkey, value)), tkey, false, NULL, err);
        return r < 0 ? WRAP(r, err, "recording the tombstone of %s: ", t->id) : 0;
}

static int etcd_relocate(struct vol_store *base, struct vol_volume *v, int64_t expect_rev,
                         const struct vol_tombstone *old, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        if (expect_rev <= 0)
                return vol_error_set(err, -EINVAL, "metadata store: a relocation needs the record's revision");
        _cleanup_free_ char *value = NULL, *tvalue = NULL;
        int r = vol_etcd_volume_encode(v, &value, err);
        if (r < 0 || (r = vol_etcd_tombstone_encode(old, &tvalue, err)) < 0)
                return r;
        _cleanup_free_ char *key = key_of(s, "v", v->name), *told = key_of(s, "t", old->id),
                            *tnew = key_of(s, "t", v->id);
        /* one transaction: the record names its new storage, the old storage
         * is buried and the new one no longer is, or none of it */
        return cas_volume(s, key, v, expect_rev,
                          json_pack("[o, o, o]", op_put(key, value), op_put(told, tvalue), op_delete(tnew)), err);
}

/* ---- tombstones ---- */

struct tombstones {
        size_t n;
        struct vol_etcd_tombstone **items;
};

static int collect_tombstone(const struct vol_etcd_kv *kv, void *userdata, struct vol_error *err)
{
        struct tombstones *ts = userdata;
        struct vol_etcd_tombstone *t;
        int r = vol_etcd_tombstone_decode(kv->key, kv->value, kv->value_len, &t, err);
        if (r < 0)
                return r;
        ts->items = xrealloc(ts->items, (ts->n + 1) * sizeof(*ts->items));
        ts->items[ts->n++] = t;
        return 0;
}

static int older(const void *a, const void *b)
{
        const struct vol_tombstone *x = &(*(struct vol_etcd_tombstone *const *)a)->t,
                                   *y = &(*(struct vol_etcd_tombstone *const *)b)->t;
        if (x->retired_at != y->retired_at)
                return x->retired_at < y->retired_at ? -1 : 1;
        return strcmp(x->id, y->id);
}

static int etcd_list_tombstones(struct vol_store *base, vol_store_tombstone_cb cb, void *userdata,
                                struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        struct tombstones ts = {0, NULL};
        _cleanup_free_ char *prefix = key_of(s, "t", "");
        /* keys are in id order: oldest first needs them all, sorted */
        int r = walk_prefix(s, prefix, NULL, collect_tombstone, &ts, err);
        if (r >= 0 && ts.n)
                qsort(ts.items, ts.n, sizeof(*ts.items), older);
        int count = 0;
        for (size_t i = 0; i < ts.n && r >= 0; i++) {
                count++;
                int c = cb(&ts.items[i]->t, userdata);
                if (c != 0) {
                        r = c < 0 ? c : 0;
                        break;
                }
        }
        for (size_t i = 0; i < ts.n; i++)
                vol_etcd_tombstone_free(ts.items[i]);
        free(ts.items);
        return r < 0 ? r : count;
}

static int etcd_drop_tombstones(struct vol_store *base, const char *const *ids, size_t n,
                                enum vol_store_sync sync, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        /* one transaction per TXN_OPS_MAX: each whole or not at all; a drop
         * done twice is no error, so a failed one can simply be asked again */
        for (size_t done = 0; done < n;) {
                json_t *ops = json_array();
                for (size_t i = 0; i < TXN_OPS_MAX && done < n; i++, done++) {
                        _cleanup_free_ char *key = key_of(s, "t", ids[done]);
                        json_array_append_new(ops, op_delete(key));
                }
                _cleanup_(json_decrefp) json_t *req = json_pack("{s:o}", "success", ops);
                _cleanup_(json_decrefp) json_t *ans = NULL;
                int r = vol_etcd_call(s->client, "/v3/kv/txn", req, VOL_ETCD_WRITE, &ans, err);
                if (r < 0)
                        return WRAP(r, err, "dropping %zu tombstones: ", n);
        }
        return 0;
}

/* ---- documents ---- */

static int doc_error(int r, const char *kind, const char *key, struct vol_error *err)
{
        if (vol_store_is_conflict(r))
                return vol_store_doc_conflict(r, kind, key, err);
        return WRAP(r, err, "%s %s: ", kind, key);
}

static int etcd_get_doc(struct vol_store *base, const char *kind, const char *key, char **ret_json,
                        int64_t *ret_rev, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        int r = check_kind(kind, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = doc_key(s, kind, key);
        struct vol_etcd_kv kv = {0};
        r = get_one(s, k, &kv, err);
        if (r == -ENOENT)
                return vol_error_set(err, r, "%s %s not found", kind, key);
        if (r < 0)
                return r;
        *ret_json = TAKE_PTR(kv.value);
        if (ret_rev)
                *ret_rev = kv.mod_revision;
        vol_etcd_kv_clear(&kv);
        return 0;
}

static int etcd_put_doc(struct vol_store *base, const char *kind, const char *key, const char *json,
                        int64_t expect_rev, enum vol_store_sync sync, int64_t *ret_rev,
                        struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        int r = check_kind(kind, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = doc_key(s, kind, key);
        r = cas(s, k, expect_rev, false, json_pack("[o]", op_put(k, json)), ret_rev, err);
        return r < 0 ? doc_error(r, kind, key, err) : 0;
}

static int etcd_remove_doc(struct vol_store *base, const char *kind, const char *key,
                           int64_t expect_rev, enum vol_store_sync sync, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        int r = check_kind(kind, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *k = doc_key(s, kind, key);
        r = cas(s, k, expect_rev, true, json_pack("[o]", op_delete(k)), NULL, err);
        if (r == -ESTALE && expect_rev == 0)
                r = -EEXIST; /* as sqlite answers (a volume's remove says -ESTALE) */
        return r < 0 ? doc_error(r, kind, key, err) : 0;
}

struct doc_listing {
        size_t skip; /* bytes of "/PREFIX/d/KIND/" */
        vol_store_doc_cb cb;
        void *userdata;
        int count;
};

static int list_doc(const struct vol_etcd_kv *kv, void *userdata, struct vol_error *err)
{
        struct doc_listing *l = userdata;
        l->count++;
        return l->cb(kv->key + l->skip, kv->value, kv->mod_revision, l->userdata);
}

static int etcd_list_docs(struct vol_store *base, const char *kind, const char *prefix,
                          vol_store_doc_cb cb, void *userdata, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        int r = check_kind(kind, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *start = doc_key(s, kind, prefix ? prefix : "");
        struct doc_listing l = {strlen(s->root) + 3 + strlen(kind), cb, userdata, 0};
        r = walk_prefix(s, start, NULL, list_doc, &l, err);
        return r < 0 ? r : l.count;
}

/* ---- the session: documents under a lease ---- */

/* The session's lease, granted with ttl_s if there is none. */
static int session_lease(struct etcd_store *s, int ttl_s, int64_t *ret, struct vol_error *err)
{
        pthread_mutex_lock(&s->lease_lock);
        int r = 0;
        if (!s->lease) {
                _cleanup_(json_decrefp) json_t *req = json_pack("{s:I}", "TTL", (json_int_t)ttl_s);
                _cleanup_(json_decrefp) json_t *ans = NULL;
                r = vol_etcd_call(s->client, "/v3/lease/grant", req, VOL_ETCD_WRITE, &ans, err);
                if (r == 0 && (s->lease = vol_etcd_int(ans, "ID")) <= 0) {
                        s->lease = 0;
                        r = vol_error_set(err, -EIO,
                                          "metadata store: etcd granted a lease without an ID");
                }
        }
        *ret = s->lease;
        pthread_mutex_unlock(&s->lease_lock);
        return r;
}

/* Forgets lease, if it is still the session's: the next put starts anew. */
static void session_lapsed(struct etcd_store *s, int64_t lease)
{
        pthread_mutex_lock(&s->lease_lock);
        if (s->lease == lease)
                s->lease = 0;
        pthread_mutex_unlock(&s->lease_lock);
}

static int etcd_put_session_doc(struct vol_store *base, const char *kind, const char *key,
                                const char *json, int ttl_s, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        int r = check_kind(kind, err);
        if (r < 0)
                return r;
        if (ttl_s < 1)
                return vol_error_set(err, -EINVAL, "metadata store: a session of %d seconds",
                                     ttl_s);
        _cleanup_free_ char *k = doc_key(s, kind, key);
        /* twice at most: a lease that lapsed since it was granted is replaced once */
        for (int attempt = 0;; attempt++) {
                int64_t lease;
                if ((r = session_lease(s, ttl_s, &lease, err)) < 0)
                        return WRAP(r, err, "%s %s: starting a session: ", kind, key);
                _cleanup_(json_decrefp) json_t *req =
                    json_pack("{s:o, s:o, s:I}", "key", b64(k), "value", b64(json), "lease",
                              (json_int_t)lease);
                _cleanup_(json_decrefp) json_t *ans = NULL;
                r = vol_etcd_call(s->client, "/v3/kv/put", req, VOL_ETCD_WRITE, &ans, err);
                if (r != -ENOENT || attempt)
                        return r < 0 ? WRAP(r, err, "%s %s: ", kind, key) : 0;
                session_lapsed(s, lease); /* "requested lease not found" */
        }
}

static int etcd_renew_session(struct vol_store *base, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        pthread_mutex_lock(&s->lease_lock);
        int64_t lease = s->lease;
        pthread_mutex_unlock(&s->lease_lock);
        if (!lease)
                return vol_error_set(err, -ENOENT, "metadata store: there is no session to renew");
        _cleanup_(json_decrefp) json_t *req = json_pack("{s:I}", "ID", (json_int_t)lease);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        int r = vol_etcd_call(s->client, "/v3/lease/keepalive", req, VOL_ETCD_READ, &ans, err);
        if (r < 0)
                return r;
        /* a lease that lapsed is answered with no TTL (the gateway omits 0) */
        if (vol_etcd_int(json_object_get(ans, "result"), "TTL") <= 0) {
                session_lapsed(s, lease);
                return vol_error_set(
                    err, -ENOENT,
                    "metadata store: the session (etcd lease %lld) had lapsed: its documents are "
                    "gone",
                    (long long)lease);
        }
        return 0;
}

/* ---- open / close / health ---- */

static int etcd_health(struct vol_store *base, struct vol_error *err)
{
        struct etcd_store *s = store_of(base);
        /* a linearizable read: it needs a leader and a quorum, as a write does */
        _cleanup_(json_decrefp) json_t *req =
            json_pack("{s:o, s:b}", "key", b64(s->root), "count_only", 1);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        return vol_etcd_call(s->client, "/v3/kv/range", req, VOL_ETCD_READ, &ans, err);
}

static void etcd_close(struct vol_store *base)
{
        struct etcd_store *s = store_of(base);
        if (!s)
                return;
        vol_etcd_client_free(s->client);
        pthread_mutex_destroy(&s->lease_lock);
        free(s->root);
        free(s);
}

static int etcd_open(const char *location, struct vol_store **ret, struct vol_error *err)
{
        struct vol_etcd_location loc;
        int r = vol_etcd_location_parse(location, &loc, err);
        if (r < 0)
                return r;
        struct etcd_store *s = xcalloc(1, sizeof(*s));
        s->base.ops = &vol_store_etcd_ops;
        s->root = xasprintf("/%s/", loc.prefix);
        pthread_mutex_init(&s->lease_lock, NULL);
        r = vol_etcd_client_new(&loc, &s->client, err);
        vol_etcd_location_free(&loc);
        if (r >= 0)
                r = etcd_health(&s->base, err);
        if (r < 0) {
                etcd_close(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

const struct vol_store_ops vol_store_etcd_ops = {
    .name = "etcd",
    .open = etcd_open,
    .close = etcd_close,
    .get = etcd_get,
    .view = etcd_view,
    .list = etcd_list,
    .list_json = etcd_list_json,
    .put = etcd_put,
    .remove = etcd_remove,
    .retire = etcd_retire,
    .list_tombstones = etcd_list_tombstones,
    .drop_tombstones = etcd_drop_tombstones,
    .health = etcd_health,
    .count = etcd_count,
    .get_doc = etcd_get_doc,
    .put_doc = etcd_put_doc,
    .remove_doc = etcd_remove_doc,
    .list_docs = etcd_list_docs,
    .put_session_doc = etcd_put_session_doc,
    .renew_session = etcd_renew_session,
        .bury = etcd_bury,
        .relocate = etcd_relocate,
};
