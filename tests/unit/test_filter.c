/* core/filter.h: parsing "key=value" filters and matching volumes against them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/cleanup.h"
#include "core/filter.h"
#include "core/xmalloc.h"

static struct vol_volume *make_volume(const char *name, const char *driver, const char *tenant,
                                      const char *env, const char *app)
{
        struct vol_volume *v = vol_volume_new();
        v->name = xstrdup(name);
        v->driver = xstrdup(driver);
        if (tenant) {
                v->scope = xcalloc(1, sizeof(*v->scope));
                v->scope->tenant = xstrdup(tenant);
                v->scope->env = xstrdup(env);
                v->scope->app = xstrdup(app);
                v->scope->path = xstrdup("/data");
        }
        return v;
}

/* A filter made of the given texts, each of which must be accepted. */
static void build(struct vol_filter *f, const char *const *texts, size_t n)
{
        vol_filter_init(f);
        for (size_t i = 0; i < n; i++) {
                struct vol_error err = VOL_ERROR_INIT;
                if (vol_filter_add(f, texts[i], &err) < 0)
                        fail_msg("filter %s refused: %s", texts[i], vol_error_message(&err));
        }
}

static bool matches1(const char *text, const struct vol_volume *v)
{
        struct vol_filter f;
        build(&f, &text, 1);
        bool r = vol_filter_match(&f, v);
        vol_filter_free(&f);
        return r;
}

static void expect_refused(struct vol_filter *f, const char *text, int code, const char *needle)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_filter_add(f, text, &err), code);
        assert_int_equal(err.code, code);
        assert_non_null(err.msg);
        if (!strstr(err.msg, needle))
                fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
        vol_error_clear(&err);
}

static void test_empty(void **state)
{
        struct vol_filter f;
        vol_filter_init(&f);
        assert_true(vol_filter_is_empty(&f));
        assert_int_equal(f.dangling, -1);
        struct vol_volume *v = make_volume("a", "local", NULL, NULL, NULL);
        assert_true(vol_filter_match(&f, v));
        vol_volume_free(v);
        vol_filter_free(&f);
        vol_filter_free(&f); /* free re-initializes: a second free is harmless */
        assert_true(vol_filter_is_empty(&f));
}

static void test_parse_each_key(void **state)
{
        const char *texts[] = {"driver=local", "tenant=acme",   "env=prod",   "app=orders",
                               "name=data",    "dangling=true", "label=team", "label=tier=gold"};
        struct vol_filter f;
        build(&f, texts, ARRAY_SIZE(texts));
        assert_false(vol_filter_is_empty(&f));
        assert_string_equal(f.driver, "local");
        assert_string_equal(f.tenant, "acme");
        assert_string_equal(f.env, "prod");
        assert_string_equal(f.app, "orders");
        assert_string_equal(f.name, "data");
        assert_int_equal(f.dangling, 1);
        assert_int_equal(f.n_labels, 2);
        assert_string_equal(f.labels[0].key, "team");
        assert_null(f.labels[0].value);
        assert_string_equal(f.labels[1].key, "tier");
        assert_string_equal(f.labels[1].value, "gold");
        vol_filter_free(&f);
        assert_true(vol_filter_is_empty(&f));

        /* Each key alone makes the filter non-empty. */
        for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
                build(&f, &texts[i], 1);
                assert_false(vol_filter_is_empty(&f));
                vol_filter_free(&f);
        }
}

static void test_parse_values(void **state)
{
        struct vol_filter f;
        const char *t1[] = {"dangling=false"};
        build(&f, t1, 1);
        assert_int_equal(f.dangling, 0);
        vol_filter_free(&f);
        const char *t2[] = {"dangling=1"};
        build(&f, t2, 1);
        assert_int_equal(f.dangling, 1);
        vol_filter_free(&f);
        const char *t3[] = {"dangling=0"};
        build(&f, t3, 1);
        assert_int_equal(f.dangling, 0);
        vol_filter_free(&f);
        /* A value may hold '=': only the first one splits. */
        const char *t4[] = {"label=a=b=c", "name=x=y", "label=k="};
        build(&f, t4, 3);
        assert_string_equal(f.labels[0].key, "a");
        assert_string_equal(f.labels[0].value, "b=c");
        assert_string_equal(f.name, "x=y");
        assert_string_equal(f.labels[1].key, "k");
        assert_string_equal(f.labels[1].value, "");
        vol_filter_free(&f);
}

static void test_bad_filters(void **state)
{
        struct vol_filter f;
        vol_filter_init(&f);
        expect_refused(&f, "", -EINVAL, "key=value");
        expect_refused(&f, "driver", -EINVAL, "key=value");
        expect_refused(&f, "=local", -EINVAL, "key=value");
        expect_refused(&f, "color=red", -EINVAL, "unknown filter \"color\"");
        expect_refused(&f, "Driver=local", -EINVAL, "unknown");
        expect_refused(&f, "drive=local", -EINVAL, "unknown");
        expect_refused(&f, "drivers=local", -EINVAL, "unknown");
        expect_refused(&f, "driver=", -EINVAL, "empty");
        expect_refused(&f, "tenant=", -EINVAL, "empty");
        expect_refused(&f, "dangling=yes", -EINVAL, "dangling");
        expect_refused(&f, "dangling=", -EINVAL, "dangling");
        expect_refused(&f, "label=", -EINVAL, "label");
        expect_refused(&f, "label==v", -EINVAL, "label");
        assert_true(vol_filter_is_empty(&f));

        /* A long unknown key is cut in the message. */
        char key[300];
        memset(key, 'k', 299);
        key[299] = 0;
        key[200] = '=';
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_filter_add(&f, key, &err), -EINVAL);
        assert_true(strlen(err.msg) < 200);
        vol_error_clear(&err);

        /* A key given twice is refused (but labels may repeat). */
        assert_int_equal(vol_filter_add(&f, "driver=local", NULL), 0);
        expect_refused(&f, "driver=tmpfs", -EINVAL, "twice");
        assert_string_equal(f.driver, "local");
        assert_int_equal(vol_filter_add(&f, "dangling=true", NULL), 0);
        expect_refused(&f, "dangling=false", -EINVAL, "twice");
        assert_int_equal(f.dangling, 1);
        assert_int_equal(vol_filter_add(&f, "label=a", NULL), 0);
        assert_int_equal(vol_filter_add(&f, "label=a=b", NULL), 0);
        assert_int_equal(f.n_labels, 2);
        vol_filter_free(&f);
}

static void test_filters_max(void **state)
{
        struct vol_filter f;
        vol_filter_init(&f);
        for (int i = 0; i < VOL_FILTERS_MAX; i++) {
                char t[32];
                snprintf(t, sizeof(t), "label=k%d", i);
                assert_int_equal(vol_filter_add(&f, t, NULL), 0);
        }
        expect_refused(&f, "label=one-more", -E2BIG, "32");
        expect_refused(&f, "driver=local", -E2BIG, "32");
        assert_int_equal(f.n_labels, VOL_FILTERS_MAX);
        vol_filter_free(&f);
}

static void test_match_driver_scope_name(void **state)
{
        struct vol_volume *scoped =
            make_volume("volman-acme-prod-orders-data", "local", "acme", "prod", "orders");
        struct vol_volume *plain = make_volume("web-data", "tmpfs", NULL, NULL, NULL);

        assert_true(matches1("driver=local", scoped));
        assert_false(matches1("driver=local", plain));
        assert_false(matches1("driver=loc", scoped)); /* exact, not a substring */
        assert_true(matches1("driver=tmpfs", plain));

        assert_true(matches1("tenant=acme", scoped));
        assert_false(matches1("tenant=acm", scoped));
        assert_false(matches1("tenant=acme", plain)); /* no scope, no match */
        assert_true(matches1("env=prod", scoped));
        assert_false(matches1("env=dev", scoped));
        assert_false(matches1("env=prod", plain));
        assert_true(matches1("app=orders", scoped));
        assert_false(matches1("app=billing", scoped));
        assert_false(matches1("app=orders", plain));

        assert_true(matches1("name=acme", scoped)); /* a substring */
        assert_true(matches1("name=web-data", plain));
        assert_true(matches1("name=web", plain));
        assert_false(matches1("name=WEB", plain));
        assert_false(matches1("name=web-data-2", plain));

        /* Every condition must hold. */
        const char *both[] = {"driver=local", "tenant=acme", "env=prod", "app=orders", "name=data"};
        struct vol_filter f;
        build(&f, both, ARRAY_SIZE(both));
        assert_true(vol_filter_match(&f, scoped));
        assert_false(vol_filter_match(&f, plain));
        vol_filter_free(&f);
        const char *conflict[] = {"tenant=acme", "env=dev"};
        build(&f, conflict, ARRAY_SIZE(conflict));
        assert_false(vol_filter_match(&f, scoped));
        vol_filter_free(&f);

        vol_volume_free(scoped);
        vol_volume_free(plain);
}

static void test_match_labels(void **state)
{
        struct vol_volume *v = make_volume("data", "local", NULL, NULL, NULL);
        vol_kvs_set(&v->labels, "team", "web");
        vol_kvs_set(&v->labels, "empty", "");
        vol_kvs_set(&v->labels, "expr", "a=b");

        /* label=K: the key is present, whatever its value. */
        assert_true(matches1("label=team", v));
        assert_true(matches1("label=empty", v));
        assert_false(matches1("label=owner", v));
        assert_false(matches1("label=tea", v));
        /* label=K=V: the key holds exactly V. */
        assert_true(matches1("label=team=web", v));
        assert_false(matches1("label=team=we", v));
        assert_false(matches1("label=team=", v));
        assert_true(matches1("label=empty=", v));
        assert_false(matches1("label=empty=x", v));
        assert_true(matches1("label=expr=a=b", v));
        assert_false(matches1("label=owner=web", v));

        const char *all[] = {"label=team=web", "label=empty"};
        struct vol_filter f;
        build(&f, all, 2);
        assert_true(vol_filter_match(&f, v));
        vol_filter_free(&f);
        const char *one_fails[] = {"label=team=web", "label=owner"};
        build(&f, one_fails, 2);
        assert_false(vol_filter_match(&f, v));
        vol_filter_free(&f);
        vol_volume_free(v);
}

static void test_match_dangling(void **state)
{
        struct vol_volume *v = make_volume("data", "local", NULL, NULL, NULL);
        assert_true(matches1("dangling=true", v));
        assert_false(matches1("dangling=false", v));
        assert_int_equal(vol_volume_add_mount(v, "admin", "c1", 1, "b", NULL), 0);
        assert_false(matches1("dangling=true", v));
        assert_true(matches1("dangling=false", v));
        assert_true(matches1("dangling=0", v));
        assert_int_equal(vol_volume_remove_mount(v, "admin", "c1"), 0);
        assert_true(matches1("dangling=1", v));
        vol_volume_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty),        cmocka_unit_test(test_parse_each_key),
            cmocka_unit_test(test_parse_values), cmocka_unit_test(test_bad_filters),
            cmocka_unit_test(test_filters_max),  cmocka_unit_test(test_match_driver_scope_name),
            cmocka_unit_test(test_match_labels), cmocka_unit_test(test_match_dangling),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
