/* volmand: the volume daemon. Owns volume metadata and data, serves the REST
 * API on a unix socket. The only place (with the CLI's main) that prints. */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/http_tls.h"
#include "core/failpoint.h"
#include "core/size.h"
#include "service/service.h"

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "net/http_client.h"

static void die_now(void)
{
        kill(getpid(), SIGKILL);
        _exit(137);
}

/* A size setting's value in bytes (already checked: see daemon/config.c);
 * 0 when unset. */
static uint64_t size_value(const char *text)
{
        uint64_t n = 0;
        if (text && vol_parse_size("size", text, &n, NULL) < 0)
                n = 0;
        return n;
}

/* Seconds in "90s", "15m", "2h" or "600" (1 s to 24 h), or -1. */
static int64_t duration_value(const char *text)
{
        if (!text || !*text)
                return -1;
        char *end;
        long long n = strtoll(text, &end, 10);
        int64_t unit = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : 0;
        if (end == text || unit == 0 || n <= 0 || n > 86400 || n * unit > 86400)
                return -1;
        return (int64_t)n * unit;
}

/* The group id of name (or a number). Prints why not, naming where. */
static int group_id(const char *where, const char *name, unsigned *ret)
{
        struct group *g = getgrnam(name);
        char *end;
        unsigned long n = strtoul(name, &end, 10);
        if (g) {
                *ret = (unsigned)g->gr_gid;
                return 0;
        }
        if (*name && !*end && n < 0xffffffffUL) {
                *ret = (unsigned)n;
                return 0;
        }
        fprintf(stderr, "volmand: %s: no group called %s\n", where, name);
        return -1;
}

/* HOST:PORT, [V6]:PORT or :PORT (every address) into host and port. Prints
 * why not, naming where. */
static int split_listen(const char *where, const char *addr, char host[256], char port[16])
{
        const char *colon = strrchr(addr, ':');
        size_t hl = colon ? (size_t)(colon - addr) : 0;
        const char *h = addr;
        if (colon && hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
                h++;
                hl -= 2;
        }
        char *end;
        unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
        if (!colon || !colon[1] || *end || p > 65535 || hl >= 256 || memchr(h, '[', hl) || memchr(h, ']', hl)) {
                fprintf(stderr, "volmand: %s %s: give HOST:PORT, [IPV6]:PORT or :PORT\n", where, addr);
                return -1;
        }
        memcpy(host, h, hl);
        host[hl] = 0;
        snprintf(port, 16, "%lu", p);
        return 0;
}

/* Starts the TLS listener. Returns 0, or 1 with the reason printed. */
static int start_listener(const char *root, const char *host, const char *port, const char *cert,
                          const char *key, struct vol_service *svc, struct vol_tls **ret_tls,
                          struct vol_http_server **ret)
{
        struct vol_error err = VOL_ERROR_INIT;
        char fp[VOL_TLS_FINGERPRINT_MAX], msg[1024];
        bool made = false;
        int r;
        if (cert) {
                r = vol_tls_load(cert, key, ret_tls, fp, &err);
        } else {
                char dir[4096];
                snprintf(dir, sizeof(dir), "%s/tls", root);
                r = vol_tls_self_signed(dir, host, ret_tls, fp, &made, &err);
        }
        struct vol_api_listen l = {.host = host, .port = port, .tls = *ret_tls};
        if (r >= 0)
                r = vol_api_start_tls(&l, svc, ret, &err);
        if (r < 0) {
                fprintf(stderr, "volmand: --listen: %s\n", vol_error_message(&err));
                volmand_notifyf("STATUS=failed: the HTTPS listener: %s", vol_error_message(&err));
                vol_error_clear(&err);
                return 1;
        }
        snprintf(msg, sizeof(msg), "serving HTTPS on %s%s%s:%d with %s certificate %s%s",
                 strchr(host, ':') ? "[" : "", *host ? host : "*", strchr(host, ':') ? "]" : "",
                 vol_http_port(*ret), cert ? "the" : made ? "a new self-signed" : "the self-signed", fp,
                 cert ? "" : " (under ROOT/tls; give --tls-cert and --tls-key to use your own)");
        volmand_log("info", msg);
        return 0;
}

/* Tells the service manager the start failed, and why (one line). */
static void notify_failed(const char *why)
{
        char line[512];
        snprintf(line, sizeof(line), "%s", why);
        for (char *p = line; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        volmand_notifyf("STATUS=failed: %s", line);
}

/* The watchdog's check: the REST socket answers a health request (any
 * status: a degraded store is alive, and a restart would not mend it). */
static bool api_answers(const char *socket_path, int timeout_ms)
{
        struct vol_http_call call = {.socket_path = socket_path,
                                     .method = "GET",
                                     .target = "/v1/health",
                                     .answer_max = 4096,
                                     .timeout_ms = timeout_ms};
        struct vol_strbuf body;
        vol_strbuf_init(&body, 4096);
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_http_call(&call, &body, &err);
        vol_strbuf_free(&body);
        if (r < 0) {
                char msg[1024];
                snprintf(msg, sizeof(msg), "watchdog: the API socket %s did not answer (%s); not pinging",
                         socket_path, vol_error_message(&err));
                volmand_log("warning", msg);
        }
        vol_error_clear(&err);
        return r >= 0;
}

static uint64_t now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits for SIGTERM or SIGINT and returns it, doing the minute's
 * housekeeping and, when the service manager asks for it, pinging its
 * watchdog at half its timeout while the API answers. */
static int serve_until_signal(const sigset_t *sigs, struct vol_service *svc, const char *socket_path)
{
        uint64_t watchdog = volmand_watchdog_usec();
        uint64_t interval = watchdog / 2;
        uint64_t next_tick = now_us() + 60u * 1000000u, next_ping = now_us();
        for (;;) {
                uint64_t now = now_us();
                if (interval && now >= next_ping) {
                        int check_ms = (int)(watchdog / 4000u);
                        if (api_answers(socket_path, check_ms < 100 ? 100 : check_ms > 5000 ? 5000 : check_ms))
                                volmand_notify("WATCHDOG=1");
                        next_ping = now + interval;
                        now = now_us();
                }
                if (now >= next_tick) {
                        vol_service_tick(svc);
                        next_tick = now + 60u * 1000000u;
                }
                uint64_t until = next_tick;
                if (interval && next_ping < until)
                        until = next_ping;
                uint64_t wait = until > now ? until - now : 0;
                struct timespec ts = {.tv_sec = (time_t)(wait / 1000000u), .tv_nsec = (long)(wait % 1000000u) * 1000};
                int sig = sigtimedwait(sigs, NULL, &ts);
                if (sig > 0)
                        return sig;
        }
}

int main(int argc, char **argv)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct volmand_config conf;
        if (volmand_config_load(argc, argv, &conf, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                const char *m = vol_error_message(&err);
                if (strncmp(m, "unknown option", 14) == 0 || strncmp(m, "unexpected argument", 19) == 0 ||
                    strstr(m, " needs a value"))
                        fputs("Run 'volmand --help' for the options.\n", stderr);
                vol_error_clear(&err);
                return 2;
        }
        switch (conf.action) {
        case VOLMAND_HELP:
                volmand_usage(stdout);
                volmand_config_free(&conf);
                return 0;
        case VOLMAND_VERSION:
                puts("volmand " VOLMAN_VERSION);
                volmand_config_free(&conf);
                return 0;
        case VOLMAND_PRINT_CONFIG:
                volmand_config_print(&conf, stdout);
                volmand_config_free(&conf);
                return fflush(stdout) == 0 ? 0 : 1;
        case VOLMAND_RUN:
                break;
        }
        const char *const *v = conf.value;
        char where[512];
        const char *root = v[VOLMAND_ROOT];
        const char *socket_path = v[VOLMAND_SOCKET];
        const char *plugin_path = v[VOLMAND_PLUGIN_SOCKET];
        const char *listen_addr = v[VOLMAND_LISTEN];
        const char *tls_cert = v[VOLMAND_TLS_CERT], *tls_key = v[VOLMAND_TLS_KEY];
        int rc = 2;
        if (root[0] != '/') {
                fprintf(stderr, "volmand: %s must be an absolute path\n",
                        volmand_config_where(&conf, VOLMAND_ROOT, where));
                goto out;
        }
        unsigned gid = 0;
        if (v[VOLMAND_SOCKET_GROUP] &&
            group_id(volmand_config_where(&conf, VOLMAND_SOCKET_GROUP, where), v[VOLMAND_SOCKET_GROUP], &gid) < 0)
                goto out;
        char host[256] = "", port[16] = "";
        if (listen_addr &&
            split_listen(volmand_config_where(&conf, VOLMAND_LISTEN, where), listen_addr, host, port) < 0)
                goto out;
        if (!tls_cert != !tls_key) {
                fprintf(stderr, "volmand: --tls-cert and --tls-key go together\n");
                goto out;
        }
        if (tls_cert && !listen_addr) {
                fprintf(stderr, "volmand: --tls-cert and --tls-key are for --listen\n");
                goto out;
        }
        const char *store = v[VOLMAND_STORE], *store_backend = "sqlite", *store_location = NULL;
        if (!strncmp(store, "etcd://", 7)) {
                store_backend = "etcd";
                store_location = store + 7;
        } else if (strcmp(store, "sqlite") != 0) {
                fprintf(stderr, "volmand: %s %s: sqlite, or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]\n",
                        volmand_config_where(&conf, VOLMAND_STORE, where), store);
                goto out;
        }
        const char *node = v[VOLMAND_NODE];
        if (!node && (v[VOLMAND_ADVERTISE] || v[VOLMAND_CLUSTER_SECRET_FILE])) {
                fprintf(stderr, "volmand: --advertise and --cluster-secret-file are for a cluster node (--node)\n");
                goto out;
        }
        if (!node && store_location) {
                fprintf(stderr, "volmand: an etcd store is shared by the nodes of a cluster: give this one a name "
                        "(--node)\n");
                goto out;
        }
        if (node && !listen_addr) {
                fprintf(stderr, "volmand: --node needs --listen: the other nodes call this one over HTTPS\n");
                goto out;
        }
        volmand_log_setup(v[VOLMAND_LOG_FORMAT]);
        vol_service_set_log_level((enum vol_log_level)vol_log_level_from_name(v[VOLMAND_LOG_LEVEL]));

        /* Signals are taken by sigwait below, in this thread only. */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* One descriptor per connection and per directory level walked. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }

        /* Few arenas, and list buffers (a few MiB) reused from the heap rather
         * than mapped and unmapped, and page-faulted in again, per request;
         * at most 8 MiB of free heap is kept. */
        mallopt(M_ARENA_MAX, 2);
        mallopt(M_MMAP_THRESHOLD, 8 << 20);
        mallopt(M_TRIM_THRESHOLD, 8 << 20);

        vol_service_set_log(volmand_log);
        if (vol_failpoint_configure(getenv("VOLMAN_FAILPOINT"), &err) < 0) {
                fprintf(stderr, "volmand: VOLMAN_FAILPOINT: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                goto out;
        }
        vol_failpoint_set_killer(die_now);
        rc = 1;
        const char *engine = v[VOLMAND_ENGINE];
        int64_t seed_ttl = duration_value(v[VOLMAND_SEED_TTL]);
        if (seed_ttl <= 0) {
                fprintf(stderr, "volmand: --seed-ttl %s: a duration such as 90s, 15m or 2h (at most 24h)\n",
                        v[VOLMAND_SEED_TTL]);
                goto out;
        }
        struct vol_service_config cfg = {
                .root = root,
                .store_backend = store_backend,
                .store_location = store_location,
                .node = node,
                .advertise = v[VOLMAND_ADVERTISE],
                .cluster_secret_file = v[VOLMAND_CLUSTER_SECRET_FILE],
                .name_prefix = v[VOLMAND_PREFIX],
                .default_driver = v[VOLMAND_DEFAULT_DRIVER],
                .engine = engine && *engine ? engine : NULL,
                .engine_driver = v[VOLMAND_ENGINE_DRIVER],
                .memory_max_total = size_value(v[VOLMAND_MEMORY_MAX_TOTAL]),
                .memory_max_volume = size_value(v[VOLMAND_MEMORY_MAX_VOLUME]),
                .boot_id = getenv("VOLMAN_BOOT_ID"),
                .btrfs_root = v[VOLMAND_BTRFS_ROOT],
                .secret_key_file = v[VOLMAND_SECRET_KEY_FILE],
                .con_init = v[VOLMAND_CON_INIT],
                .seed_ttl = seed_ttl,
                .seed_url = v[VOLMAND_SEED_URL],
        };
        volmand_notifyf("STATUS=opening the store and reconciling volumes under %s", root);
        struct vol_service *svc = NULL;
        if (vol_service_open(&cfg, &svc, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                notify_failed(vol_error_message(&err));
                vol_error_clear(&err);
                goto out;
        }
        malloc_trim(0);
        volmand_notify("STATUS=starting the listeners");
        /* The HTTPS listener first: once the unix socket answers, every face is up. */
        struct vol_tls *tls = NULL;
        struct vol_http_server *listener = NULL;
        if (listen_addr && start_listener(root, host, port, tls_cert, tls_key, svc, &tls, &listener)) {
                vol_tls_free(tls);
                vol_service_close(svc);
                goto out;
        }
        struct vol_http_server *api = NULL;
        if (vol_api_start(socket_path, gid, svc, &api, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                notify_failed(vol_error_message(&err));
                vol_error_clear(&err);
                vol_http_stop(listener);
                vol_tls_free(tls);
                vol_service_close(svc);
                goto out;
        }
        struct vol_http_server *plugin = NULL;
        bool with_plugin = strcmp(plugin_path, "none") != 0;
        if (with_plugin && vol_plugin_start(plugin_path, svc, &plugin, &err) < 0) {
                if (err.code == -EADDRINUSE) { /* another volmand serves the engines: not ours to take */
                        fprintf(stderr, "volmand: plugin socket: %s\n", vol_error_message(&err));
                        notify_failed(vol_error_message(&err));
                        vol_error_clear(&err);
                        vol_http_stop(api);
                        vol_http_stop(listener);
                        vol_tls_free(tls);
                        vol_service_close(svc);
                        goto out;
                }
                /* The REST API works without it; the engines cannot use volman until a restart. */
                char msg[1024];
                snprintf(msg, sizeof(msg),
                         "the volume plugin socket %s cannot be served (%s); serving the REST API only, "
                         "so Docker and Podman cannot use volman volumes until volmand is restarted "
                         "with a usable --plugin-socket",
                         plugin_path, vol_error_message(&err));
                volmand_log("warning", msg);
                vol_error_clear(&err);
                with_plugin = false;
        }
        char msg[1024];
        snprintf(msg, sizeof(msg), "volmand %s serving the API on %s%s%s, data under %s", VOLMAN_VERSION,
                 socket_path, with_plugin ? " and the volume plugin on " : "",
                 with_plugin ? plugin_path : "", root);
        volmand_log("info", msg);
        /* Reconciled, and every listener answers: ready. */
        volmand_notifyf("READY=1\nSTATUS=serving the API on %s%s%s%s", socket_path,
                        with_plugin ? ", the volume plugin on " : "", with_plugin ? plugin_path : "",
                        listener ? " and HTTPS" : "");

        int sig = serve_until_signal(&sigs, svc, socket_path);
        snprintf(msg, sizeof(msg), "signal %d: shutting down", sig);
        volmand_log("info", msg);
        volmand_notifyf("STOPPING=1\nSTATUS=shutting down (signal %d)", sig);
        vol_http_stop(listener);
        vol_tls_free(tls);
        vol_http_stop(plugin);
        vol_http_stop(api);
        vol_service_close(svc);
        volmand_log("info", "stopped");
        rc = 0;
out:
        volmand_config_free(&conf);
        return rc;
}
