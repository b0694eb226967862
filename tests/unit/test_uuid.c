/* core/uuid.h: random ids have the RFC 4122 version 4 form, are lower case,
 * and do not repeat. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/uuid.h"

static int cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static void test_form(void **state)
{
        (void)state;
        for (int i = 0; i < 1000; i++) {
                char id[VOL_UUID_LEN + 1];
                memset(id, 'Z', sizeof(id));
                vol_uuid_random(id);
                assert_int_equal(strlen(id), VOL_UUID_LEN);
                for (int k = 0; k < VOL_UUID_LEN; k++) {
                        if (k == 8 || k == 13 || k == 18 || k == 23)
                                assert_int_equal(id[k], '-');
                        else
                                assert_non_null(strchr("0123456789abcdef", id[k]));
                }
                assert_int_equal(id[14], '4');                /* version 4 */
                assert_non_null(strchr("89ab", id[19]));      /* the RFC 4122 variant */
        }
}

static void test_no_repeats_and_every_digit_moves(void **state)
{
        (void)state;
        enum { N = 20000 };
        char(*ids)[VOL_UUID_LEN + 1] = calloc(N, sizeof(*ids));
        assert_non_null(ids);
        for (int i = 0; i < N; i++)
                vol_uuid_random(ids[i]);
        /* each random hex position takes more than one value across the run */
        for (int k = 0; k < VOL_UUID_LEN; k++) {
                if (k == 8 || k == 13 || k == 14 || k == 18 || k == 23)
                        continue;
                bool varied = false;
                for (int i = 1; i < N && !varied; i++)
                        varied = ids[i][k] != ids[0][k];
                assert_true(varied);
        }
        qsort(ids, N, sizeof(*ids), cmp);
        for (int i = 1; i < N; i++)
                assert_int_not_equal(strcmp(ids[i - 1], ids[i]), 0);
        free(ids);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_form),
            cmocka_unit_test(test_no_repeats_and_every_digit_moves),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
