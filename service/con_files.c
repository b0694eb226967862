/* The files put for the configuration and context areas (docs/con.md).
 *
 * Each file is a record (size, checksum, time) in DOC_CON_FILE under its key,
 * {tenant}/{env}/{app or "*"}/{area}/{name}, and its bytes (base64) in
 * DOC_CON_FILE_DATA, so that a list reads records only. The bytes live in one
 * of two slots, {key}@a and {key}@b, and the record names the slot that is
 * current: a put writes the other slot, then the record (the one write that
 * switches to the new version), then drops the old slot. A crash or a failed
 * write anywhere leaves the record and its bytes as they were, or both new;
 * a slot left behind is overwritten by the next put and dropped with the
 * name. Secrets (secrets.c) are kept the same way. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "con.h"
#include "con_internal.h"
#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DOC_CON_FILE "con-file"
#define DOC_CON_FILE_DATA "con-file-data"

char *vol_con_level_key(const struct vol_app_ref *ref)
{
        return xasprintf("%s/%s/%s/", ref->tenant, ref->env, ref->app ? ref->app : "*");
}

int vol_con_check_level(const struct vol_caller *caller, const struct vol_app_ref *ref, bool write,
                        struct vol_error *err)
{
        enum vol_layer layer = ref->app ? VOL_LAYER_APP : VOL_LAYER_ENV;
        int r = vol_app_check_ref(layer, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, layer, ref, write, err)) < 0)
                return r;
        return 0;
}

char *vol_con_base64(const void *data, size_t len)
{
        size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
        char *out = xmalloc(n);
        sodium_bin2base64(out, n, data, len, sodium_base64_VARIANT_ORIGINAL);
        return out;
}

int vol_con_unbase64(const char *text, unsigned char *out, size_t max, size_t *ret_len)
{
        return sodium_base642bin(out, max, text, strlen(text), NULL, ret_len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) < 0
                       ? -EIO
                       : 0;
}

/* ---- a record and its bytes, in two slots ---- */

/* The record's current slot ('a' or 'b'), from its JSON; 0 when it names none. */
static char record_slot(const char *record)
{
        json_auto_t *o = json_loads(record, 0, NULL);
        const char *slot = json_string_value(json_object_get(o, "slot"));
        return slot && (!strcmp(slot, "a") || !strcmp(slot, "b")) ? slot[0] : 0;
}

int vol_con_pair_put(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                     const char *data_json, const char *record_fields, const char *failpoint, struct vol_error *err)
{
        _cleanup_free_ char *old = NULL;
        char old_slot = 0;
        if (vol_store_get_doc(s->store, kind, key, &old, NULL, NULL) == 0)
                old_slot = record_slot(old);
        char slot = old_slot == 'a' ? 'b' : 'a';
        _cleanup_free_ char *data_key = xasprintf("%s@%c", key, slot);
        int r = vol_store_put_doc(s->store, data_kind, data_key, data_json, VOL_REV_ANY, VOL_SYNC_FULL, NULL, err);
        if (r < 0)
                return r;
        if ((r = vol_failpoint(failpoint)) < 0)
                return vol_error_set(err, r, "failpoint %s", failpoint);
        _cleanup_free_ char *record = xasprintf("{%s,\"slot\":\"%c\"}", record_fields, slot);
        if ((r = vol_store_put_doc(s->store, kind, key, record, VOL_REV_ANY, VOL_SYNC_FULL, NULL, err)) < 0)
                return r;
        if (old_slot) {
                /* the old version: no longer read; a crash here leaves it for the next put */
                _cleanup_free_ char *old_key = xasprintf("%s@%c", key, old_slot);
                struct vol_error ignored = VOL_ERROR_INIT;
                vol_store_remove_doc(s->store, data_kind, old_key, VOL_REV_ANY, VOL_SYNC_ORDERED, &ignored);
                vol_error_clear(&ignored);
        }
        return 0;
}

int vol_con_pair_get(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                     char **ret_record, char **ret_data_json, struct vol_error *err)
{
        _cleanup_free_ char *record = NULL;
        int r = vol_store_get_doc(s->store, kind, key, &record, NULL, err);
        if (r < 0)
                return r;
        char slot = record_slot(record);
        if (!slot)
                return vol_error_set(err, -EIO, "%s: its stored record names no version of its bytes", key);
        _cleanup_free_ char *data_key = xasprintf("%s@%c", key, slot);
        if ((r = vol_store_get_doc(s->store, data_kind, data_key, ret_data_json, NULL, err)) < 0) {
                if (r == -ENOENT) {
                        vol_error_clear(err);
                        return vol_error_set(err, -EIO, "%s: its stored bytes are missing", key);
                }
                return r;
        }
        if (ret_record)
                *ret_record = TAKE_PTR(record);
        return 0;
}

int vol_con_pair_remove(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                        struct vol_error *err)
{
        int r = vol_store_remove_doc(s->store, kind, key, VOL_REV_ANY, VOL_SYNC_FULL, err);
        if (r < 0)
                return r;
        for (const char *slot = "ab"; *slot; slot++) {
                _cleanup_free_ char *data_key = xasprintf("%s@%c", key, *slot);
                struct vol_error ignored = VOL_ERROR_INIT;
                vol_store_remove_doc(s->store, data_kind, data_key, VOL_REV_ANY, VOL_SYNC_ORDERED, &ignored);
                vol_error_clear(&ignored);
        }
        return 0;
}

static int check_file_args(const struct vol_caller *caller, const struct vol_app_ref *ref, enum vol_con_area area,
                           const char *name, bool write, struct vol_error *err)
{
        int r = vol_con_check_level(caller, ref, write, err);
        if (r < 0)
                return r;
        if (!vol_con_area_has_files(area))
                return vol_error_set(err, -EINVAL,
                                     "files are put for the configuration and context areas, not %s",
                                     vol_con_area_name(area));
        return name ? vol_con_validate_name("file", name, err) : 0;
}

struct level_sum {
        enum vol_con_area area;
        const char *skip; /* the name being replaced */
        uint64_t bytes;
        size_t files;
};

static int sum_one(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct level_sum *sum = userdata;
        const char *name = strrchr(key, '/');
        if (name && !strcmp(name + 1, sum->skip))
                return 0;
        json_auto_t *o = json_loads(json, 0, NULL);
        sum->bytes += (uint64_t)json_integer_value(json_object_get(o, "size"));
        sum->files++;
        return 0;
}

int vol_con_file_put(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                     enum vol_con_area area, const char *name, const void *data, size_t len,
                     struct vol_con_file_info *ret, struct vol_error *err)
{
        int r = check_file_args(caller, ref, area, name, true, err);
        if (r < 0)
                return r;
        if (len > VOL_CON_FILE_MAX)
                return vol_error_set(err, -E2BIG, "file %s has %zu bytes; the most is %u (1 MiB)", name, len,
                                     VOL_CON_FILE_MAX);
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *prefix = xasprintf("%s%s/", level, vol_con_area_name(area));
        _cleanup_free_ char *key = xasprintf("%s%s", prefix, name);
        pthread_mutex_t *lock = vol_name_lock(&s->app_locks, prefix);
        struct level_sum sum = {area, name, 0, 0};
        r = vol_store_list_docs(s->store, DOC_CON_FILE, prefix, sum_one, &sum, err);
        if (r >= 0 && sum.files + 1 > VOL_CON_AREA_FILES_MAX)
                r = vol_error_set(err, -E2BIG, "the %s area already has %zu files here; the most is %d",
                                  vol_con_area_name(area), sum.files, VOL_CON_AREA_FILES_MAX);
        else if (r >= 0 && sum.bytes + len > VOL_CON_AREA_BYTES_MAX)
                r = vol_error_set(err, -E2BIG,
                                  "the %s area would hold %llu bytes here with this file; the most is %u (16 MiB)",
                                  vol_con_area_name(area), (unsigned long long)(sum.bytes + len),
                                  VOL_CON_AREA_BYTES_MAX);
        struct vol_con_file_info info;
        memset(&info, 0, sizeof(info));
        info.area = area;
        snprintf(info.name, sizeof(info.name), "%s", name);
        info.size = len;
        info.updated = (int64_t)time(NULL);
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, data, len);
        sodium_bin2hex(info.sha256, sizeof(info.sha256), digest, sizeof(digest));
        if (r >= 0) {
                _cleanup_free_ char *b64 = vol_con_base64(data, len);
                _cleanup_free_ char *djson = xasprintf("{\"data\":\"%s\"}", b64);
                _cleanup_free_ char *fields = xasprintf("\"size\":%zu,\"updated\":%lld,\"sha256\":\"%s\"", len,
                                                        (long long)info.updated, info.sha256);
                r = vol_con_pair_put(s, DOC_CON_FILE, DOC_CON_FILE_DATA, key, djson, fields, "con-file-put-between",
                                     err);
        }
        vol_name_unlock(lock);
        _cleanup_free_ char *what = xasprintf("put file %s (%zu bytes)", key, len);
        vol_service_audit(caller, what, r, err);
        if (r < 0)
                return r;
        vol_event_simple(s, caller, "file", "put", key, ref->tenant);
        if (ret)
                *ret = info;
        return 0;
}

int vol_con_file_get(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                     enum vol_con_area area, const char *name, char **ret_data, size_t *ret_len,
                     struct vol_error *err)
{
        int r = check_file_args(caller, ref, area, name, false, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *key = xasprintf("%s%s/%s", level, vol_con_area_name(area), name);
        _cleanup_free_ char *djson = NULL;
        if ((r = vol_con_pair_get(s, DOC_CON_FILE, DOC_CON_FILE_DATA, key, NULL, &djson, err)) < 0) {
                if (r == -ENOENT) {
                        vol_error_clear(err);
                        return vol_error_set(err, -ENOENT, "file %s of the %s area not found at %s", name,
                                             vol_con_area_name(area), level);
                }
                return r;
        }
        json_auto_t *o = json_loads(djson, 0, NULL);
        const char *b64 = json_string_value(json_object_get(o, "data"));
        if (!b64)
                return vol_error_set(err, -EIO, "file %s: its stored bytes are unreadable", name);
        size_t max = strlen(b64) / 4 * 3 + 3;
        char *data = xmalloc(max + 1);
        size_t n = 0;
        if (vol_con_unbase64(b64, (unsigned char *)data, max, &n) < 0) {
                free(data);
                return vol_error_set(err, -EIO, "file %s: its stored bytes are unreadable", name);
        }
        data[n] = 0;
        *ret_data = data;
        *ret_len = n;
        return 0;
}

int vol_con_file_remove(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                        enum vol_con_area area, const char *name, struct vol_error *err)
{
        int r = check_file_args(caller, ref, area, name, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *key = xasprintf("%s%s/%s", level, vol_con_area_name(area), name);
        r = vol_con_pair_remove(s, DOC_CON_FILE, DOC_CON_FILE_DATA, key, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                return vol_error_set(err, -ENOENT, "file %s of the %s area not found at %s", name,
                                     vol_con_area_name(area), level);
        }
        _cleanup_free_ char *what = xasprintf("remove file %s", key);
        vol_service_audit(caller, what, r, err);
        if (r == 0)
                vol_event_simple(s, caller, "file", "remove", key, ref->tenant);
        return r;
}

struct list_ctx {
        size_t prefix_len;
        vol_con_file_cb cb;
        void *userdata;
};

static int list_one(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct list_ctx *l = userdata;
        const char *rest = key + l->prefix_len; /* area/name */
        const char *slash = strchr(rest, '/');
        if (!slash)
                return 0;
        struct vol_con_file_info f;
        memset(&f, 0, sizeof(f));
        _cleanup_free_ char *area = xstrndup(rest, (size_t)(slash - rest));
        int a = vol_con_area_from_name(area, NULL);
        if (a < 0)
                return 0;
        f.area = (enum vol_con_area)a;
        snprintf(f.name, sizeof(f.name), "%s", slash + 1);
        json_auto_t *o = json_loads(json, 0, NULL);
        f.size = (uint64_t)json_integer_value(json_object_get(o, "size"));
        f.updated = json_integer_value(json_object_get(o, "updated"));
        const char *sum = json_string_value(json_object_get(o, "sha256"));
        snprintf(f.sha256, sizeof(f.sha256), "%s", sum ? sum : "");
        return l->cb(&f, l->userdata);
}

int vol_con_file_list(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                      int area, vol_con_file_cb cb, void *userdata, struct vol_error *err)
{
        int r = vol_con_check_level(caller, ref, false, err);
        if (r < 0)
                return r;
        if (area >= 0 && !vol_con_area_has_files((enum vol_con_area)area))
                return vol_error_set(err, -EINVAL, "files are put for the configuration and context areas, not %s",
                                     vol_con_area_name((enum vol_con_area)area));
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *prefix = area >= 0 ? xasprintf("%s%s/", level, vol_con_area_name((enum vol_con_area)area))
                                                : xstrdup(level);
        struct list_ctx l = {strlen(level), cb, userdata};
        return vol_store_list_docs(s->store, DOC_CON_FILE, prefix, list_one, &l, err);
}

struct key_list {
        size_t n, cap;
        char **keys;
};

static int collect_key(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct key_list *l = userdata;
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 16;
                l->keys = xrealloc(l->keys, l->cap * sizeof(char *));
        }
        l->keys[l->n++] = xstrdup(key);
        return 0;
}

int vol_con_drop_docs(struct vol_service *s, const char *kind, const char *data_kind, const char *prefix,
                      struct vol_error *err)
{
        struct key_list l = {0};
        int r = vol_store_list_docs(s->store, kind, prefix, collect_key, &l, err);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                r = vol_con_pair_remove(s, kind, data_kind, l.keys[i], err);
                if (r == -ENOENT) {
                        vol_error_clear(err);
                        r = 0;
                }
        }
        for (size_t i = 0; i < l.n; i++)
                free(l.keys[i]);
        free(l.keys);
        return r < 0 ? r : 0;
}

int vol_con_files_drop_app(struct vol_service *s, const struct vol_app_ref *ref, struct vol_error *err)
{
        _cleanup_free_ char *level = vol_con_level_key(ref);
        return vol_con_drop_docs(s, DOC_CON_FILE, DOC_CON_FILE_DATA, level, err);
}

/* The app's files of one area as the deploy sees them: the env's, then the
 * app's, which win for the same name. */
struct merged_ctx {
        struct vol_service *s;
        vol_con_file_data_cb cb;
        void *userdata;
        const char *level;       /* of the file being listed */
        const char *other_level; /* the app's level when listing the env's: a name there wins */
        enum vol_con_area area;
        struct vol_error *err;
};

static int merged_one(const struct vol_con_file_info *f, void *userdata)
{
        struct merged_ctx *m = userdata;
        _cleanup_free_ char *key = xasprintf("%s%s/%s", m->level, vol_con_area_name(m->area), f->name);
        if (m->other_level) {
                _cleanup_free_ char *okey = xasprintf("%s%s/%s", m->other_level, vol_con_area_name(m->area), f->name);
                _cleanup_free_ char *have = NULL;
                if (vol_store_get_doc(m->s->store, DOC_CON_FILE, okey, &have, NULL, NULL) == 0)
                        return 0;
        }
        _cleanup_free_ char *djson = NULL;
        int r = vol_con_pair_get(m->s, DOC_CON_FILE, DOC_CON_FILE_DATA, key, NULL, &djson, m->err);
        if (r < 0)
                return r;
        json_auto_t *o = json_loads(djson, 0, NULL);
        const char *b64 = json_string_value(json_object_get(o, "data"));
        size_t max = b64 ? strlen(b64) / 4 * 3 + 3 : 0, n = 0;
        _cleanup_free_ unsigned char *data = xmalloc(max + 1);
        if (!b64 || vol_con_unbase64(b64, data, max, &n) < 0)
                return vol_error_set(m->err, -EIO, "file %s: its stored bytes are unreadable", key);
        return m->cb(f->name, data, n, m->userdata);
}

int vol_con_files_each(struct vol_service *s, const struct vol_app_ref *ref, enum vol_con_area area,
                       vol_con_file_data_cb cb, void *userdata, struct vol_error *err)
{
        struct vol_app_ref env = {ref->tenant, ref->env, NULL};
        _cleanup_free_ char *env_level = vol_con_level_key(&env);
        _cleanup_free_ char *app_level = vol_con_level_key(ref);
        struct merged_ctx m = {s, cb, userdata, env_level, app_level, area, err};
        int r = vol_con_file_list(s, &vol_caller_system, &env, (int)area, merged_one, &m, err);
        if (r < 0)
                return r;
        m.level = app_level;
        m.other_level = NULL;
        return vol_con_file_list(s, &vol_caller_system, ref, (int)area, merged_one, &m, err);
}
