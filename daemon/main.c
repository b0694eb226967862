/* volmand: the volume daemon. Owns volume metadata and data, serves the REST
 * API on a unix socket. The only place (with the CLI's main) that prints. */
#include <errno.h>
#include <getopt.h>
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

#define DEFAULT_ROOT "/var/lib/volman"
#define DEFAULT_SOCKET "/run/volman/volman.sock"
#define DEFAULT_PLUGIN_SOCKET "/run/docker/plugins/volman.sock"

/* One log line. Messages quote what requests held (names, ids): every
 * control character (C0, DEL, C1) is written escaped, so no request can
 * forge a log line or drive an operator's terminal. */
static void log_line(const char *level, const char *msg)
{
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        char out[4096];
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *)msg; *p && n + 8 < sizeof(out); p++) {
                unsigned c = *p;
                if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* C1 control in UTF-8 */
                        n += (size_t)snprintf(out + n, sizeof(out) - n, "\\u%04x", p[1]);
                        p++;
                } else if (c < 0x20 || c == 0x7f || c == '\\') {
                        n += (size_t)snprintf(out + n, sizeof(out) - n, c == '\\' ? "\\\\" : "\\x%02x", c);
                } else {
                        out[n++] = (char)c;
                }
        }
        out[n] = 0;
        fprintf(stderr, "%s volmand %s: %s\n", ts, level, out);
}

static void die_now(void)
{
        kill(getpid(), SIGKILL);
        _exit(137);
}

/* A size flag's value in bytes; exits with a message when malformed. */
static uint64_t size_flag(const char *flag, const char *text)
{
        uint64_t n = 0;
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_parse_size(flag, text, &n, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                exit(2);
        }
        return n;
}

/* The group id of name (or a number). Prints why not. */
static int group_id(const char *name, unsigned *ret)
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
        fprintf(stderr, "volmand: --socket-group: no group called %s\n", name);
        return -1;
}

/* HOST:PORT, [V6]:PORT or :PORT (every address) into host and port. Prints why not. */
static int split_listen(const char *addr, char host[256], char port[16])
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
                fprintf(stderr, "volmand: --listen %s: give HOST:PORT, [IPV6]:PORT or :PORT\n", addr);
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
                vol_error_clear(&err);
                return 1;
        }
        snprintf(msg, sizeof(msg), "serving HTTPS on %s%s%s:%d with %s certificate %s%s",
                 strchr(host, ':') ? "[" : "", *host ? host : "*", strchr(host, ':') ? "]" : "",
                 vol_http_port(*ret), cert ? "the" : made ? "a new self-signed" : "the self-signed", fp,
                 cert ? "" : " (under ROOT/tls; give --tls-cert and --tls-key to use your own)");
        log_line("info", msg);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: volmand [OPTIONS]\n"
                "\n"
                "The volman daemon: owns volume metadata and data and serves the REST API.\n"
                "\n"
                "  --root DIR            data root: metadata store and volume data (default %s)\n"
                "  --socket PATH         REST API socket (default %s; env VOLMAN_SOCKET)\n"
                "  --plugin-socket PATH  Docker/Podman volume plugin socket (default %s;\n"
                "                        env VOLMAN_PLUGIN_SOCKET; \"none\" turns it off)\n"
                "  --prefix NAME         prefix of scoped volume names (default volman)\n"
                "  --default-driver NAME driver for volumes created without one (default local)\n"
                "  --engine URL          container engine for app deploys, unix:///path/docker.sock\n"
                "                        (dockerd or Podman's service; env VOLMAN_ENGINE)\n"
                "  --engine-driver NAME  the name the engine knows volman's plugin by (default volman)\n"
                "  --memory-max-total SIZE  memory all memory-backed (tmpfs) volumes may hold\n"
                "                        together (default: a quarter of the host's RAM)\n"
                "  --memory-max-volume SIZE memory one such volume may hold (default 8g)\n"
                "  --btrfs-root DIR      a directory on a btrfs filesystem: the btrfs driver keeps\n"
                "                        a subvolume per volume there (quotas are enabled on it)\n"
                "  --socket-group GROUP  group of the REST socket (mode 0660), for admins who\n"
                "                        are not root (default: root's)\n"
                "  --listen HOST:PORT    also serve the API, /metrics and the web console over\n"
                "                        HTTPS there, to token holders ([::]:8443, 0.0.0.0:8443)\n"
                "  --tls-cert FILE       the listener's PEM certificate (chain); with --tls-key\n"
                "  --tls-key FILE        its key; without both, a self-signed certificate is made\n"
                "                        under ROOT/tls at first start and its fingerprint logged\n"
                "  --version             print the version and exit\n"
                "  --help                print this help and exit\n"
                "\n"
                "Environment, for tests: VOLMAN_FAILPOINT=NAME[:N][=kill|eio] makes the daemon\n"
                "kill itself, or fail as if the disk had, at a named point (docs/api.md);\n"
                "VOLMAN_BOOT_ID overrides the kernel's boot id (to test what a reboot voids).\n",
                DEFAULT_ROOT, DEFAULT_SOCKET, DEFAULT_PLUGIN_SOCKET);
}

int main(int argc, char **argv)
{
        const char *root = DEFAULT_ROOT;
        const char *socket_path = getenv("VOLMAN_SOCKET");
        const char *prefix = "volman";
        const char *default_driver = "local";
        const char *engine = getenv("VOLMAN_ENGINE");
        const char *engine_driver = "volman";
        uint64_t memory_total = 0, memory_volume = 0;
        const char *socket_group = NULL, *listen_addr = NULL, *tls_cert = NULL, *tls_key = NULL;
        const char *btrfs_root = NULL;
        if (!socket_path || !*socket_path)
                socket_path = DEFAULT_SOCKET;
        const char *plugin_path = getenv("VOLMAN_PLUGIN_SOCKET");
        if (!plugin_path || !*plugin_path)
                plugin_path = DEFAULT_PLUGIN_SOCKET;

        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"socket", required_argument, NULL, 's'},
                {"prefix", required_argument, NULL, 'p'},
                {"plugin-socket", required_argument, NULL, 'P'},
                {"engine", required_argument, NULL, 'e'},
                {"engine-driver", required_argument, NULL, 'E'},
                {"default-driver", required_argument, NULL, 'd'},
                {"memory-max-total", required_argument, NULL, 'M'},
                {"memory-max-volume", required_argument, NULL, 'm'},
                {"socket-group", required_argument, NULL, 'g'},
                {"btrfs-root", required_argument, NULL, 'B'},
                {"listen", required_argument, NULL, 'l'},
                {"tls-cert", required_argument, NULL, 'C'},
                {"tls-key", required_argument, NULL, 'K'},
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'r': root = optarg; break;
                case 's': socket_path = optarg; break;
                case 'p': prefix = optarg; break;
                case 'P': plugin_path = optarg; break;
                case 'e': engine = optarg; break;
                case 'E': engine_driver = optarg; break;
                case 'd': default_driver = optarg; break;
                case 'M': memory_total = size_flag("--memory-max-total", optarg); break;
                case 'm': memory_volume = size_flag("--memory-max-volume", optarg); break;
                case 'g': socket_group = optarg; break;
                case 'B': btrfs_root = optarg; break;
                case 'l': listen_addr = optarg; break;
                case 'C': tls_cert = optarg; break;
                case 'K': tls_key = optarg; break;
                case 'V': puts("volmand " VOLMAN_VERSION); return 0;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "volmand: unexpected argument %s\n", argv[optind]);
                usage(stderr);
                return 2;
        }
        if (root[0] != '/') {
                fprintf(stderr, "volmand: --root must be an absolute path\n");
                return 2;
        }
        unsigned gid = 0;
        if (socket_group && group_id(socket_group, &gid) < 0)
                return 2;
        char host[256] = "", port[16] = "";
        if (listen_addr && split_listen(listen_addr, host, port) < 0)
                return 2;
        if (!tls_cert != !tls_key) {
                fprintf(stderr, "volmand: --tls-cert and --tls-key go together\n");
                return 2;
        }
        if (tls_cert && !listen_addr) {
                fprintf(stderr, "volmand: --tls-cert and --tls-key are for --listen\n");
                return 2;
        }

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

        vol_service_set_log(log_line);
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_failpoint_configure(getenv("VOLMAN_FAILPOINT"), &err) < 0) {
                fprintf(stderr, "volmand: VOLMAN_FAILPOINT: %s\n", vol_error_message(&err));
                return 2;
        }
        vol_failpoint_set_killer(die_now);
        struct vol_service_config cfg = {
                .root = root,
                .store_backend = "sqlite",
                .name_prefix = prefix,
                .default_driver = default_driver,
                .engine = engine && *engine ? engine : NULL,
                .engine_driver = engine_driver,
                .memory_max_total = memory_total,
                .memory_max_volume = memory_volume,
                .boot_id = getenv("VOLMAN_BOOT_ID"),
                .btrfs_root = btrfs_root,
        };
        struct vol_service *svc = NULL;
        if (vol_service_open(&cfg, &svc, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                return 1;
        }
        malloc_trim(0);
        /* The HTTPS listener first: once the unix socket answers, every face is up. */
        struct vol_tls *tls = NULL;
        struct vol_http_server *listener = NULL;
        if (listen_addr && start_listener(root, host, port, tls_cert, tls_key, svc, &tls, &listener)) {
                vol_tls_free(tls);
                vol_service_close(svc);
                return 1;
        }
        struct vol_http_server *api = NULL;
        if (vol_api_start(socket_path, gid, svc, &api, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                vol_http_stop(listener);
                vol_tls_free(tls);
                vol_service_close(svc);
                return 1;
        }
        struct vol_http_server *plugin = NULL;
        bool with_plugin = strcmp(plugin_path, "none") != 0;
        if (with_plugin && vol_plugin_start(plugin_path, svc, &plugin, &err) < 0) {
                if (err.code == -EADDRINUSE) { /* another volmand serves the engines: not ours to take */
                        fprintf(stderr, "volmand: plugin socket: %s\n", vol_error_message(&err));
                        vol_error_clear(&err);
                        vol_http_stop(api);
                        vol_http_stop(listener);
                        vol_tls_free(tls);
                        vol_service_close(svc);
                        return 1;
                }
                /* The REST API works without it; the engines cannot use volman until a restart. */
                char msg[1024];
                snprintf(msg, sizeof(msg),
                         "the volume plugin socket %s cannot be served (%s); serving the REST API only, "
                         "so Docker and Podman cannot use volman volumes until volmand is restarted "
                         "with a usable --plugin-socket",
                         plugin_path, vol_error_message(&err));
                log_line("warning", msg);
                vol_error_clear(&err);
                with_plugin = false;
        }
        char msg[1024];
        snprintf(msg, sizeof(msg), "volmand %s serving the API on %s%s%s, data under %s", VOLMAN_VERSION,
                 socket_path, with_plugin ? " and the volume plugin on " : "",
                 with_plugin ? plugin_path : "", root);
        log_line("info", msg);

        int sig;
        do {
                struct timespec minute = {.tv_sec = 60};
                sig = sigtimedwait(&sigs, NULL, &minute);
                if (sig < 0 && errno == EAGAIN)
                        vol_service_tick(svc);
        } while (sig < 0);
        snprintf(msg, sizeof(msg), "signal %d: shutting down", sig);
        log_line("info", msg);
        vol_http_stop(listener);
        vol_tls_free(tls);
        vol_http_stop(plugin);
        vol_http_stop(api);
        vol_service_close(svc);
        log_line("info", "stopped");
        return 0;
}
