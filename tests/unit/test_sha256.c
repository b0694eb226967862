/* SHA-256 against the FIPS 180-4 / NIST example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/sha256.h"

static void to_hex(const uint8_t d[32], char out[65])
{
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const void *data, size_t n, const char *want)
{
        struct vol_sha256 s;
        uint8_t d[32];
        char hex[65];
        vol_sha256_init(&s);
        vol_sha256_update(&s, data, n);
        vol_sha256_final(&s, d);
        to_hex(d, hex);
        assert_string_equal(hex, want);
}

/* Same message fed in pieces of every size from 1 to 130 bytes. */
static void check_chunked(const char *msg, const char *want)
{
        size_t n = strlen(msg);
        for (size_t step = 1; step <= 130; step++) {
                struct vol_sha256 s;
                uint8_t d[32];
                char hex[65];
                vol_sha256_init(&s);
                for (size_t at = 0; at < n; at += step)
                        vol_sha256_update(&s, msg + at, n - at < step ? n - at : step);
                vol_sha256_final(&s, d);
                to_hex(d, hex);
                assert_string_equal(hex, want);
        }
}

static void test_empty(void **state)
{
        check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state)
{
        check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_448_bits(void **state)
{
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        const char *want = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        check(m, strlen(m), want);
        check_chunked(m, want);
}

static void test_896_bits(void **state)
{
        const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                        "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
        const char *want = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
        check(m, strlen(m), want);
        check_chunked(m, want);
}

static void test_million_a(void **state)
{
        char block[1000];
        memset(block, 'a', sizeof(block));
        struct vol_sha256 s;
        uint8_t d[32];
        char hex[65];
        vol_sha256_init(&s);
        for (int i = 0; i < 1000; i++)
                vol_sha256_update(&s, block, sizeof(block));
        vol_sha256_final(&s, d);
        to_hex(d, hex);
        assert_string_equal(hex,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary (55, 56, 63, 64 bytes of 'a'). */
static void test_padding_boundaries(void **state)
{
        char m[65];
        memset(m, 'a', sizeof(m));
        check(m, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
        check(m, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
        check(m, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
        check(m, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty),     cmocka_unit_test(test_abc),
            cmocka_unit_test(test_448_bits),  cmocka_unit_test(test_896_bits),
            cmocka_unit_test(test_million_a), cmocka_unit_test(test_padding_boundaries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
