/* core/appconfig.h: one config layer read from JSON (types, bad values,
 * unknown fields, null = unset), writeable volume paths, the JSON writer
 * (parsed back with jansson), and the three-layer merge of docs/apps.md,
 * field by field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/appconfig.h"
#include "core/strbuf.h"

/* ---- helpers ---- */

static json_t *json_of(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (!j)
                fail_msg("test bug: not JSON (%s): %s", e.text, text);
        return j;
}

/* Parses text as one layer; fails the test if it is refused. */
static void parse_ok(const char *text, struct vol_app_config *ret)
{
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_app_config_from_json(j, ret, &err);
        json_decref(j);
        if (r < 0)
                fail_msg("refused %s: %s", text, vol_error_message(&err));
        vol_error_clear(&err);
}

/* Parses text as one layer; it must be refused with a negative errno and a
 * message that contains each of the NULL-terminated needles. *ret must be
 * left as it was. */
static void parse_bad(const char *text, ...)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_config c;
        struct vol_app_config before;
        memset(&c, 0x5a, sizeof(c));
        memcpy(&before, &c, sizeof(c));
        json_t *j = json_of(text);
        int r = vol_app_config_from_json(j, &c, &err);
        json_decref(j);
        if (r >= 0)
                fail_msg("accepted %s", text);
        assert_true(r < 0);
        assert_int_equal(err.code, r);
        assert_non_null(err.msg);
        if (memcmp(&c, &before, sizeof(c)))
                fail_msg("refusing %s changed *ret", text);
        va_list ap;
        va_start(ap, text);
        for (const char *needle; (needle = va_arg(ap, const char *));)
                if (!strstr(err.msg, needle))
                        fail_msg("refusing %s: message \"%s\" does not name \"%s\"", text, err.msg,
                                 needle);
        va_end(ap);
        vol_error_clear(&err);
}

/* Renders c with vol_app_config_to_json and parses it back. */
static json_t *render(const struct vol_app_config *c)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_app_config_to_json(c, &b), 0);
        json_error_t e;
        json_t *j = json_loads(b.data, JSON_REJECT_DUPLICATES, &e);
        if (!j)
                fail_msg("to_json wrote no JSON object (%s): %s", e.text, b.data);
        assert_true(json_is_object(j));
        vol_strbuf_free(&b);
        return j;
}

static void assert_json_equal(json_t *got, const char *want_text, const char *what)
{
        json_t *want = json_of(want_text);
        if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
                fail_msg("%s: got %s, want %s", what, g ? g : "(nothing)", want_text);
        }
        json_decref(want);
}

static int validate(const char *path)
{
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_validate_app_path(path, &err);
        if (r < 0) {
                assert_non_null(err.msg);
                assert_int_equal(err.code, r);
        }
        vol_error_clear(&err);
        return r;
}

/* ---- one layer ---- */

static void test_parse_all_fields(void **state)
{
        struct vol_app_config c;
        parse_ok("{\"writeableVolumes\":[\"/var/lib/state\",\"/tmp/kafka-streams\"],"
                 "\"readOnlyRootfs\":false,\"tmpSize\":\"64m\",\"volumeDriver\":\"tmpfs\","
                 "\"volumeSize\":\"1g\",\"networkMode\":\"none\"}",
                 &c);
        assert_true(c.has_writeable_volumes);
        assert_int_equal(c.n_paths, 2);
        assert_string_equal(c.paths[0], "/var/lib/state");
        assert_string_equal(c.paths[1], "/tmp/kafka-streams");
        assert_true(c.has_read_only_rootfs);
        assert_false(c.read_only_rootfs);
        assert_true(c.has_tmp_size);
        assert_string_equal(c.tmp_size, "64m");
        assert_true(c.has_volume_driver);
        assert_string_equal(c.volume_driver, "tmpfs");
        assert_true(c.has_volume_size);
        assert_string_equal(c.volume_size, "1g");
        assert_true(c.has_network_mode);
        assert_string_equal(c.network_mode, "none");
        vol_app_config_free(&c);
        assert_int_equal(c.n_paths, 0);
        assert_null(c.paths);
        assert_false(c.has_writeable_volumes);
        vol_app_config_free(&c); /* twice is harmless */

        parse_ok("{\"readOnlyRootfs\":true,\"networkMode\":\"container:abc_1.x-y\"}", &c);
        assert_true(c.has_read_only_rootfs);
        assert_true(c.read_only_rootfs);
        assert_string_equal(c.network_mode, "container:abc_1.x-y");
        vol_app_config_free(&c);
}

static void test_parse_empty_and_null(void **state)
{
        static const char *const texts[] = {
                "{}",
                "{\"writeableVolumes\":null,\"readOnlyRootfs\":null,\"tmpSize\":null,"
                "\"volumeDriver\":null,\"volumeSize\":null,\"networkMode\":null}",
        };
        for (size_t i = 0; i < 2; i++) {
                struct vol_app_config c;
                memset(&c, 0x5a, sizeof(c)); /* zeroed first by the parser */
                parse_ok(texts[i], &c);
                assert_false(c.has_writeable_volumes);
                assert_int_equal(c.n_paths, 0);
                assert_false(c.has_read_only_rootfs);
                assert_false(c.has_tmp_size);
                assert_null(c.tmp_size);
                assert_false(c.has_volume_driver);
                assert_null(c.volume_driver);
                assert_false(c.has_volume_size);
                assert_null(c.volume_size);
                assert_false(c.has_network_mode);
                assert_null(c.network_mode);
                json_t *j = render(&c);
                assert_json_equal(j, "{}", texts[i]);
                json_decref(j);
                vol_app_config_free(&c);
        }

        /* An empty list is a value, not "unset". */
        struct vol_app_config c;
        parse_ok("{\"writeableVolumes\":[]}", &c);
        assert_true(c.has_writeable_volumes);
        assert_int_equal(c.n_paths, 0);
        vol_app_config_free(&c);
}

static void test_parse_wrong_types(void **state)
{
        parse_bad("[]", "object", NULL);
        parse_bad("\"x\"", "object", NULL);
        parse_bad("null", "object", NULL);
        parse_bad("42", "object", NULL);
        parse_bad("{\"writeableVolumes\":\"/data\"}", "writeableVolumes", NULL);
        parse_bad("{\"writeableVolumes\":{\"/data\":true}}", "writeableVolumes", NULL);
        parse_bad("{\"writeableVolumes\":true}", "writeableVolumes", NULL);
        parse_bad("{\"writeableVolumes\":[1]}", "writeableVolumes[0]", NULL);
        parse_bad("{\"writeableVolumes\":[\"/a\",null]}", "writeableVolumes[1]", NULL);
        parse_bad("{\"writeableVolumes\":[[\"/a\"]]}", "writeableVolumes[0]", NULL);
        parse_bad("{\"writeableVolumes\":[\"/a\\u0000b\"]}", "writeableVolumes[0]", NULL);
        parse_bad("{\"readOnlyRootfs\":\"true\"}", "readOnlyRootfs", NULL);
        parse_bad("{\"readOnlyRootfs\":1}", "readOnlyRootfs", NULL);
        parse_bad("{\"readOnlyRootfs\":[]}", "readOnlyRootfs", NULL);
        parse_bad("{\"tmpSize\":256}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":true}", "tmpSize", NULL);
        parse_bad("{\"volumeDriver\":5}", "volumeDriver", NULL);
        parse_bad("{\"volumeDriver\":[\"local\"]}", "volumeDriver", NULL);
        parse_bad("{\"volumeSize\":1024}", "volumeSize", NULL);
        parse_bad("{\"networkMode\":false}", "networkMode", NULL);
        parse_bad("{\"networkMode\":{}}", "networkMode", NULL);
}

static void test_parse_bad_values(void **state)
{
        parse_bad("{\"tmpSize\":\"\"}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":\"abc\"}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":\"0\"}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":\"-1m\"}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":\"12q\"}", "tmpSize", NULL);
        parse_bad("{\"tmpSize\":\"64m; rm\"}", "tmpSize", NULL);
        parse_bad("{\"volumeSize\":\"\"}", "volumeSize", NULL);
        parse_bad("{\"volumeSize\":\"huge\"}", "volumeSize", NULL);
        parse_bad("{\"volumeSize\":\"0m\"}", "volumeSize", NULL);
        parse_bad("{\"volumeDriver\":\"\"}", "volumeDriver", NULL);
        parse_bad("{\"volumeDriver\":\"Local\"}", "volumeDriver", NULL);
        parse_bad("{\"volumeDriver\":\"lo cal\"}", "volumeDriver", NULL);
        parse_bad("{\"volumeDriver\":\"../local\"}", "volumeDriver", NULL);
        parse_bad("{\"volumeDriver\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "volumeDriver", NULL); /* 33 */
        parse_bad("{\"networkMode\":\"\"}", "networkMode", NULL);
        parse_bad("{\"networkMode\":\"Bridge\"}", "networkMode", NULL);
        parse_bad("{\"networkMode\":\"host;rm -rf\"}", "networkMode", NULL);
        parse_bad("{\"networkMode\":\"a/b\"}", "networkMode", NULL);

        /* Sizes as people write them are fine. */
        static const char *const sizes[] = {"256m", "64M", "1g", "512k", "4096", "1Gi", "10MiB"};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                char text[128];
                snprintf(text, sizeof(text), "{\"tmpSize\":\"%s\",\"volumeSize\":\"%s\"}", sizes[i],
                         sizes[i]);
                struct vol_app_config c;
                parse_ok(text, &c);
                assert_string_equal(c.tmp_size, sizes[i]); /* kept as written */
                assert_string_equal(c.volume_size, sizes[i]);
                vol_app_config_free(&c);
        }
        /* A driver name of 32 bytes is the most. */
        struct vol_app_config c;
        parse_ok("{\"volumeDriver\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &c);
        assert_int_equal(strlen(c.volume_driver), 32);
        vol_app_config_free(&c);
}

static void test_parse_unknown_fields(void **state)
{
        parse_bad("{\"writeableVolume\":[\"/data\"]}", "writeableVolume", NULL);
        parse_bad("{\"writeableVolumes\":[\"/data\"],\"extra\":1}", "extra", NULL);
        parse_bad("{\"readonlyRootfs\":true}", "readonlyRootfs", NULL);
        parse_bad("{\"WriteableVolumes\":[]}", "WriteableVolumes", NULL);
        parse_bad("{\"tmpSize\":\"64m\",\"tmp_size\":\"64m\"}", "tmp_size", NULL);
        /* Unknown even when null: a typo is never silently ignored. */
        parse_bad("{\"networkmode\":null}", "networkmode", NULL);
}

/* ---- paths ---- */

static void test_paths_valid(void **state)
{
        static const char *const good[] = {
                "/var/lib/state", "/tmp/kafka-streams", "/tmp/x", "/data", "/procx", "/proc-x",
                "/sysfs", "/devices", "/dev.d", "/a/proc", "/a/sys/x", "/opt/dev", "/var/tmp",
                "/tmpx", "/tmp/proc", "/a..b", "/.hidden", "/a/...", "/x y", "/caf\xc3\xa9",
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                if (validate(good[i]) < 0)
                        fail_msg("refused good path %s", good[i]);

        /* The longest path: 1024 bytes, components up to 255. */
        char p[1100];
        size_t n = 0;
        for (int k = 0; k < 4; k++) {
                p[n++] = '/';
                memset(p + n, 'a' + k, 250);
                n += 250;
        }
        p[n++] = '/';
        memset(p + n, 'z', 1024 - n);
        n = 1024;
        p[n] = 0;
        assert_int_equal(strlen(p), 1024);
        assert_int_equal(validate(p), 0);
        p[n++] = 'z';
        p[n] = 0;
        assert_true(validate(p) < 0);

        /* A component of 255 bytes is fine, 256 is not. */
        p[0] = '/';
        memset(p + 1, 'c', 255);
        p[256] = 0;
        assert_int_equal(validate(p), 0);
        p[256] = 'c';
        p[257] = 0;
        assert_true(validate(p) < 0);
}

static void test_paths_invalid(void **state)
{
        static const char *const bad[] = {
                "relative", "data/x", "./data", "/", "/tmp", "/proc", "/proc/x", "/proc/self/fd",
                "/sys", "/sys/fs/cgroup", "/dev", "/dev/shm", "/dev/x/y", "/var/", "/tmp/x/",
                "/var/../etc", "/var/lib/..", "/..", "/var/./x", "/.", "//var", "/var//lib",
                "/a\nb", "/a\tb", "/\xff\xfe",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (validate(bad[i]) == 0)
                        fail_msg("accepted bad path \"%s\"", bad[i]);
        assert_true(validate("") < 0);
        assert_true(validate(NULL) < 0);

        /* In a layer, the message names the path. */
        static const char *const named[] = {
                "relative", "/", "/tmp", "/proc", "/proc/x", "/sys/kernel", "/dev/shm",
                "/var/", "/var/../etc", "/a/./b", "//var",
        };
        for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
                char text[256];
                snprintf(text, sizeof(text), "{\"writeableVolumes\":[\"/ok\",\"%s\"]}", named[i]);
                parse_bad(text, named[i], "writeableVolumes[1]", NULL);
        }
        parse_bad("{\"writeableVolumes\":[\"\"]}", "writeableVolumes[0]", NULL);
}

static void test_paths_duplicates(void **state)
{
        parse_bad("{\"writeableVolumes\":[\"/a\",\"/b\",\"/a\"]}", "/a", "twice", NULL);
        parse_bad("{\"writeableVolumes\":[\"/var/lib/state\",\"/var/lib/state\"]}", "/var/lib/state", NULL);
        /* Nested and similar paths are different paths. */
        struct vol_app_config c;
        parse_ok("{\"writeableVolumes\":[\"/a\",\"/a/b\",\"/ab\",\"/b/a\"]}", &c);
        assert_int_equal(c.n_paths, 4);
        assert_string_equal(c.paths[0], "/a"); /* order is kept */
        assert_string_equal(c.paths[3], "/b/a");
        vol_app_config_free(&c);
}

static char *paths_json(size_t n)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_strbuf_puts(&b, "{\"writeableVolumes\":[");
        for (size_t i = 0; i < n; i++)
                vol_strbuf_printf(&b, "%s\"/data/p%zu\"", i ? "," : "", i);
        vol_strbuf_puts(&b, "]}");
        return vol_strbuf_take(&b, NULL);
}

static void test_paths_at_most_32(void **state)
{
        assert_int_equal(VOL_APP_PATHS_MAX, 32);
        char *text = paths_json(32);
        struct vol_app_config c;
        parse_ok(text, &c);
        assert_int_equal(c.n_paths, 32);
        assert_string_equal(c.paths[31], "/data/p31");
        vol_app_config_free(&c);
        free(text);

        text = paths_json(33);
        parse_bad(text, "writeableVolumes", "33", "32", NULL);
        free(text);
        text = paths_json(1000);
        parse_bad(text, "writeableVolumes", NULL);
        free(text);
}

/* ---- to_json ---- */

static void test_to_json_round_trip(void **state)
{
        static const char *const texts[] = {
                "{}",
                "{\"writeableVolumes\":[]}",
                "{\"writeableVolumes\":[\"/var/lib/state\",\"/tmp/kafka-streams\"]}",
                "{\"readOnlyRootfs\":false}",
                "{\"readOnlyRootfs\":true}",
                "{\"tmpSize\":\"64m\"}",
                "{\"writeableVolumes\":[\"/a\\\"b\",\"/c\\\\d\",\"/caf\\u00e9\"],\"readOnlyRootfs\":false,"
                "\"tmpSize\":\"1g\",\"volumeDriver\":\"tmpfs\",\"volumeSize\":\"10M\",\"networkMode\":\"none\"}",
                "{\"networkMode\":\"bridge\",\"volumeDriver\":\"local\"}",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                struct vol_app_config c, again;
                parse_ok(texts[i], &c);
                json_t *j = render(&c);
                assert_json_equal(j, texts[i], texts[i]);
                /* and the written JSON reads back to the same layer */
                struct vol_error err = VOL_ERROR_INIT;
                if (vol_app_config_from_json(j, &again, &err) < 0)
                        fail_msg("own output refused: %s", vol_error_message(&err));
                json_t *j2 = render(&again);
                assert_true(json_equal(j, j2));
                assert_int_equal(again.has_writeable_volumes, c.has_writeable_volumes);
                assert_int_equal(again.n_paths, c.n_paths);
                for (size_t k = 0; k < c.n_paths; k++)
                        assert_string_equal(again.paths[k], c.paths[k]);
                assert_int_equal(again.has_read_only_rootfs, c.has_read_only_rootfs);
                assert_int_equal(again.read_only_rootfs, c.read_only_rootfs);
                json_decref(j);
                json_decref(j2);
                vol_app_config_free(&c);
                vol_app_config_free(&again);
        }

        /* Null fields are unset, so they are not written. */
        struct vol_app_config c;
        parse_ok("{\"tmpSize\":null,\"networkMode\":\"none\",\"writeableVolumes\":null}", &c);
        json_t *j = render(&c);
        assert_json_equal(j, "{\"networkMode\":\"none\"}", "nulls left out");
        json_decref(j);
        vol_app_config_free(&c);
}


/* Where each field of a merge comes from: the most specific layer setting it. */
static void test_sources(void **state)
{
        struct vol_app_config g, e, a;
        parse_ok("{\"tmpSize\":\"64m\",\"memory\":\"2g\"}", &g);
        parse_ok("{\"memory\":\"1g\",\"networkMode\":\"none\"}", &e);
        parse_ok("{\"writeableVolumes\":[\"/data\"],\"networkMode\":\"none\"}", &a);
        const char *src[VOL_APP_FIELDS];
        vol_app_config_sources(&g, &e, &a, src);
        const char *want[VOL_APP_FIELDS] = {"app",     "default", "global",  "default", "default", "app",
                                            "default", "default", "env",     "default", "default"};
        for (int i = 0; i < VOL_APP_FIELDS; i++)
                if (strcmp(src[i], want[i]))
                        fail_msg("%s comes from %s, not %s", vol_app_config_fields[i], src[i], want[i]);
        vol_app_config_sources(NULL, NULL, NULL, src);
        for (int i = 0; i < VOL_APP_FIELDS; i++)
                assert_string_equal(src[i], "default");
        /* an app layer saying "no volumes" is a value, not an inheritance */
        vol_app_config_free(&a);
        parse_ok("{\"writeableVolumes\":[]}", &a);
        vol_app_config_sources(&g, NULL, &a, src);
        assert_string_equal(src[0], "app");
        assert_string_equal(vol_app_config_fields[0], "writeableVolumes");
        assert_string_equal(vol_app_config_fields[8], "memory");
        vol_app_config_free(&g);
        vol_app_config_free(&e);
        vol_app_config_free(&a);
}

/* ---- merge ---- */

/* Merges three layers given as JSON text (NULL: no layer at all) and returns
 * the merge rendered as JSON. */
static json_t *merge3(const char *g, const char *e, const char *a)
{
        struct vol_app_config layers[3];
        const char *texts[3] = {g, e, a};
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        parse_ok(texts[i], &layers[i]);
        struct vol_app_config m;
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_app_config_merge(g ? &layers[0] : NULL, e ? &layers[1] : NULL,
                                     a ? &layers[2] : NULL, &m, &err);
        if (r < 0)
                fail_msg("merge refused: %s", vol_error_message(&err));
        /* The merge owns its data: the layers can go first. */
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        vol_app_config_free(&layers[i]);
        /* every field set */
        assert_true(m.has_writeable_volumes);
        assert_true(m.has_read_only_rootfs);
        assert_true(m.has_tmp_size);
        assert_true(m.has_volume_driver);
        assert_true(m.has_volume_size);
        assert_true(m.has_network_mode);
        json_t *j = render(&m);
        vol_app_config_free(&m);
        return j;
}

struct field_case {
        const char *key;
        const char *def;       /* the default, as JSON */
        const char *values[3]; /* what global, env and app set, as JSON */
        const char *with;      /* set in the global layer too ("key":value), or NULL */
        const char *with_key;
};

static const struct field_case field_cases[] = {
        {"writeableVolumes", "[]", {"[\"/g\"]", "[\"/e1\",\"/e2\"]", "[\"/a\"]"}, NULL, NULL},
        /* a tenant layer may only tighten: false comes from the global layer alone */
        {"readOnlyRootfs", "true", {"false", "true", "true"}, NULL, NULL},
        {"tmpSize", "\"256m\"", {"\"1g\"", "\"128m\"", "\"64m\""}, NULL, NULL},
        {"volumeDriver", "\"local\"", {"\"tmpfs\"", "\"local\"", "\"tmpfs\""}, NULL, NULL},
        /* a size needs a driver that enforces one */
        {"volumeSize", "null", {"\"1g\"", "\"100m\"", "\"10m\""}, "\"volumeDriver\":\"tmpfs\"", "volumeDriver"},
        {"networkMode", "null", {"\"host\"", "\"bridge\"", "\"none\""}, NULL, NULL},
        /* limits go down from layer to layer */
        {"pidsLimit", "4096", {"8000", "2000", "100"}, NULL, NULL},
        {"memory", "\"1g\"", {"\"4g\"", "\"512m\"", "\"64m\""}, NULL, NULL},
};

/* For each field and each of the 8 ways the three layers can set it or not
 * (left out, or null): the most specific layer that sets it wins, else the
 * default; the other fields stay at their defaults. */
static void test_merge_each_field(void **state)
{
        for (size_t f = 0; f < sizeof(field_cases) / sizeof(field_cases[0]); f++) {
                const struct field_case *fc = &field_cases[f];
                for (int mask = 0; mask < 8; mask++) {
                        for (int unset_as_null = 0; unset_as_null < 2; unset_as_null++) {
                                char texts[3][256];
                                for (int l = 0; l < 3; l++) {
                                        const char *with = l == 0 && fc->with ? fc->with : NULL;
                                        if (mask & (1 << l))
                                                snprintf(texts[l], sizeof(texts[l]), "{\"%s\":%s%s%s}",
                                                         fc->key, fc->values[l], with ? "," : "",
                                                         with ? with : "");
                                        else if (unset_as_null)
                                                snprintf(texts[l], sizeof(texts[l]), "{\"%s\":null%s%s}",
                                                         fc->key, with ? "," : "", with ? with : "");
                                        else
                                                snprintf(texts[l], sizeof(texts[l]), "{%s}", with ? with : "");
                                }
                                const char *want = fc->def;
                                for (int l = 0; l < 3; l++)
                                        if (mask & (1 << l))
                                                want = fc->values[l];
                                json_t *m = merge3(texts[0], texts[1], texts[2]);
                                char what[900];
                                snprintf(what, sizeof(what), "%s of global %s, env %s, app %s", fc->key,
                                         texts[0], texts[1], texts[2]);
                                assert_json_equal(json_object_get(m, fc->key), want, what);
                                /* the other fields: defaults */
                                for (size_t o = 0; o < sizeof(field_cases) / sizeof(field_cases[0]); o++)
                                        if (o != f && !(fc->with_key && !strcmp(fc->with_key, field_cases[o].key)))
                                                assert_json_equal(json_object_get(m, field_cases[o].key),
                                                                  field_cases[o].def, what);
                                json_decref(m);
                        }
                }
        }
}

static void test_merge_defaults(void **state)
{
        static const char *const want =
                "{\"writeableVolumes\":[],\"readOnlyRootfs\":true,\"tmpSize\":\"256m\","
                "\"volumeDriver\":\"local\",\"volumeSize\":null,\"networkMode\":null,"
                "\"capAdd\":[],\"pidsLimit\":4096,\"memory\":\"1g\",\"con\":false,\"sides\":[]}";
        json_t *m = merge3(NULL, NULL, NULL);
        assert_json_equal(m, want, "no layers");
        json_decref(m);
        m = merge3("{}", "{}", "{}");
        assert_json_equal(m, want, "empty layers");
        json_decref(m);
        assert_string_equal(VOL_APP_DEFAULT_TMP_SIZE, "256m");
        assert_string_equal(VOL_APP_DEFAULT_VOLUME_DRIVER, "local");
}

static void test_merge_fields_independent(void **state)
{
        /* Each field comes from its own most specific layer. */
        json_t *m = merge3("{\"networkMode\":\"none\",\"volumeDriver\":\"tmpfs\",\"tmpSize\":\"1g\","
                           "\"writeableVolumes\":[\"/g\"],\"readOnlyRootfs\":false,\"capAdd\":[\"CHOWN\"]}",
                           "{\"writeableVolumes\":[\"/data\"],\"volumeSize\":\"5m\",\"pidsLimit\":100}",
                           "{\"tmpSize\":\"64m\",\"memory\":\"256m\"}");
        assert_json_equal(m,
                          "{\"writeableVolumes\":[\"/data\"],\"readOnlyRootfs\":false,\"tmpSize\":\"64m\","
                          "\"volumeDriver\":\"tmpfs\",\"volumeSize\":\"5m\",\"networkMode\":\"none\","
                          "\"capAdd\":[\"CHOWN\"],\"pidsLimit\":100,\"memory\":\"256m\",\"con\":false,\"sides\":[]}",
                          "mixed layers");
        json_decref(m);
}

static void test_merge_empty_list_overrides(void **state)
{
        /* writeableVolumes: [] at app level turns off a non-empty env level... */
        json_t *m = merge3("{\"writeableVolumes\":[\"/g\"]}", "{\"writeableVolumes\":[\"/data\"]}",
                           "{\"writeableVolumes\":[]}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[]", "app [] over env [/data]");
        json_decref(m);
        /* ...and at env level a non-empty global one. */
        m = merge3("{\"writeableVolumes\":[\"/g\"]}", "{\"writeableVolumes\":[]}", "{}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[]", "env [] over global [/g]");
        json_decref(m);
        /* null or absent at app level inherits the env list. */
        m = merge3(NULL, "{\"writeableVolumes\":[\"/data\",\"/x\"]}", "{\"writeableVolumes\":null}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[\"/data\",\"/x\"]", "app null");
        json_decref(m);
        m = merge3(NULL, "{\"writeableVolumes\":[\"/data\"]}", "{\"tmpSize\":\"64m\"}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[\"/data\"]", "app absent");
        json_decref(m);
        /* Lists replace, never concatenate. */
        m = merge3("{\"writeableVolumes\":[\"/g\"]}", "{\"writeableVolumes\":[\"/e\"]}",
                   "{\"writeableVolumes\":[\"/a\",\"/b\"]}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[\"/a\",\"/b\"]", "app list");
        json_decref(m);
}

static void test_merge_read_only_false(void **state)
{
        /* false comes from the global layer alone, and a tenant layer may set true again */
        json_t *m = merge3("{\"readOnlyRootfs\":false}", "{}", "{}");
        assert_json_equal(json_object_get(m, "readOnlyRootfs"), "false", "global false, tenant unset");
        json_decref(m);
        m = merge3("{\"readOnlyRootfs\":false}", "{\"readOnlyRootfs\":null}", "{\"readOnlyRootfs\":null}");
        assert_json_equal(json_object_get(m, "readOnlyRootfs"), "false", "global false, tenant null");
        json_decref(m);
        m = merge3("{\"readOnlyRootfs\":false}", "{\"readOnlyRootfs\":true}", "{}");
        assert_json_equal(json_object_get(m, "readOnlyRootfs"), "true", "env true over global false");
        json_decref(m);
}

/* Merges layers that must be refused with want and a message holding needle. */
static void merge_refused_with(int want, const char *g, const char *e, const char *a, const char *needle)
{
        struct vol_app_config layers[3];
        const char *texts[3] = {g, e, a};
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        parse_ok(texts[i], &layers[i]);
        struct vol_app_config m;
        memset(&m, 0x5a, sizeof(m));
        struct vol_app_config before = m;
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_app_config_merge(g ? &layers[0] : NULL, e ? &layers[1] : NULL, a ? &layers[2] : NULL,
                                     &m, &err);
        if (r != want)
                fail_msg("merge of %s / %s / %s gave %d, not %d", g, e, a, r, want);
        if (!strstr(vol_error_message(&err), needle))
                fail_msg("merge refusal \"%s\" does not name \"%s\"", vol_error_message(&err), needle);
        if (memcmp(&m, &before, sizeof(m)))
                fail_msg("a refused merge changed *ret");
        vol_error_clear(&err);
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        vol_app_config_free(&layers[i]);
}

static void merge_refused(const char *g, const char *e, const char *a, const char *needle)
{
        merge_refused_with(-EPERM, g, e, a, needle);
}

/* With con on, /con is the interface's: no writeable volume at or under it,
 * whichever layers say what. With con off, or for /conf, nothing is refused. */
static void test_writeable_volume_under_con(void **state)
{
        merge_refused_with(-EINVAL, NULL, NULL, "{\"con\":true,\"writeableVolumes\":[\"/con/data\"]}",
                           "writeableVolumes lists /con/data, but with con on /con belongs");
        merge_refused_with(-EINVAL, NULL, "{\"con\":{\"log\":false}}", "{\"writeableVolumes\":[\"/a\",\"/con\"]}",
                           "lists /con,");
        merge_refused_with(-EINVAL, "{\"con\":true}", "{\"writeableVolumes\":[\"/con/x/y\"]}", NULL, "/con/x/y");
        json_t *m = merge3(NULL, "{\"con\":true}", "{\"writeableVolumes\":[\"/conf\",\"/data/con\"]}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[\"/conf\",\"/data/con\"]", "/conf is not /con");
        json_decref(m);
        m = merge3(NULL, "{\"con\":true}", "{\"con\":false,\"writeableVolumes\":[\"/con/data\"]}");
        assert_json_equal(json_object_get(m, "writeableVolumes"), "[\"/con/data\"]", "con off: an ordinary path");
        json_decref(m);
}

/* Only the global layer loosens hardening; the env and app layers only tighten. */
static void test_tenant_layers_only_tighten(void **state)
{
        merge_refused(NULL, "{\"readOnlyRootfs\":false}", NULL, "env layer");
        merge_refused("{\"readOnlyRootfs\":false}", NULL, "{\"readOnlyRootfs\":false}", "app layer");
        merge_refused(NULL, "{\"networkMode\":\"host\"}", NULL, "networkMode host");
        merge_refused(NULL, NULL, "{\"networkMode\":\"container:other-tenant-app\"}", "container:");
        merge_refused(NULL, "{\"networkMode\":\"ns:net1\"}", NULL, "ns:net1");
        /* capabilities: only those the global layer grants */
        merge_refused(NULL, "{\"capAdd\":[\"NET_ADMIN\"]}", NULL, "NET_ADMIN");
        merge_refused("{\"capAdd\":[\"CHOWN\"]}", NULL, "{\"capAdd\":[\"SYS_ADMIN\"]}", "SYS_ADMIN");
        /* limits: not above what is in force above */
        merge_refused(NULL, "{\"pidsLimit\":5000}", NULL, "pidsLimit 5000");
        merge_refused("{\"pidsLimit\":100}", NULL, "{\"pidsLimit\":101}", "above the 100");
        merge_refused(NULL, "{\"pidsLimit\":50}", "{\"pidsLimit\":60}", "above the 50");
        merge_refused(NULL, NULL, "{\"memory\":\"2g\"}", "memory 2g");
        merge_refused("{\"memory\":\"256m\"}", "{\"memory\":\"128m\"}", "{\"memory\":\"200m\"}",
                      "above the 128m");

        /* check_layer alone: the global layer may do all of it */
        struct vol_app_config c;
        struct vol_error err = VOL_ERROR_INIT;
        parse_ok("{\"readOnlyRootfs\":false,\"networkMode\":\"host\",\"capAdd\":[\"NET_ADMIN\"],"
                 "\"pidsLimit\":100000,\"memory\":\"64g\"}",
                 &c);
        assert_int_equal(vol_app_config_check_layer(&c, VOL_LAYER_GLOBAL, &err), 0);
        assert_int_equal(vol_app_config_check_layer(&c, VOL_LAYER_ENV, &err), -EPERM);
        assert_int_equal(vol_app_config_check_layer(&c, VOL_LAYER_APP, &err), -EPERM);
        vol_error_clear(&err);
        vol_app_config_free(&c);

        /* what is allowed: tighter values, granted capabilities, named networks */
        json_t *m = merge3("{\"capAdd\":[\"CHOWN\",\"NET_BIND_SERVICE\"],\"pidsLimit\":300}",
                           "{\"networkMode\":\"tenant-net\",\"capAdd\":[\"net_bind_service\"]}",
                           "{\"pidsLimit\":300,\"memory\":\"1g\",\"capAdd\":[]}");
        assert_json_equal(json_object_get(m, "capAdd"), "[]", "app [] drops the env's capability");
        assert_json_equal(json_object_get(m, "pidsLimit"), "300", "equal is not above");
        assert_json_equal(json_object_get(m, "networkMode"), "\"tenant-net\"", "named network");
        json_decref(m);
}

static void test_caps_and_limits_parse(void **state)
{
        struct vol_app_config c;
        parse_ok("{\"capAdd\":[\"cap_chown\",\"NET_BIND_SERVICE\",\"Kill\"],\"pidsLimit\":1,"
                 "\"memory\":\"6m\"}",
                 &c);
        assert_int_equal(c.n_caps, 3);
        assert_string_equal(c.caps[0], "CHOWN");
        assert_string_equal(c.caps[1], "NET_BIND_SERVICE");
        assert_string_equal(c.caps[2], "KILL");
        assert_int_equal(c.pids_limit, 1);
        assert_string_equal(c.memory, "6m");
        vol_app_config_free(&c);
        parse_bad("{\"capAdd\":\"CHOWN\"}", "capAdd", NULL);
        parse_bad("{\"capAdd\":[\"ALL\"]}", "ALL", NULL);
        parse_bad("{\"capAdd\":[\"CHOWN\",\"cap_chown\"]}", "twice", NULL);
        parse_bad("{\"capAdd\":[\"NET-ADMIN\"]}", "capAdd[0]", NULL);
        parse_bad("{\"capAdd\":[\"cap_cap_chown\"]}", "capAdd[0]", "not a capability", NULL);
        parse_bad("{\"capAdd\":[\"cap_cap_\"]}", "capAdd[0]", NULL);
        parse_bad("{\"capAdd\":[\"SYS_ADMINX\"]}", "SYS_ADMINX", NULL);
        parse_bad("{\"capAdd\":[\"\"]}", "capAdd[0]", NULL);
        parse_bad("{\"capAdd\":[7]}", "capAdd[0]", NULL);
        parse_bad("{\"pidsLimit\":0}", "pidsLimit", NULL);
        parse_bad("{\"pidsLimit\":-1}", "pidsLimit", NULL);
        parse_bad("{\"pidsLimit\":1.5}", "pidsLimit", NULL);
        parse_bad("{\"pidsLimit\":\"100\"}", "pidsLimit", NULL);
        parse_bad("{\"pidsLimit\":4194305}", "pidsLimit", NULL);
        parse_bad("{\"memory\":\"5m\"}", "memory", NULL);
        parse_bad("{\"memory\":\"lots\"}", "memory", NULL);
        parse_bad("{\"memory\":512}", "memory", NULL);
}

static void test_merge_struct(void **state)
{
        /* The merge's own fields, not only its JSON. */
        struct vol_app_config g, e, a, m;
        parse_ok("{\"networkMode\":\"none\",\"readOnlyRootfs\":false}", &g);
        parse_ok("{\"writeableVolumes\":[\"/data\"]}", &e);
        parse_ok("{\"writeableVolumes\":[\"/var/lib/state\",\"/tmp/kafka-streams\"]}", &a);
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_app_config_merge(&g, &e, &a, &m, &err), 0);
        assert_int_equal(m.n_paths, 2);
        assert_string_equal(m.paths[0], "/var/lib/state");
        assert_string_equal(m.paths[1], "/tmp/kafka-streams");
        assert_ptr_not_equal(m.paths[0], a.paths[0]); /* copied */
        assert_false(m.read_only_rootfs);
        assert_string_equal(m.tmp_size, "256m");
        assert_string_equal(m.volume_driver, "local");
        assert_null(m.volume_size);
        assert_string_equal(m.network_mode, "none");
        vol_app_config_free(&g);
        vol_app_config_free(&e);
        vol_app_config_free(&a);
        assert_string_equal(m.paths[1], "/tmp/kafka-streams");
        assert_string_equal(m.network_mode, "none");
        vol_app_config_free(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_all_fields),
                cmocka_unit_test(test_parse_empty_and_null),
                cmocka_unit_test(test_parse_wrong_types),
                cmocka_unit_test(test_parse_bad_values),
                cmocka_unit_test(test_parse_unknown_fields),
                cmocka_unit_test(test_paths_valid),
                cmocka_unit_test(test_paths_invalid),
                cmocka_unit_test(test_paths_duplicates),
                cmocka_unit_test(test_paths_at_most_32),
                cmocka_unit_test(test_to_json_round_trip),
                cmocka_unit_test(test_merge_defaults),
                cmocka_unit_test(test_merge_each_field),
                cmocka_unit_test(test_merge_fields_independent),
                cmocka_unit_test(test_merge_empty_list_overrides),
                cmocka_unit_test(test_merge_read_only_false),
                cmocka_unit_test(test_merge_struct),
                cmocka_unit_test(test_sources),
                cmocka_unit_test(test_tenant_layers_only_tighten),
                cmocka_unit_test(test_writeable_volume_under_con),
                cmocka_unit_test(test_caps_and_limits_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
