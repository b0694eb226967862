/* core/token.h: the token's text form, its stored hash, constant-time
 * comparison; core/caller.h: what an identity makes of a caller. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/caller.h"
#include "core/token.h"

static void test_format_parse(void **state)
{
        const uint8_t id[6] = {0x3f, 0x2a, 0x9c, 0x01, 0xb7, 0xde};
        uint8_t secret[32];
        for (int i = 0; i < 32; i++)
                secret[i] = (uint8_t)(i * 7 + 1);
        char tok[VOL_TOKEN_LEN + 1];
        vol_token_format(id, secret, tok);
        assert_int_equal(strlen(tok), VOL_TOKEN_LEN);
        assert_memory_equal(tok, "vmt_3f2a9c01b7de_", 17);
        char pid[VOL_TOKEN_ID_LEN + 1], psec[VOL_TOKEN_SECRET_LEN + 1];
        assert_int_equal(vol_token_parse(tok, pid, psec), 0);
        assert_string_equal(pid, "3f2a9c01b7de");
        assert_string_equal(psec, tok + 17);
        assert_true(vol_token_id_valid(pid));
}

static void test_parse_refuses(void **state)
{
        char pid[VOL_TOKEN_ID_LEN + 1], psec[VOL_TOKEN_SECRET_LEN + 1];
        char good[VOL_TOKEN_LEN + 1];
        memcpy(good, "vmt_3f2a9c01b7de_", 17);
        memset(good + 17, 'a', 64);
        good[VOL_TOKEN_LEN] = 0;
        assert_int_equal(vol_token_parse(good, pid, psec), 0);
        char bad[VOL_TOKEN_LEN + 2];
        const size_t at[] = {0, 3, 4, 16, 17, 80};
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
                strcpy(bad, good);
                bad[at[i]] = 'G'; /* not hex, not the prefix, not the separator */
                assert_int_equal(vol_token_parse(bad, pid, psec), -EINVAL);
        }
        strcpy(bad, good);
        bad[17] = 'A'; /* upper-case hex is not the form */
        assert_int_equal(vol_token_parse(bad, pid, psec), -EINVAL);
        strcpy(bad, good);
        strcat(bad, "a"); /* too long */
        assert_int_equal(vol_token_parse(bad, pid, psec), -EINVAL);
        bad[VOL_TOKEN_LEN - 1] = 0; /* too short */
        assert_int_equal(vol_token_parse(bad, pid, psec), -EINVAL);
        assert_int_equal(vol_token_parse("", pid, psec), -EINVAL);
        assert_int_equal(vol_token_parse(NULL, pid, psec), -EINVAL);
        assert_false(vol_token_id_valid("3f2a9c01b7d"));
        assert_false(vol_token_id_valid("3f2a9c01b7de0"));
        assert_false(vol_token_id_valid("../../etc/pa"));
        assert_false(vol_token_id_valid(NULL));
}

static void test_hash(void **state)
{
        char h[VOL_TOKEN_HASH_LEN + 1];
        vol_token_hash("abc", h); /* FIPS 180-4's example */
        assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_equal(void **state)
{
        assert_true(vol_token_equal("abcdef", "abcdef", 6));
        assert_false(vol_token_equal("abcdef", "abcdeF", 6));
        assert_false(vol_token_equal("Xbcdef", "abcdef", 6));
        assert_true(vol_token_equal("abcX", "abcY", 3));
}

static void test_names(void **state)
{
        assert_true(vol_token_name_valid("ci"));
        assert_true(vol_token_name_valid("deploy-bot_2.x"));
        assert_false(vol_token_name_valid(""));
        assert_false(vol_token_name_valid("a b"));
        assert_false(vol_token_name_valid("x\n"));
        char longname[VOL_TOKEN_NAME_MAX + 2];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        assert_false(vol_token_name_valid(longname));
        longname[VOL_TOKEN_NAME_MAX] = 0;
        assert_true(vol_token_name_valid(longname));
}

static void test_identity(void **state)
{
        struct vol_identity nobody = {0};
        struct vol_caller c = vol_identity_caller(&nobody);
        assert_int_equal(c.face, VOL_FACE_TENANT); /* zeroed: sees nothing */
        assert_string_equal(c.tenant, "");
        assert_false(vol_caller_is_admin(&c));
        struct vol_identity t = {.known = true, .face = VOL_FACE_TENANT, .tenant = "acme", .who = "token ci"};
        c = vol_identity_caller(&t);
        assert_int_equal(c.face, VOL_FACE_TENANT);
        assert_string_equal(c.tenant, "acme");
        assert_string_equal(c.who, "token ci");
        struct vol_identity a = {.known = true, .face = VOL_FACE_ADMIN};
        c = vol_identity_caller(&a);
        assert_true(vol_caller_is_admin(&c));
        assert_null(c.tenant);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_parse), cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_hash),         cmocka_unit_test(test_equal),
                cmocka_unit_test(test_names),        cmocka_unit_test(test_identity),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
