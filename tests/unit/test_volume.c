/* core/volume.h: every validator, mount references, dup/free, status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cleanup.h"
#include "core/volume.h"
#include "core/xmalloc.h"

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
        char *s = xmalloc(n + 1);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

/* Checks that a validator refused with code and a message holding needle. */
static void expect_error(int r, struct vol_error *err, int code, const char *needle)
{
        assert_int_equal(r, code);
        assert_int_equal(err->code, code);
        assert_non_null(err->msg);
        if (needle && !strstr(err->msg, needle))
                fail_msg("message \"%s\" does not mention \"%s\"", err->msg, needle);
        vol_error_clear(err);
}

/* ---- names ---- */

static void test_name_valid(void **state)
{
        const char *ok[] = {"a", "Z", "0", "web-data", "my_vol.1", "a..b", "A-_.z", "9-"};
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                assert_int_equal(vol_validate_name(ok[i], NULL), 0);
        _cleanup_free_ char *max = repeat('n', VOL_NAME_MAX);
        assert_int_equal(vol_validate_name(max, NULL), 0);
}

static void test_name_invalid(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        expect_error(vol_validate_name("", &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_name(NULL, &err), &err, -EINVAL, "empty");
        _cleanup_free_ char *over = repeat('n', VOL_NAME_MAX + 1);
        expect_error(vol_validate_name(over, &err), &err, -EINVAL, "129");
        const char *bad_start[] = {".", "..", ".hidden", "-a", "_a"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_start); i++)
                expect_error(vol_validate_name(bad_start[i], &err), &err, -EINVAL, "start");
        const char *bad[] = {"a/b", "a/../b", "a b", "a\tb", "caf\xc3\xa9", "a:b", "a\\b", "a*"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                expect_error(vol_validate_name(bad[i], &err), &err, -EINVAL, "offset");
        /* NULL err is allowed: only the code comes back. */
        assert_int_equal(vol_validate_name("/", NULL), -EINVAL);
}

static void test_driver_name(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_validate_driver_name("local", NULL), 0);
        assert_int_equal(vol_validate_driver_name("tmpfs", NULL), 0);
        assert_int_equal(vol_validate_driver_name("my_drv-2", NULL), 0);
        _cleanup_free_ char *max = repeat('d', VOL_DRIVER_NAME_MAX);
        assert_int_equal(vol_validate_driver_name(max, NULL), 0);
        _cleanup_free_ char *over = repeat('d', VOL_DRIVER_NAME_MAX + 1);
        expect_error(vol_validate_driver_name(over, &err), &err, -EINVAL, "driver");
        expect_error(vol_validate_driver_name("", &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_driver_name(NULL, &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_driver_name("Local", &err), &err, -EINVAL, "driver");
        expect_error(vol_validate_driver_name("-x", &err), &err, -EINVAL, "driver");
        expect_error(vol_validate_driver_name("_x", &err), &err, -EINVAL, "driver");
        expect_error(vol_validate_driver_name("a.b", &err), &err, -EINVAL, "driver");
        expect_error(vol_validate_driver_name("a/b", &err), &err, -EINVAL, "driver");
}

/* ---- labels ---- */

static void test_labels_valid(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        assert_int_equal(vol_validate_labels(&m, NULL), 0);
        vol_kvs_set(&m, "team", "payments");
        vol_kvs_set(&m, "com.example/owner", "J\xc3\xa9r\xc3\xb4me \xf0\x9f\x90\xb3");
        vol_kvs_set(&m, "empty", "");
        vol_kvs_set(&m, "\xc3\xa9t\xc3\xa9", "a=b c");
        _cleanup_free_ char *key = repeat('k', VOL_LABEL_KEY_MAX);
        _cleanup_free_ char *value = repeat('v', VOL_LABEL_VALUE_MAX);
        vol_kvs_set(&m, key, value);
        assert_int_equal(vol_validate_labels(&m, NULL), 0);
        vol_kvs_free(&m);

        for (int i = 0; i < VOL_LABELS_MAX; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i);
                vol_kvs_set(&m, k, "v");
        }
        assert_int_equal(vol_validate_labels(&m, NULL), 0);
        vol_kvs_free(&m);
}

static void test_labels_too_many(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        struct vol_error err = VOL_ERROR_INIT;
        for (int i = 0; i < VOL_LABELS_MAX + 1; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i);
                vol_kvs_set(&m, k, "v");
        }
        expect_error(vol_validate_labels(&m, &err), &err, -E2BIG, "65");
        vol_kvs_free(&m);
}

/* A one-label map {key: value} must be refused with a message holding needle. */
static void expect_bad_label(const char *key, const char *value, const char *needle)
{
        struct vol_kvs m = VOL_KVS_INIT;
        struct vol_error err = VOL_ERROR_INIT;
        vol_kvs_set(&m, key, value);
        expect_error(vol_validate_labels(&m, &err), &err, -EINVAL, needle);
        vol_kvs_free(&m);
}

static void test_labels_invalid(void **state)
{
        expect_bad_label("", "v", "empty");
        expect_bad_label("a=b", "v", "'='");
        expect_bad_label("a b", "v", "space");
        expect_bad_label("a\nb", "v", "control");
        expect_bad_label("a\x7f", "v", "control");
        expect_bad_label("a\xff", "v", "UTF-8");
        expect_bad_label("k", "line\nbreak", "control");
        expect_bad_label("k", "tab\there", "control");
        expect_bad_label("k", "esc\x1b[31m", "control");
        expect_bad_label("k", "del\x7f", "control");
        expect_bad_label("k", "\xff\xfe", "UTF-8");
        expect_bad_label("k", "\xc3", "UTF-8");                 /* truncated sequence */
        expect_bad_label("k", "\xc3(", "UTF-8");                /* bad continuation */
        expect_bad_label("k", "\xc0\xaf", "UTF-8");             /* overlong '/' */
        expect_bad_label("k", "\xe0\x80\xaf", "UTF-8");         /* overlong '/' in 3 bytes */
        expect_bad_label("k", "\xf0\x80\x80\xaf", "UTF-8");     /* overlong '/' in 4 bytes */
        expect_bad_label("k", "\xed\xa0\x80", "UTF-8");         /* surrogate U+D800 */
        expect_bad_label("k", "\xf4\x90\x80\x80", "UTF-8");     /* above U+10FFFF */
        expect_bad_label("k", "\xf8\x88\x80\x80\x80", "UTF-8"); /* 5-byte form */
        expect_bad_label("k", "\x80", "UTF-8");                 /* lone continuation */
        _cleanup_free_ char *key = repeat('k', VOL_LABEL_KEY_MAX + 1);
        expect_bad_label(key, "v", "255");
        _cleanup_free_ char *value = repeat('v', VOL_LABEL_VALUE_MAX + 1);
        expect_bad_label("k", value, "4096");

        /* The message never echoes an unprintable key. */
        struct vol_kvs m = VOL_KVS_INIT;
        struct vol_error err = VOL_ERROR_INIT;
        vol_kvs_set(&m, "bad\x1bkey", "v");
        assert_int_equal(vol_validate_labels(&m, &err), -EINVAL);
        assert_null(strchr(err.msg, '\x1b'));
        vol_error_clear(&err);
        vol_kvs_free(&m);
}

/* ---- options ---- */

static void test_options(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        struct vol_error err = VOL_ERROR_INIT;
        vol_kvs_set(&m, "uid", "1000");
        vol_kvs_set(&m, "size", "64m");
        vol_kvs_set(&m, "o.x_y-z", "a b=c \xc3\xa9");
        _cleanup_free_ char *key = repeat('k', VOL_OPTION_KEY_MAX);
        _cleanup_free_ char *value = repeat('v', VOL_OPTION_VALUE_MAX);
        vol_kvs_set(&m, key, value);
        assert_int_equal(vol_validate_options(&m, NULL), 0);
        vol_kvs_free(&m);

        const char *bad_keys[] = {"", "UID", "a b", "a=b", "a/b", "\xc3\xa9"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_keys); i++) {
                vol_kvs_set(&m, bad_keys[i], "v");
                expect_error(vol_validate_options(&m, &err), &err, -EINVAL, "option key");
                vol_kvs_free(&m);
        }
        _cleanup_free_ char *long_key = repeat('k', VOL_OPTION_KEY_MAX + 1);
        vol_kvs_set(&m, long_key, "v");
        expect_error(vol_validate_options(&m, &err), &err, -EINVAL, "64");
        vol_kvs_free(&m);

        _cleanup_free_ char *long_value = repeat('v', VOL_OPTION_VALUE_MAX + 1);
        vol_kvs_set(&m, "k", long_value);
        expect_error(vol_validate_options(&m, &err), &err, -EINVAL, "1024");
        vol_kvs_free(&m);
        vol_kvs_set(&m, "k", "a\nb");
        expect_error(vol_validate_options(&m, &err), &err, -EINVAL, "control");
        vol_kvs_free(&m);
        vol_kvs_set(&m, "k", "\xc0\x80");
        expect_error(vol_validate_options(&m, &err), &err, -EINVAL, "UTF-8");
        vol_kvs_free(&m);

        for (int i = 0; i < VOL_OPTIONS_MAX; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i);
                vol_kvs_set(&m, k, "v");
        }
        assert_int_equal(vol_validate_options(&m, NULL), 0);
        vol_kvs_set(&m, "one-more", "v");
        expect_error(vol_validate_options(&m, &err), &err, -E2BIG, "33");
        vol_kvs_free(&m);
}

/* ---- scope ---- */

static void test_scope_part(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        const char *ok[] = {"a", "acme", "prod-eu-1", "0", "a--b", "xn--p1ai"};
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                assert_int_equal(vol_validate_scope_part("tenant", ok[i], NULL), 0);
        _cleanup_free_ char *max = repeat('t', VOL_SCOPE_PART_MAX);
        assert_int_equal(vol_validate_scope_part("tenant", max, NULL), 0);
        _cleanup_free_ char *over = repeat('t', VOL_SCOPE_PART_MAX + 1);
        expect_error(vol_validate_scope_part("tenant", over, &err), &err, -EINVAL, "tenant is 64");
        expect_error(vol_validate_scope_part("env", "", &err), &err, -EINVAL, "env is empty");
        expect_error(vol_validate_scope_part("env", NULL, &err), &err, -EINVAL, "env is empty");
        const char *bad[] = {"Acme", "a_b", "a.b", "a b", "a/b", "\xc3\xa9"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                expect_error(vol_validate_scope_part("app", bad[i], &err), &err, -EINVAL, "app");
        expect_error(vol_validate_scope_part("app", "-a", &err), &err, -EINVAL, "start and end");
        expect_error(vol_validate_scope_part("app", "a-", &err), &err, -EINVAL, "start and end");
        expect_error(vol_validate_scope_part("app", "-", &err), &err, -EINVAL, "start and end");
}

static void test_scope(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_scope s = {"acme", "prod", "orders", "/var/lib/state"};
        assert_int_equal(vol_validate_scope(&s, NULL), 0);
        s.tenant = "";
        expect_error(vol_validate_scope(&s, &err), &err, -EINVAL, "tenant");
        s.tenant = "acme";
        s.env = "Prod";
        expect_error(vol_validate_scope(&s, &err), &err, -EINVAL, "env");
        s.env = "prod";
        s.app = "-orders";
        expect_error(vol_validate_scope(&s, &err), &err, -EINVAL, "app");
        s.app = "orders";
        s.path = "relative";
        expect_error(vol_validate_scope(&s, &err), &err, -EINVAL, "scope path");
}

static void test_path_valid(void **state)
{
        const char *ok[] = {"/a",
                            "/var/lib/state",
                            "/.hidden",
                            "/a/...",
                            "/a b/c",
                            ("/donn\xc3\xa9"
                             "es"),
                            "/a-/-b",
                            "/a_b",
                            "/..a",
                            "/a.."};
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
                if (vol_validate_path(ok[i], NULL) < 0)
                        fail_msg("path %s refused", ok[i]);

        /* A 255-byte component and a 1024-byte path are the most allowed. */
        char path[VOL_PATH_MAX + 2];
        path[0] = '/';
        memset(path + 1, 'c', 255);
        path[256] = 0;
        assert_int_equal(vol_validate_path(path, NULL), 0);
        for (int i = 1; i < 4; i++) {
                path[i * 256] = '/';
                memset(path + i * 256 + 1, 'c', 255);
        }
        path[VOL_PATH_MAX] = 0;
        assert_int_equal(strlen(path), VOL_PATH_MAX);
        assert_int_equal(vol_validate_path(path, NULL), 0);
}

static void test_path_invalid(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        expect_error(vol_validate_path("", &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_path(NULL, &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_path("relative/path", &err), &err, -EINVAL, "absolute");
        expect_error(vol_validate_path("./a", &err), &err, -EINVAL, "absolute");
        expect_error(vol_validate_path("/", &err), &err, -EINVAL, "root");
        expect_error(vol_validate_path("/a/", &err), &err, -EINVAL, "ends with '/'");
        expect_error(vol_validate_path("//", &err), &err, -EINVAL, "'/'");
        expect_error(vol_validate_path("//a", &err), &err, -EINVAL, "empty component");
        expect_error(vol_validate_path("/a//b", &err), &err, -EINVAL, "empty component");
        expect_error(vol_validate_path("/.", &err), &err, -EINVAL, "'.'");
        expect_error(vol_validate_path("/..", &err), &err, -EINVAL, "'..'");
        expect_error(vol_validate_path("/./a", &err), &err, -EINVAL, "'.'");
        expect_error(vol_validate_path("/a/./b", &err), &err, -EINVAL, "'.'");
        expect_error(vol_validate_path("/a/../b", &err), &err, -EINVAL, "'..'");
        expect_error(vol_validate_path("/a/..", &err), &err, -EINVAL, "'..'");
        expect_error(vol_validate_path("/a\nb", &err), &err, -EINVAL, "control");
        expect_error(vol_validate_path("/a\x7f", &err), &err, -EINVAL, "control");
        expect_error(vol_validate_path("/a\xff", &err), &err, -EINVAL, "UTF-8");
        expect_error(vol_validate_path("/\xc0\xaf", &err), &err, -EINVAL, "UTF-8");

        char path[VOL_PATH_MAX + 3];
        path[0] = '/';
        memset(path + 1, 'c', 256);
        path[257] = 0;
        expect_error(vol_validate_path(path, &err), &err, -EINVAL, "255");
        for (int i = 1; i < 4; i++) {
                path[i * 256] = '/';
                memset(path + i * 256 + 1, 'c', 255);
        }
        path[VOL_PATH_MAX] = '/';
        path[VOL_PATH_MAX + 1] = 'x';
        path[VOL_PATH_MAX + 2] = 0;
        expect_error(vol_validate_path(path, &err), &err, -EINVAL, "1026");
}

/* ---- mount ids ---- */

static void test_mount_id(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_validate_mount_id("c0ffee", NULL), 0);
        assert_int_equal(vol_validate_mount_id("pod/uid:1~x", NULL), 0);
        _cleanup_free_ char *max = repeat('m', VOL_MOUNT_ID_MAX);
        assert_int_equal(vol_validate_mount_id(max, NULL), 0);
        _cleanup_free_ char *over = repeat('m', VOL_MOUNT_ID_MAX + 1);
        expect_error(vol_validate_mount_id(over, &err), &err, -EINVAL, "256");
        expect_error(vol_validate_mount_id("", &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_mount_id(NULL, &err), &err, -EINVAL, "empty");
        expect_error(vol_validate_mount_id("a b", &err), &err, -EINVAL, "spaces");
        expect_error(vol_validate_mount_id("a\tb", &err), &err, -EINVAL, "printable");
        expect_error(vol_validate_mount_id("a\x7f", &err), &err, -EINVAL, "printable");
        expect_error(vol_validate_mount_id("\xc3\xa9", &err), &err, -EINVAL, "ASCII");
}

/* ---- mount references ---- */

static void test_mounts(void **state)
{
        struct vol_volume *v = vol_volume_new();
        struct vol_error err = VOL_ERROR_INIT;
        v->name = xstrdup("data");
        assert_int_equal(vol_volume_find_mount(v, "admin", "a"), -1);
        assert_int_equal(vol_volume_remove_mount(v, "admin", "a"), -ENOENT);
        assert_int_equal(vol_volume_add_mount(v, "admin", "a", 10, "boot1", &err), 0);
        assert_int_equal(vol_volume_add_mount(v, "admin", "b", 20, "boot1", &err), 0);
        assert_int_equal(vol_volume_add_mount(v, "admin", "c", 30, NULL, &err), 0);
        assert_int_equal(vol_volume_add_mount(v, "admin", "b", 99, "boot1", &err), -EEXIST);
        assert_int_equal(v->n_mounts, 3);
        assert_int_equal(vol_volume_find_mount(v, "admin", "b"), 1);
        assert_int_equal(v->mounts[1].since, 20); /* not overwritten by the duplicate */
        assert_string_equal(v->mounts[1].owner, "admin");
        assert_string_equal(v->mounts[1].boot, "boot1");
        assert_string_equal(v->mounts[2].boot, ""); /* NULL boot: recorded as "" */

        assert_int_equal(vol_volume_remove_mount(v, "admin", "b"), 0);
        assert_int_equal(v->n_mounts, 2);
        assert_string_equal(v->mounts[0].id, "a");
        assert_string_equal(v->mounts[1].id, "c");
        assert_int_equal(v->mounts[1].since, 30);
        assert_int_equal(vol_volume_find_mount(v, "admin", "b"), -1);
        assert_int_equal(vol_volume_remove_mount(v, "admin", "b"), -ENOENT);
        assert_int_equal(vol_volume_remove_mount(v, "admin", "c"), 0); /* the last one */
        assert_int_equal(vol_volume_remove_mount(v, "admin", "a"), 0); /* the first and only one */
        assert_int_equal(v->n_mounts, 0);
        assert_int_equal(vol_volume_add_mount(v, "admin", "a", 1, "b", &err), 0);
        assert_int_equal(vol_volume_find_mount(v, "admin", "a"), 0);
        vol_volume_free(v);
}

/* A reference belongs to the face that made it: one id held by two faces is
 * two references, and neither face can drop the other's. */
static void test_mounts_owners(void **state)
{
        struct vol_volume *v = vol_volume_new();
        struct vol_error err = VOL_ERROR_INIT;
        v->name = xstrdup("data");
        assert_int_equal(vol_volume_add_mount(v, "plugin", "x", 1, "b", &err), 0);
        assert_int_equal(vol_volume_find_mount(v, "admin", "x"), -1);
        assert_int_equal(vol_volume_remove_mount(v, "admin", "x"), -ENOENT);
        assert_int_equal(v->n_mounts, 1);
        assert_int_equal(vol_volume_add_mount(v, "admin", "x", 2, "b", &err), 0);
        assert_int_equal(v->n_mounts, 2);
        assert_int_equal(vol_volume_find_mount(v, "admin", "x"), 1);
        assert_int_equal(vol_volume_remove_mount(v, "plugin", "x"), 0);
        assert_int_equal(v->n_mounts, 1);
        assert_string_equal(v->mounts[0].owner, "admin");
        assert_int_equal(vol_volume_remove_mount(v, "plugin", "x"), -ENOENT);
        /* a reference written before owners were recorded ("") is anyone's */
        v->mounts[0].owner[0] = 0;
        assert_int_equal(vol_volume_find_mount(v, "plugin", "x"), 0);
        assert_int_equal(vol_volume_remove_mount(v, "tenant:acme", "x"), 0);
        assert_int_equal(v->n_mounts, 0);
        vol_volume_free(v);
}

static void test_mounts_limit(void **state)
{
        struct vol_volume *v = vol_volume_new();
        struct vol_error err = VOL_ERROR_INIT;
        v->name = xstrdup("busy");
        for (int i = 0; i < VOL_MOUNTS_MAX; i++) {
                char id[16];
                snprintf(id, sizeof(id), "m%d", i);
                assert_int_equal(vol_volume_add_mount(v, "plugin", id, i, "b", &err), 0);
        }
        assert_int_equal(v->n_mounts, VOL_MOUNTS_MAX);
        expect_error(vol_volume_add_mount(v, "plugin", "one-more", 0, "b", &err), &err, -E2BIG, "busy");
        /* Already present is still -EEXIST at the limit. */
        assert_int_equal(vol_volume_add_mount(v, "plugin", "m5", 0, "b", &err), -EEXIST);
        assert_int_equal(vol_volume_remove_mount(v, "plugin", "m5"), 0);
        assert_int_equal(vol_volume_add_mount(v, "plugin", "one-more", 0, "b", &err), 0);
        assert_int_equal(vol_volume_find_mount(v, "plugin", "one-more"), VOL_MOUNTS_MAX - 1);
        vol_volume_free(v);
}

/* ---- dup / free / scope helpers ---- */

static void test_dup_free(void **state)
{
        vol_volume_free(NULL);
        vol_scope_free(NULL);
        assert_null(vol_scope_dup(NULL));

        struct vol_volume *empty = vol_volume_new();
        assert_int_equal(empty->status, VOL_STATUS_CREATING);
        assert_null(empty->name);
        assert_null(empty->scope);
        struct vol_volume *empty2 = vol_volume_dup(empty);
        assert_null(empty2->name);
        assert_null(empty2->driver);
        assert_null(empty2->mounts);
        vol_volume_free(empty);
        vol_volume_free(empty2);

        struct vol_volume *v = vol_volume_new();
        strcpy(v->id, "5f0c8f8e-3c1d-4c49-9b0e-0d2b8c1f7a10");
        v->name = xstrdup("data");
        v->driver = xstrdup("local");
        v->mountpoint = xstrdup("/var/lib/volman/x");
        vol_kvs_set(&v->labels, "team", "web");
        vol_kvs_set(&v->options, "uid", "1000");
        v->scope = xcalloc(1, sizeof(*v->scope));
        v->scope->tenant = xstrdup("acme");
        v->scope->env = xstrdup("prod");
        v->scope->app = xstrdup("orders");
        v->scope->path = xstrdup("/var/lib/state");
        v->status = VOL_STATUS_READY;
        v->created_at = 1700000000;
        v->revision = 7;
        assert_int_equal(vol_volume_add_mount(v, "admin", "m1", 5, "b1", NULL), 0);
        assert_int_equal(vol_volume_add_mount(v, "plugin", "m2", 6, "b1", NULL), 0);

        struct vol_volume *d = vol_volume_dup(v);
        assert_string_equal(d->id, v->id);
        assert_string_equal(d->name, "data");
        assert_ptr_not_equal(d->name, v->name);
        assert_string_equal(d->driver, "local");
        assert_string_equal(d->mountpoint, "/var/lib/volman/x");
        assert_true(vol_kvs_equal(&d->labels, &v->labels));
        assert_true(vol_kvs_equal(&d->options, &v->options));
        assert_ptr_not_equal(d->labels.items, v->labels.items);
        assert_true(vol_scope_equal(d->scope, v->scope));
        assert_ptr_not_equal(d->scope, v->scope);
        assert_int_equal(d->status, VOL_STATUS_READY);
        assert_int_equal(d->created_at, 1700000000);
        assert_int_equal(d->revision, 7);
        assert_int_equal(d->n_mounts, 2);
        assert_string_equal(d->mounts[1].id, "m2");
        assert_int_equal(d->mounts[1].since, 6);
        assert_string_equal(d->mounts[1].owner, "plugin");
        assert_string_equal(d->mounts[1].boot, "b1");
        assert_ptr_not_equal(d->mounts[1].owner, v->mounts[1].owner);
        assert_ptr_not_equal(d->mounts, v->mounts);

        /* The copy is independent: changing and freeing one leaves the other intact. */
        assert_int_equal(vol_volume_remove_mount(d, "admin", "m1"), 0);
        assert_int_equal(v->n_mounts, 2);
        vol_volume_free(v);
        assert_string_equal(d->scope->path, "/var/lib/state");
        assert_string_equal(vol_kvs_get(&d->labels, "team"), "web");
        vol_volume_free(d);
}

static void test_scope_equal(void **state)
{
        struct vol_scope a = {"acme", "prod", "orders", "/x"};
        struct vol_scope b = {"acme", "prod", "orders", "/x"};
        assert_true(vol_scope_equal(NULL, NULL));
        assert_false(vol_scope_equal(&a, NULL));
        assert_false(vol_scope_equal(NULL, &a));
        assert_true(vol_scope_equal(&a, &b));
        b.path = "/y";
        assert_false(vol_scope_equal(&a, &b));
        b.path = "/x";
        b.tenant = "other";
        assert_false(vol_scope_equal(&a, &b));
        b.tenant = "acme";
        b.env = "dev";
        assert_false(vol_scope_equal(&a, &b));
        b.env = "prod";
        b.app = "billing";
        assert_false(vol_scope_equal(&a, &b));

        struct vol_scope *d = vol_scope_dup(&a);
        assert_true(vol_scope_equal(d, &a));
        assert_ptr_not_equal(d->tenant, a.tenant);
        vol_scope_free(d);
}

/* ---- status names ---- */

static void test_status(void **state)
{
        assert_string_equal(vol_status_name(VOL_STATUS_CREATING), "creating");
        assert_string_equal(vol_status_name(VOL_STATUS_READY), "ready");
        assert_string_equal(vol_status_name(VOL_STATUS_DELETING), "deleting");
        assert_string_equal(vol_status_name((enum vol_status)42), "unknown");
        assert_string_equal(vol_status_name((enum vol_status) - 1), "unknown");

        enum vol_status s = VOL_STATUS_DELETING;
        assert_int_equal(vol_status_parse("creating", &s), 0);
        assert_int_equal(s, VOL_STATUS_CREATING);
        assert_int_equal(vol_status_parse("ready", &s), 0);
        assert_int_equal(s, VOL_STATUS_READY);
        assert_int_equal(vol_status_parse("deleting", &s), 0);
        assert_int_equal(s, VOL_STATUS_DELETING);
        assert_int_equal(vol_status_parse("Ready", &s), -EINVAL);
        assert_int_equal(vol_status_parse("", &s), -EINVAL);
        assert_int_equal(vol_status_parse("unknown", &s), -EINVAL);
        assert_int_equal(s, VOL_STATUS_DELETING); /* untouched on failure */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_name_valid),      cmocka_unit_test(test_name_invalid),
            cmocka_unit_test(test_driver_name),     cmocka_unit_test(test_labels_valid),
            cmocka_unit_test(test_labels_too_many), cmocka_unit_test(test_labels_invalid),
            cmocka_unit_test(test_options),         cmocka_unit_test(test_scope_part),
            cmocka_unit_test(test_scope),           cmocka_unit_test(test_path_valid),
            cmocka_unit_test(test_path_invalid),    cmocka_unit_test(test_mount_id),
            cmocka_unit_test(test_mounts),
            cmocka_unit_test(test_mounts_owners),          cmocka_unit_test(test_mounts_limit),
            cmocka_unit_test(test_dup_free),        cmocka_unit_test(test_scope_equal),
            cmocka_unit_test(test_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
