/* api/http_parse.h: finding and parsing a request head, the framing rules
 * that keep a request from reading two ways, query strings, route matching
 * and chunked bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http_parse.h"

/* Parses text (a whole head) into h; returns 0 or the refusal's status. */
static int parse(const char *text, struct vol_http_head *h, struct vol_http_refusal *why)
{
        static char buf[VOL_HTTP_HEAD_MAX + 1];
        size_t n = strlen(text);
        memcpy(buf, text, n + 1);
        struct vol_http_head_scan sc = {0};
        long end = vol_http_head_end(buf, n, &sc, why);
        if (end < 0)
                return why->status;
        assert_int_equal(end, (long)n);
        return vol_http_parse_head(buf, n, h, why) < 0 ? why->status : 0;
}

static void test_head_end_incremental(void **state)
{
        const char *req = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
        size_t full = strlen(req) - 4;
        struct vol_http_head_scan sc = {0};
        struct vol_http_refusal why;
        /* byte by byte: nothing until the empty line, then exactly its end */
        for (size_t n = 1; n < full; n++)
                assert_int_equal(vol_http_head_end(req, n, &sc, &why), 0);
        assert_int_equal(vol_http_head_end(req, full, &sc, &why), (long)full);
        /* pipelined bytes after the head are not part of it */
        struct vol_http_head_scan sc2 = {0};
        assert_int_equal(vol_http_head_end(req, strlen(req), &sc2, &why), (long)full);
}

static void test_head_end_refusals(void **state)
{
        struct vol_http_refusal why;
        struct vol_http_head_scan sc = {0};
        assert_int_equal(vol_http_head_end("GET / HTTP/1.1\nHost: x\n\n", 23, &sc, &why), -1);
        assert_int_equal(why.status, 400); /* bare LF */
        char nul[] = "GET /\0 HTTP/1.1\r\n\r\n";
        memset(&sc, 0, sizeof(sc));
        assert_int_equal(vol_http_head_end(nul, sizeof(nul) - 1, &sc, &why), -1);
        assert_int_equal(why.status, 400);
        /* a request line past 8 KiB without its end: 414 before the head is whole */
        static char line[VOL_HTTP_TARGET_MAX + 100];
        memset(line, 'a', sizeof(line));
        memcpy(line, "GET /", 5);
        memset(&sc, 0, sizeof(sc));
        assert_int_equal(vol_http_head_end(line, sizeof(line), &sc, &why), -1);
        assert_int_equal(why.status, 414);
        /* a head past 32 KiB: 431 */
        static char head[VOL_HTTP_HEAD_MAX + 10];
        memset(head, 'b', sizeof(head));
        memcpy(head, "GET / HTTP/1.1\r\nX: ", 19);
        memset(&sc, 0, sizeof(sc));
        assert_int_equal(vol_http_head_end(head, sizeof(head), &sc, &why), -1);
        assert_int_equal(why.status, 431);
}

static void test_parse_good_heads(void **state)
{
        struct vol_http_head h;
        struct vol_http_refusal why;
        assert_int_equal(parse("POST /v1/volumes?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                               "Expect: 100-continue\r\nX-Pad:   spaced value  \r\n\r\n",
                               &h, &why),
                         0);
        assert_string_equal(h.method, "POST");
        assert_string_equal(h.target, "/v1/volumes?x=1");
        assert_int_equal(h.minor, 1);
        assert_true(h.keep_alive);
        assert_true(h.has_length);
        assert_int_equal(h.content_length, 12);
        assert_true(h.expect_continue);
        assert_false(h.chunked);
        assert_string_equal(vol_http_head_field(&h, "x-pad"), "spaced value");
        assert_null(vol_http_head_field(&h, "missing"));

        assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &why), 0);
        assert_false(h.keep_alive);
        assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &why), 0);
        assert_true(h.keep_alive);
        assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n", &h, &why), 0);
        assert_false(h.keep_alive);
        assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &why), 0);
        assert_true(h.chunked);
        assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n", &h, &why), 0);
        assert_int_equal(h.content_length, 999999999999999999ull);
}

static void test_parse_refusals(void **state)
{
        struct vol_http_head h;
        struct vol_http_refusal why;
        static const struct {
                const char *head;
                int status;
        } cases[] = {
                {"GET / HTTP/9.9\r\n\r\n", 505},
                {"GET / HTTP/2\r\n\r\n", 505},
                {"GET / FTP/1.1\r\n\r\n", 400},
                {"GET /\r\n\r\n", 400},
                {"GET\r\n\r\n", 400},
                {" / HTTP/1.1\r\n\r\n", 400},
                {"G@T / HTTP/1.1\r\n\r\n", 400},
                {"GETGETGETGETGETGET / HTTP/1.1\r\n\r\n", 400},
                {"GET http://h/ HTTP/1.1\r\n\r\n", 400},
                {"GET /a b HTTP/1.1\r\n\r\n", 400},
                {"GET /\x80 HTTP/1.1\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\n Folded: x\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\nX: \x01\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
                {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
                {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
                {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
                {"GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int st = parse(cases[i].head, &h, &why);
                if (st != cases[i].status)
                        fail_msg("case %zu (%s): got %d, want %d", i, cases[i].head, st, cases[i].status);
                assert_non_null(why.message);
                assert_true(strlen(why.message) > 10);
        }
        /* 64 fields are fine, 65 are not */
        char big[8192] = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 64; i++)
                snprintf(big + strlen(big), sizeof(big) - strlen(big), "X-%d: v\r\n", i);
        strcat(big, "\r\n");
        assert_int_equal(parse(big, &h, &why), 0);
        big[strlen(big) - 2] = 0;
        strcat(big, "X-last: v\r\n\r\n");
        assert_int_equal(parse(big, &h, &why), 431);
}

static void test_percent_decode(void **state)
{
        char a[] = "a%20b+c%2Fd";
        assert_int_equal(vol_http_percent_decode(a, false), 0);
        assert_string_equal(a, "a b+c/d");
        char b[] = "a%20b+c";
        assert_int_equal(vol_http_percent_decode(b, true), 0);
        assert_string_equal(b, "a b c");
        char bad1[] = "a%2";
        assert_int_equal(vol_http_percent_decode(bad1, false), -1);
        char bad2[] = "a%zz";
        assert_int_equal(vol_http_percent_decode(bad2, false), -1);
        char nul[] = "a%00b";
        assert_int_equal(vol_http_percent_decode(nul, false), -1);
        char hi[] = "%FF%fe";
        assert_int_equal(vol_http_percent_decode(hi, false), 0);
        assert_int_equal((unsigned char)hi[0], 0xff);
        assert_int_equal((unsigned char)hi[1], 0xfe);
}

static void test_query(void **state)
{
        struct vol_http_param p[VOL_HTTP_QUERY_MAX];
        struct vol_http_refusal why;
        char q[] = "filter=label%3Dteam%3Dweb&limit=5&&flag&after=a+b&filter=x";
        int n = vol_http_parse_query(q, p, VOL_HTTP_QUERY_MAX, &why);
        assert_int_equal(n, 5);
        assert_string_equal(p[0].key, "filter");
        assert_string_equal(p[0].value, "label=team=web");
        assert_string_equal(p[1].value, "5");
        assert_string_equal(p[2].key, "flag");
        assert_string_equal(p[2].value, ""); /* no '=': empty, and writable */
        assert_string_equal(p[3].value, "a b");
        assert_string_equal(p[4].value, "x");
        /* keys without '=' next to escapes: the decoder writes into them */
        char q2[] = "a&b%41&c";
        assert_int_equal(vol_http_parse_query(q2, p, VOL_HTTP_QUERY_MAX, &why), 3);
        assert_string_equal(p[1].key, "bA");
        char nul[] = "limit=5%00x";
        assert_int_equal(vol_http_parse_query(nul, p, VOL_HTTP_QUERY_MAX, &why), -1);
        assert_int_equal(why.status, 400);
        char empty_key[] = "=v";
        assert_int_equal(vol_http_parse_query(empty_key, p, VOL_HTTP_QUERY_MAX, &why), -1);
        char many[4096] = "";
        for (int i = 0; i <= VOL_HTTP_QUERY_MAX; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=v", i ? "&" : "", i);
        assert_int_equal(vol_http_parse_query(many, p, VOL_HTTP_QUERY_MAX, &why), -1);
        assert_int_equal(why.status, 414);
}

static void test_route_match(void **state)
{
        char buf[256];
        const char *segs[4];
        assert_int_equal(vol_http_route_match("/v1/volumes", "/v1/volumes", buf, sizeof(buf), segs, 4), 0);
        assert_int_equal(vol_http_route_match("/v1/volumes", "/v1/volumes/", buf, sizeof(buf), segs, 4), -1);
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/web%2Ddata", buf, sizeof(buf),
                                              segs, 4),
                         1);
        assert_string_equal(segs[0], "web-data");
        /* an encoded slash stays inside its segment */
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/a%2Fb", buf, sizeof(buf), segs, 4), 1);
        assert_string_equal(segs[0], "a/b");
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/a/b", buf, sizeof(buf), segs, 4), -1);
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/", buf, sizeof(buf), segs, 4), -1);
        assert_int_equal(vol_http_route_match("/t/{}/e/{}", "/t/acme/e/prod", buf, sizeof(buf), segs, 4), 2);
        assert_string_equal(segs[0], "acme");
        assert_string_equal(segs[1], "prod");
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/a%00", buf, sizeof(buf), segs, 4), -2);
        assert_int_equal(vol_http_route_match("/v1/volumes/{}", "/v1/volumes/a%G1", buf, sizeof(buf), segs, 4), -2);
        assert_int_equal(vol_http_route_match("/{}/{}", "/a/b", buf, sizeof(buf), segs, 1), -3);
        assert_int_equal(vol_http_route_match("/{}", "/abcdef", buf, 4, segs, 4), -3);
}

static int collect(void *arg, const char *data, size_t n)
{
        char *out = arg;
        if (strlen(out) + n >= 64)
                return -1;
        strncat(out, data, n);
        return 0;
}

/* Feeds s to a fresh decoder in pieces of `step` bytes. Returns the refusal
 * status, 0 when the body ended, 1 when more is needed. */
static int chunked(const char *s, size_t step, char out[64], uint64_t max)
{
        struct vol_http_chunked c = {.max = max};
        struct vol_http_refusal why;
        out[0] = 0;
        size_t len = strlen(s);
        for (size_t i = 0; i < len && !c.done; i += step) {
                size_t n = len - i < step ? len - i : step;
                long used = vol_http_chunked_feed(&c, s + i, n, collect, out, &why);
                if (used < 0)
                        return why.status;
                if (c.done)
                        return 0;
                assert_int_equal(used, (long)n);
        }
        return c.done ? 0 : 1;
}

static void test_chunked(void **state)
{
        char out[64];
        const char *body = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        for (size_t step = 1; step <= strlen(body); step++) {
                assert_int_equal(chunked(body, step, out, 0), 0);
                assert_string_equal(out, "Wikipedia in\r\n\r\nchunks.");
        }
        assert_int_equal(chunked("5\r\nabc", 3, out, 0), 1); /* more needed */
        assert_int_equal(chunked("zz\r\n", 4, out, 0), 400);
        assert_int_equal(chunked("\r\n", 2, out, 0), 400);
        assert_int_equal(chunked("2\r\nabc\r\n", 8, out, 0), 400); /* longer than said */
        assert_int_equal(chunked("2\nab\r\n", 8, out, 0), 400);      /* LF alone */
        assert_int_equal(chunked("2;\x01\r\nab\r\n", 8, out, 0), 400);
        assert_int_equal(chunked("1234567890abcdef0\r\n", 32, out, 0), 413);
        /* a size past max is refused before its data arrives */
        assert_int_equal(chunked("100\r\n", 5, out, 64), 413);
        assert_int_equal(chunked("20\r\n", 4, out, 64), 1);
        /* data past what out takes */
        assert_int_equal(chunked("50\r\n" "01234567890123456789012345678901234567890123456789012345678901234567890123456789"
                                 "\r\n0\r\n\r\n", 200, out, 0),
                         413);
}

static void test_reasons(void **state)
{
        assert_string_equal(vol_http_reason(404), "Not Found");
        assert_string_equal(vol_http_reason(431), "Request Header Fields Too Large");
        assert_string_equal(vol_http_reason(299), "Unknown");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_head_end_incremental),
                cmocka_unit_test(test_head_end_refusals),
                cmocka_unit_test(test_parse_good_heads),
                cmocka_unit_test(test_parse_refusals),
                cmocka_unit_test(test_percent_decode),
                cmocka_unit_test(test_query),
                cmocka_unit_test(test_route_match),
                cmocka_unit_test(test_chunked),
                cmocka_unit_test(test_reasons),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
