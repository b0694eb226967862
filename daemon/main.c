/* volmand: the volume daemon. Owns volume metadata and data, serves the REST
 * API on a unix socket. The only place (with the CLI's main) that prints. */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api/api.h"
#include "service/service.h"

#define DEFAULT_ROOT "/var/lib/volman"
#define DEFAULT_SOCKET "/run/volman/volman.sock"
#define DEFAULT_PLUGIN_SOCKET "/run/docker/plugins/volman.sock"

static void log_line(const char *level, const char *msg)
{
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "%s volmand %s: %s\n", ts, level, msg);
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
                "  --version             print the version and exit\n"
                "  --help                print this help and exit\n"
                "\n"
                "Environment: VOLMAN_FAILPOINT=NAME[:N] makes the daemon kill itself at a named\n"
                "point (tests of crash recovery; see docs/api.md).\n",
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
        struct vol_service_config cfg = {
                .root = root,
                .store_backend = "sqlite",
                .name_prefix = prefix,
                .default_driver = default_driver,
                .engine = engine && *engine ? engine : NULL,
                .engine_driver = engine_driver,
        };
        struct vol_service *svc = NULL;
        if (vol_service_open(&cfg, &svc, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                return 1;
        }
        malloc_trim(0);
        struct vol_http_server *api = NULL;
        if (vol_api_start(socket_path, svc, &api, &err) < 0) {
                fprintf(stderr, "volmand: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                vol_service_close(svc);
                return 1;
        }
        struct vol_http_server *plugin = NULL;
        bool with_plugin = strcmp(plugin_path, "none") != 0;
        if (with_plugin && vol_plugin_start(plugin_path, svc, &plugin, &err) < 0) {
                fprintf(stderr, "volmand: plugin socket: %s\n", vol_error_message(&err));
                vol_error_clear(&err);
                vol_http_stop(api);
                vol_service_close(svc);
                return 1;
        }
        char msg[1024];
        snprintf(msg, sizeof(msg), "volmand %s serving the API on %s%s%s, data under %s", VOLMAN_VERSION,
                 socket_path, with_plugin ? " and the volume plugin on " : "",
                 with_plugin ? plugin_path : "", root);
        log_line("info", msg);

        int sig = 0;
        sigwait(&sigs, &sig);
        snprintf(msg, sizeof(msg), "signal %d: shutting down", sig);
        log_line("info", msg);
        vol_http_stop(plugin);
        vol_http_stop(api);
        vol_service_close(svc);
        log_line("info", "stopped");
        return 0;
}
