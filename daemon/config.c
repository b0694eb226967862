/* volmand's settings from defaults, the configuration file, the environment
 * and the flags (daemon/config.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"

#ifndef VOLMAN_CONFIG_FILE
#define VOLMAN_CONFIG_FILE "/etc/volman/volmand.conf"
#endif
#ifndef VOLMAN_CON_INIT
#define VOLMAN_CON_INIT "/usr/libexec/volman/con-init"
#endif

static const char *const log_levels[] = {"debug", "info", "warning", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

/* The keys, in enum volmand_key's order: each is a flag (--NAME) and a line
 * of the file (NAME = VALUE). */
static const struct vol_conf_key keys[VOLMAND_N_KEYS] = {
        [VOLMAND_ROOT] = {"root", VOL_CONF_PATH, NULL},
        [VOLMAND_SOCKET] = {"socket", VOL_CONF_PATH, NULL},
        [VOLMAND_PLUGIN_SOCKET] = {"plugin-socket", VOL_CONF_PATH_OR_NONE, NULL},
        [VOLMAND_PREFIX] = {"prefix", VOL_CONF_STRING, NULL},
        [VOLMAND_DEFAULT_DRIVER] = {"default-driver", VOL_CONF_STRING, NULL},
        [VOLMAND_ENGINE] = {"engine", VOL_CONF_STRING, NULL},
        [VOLMAND_ENGINE_DRIVER] = {"engine-driver", VOL_CONF_STRING, NULL},
        [VOLMAND_MEMORY_MAX_TOTAL] = {"memory-max-total", VOL_CONF_SIZE, NULL},
        [VOLMAND_MEMORY_MAX_VOLUME] = {"memory-max-volume", VOL_CONF_SIZE, NULL},
        [VOLMAND_SOCKET_GROUP] = {"socket-group", VOL_CONF_STRING, NULL},
        [VOLMAND_BTRFS_ROOT] = {"btrfs-root", VOL_CONF_PATH, NULL},
        [VOLMAND_LISTEN] = {"listen", VOL_CONF_STRING, NULL},
        [VOLMAND_TLS_CERT] = {"tls-cert", VOL_CONF_PATH, NULL},
        [VOLMAND_TLS_KEY] = {"tls-key", VOL_CONF_PATH, NULL},
        [VOLMAND_SECRET_KEY_FILE] = {"secret-key-file", VOL_CONF_PATH, NULL},
        [VOLMAND_CON_INIT] = {"con-init", VOL_CONF_PATH, NULL},
        [VOLMAND_SEED_TTL] = {"seed-ttl", VOL_CONF_STRING, NULL},
        [VOLMAND_SEED_URL] = {"seed-url", VOL_CONF_STRING, NULL},
        [VOLMAND_STORE] = {"store", VOL_CONF_STRING, NULL},
        [VOLMAND_NODE] = {"node", VOL_CONF_STRING, NULL},
        [VOLMAND_ADVERTISE] = {"advertise", VOL_CONF_STRING, NULL},
        [VOLMAND_CLUSTER_SECRET_FILE] = {"cluster-secret-file", VOL_CONF_PATH, NULL},
        [VOLMAND_LOG_LEVEL] = {"log-level", VOL_CONF_CHOICE, log_levels},
        [VOLMAND_LOG_FORMAT] = {"log-format", VOL_CONF_CHOICE, log_formats},
};

/* Defaults (NULL: unset, the daemon decides) and what unset means. */
static const struct {
        const char *value;
        const char *unset;
        const char *env;
} defaults[VOLMAND_N_KEYS] = {
        [VOLMAND_ROOT] = {"/var/lib/volman", NULL, NULL},
        [VOLMAND_SOCKET] = {"/run/volman/volman.sock", NULL, "VOLMAN_SOCKET"},
        [VOLMAND_PLUGIN_SOCKET] = {"/run/docker/plugins/volman.sock", NULL, "VOLMAN_PLUGIN_SOCKET"},
        [VOLMAND_PREFIX] = {"volman", NULL, NULL},
        [VOLMAND_DEFAULT_DRIVER] = {"local", NULL, NULL},
        [VOLMAND_ENGINE] = {NULL, "no container engine: app deploys are refused", "VOLMAN_ENGINE"},
        [VOLMAND_ENGINE_DRIVER] = {"volman", NULL, NULL},
        [VOLMAND_MEMORY_MAX_TOTAL] = {NULL, "a quarter of the host's RAM", NULL},
        [VOLMAND_MEMORY_MAX_VOLUME] = {NULL, "8g (at most memory-max-total)", NULL},
        [VOLMAND_SOCKET_GROUP] = {NULL, "root's group", NULL},
        [VOLMAND_BTRFS_ROOT] = {NULL, "no btrfs driver", NULL},
        [VOLMAND_LISTEN] = {NULL, "no HTTPS listener", NULL},
        [VOLMAND_TLS_CERT] = {NULL, "a self-signed certificate under ROOT/tls, with listen", NULL},
        [VOLMAND_TLS_KEY] = {NULL, "with tls-cert", NULL},
        [VOLMAND_SECRET_KEY_FILE] = {NULL, "ROOT/secret.key, made at first start", NULL},
        [VOLMAND_CON_INIT] = {VOLMAN_CON_INIT, NULL, NULL},
        [VOLMAND_SEED_TTL] = {"15m", NULL, NULL},
        [VOLMAND_SEED_URL] = {NULL, "no /con/seed/url", NULL},
        [VOLMAND_STORE] = {"sqlite", NULL, "VOLMAN_STORE"},
        [VOLMAND_NODE] = {NULL, "a single node (no cluster)", NULL},
        [VOLMAND_ADVERTISE] = {NULL, "with node", NULL},
        [VOLMAND_CLUSTER_SECRET_FILE] = {NULL, "with node", NULL},
        [VOLMAND_LOG_LEVEL] = {"info", NULL, NULL},
        [VOLMAND_LOG_FORMAT] = {"text", NULL, NULL},
};

void volmand_usage(FILE *f)
{
        fprintf(f,
                "Usage: volmand [OPTIONS]\n"
                "\n"
                "The volman daemon: owns volume metadata and data and serves the REST API.\n"
                "\n"
                "  --config FILE         the configuration file (default %s; a missing\n"
                "                        default file is fine): KEY = VALUE lines, one key per\n"
                "                        flag below, named like it; flags override it\n"
                "  --print-config        print the effective configuration, and where each value\n"
                "                        came from, and exit\n"
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
                "  --secret-key-file FILE  the key that seals apps' secrets (32 bytes, root's\n"
                "                        alone; default ROOT/secret.key, made at first start)\n"
                "  --con-init PATH       the con-init binary mounted into /con containers\n"
                "                        (default %s)\n"
                "  --seed-ttl DURATION   how long a deploy's seed token lives: 90s, 15m, 2h\n"
                "                        (default 15m)\n"
                "  --seed-url URL        the API's address as apps reach it, written to\n"
                "                        /con/seed/url (default: none)\n"
                "  --store STORE         the metadata store: sqlite (default: ROOT/volman.db) or\n"
                "                        etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (cluster mode;\n"
                "                        env VOLMAN_STORE)\n"
                "  --node NAME           this node's name in a cluster (an etcd store): volumes\n"
                "                        created here live here; needs --advertise, --listen and\n"
                "                        --cluster-secret-file\n"
                "  --advertise URL       where the other nodes reach this one's HTTPS listener,\n"
                "                        https://ADDR:PORT\n"
                "  --cluster-secret-file FILE  the secret every node of the cluster shares (the\n"
                "                        same file on each; root's alone), for node-to-node calls\n"
                "  --log-level LEVEL     debug (one line per request too), info (default: also\n"
                "                        each destructive operation and who asked), warning, error\n"
                "  --log-format FORMAT   text (default) or json (one object per line)\n"
                "  --version             print the version and exit\n"
                "  --help                print this help and exit\n"
                "\n"
                "Precedence: flags, then the environment, then the file, then the defaults.\n"
                "Under systemd (dist/volmand.service) volmand says when it is ready and pings\n"
                "the watchdog (NOTIFY_SOCKET, WATCHDOG_USEC); see volmand(8).\n"
                "\n"
                "Environment, for tests: VOLMAN_FAILPOINT=NAME[:N][=kill|eio] makes the daemon\n"
                "kill itself, or fail as if the disk had, at a named point (docs/api.md);\n"
                "VOLMAN_BOOT_ID overrides the kernel's boot id (to test what a reboot voids);\n"
                "VOLMAN_LIBARCHIVE and VOLMAN_LIBGNUTLS name the file loaded, on first use, in\n"
                "place of libarchive.so.13 and libgnutls.so.30 (to test a machine without them).\n"
                "\n"
                "Example:\n"
                "  volmand --root /var/lib/volman --log-level debug --plugin-socket none\n",
                VOLMAN_CONFIG_FILE, defaults[VOLMAND_ROOT].value, defaults[VOLMAND_SOCKET].value,
                defaults[VOLMAND_PLUGIN_SOCKET].value, VOLMAN_CON_INIT);
}

static void set(struct volmand_config *c, enum volmand_key k, const char *value, char *origin)
{
        free(c->origin[k]);
        c->value[k] = value;
        c->origin[k] = origin;
}

/* Reads the file into *ret (NUL-terminated). Returns 0, -ENOENT when it does
 * not exist, or another negative errno with a message. */
static int read_file(const char *path, char **ret, size_t *ret_len, struct vol_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : vol_error_set(err, -errno, "%s: %m", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vol_error_set(err, -errno, "%s: %m", path);
        if (!S_ISREG(st.st_mode))
                return vol_error_set(err, -EINVAL, "%s: not a regular file", path);
        /* It says where the data lives and which certificate to serve: a
         * root daemon takes it only from root (or from its own user). */
        if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
                return vol_error_set(err, -EPERM,
                                     "%s: others than its owner (uid %u) may change it, or its owner is not "
                                     "root: chown root and chmod go-w it",
                                     path, (unsigned)st.st_uid);
        _cleanup_free_ char *buf = xmalloc(VOL_CONF_FILE_MAX + 2);
        size_t n = 0;
        for (;;) {
                ssize_t r = read(fd, buf + n, VOL_CONF_FILE_MAX + 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return vol_error_set(err, -errno, "%s: %m", path);
                if (r == 0 || (n += (size_t)r) > VOL_CONF_FILE_MAX)
                        break;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

static int load_file(struct volmand_config *c, struct vol_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(c->file, &text, &len, err);
        if (r == -ENOENT) {
                if (c->file_named)
                        return vol_error_set(err, -ENOENT, "--config %s: no such file", c->file);
                return 0; /* no default file: the defaults, the environment and the flags */
        }
        if (r < 0)
                return r;
        if ((r = vol_conf_parse(text, len, c->file, keys, VOLMAND_N_KEYS, &c->conf, err)) < 0)
                return r;
        c->file_read = true;
        for (size_t i = 0; i < c->conf.n; i++) {
                const struct vol_conf_entry *e = &c->conf.entries[i];
                set(c, (enum volmand_key)e->key, e->value, xasprintf("%s:%u", c->file, e->line));
        }
        return 0;
}

int volmand_config_load(int argc, char **argv, struct volmand_config *ret, struct vol_error *err)
{
        enum { OPT_CONFIG = 0x200, OPT_PRINT, OPT_VERSION, OPT_HELP };
        struct option opts[VOLMAND_N_KEYS + 5];
        for (size_t i = 0; i < VOLMAND_N_KEYS; i++)
                opts[i] = (struct option){keys[i].name, required_argument, NULL, 0x100 + (int)i};
        opts[VOLMAND_N_KEYS] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
        opts[VOLMAND_N_KEYS + 1] = (struct option){"print-config", no_argument, NULL, OPT_PRINT};
        opts[VOLMAND_N_KEYS + 2] = (struct option){"version", no_argument, NULL, OPT_VERSION};
        opts[VOLMAND_N_KEYS + 3] = (struct option){"help", no_argument, NULL, OPT_HELP};
        opts[VOLMAND_N_KEYS + 4] = (struct option){0};

        struct volmand_config c = {.action = VOLMAND_RUN};
        const char *flags[VOLMAND_N_KEYS] = {0};
        const char *config = NULL;
        int opt, r = 0;
        optind = 0;
        opterr = 0;
        while (r == 0 && (opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                if (opt >= 0x100 && opt < 0x100 + VOLMAND_N_KEYS)
                        flags[opt - 0x100] = optarg;
                else if (opt == OPT_CONFIG)
                        config = optarg;
                else if (opt == OPT_PRINT)
                        c.action = VOLMAND_PRINT_CONFIG;
                else if (opt == OPT_VERSION && c.action != VOLMAND_HELP)
                        c.action = VOLMAND_VERSION;
                else if (opt == OPT_HELP)
                        c.action = VOLMAND_HELP;
                else if (opt == ':')
                        r = vol_error_set(err, -EINVAL, "%s needs a value", argv[optind - 1]);
                else if (opt == '?')
                        r = vol_error_set(err, -EINVAL, "unknown option %s", argv[optind - 1]);
        }
        if (r == 0 && optind < argc)
                r = vol_error_set(err, -EINVAL, "unexpected argument %s", argv[optind]);
        if (r < 0)
                return r;
        if (c.action == VOLMAND_HELP || c.action == VOLMAND_VERSION) {
                *ret = c;
                return 0;
        }

        for (size_t k = 0; k < VOLMAND_N_KEYS; k++)
                if (defaults[k].value)
                        set(&c, (enum volmand_key)k, defaults[k].value, xstrdup("default"));
        c.file = xstrdup(config ? config : VOLMAN_CONFIG_FILE);
        c.file_named = config != NULL;
        if ((r = load_file(&c, err)) < 0)
                goto fail;
        for (size_t k = 0; k < VOLMAND_N_KEYS; k++) {
                const char *env = defaults[k].env ? getenv(defaults[k].env) : NULL;
                if (env && *env)
                        set(&c, (enum volmand_key)k, env, xasprintf("environment %s", defaults[k].env));
        }
        for (size_t k = 0; k < VOLMAND_N_KEYS; k++)
                if (flags[k])
                        set(&c, (enum volmand_key)k, flags[k], xasprintf("flag --%s", keys[k].name));
        /* Values from outside the file: the types whose mistakes would only
         * show later (paths keep the flags' old leniency). */
        for (size_t k = 0; k < VOLMAND_N_KEYS && r == 0; k++) {
                if (!c.value[k] || strncmp(c.origin[k], "flag ", 5) != 0 ||
                    (keys[k].type != VOL_CONF_SIZE && keys[k].type != VOL_CONF_CHOICE))
                        continue;
                if ((r = vol_conf_check_value(&keys[k], c.value[k], err)) < 0)
                        vol_error_wrap(err, "--");
        }
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        volmand_config_free(&c);
        return r;
}

void volmand_config_free(struct volmand_config *c)
{
        for (size_t k = 0; k < VOLMAND_N_KEYS; k++)
                free(c->origin[k]);
        free(c->file);
        vol_conf_free(&c->conf);
        memset(c, 0, sizeof(*c));
}

const char *volmand_config_where(const struct volmand_config *c, enum volmand_key key, char buf[static 512])
{
        const char *o = c->origin[key];
        if (!o || strcmp(o, "default") == 0)
                snprintf(buf, 512, "%s", keys[key].name);
        else if (strncmp(o, "flag ", 5) == 0)
                snprintf(buf, 512, "%s", o + 5);
        else if (strncmp(o, "environment ", 12) == 0)
                snprintf(buf, 512, "%s", o + 12);
        else
                snprintf(buf, 512, "%s: %s", o, keys[key].name);
        return buf;
}

void volmand_config_print(const struct volmand_config *c, FILE *f)
{
        fprintf(f, "# volmand %s: the effective configuration; each line says where its value came from\n",
                VOLMAN_VERSION);
        fprintf(f, "# configuration file: %s (%s)\n", c->file,
                c->file_read ? "read" : "not found: nothing read from it");
        for (size_t k = 0; k < VOLMAND_N_KEYS; k++) {
                char line[1024];
                _cleanup_free_ char *q = c->value[k] ? vol_conf_quote(c->value[k]) : NULL;
                if (q)
                        snprintf(line, sizeof(line), "%s = %s", keys[k].name, q);
                else if (c->value[k]) /* cannot be written in a file (a control character) */
                        snprintf(line, sizeof(line), "# %s = (a value with control characters)", keys[k].name);
                else
                        snprintf(line, sizeof(line), "# %s =", keys[k].name);
                fprintf(f, "%-48s # %s%s\n", line,
                        c->value[k] ? c->origin[k] : "not set: ", c->value[k] ? "" : defaults[k].unset ? defaults[k].unset : "");
        }
}
