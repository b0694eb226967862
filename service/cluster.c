/* Cluster mode: this node's presence in the shared store, the other nodes,
 * placement and the cluster secret (docs/cluster.md).
 *
 * Each node keeps two documents in the store: a lasting record (kind "node":
 * name, address, draining), and a session document (kind "node-alive":
 * heartbeat, volume count, free space) that the store drops when the node's
 * session lapses (etcd: a lease of VOL_NODE_TTL seconds). A node is up while
 * its session document exists. Nothing here knows it is etcd. */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/names.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DOC_NODE "node"
#define DOC_ALIVE "node-alive"
#define SECRET_MIN 16
#define SECRET_MAX 4096
#define CLOCK_SKEW 60 /* seconds a signed call's time may differ from ours */

static int64_t mono_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

struct node_row {
        char *name, *address;
        bool draining, alive;
        uint64_t volumes, free_bytes;
        int64_t heartbeat;
};

struct node_table {
        struct node_row *rows;
        size_t n, cap;
};

static void node_table_free(struct node_table *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->rows[i].name);
                free(t->rows[i].address);
        }
        free(t->rows);
}

struct vol_cluster {
        char *node;
        char *address;
        unsigned char *secret; /* sodium_malloc'd */
        size_t secret_len;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stop;
        bool dirty; /* the volume count changed since the last heartbeat */
        /* monotonic seconds of the last renewal that worked; fenced past TTL */
        _Atomic int64_t renewed;
        _Atomic int64_t volumes;
        unsigned beats;
        /* the nodes as last read (by the heartbeat, or on demand when old) */
        pthread_mutex_t cache_lock;
        struct node_table cache;
        int64_t cache_at; /* monotonic seconds; 0: never read */
};

static int load_nodes(struct vol_service *s, struct node_table *t, struct vol_error *err);
static const char *row_state(const struct node_row *r);
static void node_table_free(struct node_table *t);

/* Reads the nodes and keeps them as the cache. */
static void refresh_cache(struct vol_service *s)
{
        struct vol_cluster *c = s->cluster;
        struct node_table t = {0};
        struct vol_error err = {0};
        if (load_nodes(s, &t, &err) < 0) {
                vol_error_clear(&err);
                node_table_free(&t);
                return; /* the store is away: the last view stands, and ages */
        }
        pthread_mutex_lock(&c->cache_lock);
        struct node_table old = c->cache;
        c->cache = t;
        c->cache_at = mono_now();
        pthread_mutex_unlock(&c->cache_lock);
        node_table_free(&old);
}

void vol_cluster_node_state(struct vol_service *s, const char *node, char out[16])
{
        struct vol_cluster *c = s->cluster;
        snprintf(out, 16, "down");
        if (!c)
                return;
        pthread_mutex_lock(&c->cache_lock);
        bool old = mono_now() - c->cache_at > VOL_NODE_BEAT;
        pthread_mutex_unlock(&c->cache_lock);
        if (old)
                refresh_cache(s);
        pthread_mutex_lock(&c->cache_lock);
        for (size_t i = 0; i < c->cache.n; i++)
                if (!strcmp(c->cache.rows[i].name, node))
                        snprintf(out, 16, "%s", row_state(&c->cache.rows[i]));
        pthread_mutex_unlock(&c->cache_lock);
}

bool vol_cluster_is_local(const struct vol_service *s, const char *node)
{
        return !s->cluster || !node || !strcmp(node, s->cluster->node);
}

const char *vol_service_node(const struct vol_service *s)
{
        return s->cluster ? s->cluster->node : NULL;
}

void vol_cluster_count(struct vol_service *s, int delta)
{
        struct vol_cluster *c = s->cluster;
        if (!c)
                return;
        atomic_fetch_add(&c->volumes, delta);
        /* say so now, not at the next beat: placement counts on it */
        pthread_mutex_lock(&c->lock);
        c->dirty = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
}

int vol_cluster_fence(struct vol_service *s, struct vol_error *err)
{
        if (!s->cluster)
                return 0;
        int64_t quiet = mono_now() - atomic_load(&s->cluster->renewed);
        if (quiet <= VOL_NODE_TTL)
                return 0;
        return vol_error_set(err, -EAGAIN,
                             "node %s has not reached the metadata store for %llds, so its session has "
                             "lapsed: it changes nothing until the store is back",
                             s->cluster->node, (long long)quiet);
}

/* --- the secret ------------------------------------------------------------ */

static int read_secret(struct vol_cluster *c, const char *path, struct vol_error *err)
{
        if (!path)
                return vol_error_set(err, -EINVAL, "--node needs --cluster-secret-file (the same file on every node)");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return vol_error_set(err, -errno, "cluster secret %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return vol_error_set(err, -EINVAL, "cluster secret %s is not a regular file", path);
        if (st.st_mode & 077)
                return vol_error_set(err, -EPERM, "cluster secret %s is readable by others than its owner "
                                     "(mode %04o): chmod 600 it", path, (unsigned)(st.st_mode & 07777));
        if (st.st_size > SECRET_MAX)
                return vol_error_set(err, -E2BIG, "cluster secret %s is over %d bytes", path, SECRET_MAX);
        c->secret = sodium_malloc(SECRET_MAX);
        if (!c->secret)
                return vol_error_set(err, -ENOMEM, "no memory for the cluster secret");
        ssize_t n = read(fd, c->secret, SECRET_MAX);
        if (n < 0)
                return vol_error_set(err, -errno, "reading cluster secret %s: %m", path);
        while (n > 0 && (c->secret[n - 1] == '\n' || c->secret[n - 1] == '\r' || c->secret[n - 1] == ' '))
                n--; /* `echo SECRET > FILE` on every node gives one secret */
        if (n < SECRET_MIN)
                return vol_error_set(err, -EINVAL, "cluster secret %s holds %zd bytes: at least %d are needed "
                                     "(head -c 32 /dev/urandom | base64 > FILE)", path, n, SECRET_MIN);
        c->secret_len = (size_t)n;
        sodium_mprotect_readonly(c->secret);
        return 0;
}

static void mac_hex(const struct vol_cluster *c, int64_t time, const char *method, const char *target,
                    const char *identity, char out[VOL_CLUSTER_MAC_HEX])
{
        crypto_auth_hmacsha256_state st;
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        char head[32];
        int n = snprintf(head, sizeof(head), "%lld\n", (long long)time);
        crypto_auth_hmacsha256_init(&st, c->secret, c->secret_len);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)head, (size_t)n);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)method, strlen(method));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)target, strlen(target));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)identity, strlen(identity));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_bin2hex(out, VOL_CLUSTER_MAC_HEX, mac, sizeof(mac));
        sodium_memzero(&st, sizeof(st));
}

int vol_service_cluster_sign(struct vol_service *s, int64_t time, const char *method, const char *target,
                             const char *identity, char out[VOL_CLUSTER_MAC_HEX])
{
        if (!s->cluster)
                return -ENOTSUP;
        mac_hex(s->cluster, time, method, target, identity, out);
        return 0;
}

int vol_service_cluster_verify(struct vol_service *s, int64_t t, const char *method, const char *target,
                               const char *identity, const char *mac, struct vol_error *err)
{
        if (!s->cluster)
                return vol_error_set(err, -EACCES, "this volmand is not a cluster node");
        int64_t now = time(NULL);
        if (t < now - CLOCK_SKEW || t > now + CLOCK_SKEW)
                return vol_error_set(err, -EACCES, "node call signed at %lld, %llds from this node's clock "
                                     "(at most %d s)", (long long)t, (long long)(t - now), CLOCK_SKEW);
        char want[VOL_CLUSTER_MAC_HEX];
        mac_hex(s->cluster, t, method, target, identity, want);
        if (strlen(mac) != VOL_CLUSTER_MAC_HEX - 1 || sodium_memcmp(want, mac, VOL_CLUSTER_MAC_HEX - 1) != 0)
                return vol_error_set(err, -EACCES, "node call with a wrong signature (another cluster secret?)");
        return 0;
}

/* --- presence ---------------------------------------------------------------- */

static uint64_t free_bytes(const char *root)
{
        struct statvfs sv;
        return statvfs(root, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
}

static int count_own(const struct vol_volume *v, void *userdata)
{
        struct vol_service *s = userdata;
        if (v->node && !strcmp(v->node, s->cluster->node))
                atomic_fetch_add(&s->cluster->volumes, 1);
        return 0;
}

static int put_alive(struct vol_service *s, struct vol_error *err)
{
        struct vol_cluster *c = s->cluster;
        _cleanup_(vol_strbuf_free) struct vol_strbuf b = {0};
        vol_strbuf_puts(&b, "{\"name\":");
        vol_strbuf_json_string(&b, c->node);
        vol_strbuf_puts(&b, ",\"address\":");
        vol_strbuf_json_string(&b, c->address);
        vol_strbuf_printf(&b, ",\"volumes\":%lld,\"free_bytes\":%llu,\"heartbeat\":%lld}",
                          (long long)atomic_load(&c->volumes), (unsigned long long)free_bytes(s->root),
                          (long long)time(NULL));
        return s->store->ops->put_session_doc(s->store, DOC_ALIVE, c->node, b.data, VOL_NODE_TTL, err);
}

/* Writes this node's lasting record, keeping its draining flag. */
static int put_record(struct vol_service *s, struct vol_error *err)
{
        struct vol_cluster *c = s->cluster;
        for (int tries = 0; tries < 8; tries++) {
                _cleanup_free_ char *old = NULL;
                int64_t rev = 0;
                int r = vol_store_get_doc(s->store, DOC_NODE, c->node, &old, &rev, err);
                if (r < 0 && r != -ENOENT)
                        return r;
                bool draining = false;
                int64_t joined = time(NULL);
                if (r == 0) {
                        json_t *j = json_loads(old, 0, NULL);
                        draining = json_is_true(json_object_get(j, "draining"));
                        if (json_is_integer(json_object_get(j, "joined")))
                                joined = json_integer_value(json_object_get(j, "joined"));
                        json_decref(j);
                }
                vol_error_clear(err);
                _cleanup_(vol_strbuf_free) struct vol_strbuf b = {0};
                vol_strbuf_puts(&b, "{\"name\":");
                vol_strbuf_json_string(&b, c->node);
                vol_strbuf_puts(&b, ",\"address\":");
                vol_strbuf_json_string(&b, c->address);
                vol_strbuf_printf(&b, ",\"draining\":%s,\"joined\":%lld,\"last_seen\":%lld}",
                                  draining ? "true" : "false", (long long)joined, (long long)time(NULL));
                r = vol_store_put_doc(s->store, DOC_NODE, c->node, b.data, r == 0 ? rev : 0, VOL_SYNC_FULL,
                                      NULL, err);
                if (r != -ESTALE && r != -EEXIST)
                        return r;
                vol_error_clear(err);
        }
        return vol_error_set(err, -EAGAIN, "node %s: its record kept changing under it", c->node);
}

static void beat(struct vol_service *s)
{
        struct vol_cluster *c = s->cluster;
        struct vol_error err = {0};
        if (c->beats++ % 15 == 0) {
                /* every 30 s: recount (creates and removes count in between),
                 * and note when this node was last seen, for when it is down */
                atomic_store(&c->volumes, 0);
                if (vol_store_list(s->store, NULL, NULL, 0, count_own, s, &err) < 0 || put_record(s, &err) < 0)
                        vol_error_clear(&err);
        }
        int r = s->store->ops->renew_session(s->store, &err);
        if (r == -ENOENT) {
                vol_service_log("warning", "node %s: its session in the metadata store had lapsed; joining again",
                                c->node);
                vol_error_clear(&err);
                r = put_record(s, &err);
        }
        if (r == 0)
                r = put_alive(s, &err);
        if (r == 0) {
                int64_t before = atomic_exchange(&c->renewed, mono_now());
                if (mono_now() - before > VOL_NODE_TTL)
                        vol_service_log("info", "node %s: reached the metadata store again", c->node);
        } else {
                vol_service_log("warning", "node %s: heartbeat: %s", c->node, vol_error_message(&err));
        }
        vol_error_clear(&err);
        refresh_cache(s);
}

static void *heartbeat(void *arg)
{
        struct vol_service *s = arg;
        struct vol_cluster *c = s->cluster;
        pthread_mutex_lock(&c->lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += VOL_NODE_BEAT;
        while (!c->stop) {
                int r = c->dirty ? 0 : pthread_cond_timedwait(&c->wake, &c->lock, &until);
                if (c->stop)
                        break;
                bool due = r == ETIMEDOUT;
                c->dirty = false;
                pthread_mutex_unlock(&c->lock);
                if (due) {
                        beat(s);
                        clock_gettime(CLOCK_MONOTONIC, &until);
                        until.tv_sec += VOL_NODE_BEAT;
                } else {
                        struct vol_error err = {0};
                        put_alive(s, &err); /* the new count; a failure waits for the beat */
                        vol_error_clear(&err);
                }
                pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

static int check_address(const char *a, struct vol_error *err)
{
        if (!a)
                return vol_error_set(err, -EINVAL, "--node needs --advertise https://ADDR:PORT (where the other "
                                     "nodes reach this one's --listen)");
        if (strncmp(a, "https://", 8) != 0 || !a[8] || strlen(a) > 255)
                return vol_error_set(err, -EINVAL, "--advertise %s: an https://ADDR:PORT URL", a);
        for (const char *p = a + 8; *p; p++)
                if (*p <= ' ' || *p == '/' || *p == '?' || *p == '#' || *p == '@' || *p == 0x7f)
                        return vol_error_set(err, -EINVAL, "--advertise %s: an https://ADDR:PORT URL, with no "
                                             "path, user or spaces", a);
        return 0;
}

int vol_cluster_open(struct vol_service *s, const struct vol_service_config *cfg, struct vol_error *err)
{
        if (!cfg->node)
                return 0;
        int r;
        if ((r = vol_validate_scope_part("node name", cfg->node, err)) < 0)
                return r;
        if (!s->store->ops->put_session_doc || !s->store->ops->renew_session)
                return vol_error_set(err, -EINVAL, "--node needs a store the nodes share (--store "
                                     "etcd://HOST:PORT); the %s store belongs to one volmand",
                                     s->store->ops->name);
        if ((r = check_address(cfg->advertise, err)) < 0)
                return r;
        struct vol_cluster *c = xcalloc(1, sizeof(*c));
        c->node = xstrdup(cfg->node);
        c->address = xstrdup(cfg->advertise);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_init(&c->cache_lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->wake, &ca);
        pthread_condattr_destroy(&ca);
        s->cluster = c;
        if ((r = read_secret(c, cfg->cluster_secret_file, err)) < 0)
                return r;
        if (vol_store_list(s->store, NULL, NULL, 0, count_own, s, err) < 0 || put_record(s, err) < 0 ||
            put_alive(s, err) < 0)
                return vol_error_wrap(err, "node %s joining the cluster: ", c->node);
        atomic_store(&c->renewed, mono_now());
        c->beats = 1;
        if ((r = -pthread_create(&c->thread, NULL, heartbeat, s)) < 0)
                return vol_error_set(err, r, "starting the heartbeat: %s", strerror(-r));
        c->thread_started = true;
        vol_service_log("info", "node %s joined the cluster as %s", c->node, c->address);
        return 0;
}

void vol_cluster_close(struct vol_service *s)
{
        struct vol_cluster *c = s->cluster;
        if (!c)
                return;
        if (c->thread_started) {
                pthread_mutex_lock(&c->lock);
                c->stop = true;
                pthread_cond_signal(&c->wake);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->thread, NULL);
        }
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->cache_lock);
        node_table_free(&c->cache);
        pthread_cond_destroy(&c->wake);
        if (c->secret)
                sodium_free(c->secret);
        free(c->node);
        free(c->address);
        free(c);
        s->cluster = NULL;
}

/* --- the nodes ------------------------------------------------------------- */

static struct node_row *row_of(struct node_table *t, const char *name)
{
        for (size_t i = 0; i < t->n; i++)
                if (!strcmp(t->rows[i].name, name))
                        return &t->rows[i];
        if (t->n == t->cap) {
                t->cap = t->cap ? 2 * t->cap : 8;
                t->rows = xrealloc(t->rows, t->cap * sizeof(*t->rows));
        }
        struct node_row *r = &t->rows[t->n++];
        *r = (struct node_row){.name = xstrdup(name)};
        return r;
}

static uint64_t json_u64(json_t *j, const char *key)
{
        json_t *v = json_object_get(j, key);
        return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int take_record(const char *key, const char *json, int64_t rev, void *userdata)
{
        json_t *j = json_loads(json, 0, NULL);
        if (!j)
                return 0; /* a record this node cannot read: listed by name only */
        struct node_row *r = row_of(userdata, key);
        const char *a = json_string_value(json_object_get(j, "address"));
        if (a && !r->address)
                r->address = xstrdup(a);
        r->draining = json_is_true(json_object_get(j, "draining"));
        if (!r->alive)
                r->heartbeat = (int64_t)json_u64(j, "last_seen");
        json_decref(j);
        return 0;
}

static int take_alive(const char *key, const char *json, int64_t rev, void *userdata)
{
        json_t *j = json_loads(json, 0, NULL);
        if (!j)
                return 0;
        struct node_row *r = row_of(userdata, key);
        r->alive = true;
        const char *a = json_string_value(json_object_get(j, "address"));
        if (a) {
                free(r->address);
                r->address = xstrdup(a);
        }
        r->volumes = json_u64(j, "volumes");
        r->free_bytes = json_u64(j, "free_bytes");
        r->heartbeat = (int64_t)json_u64(j, "heartbeat");
        json_decref(j);
        return 0;
}

static int row_cmp(const void *a, const void *b)
{
        return strcmp(((const struct node_row *)a)->name, ((const struct node_row *)b)->name);
}

static int load_nodes(struct vol_service *s, struct node_table *t, struct vol_error *err)
{
        int r = vol_store_list_docs(s->store, DOC_NODE, "", take_record, t, err);
        if (r >= 0)
                r = vol_store_list_docs(s->store, DOC_ALIVE, "", take_alive, t, err);
        if (r < 0)
                return vol_error_wrap(err, "reading the cluster's nodes: ");
        qsort(t->rows, t->n, sizeof(*t->rows), row_cmp);
        return 0;
}

static const char *row_state(const struct node_row *r)
{
        return !r->alive ? "down" : r->draining ? "draining" : "up";
}

int vol_service_nodes(struct vol_service *s, const struct vol_caller *caller, vol_service_node_cb cb,
                      void *userdata, struct vol_error *err)
{
        if (!vol_caller_is_admin(caller))
                return vol_error_set(err, -EPERM, "only an admin sees the cluster's nodes");
        if (!s->cluster)
                return vol_error_set(err, -ENOTSUP, "this volmand is a single node, not part of a cluster "
                                     "(volmand --node)");
        _cleanup_(node_table_free) struct node_table t = {0};
        int r = load_nodes(s, &t, err);
        for (size_t i = 0; r >= 0 && i < t.n; i++) {
                struct node_row *n = &t.rows[i];
                struct vol_node_info info = {
                        .name = n->name,
                        .address = n->address ? n->address : "",
                        .state = row_state(n),
                        .self = !strcmp(n->name, s->cluster->node),
                        .volumes = n->volumes,
                        .free_bytes = n->free_bytes,
                        .heartbeat = n->heartbeat,
                };
                r = cb(&info, userdata);
        }
        return r < 0 ? r : 0;
}

int vol_service_node_drain(struct vol_service *s, const struct vol_caller *caller, const char *name,
                           bool draining, struct vol_error *err)
{
        if (!vol_caller_is_admin(caller))
                return vol_error_set(err, -EPERM, "only an admin drains nodes");
        if (!s->cluster)
                return vol_error_set(err, -ENOTSUP, "this volmand is a single node, not part of a cluster");
        int r;
        if ((r = vol_cluster_fence(s, err)) < 0)
                return r;
        for (int tries = 0; tries < 8; tries++) {
                _cleanup_free_ char *old = NULL;
                int64_t rev = 0;
                if ((r = vol_store_get_doc(s->store, DOC_NODE, name, &old, &rev, err)) < 0)
                        return r == -ENOENT ? vol_error_set(err, -ENOENT, "no node %s in this cluster", name) : r;
                json_t *j = json_loads(old, 0, NULL);
                if (!j)
                        return vol_error_set(err, -EIO, "node %s: its record cannot be read", name);
                json_object_set_new(j, "draining", json_boolean(draining));
                _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                r = vol_store_put_doc(s->store, DOC_NODE, name, text, rev, VOL_SYNC_FULL, NULL, err);
                if (r != -ESTALE)
                        return r;
                vol_error_clear(err);
        }
        return vol_error_set(err, -EAGAIN, "node %s: its record kept changing", name);
}

int vol_service_place(struct vol_service *s, const struct vol_caller *caller, const char *want,
                      char **ret_node, char **ret_address, struct vol_error *err)
{
        *ret_node = *ret_address = NULL;
        if (!s->cluster)
                return want ? vol_error_set(err, -ENOTSUP, "node %s: this volmand is a single node, not part "
                                            "of a cluster", want)
                            : 0;
        _cleanup_(node_table_free) struct node_table t = {0};
        int r = load_nodes(s, &t, err);
        if (r < 0)
                return r;
        struct node_row *best = NULL;
        for (size_t i = 0; i < t.n; i++) {
                struct node_row *n = &t.rows[i];
                if (want) {
                        if (strcmp(n->name, want) != 0)
                                continue;
                        if (!n->alive)
                                return vol_error_set(err, -EAGAIN, "node %s is down: nothing can be placed there", want);
                        if (n->draining)
                                return vol_error_set(err, -EBUSY, "node %s is draining: nothing new is placed there",
                                                     want);
                        best = n;
                        break;
                }
                if (!n->alive || n->draining || !n->address)
                        continue;
                if (!best || n->volumes < best->volumes ||
                    (n->volumes == best->volumes && n->free_bytes > best->free_bytes))
                        best = n;
        }
        if (!best)
                return want ? vol_error_set(err, -ENOENT, "no node %s in this cluster", want)
                            : vol_error_set(err, -EAGAIN, "no node is up and taking volumes");
        *ret_node = xstrdup(best->name);
        if (strcmp(best->name, s->cluster->node) != 0)
                *ret_address = xstrdup(best->address);
        return 0;
}

int vol_service_node_address(struct vol_service *s, const char *name, char **ret_address, struct vol_error *err)
{
        *ret_address = NULL;
        if (!s->cluster)
                return vol_error_set(err, -ENOTSUP, "node %s: this volmand is a single node, not part of a cluster",
                                     name);
        if (!strcmp(name, s->cluster->node))
                return 0;
        _cleanup_free_ char *json = NULL;
        int r = vol_store_get_doc(s->store, DOC_ALIVE, name, &json, NULL, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                return vol_error_set(err, -EAGAIN, "node %s is down (or not in this cluster)", name);
        }
        if (r < 0)
                return r;
        json_t *j = json_loads(json, 0, NULL);
        const char *a = json_string_value(json_object_get(j, "address"));
        *ret_address = a ? xstrdup(a) : NULL;
        json_decref(j);
        return *ret_address ? 0 : vol_error_set(err, -EIO, "node %s: no address in its record", name);
}

/* The address of node name, which holds volume, when it is up (caller
 * frees), or -EAGAIN saying the volume is unavailable. */
static int up_address(struct vol_service *s, const char *name, const char *volume, char **ret,
                      struct vol_error *err)
{
        int r = vol_service_node_address(s, name, ret, err);
        if (r == -EAGAIN) {
                vol_error_clear(err);
                return vol_error_set(err, -EAGAIN, "volume %s is unavailable: its node %s is down", volume, name);
        }
        return r;
}

int vol_service_owner(struct vol_service *s, const struct vol_caller *caller, const char *name,
                      char **ret_node, char **ret_address, struct vol_error *err)
{
        *ret_node = *ret_address = NULL;
        if (!s->cluster)
                return 0;
        struct vol_volume *v = NULL;
        int r = vol_store_get(s->store, name, &v, err);
        if (r == 0 && !vol_auth_may_see(caller, v))
                r = vol_error_set(err, -ENOENT, "no such volume: %s", name);
        if (r < 0) {
                vol_volume_free(v);
                return r;
        }
        if (!vol_cluster_is_local(s, v->node)) {
                *ret_node = xstrdup(v->node);
                r = up_address(s, v->node, name, ret_address, err);
                if (r < 0) {
                        free(*ret_node);
                        *ret_node = NULL;
                }
        }
        vol_volume_free(v);
        return r;
}
