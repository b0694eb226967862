/* plugin_bench: latency of the volume plugin protocol's Mount and Unmount on volmand's
 * plugin socket, the way dockerd calls them: one keep-alive connection, a fresh mount ID per
 * Mount, the matching Unmount right after.
 *
 *   plugin_bench -s PLUGIN_SOCKET -v VOLUME [-n N] [-w WARMUP]
 *   plugin_bench -f FILE [-n N]      the floor: N in-place 4 KiB writes to FILE, each fdatasync'd
 *
 * It is a benchmark, not a test: it prints one RESULT line per call type and exits non-zero
 * when any request failed (HTTP status other than 200, or an answer with a non-empty Err).
 * The HTTP client is the one of bench/volbench.c, cut down: raw sockets, one buffered
 * reader, Content-Length and chunked bodies, every buffer bounded. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF_SIZE (64 * 1024)
#define MAX_HEADER_BYTES (32 * 1024)
#define MAX_BODY_BYTES ((size_t)1 << 20)
#define MAX_REQUEST_BYTES 4096
#define MAX_NAME_BYTES 128
#define MAX_N 1000000
#define IO_TIMEOUT_SECONDS 60
#define MAX_REPORTED_FAILURES 5

struct conn {
        const char *socket_path;
        int fd;
        size_t off, len;
        long connects;
        char buf[READ_BUF_SIZE];
};

struct response {
        int status;
        bool keep_alive;
        char *body;
        size_t body_len, body_cap;
};

static int reported_failures;

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void conn_close(struct conn *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->off = c->len = 0;
}

static int conn_open(struct conn *c)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = IO_TIMEOUT_SECONDS};

        if (strlen(c->socket_path) >= sizeof(addr.sun_path))
                return -ENAMETOOLONG;
        strcpy(addr.sun_path, c->socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        c->fd = fd;
        c->off = c->len = 0;
        c->connects++;
        return 0;
}

static int conn_fill(struct conn *c)
{
        ssize_t n;

        if (c->off > 0 && c->off == c->len)
                c->off = c->len = 0;
        if (c->len == sizeof(c->buf)) {
                if (c->off == 0)
                        return -ENOBUFS;
                memmove(c->buf, c->buf + c->off, c->len - c->off);
                c->len -= c->off;
                c->off = 0;
        }
        do
                n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n == 0)
                return -ECONNRESET;
        c->len += (size_t)n;
        return 0;
}

/* One CRLF-terminated line (CRLF stripped) into out, at most out_size - 1 bytes. */
static int conn_read_line(struct conn *c, char *out, size_t out_size)
{
        for (;;) {
                char *start = c->buf + c->off;
                char *nl = memchr(start, '\n', c->len - c->off);
                if (nl) {
                        size_t n = (size_t)(nl - start);
                        if (n > 0 && start[n - 1] == '\r')
                                n--;
                        if (n >= out_size)
                                return -E2BIG;
                        memcpy(out, start, n);
                        out[n] = '\0';
                        c->off += (size_t)(nl - start) + 1;
                        return 0;
                }
                if (c->len - c->off >= out_size)
                        return -E2BIG;
                int r = conn_fill(c);
                if (r < 0)
                        return r;
        }
}

static int body_append(struct response *resp, const char *data, size_t n)
{
        if (resp->body_len + n > MAX_BODY_BYTES)
                return -EFBIG;
        if (resp->body_len + n + 1 > resp->body_cap) {
                size_t cap = resp->body_cap ? resp->body_cap : 4096;
                while (cap < resp->body_len + n + 1)
                        cap *= 2;
                char *p = realloc(resp->body, cap);
                if (!p)
                        return -ENOMEM;
                resp->body = p;
                resp->body_cap = cap;
        }
        memcpy(resp->body + resp->body_len, data, n);
        resp->body_len += n;
        resp->body[resp->body_len] = '\0';
        return 0;
}

static int conn_read_bytes(struct conn *c, struct response *resp, size_t n)
{
        while (n > 0) {
                if (c->off == c->len) {
                        int r = conn_fill(c);
                        if (r < 0)
                                return r;
                }
                size_t take = c->len - c->off;
                if (take > n)
                        take = n;
                int r = body_append(resp, c->buf + c->off, take);
                if (r < 0)
                        return r;
                c->off += take;
                n -= take;
        }
        return 0;
}

static int conn_read_chunked(struct conn *c, struct response *resp)
{
        char line[256];

        for (;;) {
                int r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                char *end;
                errno = 0;
                unsigned long long size = strtoull(line, &end, 16);
                if (end == line || errno || (*end && *end != ';' && *end != ' '))
                        return -EPROTO;
                if (size > MAX_BODY_BYTES)
                        return -EFBIG;
                if (size == 0)
                        break;
                if ((r = conn_read_bytes(c, resp, (size_t)size)) < 0 ||
                    (r = conn_read_line(c, line, sizeof(line))) < 0)
                        return r;
                if (line[0])
                        return -EPROTO;
        }
        for (int i = 0; i < 64; i++) {
                int r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                if (!line[0])
                        return 0;
        }
        return -EPROTO;
}

/* Status line, headers and body of one response. */
static int conn_read_response(struct conn *c, struct response *resp)
{
        char line[MAX_HEADER_BYTES];
        size_t header_bytes = 0;
        long long content_length = -1;
        bool chunked = false, close_conn = false;
        int minor = 1;

        resp->body_len = 0;
        if (resp->body)
                resp->body[0] = '\0';
        int r = conn_read_line(c, line, sizeof(line));
        if (r < 0)
                return r;
        if (sscanf(line, "HTTP/1.%d %d", &minor, &resp->status) != 2)
                return -EPROTO;
        close_conn = minor == 0;
        for (;;) {
                if ((r = conn_read_line(c, line, sizeof(line))) < 0)
                        return r;
                header_bytes += strlen(line) + 2;
                if (header_bytes > MAX_HEADER_BYTES)
                        return -E2BIG;
                if (!line[0])
                        break;
                char *colon = strchr(line, ':');
                if (!colon)
                        return -EPROTO;
                *colon = '\0';
                char *value = colon + 1 + strspn(colon + 1, " \t");
                if (strcasecmp(line, "Content-Length") == 0) {
                        char *end;
                        errno = 0;
                        content_length = strtoll(value, &end, 10);
                        if (errno || end == value || content_length < 0)
                                return -EPROTO;
                } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
                        chunked = strcasestr(value, "chunked") != NULL;
                } else if (strcasecmp(line, "Connection") == 0) {
                        if (strcasestr(value, "close"))
                                close_conn = true;
                        else if (strcasestr(value, "keep-alive"))
                                close_conn = false;
                }
        }
        if (resp->status == 100)
                return conn_read_response(c, resp);
        if (resp->status == 204 || resp->status == 304)
                r = 0;
        else if (chunked)
                r = conn_read_chunked(c, resp);
        else if (content_length >= 0)
                r = conn_read_bytes(c, resp, (size_t)content_length);
        else
                return -EPROTO; /* the plugin protocol always has a body of known length */
        resp->keep_alive = !close_conn;
        return r;
}

/* POSTs body to path and reads the answer. A kept-alive connection found closed before
 * any answer byte is reopened once. Returns 0 or negative errno; the status is in resp. */
static int conn_post(struct conn *c, const char *path, const char *body, struct response *resp)
{
        char req[MAX_REQUEST_BYTES];
        int n = snprintf(req, sizeof(req),
                         "POST %s HTTP/1.1\r\nHost: plugin\r\nUser-Agent: plugin_bench\r\n"
                         "Content-Type: application/vnd.docker.plugins.v1.1+json\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         path, strlen(body), body);
        if (n < 0 || (size_t)n >= sizeof(req))
                return -E2BIG;
        for (int attempt = 0; attempt < 2; attempt++) {
                bool fresh = false;
                if (c->fd < 0) {
                        int r = conn_open(c);
                        if (r < 0)
                                return r;
                        fresh = true;
                }
                size_t sent = 0;
                int r = 0;
                while (sent < (size_t)n) {
                        ssize_t w = send(c->fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = -errno;
                                break;
                        }
                        sent += (size_t)w;
                }
                if (r == 0)
                        r = conn_read_response(c, resp);
                if (r == 0) {
                        if (!resp->keep_alive)
                                conn_close(c);
                        return 0;
                }
                conn_close(c);
                if (fresh || (r != -ECONNRESET && r != -EPIPE))
                        return r;
        }
        return -ECONNRESET;
}

/* A plugin answer succeeded: 200 and no Err, or an empty one. */
static bool answer_ok(const struct response *resp)
{
        if (resp->status != 200)
                return false;
        const char *b = resp->body ? resp->body : "";
        const char *e = strstr(b, "\"Err\"");
        if (!e)
                return true;
        e += 5;
        e += strspn(e, " \t:");
        return strncmp(e, "\"\"", 2) == 0;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *sorted, size_t n, double p)
{
        if (n == 0)
                return 0;
        size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return sorted[rank - 1];
}

static void report(const char *op, uint32_t *lat, long n, long failed, long connects)
{
        double sum = 0;
        for (long i = 0; i < n; i++)
                sum += lat[i];
        qsort(lat, (size_t)n, sizeof(*lat), cmp_u32);
        printf("RESULT op=%s n=%ld ok=%ld fail=%ld mean_us=%.1f median_us=%u p90_us=%u p99_us=%u "
               "max_us=%u connects=%ld status=%s\n",
               op, n, n - failed, failed, n ? sum / (double)n : 0.0, percentile(lat, (size_t)n, 50),
               percentile(lat, (size_t)n, 90), percentile(lat, (size_t)n, 99),
               n ? lat[n - 1] : 0, connects, failed ? "FAILED" : "ok");
}

static void fail_once(const char *what, long i, int r, const struct response *resp)
{
        if (reported_failures++ >= MAX_REPORTED_FAILURES)
                return;
        if (r < 0)
                fprintf(stderr, "plugin_bench: %s #%ld: %s\n", what, i, strerror(-r));
        else
                fprintf(stderr, "plugin_bench: %s #%ld: HTTP %d %.300s\n", what, i, resp->status,
                        resp->body ? resp->body : "");
}

/* What one durable write costs on FILE's disk: 4 KiB written in place into a file whose
 * size never changes, then fdatasync (a SQLite WAL commit does at least that once, its
 * WAL reused from the start after each checkpoint). The file is removed afterwards. */
static int run_fsync_floor(const char *file, long n)
{
        char block[4096];
        uint32_t *lat = calloc((size_t)n, sizeof(uint32_t));
        int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (!lat || fd < 0) {
                fprintf(stderr, "plugin_bench: %s: %s\n", file, strerror(errno));
                free(lat);
                return 1;
        }
        memset(block, 'x', sizeof(block));
        long failed = 0;
        for (int i = 0; i < 16; i++)
                if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
                        failed++;
        if (fsync(fd) < 0)
                failed++;
        for (long i = 0; i < n; i++) {
                uint64_t t0 = now_ns();
                off_t at = (off_t)(i % 16) * (off_t)sizeof(block);
                if (pwrite(fd, block, sizeof(block), at) != (ssize_t)sizeof(block) || fdatasync(fd) < 0)
                        failed++;
                lat[i] = (uint32_t)((now_ns() - t0) / 1000);
        }
        close(fd);
        unlink(file);
        report("write+fdatasync", lat, n, failed, 0);
        free(lat);
        return failed ? 1 : 0;
}

static void usage(FILE *out)
{
        fprintf(out, "usage: plugin_bench -s PLUGIN_SOCKET -v VOLUME [-n N] [-w WARMUP] [-p ID_PREFIX]\n"
                     "       plugin_bench -f FILE [-n N]\n"
                     "Mounts and unmounts VOLUME N times (default 3000) over one keep-alive\n"
                     "connection, with a fresh ID per mount, after WARMUP (default 100) untimed\n"
                     "pairs; prints one RESULT line for Mount and one for Unmount.\n"
                     "With -f: N in-place 4 KiB writes to the new FILE, each fdatasync'd (the floor\n"
                     "of a durable write on that disk); FILE is removed afterwards.\n");
}

int main(int argc, char **argv)
{
        const char *sock = NULL, *volume = NULL, *prefix = "bench", *floor_file = NULL;
        long n = 3000, warmup = 100;
        int opt;

        while ((opt = getopt(argc, argv, "s:v:n:w:p:f:h")) != -1) {
                char *end;
                switch (opt) {
                case 's':
                        sock = optarg;
                        break;
                case 'v':
                        volume = optarg;
                        break;
                case 'p':
                        prefix = optarg;
                        break;
                case 'f':
                        floor_file = optarg;
                        break;
                case 'n':
                case 'w': {
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || *end || v < (opt == 'n' ? 1 : 0) || v > MAX_N) {
                                fprintf(stderr, "plugin_bench: bad -%c %s\n", opt, optarg);
                                return 2;
                        }
                        if (opt == 'n')
                                n = v;
                        else
                                warmup = v;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (floor_file)
                return run_fsync_floor(floor_file, n);
        if (!sock || !volume || strlen(volume) > MAX_NAME_BYTES || strlen(prefix) > 64 ||
            strpbrk(volume, "\"\\") || strpbrk(prefix, "\"\\")) {
                usage(stderr);
                return 2;
        }

        static struct conn c;
        c.socket_path = sock;
        c.fd = -1;
        struct response resp = {0};
        uint32_t *mount_us = calloc((size_t)n, sizeof(uint32_t));
        uint32_t *unmount_us = calloc((size_t)n, sizeof(uint32_t));
        if (!mount_us || !unmount_us) {
                fprintf(stderr, "plugin_bench: out of memory\n");
                return 1;
        }
        char body[512];
        long mount_failed = 0, unmount_failed = 0, warm_failed = 0;
        int r = conn_post(&c, "/Plugin.Activate", "{}", &resp);
        if (r < 0 || resp.status != 200) {
                fail_once("Plugin.Activate", 0, r, &resp);
                return 1;
        }
        for (long i = -warmup; i < n; i++) {
                /* Docker's mount IDs are 32 random bytes in hex; a counter is as unique. */
                snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"ID\":\"%s-%058ld\"}", volume, prefix,
                         i + warmup);
                uint64_t t0 = now_ns();
                r = conn_post(&c, "/VolumeDriver.Mount", body, &resp);
                uint64_t t1 = now_ns();
                bool ok = r == 0 && answer_ok(&resp) && strstr(resp.body, "\"Mountpoint\"");
                if (!ok)
                        fail_once("Mount", i, r, &resp);
                uint64_t t2 = now_ns();
                int r2 = conn_post(&c, "/VolumeDriver.Unmount", body, &resp);
                uint64_t t3 = now_ns();
                bool ok2 = r2 == 0 && answer_ok(&resp);
                if (!ok2)
                        fail_once("Unmount", i, r2, &resp);
                if (i < 0) {
                        warm_failed += !ok + !ok2;
                        continue;
                }
                mount_us[i] = (uint32_t)((t1 - t0) / 1000);
                unmount_us[i] = (uint32_t)((t3 - t2) / 1000);
                mount_failed += !ok;
                unmount_failed += !ok2;
        }
        report("mount", mount_us, n, mount_failed, c.connects);
        report("unmount", unmount_us, n, unmount_failed, c.connects);
        if (warm_failed)
                fprintf(stderr, "plugin_bench: %ld warm-up requests failed\n", warm_failed);
        conn_close(&c);
        free(resp.body);
        free(mount_us);
        free(unmount_us);
        return mount_failed || unmount_failed || warm_failed ? 1 : 0;
}
