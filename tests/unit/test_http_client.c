/* net/http_client.h: parsing an answer's head and decoding bodies (by
 * length, chunked, to the end), fed whole and byte by byte; a body handed to
 * a sink as it comes, against a server thread on a unix socket. The exchange
 * with real servers is tested in tests/integration/test_engine_client.py and
 * tests/engines/test_engine_client_real.py. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/* Decodes the body enc[0..len) of an answer with head a, fed `step` bytes at
 * a time (0: all at once), as the client does with a sink: the payload of
 * each step is taken out and what was consumed is dropped. Returns what
 * vol_http_body_decode last returned; the payload goes to out, and the most
 * bytes held between steps to *ret_held. */
static int body(const struct vol_http_answer *a, const char *enc, size_t len, size_t step, bool eof_at_end,
                char *out, size_t *ret_len, size_t *ret_held)
{
        char *buf = malloc(len + 1);
        struct vol_http_body st;
        vol_http_body_start(&st, a);
        struct vol_error err = VOL_ERROR_INIT;
        size_t fed = 0, have = 0, n = 0, held = 0;
        int r;
        for (;;) {
                size_t take = step && len - fed > step ? step : len - fed;
                memcpy(buf + have, enc + fed, take);
                fed += take;
                have += take;
                size_t payload = 0, used = 0;
                r = vol_http_body_decode(&st, buf, have, eof_at_end && fed == len, &payload, &used, &err);
                if (r < 0) {
                        assert_non_null(err.msg);
                        break;
                }
                assert_true(payload <= used && used <= have);
                memcpy(out + n, buf, payload);
                n += payload;
                memmove(buf, buf + used, have - used);
                have -= used;
                held = have > held ? have : held;
                if (r > 0 || fed == len)
                        break;
        }
        assert_int_equal(n, st.payload);
        *ret_len = n;
        *ret_held = held;
        vol_error_clear(&err);
        free(buf);
        return r;
}

static void test_body_by_length(void **state)
{
        struct vol_http_answer a = {.status = 200, .has_length = true, .length = 10};
        const char *enc = "0123456789NEXT";
        for (size_t step = 0; step <= 4; step++) {
                char out[32];
                size_t n, held;
                assert_int_equal(body(&a, enc, strlen(enc), step, false, out, &n, &held), 1);
                assert_int_equal(n, 10);
                assert_memory_equal(out, "0123456789", 10);
                assert_true(held <= 4); /* what follows the body is never consumed */
        }
        /* cut short */
        char out[32];
        size_t n, held;
        assert_int_equal(body(&a, enc, 7, 3, true, out, &n, &held), -EBADMSG);
        assert_int_equal(body(&a, enc, 7, 3, false, out, &n, &held), 0);
        /* empty, and no body at all */
        struct vol_http_answer empty = {.status = 200, .has_length = true};
        assert_int_equal(body(&empty, "x", 1, 0, false, out, &n, &held), 1);
        assert_int_equal(n, 0);
        struct vol_http_answer none = {.status = 204, .no_body = true};
        assert_int_equal(body(&none, "x", 1, 0, false, out, &n, &held), 1);
        assert_int_equal(n, 0);
}

static void test_body_chunked_is_never_held(void **state)
{
        struct vol_http_answer a = {.status = 200, .chunked = true};
        static const char enc[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\nNEXT";
        for (size_t step = 0; step <= 7; step++) {
                char out[64];
                size_t n, held;
                assert_int_equal(body(&a, enc, sizeof(enc) - 1, step, false, out, &n, &held), 1);
                assert_int_equal(n, 23);
                assert_memory_equal(out, "Wikipedia in\r\n\r\nchunks.", 23);
                /* fed in small steps, only a chunk line or trailer is held */
                if (step && step < 4)
                        assert_true(held < 12);
        }
        char out[64];
        size_t n, held;
        assert_int_equal(body(&a, enc, 30, 5, true, out, &n, &held), -EBADMSG); /* cut short */
        assert_int_equal(body(&a, "zz\r\n", 4, 0, false, out, &n, &held), -EBADMSG);
}

static void test_body_to_the_end(void **state)
{
        struct vol_http_answer a = {.status = 200};
        char out[32];
        size_t n, held;
        /* no length, not chunked: everything until the connection ends */
        assert_int_equal(body(&a, "abcdefgh", 8, 3, true, out, &n, &held), 1);
        assert_int_equal(n, 8);
        assert_memory_equal(out, "abcdefgh", 8);
        assert_int_equal(held, 0);
        assert_int_equal(body(&a, "abcdefgh", 8, 3, false, out, &n, &held), 0);
}

/* ---- the exchange with a sink, against a server thread ---- */

struct server {
        char path[108];
        int listen_fd;
        const char *answer; /* sent whole, then the connection is closed */
        size_t answer_len;
        pthread_t thread;
};

static void *serve_one(void *arg)
{
        struct server *sv = arg;
        int c = accept(sv->listen_fd, NULL, NULL);
        if (c < 0)
                return NULL;
        char req[4096];
        size_t got = 0;
        while (got < sizeof(req) - 1) { /* the request's head, enough for a GET */
                ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                req[got] = 0;
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        for (size_t off = 0; off < sv->answer_len;) { /* in small pieces */
                size_t piece = sv->answer_len - off < 7 ? sv->answer_len - off : 7;
                ssize_t w = send(c, sv->answer + off, piece, MSG_NOSIGNAL);
                if (w <= 0)
                        break;
                off += (size_t)w;
                usleep(1000); /* so that the client reads the pieces apart */
        }
        close(c);
        return NULL;
}

static void server_start(struct server *sv, const char *answer)
{
        sv->answer = answer;
        sv->answer_len = strlen(answer);
        snprintf(sv->path, sizeof(sv->path), "/tmp/test_http_client.%d.sock", (int)getpid());
        unlink(sv->path);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, sv->path);
        sv->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(sv->listen_fd >= 0);
        assert_int_equal(bind(sv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(sv->listen_fd, 1), 0);
        assert_int_equal(pthread_create(&sv->thread, NULL, serve_one, sv), 0);
}

static void server_stop(struct server *sv)
{
        pthread_join(sv->thread, NULL);
        close(sv->listen_fd);
        unlink(sv->path);
}

struct collected {
        char data[256];
        size_t len;
        size_t calls;
        int fail_after; /* refuse the call after this many (0: never) */
};

static int collect(void *userdata, const char *data, size_t len, struct vol_error *err)
{
        struct collected *c = userdata;
        if (c->fail_after && c->calls >= (size_t)c->fail_after)
                return vol_error_set(err, -ENOSPC, "the sink is full");
        c->calls++;
        assert_true(c->len + len <= sizeof(c->data));
        memcpy(c->data + c->len, data, len);
        c->len += len;
        return 0;
}

/* One call through a sink to a server that sends answer; returns what
 * vol_http_call returned, the body kept in memory in *ret_body. */
static int call_sink(const char *answer, size_t answer_max, struct collected *got, struct vol_strbuf *ret_body,
                     struct vol_error *err)
{
        struct server sv;
        server_start(&sv, answer);
        struct vol_http_call call = {
                .socket_path = sv.path,
                .method = "GET",
                .target = "/x",
                .answer_max = answer_max,
                .timeout_ms = 10000,
                .sink = collect,
                .sink_data = got,
        };
        int r = vol_http_call(&call, ret_body, err);
        server_stop(&sv);
        return r;
}

static void test_sink_takes_2xx_bodies(void **state)
{
        static const char *answers[] = {
                "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n17\r\ndefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nabcdefghijklmnopqrstuvwxyz",
        };
        for (size_t i = 0; i < sizeof(answers) / sizeof(*answers); i++) {
                struct collected got = {0};
                struct vol_strbuf mem;
                vol_strbuf_init(&mem, 0);
                struct vol_error err = VOL_ERROR_INIT;
                assert_int_equal(call_sink(answers[i], 1000, &got, &mem, &err), 200);
                assert_null(err.msg);
                assert_int_equal(got.len, 26);
                assert_memory_equal(got.data, "abcdefghijklmnopqrstuvwxyz", 26);
                assert_true(got.calls > 1); /* as it came, in pieces */
                assert_int_equal(mem.len, 0);
                vol_strbuf_free(&mem);
        }
}

static void test_sink_keeps_error_bodies(void **state)
{
        struct collected got = {0};
        struct vol_strbuf mem;
        vol_strbuf_init(&mem, 0);
        struct vol_error err = VOL_ERROR_INIT;
        const char *answer = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n15\r\n{\"message\":\"no such\"}\r\n0\r\n\r\n";
        assert_int_equal(call_sink(answer, 1000, &got, &mem, &err), 404);
        assert_int_equal(got.calls, 0);
        assert_string_equal(mem.data, "{\"message\":\"no such\"}");
        vol_strbuf_free(&mem);
}

static void test_sink_bounds_and_failures(void **state)
{
        struct vol_strbuf mem;
        vol_strbuf_init(&mem, 0);
        struct vol_error err = VOL_ERROR_INIT;
        /* past answer_max: refused before the sink sees the bytes past it */
        struct collected got = {0};
        const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n";
        assert_int_equal(call_sink(chunked, 15, &got, &mem, &err), -E2BIG);
        assert_non_null(strstr(err.msg, "larger than 15"));
        assert_true(got.len <= 15);
        vol_error_clear(&err);
        /* a Content-Length past answer_max: refused at once */
        memset(&got, 0, sizeof(got));
        assert_int_equal(call_sink("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789", 15,
                                   &got, &mem, &err),
                         -E2BIG);
        assert_int_equal(got.len, 0);
        vol_error_clear(&err);
        /* the sink refuses: its error is the call's */
        memset(&got, 0, sizeof(got));
        got.fail_after = 1;
        assert_int_equal(call_sink(chunked, 1000, &got, &mem, &err), -ENOSPC);
        assert_string_equal(err.msg, "the sink is full");
        vol_error_clear(&err);
        /* cut short */
        memset(&got, 0, sizeof(got));
        assert_int_equal(call_sink("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123", 1000, &got, &mem, &err),
                         -EBADMSG);
        vol_error_clear(&err);
        assert_int_equal(mem.len, 0); /* untouched on failure */
        vol_strbuf_free(&mem);
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
                cmocka_unit_test(test_body_by_length),
                cmocka_unit_test(test_body_chunked_is_never_held),
                cmocka_unit_test(test_body_to_the_end),
                cmocka_unit_test(test_sink_takes_2xx_bodies),
                cmocka_unit_test(test_sink_keeps_error_bodies),
                cmocka_unit_test(test_sink_bounds_and_failures),
                cmocka_unit_test(test_escape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
