/* core/conffile.h: volmand's configuration file format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/conffile.h"

static const char *const formats[] = {"text", "json", NULL};
static const struct vol_conf_key keys[] = {
    {"root", VOL_CONF_PATH, NULL},
    {"plugin-socket", VOL_CONF_PATH_OR_NONE, NULL},
    {"prefix", VOL_CONF_STRING, NULL},
    {"memory-max-total", VOL_CONF_SIZE, NULL},
    {"log-format", VOL_CONF_CHOICE, formats},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static struct vol_conf parse_ok(const char *text)
{
        struct vol_conf c = {0};
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_conf_parse(text, strlen(text), "t.conf", keys, N_KEYS, &c, &err) < 0)
                fail_msg("refused: %s\n---\n%s", vol_error_message(&err), text);
        return c;
}

/* A refusal: -EINVAL (or want), a message naming t.conf:LINE and holding part. */
static void expect_bad_len(const char *text, size_t len, int want, unsigned line, const char *part)
{
        struct vol_conf c = {(void *)1, 12345};
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_conf_parse(text, len, "t.conf", keys, N_KEYS, &c, &err);
        if (r != want)
                fail_msg("gave %d (%s), want %d for\n%s", r, vol_error_message(&err), want, text);
        assert_int_equal(c.n, 12345); /* untouched */
        char where[64];
        snprintf(where, sizeof(where), "t.conf:%u: ", line);
        if (line && strncmp(err.msg, where, strlen(where)) != 0)
                fail_msg("message \"%s\" does not start with \"%s\"", err.msg, where);
        if (!strstr(err.msg, part))
                fail_msg("message \"%s\" does not say \"%s\"", err.msg, part);
        vol_error_clear(&err);
}

static void expect_bad(const char *text, unsigned line, const char *part)
{
        expect_bad_len(text, strlen(text), -EINVAL, line, part);
}

static const char *value_of(const struct vol_conf *c, const char *key, unsigned *ret_line)
{
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(keys[c->entries[i].key].name, key) == 0) {
                        if (ret_line)
                                *ret_line = c->entries[i].line;
                        return c->entries[i].value;
                }
        return NULL;
}

static void test_every_form(void **state)
{
        struct vol_conf c = parse_ok("# volmand\n"
                                     "\n"
                                     "   # indented comment\n"
                                     "root = /var/lib/volman\n"
                                     "plugin-socket=none\n"
                                     "\tprefix   =   acme  corp   # the prefix\n"
                                     "memory-max-total = \"8g\"  # quoted\n"
                                     "log-format = json");
        assert_int_equal(c.n, 5);
        unsigned line = 0;
        assert_string_equal(value_of(&c, "root", &line), "/var/lib/volman");
        assert_int_equal(line, 4);
        assert_string_equal(value_of(&c, "plugin-socket", &line), "none");
        assert_int_equal(line, 5);
        assert_string_equal(value_of(&c, "prefix", NULL), "acme  corp");
        assert_string_equal(value_of(&c, "memory-max-total", NULL), "8g");
        assert_string_equal(value_of(&c, "log-format", &line), "json");
        assert_int_equal(line, 8);
        vol_conf_free(&c);
        assert_int_equal(c.n, 0);
}

static void test_quotes_and_hashes(void **state)
{
        struct vol_conf c = parse_ok("prefix = \"a # b \\\"q\\\" \\\\ \"\n"
                                     "root = /srv/vol#1\n");
        assert_string_equal(value_of(&c, "prefix", NULL), "a # b \"q\" \\ ");
        /* a # with no blank before it is part of the value */
        assert_string_equal(value_of(&c, "root", NULL), "/srv/vol#1");
        vol_conf_free(&c);
}

static void test_empty_files(void **state)
{
        struct vol_conf c = parse_ok("");
        assert_int_equal(c.n, 0);
        vol_conf_free(&c);
        c = parse_ok("# only comments\n\n   \n");
        assert_int_equal(c.n, 0);
        vol_conf_free(&c);
}

static void test_bad_lines(void **state)
{
        expect_bad("root = /a\nbogus = 1\n", 2, "unknown key bogus");
        expect_bad("root = /a\nbogus = 1\n", 2, "root, plugin-socket, prefix");
        expect_bad("\n\nroot /a\n", 3, "expected = after root");
        expect_bad("= x\n", 1, "expected KEY = VALUE");
        expect_bad("Root = /a\n", 1, "expected KEY = VALUE");
        expect_bad("root =\n", 1, "root has no value");
        expect_bad("root = # nothing\n", 1, "root has no value");
        expect_bad("prefix = \"\"\n", 1, "prefix has no value");
        expect_bad("root = /a\n# x\nroot = /b\n", 3, "root is set again (first on line 1)");
        expect_bad("prefix = \"abc\n", 1, "closing quote is missing");
        expect_bad("prefix = \"a\\nb\"\n", 1, "backslash");
        expect_bad("prefix = \"a\" b\n", 1, "text after the closing quote");
        expect_bad("root = /a\r\n", 1, "Unix line ends");
        expect_bad("prefix = a\x1b[31m\n", 1, "control character");
        expect_bad("prefix = caf\xe9\n", 1, "not UTF-8");
        expect_bad_len("prefix = a\0b\n", 13, -EINVAL, 1, "control character");
}

static void test_bad_values(void **state)
{
        expect_bad("root = var/lib/volman\n", 1, "root: give an absolute path");
        expect_bad("plugin-socket = off\n", 1, "plugin-socket: give an absolute path or none");
        expect_bad("memory-max-total = lots\n", 1, "memory-max-total");
        expect_bad("log-format = xml\n", 1, "log-format: give one of text, json, not xml");
}

static void test_limits(void **state)
{
        char *big = malloc(VOL_CONF_FILE_MAX + 2);
        memset(big, '#', VOL_CONF_FILE_MAX + 1);
        big[VOL_CONF_FILE_MAX + 1] = 0;
        expect_bad_len(big, VOL_CONF_FILE_MAX + 1, -EFBIG, 0, "at most");
        /* a long comment line is still a line too long */
        memset(big, 'a', VOL_CONF_LINE_MAX + 20);
        memcpy(big, "prefix = ", 9);
        big[VOL_CONF_LINE_MAX + 20] = 0;
        expect_bad(big, 1, "longer than");
        free(big);
}

static void test_check_value(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_conf_check_value(&keys[0], "/x", &err), 0);
        assert_int_equal(vol_conf_check_value(&keys[0], "x", &err), -EINVAL);
        assert_non_null(strstr(err.msg, "root"));
        vol_error_clear(&err);
        assert_int_equal(vol_conf_check_value(&keys[3], "64m", &err), 0);
        assert_int_equal(vol_conf_check_value(&keys[4], "text", &err), 0);
        assert_ptr_equal(vol_conf_key_find(keys, N_KEYS, "prefix"), &keys[2]);
        assert_null(vol_conf_key_find(keys, N_KEYS, "prefi"));
}

/* What vol_conf_quote writes reads back as the same value. */
static void test_quote_round_trip(void **state)
{
        static const char *const values[] = {"/var/lib/volman", "a b", " lead", "trail ", "x # y",
                                             "\"q\"", "back\\slash", "x#y", "tab\there"};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                char *q = vol_conf_quote(values[i]);
                assert_non_null(q);
                char line[256];
                snprintf(line, sizeof(line), "prefix = %s  # a comment\n", q);
                struct vol_conf c = parse_ok(line);
                assert_string_equal(value_of(&c, "prefix", NULL), values[i]);
                vol_conf_free(&c);
                free(q);
        }
        char *plain = vol_conf_quote("/var/lib/volman");
        assert_string_equal(plain, "/var/lib/volman");
        free(plain);
        assert_null(vol_conf_quote("new\nline"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_form),       cmocka_unit_test(test_quotes_and_hashes),
            cmocka_unit_test(test_empty_files),      cmocka_unit_test(test_bad_lines),
            cmocka_unit_test(test_bad_values),       cmocka_unit_test(test_limits),
            cmocka_unit_test(test_check_value),      cmocka_unit_test(test_quote_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
