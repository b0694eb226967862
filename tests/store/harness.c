/* store-contract's harness: see harness.h. */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"

struct vol_error last_err;

void fail(const char *where, const char *cond, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "store-contract: FAILED at %s: %s: ", where, cond);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (last store error %d: %s)\n", last_err.code,
                last_err.msg ? last_err.msg : "none");
        exit(1);
}

int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct vol_store *open_store(const char *backend, const char *location)
{
        struct vol_store *s = NULL;
        int r = vol_store_open(backend, location, &s, E);
        CHECK(r == 0, "opening %s at %s: %d", backend, location, r);
        return s;
}

/* ---- volumes to store ---- */

void make_id(char out[37], unsigned n)
{
        snprintf(out, 37, "%08x-0000-4000-8000-%012x", n, n * 7919u);
}

struct vol_volume *volume(const char *name, const char *driver, unsigned n)
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

void set_scope(struct vol_volume *v, const char *tenant, const char *env, const char *app,
               const char *path)
{
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup(tenant);
        v->scope->env = xstrdup(env);
        v->scope->app = xstrdup(app);
        v->scope->path = xstrdup(path);
}

struct vol_volume *full_volume(const char *name, unsigned n)
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

bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Every field of want and got, the revision included. */
void same_volume(const struct vol_volume *want, const struct vol_volume *got, const char *where)
{
#define SAME(cond, what)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fail(where, #cond, "volume %s: %s differs", want->name, what);             \
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

void check_stored(struct vol_store *s, const struct vol_volume *want, const char *where)
{
        struct vol_volume *got = NULL;
        int r = vol_store_get(s, want->name, &got, E);
        if (r != 0)
                fail(where, "get", "volume %s: %d", want->name, r);
        same_volume(want, got, where);
        vol_volume_free(got);
}

bool is_shared(struct vol_store *s)
{
        return s->ops->put_session_doc != NULL;
}
