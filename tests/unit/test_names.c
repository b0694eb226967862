/* vol_name_for_scope / vol_validate_prefix: exact strings for known inputs, the
 * cases that broke the first slug (docs/names.md), over-long inputs, and a
 * property test that decodes every short name back to its tuple. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cleanup.h"
#include "core/names.h"
#include "core/volume.h"
#include "core/xmalloc.h"

/* The name for a tuple that must be valid; fails the test otherwise. */
static char *name_of(const char *prefix, const char *tenant, const char *env, const char *app,
                     const char *path)
{
        struct vol_scope s = {(char *)tenant, (char *)env, (char *)app, (char *)path};
        struct vol_error err = VOL_ERROR_INIT;
        char *name = NULL;
        int r = vol_name_for_scope(prefix, &s, &name, &err);
        if (r < 0)
                fail_msg("vol_name_for_scope(%s, %s, %s, %s, %s): %s", prefix, tenant, env, app,
                         path, vol_error_message(&err));
        assert_non_null(name);
        assert_int_equal(vol_validate_name(name, NULL), 0);
        assert_true(strlen(name) <= VOL_NAME_MAX);
        vol_error_clear(&err);
        return name;
}

static void expect_name(const char *prefix, const char *tenant, const char *env, const char *app,
                        const char *path, const char *want)
{
        _cleanup_free_ char *name = name_of(prefix, tenant, env, app, path);
        assert_string_equal(name, want);
}

/* The name under the default tenant/env/app of the docs' examples. */
static char *path_name(const char *path)
{
        return name_of("volman", "acme", "prod", "orders", path);
}

static void expect_path(const char *path, const char *want_suffix)
{
        _cleanup_free_ char *want = xasprintf("volman-acme-prod-orders-%s", want_suffix);
        expect_name("volman", "acme", "prod", "orders", path, want);
}

static void expect_different_paths(const char *a, const char *b)
{
        _cleanup_free_ char *na = path_name(a);
        _cleanup_free_ char *nb = path_name(b);
        if (!strcmp(na, nb))
                fail_msg("paths %s and %s share the name %s", a, b, na);
}

/* ---- exact strings ---- */

static void test_documented_examples(void **state)
{
        expect_path("/var/lib/kafka-streams", "var-lib-kafka--streams");
        expect_path("/var/lib-x", "var-lib--x");
        expect_path("/var/lib/x", "var-lib-x");
        expect_path("/var/lib/state", "var-lib-state");
        expect_name("volman", "a-b", "c", "app", "/x", "volman-a--b-c-app-x");
        expect_name("volman", "a", "b-c", "app", "/x", "volman-a-b--c-app-x");
        expect_name("my-co", "t", "e", "a", "/x", "my--co-t-e-a-x");
        expect_name("v", "xn--p1ai", "e", "a", "/x", "v-xn----p1ai-e-a-x");
}

static void test_issue_collisions(void **state)
{
        /* The first slug turned '/' and '-' both into '-'. */
        expect_different_paths("/var/lib-x", "/var/lib/x");
        expect_different_paths("/a-b/c", "/a/b-c");
        expect_different_paths("/a--b", "/a-/-b");
        expect_different_paths("/a--b", "/a/b");

        _cleanup_free_ char *n1 = name_of("volman", "a-b", "c", "app", "/x");
        _cleanup_free_ char *n2 = name_of("volman", "a", "b-c", "app", "/x");
        assert_string_not_equal(n1, n2);
        _cleanup_free_ char *n3 = name_of("volman", "a", "b", "c-app", "/x");
        _cleanup_free_ char *n4 = name_of("volman", "a", "b-c", "app", "/x");
        assert_string_not_equal(n3, n4);
        /* The app against the first path component. */
        _cleanup_free_ char *n5 = name_of("volman", "a", "b", "c-d", "/x");
        _cleanup_free_ char *n6 = name_of("volman", "a", "b", "c", "/d/x");
        assert_string_not_equal(n5, n6);
        _cleanup_free_ char *n7 = name_of("volman", "a", "b", "c", "/d-x");
        assert_string_not_equal(n5, n7);
        assert_string_not_equal(n6, n7);
        /* The prefix against the tenant. */
        _cleanup_free_ char *n8 = name_of("v-a", "b", "c", "d", "/x");
        _cleanup_free_ char *n9 = name_of("v", "a-b", "c", "d", "/x");
        assert_string_not_equal(n8, n9);
}

static void test_edge_hyphens(void **state)
{
        expect_path("/a-/b", "a_2d-b");
        expect_path("/a/-b", "a-_2db");
        expect_different_paths("/a-/b", "/a/-b");
        expect_path("/-", "_2d");
        expect_path("/--", "_2d_2d");
        expect_path("/---", "_2d--_2d");
        expect_path("/a--b", "a----b");
        expect_path("/-a-", "_2da_2d");
        expect_different_paths("/-", "/_2d");
        expect_different_paths("/a-", "/a_2d");
}

static void test_underscores_dots(void **state)
{
        expect_path("/my_data", "my_5fdata");
        expect_path("/_", "_5f");
        expect_path("/__", "_5f_5f");
        expect_path("/_2d", "_5f2d");
        expect_path("/.hidden/v1.2", ".hidden-v1.2");
        expect_path("/...", "...");
        expect_path("/a.b", "a.b");
        expect_different_paths("/a_b", "/a-b");
        expect_different_paths("/a.b", "/a/b");
        expect_different_paths("/_5f", "/_");
}

static void test_unicode_spaces_case(void **state)
{
        expect_path("/donn\xc3\xa9"
                    "es",
                    "donn_c3_a9es");
        expect_path("/a b", "a_20b");
        expect_path("/ ", "_20");
        expect_path("/\xe6\x97\xa5\xe6\x9c\xac", "_e6_97_a5_e6_9c_ac");
        expect_path("/\xf0\x9f\x90\xb3", "_f0_9f_90_b3");
        expect_path("/Data/MyApp", "Data-MyApp");
        expect_different_paths("/Data", "/data");
        expect_path("/a:b@c+d=e~f", "a_3ab_40c_2bd_3de_7ef");
        expect_path("/donn\xc3\xa9"
                    "es/a b/my_data/-x-/.hidden",
                    "donn_c3_a9es-a_20b-my_5fdata-_2dx_2d-.hidden");
}

static void test_deterministic(void **state)
{
        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *a = path_name("/var/lib/kafka-streams");
                _cleanup_free_ char *b = path_name("/var/lib/kafka-streams");
                assert_string_equal(a, b);
        }
        char long_path[VOL_PATH_MAX + 1];
        strcpy(long_path, "/");
        for (int i = 0; i < 4; i++) {
                if (i)
                        strcat(long_path, "/");
                memset(long_path + strlen(long_path), 'q', 255);
                long_path[1 + i * 256 + 255] = 0;
        }
        assert_int_equal(strlen(long_path), VOL_PATH_MAX);
        _cleanup_free_ char *a = path_name(long_path);
        _cleanup_free_ char *b = path_name(long_path);
        assert_string_equal(a, b);
}

/* ---- long forms ---- */

static void test_length_boundary(void **state)
{
        /* "v-t-e-a-" is 8 bytes: a 120-byte component fills 128 exactly. */
        char path[200] = "/";
        memset(path + 1, 'x', 120);
        path[121] = 0;
        _cleanup_free_ char *exact = name_of("v", "t", "e", "a", path);
        assert_int_equal(strlen(exact), 128);
        assert_null(strstr(exact, "__"));

        path[121] = 'x';
        path[122] = 0;
        _cleanup_free_ char *over = name_of("v", "t", "e", "a", path);
        /* Pinned: SHA-256 over the length-prefixed tuple (checked with Python's hashlib). */
        assert_string_equal(over,
                            "v-t-e-a-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx__7a59a8a04cee9e12da733729");
        assert_int_equal(strlen(over), VOL_NAME_MAX);
}

static void test_long_path_max(void **state)
{
        char path[VOL_PATH_MAX + 1] = "/";
        for (int i = 0; i < 4; i++) {
                if (i)
                        strcat(path, "/");
                size_t at = strlen(path);
                memset(path + at, 'a', 255);
                path[at + 255] = 0;
        }
        assert_int_equal(strlen(path), VOL_PATH_MAX);
        _cleanup_free_ char *n = path_name(path);
        assert_string_equal(n,
                            "volman-acme-prod-orders-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa__a4b701e7b944dbc739f5ae1a");

        /* A path one byte over is refused, not cut. */
        char over[VOL_PATH_MAX + 3];
        snprintf(over, sizeof(over), "%s/b", path);
        struct vol_scope s = {"acme", "prod", "orders", over};
        struct vol_error err = VOL_ERROR_INIT;
        char *name = (char *)"untouched";
        assert_int_equal(vol_name_for_scope("volman", &s, &name, &err), -EINVAL);
        assert_string_equal(name, "untouched");
        assert_non_null(err.msg);
        vol_error_clear(&err);
}

/* Long inputs that share their first 102 bytes differ only by the hash. */
static void test_long_forms_differ(void **state)
{
        char tenant[64], env[64], app[64];
        memset(tenant, 't', 63);
        memset(env, 'e', 63);
        memset(app, 'a', 63);
        tenant[63] = env[63] = app[63] = 0;
        const char *paths[] = {"/x", "/y", "/x/y", "/x-y", "/x_y", "/X", "/x/y/z", "/\xc3\xa9"};
        char *names[ARRAY_SIZE(paths) + 2];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
                names[n++] = name_of("volman", tenant, env, app, paths[i]);
        tenant[62] = 'u';
        names[n++] = name_of("volman", tenant, env, app, "/x");
        tenant[62] = 't';
        env[1] = '-';
        names[n++] = name_of("volman", tenant, env, app, "/x");
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(strlen(names[i]), VOL_NAME_MAX);
                assert_memory_equal(names[i] + VOL_NAME_MAX - 26, "__", 2);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(names[i], names[j]);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
}

/* Random long paths (up to 1024 bytes, with escapes so the cut lands anywhere):
 * valid names, hashed exactly when over 128 bytes, distinct for distinct paths. */
static void test_long_random(void **state)
{
        enum { N = 3000 };
        static const char *const units[] = {"a", "b", "-", "_", ".", " ", "Z", "\xc3\xa9"};
        char **names = xcalloc(N, sizeof(char *));
        char **paths = xcalloc(N, sizeof(char *));
        size_t n = 0, n_long = 0;
        srand(4242);
        for (int i = 0; i < N; i++) {
                char path[VOL_PATH_MAX + 1];
                size_t want = 60 + (size_t)rand() % (VOL_PATH_MAX - 60 + 1), len = 0;
                while (len + 2 <= want) {
                        path[len++] = '/';
                        size_t room = want - len < VOL_PATH_COMPONENT_MAX ? want - len
                                                                          : VOL_PATH_COMPONENT_MAX;
                        size_t end = len + 1 + (size_t)rand() % room;
                        while (len < end) {
                                const char *u = units[rand() % ARRAY_SIZE(units)];
                                if (len + strlen(u) > end)
                                        u = "a";
                                memcpy(path + len, u, strlen(u));
                                len += strlen(u);
                        }
                }
                path[len] = 0;
                if (vol_validate_path(path, NULL) < 0)
                        continue; /* a "." or ".." component */
                char *name = path_name(path);
                if (strlen(name) == VOL_NAME_MAX && strstr(name, "__")) {
                        assert_memory_equal(name + VOL_NAME_MAX - 26, "__", 2);
                        n_long++;
                } else {
                        assert_null(strstr(name, "__"));
                }
                for (size_t j = 0; j < n; j++)
                        if (!strcmp(name, names[j]) && strcmp(path, paths[j]))
                                fail_msg("%s and %s share the name %s", path, paths[j], name);
                names[n] = name;
                paths[n++] = xstrdup(path);
        }
        assert_true(n_long > N / 2);
        for (size_t i = 0; i < n; i++) {
                free(names[i]);
                free(paths[i]);
        }
        free(names);
        free(paths);
}

/* ---- refusals ---- */

static void expect_refused(const char *prefix, const struct vol_scope *s, const char *needle)
{
        struct vol_error err = VOL_ERROR_INIT;
        char *name = (char *)"untouched";
        assert_int_equal(vol_name_for_scope(prefix, s, &name, &err), -EINVAL);
        assert_string_equal(name, "untouched");
        assert_int_equal(err.code, -EINVAL);
        assert_non_null(err.msg);
        if (!strstr(err.msg, needle))
                fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
        vol_error_clear(&err);
}

static void test_invalid_prefix(void **state)
{
        struct vol_scope s = {"acme", "prod", "orders", "/x"};
        const char *bad[] = {
            "",    "Volman", "-v",  "v-",       "v_1",
            "v.1", "v 1",    "v/1", "\xc3\xa9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                expect_refused(bad[i], &s, "prefix");
                assert_int_equal(vol_validate_prefix(bad[i], NULL), -EINVAL);
        }
        expect_refused(NULL, &s, "prefix");
        assert_int_equal(vol_validate_prefix("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 32 */, NULL), 0);
        assert_int_equal(vol_validate_prefix("v", NULL), 0);
        assert_int_equal(vol_validate_prefix("vol-man2", NULL), 0);
        assert_int_equal(vol_validate_prefix("a--b", NULL), 0);
}

static void test_invalid_scope(void **state)
{
        expect_refused("volman", NULL, "scope");
        struct vol_scope s = {"", "prod", "orders", "/x"};
        expect_refused("volman", &s, "tenant");
        s = (struct vol_scope){"Acme", "prod", "orders", "/x"};
        expect_refused("volman", &s, "tenant");
        s = (struct vol_scope){"acme", "prod-", "orders", "/x"};
        expect_refused("volman", &s, "env");
        s = (struct vol_scope){"acme", "prod", "or_ders", "/x"};
        expect_refused("volman", &s, "app");
        s = (struct vol_scope){"acme", "prod", NULL, "/x"};
        expect_refused("volman", &s, "app");
        s = (struct vol_scope){"acme", "prod", "orders", "x"};
        expect_refused("volman", &s, "path");
        s = (struct vol_scope){"acme", "prod", "orders", "/"};
        expect_refused("volman", &s, "path");
        s = (struct vol_scope){"acme", "prod", "orders", "/a//b"};
        expect_refused("volman", &s, "path");
        s = (struct vol_scope){"acme", "prod", "orders", "/a/../b"};
        expect_refused("volman", &s, "path");
        s = (struct vol_scope){"acme", "prod", "orders", "/a\nb"};
        expect_refused("volman", &s, "path");
        s = (struct vol_scope){"acme", "prod", "orders", "/a\xff"};
        expect_refused("volman", &s, "path");
        char tenant[65];
        memset(tenant, 'a', 64);
        tenant[64] = 0;
        s = (struct vol_scope){tenant, "prod", "orders", "/x"};
        expect_refused("volman", &s, "tenant");
}

/* ---- property test: decode every short name back to its tuple ---- */

struct tuple {
        char *fields[4]; /* prefix, tenant, env, app */
        char *path;
};

static void tuple_free(struct tuple *t)
{
        for (int i = 0; i < 4; i++)
                free(t->fields[i]);
        free(t->path);
}

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decodes a short name; returns 0 or -1 when name is not a well-formed short form.
 * Independent of core/names.c: it follows docs/names.md only. */
static int decode(const char *name, struct tuple *ret)
{
        /* Tokens are separated by '-' runs of length one; a run of even length 2k
         * is k literal '-' inside a token; an odd run longer than one cannot occur. */
        size_t n = strlen(name);
        char **tokens = xcalloc(n + 1, sizeof(char *));
        size_t n_tokens = 0;
        char *cur = xcalloc(n + 1, 1);
        size_t cur_len = 0;
        int r = -1;
        for (size_t i = 0; i <= n;) {
                if (i == n || name[i] == '-') {
                        size_t run = 0;
                        while (i + run < n && name[i + run] == '-')
                                run++;
                        if (i == n || run == 1) {
                                if (cur_len == 0)
                                        goto out; /* empty token */
                                tokens[n_tokens++] = xstrndup(cur, cur_len);
                                cur_len = 0;
                                if (i == n)
                                        break;
                                i++;
                                continue;
                        }
                        if (run % 2)
                                goto out;
                        if (cur_len == 0 || i + run == n)
                                goto out; /* a token never starts or ends with '-' */
                        for (size_t k = 0; k < run / 2; k++)
                                cur[cur_len++] = '-';
                        i += run;
                        continue;
                }
                cur[cur_len++] = name[i++];
        }
        if (n_tokens < 5)
                goto out;
        for (size_t t = 0; t < 4; t++)
                for (const char *p = tokens[t]; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
                                goto out;
        char *path = xcalloc(n + 1, 1);
        size_t pl = 0;
        for (size_t t = 4; t < n_tokens; t++) {
                path[pl++] = '/';
                for (const char *p = tokens[t]; *p;) {
                        if (*p != '_') {
                                path[pl++] = *p++;
                                continue;
                        }
                        int hi = hex_value(p[1]), lo = hi < 0 ? -1 : hex_value(p[2]);
                        if (hi < 0 || lo < 0) {
                                free(path);
                                goto out;
                        }
                        path[pl++] = (char)(hi << 4 | lo);
                        p += 3;
                }
        }
        path[pl] = 0;
        for (int t = 0; t < 4; t++)
                ret->fields[t] = TAKE_PTR(tokens[t]);
        ret->path = path;
        r = 0;
out:
        for (size_t t = 0; t < n_tokens; t++)
                free(tokens[t]);
        free(tokens);
        free(cur);
        return r;
}

static char *random_label(size_t max)
{
        static const char alphabet[] = "ab0-";
        size_t n = 1 + (size_t)rand() % max;
        char *s = xcalloc(n + 1, 1);
        for (size_t i = 0; i < n; i++)
                s[i] = alphabet[rand() % 4];
        if (s[0] == '-')
                s[0] = 'a';
        if (s[n - 1] == '-')
                s[n - 1] = 'b';
        return s;
}

/* A path of 1..4 components of 1..5 units each, from units chosen to meet the
 * escapes: '-', '_', '.', spaces, "_2d" spelled out, UTF-8. */
static char *random_path(void)
{
        static const char *const units[] = {"a", "b", "-",   "-",        "_",  ".", " ",
                                            "A", "5", "_2d", "\xc3\xa9", "2d", "--"};
        char buf[256];
        size_t len = 0;
        int comps = 1 + rand() % 4;
        for (int c = 0; c < comps; c++) {
                buf[len++] = '/';
                size_t start = len;
                int n = 1 + rand() % 5;
                for (int u = 0; u < n; u++) {
                        const char *s = units[rand() % ARRAY_SIZE(units)];
                        memcpy(buf + len, s, strlen(s));
                        len += strlen(s);
                }
                buf[len] = 0;
                if (!strcmp(buf + start, ".") || !strcmp(buf + start, ".."))
                        buf[len++] = 'z';
        }
        buf[len] = 0;
        return xstrdup(buf);
}

struct sample {
        char *name;
        char *key; /* the tuple, fields joined by '\n' (no field holds one) */
};

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct sample *)a)->name, ((const struct sample *)b)->name);
}

static int by_key(const void *a, const void *b)
{
        return strcmp(((const struct sample *)a)->key, ((const struct sample *)b)->key);
}

/* Names N random tuples (labels of 1..label_max bytes) from seed: every name is
 * valid, every short form decodes back to its tuple, long forms are 128 bytes,
 * and names are equal only for equal tuples. Returns how many were short. */
static size_t check_random_tuples(unsigned seed, size_t N, size_t label_max)
{
        struct sample *samples = xcalloc(N, sizeof(*samples));
        size_t n_short = 0;
        size_t prefix_max = label_max < VOL_PREFIX_MAX ? label_max : VOL_PREFIX_MAX;
        srand(seed);
        for (size_t i = 0; i < N; i++) {
                struct tuple t = {{random_label(prefix_max), random_label(label_max),
                                   random_label(label_max), random_label(label_max)},
                                  random_path()};
                struct vol_scope s = {t.fields[1], t.fields[2], t.fields[3], t.path};
                struct vol_error err = VOL_ERROR_INIT;
                char *name = NULL;
                if (vol_name_for_scope(t.fields[0], &s, &name, &err) < 0)
                        fail_msg("tuple %s %s %s %s %s refused: %s", t.fields[0], t.fields[1],
                                 t.fields[2], t.fields[3], t.path, vol_error_message(&err));
                assert_int_equal(vol_validate_name(name, NULL), 0);
                assert_true(strlen(name) <= VOL_NAME_MAX);
                if (!strstr(name, "__")) {
                        struct tuple d = {{NULL, NULL, NULL, NULL}, NULL};
                        if (decode(name, &d) < 0)
                                fail_msg("cannot decode %s (path %s)", name, t.path);
                        for (int f = 0; f < 4; f++)
                                assert_string_equal(d.fields[f], t.fields[f]);
                        assert_string_equal(d.path, t.path);
                        tuple_free(&d);
                        n_short++;
                } else {
                        assert_int_equal(strlen(name), VOL_NAME_MAX);
                        assert_memory_equal(name + VOL_NAME_MAX - 26, "__", 2);
                }
                samples[i].name = name;
                samples[i].key = xasprintf("%s\n%s\n%s\n%s\n%s", t.fields[0], t.fields[1],
                                           t.fields[2], t.fields[3], t.path);
                tuple_free(&t);
        }

        /* Equal names only for equal tuples; as many distinct names as tuples. */
        qsort(samples, N, sizeof(*samples), by_name);
        size_t distinct_names = 1;
        for (size_t i = 1; i < N; i++) {
                if (strcmp(samples[i].name, samples[i - 1].name)) {
                        distinct_names++;
                        continue;
                }
                if (strcmp(samples[i].key, samples[i - 1].key))
                        fail_msg("%s is the name of two tuples", samples[i].name);
        }
        qsort(samples, N, sizeof(*samples), by_key);
        size_t distinct_keys = 1;
        for (size_t i = 1; i < N; i++)
                distinct_keys += strcmp(samples[i].key, samples[i - 1].key) != 0;
        assert_int_equal(distinct_names, distinct_keys);
        for (size_t i = 0; i < N; i++) {
                free(samples[i].name);
                free(samples[i].key);
        }
        free(samples);
        return n_short;
}

static void test_property_round_trip(void **state)
{
        enum { N = 50000 };
        size_t n_short = check_random_tuples(20261122, N, 4);
        /* Most are short forms: the round trip must have been exercised. */
        assert_true(n_short > N * 9 / 10);
}

/* Labels up to 63 bytes: mostly long forms, cut at every offset. */
static void test_property_long_labels(void **state)
{
        enum { N = 20000 };
        size_t n_short = check_random_tuples(1122, N, VOL_SCOPE_PART_MAX);
        assert_true(n_short > N / 100);
        assert_true(n_short < N / 2);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every path of up to 6 bytes over a small alphabet, exhaustively: all names distinct. */
static void test_exhaustive_small_paths(void **state)
{
        static const char alphabet[] = "a-_./";
        enum { LEN = 6, CAP = 20000 };
        char **names = xcalloc(CAP, sizeof(char *));
        size_t n = 0;
        char path[LEN + 1];
        for (int len = 2; len <= LEN; len++) {
                size_t total = 1;
                for (int i = 1; i < len; i++)
                        total *= 5;
                for (size_t code = 0; code < total; code++) {
                        size_t c = code;
                        path[0] = '/';
                        for (int i = 1; i < len; i++, c /= 5)
                                path[i] = alphabet[c % 5];
                        path[len] = 0;
                        if (vol_validate_path(path, NULL) < 0)
                                continue;
                        assert_true(n < CAP);
                        names[n++] = name_of("v", "t", "e", "a", path);
                        struct tuple d = {{NULL, NULL, NULL, NULL}, NULL};
                        assert_int_equal(decode(names[n - 1], &d), 0);
                        assert_string_equal(d.path, path);
                        tuple_free(&d);
                }
        }
        assert_true(n > 1000);
        qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 1; i < n; i++)
                if (!strcmp(names[i], names[i - 1]))
                        fail_msg("two paths share the name %s", names[i]);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Every scoped name is of the scoped form under its prefix, hyphens in the
 * prefix included; names of other forms are not. */
static void test_scoped_form(void **state)
{
        static const char *const prefixes[] = {"volman", "my-co", "a-b-c", "x"};
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
                _cleanup_free_ char *n = name_of(prefixes[i], "acme", "prod", "orders", "/x");
                assert_true(vol_name_is_scoped_form(prefixes[i], n));
        }
        assert_true(vol_name_is_scoped_form("my-co", "my--co-anything"));
        assert_false(vol_name_is_scoped_form("my-co", "my-co-foo"));
        assert_false(vol_name_is_scoped_form("my-co", "my--co"));
        assert_false(vol_name_is_scoped_form("volman", "volman"));
        assert_false(vol_name_is_scoped_form("volman", "volmanx-a"));
        assert_false(vol_name_is_scoped_form("volman", "Volman-a"));
        assert_true(vol_name_is_scoped_form("volman", "volman-"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scoped_form),
            cmocka_unit_test(test_documented_examples),
            cmocka_unit_test(test_issue_collisions),
            cmocka_unit_test(test_edge_hyphens),
            cmocka_unit_test(test_underscores_dots),
            cmocka_unit_test(test_unicode_spaces_case),
            cmocka_unit_test(test_deterministic),
            cmocka_unit_test(test_length_boundary),
            cmocka_unit_test(test_long_path_max),
            cmocka_unit_test(test_long_forms_differ),
            cmocka_unit_test(test_long_random),
            cmocka_unit_test(test_invalid_prefix),
            cmocka_unit_test(test_invalid_scope),
            cmocka_unit_test(test_property_round_trip),
            cmocka_unit_test(test_property_long_labels),
            cmocka_unit_test(test_exhaustive_small_paths),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
