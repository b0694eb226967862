/* core/con.h: the /con interface's pure parts. The `con` field (true, false,
 * an object of areas, {"from": "IMAGE:/path"} for the persistent areas), its
 * JSON writer and its three-layer merge; "IMAGE:/path" itself; the `sides`
 * field, its writer and its copy; file and secret names; the files volmand
 * writes for /con/proc. Then the same fields through core/appconfig.h (one
 * layer, its writer, the merge and where each field comes from).
 *
 * Every refusal is checked the same way: a negative errno (the one the
 * contract names), the same code in err, a message naming the bad field, and
 * *ret left as it was (or zeroed). */
#include <errno.h>
#include <inttypes.h>
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
#include "core/con.h"
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

/* want_text is JSON, or "+" and an object of areas: the layout with every
 * area on but those the object names, which are as it says. */
static json_t *want_of(const char *want_text)
{
        if (want_text[0] != '+')
                return json_of(want_text);
        json_t *all = json_object();
        for (int i = 0; i < VOL_CON_AREAS; i++)
                json_object_set_new(all, vol_con_area_name((enum vol_con_area)i), json_true());
        json_t *over = json_of(want_text + 1);
        assert_int_equal(json_object_update(all, over), 0);
        json_decref(over);
        return all;
}

static void assert_json_equal(const char *got_text, const char *want_text, const char *what)
{
        json_t *got = json_of(got_text), *want = want_of(want_text);
        if (!json_equal(got, want))
                fail_msg("%s: got %s, want %s", what, got_text, want_text);
        json_decref(got);
        json_decref(want);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
        char *s = malloc(n + 1);
        assert_non_null(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

/* *ret after a refusal: untouched (still the 0x5a pattern) or zeroed. */
static void assert_untouched(const void *p, size_t n, const char *what)
{
        const unsigned char *b = p;
        bool pattern = true, zero = true;
        for (size_t i = 0; i < n; i++) {
                pattern &= b[i] == 0x5a;
                zero &= b[i] == 0;
        }
        if (!pattern && !zero)
                fail_msg("refusing %s changed *ret (neither left as it was nor zeroed)", what);
}

/* The refusal's code and message: want (a negative errno), err.code equal,
 * a message holding each of the NULL-terminated needles. */
static void check_refusal(int r, int want, struct vol_error *err, const char *what, va_list ap)
{
        if (r >= 0)
                fail_msg("accepted %s", what);
        if (r != want) {
                char msg[512];
                snprintf(msg, sizeof(msg), "%s", vol_error_message(err));
                vol_error_clear(err); /* fail_msg does not return */
                fail_msg("refusing %s gave %d (%s), want %d", what, r, msg, want);
        }
        assert_int_equal(err->code, r);
        if (!err->msg)
                fail_msg("refusing %s gave no message", what);
        for (const char *needle; (needle = va_arg(ap, const char *));)
                if (!strstr(err->msg, needle))
                        fail_msg("refusing %s: message \"%s\" does not name \"%s\"", what, err->msg,
                                 needle);
        vol_error_clear(err);
}

/* ---- con: one layer ---- */

static struct vol_con_config con_ok(const char *text)
{
        struct vol_con_config c;
        memset(&c, 0x5a, sizeof(c));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_con_config_from_json(j, &c, &err);
        json_decref(j);
        if (r != 0)
                fail_msg("con %s refused (%d): %s", text, r, vol_error_message(&err));
        vol_error_clear(&err);
        return c;
}

/* con text must be refused with want and a message naming each needle. */
static void con_bad_code(const char *text, int want, ...)
{
        struct vol_con_config c;
        memset(&c, 0x5a, sizeof(c));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_con_config_from_json(j, &c, &err);
        json_decref(j);
        char what[300];
        snprintf(what, sizeof(what), "con %s", text);
        va_list ap;
        va_start(ap, want);
        check_refusal(r, want, &err, what, ap);
        va_end(ap);
        assert_untouched(&c, sizeof(c), what);
}

#define con_bad(text, ...) con_bad_code(text, -EINVAL, __VA_ARGS__, NULL)

/* vol_con_config_to_json of c, as a malloc'd string. */
static char *con_json(const struct vol_con_config *c)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_con_config_to_json(c, &b), 0);
        return vol_strbuf_take(&b, NULL);
}

static void assert_area(const struct vol_con_config *c, enum vol_con_area a, bool set, bool on,
                        const char *from)
{
        const struct vol_con_area_config *x = &c->areas[a];
        if (x->set != set || x->on != on)
                fail_msg("area %s: set %d on %d, want set %d on %d", vol_con_area_name(a), x->set,
                         x->on, set, on);
        if (from && (!x->from || strcmp(x->from, from)))
                fail_msg("area %s: from %s, want %s", vol_con_area_name(a),
                         x->from ? x->from : "(none)", from);
        if (!from && x->from)
                fail_msg("area %s: from %s, want none", vol_con_area_name(a), x->from);
}

static void test_area_names(void **state)
{
        static const char *const names[VOL_CON_AREAS] = {
            "configuration", "context", "secret", "seed", "proc", "data", "log", "var"};
        for (int i = 0; i < VOL_CON_AREAS; i++) {
                assert_string_equal(vol_con_area_name((enum vol_con_area)i), names[i]);
                struct vol_error err = VOL_ERROR_INIT;
                assert_int_equal(vol_con_area_from_name(names[i], &err), i);
                assert_null(err.msg);
                bool persistent = i == VOL_CON_DATA || i == VOL_CON_LOG || i == VOL_CON_VAR;
                assert_int_equal(vol_con_area_persistent((enum vol_con_area)i), persistent);
                assert_int_equal(vol_con_area_has_files((enum vol_con_area)i),
                                 i == VOL_CON_CONFIGURATION || i == VOL_CON_CONTEXT);
                assert_int_equal(vol_con_area_side_writable((enum vol_con_area)i),
                                 i != VOL_CON_SEED && i != VOL_CON_PROC);
        }
        assert_false(vol_con_area_side_writable(VOL_CON_AREAS));
        assert_string_equal(vol_con_area_name(VOL_CON_AREAS), "unknown");
        static const char *const bad[] = {"Data", "", "data ", "../data", "DEFAULT", "procs"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vol_error err = VOL_ERROR_INIT;
                assert_int_equal(vol_con_area_from_name(bad[i], &err), -EINVAL);
                assert_int_equal(err.code, -EINVAL);
                assert_non_null(err.msg);
                assert_non_null(strstr(err.msg, "configuration, context"));
                vol_error_clear(&err);
        }
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_con_area_from_name(NULL, &err), -EINVAL);
        assert_non_null(err.msg);
        vol_error_clear(&err);
        assert_int_equal(vol_con_area_from_name("bogus", NULL), -EINVAL);
}

static void test_con_true_false(void **state)
{
        struct vol_con_config c = con_ok("true");
        assert_true(c.set);
        assert_true(c.enabled);
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_area(&c, (enum vol_con_area)i, true, true, NULL);
        vol_con_config_free(&c);
        assert_false(c.set);
        assert_false(c.enabled);
        vol_con_config_free(&c); /* twice is harmless */

        c = con_ok("false");
        assert_true(c.set);
        assert_false(c.enabled);
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_area(&c, (enum vol_con_area)i, false, false, NULL);
        vol_con_config_free(&c);
}

static void test_con_objects(void **state)
{
        struct vol_con_config c = con_ok("{}");
        assert_true(c.set);
        assert_true(c.enabled); /* an object turns the layout on */
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_area(&c, (enum vol_con_area)i, false, false, NULL);
        vol_con_config_free(&c);

        c = con_ok("{\"data\":false,\"log\":true,\"proc\":false,\"secret\":true}");
        assert_true(c.enabled);
        assert_area(&c, VOL_CON_DATA, true, false, NULL);
        assert_area(&c, VOL_CON_LOG, true, true, NULL);
        assert_area(&c, VOL_CON_PROC, true, false, NULL);
        assert_area(&c, VOL_CON_SECRET, true, true, NULL);
        assert_area(&c, VOL_CON_CONFIGURATION, false, false, NULL);
        assert_area(&c, VOL_CON_VAR, false, false, NULL);
        vol_con_config_free(&c);

        /* every area named: each as said */
        c = con_ok("{\"configuration\":false,\"context\":false,\"secret\":false,\"seed\":false,"
                   "\"proc\":false,\"data\":false,\"log\":false,\"var\":false}");
        assert_true(c.enabled);
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_area(&c, (enum vol_con_area)i, true, false, NULL);
        vol_con_config_free(&c);

        /* from, for each persistent area; a registry with a port */
        c = con_ok(
            "{\"data\":{\"from\":\"reg:5000/img:tag:/data\"},\"log\":{\"from\":\"busybox:/var/"
            "log\"},"
            "\"var\":{\"from\":\"ghcr.io/acme/app@sha256:0123abcd:/srv/var/lib\"},\"seed\":true}");
        assert_area(&c, VOL_CON_DATA, true, true, "reg:5000/img:tag:/data");
        assert_area(&c, VOL_CON_LOG, true, true, "busybox:/var/log");
        assert_area(&c, VOL_CON_VAR, true, true, "ghcr.io/acme/app@sha256:0123abcd:/srv/var/lib");
        assert_area(&c, VOL_CON_SEED, true, true, NULL);
        vol_con_config_free(&c);
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_null(c.areas[i].from);
}

static void test_con_bad_types(void **state)
{
        static const char *const not_con[] = {"1",  "0",          "\"true\"", "null",
                                              "[]", "[\"data\"]", "1.5"};
        for (size_t i = 0; i < sizeof(not_con) / sizeof(not_con[0]); i++)
                con_bad(not_con[i], "con must be true, false or an object");
        /* unknown areas */
        con_bad("{\"bogus\":true}", "con", "\"bogus\"", "configuration, context");
        con_bad("{\"Data\":true}", "\"Data\"");
        con_bad("{\"data\":true,\"DEFAULT\":false}", "\"DEFAULT\"");
        con_bad("{\"\":true}", "con");
        /* an area's value */
        con_bad("{\"data\":1}", "con.data");
        con_bad("{\"log\":\"img:/x\"}", "con.log");
        con_bad("{\"var\":null}", "con.var");
        con_bad("{\"proc\":[]}", "con.proc");
        con_bad("{\"seed\":\"true\"}", "con.seed");
        /* unknown fields in an area object; from missing or not a string */
        con_bad("{\"data\":{\"from\":\"img:/d\",\"to\":\"x\"}}", "\"to\"", "con.data");
        con_bad("{\"data\":{\"From\":\"img:/d\"}}", "\"From\"", "con.data");
        con_bad("{\"data\":{}}", "con.data.from");
        con_bad("{\"data\":{\"from\":5}}", "con.data.from");
        con_bad("{\"data\":{\"from\":null}}", "con.data.from");
        con_bad("{\"data\":{\"from\":true}}", "con.data.from");
        con_bad("{\"data\":{\"from\":\"img\\u0000x:/d\"}}", "con.data.from");
}

static void test_con_bad_from(void **state)
{
        /* only data, log and var start from an image's content */
        static const char *const not_persistent[] = {"configuration", "context", "secret", "seed",
                                                     "proc"};
        for (size_t i = 0; i < sizeof(not_persistent) / sizeof(not_persistent[0]); i++) {
                char text[200], field[64];
                snprintf(text, sizeof(text), "{\"%s\":{\"from\":\"img:/x\"}}", not_persistent[i]);
                snprintf(field, sizeof(field), "con.%s", not_persistent[i]);
                con_bad(text, field, "data, log, var");
        }
        /* empty image, no path, a relative or non-normal path */
        con_bad("{\"data\":{\"from\":\":/data\"}}", "con.data", "IMAGE:/path");
        con_bad("{\"data\":{\"from\":\"\"}}", "con.data", "IMAGE:/path");
        con_bad("{\"data\":{\"from\":\"img\"}}", "con.data", "IMAGE:/path");
        con_bad("{\"log\":{\"from\":\"img:data\"}}", "con.log", "IMAGE:/path");
        con_bad("{\"log\":{\"from\":\"img:./data\"}}", "con.log", "IMAGE:/path");
        con_bad("{\"var\":{\"from\":\"img:/\"}}", "con.var");
        con_bad("{\"var\":{\"from\":\"img:/a/../b\"}}", "con.var", "/a/../b");
        con_bad("{\"var\":{\"from\":\"img:/a/./b\"}}", "con.var", "/a/./b");
        con_bad("{\"var\":{\"from\":\"img:/a//b\"}}", "con.var", "/a//b");
        con_bad("{\"var\":{\"from\":\"img:/a/\"}}", "con.var", "/a/");
        con_bad("{\"var\":{\"from\":\"img:/a\\nb\"}}", "con.var");
        /* an image with a space or a control character */
        con_bad("{\"data\":{\"from\":\"my img:/data\"}}", "con.data", "space");
        con_bad("{\"data\":{\"from\":\" img:/data\"}}", "con.data", "space");
        con_bad("{\"data\":{\"from\":\"img\\t:/data\"}}", "con.data", "space");
        con_bad("{\"data\":{\"from\":\"img\\u007f:/data\"}}", "con.data");
        /* a long image */
        char *img = repeat('i', 513);
        char text[700];
        snprintf(text, sizeof(text), "{\"data\":{\"from\":\"%s:/d\"}}", img);
        con_bad(text, "con.data", "512");
        img[512] = 0;
        snprintf(text, sizeof(text), "{\"data\":{\"from\":\"%s:/d\"}}", img);
        struct vol_con_config c = con_ok(text);
        vol_con_config_free(&c);
        free(img);
        /* a bad area after a good from: what was read is freed (ASan) */
        con_bad("{\"data\":{\"from\":\"img:/d\"},\"log\":{\"from\":\"img:/l\"},\"var\":5}",
                "con.var");
        con_bad("{\"data\":{\"from\":\"img:/d\"},\"bogus\":true}", "\"bogus\"");
}

/* ---- con: the writer ---- */

static void test_con_to_json_round_trip(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"true", "true"},
            {"false", "false"},
            {"{}", "{}"},
            /* an object with every area on is the layout with every area on */
            {"{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
             "\"proc\":true,\"data\":true,\"log\":true,\"var\":true}",
             "true"},
            {"{\"data\":false}", "{\"data\":false}"},
            {"{\"data\":true}", "{\"data\":true}"},
            {"{\"seed\":false,\"proc\":true}", "{\"seed\":false,\"proc\":true}"},
            {"{\"data\":{\"from\":\"reg:5000/img:tag:/data\"},\"log\":false}",
             "{\"data\":{\"from\":\"reg:5000/img:tag:/data\"},\"log\":false}"},
            /* every area on, one from an image: not plain true */
            {"{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
             "\"proc\":true,\"data\":{\"from\":\"img:/d\"},\"log\":true,\"var\":true}",
             "{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
             "\"proc\":true,\"data\":{\"from\":\"img:/d\"},\"log\":true,\"var\":true}"},
            /* every area named, one off */
            {"{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
             "\"proc\":true,\"data\":true,\"log\":true,\"var\":false}",
             "{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
             "\"proc\":true,\"data\":true,\"log\":true,\"var\":false}"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vol_con_config c = con_ok(cases[i].in);
                char *out = con_json(&c);
                assert_json_equal(out, cases[i].out, cases[i].in);
                /* read back: the same again */
                struct vol_con_config d = con_ok(out);
                char *again = con_json(&d);
                assert_string_equal(again, out);
                assert_int_equal(d.enabled, c.enabled);
                for (int a = 0; a < VOL_CON_AREAS; a++)
                        if (c.areas[a].set)
                                assert_area(&d, (enum vol_con_area)a, true, c.areas[a].on,
                                            c.areas[a].from);
                free(out);
                free(again);
                vol_con_config_free(&c);
                vol_con_config_free(&d);
        }
        /* the writer escapes what it writes */
        struct vol_con_config c = con_ok("{\"data\":{\"from\":\"img:/a\\\"b\"}}");
        char *out = con_json(&c);
        assert_json_equal(out, "{\"data\":{\"from\":\"img:/a\\\"b\"}}", "a quote in from");
        free(out);
        /* a bounded buffer that is too small: -E2BIG */
        struct vol_strbuf b;
        vol_strbuf_init(&b, 8);
        assert_int_equal(vol_con_config_to_json(&c, &b), -E2BIG);
        vol_strbuf_free(&b);
        vol_con_config_free(&c);
}

/* ---- con: the merge ---- */

/* Merges the layers given as JSON (NULL: no layer) into *ret. */
static void merge_texts(const char *g, const char *e, const char *a, struct vol_con_config *ret)
{
        const char *texts[3] = {g, e, a};
        struct vol_con_config layers[3];
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        layers[i] = con_ok(texts[i]);
        memset(ret, 0x5a, sizeof(*ret));
        vol_con_config_merge(g ? &layers[0] : NULL, e ? &layers[1] : NULL, a ? &layers[2] : NULL,
                             ret);
        /* the result owns its strings: the layers go first */
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        vol_con_config_free(&layers[i]);
}

/* The merge of the layers, written as JSON, must equal want. */
static void merge_is(const char *g, const char *e, const char *a, bool set, const char *want)
{
        struct vol_con_config m;
        merge_texts(g, e, a, &m);
        char what[600];
        snprintf(what, sizeof(what), "merge of global %s, env %s, app %s", g ? g : "-", e ? e : "-",
                 a ? a : "-");
        if (m.set != set)
                fail_msg("%s: set %d, want %d", what, m.set, set);
        char *got = con_json(&m);
        assert_json_equal(got, want, what);
        /* an enabled merge has every area set */
        for (int i = 0; m.enabled && i < VOL_CON_AREAS; i++)
                if (!m.areas[i].set)
                        fail_msg("%s: area %s unset in the merge", what,
                                 vol_con_area_name((enum vol_con_area)i));
        free(got);
        vol_con_config_free(&m);
}

/* Every area on but those x names (see want_of). */
#define ALL_ON_BUT(x) "+{" x "}"

static void test_merge(void **state)
{
        /* nothing set anywhere */
        struct vol_con_config m;
        memset(&m, 0x5a, sizeof(m));
        vol_con_config_merge(NULL, NULL, NULL, &m);
        assert_false(m.set);
        assert_false(m.enabled);
        for (int i = 0; i < VOL_CON_AREAS; i++)
                assert_area(&m, (enum vol_con_area)i, false, false, NULL);
        vol_con_config_free(&m);
        /* unset layers are no layers */
        struct vol_con_config unset[3];
        memset(unset, 0, sizeof(unset));
        unset[0].enabled = true; /* ignored: not set */
        vol_con_config_merge(&unset[0], &unset[1], &unset[2], &m);
        assert_false(m.set);
        assert_false(m.enabled);
        vol_con_config_free(&m);

        merge_is("true", NULL, NULL, true, "true");
        merge_is(NULL, NULL, "true", true, "true");
        merge_is(NULL, "false", NULL, true, "false");
        /* false in a lower layer turns off; a higher one turns it on again */
        merge_is("true", "false", NULL, true, "false");
        merge_is("true", NULL, "false", true, "false");
        merge_is("false", NULL, "true", true, "true");
        merge_is("false", "true", "false", true, "false");
        merge_is("{\"data\":false}", "false", NULL, true, "false");
        /* false forgets the areas' settings of the layers under it */
        merge_is("{\"data\":{\"from\":\"img:/d\"},\"proc\":false}", "false", "{\"log\":false}",
                 true, ALL_ON_BUT("\"log\":false"));
        /* true resets every area on */
        merge_is("{\"data\":false,\"proc\":false}", "true", NULL, true, "true");
        merge_is("{\"data\":false}", NULL, "true", true, "true");
        /* an object turns the layout on; areas it does not name are on */
        merge_is(NULL, NULL, "{}", true, "true");
        merge_is(NULL, NULL, "{\"proc\":false}", true, ALL_ON_BUT("\"proc\":false"));
        merge_is("false", NULL, "{\"proc\":false}", true, ALL_ON_BUT("\"proc\":false"));
        /* it overrides the areas it names; the others keep what lower layers said */
        merge_is("{\"data\":false}", NULL, "{\"data\":true}", true, "true");
        merge_is("{\"data\":false}", "{\"log\":false}", NULL, true,
                 ALL_ON_BUT("\"data\":false,\"log\":false"));
        merge_is("{\"data\":false}", "{\"data\":true}", "{\"data\":false}", true,
                 ALL_ON_BUT("\"data\":false"));
        merge_is("true", "{\"seed\":false}", "{}", true, ALL_ON_BUT("\"seed\":false"));
        /* from: kept up the layers, overridden by a layer naming the area */
        merge_is("{\"data\":{\"from\":\"img:/d\"}}", NULL, NULL, true,
                 ALL_ON_BUT("\"data\":{\"from\":\"img:/d\"}"));
        merge_is("{\"data\":{\"from\":\"img:/d\"}}", "{\"log\":false}", "{}", true,
                 ALL_ON_BUT("\"data\":{\"from\":\"img:/d\"},\"log\":false"));
        merge_is("{\"data\":{\"from\":\"a:/x\"}}", "{\"data\":{\"from\":\"b:/y\"}}", NULL, true,
                 ALL_ON_BUT("\"data\":{\"from\":\"b:/y\"}"));
        merge_is("{\"data\":{\"from\":\"a:/x\"}}", NULL, "{\"data\":true}", true, "true");
        merge_is("{\"data\":{\"from\":\"a:/x\"}}", NULL, "{\"data\":false}", true,
                 ALL_ON_BUT("\"data\":false"));

        /* the layers are not changed and the result owns copies */
        struct vol_con_config g = con_ok("{\"data\":{\"from\":\"img:/d\"}}");
        vol_con_config_merge(&g, NULL, NULL, &m);
        assert_non_null(m.areas[VOL_CON_DATA].from);
        assert_ptr_not_equal(m.areas[VOL_CON_DATA].from, g.areas[VOL_CON_DATA].from);
        assert_area(&g, VOL_CON_DATA, true, true, "img:/d");
        assert_area(&g, VOL_CON_LOG, false, false, NULL);
        vol_con_config_free(&g);
        assert_area(&m, VOL_CON_DATA, true, true, "img:/d");
        vol_con_config_free(&m);
}

/* ---- IMAGE:/path ---- */

static void test_parse_from(void **state)
{
        static const struct {
                const char *from, *image, *path;
        } ok[] = {
            {"reg:5000/img:tag:/data", "reg:5000/img:tag", "/data"},
            {"img:/data", "img", "/data"},
            {"busybox:/var/lib/x", "busybox", "/var/lib/x"},
            {"reg:5000/img:/a/b", "reg:5000/img", "/a/b"},
            {"[::1]:5000/img:tag:/d", "[::1]:5000/img:tag", "/d"},
            {"img@sha256:00ff:/d", "img@sha256:00ff", "/d"},
            /* split at the last ":/" */
            {"img:/a:/b", "img:/a", "/b"},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                char *image = NULL, *path = NULL;
                struct vol_error err = VOL_ERROR_INIT;
                int r = vol_con_parse_from(ok[i].from, &image, &path, &err);
                if (r != 0)
                        fail_msg("%s refused: %s", ok[i].from, vol_error_message(&err));
                assert_string_equal(image, ok[i].image);
                assert_string_equal(path, ok[i].path);
                free(image);
                free(path);
        }
        char *long_img = repeat('a', 513);
        char long_from[600];
        snprintf(long_from, sizeof(long_from), "%s:/d", long_img);
        free(long_img);
        static const struct {
                const char *from, *needle;
        } bad[] = {
            {"", "IMAGE:/path"},         {":/data", "IMAGE:/path"}, {"img", "IMAGE:/path"},
            {"img:data", "IMAGE:/path"}, {"img:", "IMAGE:/path"},   {"img:/", "from"},
            {"img:/a/../b", "from"},     {"img:/a/./b", "from"},    {"img:/a//b", "from"},
            {"img:/a/", "from"},         {"im g:/a", "space"},      {"img\x01:/a", "control"},
            {"img:/..", "from"},         {"img:/a/..", "from"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
                const char *from = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].from : long_from;
                const char *needle = i < sizeof(bad) / sizeof(bad[0]) ? bad[i].needle : "512";
                char *image = (char *)0x5a5a, *path = (char *)0x5a5a;
                struct vol_error err = VOL_ERROR_INIT;
                int r = vol_con_parse_from(from, &image, &path, &err);
                if (r != -EINVAL)
                        fail_msg("from \"%s\": %d (%s), want -EINVAL", from, r,
                                 vol_error_message(&err));
                assert_int_equal(err.code, -EINVAL);
                assert_non_null(err.msg);
                if (!strstr(err.msg, needle))
                        fail_msg("from \"%s\": message \"%s\" does not name \"%s\"", from, err.msg,
                                 needle);
                assert_ptr_equal(image, (char *)0x5a5a);
                assert_ptr_equal(path, (char *)0x5a5a);
                vol_error_clear(&err);
        }
}

/* Without an err the code is the same: -EINVAL, as the contract says. */
static void test_parse_from_without_err(void **state)
{
        static const char *const bad[] = {":/data",      "img:data",  "im g:/a",
                                          "img:/a/../b", "img:/a//b", "img:/"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *image = NULL, *path = NULL;
                int r = vol_con_parse_from(bad[i], &image, &path, NULL);
                if (r != -EINVAL)
                        fail_msg("vol_con_parse_from(\"%s\", err NULL) gave %d, want -EINVAL (%d)",
                                 bad[i], r, -EINVAL);
                assert_null(image);
                assert_null(path);
        }
        struct vol_con_config c;
        json_t *j = json_of("{\"data\":{\"from\":\"img:/a/../b\"}}");
        int r = vol_con_config_from_json(j, &c, NULL);
        json_decref(j);
        if (r != -EINVAL)
                fail_msg("con {\"data\":{\"from\":\"img:/a/../b\"}} with err NULL gave %d, want "
                         "-EINVAL (%d)",
                         r, -EINVAL);
}

/* ---- sides ---- */

static struct vol_con_sides sides_ok(const char *text)
{
        struct vol_con_sides s;
        memset(&s, 0x5a, sizeof(s));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_con_sides_from_json(j, &s, &err);
        json_decref(j);
        if (r != 0)
                fail_msg("sides %s refused (%d): %s", text, r, vol_error_message(&err));
        vol_error_clear(&err);
        return s;
}

static void sides_bad_code(const char *text, int want, ...)
{
        struct vol_con_sides s;
        memset(&s, 0x5a, sizeof(s));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_con_sides_from_json(j, &s, &err);
        json_decref(j);
        char what[400];
        snprintf(what, sizeof(what), "sides %.350s", text);
        va_list ap;
        va_start(ap, want);
        check_refusal(r, want, &err, what, ap);
        va_end(ap);
        assert_untouched(&s, sizeof(s), what);
}

#define sides_bad(text, ...) sides_bad_code(text, -EINVAL, __VA_ARGS__, NULL)

/* "[{...one side with the given fields...}]" */
static char *one_side(const char *fields)
{
        char *t = NULL;
        if (asprintf(&t, "[{%s}]", fields) < 0)
                abort();
        return t;
}

static void side_bad(const char *fields, ...)
{
        char text[8192]; /* on the stack: a failure does not return to free it */
        char *t = one_side(fields);
        assert_true(strlen(t) < sizeof(text));
        strcpy(text, t);
        free(t);
        struct vol_con_sides s;
        memset(&s, 0x5a, sizeof(s));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_con_sides_from_json(j, &s, &err);
        json_decref(j);
        va_list ap;
        va_start(ap, fields);
        check_refusal(r, -EINVAL, &err, text, ap);
        va_end(ap);
        assert_untouched(&s, sizeof(s), text);
}

static void side_good(const char *fields)
{
        char *text = one_side(fields);
        struct vol_con_sides s = sides_ok(text);
        assert_int_equal(s.n, 1);
        vol_con_sides_free(&s);
        free(text);
}

#define SIDE_BAD(fields, ...) side_bad(fields, __VA_ARGS__, NULL)

static void test_sides_parse(void **state)
{
        struct vol_con_sides s =
            sides_ok("[{\"name\":\"migrate\",\"image\":\"reg:5000/"
                     "tools:1\",\"cmd\":[\"migrate\",\"--up\",\"\"],"
                     "\"when\":\"before\",\"writes\":[\"data\",\"var\"],\"timeout\":60},"
                     "{\"name\":\"shipper\",\"image\":\"fluent-bit\",\"when\":\"along\",\"writes\":"
                     "[\"log\"]},"
                     "{\"name\":\"init\",\"image\":\"busybox\",\"when\":\"before\",\"cmd\":null,"
                     "\"writes\":null,"
                     "\"timeout\":null}]");
        assert_true(s.set);
        assert_int_equal(s.n, 3);
        const struct vol_con_side *a = &s.items[0], *b = &s.items[1], *c = &s.items[2];
        assert_string_equal(a->name, "migrate");
        assert_string_equal(a->image, "reg:5000/tools:1");
        assert_int_equal(a->n_cmd, 3);
        assert_string_equal(a->cmd[0], "migrate");
        assert_string_equal(a->cmd[1], "--up");
        assert_string_equal(a->cmd[2], "");
        assert_true(a->before);
        assert_int_equal(a->writes, (1u << VOL_CON_DATA) | (1u << VOL_CON_VAR));
        assert_int_equal(a->timeout, 60);
        assert_string_equal(b->name, "shipper");
        assert_null(b->cmd);
        assert_int_equal(b->n_cmd, 0);
        assert_false(b->before);
        assert_int_equal(b->writes, 1u << VOL_CON_LOG);
        assert_string_equal(c->name, "init");
        assert_null(c->cmd);
        assert_true(c->before);
        assert_int_equal(c->writes, 0);
        assert_int_equal(c->timeout, VOL_CON_SIDE_TIMEOUT_DEFAULT);
        vol_con_sides_free(&s);
        assert_int_equal(s.n, 0);
        assert_null(s.items);
        assert_false(s.set);
        vol_con_sides_free(&s);

        s = sides_ok("[]");
        assert_true(s.set);
        assert_int_equal(s.n, 0);
        vol_con_sides_free(&s);

        /* every area a side may write */
        s = sides_ok("[{\"name\":\"w\",\"image\":\"i\",\"when\":\"along\",\"writes\":["
                     "\"configuration\",\"context\","
                     "\"secret\",\"data\",\"log\",\"var\",\"data\"]}]");
        assert_int_equal(s.items[0].writes, (1u << VOL_CON_CONFIGURATION) |
                                                (1u << VOL_CON_CONTEXT) | (1u << VOL_CON_SECRET) |
                                                (1u << VOL_CON_DATA) | (1u << VOL_CON_LOG) |
                                                (1u << VOL_CON_VAR));
        vol_con_sides_free(&s);

        /* limits, at the edge */
        char *name32 = repeat('n', 32), *img512 = repeat('i', 512), *arg4096 = repeat('x', 4096);
        char *fields = NULL;
        if (asprintf(&fields,
                     "\"name\":\"%s\",\"image\":\"%s\",\"when\":\"before\",\"timeout\":3600,"
                     "\"cmd\":[\"%s\"]",
                     name32, img512, arg4096) < 0)
                abort();
        side_good(fields);
        free(fields);
        side_good("\"name\":\"a\",\"image\":\"i\",\"when\":\"before\",\"timeout\":1");
        side_good("\"name\":\"0\",\"image\":\"i\",\"when\":\"along\"");
        side_good("\"name\":\"a-0-b\",\"image\":\"i\",\"when\":\"along\"");
        struct vol_strbuf cmd;
        vol_strbuf_init(&cmd, 0);
        vol_strbuf_puts(&cmd, "\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[");
        for (int i = 0; i < 64; i++)
                vol_strbuf_printf(&cmd, "%s\"a%d\"", i ? "," : "", i);
        vol_strbuf_puts(&cmd, "]");
        side_good(cmd.data);
        vol_strbuf_free(&cmd);
        /* 8 sides */
        struct vol_strbuf eight;
        vol_strbuf_init(&eight, 0);
        vol_strbuf_putc(&eight, '[');
        for (int i = 0; i < VOL_CON_SIDES_MAX; i++)
                vol_strbuf_printf(&eight, "%s{\"name\":\"s%d\",\"image\":\"i\",\"when\":\"along\"}",
                                  i ? "," : "", i);
        vol_strbuf_putc(&eight, ']');
        s = sides_ok(eight.data);
        assert_int_equal(s.n, 8);
        vol_con_sides_free(&s);
        vol_strbuf_free(&eight);
        free(name32);
        free(img512);
        free(arg4096);
}

static void test_sides_bad(void **state)
{
        /* the list itself */
        sides_bad("{}", "sides must be a list");
        sides_bad("null", "sides must be a list");
        sides_bad("\"x\"", "sides must be a list");
        sides_bad("[1]", "sides[0]", "object");
        sides_bad("[{\"name\":\"a\",\"image\":\"i\",\"when\":\"along\"},[]]", "sides[1]", "object");
        /* more than 8 */
        struct vol_strbuf nine;
        vol_strbuf_init(&nine, 0);
        vol_strbuf_putc(&nine, '[');
        for (int i = 0; i < VOL_CON_SIDES_MAX + 1; i++)
                vol_strbuf_printf(&nine, "%s{\"name\":\"s%d\",\"image\":\"i\",\"when\":\"along\"}",
                                  i ? "," : "", i);
        vol_strbuf_putc(&nine, ']');
        sides_bad_code(nine.data, -E2BIG, "sides", "9", "8", NULL);
        vol_strbuf_free(&nine);
        /* duplicates, also after a bad-free pass through the first ones */
        sides_bad("[{\"name\":\"web\",\"image\":\"i\",\"when\":\"along\"},"
                  "{\"name\":\"db\",\"image\":\"i\",\"when\":\"along\"},"
                  "{\"name\":\"web\",\"image\":\"j\",\"when\":\"before\"}]",
                  "web", "twice");
        /* a bad second side after a good one: the first is freed (ASan) */
        sides_bad("[{\"name\":\"a\",\"image\":\"i\",\"cmd\":[\"x\"],\"when\":\"along\",\"writes\":["
                  "\"data\"]},"
                  "{\"name\":\"b\",\"image\":\"i\",\"cmd\":[\"x\",2],\"when\":\"along\"}]",
                  "side b", "cmd[1]");

        /* unknown fields */
        SIDE_BAD("\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"bogus\":1", "\"bogus\"",
                 "sides[0]");
        SIDE_BAD("\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"Image\":\"x\"", "\"Image\"",
                 "sides[0]");
        SIDE_BAD("\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"env\":{}", "\"env\"");

        /* name: a DNS label of at most 32 */
        SIDE_BAD("\"image\":\"i\",\"when\":\"along\"", "sides[0]", "name");
        SIDE_BAD("\"name\":null,\"image\":\"i\",\"when\":\"along\"", "sides[0]", "name");
        SIDE_BAD("\"name\":5,\"image\":\"i\",\"when\":\"along\"", "sides[0]", "name");
        static const char *const bad_names[] = {"",    "Web", "-a",  "a-", "a_b",
                                                "a.b", "a b", "a/b", "é"};
        for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
                char f[200];
                snprintf(f, sizeof(f), "\"name\":\"%s\",\"image\":\"i\",\"when\":\"along\"",
                         bad_names[i]);
                SIDE_BAD(f, "sides[0]", "side name");
        }
        char *n33 = repeat('n', 33), *n64 = repeat('n', 64);
        char f[400];
        snprintf(f, sizeof(f), "\"name\":\"%s\",\"image\":\"i\",\"when\":\"along\"", n33);
        SIDE_BAD(f, "sides[0]", "32");
        snprintf(f, sizeof(f), "\"name\":\"%s\",\"image\":\"i\",\"when\":\"along\"", n64);
        SIDE_BAD(f, "sides[0]", "name");
        free(n33);
        free(n64);

        /* image: required, no spaces, at most 512 */
        SIDE_BAD("\"name\":\"web\",\"when\":\"along\"", "side web", "image");
        SIDE_BAD("\"name\":\"web\",\"image\":\"\",\"when\":\"along\"", "side web", "image");
        SIDE_BAD("\"name\":\"web\",\"image\":null,\"when\":\"along\"", "side web", "image");
        SIDE_BAD("\"name\":\"web\",\"image\":[\"i\"],\"when\":\"along\"", "side web", "image");
        SIDE_BAD("\"name\":\"web\",\"image\":\"my img\",\"when\":\"along\"", "side web", "image",
                 "space");
        SIDE_BAD("\"name\":\"web\",\"image\":\"img\\n\",\"when\":\"along\"", "side web", "image");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\\u0000j\",\"when\":\"along\"", "side web",
                 "image");
        char *i513 = repeat('i', 513);
        char *fi = NULL;
        if (asprintf(&fi, "\"name\":\"web\",\"image\":\"%s\",\"when\":\"along\"", i513) < 0)
                abort();
        SIDE_BAD(fi, "side web", "image", "512");
        free(fi);
        free(i513);

        /* when: before or along */
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\"", "side web", "when");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"after\"", "side web", "when");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"Before\"", "side web", "when");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":true", "side web", "when");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":null", "side web", "when");

        /* cmd: a list of 1 to 64 strings */
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[]", "side web",
                 "cmd");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":\"ls -l\"",
                 "side web", "cmd");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":{}", "side web",
                 "cmd");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[\"ls\",1]",
                 "side web", "cmd[1]");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[null]", "side web",
                 "cmd[0]");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[\"a\\u0000b\"]",
                 "side web", "cmd[0]");
        struct vol_strbuf cmd;
        vol_strbuf_init(&cmd, 0);
        vol_strbuf_puts(&cmd, "\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[");
        for (int i = 0; i < 65; i++)
                vol_strbuf_printf(&cmd, "%s\"a%d\"", i ? "," : "", i);
        vol_strbuf_puts(&cmd, "]");
        SIDE_BAD(cmd.data, "side web", "cmd", "64");
        vol_strbuf_free(&cmd);
        char *a4097 = repeat('x', 4097);
        char *fc = NULL;
        if (asprintf(&fc,
                     "\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"cmd\":[\"ok\",\"%s\"]",
                     a4097) < 0)
                abort();
        SIDE_BAD(fc, "side web", "cmd[1]", "4096");
        free(fc);
        free(a4097);

        /* writes: areas a side may write (not seed, not proc) */
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":\"data\"",
                 "side web", "writes");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":{}", "side web",
                 "writes");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":[\"seed\"]",
                 "side web", "seed");
        SIDE_BAD(
            "\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":[\"data\",\"proc\"]",
            "side web", "proc");
        SIDE_BAD(
            "\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":[\"data\",\"bogus\"]",
            "side web", "writes[1]", "\"bogus\"");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":[1]", "side web",
                 "writes[0]");
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"writes\":[\"DATA\"]",
                 "side web", "writes[0]");

        /* timeout: for before alone, 1 to 3600 whole seconds */
        static const char *const bad_timeouts[] = {"0",      "-1",   "3601", "1.5",
                                                   "\"10\"", "true", "[]",   "99999999999"};
        for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++) {
                char t[200];
                snprintf(t, sizeof(t),
                         "\"name\":\"web\",\"image\":\"i\",\"when\":\"before\",\"timeout\":%s",
                         bad_timeouts[i]);
                SIDE_BAD(t, "side web", "timeout", "3600");
        }
        SIDE_BAD("\"name\":\"web\",\"image\":\"i\",\"when\":\"along\",\"timeout\":10", "side web",
                 "timeout", "before");
}

/* A name with a NUL inside is a bad name: -EINVAL naming the side, like any other. */
static void test_sides_name_with_nul(void **state)
{
        SIDE_BAD("\"name\":\"a\\u0000b\",\"image\":\"i\",\"when\":\"along\"", "sides[0]", "name");
        SIDE_BAD("\"name\":\"web\\u0000\",\"image\":\"i\",\"when\":\"along\"", "sides[0]", "name");
}

static void assert_sides_equal(const struct vol_con_sides *a, const struct vol_con_sides *b,
                               bool deep)
{
        assert_int_equal(a->set, b->set);
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                const struct vol_con_side *x = &a->items[i], *y = &b->items[i];
                assert_string_equal(x->name, y->name);
                assert_string_equal(x->image, y->image);
                assert_int_equal(x->n_cmd, y->n_cmd);
                assert_int_equal(x->cmd == NULL, y->cmd == NULL);
                for (size_t k = 0; k < x->n_cmd; k++) {
                        assert_string_equal(x->cmd[k], y->cmd[k]);
                        if (deep)
                                assert_ptr_not_equal(x->cmd[k], y->cmd[k]);
                }
                assert_int_equal(x->before, y->before);
                assert_int_equal(x->writes, y->writes);
                assert_int_equal(x->timeout, y->timeout);
                if (deep) {
                        assert_ptr_not_equal(x->name, y->name);
                        assert_ptr_not_equal(x->image, y->image);
                        if (x->cmd)
                                assert_ptr_not_equal(x->cmd, y->cmd);
                }
        }
}

static char *sides_json(const struct vol_con_sides *s)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_con_sides_to_json(s, &b), 0);
        return vol_strbuf_take(&b, NULL);
}

static void test_sides_round_trip(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
            {"[]", "[]"},
            {"[{\"name\":\"a\",\"image\":\"i\",\"when\":\"along\"}]",
             "[{\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"writes\":[]}]"},
            {"[{\"name\":\"a\",\"image\":\"i\",\"when\":\"before\"}]",
             "[{\"name\":\"a\",\"image\":\"i\",\"when\":\"before\",\"writes\":[],\"timeout\":300}"
             "]"},
            {"[{\"name\":\"m\",\"image\":\"reg:5000/t:1\",\"cmd\":[\"a "
             "b\",\"\\\"q\\\"\",\"\\u00e9\"],"
             "\"when\":\"before\",\"writes\":[\"var\",\"configuration\"],\"timeout\":7},"
             "{\"name\":\"s\",\"image\":\"f\",\"when\":\"along\",\"writes\":[\"log\",\"secret\","
             "\"context\"]}]",
             "[{\"name\":\"m\",\"image\":\"reg:5000/t:1\",\"cmd\":[\"a "
             "b\",\"\\\"q\\\"\",\"\\u00e9\"],"
             "\"when\":\"before\",\"writes\":[\"configuration\",\"var\"],\"timeout\":7},"
             "{\"name\":\"s\",\"image\":\"f\",\"when\":\"along\",\"writes\":[\"context\","
             "\"secret\",\"log\"]}]"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vol_con_sides s = sides_ok(cases[i].in);
                char *out = sides_json(&s);
                assert_json_equal(out, cases[i].out, cases[i].in);
                struct vol_con_sides back = sides_ok(out);
                assert_sides_equal(&s, &back, false);
                char *again = sides_json(&back);
                assert_string_equal(again, out);
                /* the copy is deep: it outlives the original */
                struct vol_con_sides copy;
                memset(&copy, 0x5a, sizeof(copy));
                vol_con_sides_copy(&s, &copy);
                assert_sides_equal(&s, &copy, true);
                vol_con_sides_free(&s);
                char *from_copy = sides_json(&copy);
                assert_string_equal(from_copy, out);
                free(out);
                free(again);
                free(from_copy);
                vol_con_sides_free(&back);
                vol_con_sides_free(&copy);
        }
        /* the copy of a zeroed (never read) list */
        struct vol_con_sides none, copy;
        memset(&none, 0, sizeof(none));
        vol_con_sides_copy(&none, &copy);
        assert_false(copy.set);
        assert_int_equal(copy.n, 0);
        vol_con_sides_free(&copy);
        /* a bounded buffer that is too small */
        struct vol_con_sides s = sides_ok("[{\"name\":\"a\",\"image\":\"i\",\"when\":\"along\"}]");
        struct vol_strbuf b;
        vol_strbuf_init(&b, 10);
        assert_int_equal(vol_con_sides_to_json(&s, &b), -E2BIG);
        vol_strbuf_free(&b);
        vol_con_sides_free(&s);
}

/* ---- file and secret names ---- */

static void test_validate_name(void **state)
{
        char *n128 = repeat('a', 128), *n129 = repeat('a', 129);
        const char *ok[] = {"a",  "app.conf",    "A-Z_a-z.0-9", "x..y",     "name.", "-dash",
                            "_u", "DEFAULT.txt", "default",     "DEFAULTS", "0",     n128};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                struct vol_error err = VOL_ERROR_INIT;
                if (vol_con_validate_name("file", ok[i], &err) != 0)
                        fail_msg("name %.60s refused: %s", ok[i], vol_error_message(&err));
        }
        static const struct {
                const char *name, *needle;
        } bad[] = {
            {"", "1 to 128"},    {"DEFAULT", "DEFAULT"}, {".hidden", "dot"}, {"..", "dot"},
            {".", "dot"},        {"a/b", "a/b"},         {"a b", "a b"},     {"../x", "dot"},
            {"a\\b", "letters"}, {"a:b", "letters"},     {"é", "letters"},   {"a\tb", "letters"},
            {"a*", "letters"},   {"a%2Fb", "letters"},
        };
        for (int w = 0; w < 2; w++) {
                const char *what = w ? "secret" : "file";
                const size_t n_bad = sizeof(bad) / sizeof(bad[0]);
                for (size_t i = 0; i < n_bad + 2; i++) {
                        /* then 129 characters, then NULL */
                        const char *name = i < n_bad ? bad[i].name : i == n_bad ? n129 : NULL;
                        const char *needle = i < n_bad ? bad[i].needle : "128";
                        struct vol_error err = VOL_ERROR_INIT;
                        int r = vol_con_validate_name(what, name, &err);
                        if (r != -EINVAL)
                                fail_msg("%s name \"%.60s\" gave %d, want -EINVAL", what,
                                         name ? name : "(NULL)", r);
                        assert_int_equal(err.code, -EINVAL);
                        assert_non_null(err.msg);
                        if (!strstr(err.msg, what) || !strstr(err.msg, needle))
                                fail_msg("%s name \"%.60s\": message \"%s\" does not name \"%s\" "
                                         "and \"%s\"",
                                         what, name ? name : "(NULL)", err.msg, what, needle);
                        vol_error_clear(&err);
                }
        }
        assert_int_equal(vol_con_validate_name("file", "DEFAULT", NULL), -EINVAL);
        free(n128);
        free(n129);
}

/* ---- /con/proc ---- */

/* Parses a /proc/meminfo text: each line "Key: N kB"; returns the value of key. */
static unsigned long long meminfo_value(const char *text, const char *key)
{
        const char *p = text;
        bool found = false;
        unsigned long long value = 0;
        int lines = 0;
        while (*p) {
                const char *nl = strchr(p, '\n');
                if (!nl)
                        fail_msg("meminfo does not end with a newline: %s", text);
                char line[128];
                size_t n = (size_t)(nl - p);
                assert_true(n < sizeof(line));
                memcpy(line, p, n);
                line[n] = 0;
                char k[64], unit[8];
                unsigned long long v;
                int used = 0;
                if (sscanf(line, "%63[A-Za-z()_]: %llu %7s%n", k, &v, unit, &used) != 3 ||
                    (size_t)used != n || strcmp(unit, "kB"))
                        fail_msg("meminfo line \"%s\" is not \"Key: N kB\"", line);
                if (!strcmp(k, key)) {
                        found = true;
                        value = v;
                }
                lines++;
                p = nl + 1;
        }
        if (!found)
                fail_msg("meminfo has no %s:\n%s", key, text);
        return value;
}

static void test_proc_meminfo(void **state)
{
        static const struct {
                uint64_t bytes;
                unsigned long long kb;
        } cases[] = {
            {UINT64_C(1) << 30, 1048576},
            {(UINT64_C(512) << 20), 524288},
            {6u << 20, 6144},
            {1536, 1},
            {1023, 0},
            {0, 0},
            {UINT64_MAX, UINT64_MAX / 1024},
            {UINT64_C(16) << 40, UINT64_C(16) << 30},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct vol_strbuf b;
                vol_strbuf_init(&b, 0);
                assert_int_equal(vol_con_proc_meminfo(cases[i].bytes, &b), 0);
                assert_non_null(b.data);
                /* MemTotal first, like the kernel's */
                assert_int_equal(strncmp(b.data, "MemTotal:", 9), 0);
                unsigned long long total = meminfo_value(b.data, "MemTotal");
                if (total != cases[i].kb)
                        fail_msg("%" PRIu64 " bytes: MemTotal %llu kB, want %llu", cases[i].bytes,
                                 total, cases[i].kb);
                assert_true(meminfo_value(b.data, "MemFree") <= total);
                assert_true(meminfo_value(b.data, "MemAvailable") <= total);
                assert_int_equal(meminfo_value(b.data, "SwapTotal"), 0);
                meminfo_value(b.data, "SwapFree");
                meminfo_value(b.data, "Cached");
                meminfo_value(b.data, "Buffers");
                /* the kernel's columns: the number ends at column 24, " kB" follows */
                if (total < 100000000ULL) {
                        const char *nl = strchr(b.data, '\n');
                        assert_int_equal(nl - b.data, 27);
                        assert_int_equal(strncmp(nl - 3, " kB", 3), 0);
                }
                vol_strbuf_free(&b);
        }
        /* appends to what the buffer holds */
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_strbuf_puts(&b, "x");
        assert_int_equal(vol_con_proc_meminfo(1 << 20, &b), 0);
        assert_int_equal(strncmp(b.data, "xMemTotal:", 10), 0);
        vol_strbuf_free(&b);
        /* a bounded buffer too small for it */
        vol_strbuf_init(&b, 20);
        assert_int_equal(vol_con_proc_meminfo(1 << 20, &b), -E2BIG);
        vol_strbuf_free(&b);
}

static int count_processors(const char *text, unsigned *ret_last)
{
        int n = 0;
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                unsigned idx;
                char tail;
                if (len >= 9 && !strncmp(p, "processor", 9)) {
                        if (sscanf(p, "processor\t: %u%c", &idx, &tail) != 2 || tail != '\n')
                                fail_msg("bad processor line in %s", text);
                        if ((unsigned)n != idx)
                                fail_msg("processor %u is line %d", idx, n);
                        *ret_last = idx;
                        n++;
                }
                p = nl ? nl + 1 : NULL;
        }
        return n;
}

static void test_proc_cpuinfo(void **state)
{
        static const unsigned counts[] = {1, 2, 3, 4, 8, 64, 1024};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
                struct vol_strbuf b;
                vol_strbuf_init(&b, 0);
                assert_int_equal(vol_con_proc_cpuinfo(counts[i], &b), 0);
                unsigned last = 0;
                int n = count_processors(b.data, &last);
                if ((unsigned)n != counts[i])
                        fail_msg("cpuinfo for %u cpus has %d processor lines", counts[i], n);
                assert_int_equal(last, counts[i] - 1);
                /* blocks are separated by a blank line, like the kernel's */
                assert_int_equal(strcmp(b.data + b.len - 2, "\n\n"), 0);
                vol_strbuf_free(&b);
        }
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_con_proc_cpuinfo(0, &b), 0);
        assert_int_equal(b.len, 0);
        vol_strbuf_free(&b);
        vol_strbuf_init(&b, 30);
        assert_int_equal(vol_con_proc_cpuinfo(4, &b), -E2BIG);
        vol_strbuf_free(&b);
}

/* ---- through core/appconfig.h ---- */

static void layer_ok(const char *text, struct vol_app_config *ret)
{
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_app_config_from_json(j, ret, &err);
        json_decref(j);
        if (r < 0)
                fail_msg("layer %s refused: %s", text, vol_error_message(&err));
}

static void layer_bad_(const char *text, ...)
{
        struct vol_app_config c;
        memset(&c, 0x5a, sizeof(c));
        struct vol_error err = VOL_ERROR_INIT;
        json_t *j = json_of(text);
        int r = vol_app_config_from_json(j, &c, &err);
        json_decref(j);
        va_list ap;
        va_start(ap, text);
        if (r >= 0)
                fail_msg("accepted layer %s", text);
        assert_int_equal(err.code, r);
        assert_non_null(err.msg);
        for (const char *needle; (needle = va_arg(ap, const char *));)
                if (!strstr(err.msg, needle))
                        fail_msg("layer %s: message \"%s\" does not name \"%s\"", text, err.msg,
                                 needle);
        va_end(ap);
        vol_error_clear(&err);
        assert_untouched(&c, sizeof(c), text);
}

#define layer_bad(text, ...) layer_bad_(text, __VA_ARGS__, NULL)

static char *layer_json(const struct vol_app_config *c)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_app_config_to_json(c, &b), 0);
        return vol_strbuf_take(&b, NULL);
}

static void test_appconfig_layer(void **state)
{
        static const char *const layers[] = {
            "{\"con\":true}",
            "{\"con\":false}",
            "{\"con\":{\"data\":{\"from\":\"reg:5000/img:tag:/data\"},\"proc\":false}}",
            "{\"sides\":[]}",
            "{\"memory\":\"256m\",\"con\":{\"seed\":false},"
            "\"sides\":[{\"name\":\"m\",\"image\":\"t\",\"cmd\":[\"x\"],\"when\":\"before\","
            "\"writes\":[\"data\"],"
            "\"timeout\":5},{\"name\":\"s\",\"image\":\"f\",\"when\":\"along\",\"writes\":[]}]}",
        };
        for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
                struct vol_app_config c;
                layer_ok(layers[i], &c);
                json_t *in = json_of(layers[i]);
                assert_int_equal(c.has_con, json_object_get(in, "con") != NULL);
                assert_int_equal(c.has_sides, json_object_get(in, "sides") != NULL);
                json_decref(in);
                char *out = layer_json(&c);
                assert_json_equal(out, layers[i], layers[i]);
                struct vol_app_config back;
                layer_ok(out, &back);
                char *again = layer_json(&back);
                assert_string_equal(again, out);
                free(out);
                free(again);
                vol_app_config_free(&c);
                vol_app_config_free(&back);
        }
        /* null and absent: unset */
        struct vol_app_config c;
        layer_ok("{\"con\":null,\"sides\":null}", &c);
        assert_false(c.has_con);
        assert_false(c.has_sides);
        char *out = layer_json(&c);
        assert_json_equal(out, "{}", "con and sides null");
        free(out);
        vol_app_config_free(&c);
        /* an object with every area on is written as true */
        layer_ok("{\"con\":{\"configuration\":true,\"context\":true,\"secret\":true,\"seed\":true,"
                 "\"proc\":true,"
                 "\"data\":true,\"log\":true,\"var\":true}}",
                 &c);
        out = layer_json(&c);
        assert_json_equal(out, "{\"con\":true}", "every area on");
        free(out);
        vol_app_config_free(&c);

        /* refusals inside a layer name the field and leave *ret alone */
        layer_bad("{\"con\":1}", "con");
        layer_bad("{\"con\":{\"bogus\":true}}", "\"bogus\"");
        layer_bad("{\"con\":{\"proc\":{\"from\":\"i:/x\"}}}", "con.proc");
        layer_bad("{\"memory\":\"256m\",\"con\":{\"data\":{\"from\":\"i:/x\"}},\"sides\":5}",
                  "sides");
        layer_bad("{\"con\":true,\"sides\":[{\"name\":\"a\",\"image\":\"i\",\"when\":\"never\"}]}",
                  "side a", "when");
        layer_bad("{\"sides\":[{\"name\":\"a\",\"image\":\"i\",\"when\":\"along\",\"writes\":["
                  "\"seed\"]}]}",
                  "seed");
        layer_bad("{\"con\":true,\"side\":[]}", "\"side\"");
}

/* Merges three layers (NULL: none) with vol_app_config_merge. */
static void merge_layers(const char *g, const char *e, const char *a, struct vol_app_config *ret,
                         const char *src[VOL_APP_FIELDS])
{
        const char *texts[3] = {g, e, a};
        struct vol_app_config l[3];
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        layer_ok(texts[i], &l[i]);
        struct vol_error err = VOL_ERROR_INIT;
        int r =
            vol_app_config_merge(g ? &l[0] : NULL, e ? &l[1] : NULL, a ? &l[2] : NULL, ret, &err);
        if (r < 0)
                fail_msg("merge refused: %s", vol_error_message(&err));
        vol_app_config_sources(g ? &l[0] : NULL, e ? &l[1] : NULL, a ? &l[2] : NULL, src);
        for (int i = 0; i < 3; i++)
                if (texts[i])
                        vol_app_config_free(&l[i]);
}

static void test_appconfig_merge_and_sources(void **state)
{
        assert_string_equal(vol_app_config_fields[9], "con");
        assert_string_equal(vol_app_config_fields[10], "sides");
        assert_int_equal(VOL_APP_FIELDS, 11);

        struct vol_app_config m;
        const char *src[VOL_APP_FIELDS];
        /* defaults: con false, no sides */
        merge_layers(NULL, NULL, NULL, &m, src);
        assert_true(m.has_con);
        assert_true(m.con.set);
        assert_false(m.con.enabled);
        assert_true(m.has_sides);
        assert_true(m.sides.set);
        assert_int_equal(m.sides.n, 0);
        assert_string_equal(src[9], "default");
        assert_string_equal(src[10], "default");
        char *out = layer_json(&m);
        json_t *j = json_of(out);
        char *con = json_dumps(json_object_get(j, "con"), JSON_ENCODE_ANY | JSON_COMPACT);
        assert_string_equal(con, "false");
        free(con);
        json_decref(j);
        free(out);
        vol_app_config_free(&m);

        /* con from global, sides from env */
        merge_layers("{\"con\":true}",
                     "{\"sides\":[{\"name\":\"s\",\"image\":\"i\",\"when\":\"along\"}]}", "{}", &m,
                     src);
        assert_true(m.con.enabled);
        assert_string_equal(src[9], "global");
        assert_string_equal(src[10], "env");
        assert_int_equal(m.sides.n, 1);
        assert_string_equal(m.sides.items[0].name, "s");
        vol_app_config_free(&m);

        /* con folded over the layers, sides from the most specific layer */
        merge_layers(
            "{\"con\":{\"data\":{\"from\":\"img:/d\"}},"
            "\"sides\":[{\"name\":\"g\",\"image\":\"i\",\"when\":\"along\"}]}",
            "{\"con\":{\"proc\":false}}",
            "{\"sides\":[{\"name\":\"a\",\"image\":\"j\",\"when\":\"before\",\"timeout\":9},"
            "{\"name\":\"b\",\"image\":\"k\",\"when\":\"along\"}]}",
            &m, src);
        assert_string_equal(src[9], "env");
        assert_string_equal(src[10], "app");
        assert_true(m.con.enabled);
        assert_area(&m.con, VOL_CON_DATA, true, true, "img:/d");
        assert_area(&m.con, VOL_CON_PROC, true, false, NULL);
        assert_area(&m.con, VOL_CON_LOG, true, true, NULL);
        assert_int_equal(m.sides.n, 2);
        assert_string_equal(m.sides.items[0].name, "a");
        assert_int_equal(m.sides.items[0].timeout, 9);
        out = layer_json(&m);
        j = json_of(out);
        con = json_dumps(json_object_get(j, "con"), JSON_ENCODE_ANY | JSON_COMPACT);
        assert_json_equal(con, ALL_ON_BUT("\"data\":{\"from\":\"img:/d\"},\"proc\":false"),
                          "merged con");
        free(con);
        json_decref(j);
        free(out);
        vol_app_config_free(&m);

        /* an app that turns it off; an app that sets no sides */
        merge_layers("{\"con\":true}", "{\"sides\":[]}", "{\"con\":false}", &m, src);
        assert_false(m.con.enabled);
        assert_string_equal(src[9], "app");
        assert_string_equal(src[10], "env");
        vol_app_config_free(&m);

        /* the other fields' sources are not moved by con and sides */
        merge_layers("{\"con\":true,\"sides\":[]}", NULL, "{\"con\":false,\"sides\":[]}", &m, src);
        for (int i = 0; i < 9; i++)
                assert_string_equal(src[i], "default");
        assert_string_equal(src[9], "app");
        assert_string_equal(src[10], "app");
        vol_app_config_free(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_area_names),
            cmocka_unit_test(test_con_true_false),
            cmocka_unit_test(test_con_objects),
            cmocka_unit_test(test_con_bad_types),
            cmocka_unit_test(test_con_bad_from),
            cmocka_unit_test(test_con_to_json_round_trip),
            cmocka_unit_test(test_merge),
            cmocka_unit_test(test_parse_from),
            cmocka_unit_test(test_parse_from_without_err),
            cmocka_unit_test(test_sides_parse),
            cmocka_unit_test(test_sides_bad),
            cmocka_unit_test(test_sides_name_with_nul),
            cmocka_unit_test(test_sides_round_trip),
            cmocka_unit_test(test_validate_name),
            cmocka_unit_test(test_proc_meminfo),
            cmocka_unit_test(test_proc_cpuinfo),
            cmocka_unit_test(test_appconfig_layer),
            cmocka_unit_test(test_appconfig_merge_and_sources),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
