/* core/volume_json.h and core/strbuf.h: what the writer produces is parsed back
 * with jansson, an independent JSON parser, and checked field by field. */
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
#include "core/strbuf.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"

/* Parses text, failing the test with jansson's message if it is not JSON. */
static json_t *parse(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
        if (!j)
                fail_msg("not JSON (%s at %d): %s", e.text, e.position, text);
        return j;
}

static const char *get_str(const json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        if (!json_is_string(v))
                fail_msg("field %s is not a string", key);
        return json_string_value(v);
}

/* Renders v (and info) into an unbounded buffer and parses the result. */
static json_t *render(const struct vol_volume *v, const struct vol_volume_info *info)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_volume_to_json(&b, v, info), 0);
        assert_false(b.overflow);
        assert_int_equal(strlen(b.data), b.len);
        json_t *j = parse(b.data);
        vol_strbuf_free(&b);
        return j;
}

static struct vol_volume *full_volume(void)
{
        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, "5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10");
        v->name = xstrdup("volman-acme-prod-orders-var-lib-state");
        v->driver = xstrdup("local");
        v->mountpoint = xstrdup("/var/lib/volman/local/5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10");
        v->status = VOL_STATUS_READY;
        vol_kvs_set(&v->labels, "team", "payments");
        vol_kvs_set(&v->labels, "empty", "");
        vol_kvs_set(&v->options, "uid", "1000");
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup("acme");
        v->scope->env = xstrdup("prod");
        v->scope->app = xstrdup("orders");
        v->scope->path = xstrdup("/var/lib/state");
        v->created_at = 1795316645;
        assert_int_equal(vol_volume_add_mount(v, "plugin", "c0ffee", 1795316700, "boot", NULL), 0);
        assert_int_equal(vol_volume_add_mount(v, "", "pod/b:2", 0, "", NULL), 0);
        return v;
}

static void test_every_field(void **state)
{
        struct vol_volume *v = full_volume();
        struct vol_volume_info info = {.persistent = true,
                                       .note = NULL,
                                       .has_usage = true,
                                       .usage_bytes = UINT64_C(5) << 40,
                                       .usage_inodes = 1};
        _cleanup_(json_decrefp) json_t *j = render(v, &info);
        assert_true(json_is_object(j));
        assert_string_equal(get_str(j, "id"), "5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10");
        assert_string_equal(get_str(j, "name"), "volman-acme-prod-orders-var-lib-state");
        assert_string_equal(get_str(j, "driver"), "local");
        assert_string_equal(get_str(j, "mountpoint"),
                            "/var/lib/volman/local/5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10");
        assert_string_equal(get_str(j, "status"), "ready");
        assert_string_equal(get_str(j, "created_at"), "2026-11-22T03:04:05Z");

        json_t *labels = json_object_get(j, "labels");
        assert_true(json_is_object(labels));
        assert_int_equal(json_object_size(labels), 2);
        assert_string_equal(get_str(labels, "team"), "payments");
        assert_string_equal(get_str(labels, "empty"), "");
        json_t *options = json_object_get(j, "options");
        assert_int_equal(json_object_size(options), 1);
        assert_string_equal(get_str(options, "uid"), "1000");

        json_t *scope = json_object_get(j, "scope");
        assert_true(json_is_object(scope));
        assert_int_equal(json_object_size(scope), 4);
        assert_string_equal(get_str(scope, "tenant"), "acme");
        assert_string_equal(get_str(scope, "env"), "prod");
        assert_string_equal(get_str(scope, "app"), "orders");
        assert_string_equal(get_str(scope, "path"), "/var/lib/state");

        json_t *mounts = json_object_get(j, "mounts");
        assert_true(json_is_array(mounts));
        assert_int_equal(json_array_size(mounts), 2);
        assert_string_equal(get_str(json_array_get(mounts, 0), "id"), "c0ffee");
        assert_string_equal(get_str(json_array_get(mounts, 0), "since"), "2026-11-22T03:05:00Z");
        assert_string_equal(get_str(json_array_get(mounts, 1), "id"), "pod/b:2");
        assert_string_equal(get_str(json_array_get(mounts, 1), "since"), "1970-01-01T00:00:00Z");
        assert_string_equal(get_str(json_array_get(mounts, 0), "owner"), "plugin");
        assert_string_equal(get_str(json_array_get(mounts, 1), "owner"), "unknown"); /* recorded before owners */

        assert_true(json_is_true(json_object_get(j, "persistent")));
        assert_null(json_object_get(j, "note"));
        json_t *usage = json_object_get(j, "usage");
        assert_true(json_is_object(usage));
        assert_int_equal(json_integer_value(json_object_get(usage, "bytes")),
                         (json_int_t)(UINT64_C(5) << 40));
        assert_int_equal(json_integer_value(json_object_get(usage, "inodes")), 1);
        /* Nothing more than the documented fields. */
        assert_int_equal(json_object_size(j), 12); /* 10 always + persistent, usage */
        vol_volume_free(v);
}

static void test_minimal_volume(void **state)
{
        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, "00000000-0000-0000-0000-000000000000");
        v->name = xstrdup("web-data");
        v->driver = xstrdup("tmpfs");
        _cleanup_(json_decrefp) json_t *j = render(v, NULL);
        assert_true(json_is_null(json_object_get(j, "scope")));
        assert_string_equal(get_str(j, "mountpoint"), "");
        assert_string_equal(get_str(j, "status"), "creating");
        assert_int_equal(json_object_size(json_object_get(j, "labels")), 0);
        assert_int_equal(json_object_size(json_object_get(j, "options")), 0);
        assert_int_equal(json_array_size(json_object_get(j, "mounts")), 0);
        /* Without info, persistent, note and usage are left out. */
        assert_null(json_object_get(j, "persistent"));
        assert_null(json_object_get(j, "note"));
        assert_null(json_object_get(j, "usage"));
        assert_int_equal(json_object_size(j), 10);

        struct vol_volume_info info = {.persistent = false,
                                       .note = "tmpfs: content is lost at host reboot"};
        _cleanup_(json_decrefp) json_t *j2 = render(v, &info);
        assert_true(json_is_false(json_object_get(j2, "persistent")));
        assert_string_equal(get_str(j2, "note"), "tmpfs: content is lost at host reboot");
        assert_null(json_object_get(j2, "usage"));
        v->status = VOL_STATUS_DELETING;
        _cleanup_(json_decrefp) json_t *j3 = render(v, NULL);
        assert_string_equal(get_str(j3, "status"), "deleting");
        vol_volume_free(v);
}

static void test_escaping(void **state)
{
        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, "00000000-0000-0000-0000-000000000001");
        v->name = xstrdup("n");
        v->driver = xstrdup("local");
        /* Every byte from 0x01 to 0x7f, then UTF-8. */
        char all[160];
        size_t n = 0;
        for (int c = 1; c < 0x80; c++)
                all[n++] = (char)c;
        memcpy(all + n, "\xc3\xa9\xf0\x9f\x90\xb3", 7);
        const char *cases[] = {"quote\"in", "back\\slash", "\\\"",       "line\nbreak",
                               "tab\there", "cr\rbell\a",  "esc\x1b[0m", "del\x7f",
                               "</script>", "\"",          "\\",         all};
        char key[16];
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                snprintf(key, sizeof(key), "k%02zu", i);
                vol_kvs_set(&v->labels, key, cases[i]);
        }
        vol_kvs_set(&v->labels, "key \"with\" \\ and \n", "v");
        vol_kvs_set(&v->options, "o", "a\"b\\c\x01");
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup("t");
        v->scope->env = xstrdup("e");
        v->scope->app = xstrdup("a");
        v->scope->path = xstrdup("/with \"quotes\"/and\\back");
        struct vol_volume_info info = {.persistent = true, .note = "say \"hi\"\n"};

        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_volume_to_json(&b, v, &info), 0);
        /* No raw control byte reaches the output. */
        for (size_t i = 0; i < b.len; i++)
                if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
                        fail_msg("raw byte 0x%02x at %zu", (unsigned char)b.data[i], i);
        _cleanup_(json_decrefp) json_t *j = parse(b.data);
        vol_strbuf_free(&b);

        json_t *labels = json_object_get(j, "labels");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                snprintf(key, sizeof(key), "k%02zu", i);
                assert_string_equal(get_str(labels, key), cases[i]);
        }
        assert_string_equal(get_str(labels, "key \"with\" \\ and \n"), "v");
        assert_string_equal(get_str(json_object_get(j, "options"), "o"), "a\"b\\c\x01");
        assert_string_equal(get_str(json_object_get(j, "scope"), "path"),
                            "/with \"quotes\"/and\\back");
        assert_string_equal(get_str(j, "note"), "say \"hi\"\n");
        vol_volume_free(v);
}

static void test_json_string(void **state)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_strbuf_json_string(&b, ""), 0);
        assert_string_equal(b.data, "\"\"");
        vol_strbuf_free(&b);
        assert_int_equal(vol_strbuf_json_string(&b, "a\"b\\c\nd\te\x01\x1f\x7f"), 0);
        assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\\u007f\"");
        vol_strbuf_free(&b);
        assert_int_equal(vol_strbuf_json_string(&b, "plain \xc3\xa9"), 0);
        assert_string_equal(b.data, "\"plain \xc3\xa9\"");
        vol_strbuf_free(&b);
}

/* A volume with n mounts renders to more than max bytes: every max below the
 * full size fails with -E2BIG, never writes past max, and sets overflow. */
static void test_bounded_overflow(void **state)
{
        struct vol_volume *v = full_volume();
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_volume_to_json(&b, v, NULL), 0);
        size_t full = b.len;
        vol_strbuf_free(&b);

        for (size_t max = 1; max <= full + 1; max++) {
                vol_strbuf_init(&b, max);
                int r = vol_volume_to_json(&b, v, NULL);
                if (max < full) {
                        assert_int_equal(r, -E2BIG);
                        assert_true(b.overflow);
                } else {
                        assert_int_equal(r, 0);
                        assert_false(b.overflow);
                        assert_int_equal(b.len, full);
                }
                assert_true(b.len <= max);
                vol_strbuf_free(&b);
        }

        /* A label value bigger than the buffer. */
        char *big = xmalloc(5000);
        memset(big, '"', 4999);
        big[4999] = 0;
        vol_kvs_set(&v->labels, "big", big);
        free(big);
        vol_strbuf_init(&b, 4096);
        assert_int_equal(vol_volume_to_json(&b, v, NULL), -E2BIG);
        assert_true(b.len <= 4096);
        vol_strbuf_free(&b);
        vol_volume_free(v);
}

static void test_strbuf(void **state)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 10);
        assert_int_equal(vol_strbuf_puts(&b, "hello"), 0);
        assert_int_equal(vol_strbuf_putc(&b, ' '), 0);
        assert_int_equal(vol_strbuf_printf(&b, "%d", 123), 0);
        assert_string_equal(b.data, "hello 123");
        assert_int_equal(b.len, 9);
        assert_int_equal(vol_strbuf_putc(&b, '!'), 0); /* exactly max */
        assert_int_equal(b.len, 10);
        assert_false(b.overflow);
        assert_int_equal(vol_strbuf_putc(&b, '?'), -E2BIG);
        assert_true(b.overflow);
        assert_string_equal(b.data, "hello 123!");
        /* Sticky: once refused, even an empty append is refused. */
        assert_int_equal(vol_strbuf_append(&b, "", 0), -E2BIG);
        size_t len = 0;
        char *s = vol_strbuf_take(&b, &len);
        assert_string_equal(s, "hello 123!");
        assert_int_equal(len, 10);
        free(s);
        /* take resets the buffer but keeps its maximum. */
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_false(b.overflow);
        assert_int_equal(b.max, 10);
        assert_int_equal(vol_strbuf_printf(&b, "%s", "0123456789A"), -E2BIG);
        vol_strbuf_free(&b);

        /* take on an empty buffer gives "" (never NULL). */
        vol_strbuf_init(&b, 0);
        s = vol_strbuf_take(&b, NULL);
        assert_string_equal(s, "");
        free(s);

        /* Unbounded, with printf output longer than its small stack buffer. */
        char long_arg[1000];
        memset(long_arg, 'x', sizeof(long_arg) - 1);
        long_arg[sizeof(long_arg) - 1] = 0;
        assert_int_equal(vol_strbuf_printf(&b, "<%s>", long_arg), 0);
        assert_int_equal(b.len, 1001);
        assert_int_equal(b.data[0], '<');
        assert_int_equal(b.data[1000], '>');
        assert_int_equal(b.data[1001], 0);
        for (int i = 0; i < 10000; i++)
                assert_int_equal(vol_strbuf_append(&b, "0123456789", 10), 0);
        assert_int_equal(b.len, 101001);
        assert_int_equal(strlen(b.data), b.len);
        vol_strbuf_free(&b);

        /* A bounded printf over 256 bytes that fits, and one that does not. */
        vol_strbuf_init(&b, 1001);
        assert_int_equal(vol_strbuf_printf(&b, "<%s>", long_arg), 0);
        assert_int_equal(b.len, 1001);
        vol_strbuf_free(&b);
        vol_strbuf_init(&b, 1000);
        assert_int_equal(vol_strbuf_printf(&b, "<%s>", long_arg), -E2BIG);
        assert_true(b.overflow);
        vol_strbuf_free(&b);
        vol_strbuf_free(&b);
}

static void test_format_time(void **state)
{
        char out[32];
        vol_format_time(0, out);
        assert_string_equal(out, "1970-01-01T00:00:00Z");
        vol_format_time(1795316645, out);
        assert_string_equal(out, "2026-11-22T03:04:05Z");
        vol_format_time(1700000000, out);
        assert_string_equal(out, "2023-11-14T22:13:20Z");
        vol_format_time(951782400, out);
        assert_string_equal(out, "2000-02-29T00:00:00Z");
        vol_format_time(2147483648, out); /* past 2038 */
        assert_string_equal(out, "2038-01-19T03:14:08Z");
        vol_format_time(-1, out);
        assert_string_equal(out, "1969-12-31T23:59:59Z");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_field),      cmocka_unit_test(test_minimal_volume),
            cmocka_unit_test(test_escaping),         cmocka_unit_test(test_json_string),
            cmocka_unit_test(test_bounded_overflow), cmocka_unit_test(test_strbuf),
            cmocka_unit_test(test_format_time),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
