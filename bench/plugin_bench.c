/* plugin_bench: latency of the volume plugin protocol's Mount and Unmount on volmand's
 * plugin socket, the way dockerd calls them: one keep-alive connection, a fresh mount ID per
 * Mount, the matching Unmount right after, then a Get of the volume: the same exchange with a
 * store read and no write, which shows what the write adds.
 *
 *   plugin_bench -s PLUGIN_SOCKET -v VOLUME [-n N] [-w WARMUP]
 *   plugin_bench -f FILE [-n N]      the floor: N in-place 4 KiB writes to FILE, each fdatasync'd
 *
 * It is a benchmark, not a test: it prints one RESULT line per call type and exits non-zero
 * when any request failed (HTTP status other than 200, or an answer with a non-empty Err).
 * The HTTP client is bench/httpc.c, shared with bench/volbench.c: raw sockets, one buffered
 * reader, Content-Length and chunked bodies, every buffer bounded. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"

#define MAX_BODY_BYTES ((size_t)1 << 20)
#define MAX_NAME_BYTES 128
#define MAX_N 1000000
#define IO_TIMEOUT_SECONDS 60
#define MAX_REPORTED_FAILURES 5

#define PLUGIN_TYPE "application/vnd.docker.plugins.v1.1+json"

static int reported_failures;

/* POSTs body to path on the plugin socket; see hc_request. */
static int plugin_post(struct hc_conn *c, const char *path, const char *body,
                       struct hc_response *resp)
{
        return hc_request(c, "POST", path, PLUGIN_TYPE, body, resp);
}

/* A plugin answer succeeded: 200 and no Err, or an empty one. */
static bool answer_ok(const struct hc_response *resp)
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

static void report(const char *op, uint32_t *lat, long n, long failed, long connects)
{
        double sum = 0;
        for (long i = 0; i < n; i++)
                sum += lat[i];
        qsort(lat, (size_t)n, sizeof(*lat), hc_cmp_u32);
        printf("RESULT op=%s n=%ld ok=%ld fail=%ld mean_us=%.1f median_us=%u p90_us=%u p99_us=%u "
               "max_us=%u connects=%ld status=%s\n",
               op, n, n - failed, failed, n ? sum / (double)n : 0.0,
               hc_percentile(lat, (size_t)n, 50), hc_percentile(lat, (size_t)n, 90),
               hc_percentile(lat, (size_t)n, 99), n ? lat[n - 1] : 0, connects,
               failed ? "FAILED" : "ok");
}

static void fail_once(const char *what, long i, int r, const struct hc_response *resp)
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
                uint64_t t0 = hc_now_ns();
                off_t at = (off_t)(i % 16) * (off_t)sizeof(block);
                if (pwrite(fd, block, sizeof(block), at) != (ssize_t)sizeof(block) || fdatasync(fd) < 0)
                        failed++;
                lat[i] = (uint32_t)((hc_now_ns() - t0) / 1000);
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
                     "pairs, each followed by a Get of VOLUME (a read, no write); prints one\n"
                     "RESULT line each for Mount, Unmount and Get.\n"
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

        const struct hc_options copt = {
            .socket_path = sock,
            .host = "plugin",
            .user_agent = "plugin_bench",
            .io_timeout_sec = IO_TIMEOUT_SECONDS,
            .max_body = MAX_BODY_BYTES,
            /* The plugin protocol always has a body of known length. */
            .body_until_eof = false,
        };
        static struct hc_conn c; /* static: its read buffer is too big for the stack */
        hc_conn_init(&c, &copt);
        struct hc_response resp = {0};
        uint32_t *mount_us = calloc((size_t)n, sizeof(uint32_t));
        uint32_t *unmount_us = calloc((size_t)n, sizeof(uint32_t));
        uint32_t *get_us = calloc((size_t)n, sizeof(uint32_t));
        if (!mount_us || !unmount_us || !get_us) {
                fprintf(stderr, "plugin_bench: out of memory\n");
                return 1;
        }
        char body[512], get_body[256];
        long mount_failed = 0, unmount_failed = 0, get_failed = 0, warm_failed = 0;
        snprintf(get_body, sizeof(get_body), "{\"Name\":\"%s\"}", volume);
        int r = plugin_post(&c, "/Plugin.Activate", "{}", &resp);
        if (r < 0 || resp.status != 200) {
                fail_once("Plugin.Activate", 0, r, &resp);
                return 1;
        }
        for (long i = -warmup; i < n; i++) {
                /* Docker's mount IDs are 32 random bytes in hex; a counter is as unique. */
                snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"ID\":\"%s-%058ld\"}", volume, prefix,
                         i + warmup);
                uint64_t t0 = hc_now_ns();
                r = plugin_post(&c, "/VolumeDriver.Mount", body, &resp);
                uint64_t t1 = hc_now_ns();
                bool ok = r == 0 && answer_ok(&resp) && strstr(resp.body, "\"Mountpoint\"");
                if (!ok)
                        fail_once("Mount", i, r, &resp);
                uint64_t t2 = hc_now_ns();
                int r2 = plugin_post(&c, "/VolumeDriver.Unmount", body, &resp);
                uint64_t t3 = hc_now_ns();
                bool ok2 = r2 == 0 && answer_ok(&resp);
                if (!ok2)
                        fail_once("Unmount", i, r2, &resp);
                uint64_t t4 = hc_now_ns();
                int r3 = plugin_post(&c, "/VolumeDriver.Get", get_body, &resp);
                uint64_t t5 = hc_now_ns();
                bool ok3 = r3 == 0 && answer_ok(&resp) && strstr(resp.body, "\"Volume\"");
                if (!ok3)
                        fail_once("Get", i, r3, &resp);
                if (i < 0) {
                        warm_failed += !ok + !ok2 + !ok3;
                        continue;
                }
                mount_us[i] = (uint32_t)((t1 - t0) / 1000);
                unmount_us[i] = (uint32_t)((t3 - t2) / 1000);
                get_us[i] = (uint32_t)((t5 - t4) / 1000);
                mount_failed += !ok;
                unmount_failed += !ok2;
                get_failed += !ok3;
        }
        report("mount", mount_us, n, mount_failed, c.connects);
        report("unmount", unmount_us, n, unmount_failed, c.connects);
        report("get", get_us, n, get_failed, c.connects);
        if (warm_failed)
                fprintf(stderr, "plugin_bench: %ld warm-up requests failed\n", warm_failed);
        hc_conn_close(&c);
        hc_response_free(&resp);
        free(mount_us);
        free(unmount_us);
        free(get_us);
        return mount_failed || unmount_failed || get_failed || warm_failed ? 1 : 0;
}
