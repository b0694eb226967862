/* core/kv.h: the sorted string map behind labels and options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/kv.h"

static void assert_sorted_unique(const struct vol_kvs *m)
{
        for (size_t i = 1; i < m->n; i++)
                if (strcmp(m->items[i - 1].key, m->items[i].key) >= 0)
                        fail_msg("keys out of order at %zu: %s, %s", i, m->items[i - 1].key,
                                 m->items[i].key);
}

static void test_set_get(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        assert_null(vol_kvs_get(&m, "a"));
        vol_kvs_set(&m, "team", "web");
        vol_kvs_set(&m, "app", "orders");
        vol_kvs_set(&m, "zone", "eu");
        vol_kvs_set(&m, "b", "");
        assert_int_equal(m.n, 4);
        assert_sorted_unique(&m);
        assert_string_equal(m.items[0].key, "app");
        assert_string_equal(m.items[3].key, "zone");
        assert_string_equal(vol_kvs_get(&m, "team"), "web");
        assert_string_equal(vol_kvs_get(&m, "app"), "orders");
        assert_string_equal(vol_kvs_get(&m, "b"), "");
        assert_null(vol_kvs_get(&m, "tea"));
        assert_null(vol_kvs_get(&m, "teams"));
        assert_null(vol_kvs_get(&m, ""));

        /* Replacing keeps one entry. */
        vol_kvs_set(&m, "team", "payments");
        assert_int_equal(m.n, 4);
        assert_string_equal(vol_kvs_get(&m, "team"), "payments");

        /* Both are copied. */
        char key[] = "mutable", value[] = "v1";
        vol_kvs_set(&m, key, value);
        key[0] = 'X';
        value[1] = '9';
        assert_string_equal(vol_kvs_get(&m, "mutable"), "v1");
        vol_kvs_free(&m);
        assert_int_equal(m.n, 0);
        assert_null(m.items);
        vol_kvs_free(&m);
        vol_kvs_free(NULL);
}

static void test_many_random(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        srand(7);
        char seen[1000] = {0};
        for (int i = 0; i < 5000; i++) {
                int k = rand() % 1000;
                char key[16], value[16];
                snprintf(key, sizeof(key), "k%d", k);
                snprintf(value, sizeof(value), "v%d", i);
                vol_kvs_set(&m, key, value);
                seen[k] = 1;
                assert_string_equal(vol_kvs_get(&m, key), value);
        }
        size_t distinct = 0;
        for (int k = 0; k < 1000; k++) {
                char key[16];
                snprintf(key, sizeof(key), "k%d", k);
                distinct += seen[k];
                assert_true((vol_kvs_get(&m, key) != NULL) == seen[k]);
        }
        assert_int_equal(m.n, distinct);
        assert_sorted_unique(&m);
        vol_kvs_free(&m);
}

static void test_equal_copy(void **state)
{
        struct vol_kvs a = VOL_KVS_INIT, b = VOL_KVS_INIT, c = VOL_KVS_INIT;
        assert_true(vol_kvs_equal(&a, &b));
        vol_kvs_set(&a, "x", "1");
        vol_kvs_set(&a, "y", "2");
        assert_false(vol_kvs_equal(&a, &b));
        vol_kvs_set(&b, "y", "2"); /* other insertion order, same map */
        vol_kvs_set(&b, "x", "1");
        assert_true(vol_kvs_equal(&a, &b));
        vol_kvs_set(&b, "x", "10");
        assert_false(vol_kvs_equal(&a, &b));
        vol_kvs_set(&b, "x", "1");
        vol_kvs_set(&b, "z", "");
        assert_false(vol_kvs_equal(&a, &b));
        assert_false(vol_kvs_equal(&b, &a));

        vol_kvs_copy(&c, &a);
        assert_true(vol_kvs_equal(&a, &c));
        assert_ptr_not_equal(c.items, a.items);
        assert_ptr_not_equal(c.items[0].key, a.items[0].key);
        vol_kvs_set(&c, "x", "changed");
        assert_string_equal(vol_kvs_get(&a, "x"), "1");
        vol_kvs_free(&c);

        struct vol_kvs empty = VOL_KVS_INIT;
        vol_kvs_copy(&c, &empty);
        assert_int_equal(c.n, 0);
        assert_null(c.items);
        vol_kvs_free(&a);
        vol_kvs_free(&b);
}

static void test_set_pair(void **state)
{
        struct vol_kvs m = VOL_KVS_INIT;
        assert_int_equal(vol_kvs_set_pair(&m, "team=web"), 0);
        assert_int_equal(vol_kvs_set_pair(&m, "flag"), 0);
        assert_int_equal(vol_kvs_set_pair(&m, "expr=a=b"), 0);
        assert_int_equal(vol_kvs_set_pair(&m, "empty="), 0);
        assert_string_equal(vol_kvs_get(&m, "team"), "web");
        assert_string_equal(vol_kvs_get(&m, "flag"), "");
        assert_string_equal(vol_kvs_get(&m, "expr"), "a=b");
        assert_string_equal(vol_kvs_get(&m, "empty"), "");
        assert_int_equal(vol_kvs_set_pair(&m, "team=payments"), 0);
        assert_string_equal(vol_kvs_get(&m, "team"), "payments");
        assert_int_equal(m.n, 4);

        assert_int_equal(vol_kvs_set_pair(&m, ""), -EINVAL);
        assert_int_equal(vol_kvs_set_pair(&m, "=v"), -EINVAL);
        assert_int_equal(vol_kvs_set_pair(&m, "="), -EINVAL);
        assert_int_equal(m.n, 4);
        vol_kvs_free(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set_get),
            cmocka_unit_test(test_many_random),
            cmocka_unit_test(test_equal_copy),
            cmocka_unit_test(test_set_pair),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
