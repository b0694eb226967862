#include "json_in.h"

#include <string.h>

#include "core/filter.h"
#include "core/volume.h"
#include "core/xmalloc.h"

int vol_json_parse_object(const char *body, size_t len, bool empty_ok, json_t **ret,
                          struct vol_error *err)
{
        if (len == 0 && empty_ok) {
                *ret = json_object();
                return 0;
        }
        json_error_t je;
        json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return vol_error_set(err, -EINVAL, "malformed JSON at line %d, column %d: %s", je.line,
                                     je.column, je.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return vol_error_set(err, -EINVAL, "the request body must be a JSON object");
        }
        *ret = j;
        return 0;
}

int vol_json_check_fields(json_t *obj, const char *const *known, struct vol_error *err)
{
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val)
        {
                bool ok = false;
                for (const char *const *k = known; *k; k++)
                        if (!strcmp(*k, key))
                                ok = true;
                if (!ok)
                        return vol_error_set(err, -EINVAL, "unknown field \"%.64s\" in the request body",
                                             key);
        }
        return 0;
}

int vol_json_string(json_t *obj, const char *key, const char **ret, struct vol_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return vol_error_set(err, -EINVAL, "field %s must be a string", key);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return vol_error_set(err, -EINVAL, "field %s holds a NUL character", key);
        *ret = json_string_value(v);
        return 0;
}

int vol_json_bool(json_t *obj, const char *key, bool *ret, struct vol_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v)) {
                *ret = false;
                return 0;
        }
        if (!json_is_boolean(v))
                return vol_error_set(err, -EINVAL, "field %s must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

int vol_json_string_map(json_t *obj, const char *key, size_t max, struct vol_kvs *m,
                        struct vol_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return vol_error_set(err, -EINVAL, "field %s must be an object of strings", key);
        if (json_object_size(v) > max)
                return vol_error_set(err, -E2BIG, "field %s has %zu entries; the most is %zu", key,
                                     json_object_size(v), max);
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val)
        {
                if (!json_is_string(val))
                        return vol_error_set(err, -EINVAL, "%s.%.64s must be a string", key, k);
                if (strlen(json_string_value(val)) != json_string_length(val))
                        return vol_error_set(err, -EINVAL, "%s.%.64s holds a NUL character", key, k);
                vol_kvs_set(m, k, json_string_value(val));
        }
        return 0;
}

int vol_json_scope(json_t *obj, const char *key, struct vol_scope **ret, struct vol_error *err)
{
        static const char *const fields[] = {"tenant", "env", "app", "path", NULL};
        json_t *j = json_object_get(obj, key);
        if (!j || json_is_null(j))
                return 0;
        if (!json_is_object(j))
                return vol_error_set(err, -EINVAL, "field %s must be an object", key);
        int r = vol_json_check_fields(j, fields, err);
        if (r < 0)
                return vol_error_wrap(err, "%s: ", key);
        const char *parts[4];
        for (int i = 0; i < 4; i++) {
                if ((r = vol_json_string(j, fields[i], &parts[i], err)) < 0)
                        return vol_error_wrap(err, "%s: ", key);
                if (!parts[i])
                        return vol_error_set(err, -EINVAL, "%s needs %s", key, fields[i]);
        }
        struct vol_scope *s = xcalloc(1, sizeof(*s));
        s->tenant = xstrdup(parts[0]);
        s->env = xstrdup(parts[1]);
        s->app = xstrdup(parts[2]);
        s->path = xstrdup(parts[3]);
        *ret = s;
        return 0;
}

int vol_json_filters(json_t *obj, const char *key, struct vol_filter *f, struct vol_error *err)
{
        json_t *filters = json_object_get(obj, key);
        if (!filters || json_is_null(filters))
                return 0;
        if (!json_is_array(filters))
                return vol_error_set(err, -EINVAL, "field %s must be an array of \"key=value\" strings", key);
        if (json_array_size(filters) > VOL_FILTERS_MAX)
                return vol_error_set(err, -E2BIG, "more than %d filters", VOL_FILTERS_MAX);
        size_t i;
        json_t *it;
        json_array_foreach(filters, i, it)
        {
                if (!json_is_string(it))
                        return vol_error_set(err, -EINVAL, "%s[%zu] must be a string", key, i);
                int r = vol_filter_add(f, json_string_value(it), err);
                if (r < 0)
                        return r;
        }
        return 0;
}
