/* store/etcd_codec.c: the etcd store's records round-trip every field, and
 * damaged or hostile records and locations are refused with a message that
 * names the key (or what is wrong), never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "store/etcd_codec.h"

#define KEY "/volman/v/orders"
#define ID "5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10"

static struct vol_volume *full_volume(void)
{
        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, ID);
        v->name = xstrdup("orders");
        v->driver = xstrdup("local");
        v->mountpoint = xstrdup("/var/lib/volman/local/" ID);
        v->node = xstrdup("node-a");
        v->status = VOL_STATUS_DELETING;
        v->created_at = -5; /* before 1970: still an integer */
        vol_kvs_set(&v->labels, "team", "payments");
        vol_kvs_set(&v->labels, "empty", "");
        vol_kvs_set(&v->labels, "text", "caf\xc3\xa9 \"q\" \\ \xe2\x9c\x93\ttab");
        vol_kvs_set(&v->options, "uid", "1000");
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup("acme");
        v->scope->env = xstrdup("prod");
        v->scope->app = xstrdup("orders");
        v->scope->path = xstrdup("/var/lib/state");
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_volume_add_mount(v, "admin", "ctr-1", 1700000000, "boot-1", &err), 0);
        assert_int_equal(vol_volume_add_mount(v, "", "ctr-2", INT64_MAX, "", &err), 0);
        return v;
}

static void assert_same(const struct vol_volume *a, const struct vol_volume *b)
{
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->driver, b->driver);
        assert_true(vol_kvs_equal(&a->options, &b->options));
        assert_true(vol_kvs_equal(&a->labels, &b->labels));
        assert_true(vol_scope_equal(a->scope, b->scope));
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->created_at, b->created_at);
        assert_int_equal(a->n_mounts, b->n_mounts);
        for (size_t i = 0; i < a->n_mounts; i++) {
                assert_string_equal(a->mounts[i].id, b->mounts[i].id);
                assert_int_equal(a->mounts[i].since, b->mounts[i].since);
                assert_string_equal(a->mounts[i].owner, b->mounts[i].owner);
                assert_string_equal(a->mounts[i].boot, b->mounts[i].boot);
        }
        if (a->mountpoint || b->mountpoint)
                assert_string_equal(a->mountpoint, b->mountpoint);
        if (a->node || b->node)
                assert_string_equal(a->node, b->node);
}

static struct vol_volume *round_trip(const struct vol_volume *v)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_free_ char *text = NULL;
        assert_int_equal(vol_etcd_volume_encode(v, &text, &err), 0);
        struct vol_volume *back = NULL;
        assert_int_equal(vol_etcd_volume_decode(KEY, text, strlen(text), v->name, &back, &err), 0);
        assert_null(err.msg);
        assert_int_equal(back->revision, 0);
        return back;
}

static void test_full_volume(void **state)
{
        struct vol_volume *v = full_volume();
        struct vol_volume *back = round_trip(v);
        assert_same(v, back);
        assert_non_null(back->node);
        vol_volume_free(back);
        vol_volume_free(v);
}

static void test_minimal_volume(void **state)
{
        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, ID);
        v->name = xstrdup("orders");
        v->driver = xstrdup("tmpfs");
        struct vol_volume *back = round_trip(v);
        assert_same(v, back);
        assert_null(back->scope);
        assert_null(back->mountpoint);
        assert_null(back->node);
        assert_null(back->mounts);
        assert_int_equal(back->status, VOL_STATUS_CREATING);
        vol_volume_free(back);
        vol_volume_free(v);
}

static void test_encode_refuses_non_utf8(void **state)
{
        struct vol_volume *v = full_volume();
        vol_kvs_set(&v->labels, "bad", "\xff\xfe");
        struct vol_error err = VOL_ERROR_INIT;
        char *text = NULL;
        assert_int_equal(vol_etcd_volume_encode(v, &text, &err), -EINVAL);
        assert_null(text);
        assert_non_null(strstr(err.msg, "orders"));
        vol_error_clear(&err);
        vol_volume_free(v);
}

static void test_tombstone(void **state)
{
        struct vol_kv kv[] = {{"size", "5G"}, {"uid", "0"}};
        struct vol_tombstone t = {.name = "orders",
                                  .driver = "loop",
                                  .mountpoint = "/m/" ID,
                                  .options = {2, kv},
                                  .retired_at = 1700000123,
                                  .node = "node-b"};
        strcpy(t.id, ID);
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_free_ char *text = NULL;
        assert_int_equal(vol_etcd_tombstone_encode(&t, &text, &err), 0);
        struct vol_etcd_tombstone *back = NULL;
        assert_int_equal(
            vol_etcd_tombstone_decode("/volman/t/" ID, text, strlen(text), &back, &err), 0);
        assert_string_equal(back->t.id, ID);
        assert_string_equal(back->t.name, "orders");
        assert_string_equal(back->t.driver, "loop");
        assert_string_equal(back->t.mountpoint, "/m/" ID);
        assert_string_equal(back->t.node, "node-b");
        assert_int_equal(back->t.retired_at, 1700000123);
        assert_true(vol_kvs_equal(&back->t.options, &t.options));
        vol_etcd_tombstone_free(back);

        /* without a node (one node's disk), without options */
        t.node = NULL;
        t.options = (struct vol_kvs)VOL_KVS_INIT;
        free(text);
        assert_int_equal(vol_etcd_tombstone_encode(&t, &text, &err), 0);
        assert_int_equal(
            vol_etcd_tombstone_decode("/volman/t/" ID, text, strlen(text), &back, &err), 0);
        assert_null(back->t.node);
        assert_int_equal(back->t.options.n, 0);
        vol_etcd_tombstone_free(back);
}

/* A valid record with one field replaced (or removed, with NULL). */
static char *record_with(const char *field, const char *json_value)
{
        struct vol_volume *v = full_volume();
        char *text = NULL;
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_etcd_volume_encode(v, &text, &err), 0);
        vol_volume_free(v);
        json_t *o = json_loads(text, 0, NULL);
        free(text);
        if (json_value) {
                json_t *j = json_loads(json_value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                if (!j)
                        fail_msg("test bug: %s is not JSON", json_value);
                json_object_set_new(o, field, j);
        } else
                json_object_del(o, field);
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return text;
}

/* text must be refused with code, a message naming KEY, and no result. */
static void refused(const char *text, size_t len, int code)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_volume *v = NULL;
        int r = vol_etcd_volume_decode(KEY, text, len, "orders", &v, &err);
        if (r != code)
                fail_msg("decoding %s gave %d, not %d (%s)", text, r, code, err.msg ? err.msg : "");
        assert_null(v);
        assert_non_null(err.msg);
        if (!strstr(err.msg, KEY))
                fail_msg("the message \"%s\" does not name the key", err.msg);
        vol_error_clear(&err);
}

static void refused_field(const char *field, const char *json_value, int code)
{
        _cleanup_free_ char *text = record_with(field, json_value);
        refused(text, strlen(text), code);
}

static void test_garbage_refused(void **state)
{
        refused("", 0, -EBADMSG);
        refused("not json", 8, -EBADMSG);
        refused("[1,2]", 5, -EBADMSG);
        refused("\"a string\"", 10, -EBADMSG);
        refused("{\"v\":1", 6, -EBADMSG); /* cut */
        refused("{}", 2, -EBADMSG);
        /* a NUL inside the value: only the bytes up to len count */
        refused("{\"v\":1}\0garbage", 15, -EBADMSG);
        /* duplicate keys */
        _cleanup_free_ char *good = record_with("v", "1");
        _cleanup_free_ char *dup = xasprintf("{\"name\":\"other\",%s", good + 1);
        refused(dup, strlen(dup), -EBADMSG);
}

static void test_bad_fields_refused(void **state)
{
        refused_field("v", "2", -EPROTO); /* a newer volmand's record */
        refused_field("v", "0", -EBADMSG);
        refused_field("v", "\"1\"", -EBADMSG);
        refused_field("v", NULL, -EBADMSG);
        refused_field("id", NULL, -EBADMSG);
        refused_field("id", "\"not-a-uuid\"", -EBADMSG);
        refused_field("id", "\"5F0C8F8E-3C1D-4C49-9B0E-0D2B8C1F7A10\"", -EBADMSG);
        refused_field("id", "\"5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10x\"", -EBADMSG);
        refused_field("id", "17", -EBADMSG);
        refused_field("name", "\"someone-else\"", -EBADMSG); /* not the key's */
        refused_field("name", "\"\"", -EBADMSG);
        refused_field("name", "null", -EBADMSG);
        refused_field("driver", "[]", -EBADMSG);
        refused_field("status", "\"gone\"", -EBADMSG);
        refused_field("status", "1", -EBADMSG);
        refused_field("created_at", "\"yesterday\"", -EBADMSG);
        refused_field("created_at", "1.5", -EBADMSG);
        refused_field("created_at", NULL, -EBADMSG);
        refused_field("labels", "[]", -EBADMSG);
        refused_field("labels", "{\"k\":1}", -EBADMSG);
        refused_field("labels", "{\"k\":null}", -EBADMSG);
        refused_field("labels", "{\"\":\"v\"}", -EBADMSG);
        refused_field("options", NULL, -EBADMSG);
        refused_field("scope", "\"acme\"", -EBADMSG);
        refused_field("scope", "{\"tenant\":\"acme\",\"env\":\"prod\",\"app\":\"x\"}", -EBADMSG);
        refused_field("scope", "{\"tenant\":\"\",\"env\":\"prod\",\"app\":\"x\",\"path\":\"/p\"}",
                      -EBADMSG);
        refused_field("mounts", "{}", -EBADMSG);
        refused_field("mounts", "[1]", -EBADMSG);
        refused_field("mounts", "[{\"id\":\"c\",\"since\":1,\"owner\":\"admin\"}]", -EBADMSG);
        refused_field("mounts", "[{\"id\":\"\",\"since\":1,\"owner\":\"admin\",\"boot\":\"\"}]",
                      -EBADMSG);
        refused_field("mountpoint", "5", -EBADMSG);
        refused_field("node", "\"\"", -EBADMSG);
        refused_field("node", "{}", -EBADMSG);
        /* an embedded NUL in a string (\u0000) */
        refused_field("driver", "\"lo\\u0000cal\"", -EBADMSG);
}

static void test_sizes_refused(void **state)
{
        /* more labels than a volume may have */
        json_t *labels = json_object();
        for (int i = 0; i <= VOL_LABELS_MAX; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i);
                json_object_set_new(labels, k, json_string("v"));
        }
        _cleanup_free_ char *lt = json_dumps(labels, 0);
        json_decref(labels);
        refused_field("labels", lt, -EBADMSG);

        /* a name past VOL_NAME_MAX */
        _cleanup_free_ char *long_name = xmalloc(VOL_NAME_MAX + 8);
        memset(long_name, 'a', VOL_NAME_MAX + 3);
        long_name[0] = '"';
        long_name[VOL_NAME_MAX + 2] = '"';
        long_name[VOL_NAME_MAX + 3] = 0;
        refused_field("name", long_name, -EBADMSG);

        /* more mounts than VOL_MOUNTS_MAX */
        json_t *mounts = json_array();
        for (int i = 0; i <= VOL_MOUNTS_MAX; i++)
                json_array_append_new(mounts, json_pack("{s:s, s:i, s:s, s:s}", "id", "c", "since",
                                                        1, "owner", "admin", "boot", ""));
        _cleanup_free_ char *mt = json_dumps(mounts, 0);
        json_decref(mounts);
        refused_field("mounts", mt, -EBADMSG);

        /* a record larger than any etcd keeps */
        size_t big = VOL_ETCD_RECORD_MAX + 1;
        _cleanup_free_ char *huge = xmalloc(big + 1);
        memset(huge, ' ', big);
        huge[0] = '{';
        huge[big - 1] = '}';
        huge[big] = 0;
        refused(huge, big, -EBADMSG);

        /* nesting deeper than the parser goes: an error, not a stack overflow */
        size_t depth = 200000;
        _cleanup_free_ char *deep = xmalloc(depth + 1);
        memset(deep, '[', depth);
        deep[depth] = 0;
        refused(deep, depth, -EBADMSG);
}

static void test_tombstone_refused(void **state)
{
        static const char *bad[] = {
            "{}",
            "{\"v\":1,\"id\":\"" ID "\",\"name\":\"n\",\"driver\":\"local\",\"mountpoint\":\"/m\","
            "\"options\":{}}", /* no retired_at */
            "{\"v\":1,\"id\":\"" ID "\",\"name\":\"n\",\"driver\":\"local\",\"mountpoint\":\"/m\","
            "\"options\":{\"a\":[]},\"retired_at\":1}",
            "{\"v\":1,\"id\":\"x\",\"name\":\"n\",\"driver\":\"local\",\"mountpoint\":\"/m\","
            "\"options\":{},\"retired_at\":1}",
            "{\"v\":9,\"id\":\"" ID "\"}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct vol_error err = VOL_ERROR_INIT;
                struct vol_etcd_tombstone *t = NULL;
                int r =
                    vol_etcd_tombstone_decode("/volman/t/" ID, bad[i], strlen(bad[i]), &t, &err);
                if (r >= 0)
                        fail_msg("tombstone %s was taken", bad[i]);
                assert_null(t);
                assert_non_null(strstr(err.msg, "/volman/t/" ID));
                vol_error_clear(&err);
        }
}

static void test_location(void **state)
{
        struct vol_etcd_location l;
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_etcd_location_parse("127.0.0.1:2379", &l, &err), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.endpoints[0], "127.0.0.1:2379");
        assert_string_equal(l.prefix, VOL_ETCD_PREFIX_DEFAULT);
        vol_etcd_location_free(&l);

        assert_int_equal(vol_etcd_location_parse(
                             "etcd-a.example:2379,10.0.0.2:1,[::1]:65535/cluster-2", &l, &err),
                         0);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.endpoints[0], "etcd-a.example:2379");
        assert_string_equal(l.endpoints[1], "10.0.0.2:1");
        assert_string_equal(l.endpoints[2], "[::1]:65535");
        assert_string_equal(l.prefix, "cluster-2");
        vol_etcd_location_free(&l);

        static const struct {
                const char *location, *says;
        } bad[] = {
            {"etcd://127.0.0.1:2379", "scheme"},
            {"http://127.0.0.1:2379", "scheme"},
            {"", "empty"},
            {"127.0.0.1", "no :PORT"},
            {"127.0.0.1:0", "bad port"},
            {"127.0.0.1:65536", "bad port"},
            {"127.0.0.1:12ab", "bad port"},
            {"127.0.0.1:", "bad port"},
            {":2379", "bad host"},
            {"bad host:1", "bad host"},
            {"a:1,,b:2", "empty"},
            {"a:1,", "empty"},
            {"[]:1", "bad host"},
            {"[zz]:1", "bad host"},
            {"a:1/", "prefix"},
            {"a:1/Upper", "prefix"},
            {"a:1/a/b", "prefix"},
            {"a:1/a_b", "prefix"},
            {"a:1/0123456789012345678901234567890123456789012345678901234567890123", "prefix"},
            {"a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9,a:10,a:11,a:12,a:13,a:14,a:15,a:16,a:17",
             "more than 16"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                memset(&l, 0x5a, sizeof(l)); /* untouched on failure */
                int r = vol_etcd_location_parse(bad[i].location, &l, &err);
                if (r != -EINVAL)
                        fail_msg("location \"%s\" gave %d", bad[i].location, r);
                if (!strstr(err.msg, bad[i].says))
                        fail_msg("location \"%s\": \"%s\" does not say %s", bad[i].location,
                                 err.msg, bad[i].says);
                assert_int_equal(l.n, 0x5a5a5a5a5a5a5a5a);
                vol_error_clear(&err);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_full_volume),
            cmocka_unit_test(test_minimal_volume),
            cmocka_unit_test(test_encode_refuses_non_utf8),
            cmocka_unit_test(test_tombstone),
            cmocka_unit_test(test_garbage_refused),
            cmocka_unit_test(test_bad_fields_refused),
            cmocka_unit_test(test_sizes_refused),
            cmocka_unit_test(test_tombstone_refused),
            cmocka_unit_test(test_location),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
