/* core/envfile.h: ENV files, parsed and never run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/envfile.h"

#define MAX_SEEN 16

/* What one parse reported. */
struct seen {
        size_t n;
        char *keys[MAX_SEEN];
        char *values[MAX_SEEN];
        size_t lens[MAX_SEEN];
        size_t n_bad;
        unsigned bad_lines[MAX_SEEN];
        char *reasons[MAX_SEEN];
        int stop_after; /* > 0: the entry callback fails after this many */
};

static int on_entry(const char *key, const char *value, size_t len, void *userdata)
{
        struct seen *s = userdata;
        assert_int_equal(strlen(value), len);
        if (s->stop_after && (int)s->n == s->stop_after)
                return -ECANCELED;
        assert_true(s->n < MAX_SEEN);
        s->keys[s->n] = strdup(key);
        s->values[s->n] = malloc(len + 1);
        memcpy(s->values[s->n], value, len + 1);
        s->lens[s->n++] = len;
        return 0;
}

static void on_bad(unsigned line, const char *reason, void *userdata)
{
        struct seen *s = userdata;
        assert_true(s->n_bad < MAX_SEEN);
        s->bad_lines[s->n_bad] = line;
        s->reasons[s->n_bad++] = strdup(reason);
}

static void seen_free(struct seen *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->keys[i]);
                free(s->values[i]);
        }
        for (size_t i = 0; i < s->n_bad; i++)
                free(s->reasons[i]);
        memset(s, 0, sizeof(*s));
}

static int parse_len(const char *text, size_t len, struct seen *s)
{
        memset(s, 0, sizeof(*s));
        int r = vol_envfile_parse(text, len, on_entry, on_bad, s);
        if (r >= 0)
                assert_int_equal(r, s->n);
        return r;
}

static int parse(const char *text, struct seen *s)
{
        return parse_len(text, strlen(text), s);
}

/* text holds exactly one good entry, key=value, and no bad line. */
static void expect_one(const char *text, const char *key, const char *value)
{
        struct seen s;
        int r = parse(text, &s);
        if (r != 1 || s.n_bad != 0)
                fail_msg("gave %d entries, %zu bad (%s) for [%s]", r, s.n_bad,
                         s.n_bad ? s.reasons[0] : "", text);
        assert_string_equal(s.keys[0], key);
        assert_string_equal(s.values[0], value);
        seen_free(&s);
}

/* text holds one bad line, number line, whose reason says part; no entry. */
static void expect_bad_len(const char *text, size_t len, unsigned line, const char *part)
{
        struct seen s;
        int r = parse_len(text, len, &s);
        if (r != 0 || s.n_bad != 1)
                fail_msg("gave %d entries, %zu bad for [%s]", r, s.n_bad, text);
        assert_int_equal(s.bad_lines[0], line);
        if (!strstr(s.reasons[0], part))
                fail_msg("reason \"%s\" does not say \"%s\" for [%s]", s.reasons[0], part, text);
        seen_free(&s);
}

static void expect_bad(const char *text, const char *part)
{
        expect_bad_len(text, strlen(text), 1, part);
}

static void test_every_form(void **state)
{
        struct seen s;
        const char *text = "# the app's ENV\n"
                           "\n"
                           "   \t\n"
                           "  # indented comment\n"
                           "PLAIN=value\n"
                           "   LEADING=blanks before the key\n"
                           "export EXPORTED=1\n"
                           "export\t  TABBED=2\n"
                           "EMPTY=\n"
                           "_under_score9=x\n"
                           "DQ=\"double\"\n"
                           "SQ='single'\n"
                           "PLAIN=again\n"
                           "LAST=no newline";
        assert_int_equal(parse(text, &s), 10);
        assert_int_equal(s.n_bad, 0);
        const char *want[][2] = {
            {"PLAIN", "value"}, {"LEADING", "blanks before the key"},
            {"EXPORTED", "1"},  {"TABBED", "2"},
            {"EMPTY", ""},      {"_under_score9", "x"},
            {"DQ", "double"},   {"SQ", "single"},
            {"PLAIN", "again"}, {"LAST", "no newline"},
        };
        for (size_t i = 0; i < 10; i++) {
                assert_string_equal(s.keys[i], want[i][0]);
                assert_string_equal(s.values[i], want[i][1]);
        }
        seen_free(&s);

        /* A key named export, and keys starting with it. */
        expect_one("export=1\n", "export", "1");
        expect_one("exported=1\n", "exported", "1");
        expect_one("export exportX=1\n", "exportX", "1");
        /* Nothing at all. */
        assert_int_equal(parse("", &s), 0);
        assert_int_equal(s.n_bad, 0);
        assert_int_equal(parse("\n\n# only\n   \n", &s), 0);
        assert_int_equal(s.n_bad, 0);
        /* Both callbacks may be left out: the count remains. */
        assert_int_equal(vol_envfile_parse("A=1\nbad\nB=2", 11, NULL, NULL, NULL), 2);
}

/* A raw value is the rest of the line, as is. */
static void test_raw_values(void **state)
{
        expect_one("A=a # not a comment\n", "A", "a # not a comment");
        expect_one("A= leading blank\n", "A", " leading blank");
        expect_one("A=trailing   \n", "A", "trailing   ");
        expect_one("A=it's\n", "A", "it's");
        expect_one("A=x\"y\"\n", "A", "x\"y\"");
        expect_one("A=a=b=c\n", "A", "a=b=c");
        expect_one("A=back\\slash\\n\n", "A", "back\\slash\\n");
        expect_one("A=\tx\n", "A", "\tx");
        expect_one("A=\xc3\xa9t\xc3\xa9\n", "A", "\xc3\xa9t\xc3\xa9");
}

static void test_double_quotes(void **state)
{
        expect_one("A=\"a b  c\"\n", "A", "a b  c");
        expect_one("A=\"q\\\"q\"\n", "A", "q\"q");
        expect_one("A=\"b\\\\s\"\n", "A", "b\\s");
        expect_one("A=\"l1\\nl2\"\n", "A", "l1\nl2");
        expect_one("A=\"t\\tt\"\n", "A", "t\tt");
        expect_one("A=\"\\$HOME\"\n", "A", "$HOME");
        expect_one("A=\"$HOME\"\n", "A", "$HOME");
        expect_one("A=\"it's\"\n", "A", "it's");
        expect_one("A=\"# in quotes\"\n", "A", "# in quotes");
        expect_one("A=\"\"\n", "A", "");
        expect_one("A=\"x\"   \t\n", "A", "x");
        expect_one("A=\"x\"  # a comment\n", "A", "x");
        expect_one("A=\"x\"# a comment\n", "A", "x");
}

static void test_single_quotes(void **state)
{
        expect_one("A='a \\n \\\" $B'\n", "A", "a \\n \\\" $B");
        expect_one("A='say \"hi\"'\n", "A", "say \"hi\"");
        expect_one("A=''\n", "A", "");
        expect_one("A='x'  # c\n", "A", "x");
}

/* Shell syntax is text: nothing expands, nothing runs. */
static void test_hostile_text_stays_literal(void **state)
{
        expect_one("A=$(rm -rf /)\n", "A", "$(rm -rf /)");
        expect_one("A=\"$(rm -rf /)\"\n", "A", "$(rm -rf /)");
        expect_one("A='$(rm -rf /)'\n", "A", "$(rm -rf /)");
        expect_one("A=`id`\n", "A", "`id`");
        expect_one("A=\"`id`\"\n", "A", "`id`");
        expect_one("A=${HOME:-x}\n", "A", "${HOME:-x}");
        expect_one("A=1; rm -rf /\n", "A", "1; rm -rf /");
        expect_one("A=x | sh\n", "A", "x | sh");
        expect_one("A=x && reboot\n", "A", "x && reboot");
        expect_one("A=~\n", "A", "~");
        expect_one("A=*\n", "A", "*");
}

static void test_bad_keys(void **state)
{
        expect_bad("1A=x\n", "digit");
        expect_bad("A-B=x\n", "character other than");
        expect_bad("A.B=x\n", "character other than");
        expect_bad("\xc3\xa9=x\n", "character other than");
        expect_bad("=x\n", "no key");
        expect_bad("KEY = v\n", "blanks between the key and =");
        expect_bad("KEY =v\n", "blanks between the key and =");
        expect_bad("KEY\t=v\n", "blanks between the key and =");
        expect_bad("KEY\n", "no = after the key");
        expect_bad("export KEY\n", "no = after the key");
        expect_bad("export \n", "no key after export");
        expect_bad("\"A\"=x\n", "character other than");
        expect_bad("A B=x\n", "a blank in the key");
        expect_bad("A B\n", "no = after the key");
        expect_bad("A-B\n", "no = after the key");

        char line[VOL_ENVFILE_KEY_MAX + 16];
        memset(line, 'K', VOL_ENVFILE_KEY_MAX);
        strcpy(line + VOL_ENVFILE_KEY_MAX, "=ok\n");
        struct seen s;
        assert_int_equal(parse(line, &s), 1);
        assert_int_equal(strlen(s.keys[0]), VOL_ENVFILE_KEY_MAX);
        seen_free(&s);
        memset(line, 'K', VOL_ENVFILE_KEY_MAX + 1);
        strcpy(line + VOL_ENVFILE_KEY_MAX + 1, "=no\n");
        expect_bad(line, "key longer than 256 bytes");
}

static void test_bad_values(void **state)
{
        expect_bad("A=\"open\n", "unterminated double quote");
        expect_bad("A=\"open\\\"\n", "unterminated double quote");
        expect_bad("A=\"ends in a backslash\\\n", "unterminated double quote");
        expect_bad("A='open\n", "unterminated single quote");
        expect_bad("A=\"\\q\"\n", "unknown escape");
        expect_bad("A=\"\\x41\"\n", "unknown escape");
        expect_bad("A=\"\\'\"\n", "unknown escape");
        expect_bad("A=\"x\"y\n", "text after the closing quote");
        expect_bad("A=\"x\" y\n", "text after the closing quote");
        expect_bad("A='x''y'\n", "text after the closing quote");
        /* Quotes do not span lines: both lines are bad, the next one counts. */
        struct seen s;
        assert_int_equal(parse("A=\"one\ntwo\"\nB=3\n", &s), 1);
        assert_int_equal(s.n_bad, 2);
        assert_int_equal(s.bad_lines[0], 1);
        assert_int_equal(s.bad_lines[1], 2);
        assert_string_equal(s.keys[0], "B");
        seen_free(&s);
}

/* A reason names the line, and the key only once it is known to be one;
 * never the value, never the text of a line that has no key. */
static void test_reasons_never_quote_values(void **state)
{
        static const char *const lines[] = {
            "PASSWORD=\"hunter2secret\n",
            "PASSWORD='hunter2secret\n",
            "PASSWORD=\"hunter2secret\\q\"\n",
            "PASSWORD=\"x\"hunter2secret\n",
            "hunter2secret\n",
            "hunter2secret = x\n",
            "hunter2-secret=x\n",
            "export hunter2secret\n",
            "9hunter2secret=x\n",
        };
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                struct seen s;
                assert_int_equal(parse(lines[i], &s), 0);
                assert_int_equal(s.n_bad, 1);
                if (strstr(s.reasons[0], "hunter2"))
                        fail_msg("reason \"%s\" quotes the line [%s]", s.reasons[0], lines[i]);
                if (strncmp(lines[i], "PASSWORD", 8) == 0 &&
                    !strstr(s.reasons[0], "key \"PASSWORD\""))
                        fail_msg("reason \"%s\" does not name the key", s.reasons[0]);
                seen_free(&s);
        }
        /* Nor the key of a line before. */
        struct seen s;
        assert_int_equal(parse("GOOD=1\nhunter2secret\n", &s), 1);
        assert_int_equal(s.n_bad, 1);
        assert_null(strstr(s.reasons[0], "key \""));
        seen_free(&s);
}

static void test_nul_bytes(void **state)
{
        static const char raw[] = "A=x\0y\nB=2\n";
        struct seen s;
        assert_int_equal(parse_len(raw, sizeof(raw) - 1, &s), 1);
        assert_int_equal(s.n_bad, 1);
        assert_int_equal(s.bad_lines[0], 1);
        assert_non_null(strstr(s.reasons[0], "NUL"));
        assert_non_null(strstr(s.reasons[0], "key \"A\""));
        assert_string_equal(s.keys[0], "B");
        seen_free(&s);

        static const char dq[] = "A=\"x\0y\"\n";
        expect_bad_len(dq, sizeof(dq) - 1, 1, "NUL");
        static const char sq[] = "A='x\0y'\n";
        expect_bad_len(sq, sizeof(sq) - 1, 1, "NUL");
        static const char key[] = "A\0B=x\n";
        expect_bad_len(key, sizeof(key) - 1, 1, "character other than");
        static const char lead[] = "\0A=x\n";
        expect_bad_len(lead, sizeof(lead) - 1, 1, "character other than");
        /* In a comment, or after a closing quote's comment, it is nobody's. */
        static const char comment[] = "# a\0b\nA=\"v\" # c\0d\n";
        assert_int_equal(parse_len(comment, sizeof(comment) - 1, &s), 1);
        assert_int_equal(s.n_bad, 0);
        assert_string_equal(s.values[0], "v");
        seen_free(&s);
}

static void test_crlf(void **state)
{
        struct seen s;
        assert_int_equal(parse("A=1\r\nB=\"2\"\r\nC='3'  \r\n# c\r\n\r\nD=4\r", &s), 4);
        assert_int_equal(s.n_bad, 0);
        assert_string_equal(s.values[0], "1");
        assert_string_equal(s.values[1], "2");
        assert_string_equal(s.values[2], "3");
        assert_string_equal(s.values[3], "4");
        seen_free(&s);
        /* One \r goes, not two; a \r inside a line stays. */
        expect_one("A=1\r\r\n", "A", "1\r");
        expect_one("A=x\ry\r\n", "A", "x\ry");
        /* A bad line's number counts CRLF lines like LF ones. */
        expect_bad_len("\r\n# x\r\nA =1\r\n", 13, 3, "blanks between");
}

static void test_line_numbers(void **state)
{
        struct seen s;
        assert_int_equal(parse("# 1\nA=1\n\nbad one\nB=2\n  # 6\nC=\"7\nD=8", &s), 3);
        assert_int_equal(s.n_bad, 2);
        assert_int_equal(s.bad_lines[0], 4);
        assert_int_equal(s.bad_lines[1], 7);
        assert_string_equal(s.keys[0], "A");
        assert_string_equal(s.keys[1], "B");
        assert_string_equal(s.keys[2], "D");
        seen_free(&s);
}

static void test_limits(void **state)
{
        struct seen s;
        char *big = malloc(VOL_ENVFILE_MAX + 16);
        if (!big)
                abort();

        /* Past VOL_ENVFILE_MAX: refused whole, nothing reported. */
        memset(big, '#', VOL_ENVFILE_MAX + 1);
        memcpy(big, "A=1\n", 4);
        assert_int_equal(parse_len(big, VOL_ENVFILE_MAX + 1, &s), -E2BIG);
        assert_int_equal(s.n, 0);
        assert_int_equal(s.n_bad, 0);
        /* At VOL_ENVFILE_MAX: read. */
        assert_int_equal(parse_len(big, VOL_ENVFILE_MAX, &s), 1);
        seen_free(&s);

        /* A value of VOL_ENVFILE_VALUE_MAX bytes, raw and quoted; one more is bad. */
        const size_t max = VOL_ENVFILE_VALUE_MAX;
        static const char *const forms[][2] = {{"A=", ""}, {"A=\"", "\""}, {"A='", "'"}};
        for (size_t f = 0; f < 3; f++) {
                for (size_t extra = 0; extra < 2; extra++) {
                        size_t open = strlen(forms[f][0]), n = max + extra;
                        memcpy(big, forms[f][0], open);
                        memset(big + open, 'v', n);
                        strcpy(big + open + n, forms[f][1]);
                        strcat(big, "\nB=after\n");
                        assert_int_equal(parse(big, &s), extra ? 1 : 2);
                        assert_int_equal(s.n_bad, extra);
                        if (extra)
                                assert_non_null(strstr(s.reasons[0], "longer than 65536"));
                        else
                                assert_int_equal(s.lens[0], max);
                        seen_free(&s);
                }
        }
        /* The limit is on the value, not the text: escapes count once. */
        memcpy(big, "A=\"", 3);
        for (size_t i = 0; i < max; i++)
                memcpy(big + 3 + 2 * i, "\\n", 2);
        strcpy(big + 3 + 2 * max, "\"\n");
        assert_int_equal(parse(big, &s), 1);
        assert_int_equal(s.lens[0], max);
        seen_free(&s);

        /* A line of nearly the whole file is one bad line; the next still counts. */
        size_t huge = VOL_ENVFILE_MAX - 64;
        memcpy(big, "A=", 2);
        memset(big + 2, 'x', huge);
        strcpy(big + 2 + huge, "\nB=after");
        assert_int_equal(parse(big, &s), 1);
        assert_int_equal(s.n_bad, 1);
        assert_string_equal(s.keys[0], "B");
        assert_null(strchr(s.reasons[0], 'x'));
        seen_free(&s);
        free(big);
}

/* A failing entry callback stops the parse with its error. */
static void test_callback_stops(void **state)
{
        struct seen s;
        memset(&s, 0, sizeof(s));
        s.stop_after = 2;
        assert_int_equal(vol_envfile_parse("A=1\nB=2\nC=3\nD=4\n", 16, on_entry, on_bad, &s),
                         -ECANCELED);
        assert_int_equal(s.n, 2);
        seen_free(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_form),
            cmocka_unit_test(test_raw_values),
            cmocka_unit_test(test_double_quotes),
            cmocka_unit_test(test_single_quotes),
            cmocka_unit_test(test_hostile_text_stays_literal),
            cmocka_unit_test(test_bad_keys),
            cmocka_unit_test(test_bad_values),
            cmocka_unit_test(test_reasons_never_quote_values),
            cmocka_unit_test(test_nul_bytes),
            cmocka_unit_test(test_crlf),
            cmocka_unit_test(test_line_numbers),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_callback_stops),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
