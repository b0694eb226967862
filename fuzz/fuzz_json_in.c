/* libFuzzer target: the request decoders of api/json_in.c, driven the way the
 * REST handlers of api/volumes.c drive them, then the core validators the
 * service applies to what they decoded (service/volumes.c, create_checked).
 *
 * An input is up to three request bodies separated by the byte 0x1e (the
 * record separator of RFC 7464 JSON text sequences), for
 *   POST /v1/volumes              {name, driver, options, labels, scope}
 *   POST /v1/volumes/{n}/mount    {id}   (unmount takes the same body)
 *   POST /v1/volumes/prune        {filters, all, dry_run}
 * in that order; an input without a separator is tried as all three. A body
 * the create path accepts becomes a volume, which is rendered as the API
 * renders it (core/volume_json.c) and matched against the prune body's
 * filters.
 *
 * Findings: sanitizer reports, leaks, and these broken contracts:
 * - every failure is a negative errno with a message in struct vol_error;
 * - a decoded string holds no NUL, a decoded map is sorted, unique and bounded;
 * - the name derived for a valid scope is a valid volume name;
 * - the rendered volume is JSON that gives back the name, driver, labels,
 *   options and scope it was made from; a copy renders the same;
 * - only the dangling filter cares whether a volume is mounted.
 * Links api/json_in.c and core/ only: no libmicrohttpd, no daemon. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_in.h"
#include "core/filter.h"
#include "core/names.h"
#include "core/strbuf.h"
#include "core/volume.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "fuzz/fuzz.h"

/* The daemon's default name prefix and driver (daemon/main.c). */
#define PREFIX "volman"
#define DEFAULT_DRIVER "local"

/* The field lists of api/volumes.c. */
static const char *const create_fields[] = {"name", "driver", "options", "labels", "scope", NULL};
static const char *const mount_fields[] = {"id", NULL};
static const char *const prune_fields[] = {"filters", "all", "dry_run", NULL};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        /* The same hash layout for every run, so that a crash replays. */
        json_object_seed(1);
        return 0;
}

/* A decoded map: sorted by key, keys unique, at most max entries, no NUL
 * inside (C strings, so only the lengths jansson reported can tell). */
static void check_map(const struct vol_kvs *m, size_t max)
{
        fuzz_check(m->n <= max);
        for (size_t i = 1; i < m->n; i++)
                fuzz_check(strcmp(m->items[i - 1].key, m->items[i].key) < 0);
}

/* A decoded string field: when present, the same bytes as the JSON string. */
static void check_string(json_t *body, const char *key, const char *s)
{
        json_t *j = json_object_get(body, key);
        if (!s) {
                fuzz_check(!j || json_is_null(j));
                return;
        }
        fuzz_check(json_is_string(j));
        fuzz_check(strlen(s) == json_string_length(j));
        fuzz_check(!strcmp(s, json_string_value(j)));
}

/* The scope decoder the API uses, and what it kept matches the JSON. */
static int parse_scope(json_t *body, struct vol_scope **ret, struct vol_error *err)
{
        int r = vol_json_scope(body, "scope", ret, err);
        if (r == 0 && *ret) {
                json_t *j = json_object_get(body, "scope");
                check_string(j, "tenant", (*ret)->tenant);
                check_string(j, "env", (*ret)->env);
                check_string(j, "app", (*ret)->app);
                check_string(j, "path", (*ret)->path);
        }
        return r;
}

/* A validator gives the same answer with and without a place for the message. */
static int validate_name(const char *name, struct vol_error *err)
{
        int r = vol_validate_name(name, err);
        fuzz_check(vol_validate_name(name, NULL) == r);
        return r;
}

/* service/volumes.c's create_checked up to the store: which volume a create
 * request would make. Returns 0 and *ret, or < 0 with err set. */
static int checked_volume(const char *name, const char *driver, struct vol_kvs *options,
                          struct vol_kvs *labels, struct vol_scope **scope, struct vol_volume **ret,
                          struct vol_error *err)
{
        int r;
        if (!driver)
                driver = DEFAULT_DRIVER;
        if ((r = vol_validate_driver_name(driver, err)) < 0 ||
            (r = vol_validate_options(options, err)) < 0 ||
            (r = vol_validate_labels(labels, err)) < 0)
                return r;
        if (*scope && (r = vol_validate_scope(*scope, err)) < 0)
                return r;
        if (name && (r = validate_name(name, err)) < 0)
                return r;
        char *derived = NULL;
        if (*scope) {
                r = vol_name_for_scope(PREFIX, *scope, &derived, err);
                /* The scope is valid and so is the prefix: a name must come out. */
                fuzz_check(r == 0);
                fuzz_check(validate_name(derived, NULL) == 0);
                fuzz_check(strlen(derived) <= VOL_NAME_MAX);
                fuzz_check(vol_name_is_scoped_form(PREFIX, derived));
                if (name && strcmp(name, derived)) {
                        r = vol_error_set(err, -EINVAL, "volume %s has a scope named %s", name,
                                          derived);
                        free(derived);
                        return r;
                }
        } else if (!name) {
                return vol_error_set(err, -EINVAL, "a volume needs a name or a scope");
        } else if (vol_name_is_scoped_form(PREFIX, name)) {
                return vol_error_set(err, -EINVAL, "volume name %s is reserved for scoped volumes",
                                     name);
        }
        struct vol_volume *v = vol_volume_new();
        memcpy(v->id, "00000000-0000-4000-8000-000000000000", sizeof(v->id));
        v->name = derived ? derived : xstrdup(name);
        v->driver = xstrdup(driver);
        v->options = *options;
        v->labels = *labels;
        *options = (struct vol_kvs)VOL_KVS_INIT;
        *labels = (struct vol_kvs)VOL_KVS_INIT;
        v->scope = *scope;
        *scope = NULL;
        v->status = VOL_STATUS_READY;
        v->mountpoint = xasprintf("/var/lib/volman/local/%s", v->id);
        *ret = v;
        return 0;
}

/* json holds the same string map as m. */
static void check_rendered_map(json_t *json, const struct vol_kvs *m)
{
        fuzz_check(json_is_object(json));
        fuzz_check(json_object_size(json) == m->n);
        for (size_t i = 0; i < m->n; i++) {
                json_t *val = json_object_get(json, m->items[i].key);
                fuzz_check(json_is_string(val));
                fuzz_check(!strcmp(json_string_value(val), m->items[i].value));
        }
}

static void check_rendered_string(json_t *obj, const char *key, const char *want)
{
        json_t *val = json_object_get(obj, key);
        fuzz_check(json_is_string(val));
        fuzz_check(json_string_length(val) == strlen(want));
        fuzz_check(!strcmp(json_string_value(val), want));
}

/* Renders v as the API does and reads it back with jansson. */
static void check_render(const struct vol_volume *v)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        const struct vol_volume_info info = {.persistent = true, .note = NULL};
        fuzz_check(vol_volume_to_json(&b, v, &info) == 0);
        json_error_t je;
        json_t *j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                fprintf(stderr, "rendered volume is not JSON: %s\n%s\n", je.text, b.data);
        fuzz_check(j != NULL);
        check_rendered_string(j, "name", v->name);
        check_rendered_string(j, "driver", v->driver);
        check_rendered_map(json_object_get(j, "labels"), &v->labels);
        check_rendered_map(json_object_get(j, "options"), &v->options);
        json_t *scope = json_object_get(j, "scope");
        if (v->scope) {
                check_rendered_string(scope, "tenant", v->scope->tenant);
                check_rendered_string(scope, "env", v->scope->env);
                check_rendered_string(scope, "app", v->scope->app);
                check_rendered_string(scope, "path", v->scope->path);
        } else {
                fuzz_check(json_is_null(scope));
        }
        json_t *mounts = json_object_get(j, "mounts");
        fuzz_check(json_is_array(mounts) && json_array_size(mounts) == 0);
        json_decref(j);

        /* A copy renders the same. */
        struct vol_volume *d = vol_volume_dup(v);
        struct vol_strbuf b2;
        vol_strbuf_init(&b2, 0);
        fuzz_check(vol_volume_to_json(&b2, d, &info) == 0);
        fuzz_check(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
        fuzz_check(vol_scope_equal(v->scope, d->scope));
        fuzz_check(vol_kvs_equal(&v->labels, &d->labels));
        fuzz_check(vol_kvs_equal(&v->options, &d->options));
        vol_strbuf_free(&b2);
        vol_volume_free(d);
        vol_strbuf_free(&b);
}

/* vol_api_create's decoding, then the checks of the service. */
static struct vol_volume *create(const uint8_t *data, size_t size)
{
        struct vol_error err = VOL_ERROR_INIT;
        json_t *body = NULL;
        const char *name = NULL, *driver = NULL;
        struct vol_kvs options = VOL_KVS_INIT, labels = VOL_KVS_INIT;
        struct vol_scope *scope = NULL;
        struct vol_volume *v = NULL;
        int r;
        if ((r = vol_json_parse_object((const char *)data, size, false, &body, &err)) < 0)
                goto out;
        fuzz_check(json_is_object(body));
        if ((r = vol_json_check_fields(body, create_fields, &err)) < 0 ||
            (r = vol_json_string(body, "name", &name, &err)) < 0 ||
            (r = vol_json_string(body, "driver", &driver, &err)) < 0)
                goto out;
        check_string(body, "name", name);
        check_string(body, "driver", driver);
        r = vol_json_string_map(body, "options", VOL_OPTIONS_MAX, &options, &err);
        check_map(&options, VOL_OPTIONS_MAX);
        if (r < 0)
                goto out;
        r = vol_json_string_map(body, "labels", VOL_LABELS_MAX, &labels, &err);
        check_map(&labels, VOL_LABELS_MAX);
        if (r < 0)
                goto out;
        if ((r = parse_scope(body, &scope, &err)) < 0)
                goto out;
        r = checked_volume(name, driver, &options, &labels, &scope, &v, &err);
out:
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        vol_kvs_free(&options);
        vol_kvs_free(&labels);
        vol_scope_free(scope);
        json_decref(body);
        if (v)
                check_render(v);
        return v;
}

/* vol_api_mount's decoding (parse_mount_id), then the service's check of the id. */
static void mount(const uint8_t *data, size_t size)
{
        struct vol_error err = VOL_ERROR_INIT;
        json_t *body = NULL;
        const char *id = NULL;
        int r;
        if ((r = vol_json_parse_object((const char *)data, size, false, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, mount_fields, &err)) < 0 ||
            (r = vol_json_string(body, "id", &id, &err)) < 0)
                goto out;
        check_string(body, "id", id);
        if (!id) {
                r = vol_error_set(&err, -EINVAL, "field id (the mount reference) is required");
                goto out;
        }
        r = vol_validate_mount_id(id, &err);
        fuzz_check(vol_validate_mount_id(id, NULL) == r);
out:
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        json_decref(body);
}

/* vol_api_prune's decoding up to the service call; with a volume, the
 * filters are matched against it, without and with a mount reference. */
static void prune(const uint8_t *data, size_t size, struct vol_volume *v)
{
        struct vol_error err = VOL_ERROR_INIT;
        json_t *body = NULL;
        struct vol_filter f;
        vol_filter_init(&f);
        bool all = false, dry_run = false;
        int r;
        if ((r = vol_json_parse_object((const char *)data, size, true, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, prune_fields, &err)) < 0 ||
            (r = vol_json_bool(body, "all", &all, &err)) < 0 ||
            (r = vol_json_bool(body, "dry_run", &dry_run, &err)) < 0)
                goto out;
        fuzz_check(all == json_is_true(json_object_get(body, "all")));
        fuzz_check(dry_run == json_is_true(json_object_get(body, "dry_run")));
        /* the API's own decoder; every string it took is a filter */
        if ((r = vol_json_filters(body, "filters", &f, &err)) < 0)
                goto out;
        json_t *filters = json_object_get(body, "filters");
        fuzz_check(vol_filter_is_empty(&f) == !(json_is_array(filters) && json_array_size(filters)));
        if (vol_filter_is_empty(&f) && !all) {
                r = vol_error_set(&err, -EINVAL, "prune needs at least one filter, or \"all\"");
                goto out;
        }
        if (v) {
                bool unmounted = vol_filter_match(&f, v);
                /* The same volume with one mount reference. */
                struct vol_mount_ref ref = {.id = (char *)"c0ffee", .since = 1700000000};
                struct vol_volume in_use = *v;
                in_use.n_mounts = 1;
                in_use.mounts = &ref;
                bool mounted = vol_filter_match(&f, &in_use);
                /* Only the dangling filter looks at mounts. */
                if (f.dangling < 0)
                        fuzz_check(unmounted == mounted);
                else
                        fuzz_check(!(unmounted && mounted));
        }
out:
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        vol_filter_free(&f);
        fuzz_check(vol_filter_is_empty(&f));
        json_decref(body);
}

#define SEPARATOR 0x1e

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!data) /* an empty input may come without a buffer */
                data = (const uint8_t *)"";
        /* bodies[i] and lens[i]: the create, mount and prune bodies. */
        const uint8_t *bodies[3] = {data, data, data};
        size_t lens[3] = {size, size, size};
        const uint8_t *sep = memchr(data, SEPARATOR, size);
        if (sep) {
                lens[0] = (size_t)(sep - data);
                bodies[1] = sep + 1;
                lens[1] = size - lens[0] - 1;
                bodies[2] = bodies[1];
                lens[2] = lens[1];
                sep = memchr(bodies[1], SEPARATOR, lens[1]);
                if (sep) {
                        lens[1] = (size_t)(sep - bodies[1]);
                        bodies[2] = sep + 1;
                        lens[2] = size - (size_t)(bodies[2] - data);
                }
        }
        struct vol_volume *v = create(bodies[0], lens[0]);
        mount(bodies[1], lens[1]);
        prune(bodies[2], lens[2], v);
        vol_volume_free(v);
        return 0;
}
