/* core/error.h: errors as values, their messages, API codes and HTTP statuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static void test_set_clear(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_string_equal(vol_error_message(&err), "unknown error");
        assert_string_equal(vol_error_message(NULL), "unknown error");
        assert_int_equal(vol_error_set(&err, -EINVAL, "bad %s %d", "thing", 7), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_string_equal(err.msg, "bad thing 7");
        assert_string_equal(vol_error_message(&err), "bad thing 7");
        /* A second set replaces the first (and frees it: ASan checks). */
        assert_int_equal(vol_error_set(&err, -ENOENT, "gone"), -ENOENT);
        assert_int_equal(err.code, -ENOENT);
        assert_string_equal(err.msg, "gone");
        vol_error_clear(&err);
        assert_int_equal(err.code, 0);
        assert_null(err.msg);
        vol_error_clear(&err);
        vol_error_clear(NULL);
        /* A NULL err still gives the code back. */
        assert_int_equal(vol_error_set(NULL, -EBUSY, "x"), -EBUSY);
}

static void test_wrap(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        vol_error_set(&err, -EEXIST, "volume exists");
        assert_int_equal(vol_error_wrap(&err, "creating volume %s: ", "data"), -EEXIST);
        assert_string_equal(err.msg, "creating volume data: volume exists");
        assert_int_equal(err.code, -EEXIST);
        vol_error_clear(&err);

        /* No message: the errno text is used. */
        err.code = -ENOENT;
        assert_int_equal(vol_error_wrap(&err, "opening %s: ", "x"), -ENOENT);
        assert_string_equal(err.msg, "opening x: No such file or directory");
        vol_error_clear(&err);
        err.code = -EACCES;
        assert_string_equal(vol_error_message(&err), "Permission denied");

        /* No code: the wrap still returns a negative errno. */
        vol_error_clear(&err);
        assert_true(vol_error_wrap(&err, "ctx: ") < 0);
        assert_true(err.code < 0);
        vol_error_clear(&err);
        assert_true(vol_error_wrap(NULL, "ctx") < 0);
}

static void test_code_names(void **state)
{
        assert_string_equal(vol_error_code_name(-EINVAL), "invalid_argument");
        assert_string_equal(vol_error_code_name(-ENAMETOOLONG), "invalid_argument");
        assert_string_equal(vol_error_code_name(-ENOENT), "not_found");
        assert_string_equal(vol_error_code_name(-EEXIST), "conflict");
        assert_string_equal(vol_error_code_name(-ESTALE), "conflict");
        assert_string_equal(vol_error_code_name(-EBUSY), "in_use");
        assert_string_equal(vol_error_code_name(-E2BIG), "too_large");
        assert_string_equal(vol_error_code_name(-EMSGSIZE), "too_large");
        assert_string_equal(vol_error_code_name(-ENOTSUP), "not_supported");
        assert_string_equal(vol_error_code_name(-EAGAIN), "unavailable");
        assert_string_equal(vol_error_code_name(-EIO), "internal");
        assert_string_equal(vol_error_code_name(0), "internal");
}

static void test_http_status(void **state)
{
        assert_int_equal(vol_error_http_status(-EINVAL), 400);
        assert_int_equal(vol_error_http_status(-ENAMETOOLONG), 400);
        assert_int_equal(vol_error_http_status(-ENOTSUP), 400);
        assert_int_equal(vol_error_http_status(-ENOENT), 404);
        assert_int_equal(vol_error_http_status(-EEXIST), 409);
        assert_int_equal(vol_error_http_status(-ESTALE), 409);
        assert_int_equal(vol_error_http_status(-EBUSY), 409);
        assert_int_equal(vol_error_http_status(-E2BIG), 413);
        assert_int_equal(vol_error_http_status(-EMSGSIZE), 413);
        assert_int_equal(vol_error_http_status(-EAGAIN), 503);
        assert_int_equal(vol_error_http_status(-ECONNREFUSED), 503); /* the engine */
        assert_int_equal(vol_error_http_status(-EIO), 500);
        assert_int_equal(vol_error_http_status(-ENOMEM), 500);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_set_clear),
            cmocka_unit_test(test_wrap),
            cmocka_unit_test(test_code_names),
            cmocka_unit_test(test_http_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
