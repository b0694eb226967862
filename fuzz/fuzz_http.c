/* libFuzzer target for volmand's HTTP parser (api/http_parse.c): the bytes a
 * client sends, head and body, as the server reads them.
 *
 * The input is a request as it arrives on a socket. The target finds the end
 * of the head both all at once and byte by byte (the two must agree), parses
 * it, matches the target against the REST API's route patterns, splits and
 * decodes the query, and decodes a chunked body in random-sized pieces (taken
 * from the input itself) against a 1 MiB bound. Besides crashes it checks:
 * a refusal always carries a status of 400..505 and a message; a parsed head
 * has a method and a target starting with '/', at most the bounded number of
 * fields, and never both a length and chunking; captured route segments never
 * hold a '/' that was not percent-encoded nor a NUL; decoded query parameters
 * have non-empty keys. */
#include "fuzz.h"

#include "api/http_parse.h"

static const char *const patterns[] = {
        "/v1/health", "/v1/volumes", "/v1/volumes/{}", "/v1/volumes/{}/mount",
        "/v1/tenants/{}/envs/{}/apps/{}/config", "/VolumeDriver.Mount",
};

static void check_refusal(const struct vol_http_refusal *why)
{
        fuzz_check(why->status >= 400 && why->status <= 505);
        fuzz_check(why->message && strlen(why->message) > 5);
}

static int body_out(void *arg, const char *data, size_t n)
{
        size_t *total = arg;
        *total += n;
        return *total > (1u << 20) ? -1 : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > VOL_HTTP_HEAD_MAX + 4096)
                return -1;
        char *buf = malloc(size + 1);
        memcpy(buf, data, size);
        buf[size] = 0;

        /* the end of the head: at once, and as it trickles in */
        struct vol_http_refusal why = {0}, why2 = {0};
        struct vol_http_head_scan sc = {0}, sc2 = {0};
        long end = vol_http_head_end(buf, size, &sc, &why);
        long end2 = 0;
        for (size_t n = 1; n <= size; n++) {
                end2 = vol_http_head_end(buf, n, &sc2, &why2);
                if (end2 != 0)
                        break;
        }
        if (end < 0)
                check_refusal(&why);
        fuzz_check(end == end2 || (end < 0 && end2 < 0));
        if (end <= 0) {
                free(buf);
                return 0;
        }

        struct vol_http_head h;
        if (vol_http_parse_head(buf, (size_t)end, &h, &why) < 0) {
                check_refusal(&why);
                free(buf);
                return 0;
        }
        fuzz_check(h.method && *h.method);
        fuzz_check(h.target && h.target[0] == '/');
        fuzz_check(strlen(h.target) <= VOL_HTTP_TARGET_MAX);
        fuzz_check(h.n_fields <= VOL_HTTP_HEADER_COUNT_MAX);
        fuzz_check(!(h.has_length && h.chunked));
        fuzz_check(h.minor == 0 || h.minor == 1);

        /* the target: routes, then the query */
        char *q = strchr(h.target, '?');
        if (q)
                *q++ = 0;
        char segbuf[VOL_HTTP_TARGET_MAX + 8];
        const char *segs[4];
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
                int m = vol_http_route_match(patterns[i], h.target, segbuf, sizeof(segbuf), segs, 4);
                fuzz_check(m >= -3);
                for (int k = 0; k < m; k++)
                        fuzz_check(segs[k][0] != 0); /* a segment is never empty, never NUL-cut */
        }
        if (q) {
                struct vol_http_param p[VOL_HTTP_QUERY_MAX];
                int n = vol_http_parse_query(q, p, VOL_HTTP_QUERY_MAX, &why);
                if (n < 0)
                        check_refusal(&why);
                for (int k = 0; k < n; k++)
                        fuzz_check(p[k].key[0] != 0 && p[k].value != NULL);
        }

        /* a chunked body in pieces whose sizes come from the input's bytes */
        if (h.chunked) {
                struct vol_http_chunked c = {.max = 1u << 20};
                size_t total = 0, off = (size_t)end, step_i = 0;
                while (off < size && !c.done) {
                        size_t step = 1 + data[step_i++ % size] % 97;
                        if (step > size - off)
                                step = size - off;
                        long used = vol_http_chunked_feed(&c, buf + off, step, body_out, &total, &why);
                        if (used < 0) {
                                check_refusal(&why);
                                break;
                        }
                        fuzz_check((size_t)used <= step);
                        fuzz_check(c.done || (size_t)used == step);
                        off += (size_t)used;
                }
                fuzz_check(total <= c.total);
        }
        free(buf);
        return 0;
}
