/* core/size.h: sizes as people write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/cleanup.h"
#include "core/size.h"

static void expect_size(const char *text, uint64_t want)
{
        uint64_t got = 0;
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_parse_size("size", text, &got, &err) < 0)
                fail_msg("\"%s\" refused: %s", text, vol_error_message(&err));
        if (got != want)
                fail_msg("\"%s\" gave %llu, want %llu", text, (unsigned long long)got,
                         (unsigned long long)want);
}

static void expect_bad(const char *text)
{
        uint64_t got = 12345;
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_parse_size("size", text, &got, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_non_null(err.msg);
        assert_non_null(strstr(err.msg, "size"));
        assert_int_equal(got, 12345); /* untouched on failure */
        vol_error_clear(&err);
}

static void test_plain_bytes(void **state)
{
        expect_size("1", 1);
        expect_size("4096", 4096);
        expect_size("4096b", 4096);
        expect_size("4096B", 4096);
        expect_size("007", 7);
}

static void test_suffixes(void **state)
{
        expect_size("64m", UINT64_C(64) << 20);
        expect_size("64M", UINT64_C(64) << 20);
        expect_size("1G", UINT64_C(1) << 30);
        expect_size("1g", UINT64_C(1) << 30);
        expect_size("512k", UINT64_C(512) << 10);
        expect_size("512K", UINT64_C(512) << 10);
        expect_size("2t", UINT64_C(2) << 40);
        expect_size("10MiB", UINT64_C(10) << 20);
        expect_size("10Mi", UINT64_C(10) << 20);
        expect_size("10mb", UINT64_C(10) << 20);
        expect_size("10MB", UINT64_C(10) << 20);
        expect_size("3KiB", UINT64_C(3) << 10);
        expect_size("1GiB", UINT64_C(1) << 30);
}

static void test_limits(void **state)
{
        expect_size("1125899906842624", UINT64_C(1) << 50); /* 2^50 */
        expect_size("1024T", UINT64_C(1) << 50);
        expect_size("1048576G", UINT64_C(1) << 50);
        expect_bad("1125899906842625"); /* 2^50 + 1 */
        expect_bad("1025T");
        expect_bad("1048577G");
        expect_bad("18446744073709551615"); /* 2^64 - 1 */
        expect_bad("18446744073709551616"); /* 2^64 */
        expect_bad("99999999999999999999999999999999999999k");
        expect_bad("17179869184G"); /* (2^64) >> 30: wraps if shifted blindly */
}

static void test_malformed(void **state)
{
        expect_bad("0");
        expect_bad("0k");
        expect_bad("00");
        expect_bad("");
        expect_bad("-1");
        expect_bad("+1");
        expect_bad("12x");
        expect_bad("k");
        expect_bad("m1");
        expect_bad(" 1");
        expect_bad("1 ");
        expect_bad("1 k");
        expect_bad("1.5G");
        expect_bad("1kk");
        expect_bad("1ib");
        expect_bad("1i");
        expect_bad("1kbb");
        expect_bad("1kiib");
        expect_bad("0x10");
        expect_bad("1e3");
}

static void test_message_names_what(void **state)
{
        uint64_t got;
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_parse_size("option size", "lots", &got, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "option size"));
        assert_non_null(strstr(err.msg, "\"lots\""));
        vol_error_clear(&err);
        assert_int_equal(vol_parse_size("size", "12x", &got, NULL), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_plain_bytes),
            cmocka_unit_test(test_suffixes),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_malformed),
            cmocka_unit_test(test_message_names_what),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
