/* volbench: a minimal HTTP/1.1 client over a unix socket that measures the volume API of
 * volmand (flavour "volman") or of Podman's Docker-compatible service (flavour "podman").
 *
 * It is a benchmark, not a test: it prints one RESULT line of key=value figures per run
 * and exits non-zero when any request failed (a run with failures is a failed run, not a
 * fast one). See bench/README.md.
 *
 * The HTTP client is bench/httpc.c: raw sockets, one buffered reader per connection,
 * keep-alive, Content-Length and chunked bodies, every buffer bounded. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"

#define MAX_BODY_BYTES ((size_t)512 * 1024 * 1024)
#define MAX_NAME_BYTES 128
#define MAX_CLIENTS 256
#define MAX_REPORTED_FAILURES 5
#define IO_TIMEOUT_SECONDS 120

enum flavour { FLAVOUR_VOLMAN, FLAVOUR_PODMAN };

enum op { OP_PING, OP_CREATE, OP_INSPECT, OP_DELETE, OP_LIST };

/* The routes of one server flavour. Each has its own success status. */
struct flavour_desc {
        const char *name;
        const char *ping_path;
        const char *create_path;
        const char *create_name_key; /* {"KEY":"NAME"} is the create body */
        const char *volume_path;     /* followed by the volume name */
        const char *list_path;
        const char *list_item_key; /* one occurrence per volume in a list body */
};

static const struct flavour_desc flavours[] = {
    [FLAVOUR_VOLMAN] =
        {
            .name = "volman",
            .ping_path = "/v1/health",
            .create_path = "/v1/volumes",
            .create_name_key = "name",
            .volume_path = "/v1/volumes/",
            .list_path = "/v1/volumes?limit=10000",
            .list_item_key = "\"name\":",
        },
    [FLAVOUR_PODMAN] =
        {
            .name = "podman",
            .ping_path = "/_ping",
            .create_path = "/v1.41/volumes/create",
            .create_name_key = "Name",
            .volume_path = "/v1.41/volumes/",
            .list_path = "/v1.41/volumes",
            .list_item_key = "\"Name\":",
        },
};

static const char *const op_names[] = {
    [OP_PING] = "ping",     [OP_CREATE] = "create", [OP_INSPECT] = "inspect",
    [OP_DELETE] = "delete", [OP_LIST] = "list",
};

struct options {
        const char *socket_path;
        enum flavour flavour;
        enum op op;
        const char *prefix;
        long count;      /* volumes to create / inspect / delete */
        long start;      /* first volume index */
        int clients;     /* connections, one thread each */
        int runs;        /* list runs */
        long expect;     /* list: expected item count, -1 for any */
        double wait_sec; /* ping: retry for this long */
};

/* Per-thread work for the op benchmarks. */
struct worker {
        const struct options *opt;
        long *next_index; /* shared, atomically taken */
        long end_index;
        uint32_t *lat_us; /* shared array indexed by volume index - start */
        long ok, failed;
        long reconnects;
        int error; /* connect failure, negative errno */
};

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static int reported_failures;

static void report_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the first few failures to stderr; counts the rest silently. */
static void report_failure(const char *fmt, ...)
{
        pthread_mutex_lock(&report_lock);
        if (reported_failures++ < MAX_REPORTED_FAILURES) {
                va_list ap;
                va_start(ap, fmt);
                fputs("volbench: ", stderr);
                vfprintf(stderr, fmt, ap);
                fputc('\n', stderr);
                va_end(ap);
        }
        pthread_mutex_unlock(&report_lock);
}

#define JSON_TYPE "application/json"

/* A closed connection to the server under test, on the heap (its read buffer is too big
 * for a thread's stack). Returns NULL when out of memory; the caller frees it after
 * hc_conn_close. */
static struct hc_conn *client_new(const struct options *opt)
{
        const struct hc_options copt = {
            .socket_path = opt->socket_path,
            .host = "localhost",
            .user_agent = "volbench",
            .io_timeout_sec = IO_TIMEOUT_SECONDS,
            .max_body = MAX_BODY_BYTES,
            /* A server may answer without a length: the body then runs to EOF. */
            .body_until_eof = true,
        };
        struct hc_conn *c = malloc(sizeof(*c));

        if (c)
                hc_conn_init(c, &copt);
        return c;
}

static const char *body_excerpt(const struct hc_response *resp)
{
        return resp->body ? resp->body : "";
}

/* Builds the method, path and body of one op on the volume of the given index. */
static int request_for(const struct options *opt, enum op op, long index, const char **ret_method,
                       char *path, size_t path_size, char *body, size_t body_size,
                       const char **ret_body)
{
        const struct flavour_desc *f = &flavours[opt->flavour];
        char name[MAX_NAME_BYTES + 1];
        int n;

        n = snprintf(name, sizeof(name), "%s%07ld", opt->prefix, index);
        if (n < 0 || (size_t)n >= sizeof(name))
                return -ENAMETOOLONG;
        *ret_body = NULL;
        switch (op) {
        case OP_CREATE:
                *ret_method = "POST";
                snprintf(path, path_size, "%s", f->create_path);
                n = snprintf(body, body_size, "{\"%s\":\"%s\"}", f->create_name_key, name);
                if (n < 0 || (size_t)n >= body_size)
                        return -E2BIG;
                *ret_body = body;
                return 0;
        case OP_INSPECT:
                *ret_method = "GET";
                break;
        case OP_DELETE:
                *ret_method = "DELETE";
                break;
        default:
                return -EINVAL;
        }
        n = snprintf(path, path_size, "%s%s", f->volume_path, name);
        if (n < 0 || (size_t)n >= path_size)
                return -E2BIG;
        return 0;
}

static void *worker_run(void *arg)
{
        struct worker *w = arg;
        const struct options *opt = w->opt;
        struct hc_response resp = {0};
        struct hc_conn *c = client_new(opt);

        if (!c) {
                w->error = -ENOMEM;
                return NULL;
        }
        w->error = hc_conn_open(c);
        if (w->error < 0) {
                free(c);
                return NULL;
        }

        for (;;) {
                long index = __atomic_fetch_add(w->next_index, 1, __ATOMIC_RELAXED);
                if (index >= w->end_index)
                        break;
                const char *method = "?", *body = NULL;
                char path[512], req_body[512];
                int r = request_for(opt, opt->op, index, &method, path, sizeof(path), req_body,
                                    sizeof(req_body), &body);
                uint64_t t0 = hc_now_ns();
                if (r == 0)
                        r = hc_request(c, method, path, JSON_TYPE, body, &resp);
                uint64_t dt = (hc_now_ns() - t0) / 1000;
                w->lat_us[index - opt->start] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
                if (r < 0) {
                        w->failed++;
                        report_failure("%s %s: %s", method, path, strerror(-r));
                } else if (resp.status < 200 || resp.status > 299) {
                        w->failed++;
                        report_failure("%s %s: HTTP %d %.200s", method, path, resp.status,
                                       body_excerpt(&resp));
                } else {
                        w->ok++;
                }
        }
        w->reconnects = c->connects - 1;
        hc_conn_close(c);
        free(c);
        hc_response_free(&resp);
        return NULL;
}

static int run_ops(const struct options *opt)
{
        struct worker workers[MAX_CLIENTS];
        pthread_t threads[MAX_CLIENTS];
        long next_index = opt->start, ok = 0, failed = 0, reconnects = 0;
        uint32_t *lat = calloc((size_t)opt->count ? (size_t)opt->count : 1, sizeof(*lat));
        int started = 0, conn_error = 0;

        if (!lat) {
                fprintf(stderr, "volbench: out of memory\n");
                return 2;
        }
        uint64_t t0 = hc_now_ns();
        for (int i = 0; i < opt->clients; i++) {
                workers[i] = (struct worker){
                    .opt = opt,
                    .next_index = &next_index,
                    .end_index = opt->start + opt->count,
                    .lat_us = lat,
                };
                if (pthread_create(&threads[i], NULL, worker_run, &workers[i]) != 0) {
                        fprintf(stderr, "volbench: cannot start client thread %d\n", i);
                        break;
                }
                started++;
        }
        for (int i = 0; i < started; i++) {
                pthread_join(threads[i], NULL);
                ok += workers[i].ok;
                failed += workers[i].failed;
                reconnects += workers[i].reconnects;
                if (workers[i].error < 0) {
                        conn_error = workers[i].error;
                        report_failure("client %d: connecting to %s: %s", i, opt->socket_path,
                                       strerror(-conn_error));
                }
        }
        double secs = (double)(hc_now_ns() - t0) / 1e9;
        /* Requests never sent (no client could connect) count as failures. */
        long missing = opt->count - ok - failed;
        if (missing > 0)
                failed += missing;

        qsort(lat, (size_t)opt->count, sizeof(*lat), hc_cmp_u32);
        size_t n = (size_t)opt->count;
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += lat[i];
        printf("RESULT target=%s op=%s clients=%d n=%ld ok=%ld fail=%ld secs=%.3f ops_s=%.1f "
               "mean_us=%.0f median_us=%" PRIu32 " p99_us=%" PRIu32 " max_us=%" PRIu32
               " reconnects=%ld status=%s\n",
               flavours[opt->flavour].name, op_names[opt->op], opt->clients, opt->count, ok, failed,
               secs, secs > 0 ? (double)ok / secs : 0.0, n ? (double)sum / (double)n : 0.0,
               hc_percentile(lat, n, 50), hc_percentile(lat, n, 99), n ? lat[n - 1] : 0, reconnects,
               failed || conn_error ? "FAILED" : "ok");
        free(lat);
        return failed || conn_error ? 1 : 0;
}

static long count_occurrences(const char *hay, size_t len, const char *needle)
{
        size_t nlen = strlen(needle);
        long n = 0;
        const char *p = hay, *end = hay + len;

        while (p && (size_t)(end - p) >= nlen) {
                p = memmem(p, (size_t)(end - p), needle, nlen);
                if (!p)
                        break;
                n++;
                p += nlen;
        }
        return n;
}

static int run_list(const struct options *opt)
{
        const struct flavour_desc *f = &flavours[opt->flavour];
        struct hc_conn *c = client_new(opt);
        struct hc_response resp = {0};
        uint32_t lat[1024];
        int runs = opt->runs, failed = 0;
        long items = -1;
        size_t bytes = 0;

        if (!c)
                return 2;
        for (int i = 0; i < runs; i++) {
                uint64_t t0 = hc_now_ns();
                int r = hc_request(c, "GET", f->list_path, NULL, NULL, &resp);
                uint64_t dt = (hc_now_ns() - t0) / 1000;
                lat[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
                if (r < 0) {
                        failed++;
                        report_failure("GET %s: %s", f->list_path, strerror(-r));
                        continue;
                }
                if (resp.status != 200) {
                        failed++;
                        report_failure("GET %s: HTTP %d %.200s", f->list_path, resp.status,
                                       body_excerpt(&resp));
                        continue;
                }
                long n =
                    resp.body ? count_occurrences(resp.body, resp.body_len, f->list_item_key) : 0;
                if (opt->expect >= 0 && n != opt->expect) {
                        failed++;
                        report_failure("GET %s: %ld volumes listed, expected %ld", f->list_path, n,
                                       opt->expect);
                }
                items = n;
                bytes = resp.body_len;
        }
        qsort(lat, (size_t)runs, sizeof(*lat), hc_cmp_u32);
        printf("RESULT target=%s op=list clients=1 n=%d ok=%d fail=%d items=%ld bytes=%zu "
               "median_us=%" PRIu32 " min_us=%" PRIu32 " max_us=%" PRIu32
               " reconnects=%ld status=%s\n",
               f->name, runs, runs - failed, failed, items, bytes,
               hc_percentile(lat, (size_t)runs, 50), lat[0], lat[runs - 1],
               c->connects > 0 ? c->connects - 1 : 0, failed ? "FAILED" : "ok");
        hc_conn_close(c);
        free(c);
        hc_response_free(&resp);
        return failed ? 1 : 0;
}

/* Waits until the server answers its liveness route with 200. */
static int run_ping(const struct options *opt)
{
        const struct flavour_desc *f = &flavours[opt->flavour];
        struct hc_response resp = {0};
        uint64_t deadline = hc_now_ns() + (uint64_t)(opt->wait_sec * 1e9);
        int last = 0;

        for (;;) {
                struct hc_conn *c = client_new(opt);
                if (!c)
                        return 2;
                int r = hc_request(c, "GET", f->ping_path, NULL, NULL, &resp);
                hc_conn_close(c);
                free(c);
                if (r == 0 && resp.status == 200) {
                        hc_response_free(&resp);
                        return 0;
                }
                last = r < 0 ? r : -EPROTO;
                if (hc_now_ns() > deadline)
                        break;
                usleep(50 * 1000);
        }
        fprintf(stderr, "volbench: %s on %s did not answer %s: %s\n", f->name, opt->socket_path,
                f->ping_path, strerror(-last));
        hc_response_free(&resp);
        return 1;
}

static void usage(FILE *out)
{
        fputs("usage: volbench -s SOCKET -t volman|podman [options] OP\n"
              "OP:\n"
              "  ping     wait until the server answers (-w SECONDS)\n"
              "  create   create volumes PREFIX<start>..PREFIX<start+n-1>\n"
              "  inspect  inspect them\n"
              "  delete   delete them\n"
              "  list     list all volumes -r times on one connection\n"
              "options:\n"
              "  -n N        volumes (default 1000)\n"
              "  -o START    first volume index (default 0)\n"
              "  -c CLIENTS  concurrent clients, one connection each (default 1)\n"
              "  -p PREFIX   volume name prefix (default vb-)\n"
              "  -r RUNS     list runs (default 5, at most 1024)\n"
              "  -e COUNT    list: fail unless exactly COUNT volumes are listed\n"
              "  -w SECONDS  ping: how long to wait (default 30)\n"
              "Prints one RESULT line; exits 1 if any request failed.\n",
              out);
}

static int parse_long(const char *s, long min, long max, long *ret)
{
        char *end;

        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv)
{
        struct options opt = {
            .prefix = "vb-",
            .count = 1000,
            .clients = 1,
            .runs = 5,
            .expect = -1,
            .wait_sec = 30,
        };
        long v;
        int ch;

        while ((ch = getopt(argc, argv, "s:t:n:o:c:p:r:e:w:h")) != -1) {
                switch (ch) {
                case 's':
                        opt.socket_path = optarg;
                        break;
                case 't':
                        if (strcmp(optarg, "volman") == 0)
                                opt.flavour = FLAVOUR_VOLMAN;
                        else if (strcmp(optarg, "podman") == 0)
                                opt.flavour = FLAVOUR_PODMAN;
                        else
                                goto bad;
                        break;
                case 'n':
                        if (parse_long(optarg, 1, 10000000, &opt.count) < 0)
                                goto bad;
                        break;
                case 'o':
                        if (parse_long(optarg, 0, 9000000, &opt.start) < 0)
                                goto bad;
                        break;
                case 'c':
                        if (parse_long(optarg, 1, MAX_CLIENTS, &v) < 0)
                                goto bad;
                        opt.clients = (int)v;
                        break;
                case 'p':
                        if (strlen(optarg) > MAX_NAME_BYTES - 8)
                                goto bad;
                        opt.prefix = optarg;
                        break;
                case 'r':
                        if (parse_long(optarg, 1, 1024, &v) < 0)
                                goto bad;
                        opt.runs = (int)v;
                        break;
                case 'e':
                        if (parse_long(optarg, 0, LONG_MAX, &opt.expect) < 0)
                                goto bad;
                        break;
                case 'w':
                        if (parse_long(optarg, 0, 3600, &v) < 0)
                                goto bad;
                        opt.wait_sec = (double)v;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        goto bad;
                }
        }
        if (!opt.socket_path || optind != argc - 1)
                goto bad;
        const char *op = argv[optind];
        if (strcmp(op, "ping") == 0)
                return run_ping(&opt);
        if (strcmp(op, "list") == 0)
                return run_list(&opt);
        if (strcmp(op, "create") == 0)
                opt.op = OP_CREATE;
        else if (strcmp(op, "inspect") == 0)
                opt.op = OP_INSPECT;
        else if (strcmp(op, "delete") == 0)
                opt.op = OP_DELETE;
        else
                goto bad;
        signal(SIGPIPE, SIG_IGN);
        return run_ops(&opt);
bad:
        usage(stderr);
        return 2;
}
