/* net/http_client.h: parsing an answer's head and decoding chunked bodies,
 * fed whole and byte by byte. The exchange itself is tested against real
 * servers (tests/integration/test_engine_client.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http_client.h"

static int parse(const char *text, struct vol_http_answer *a)
{
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_http_answer_parse(text, strlen(text), false, a, &err);
        if (r < 0)
                assert_non_null(err.msg);
        vol_error_clear(&err);
        return r;
}

static void test_heads(void **state)
{
        struct vol_http_answer a;
        assert_int_equal(parse("HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n{\"Id\":\"x\"}", &a), 1);
        assert_int_equal(a.status, 201);
        assert_true(a.has_length);
        assert_int_equal(a.length, 12);
        assert_int_equal(a.head_len, strlen("HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n"));
        assert_false(a.chunked);

        assert_int_equal(parse("HTTP/1.0 200\r\ntransfer-encoding:  Chunked \r\n\r\n", &a), 1);
        assert_int_equal(a.status, 200);
        assert_true(a.chunked);
        assert_false(a.has_length);

        assert_int_equal(parse("HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", &a), 1);
        assert_true(a.no_body);
        assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", &a), 1);
        assert_int_equal(a.status, 100);
        assert_true(a.no_body);

        struct vol_error err = VOL_ERROR_INIT;
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_int_equal(vol_http_answer_parse(h, strlen(h), true, &a, &err), 1);
        assert_true(a.no_body); /* an answer to HEAD */
}

static void test_incomplete_heads_ask_for_more(void **state)
{
        const char *h = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n";
        struct vol_http_answer a;
        struct vol_error err = VOL_ERROR_INIT;
        for (size_t n = 0; n < strlen(h); n++)
                assert_int_equal(vol_http_answer_parse(h, n, false, &a, &err), 0);
        assert_int_equal(vol_http_answer_parse(h, strlen(h), false, &a, &err), 1);
        assert_int_equal(a.status, 404);
        assert_null(err.msg);
}

static void test_bad_heads(void **state)
{
        static const char *bad[] = {
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 600 Odd\r\n\r\n",
                "HTTP/1.1 200OK\r\n\r\n",
                "ICY 200 OK\r\n\r\n",
                "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
                "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
                "HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                struct vol_http_answer a = {.status = -7};
                if (parse(bad[i], &a) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                assert_int_equal(a.status, -7); /* untouched */
        }
        /* a NUL in the head */
        struct vol_http_answer a;
        struct vol_error err = VOL_ERROR_INIT;
        const char nul[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n";
        assert_int_equal(vol_http_answer_parse(nul, sizeof(nul) - 1, false, &a, &err), -EBADMSG);
        vol_error_clear(&err);
        /* a head that never ends */
        size_t n = VOL_HTTP_ANSWER_HEAD_MAX + 10;
        char *big = malloc(n);
        memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
        memset(big + 17, 'a', n - 17);
        assert_int_equal(vol_http_answer_parse(big, n, false, &a, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "longer"));
        vol_error_clear(&err);
        free(big);
}

/* Decodes enc fed `step` bytes at a time (0: all at once) as the client
 * does: decode, keep payload and the rest. Returns 1 with the payload in out,
 * or what vol_http_dechunk returned. */
static int dechunk(const char *enc, size_t len, size_t step, char *out, size_t *ret_len, size_t *ret_end)
{
        char *buf = malloc(len + 1);
        struct vol_http_dechunk st = {0};
        struct vol_error err = VOL_ERROR_INIT;
        size_t fed = 0, have = 0, consumed = 0;
        int r = 0;
        while (fed < len || r == 0) {
                size_t take = step && len - fed > step ? step : len - fed;
                memcpy(buf + have, enc + fed, take);
                fed += take;
                have += take;
                r = vol_http_dechunk(buf, have, &st, &err);
                if (r != 0)
                        break;
                /* compact as the client does */
                consumed += st.in - st.out;
                memmove(buf + st.out, buf + st.in, have - st.in);
                have = st.out + (have - st.in);
                st.in = st.out;
                if (fed == len)
                        break;
        }
        if (r == 1) {
                memcpy(out, buf, st.out);
                *ret_len = st.out;
                *ret_end = consumed + st.in;
        } else if (r < 0) {
                assert_non_null(err.msg);
        }
        vol_error_clear(&err);
        free(buf);
        return r;
}

static void test_chunked(void **state)
{
        static const char enc[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\nNEXT";
        size_t len = sizeof(enc) - 1 - 4;
        for (size_t step = 0; step <= 7; step++) {
                char out[64];
                size_t n = 0, end = 0;
                assert_int_equal(dechunk(enc, sizeof(enc) - 1, step, out, &n, &end), 1);
                assert_int_equal(n, 23);
                assert_memory_equal(out, "Wikipedia in\r\n\r\nchunks.", 23);
                assert_int_equal(end, len);
        }
        /* cut short: more is needed, never done */
        char out[64];
        size_t n, end;
        assert_int_equal(dechunk(enc, 20, 0, out, &n, &end), 0);
        assert_int_equal(dechunk("0\r\n", 3, 0, out, &n, &end), 0);
}

static void test_bad_chunks(void **state)
{
        static const char *bad[] = {
                "zz\r\nab\r\n0\r\n\r\n",   /* not hex */
                "\r\nab\r\n0\r\n\r\n",     /* no size */
                "2\r\nabc\r\n0\r\n\r\n",   /* longer than said */
                "2x\r\nab\r\n0\r\n\r\n",   /* junk after the size */
                "2;\x01\r\nab\r\n0\r\n\r\n", /* a control byte in an extension */
                "1000000000000000\r\n",    /* too large */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                char out[64];
                size_t n, end;
                if (dechunk(bad[i], strlen(bad[i]), 0, out, &n, &end) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
        }
        /* a size line that never ends */
        char line[2048];
        memset(line, '1', sizeof(line));
        struct vol_http_dechunk st = {0};
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_http_dechunk(line, sizeof(line), &st, &err), -EBADMSG);
        vol_error_clear(&err);
}

static void test_escape(void **state)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        assert_int_equal(vol_http_escape(&b, "a-b_c.d~e/f g?&=%{\"x\":1}\xc3\xa9"), 0);
        assert_string_equal(b.data, "a-b_c.d~e%2Ff%20g%3F%26%3D%25%7B%22x%22%3A1%7D%C3%A9");
        vol_strbuf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_heads),
                cmocka_unit_test(test_incomplete_heads_ask_for_more),
                cmocka_unit_test(test_bad_heads),
                cmocka_unit_test(test_chunked),
                cmocka_unit_test(test_bad_chunks),
                cmocka_unit_test(test_escape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
