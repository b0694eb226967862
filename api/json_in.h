/* Reading request bodies: strict JSON objects with known fields only. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "core/kv.h"

/* jansson (>= 2.9) provides json_decrefp. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/* Parses body as one JSON object. An empty body gives an empty object when
 * empty_ok. Returns 0 and *ret (caller decrefs), or -EINVAL with a message
 * that says where the JSON is broken. */
int vol_json_parse_object(const char *body, size_t len, bool empty_ok, json_t **ret,
                          struct vol_error *err);

/* Refuses any field of obj not in the NULL-terminated list `known`. */
int vol_json_check_fields(json_t *obj, const char *const *known, struct vol_error *err);

/* Field `key` of obj as a string: 0 and *ret (borrowed) when it is a string,
 * 0 and NULL when absent or null, -EINVAL when of another type. Strings with an
 * embedded NUL are refused. */
int vol_json_string(json_t *obj, const char *key, const char **ret, struct vol_error *err);

/* Field `key` as a boolean (absent: false). */
int vol_json_bool(json_t *obj, const char *key, bool *ret, struct vol_error *err);

/* Field `key` as an object of strings into m, at most max entries (-E2BIG past it). */
int vol_json_string_map(json_t *obj, const char *key, size_t max, struct vol_kvs *m,
                        struct vol_error *err);

struct vol_scope;
/* Field `key` as a scope object {"tenant","env","app","path"}, each a
 * string, nothing else (absent or null: *ret stays NULL). The scope is the
 * caller's (vol_scope_free). */
int vol_json_scope(json_t *obj, const char *key, struct vol_scope **ret, struct vol_error *err);

struct vol_filter;
/* Field `key` as an array of "key=value" filter strings added to f (absent
 * or null: none), at most VOL_FILTERS_MAX. */
int vol_json_filters(json_t *obj, const char *key, struct vol_filter *f, struct vol_error *err);
