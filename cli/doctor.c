/* `volman doctor`: what this host gives volman, what it lacks, and the fix
 * for each thing missing (docs/operations.md). Reads the kernel's features,
 * the engines' sockets and configuration, volmand's sockets and health and
 * the data root's free space; changes nothing but a test mount in a private
 * namespace that it undoes. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "output.h"

#define DEFAULT_ROOT "/var/lib/volman"
#define DEFAULT_PLUGIN_SOCKET "/run/docker/plugins/volman.sock"

static const char usage[] =
    "Usage: volman doctor [--root DIR] [--plugin-socket PATH] [--json]\n"
    "\n"
    "Checks what this host gives volman: the kernel features it uses (openat2,\n"
    "tmpfs mounts, loop devices, btrfs), the container engines found and whether\n"
    "each one sees volman's volume plugin, volmand's sockets and their\n"
    "permissions, the store's health and the free space under the data root.\n"
    "Prints what works, what does not and the fix; exits 1 when something volman\n"
    "needs is missing (warnings are for what only some drivers or engines need).\n"
    "\n"
    "Options:\n"
    "      --root DIR            volmand's data root (default " DEFAULT_ROOT ")\n"
    "      --plugin-socket PATH  volmand's volume plugin socket (default\n"
    "                            " DEFAULT_PLUGIN_SOCKET ")\n"
    "      --json                print {\"checks\": [...], \"problems\": N, \"warnings\": N}\n"
    "\n"
    "Environment: DOCKER_HOST (unix://PATH) names dockerd's socket, CONTAINERS_CONF\n"
    "Podman's configuration, as for the engines themselves.\n"
    "\n"
    "Example:\n"
    "  volman doctor --root /var/lib/volman\n";

enum status { ST_OK, ST_WARN, ST_FAIL };

struct check {
        const char *area;
        enum status status;
        char *detail;
        char *fix; /* or NULL */
};

struct doctor {
        struct cli_context *ctx;
        const char *root;
        const char *plugin_socket;
        struct check items[32];
        size_t n;
};

static void add(struct doctor *d, const char *area, enum status st, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(struct doctor *d, const char *area, enum status st, const char *fix, const char *fmt, ...)
{
        if (d->n >= ARRAY_SIZE(d->items))
                return;
        va_list ap;
        va_start(ap, fmt);
        char *detail;
        if (vasprintf(&detail, fmt, ap) < 0)
                detail = xstrdup("(out of memory)");
        va_end(ap);
        d->items[d->n++] = (struct check){area, st, detail, fix ? xstrdup(fix) : NULL};
}

/* Whether /proc/filesystems lists fs. */
static bool fs_listed(const char *fs)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/filesystems", "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
                char *name = strrchr(line, '\t');
                name = name ? name + 1 : line;
                name[strcspn(name, "\n")] = 0;
                if (strcmp(name, fs) == 0)
                        return true;
        }
        return false;
}

static void check_openat2(struct doctor *d)
{
        _cleanup_close_ int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
        long fd = dir < 0 ? -1 : syscall(SYS_openat2, dir, ".", &how, sizeof(how));
        if (fd >= 0) {
                close((int)fd);
                add(d, "kernel", ST_OK, NULL, "openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS");
                return;
        }
        add(d, "kernel", ST_FAIL, "run a Linux kernel 5.6 or later (drivers open volume content only through openat2)",
            "openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS: %s", strerror(errno));
}

/* Mounts a small tmpfs in a private mount namespace of a child, then
 * removes its folder. Returns 0, or the errno of what failed. */
static int test_tmpfs_mount(void)
{
        char dir[] = "/tmp/volman-doctor-XXXXXX";
        if (!mkdtemp(dir))
                return errno;
        pid_t pid = fork();
        if (pid == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") < 0)
                        _exit(errno & 0xff);
                _exit(0); /* the namespace, and the mount with it, go with the child */
        }
        int status = 0, e = pid < 0 ? errno : 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid)
                e = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
        rmdir(dir);
        return e;
}

static void check_tmpfs(struct doctor *d)
{
        if (!fs_listed("tmpfs")) {
                add(d, "kernel", ST_FAIL, "use a kernel built with CONFIG_TMPFS",
                    "tmpfs: not in /proc/filesystems (the tmpfs driver needs it)");
                return;
        }
        if (geteuid() != 0) {
                add(d, "kernel", ST_OK, NULL, "tmpfs: listed in /proc/filesystems (a test mount needs root)");
                return;
        }
        int e = test_tmpfs_mount();
        if (e == 0)
                add(d, "kernel", ST_OK, NULL, "tmpfs: a test mount in a private namespace worked");
        else
                add(d, "kernel", ST_FAIL,
                    "volmand mounts tmpfs volumes: run it as root with CAP_SYS_ADMIN, outside a container "
                    "that forbids mounts",
                    "tmpfs: a test mount failed: %s", strerror(e));
}

static void check_loop(struct doctor *d)
{
        struct stat st;
        if (stat("/dev/loop-control", &st) < 0 || !S_ISCHR(st.st_mode)) {
                add(d, "kernel", ST_WARN, "modprobe loop (and list loop in /etc/modules-load.d/ to keep it)",
                    "loop devices: /dev/loop-control is missing (only the loop driver needs it)");
                return;
        }
        _cleanup_close_ int fd = geteuid() == 0 ? open("/dev/loop-control", O_RDWR | O_CLOEXEC) : -1;
        if (geteuid() == 0 && fd < 0)
                add(d, "kernel", ST_WARN, "let volmand use loop devices (a container needs /dev/loop* passed in)",
                    "loop devices: /dev/loop-control cannot be opened: %s", strerror(errno));
        else
                add(d, "kernel", ST_OK, NULL, "loop devices: /dev/loop-control");
}

static void check_btrfs(struct doctor *d)
{
        if (fs_listed("btrfs"))
                add(d, "kernel", ST_OK, NULL, "btrfs: in /proc/filesystems");
        else
                add(d, "kernel", ST_WARN, "modprobe btrfs (and install btrfs-progs)",
                    "btrfs: not in /proc/filesystems (only the btrfs driver needs it)");
}

/* A socket's state for messages: 0 when path is a socket, else why not. */
static const char *socket_problem(const char *path, struct stat *st)
{
        if (lstat(path, st) < 0)
                return errno == ENOENT ? "missing" : strerror(errno);
        if (!S_ISSOCK(st->st_mode))
                return "not a socket";
        return NULL;
}

/* One request to a unix socket; returns the status (0: no answer) and the
 * body (the caller frees), with why not in *why. */
static long ask(const char *socket_path, const char *method, const char *path, const char *body, char **ret_body,
                char **why)
{
        _cleanup_(vol_client_freep) struct vol_client *c = NULL;
        struct vol_error err = VOL_ERROR_INIT;
        long status = 0;
        char *out = NULL;
        size_t len = 0;
        if (vol_client_new(socket_path, &c, &err) < 0 ||
            vol_client_request(c, method, path, body, &status, &out, &len, &err) < 0) {
                *why = xstrdup(vol_error_message(&err));
                vol_error_clear(&err);
                return 0;
        }
        if (ret_body)
                *ret_body = out;
        else
                free(out);
        return status;
}

/* Whether the plugin socket at path answers Plugin.Activate as a volume driver. */
static bool plugin_answers(const char *path, char **why)
{
        _cleanup_free_ char *body = NULL;
        struct stat sst;
        const char *bad = socket_problem(path, &sst);
        if (bad) {
                *why = xstrdup(bad);
                return false;
        }
        long st = ask(path, "POST", "/Plugin.Activate", "{}", &body, why);
        if (st == 200 && body && strstr(body, "VolumeDriver"))
                return true;
        if (st)
                *why = xasprintf("answered %ld without VolumeDriver", st);
        return false;
}

static void check_volmand(struct doctor *d)
{
        const char *path = d->ctx->socket_path;
        struct stat st;
        const char *bad = socket_problem(path, &st);
        if (bad) {
                add(d, "volmand", ST_FAIL,
                    strcmp(bad, "missing") == 0
                        ? "start volmand (systemctl start volmand), or name its socket with --socket"
                        : "stop whatever made that file, remove it and restart volmand",
                    "REST socket %s: %s", path, bad);
                return;
        }
        unsigned mode = st.st_mode & 0777;
        if (mode & 0007)
                add(d, "volmand", ST_FAIL, "restart volmand (it makes its socket 0660) and check what chmods it",
                    "REST socket %s: mode %04o lets every user control every volume", path, mode);
        else if (access(path, R_OK | W_OK) < 0)
                add(d, "volmand", ST_FAIL, "run as root or as a member of the socket's group (volmand --socket-group)",
                    "REST socket %s: mode %04o, uid %u, gid %u: this user (uid %u) may not use it", path, mode,
                    (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)geteuid());
        else
                add(d, "volmand", ST_OK, NULL, "REST socket %s: mode %04o, uid %u, gid %u", path, mode,
                    (unsigned)st.st_uid, (unsigned)st.st_gid);

        _cleanup_free_ char *why = NULL, *body = NULL;
        long status = ask(path, "GET", "/v1/health", NULL, &body, &why);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *h = body ? json_loads(body, 0, &jerr) : NULL;
        const char *state = json_string_value(json_object_get(h, "status"));
        const char *version = json_string_value(json_object_get(h, "version"));
        if (!status) {
                add(d, "volmand", ST_FAIL, "start volmand (systemctl start volmand; journalctl -u volmand says why it stopped)",
                    "volmand does not answer on %s: %s", path, why ? why : "no answer");
                return;
        }
        if (status == 200 && state && strcmp(state, "ok") == 0)
                add(d, "store", ST_OK, NULL, "volmand %s answers; the store is healthy (%lld removals pending)",
                    version ? version : "?", (long long)json_integer_value(json_object_get(h, "removals_pending")));
        else
                add(d, "store", ST_FAIL,
                    "read volmand's log (journalctl -u volmand); after a failed fsync, fix the disk and restart volmand",
                    "volmand answers %ld: store %s: %s", status, state ? state : "unknown",
                    json_string_value(json_object_get(h, "reason")) ? json_string_value(json_object_get(h, "reason"))
                                                                    : "no reason given");
        if (version && strcmp(version, VOLMAN_VERSION) != 0)
                add(d, "volmand", ST_WARN, "install the same version of volman and volmand",
                    "volmand is version %s, this volman %s", version, VOLMAN_VERSION);
}

static void check_space(struct doctor *d)
{
        /* The root, or the nearest folder above it that exists (volmand makes the rest). */
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", d->root);
        struct statvfs vfs;
        while (statvfs(dir, &vfs) < 0) {
                char *slash = strrchr(dir, '/');
                if (errno != ENOENT || !slash || slash == dir) {
                        if (slash == dir && errno == ENOENT && statvfs("/", &vfs) == 0) {
                                snprintf(dir, sizeof(dir), "/");
                                break;
                        }
                        add(d, "root", ST_WARN, "name the data root with --root", "%s: %s", d->root, strerror(errno));
                        return;
                }
                *slash = 0;
        }
        uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize, avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        char a[32], t[32];
        vol_format_size(avail, a);
        vol_format_size(total, t);
        unsigned pct = total ? (unsigned)(avail * 100 / total) : 0;
        const char *fix = "free space on that filesystem, or move the data root (volmand --root) to a larger one";
        if (avail < (UINT64_C(100) << 20) || pct < 1)
                add(d, "root", ST_FAIL, fix, "free space under %s (%s): %s of %s (%u%%)", d->root, dir, a, t, pct);
        else if (pct < 10)
                add(d, "root", ST_WARN, fix, "free space under %s (%s): %s of %s (%u%%)", d->root, dir, a, t, pct);
        else
                add(d, "root", ST_OK, NULL, "free space under %s: %s of %s (%u%%)", d->root, a, t, pct);
}

static bool on_path(const char *prog)
{
        const char *path = getenv("PATH");
        char dirs[4096], file[4096];
        snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path && *path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *p = strtok_r(dirs, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
                snprintf(file, sizeof(file), "%s/%s", p, prog);
                if (access(file, X_OK) == 0)
                        return true;
        }
        return false;
}

static void check_docker(struct doctor *d)
{
        const char *host = getenv("DOCKER_HOST");
        const char *sock = host && strncmp(host, "unix://", 7) == 0 ? host + 7 : "/run/docker.sock";
        struct stat st;
        bool have_socket = !socket_problem(sock, &st);
        if (!have_socket && !on_path("dockerd")) {
                add(d, "docker", ST_OK, NULL, "dockerd: not installed (nothing to check)");
                return;
        }
        _cleanup_free_ char *why = NULL, *body = NULL;
        long status = have_socket ? ask(sock, "GET", "/_ping", NULL, &body, &why) : 0;
        if (status == 200)
                add(d, "docker", ST_OK, NULL, "dockerd answers on %s", sock);
        else
                add(d, "docker", ST_WARN, "systemctl start docker (it starts after volmand: dist/volmand.service)",
                    "dockerd is installed but does not answer on %s%s%s", sock, why ? ": " : "", why ? why : "");
        /* dockerd finds plugins by the socket's name under /run/docker/plugins */
        _cleanup_free_ char *pwhy = NULL;
        if (strncmp(d->plugin_socket, "/run/docker/plugins/", 20) != 0)
                add(d, "docker", ST_WARN, "run volmand with the default --plugin-socket " DEFAULT_PLUGIN_SOCKET,
                    "dockerd looks for plugins in /run/docker/plugins, not at %s", d->plugin_socket);
        else if (plugin_answers(d->plugin_socket, &pwhy))
                add(d, "docker", ST_OK, NULL, "dockerd sees the volman plugin at %s", d->plugin_socket);
        else
                add(d, "docker", ST_WARN, "start volmand with its plugin socket (not --plugin-socket none)",
                    "the volman plugin does not answer at %s: %s", d->plugin_socket, pwhy ? pwhy : "?");
}

/* The socket containers.conf files give volume plugin "volman", in the
 * order Podman reads them (a later file wins), or NULL. Sets *ret_file. */
static char *podman_plugin_entry(char **ret_file)
{
        glob_t g = {0};
        const char *env = getenv("CONTAINERS_CONF");
        if (env && *env) {
                glob(env, GLOB_NOCHECK, NULL, &g);
        } else {
                glob("/usr/share/containers/containers.conf", GLOB_NOCHECK, NULL, &g);
                glob("/etc/containers/containers.conf", GLOB_NOCHECK | GLOB_APPEND, NULL, &g);
                glob("/etc/containers/containers.conf.d/*.conf", GLOB_APPEND, NULL, &g);
        }
        char *found = NULL;
        for (size_t i = 0; i < g.gl_pathc; i++) {
                _cleanup_fclose_ FILE *f = fopen(g.gl_pathv[i], "re");
                char line[4096];
                bool in = false;
                while (f && fgets(line, sizeof(line), f)) {
                        char *s = line + strspn(line, " \t");
                        s[strcspn(s, "\r\n")] = 0;
                        if (*s == '[') {
                                in = strncmp(s, "[engine.volume_plugins]", 23) == 0;
                                continue;
                        }
                        char *q1, *q2;
                        if (!in || strncmp(s, "volman", 6) != 0 || !(q1 = strchr(s, '"')) || !(q2 = strchr(q1 + 1, '"')))
                                continue;
                        s += 6;
                        s += strspn(s, " \t");
                        if (*s != '=')
                                continue;
                        free(found);
                        free(*ret_file);
                        found = xstrndup(q1 + 1, (size_t)(q2 - q1 - 1));
                        *ret_file = xstrdup(g.gl_pathv[i]);
                }
        }
        globfree(&g);
        return found;
}

static void check_podman(struct doctor *d)
{
        struct stat st;
        const char *sock = "/run/podman/podman.sock";
        bool installed = on_path("podman");
        _cleanup_free_ char *file = NULL;
        _cleanup_free_ char *entry = podman_plugin_entry(&file);
        if (!installed && !entry) {
                add(d, "podman", ST_OK, NULL, "podman: not installed (nothing to check)");
                return;
        }
        if (installed)
                add(d, "podman", ST_OK, NULL, "podman: installed%s", socket_problem(sock, &st) ? "" : ", its API socket at /run/podman/podman.sock");
        _cleanup_free_ char *why = NULL;
        if (!entry)
                add(d, "podman", ST_WARN,
                    "add to /etc/containers/containers.conf: [engine.volume_plugins] volman = \"" DEFAULT_PLUGIN_SOCKET "\"",
                    "podman does not know the volman plugin: no volman entry under [engine.volume_plugins]");
        else if (plugin_answers(entry, &why))
                add(d, "podman", ST_OK, NULL, "podman sees the volman plugin at %s (%s)", entry, file);
        else
                add(d, "podman", ST_WARN, "start volmand, or point the entry at its --plugin-socket",
                    "%s names the volman plugin at %s, which does not answer: %s", file, entry, why ? why : "?");
}

static int doctor_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct doctor *d = state;
        if (opt == 'r')
                d->root = arg;
        else if (opt == 'p')
                d->plugin_socket = arg;
        else
                return -EINVAL;
        return 0;
}

static int print_report(const struct doctor *d, size_t problems, size_t warnings)
{
        static const char *const names[] = {"ok", "warn", "FAIL"};
        if (d->ctx->json) {
                _cleanup_(json_decrefp) json_t *checks = json_array();
                for (size_t i = 0; i < d->n; i++)
                        json_array_append_new(checks, json_pack("{s:s, s:s, s:s, s:s?}", "area", d->items[i].area,
                                                                "status", d->items[i].status == ST_OK ? "ok"
                                                                          : d->items[i].status == ST_WARN ? "warn"
                                                                                                          : "fail",
                                                                "detail", d->items[i].detail, "fix", d->items[i].fix));
                _cleanup_(json_decrefp) json_t *j =
                    json_pack("{s:O, s:I, s:I}", "checks", checks, "problems", (json_int_t)problems, "warnings",
                              (json_int_t)warnings);
                return cli_json_print(j, stdout);
        }
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_free_ char *line = xasprintf("%-5s %-8s %s", names[d->items[i].status], d->items[i].area,
                                                      d->items[i].detail);
                cli_print_line(stdout, line);
                if (d->items[i].fix) {
                        _cleanup_free_ char *fix = xasprintf("               fix: %s", d->items[i].fix);
                        cli_print_line(stdout, fix);
                }
        }
        printf("\n%zu problem%s, %zu warning%s%s\n", problems, problems == 1 ? "" : "s", warnings,
               warnings == 1 ? "" : "s",
               problems ? ": volman cannot work here until the problems are fixed" : ": volman can work here");
        return 0;
}

int cli_doctor(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"root", required_argument, NULL, 'r'}, {"plugin-socket", required_argument, NULL, 'p'}, CLI_COMMON_OPTIONS, {}};
        struct doctor d = {.ctx = ctx, .root = DEFAULT_ROOT, .plugin_socket = DEFAULT_PLUGIN_SOCKET};
        int r = cli_parse_options(ctx, "doctor", usage, ":h", options, doctor_option, &d, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, "doctor", err, "unexpected argument '%s'", argv[optind]);

        check_openat2(&d);
        check_tmpfs(&d);
        check_loop(&d);
        check_btrfs(&d);
        check_volmand(&d);
        check_space(&d);
        check_docker(&d);
        check_podman(&d);

        size_t problems = 0, warnings = 0;
        for (size_t i = 0; i < d.n; i++) {
                problems += d.items[i].status == ST_FAIL;
                warnings += d.items[i].status == ST_WARN;
        }
        r = print_report(&d, problems, warnings);
        for (size_t i = 0; i < d.n; i++) {
                free(d.items[i].detail);
                free(d.items[i].fix);
        }
        if (r < 0)
                return r;
        if (problems)
                return vol_error_set(err, -EIO, "doctor: %zu problem%s found", problems, problems == 1 ? "" : "s");
        return 0;
}
