/* `volman volume ...`: create, ls, inspect, rm, prune, mount, unmount. Each
 * command parses its flags, makes the API calls of docs/api.md and writes its
 * result to stdout; errors go back to main() (per-item ones through
 * cli_diag_add). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "output.h"

/* Bounds on what ls reads: one query string, and pages (each at most
 * VOL_CLIENT_RESPONSE_MAX) of a listing. */
#define QUERY_MAX (64 * 1024)
#define LIST_PAGES_MAX 100000

/* "/v1/volumes/NAME" or "/v1/volumes/NAME/SUFFIX", NAME percent-encoded. */
static char *volume_path(const char *name, const char *suffix)
{
        _cleanup_free_ char *escaped = vol_client_escape(name);
        return xasprintf("/v1/volumes/%s%s%s", escaped, suffix ? "/" : "", suffix ? suffix : "");
}

static int check_name(struct cli_context *ctx, const char *cmd, const char *name,
                      struct vol_error *err)
{
        if (!*name)
                return cli_usage_error(ctx, cmd, err, "empty volume name");
        return 0;
}

/* Wraps a failed call with what was being done, except an unreachable daemon,
 * whose message already says everything. */
static int call_failed(int r, struct vol_error *err, const char *what, const char *name)
{
        if (r == -ECONNREFUSED)
                return r;
        return vol_error_wrap(err, "%s %s: ", what, name);
}

/* "key=value" into obj[key] = value. A missing '=' gives "" when
 * value_optional, else a usage error. */
static int add_pair(struct cli_context *ctx, const char *cmd, const char *flag, json_t *obj,
                    const char *text, bool value_optional, struct vol_error *err)
{
        const char *eq = strchr(text, '=');
        if (eq == text || !*text)
                return cli_usage_error(ctx, cmd, err, "%s '%s': empty key", flag, text);
        if (!eq && !value_optional)
                return cli_usage_error(ctx, cmd, err, "%s '%s': expected KEY=VALUE", flag, text);
        _cleanup_free_ char *key = eq ? xstrndup(text, (size_t)(eq - text)) : xstrdup(text);
        json_t *value = json_string(eq ? eq + 1 : "");
        if (!value || json_object_set_new(obj, key, value) < 0)
                return cli_usage_error(ctx, cmd, err, "%s '%s': not valid UTF-8", flag, text);
        return 0;
}

static int check_filter(struct cli_context *ctx, const char *cmd, const char *text,
                        struct vol_error *err)
{
        const char *eq = strchr(text, '=');
        if (!eq || eq == text)
                return cli_usage_error(ctx, cmd, err, "--filter '%s': expected KEY=VALUE", text);
        return 0;
}

/* ---- create ---- */

static const char create_usage[] =
    "Usage: volman volume create [NAME] [OPTIONS]\n"
    "\n"
    "Creates a volume, or finds the one that exists with the same parameters,\n"
    "and prints its name. A volume needs a NAME, a scope, or both.\n"
    "\n"
    "Options:\n"
    "  -d, --driver DRIVER   local (default) or tmpfs\n"
    "  -o, --opt KEY=VALUE   a driver option (repeatable): uid, gid, mode; tmpfs: size\n"
    "  -l, --label KEY[=VALUE]  a label (repeatable)\n"
    "      --tenant T --env E --app A --path P\n"
    "                        the scope: all four or none; without NAME the name\n"
    "                        is derived from it\n"
    "      --node NODE       cluster mode: the node to put it on (default: the one\n"
    "                        with the fewest volumes among those up)\n"
    "      --json            print the volume as JSON\n"
    "\n"
    "Example:\n"
    "  volman volume create --opt uid=1000 --label team=web web-data\n"
    "  volman volume create -d tmpfs -o size=64m scratch\n";

enum {
        OPT_TENANT = 0x200,
        OPT_ENV,
        OPT_APP,
        OPT_PATH,
        OPT_ID,
        OPT_ALL,
        OPT_DRY_RUN,
        OPT_NODE,
};

struct create_state {
        json_t *body;
        json_t *options;
        json_t *labels;
        const char *scope[4]; /* tenant, env, app, path */
};

static int create_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                         struct vol_error *err)
{
        struct create_state *s = state;

        switch (opt) {
        case 'd': {
                json_t *driver = json_string(arg);
                if (!driver)
                        return cli_usage_error(ctx, "volume create", err,
                                               "--driver is not valid UTF-8");
                json_object_set_new(s->body, "driver", driver);
                return 0;
        }
        case 'o':
                return add_pair(ctx, "volume create", "--opt", s->options, arg, false, err);
        case 'l':
                return add_pair(ctx, "volume create", "--label", s->labels, arg, true, err);
        case OPT_TENANT:
        case OPT_ENV:
        case OPT_APP:
        case OPT_PATH:
                s->scope[opt - OPT_TENANT] = arg;
                return 0;
        case OPT_NODE:
                json_object_set_new(s->body, "node", json_string(arg));
                return 0;
        default:
                return -EINVAL;
        }
}

static int volume_create(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"driver", required_argument, NULL, 'd'},
            {"opt", required_argument, NULL, 'o'},
            {"label", required_argument, NULL, 'l'},
            {"tenant", required_argument, NULL, OPT_TENANT},
            {"env", required_argument, NULL, OPT_ENV},
            {"app", required_argument, NULL, OPT_APP},
            {"path", required_argument, NULL, OPT_PATH},
            {"node", required_argument, NULL, OPT_NODE},
            CLI_COMMON_OPTIONS,
            {},
        };
        static const char *const scope_keys[4] = {"tenant", "env", "app", "path"};
        _cleanup_(json_decrefp) json_t *body = json_object();
        _cleanup_(json_decrefp) json_t *opts = json_object();
        _cleanup_(json_decrefp) json_t *labels = json_object();
        struct create_state s = {.body = body, .options = opts, .labels = labels};
        const char *cmd = "volume create";

        int r = cli_parse_options(ctx, cmd, create_usage, ":hd:o:l:", options, create_option, &s,
                                  argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind > 1)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind + 1]);
        const char *name = optind < argc ? argv[optind] : NULL;

        size_t n_scope = 0;
        for (size_t i = 0; i < 4; i++)
                n_scope += s.scope[i] != NULL;
        if (n_scope != 0 && n_scope != 4)
                return cli_usage_error(ctx, cmd, err,
                                       "a scope needs --tenant, --env, --app and --path together");
        if (!name && n_scope == 0)
                return cli_usage_error(
                    ctx, cmd, err,
                    "give a volume NAME or a scope (--tenant, --env, --app, --path)");
        if (name) {
                r = check_name(ctx, cmd, name, err);
                if (r < 0)
                        return r;
                json_t *j = json_string(name);
                if (!j)
                        return cli_usage_error(ctx, cmd, err, "NAME is not valid UTF-8");
                json_object_set_new(body, "name", j);
        }
        if (n_scope == 4) {
                json_t *scope = json_object();
                json_object_set_new(body, "scope", scope);
                for (size_t i = 0; i < 4; i++) {
                        json_t *j = json_string(s.scope[i]);
                        if (!j)
                                return cli_usage_error(ctx, cmd, err, "--%s is not valid UTF-8",
                                                       scope_keys[i]);
                        json_object_set_new(scope, scope_keys[i], j);
                }
        }
        if (json_object_size(opts) > 0)
                json_object_set(body, "options", opts);
        if (json_object_size(labels) > 0)
                json_object_set(body, "labels", labels);

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *volume = NULL;
        r = vol_client_call(client, "POST", "/v1/volumes", body, &volume, err);
        if (r < 0) {
                _cleanup_free_ char *what = name ? xstrdup(name)
                                                 : xasprintf("for scope %s/%s/%s:%s", s.scope[0],
                                                             s.scope[1], s.scope[2], s.scope[3]);
                return call_failed(r, err, "creating volume", what);
        }
        if (ctx->json)
                return cli_json_print(volume, stdout);
        const char *created = json_string_value(json_object_get(volume, "name"));
        if (!created)
                return vol_error_set(err, -EPROTO, "creating volume: volmand's answer has no name");
        return cli_print_line(stdout, created);
}

/* ---- ls ---- */

static const char ls_usage[] =
    "Usage: volman volume ls [OPTIONS]\n"
    "\n"
    "Lists volumes in name order (every page the daemon has).\n"
    "\n"
    "Options:\n"
    "  -f, --filter KEY=VALUE  only matching volumes (repeatable, all must match):\n"
    "                          label=K, label=K=V, driver=D, tenant=T, env=E, app=A,\n"
    "                          name=SUBSTRING, dangling=true|false\n"
    "  -q, --quiet             print names only\n"
    "  -u, --usage             also each volume's size limit and bytes used (cheap for\n"
    "                          tmpfs, loop and btrfs; a walk of each local volume's tree)\n"
    "      --json              print one JSON array of the volumes\n"
    "\n"
    "Example:\n"
    "  volman volume ls --filter tenant=acme --filter label=team=web\n";

struct ls_state {
        struct vol_strbuf query; /* "filter=...&filter=..." */
        bool quiet;
        bool usage;
};

static int ls_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                     struct vol_error *err)
{
        struct ls_state *s = state;

        switch (opt) {
        case 'f': {
                int r = check_filter(ctx, "volume ls", arg, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *escaped = vol_client_escape(arg);
                if (vol_strbuf_printf(&s->query, "%sfilter=%s", s->query.len ? "&" : "", escaped) <
                    0)
                        return cli_usage_error(ctx, "volume ls", err,
                                               "filters longer than %d bytes", QUERY_MAX);
                return 0;
        }
        case 'q':
                s->quiet = true;
                return 0;
        case 'u':
                s->usage = true;
                return 0;
        default:
                return -EINVAL;
        }
}

/* Bytes for people: "512M", "1.5G", "-" when unknown. */
static void bytes_text(json_t *n, char out[32])
{
        if (!json_is_integer(n)) {
                snprintf(out, 32, "-");
                return;
        }
        double b = (double)json_integer_value(n);
        static const char *const units[] = {"B", "K", "M", "G", "T"};
        int u = 0;
        while (b >= 1024 && u < 4) {
                b /= 1024;
                u++;
        }
        snprintf(out, 32, u && b < 10 ? "%.1f%s" : "%.0f%s", b, units[u]);
}

/* Reads every page of GET /v1/volumes into *ret_volumes (a JSON array). */
int cli_list_volumes(struct vol_client *client, const char *query, json_t **ret_volumes,
                     struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *all = json_array();
        _cleanup_free_ char *after = NULL;

        for (size_t page = 0;; page++) {
                if (page >= LIST_PAGES_MAX)
                        return vol_error_set(err, -EPROTO, "listing volumes: more than %d pages",
                                             LIST_PAGES_MAX);
                _cleanup_free_ char *escaped = after ? vol_client_escape(after) : NULL;
                _cleanup_free_ char *path =
                    xasprintf("/v1/volumes%s%s%s%s", *query || after ? "?" : "", query,
                              *query && after ? "&" : "", after ? "after=" : "");
                if (escaped) {
                        char *p = xasprintf("%s%s", path, escaped);
                        free(path);
                        path = p;
                }

                _cleanup_(json_decrefp) json_t *answer = NULL;
                int r = vol_client_call(client, "GET", path, NULL, &answer, err);
                if (r < 0)
                        return r == -ECONNREFUSED ? r : vol_error_wrap(err, "listing volumes: ");
                json_t *volumes = json_object_get(answer, "volumes");
                json_t *next = json_object_get(answer, "next");
                if (!json_is_array(volumes) ||
                    (next && !json_is_null(next) && !json_is_string(next)))
                        return vol_error_set(
                            err, -EPROTO, "listing volumes: volmand's answer has no volumes list");
                json_array_extend(all, volumes);
                if (!json_is_string(next)) /* null or absent: that was the last page */
                        break;
                /* The cursor must move forward, or a confused daemon loops us forever. */
                const char *n = json_string_value(next);
                if (after && strcmp(n, after) <= 0)
                        return vol_error_set(
                            err, -EPROTO,
                            "listing volumes: the next cursor '%s' does not move forward", n);
                free(after);
                after = xstrdup(n);
        }
        *ret_volumes = TAKE_PTR(all);
        return 0;
}

/* tenant/env/app:path, or "-" without a scope. */
static char *scope_text(json_t *volume)
{
        json_t *scope = json_object_get(volume, "scope");
        if (!json_is_object(scope))
                return xstrdup("-");
        const char *tenant = json_string_value(json_object_get(scope, "tenant"));
        const char *env = json_string_value(json_object_get(scope, "env"));
        const char *app = json_string_value(json_object_get(scope, "app"));
        const char *path = json_string_value(json_object_get(scope, "path"));
        return xasprintf("%s/%s/%s:%s", tenant ? tenant : "?", env ? env : "?", app ? app : "?",
                         path ? path : "?");
}

static int volume_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"filter", required_argument, NULL, 'f'},
            {"quiet", no_argument, NULL, 'q'},
            {"usage", no_argument, NULL, 'u'},
            CLI_COMMON_OPTIONS,
            {},
        };
        struct ls_state s = {};
        vol_strbuf_init(&s.query, QUERY_MAX);

        int r = cli_parse_options(ctx, "volume ls", ls_usage, ":hf:qu", options, ls_option, &s, argc,
                                  argv, err);
        if (r == 0 && s.usage)
                vol_strbuf_printf(&s.query, "%susage=true", s.query.len ? "&" : "");
        if (r == 0 && optind < argc)
                r = cli_usage_error(ctx, "volume ls", err, "unexpected argument '%s'",
                                    argv[optind]);
        _cleanup_free_ char *query = vol_strbuf_take(&s.query, NULL);
        vol_strbuf_free(&s.query);
        if (r != 0)
                return r < 0 ? r : 0;

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *volumes = NULL;
        r = cli_list_volumes(client, query, &volumes, err);
        if (r < 0)
                return r;

        if (ctx->json)
                return cli_json_print(volumes, stdout);

        size_t i;
        json_t *v;
        if (s.quiet) {
                json_array_foreach(volumes, i, v)
                    cli_print_line(stdout, json_string_value(json_object_get(v, "name")) ?: "?");
                return ferror(stdout) ? -EIO : 0;
        }

        /* In a cluster each volume names its node: a NODE column then. */
        bool nodes = false;
        json_array_foreach(volumes, i, v) nodes = nodes || json_is_string(json_object_get(v, "node"));
        static const char *const headers[] = {"DRIVER", "NAME", "STATUS", "MOUNTS", "SCOPE", "NODE", "LIMIT", "USED"};
        static const char *const headers_single[] = {"DRIVER", "NAME", "STATUS", "MOUNTS", "SCOPE", "LIMIT", "USED"};
        size_t cols = (nodes ? 6 : 5) + (s.usage ? 2 : 0);
        _cleanup_(cli_table_freep) struct cli_table *table = cli_table_new(cols, nodes ? headers : headers_single);
        json_array_foreach(volumes, i, v)
        {
                char mounts[32], limit[32], used[32];
                snprintf(mounts, sizeof(mounts), "%zu",
                         json_array_size(json_object_get(v, "mounts")));
                bytes_text(json_object_get(v, "size_limit_bytes"), limit);
                bytes_text(json_object_get(json_object_get(v, "usage"), "bytes"), used);
                _cleanup_free_ char *scope = scope_text(v);
                const char *row[8] = {
                    json_string_value(json_object_get(v, "driver")),
                    json_string_value(json_object_get(v, "name")),
                    json_string_value(json_object_get(v, "status")),
                    mounts,
                    scope,
                };
                size_t k = 5;
                if (nodes)
                        row[k++] = json_string_value(json_object_get(v, "node"));
                row[k++] = limit;
                row[k++] = used;
                cli_table_add_row(table, row);
        }
        return cli_table_print(table, stdout);
}

/* ---- inspect ---- */

static const char inspect_usage[] =
    "Usage: volman volume inspect NAME...\n"
    "\n"
    "Prints a JSON array of the named volumes. Each mount reference shows who\n"
    "made it (owner: plugin for an engine, admin for the REST API) and, except\n"
    "with --json, its age. A volume that does not survive a host reboot (tmpfs)\n"
    "also gets a warning on stderr. Missing volumes are reported one by one;\n"
    "the others are still printed.\n"
    "\n"
    "Example:\n"
    "  volman volume inspect web-data\n";

/* "3d4h", "12m5s": how long ago an RFC 3339 UTC time was. */
static void age_of(const char *since, time_t now, char out[32])
{
        struct tm tm = {0};
        const char *end = since ? strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
        if (!end || *end) {
                snprintf(out, 32, "?");
                return;
        }
        long long s = (long long)(now - timegm(&tm));
        if (s < 0)
                s = 0;
        if (s >= 86400)
                snprintf(out, 32, "%lldd%lldh", s / 86400, s % 86400 / 3600);
        else if (s >= 3600)
                snprintf(out, 32, "%lldh%lldm", s / 3600, s % 3600 / 60);
        else if (s >= 60)
                snprintf(out, 32, "%lldm%llds", s / 60, s % 60);
        else
                snprintf(out, 32, "%llds", s);
}

/* Adds "age" to each mount reference of volume, for people. */
static void add_ages(json_t *volume)
{
        time_t now = time(NULL);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(volume, "mounts"), i, m)
        {
                char age[32];
                age_of(json_string_value(json_object_get(m, "since")), now, age);
                json_object_set_new(m, "age", json_string(age));
        }
}

static int volume_inspect(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume inspect";

        int r = cli_parse_options(ctx, cmd, inspect_usage, ":h", options, NULL, NULL, argc,
                                  argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind >= argc)
                return cli_usage_error(ctx, cmd, err, "give at least one volume NAME");
        for (int i = optind; i < argc; i++) {
                r = check_name(ctx, cmd, argv[i], err);
                if (r < 0)
                        return r;
        }

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;

        _cleanup_(json_decrefp) json_t *found = json_array();
        int worst = 0;
        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *path = volume_path(argv[i], NULL);
                _cleanup_(json_decrefp) json_t *volume = NULL;
                r = vol_client_call(client, "GET", path, NULL, &volume, err);
                if (r == -ECONNREFUSED)
                        return r;
                if (r < 0) {
                        cli_diag_add(ctx, false, "inspecting volume %s: %s", argv[i],
                                     vol_error_message(err));
                        vol_error_clear(err);
                        worst = cli_worse(worst, r);
                        continue;
                }
                if (json_is_false(json_object_get(volume, "persistent"))) {
                        const char *note = json_string_value(json_object_get(volume, "note"));
                        cli_diag_add(ctx, true, "volume %s: %s", argv[i],
                                     note ? note : "its content does not survive a host reboot");
                }
                if (!ctx->json)
                        add_ages(volume);
                json_array_append(found, volume);
        }
        r = cli_json_print(found, stdout);
        return r < 0 ? r : worst;
}

/* ---- rm ---- */

static const char rm_usage[] =
    "Usage: volman volume rm [--force] NAME...\n"
    "\n"
    "Removes each volume and all its data, and prints its name. A volume with\n"
    "mount references is never removed (--force is accepted for docker's sake and\n"
    "changes nothing). Failures are reported one by one.\n"
    "\n"
    "Options:\n"
    "  -f, --force   accepted, passed on as ?force=1; volmand still refuses in-use volumes\n"
    "      --json    print a JSON array of the removed names\n"
    "\n"
    "Example:\n"
    "  volman volume rm web-data scratch\n";

static int rm_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                     struct vol_error *err)
{
        if (opt != 'f')
                return -EINVAL;
        *(bool *)state = true;
        return 0;
}

static int volume_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"force", no_argument, NULL, 'f'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume rm";
        bool force = false;

        int r = cli_parse_options(ctx, cmd, rm_usage, ":hf", options, rm_option, &force, argc, argv,
                                  err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind >= argc)
                return cli_usage_error(ctx, cmd, err, "give at least one volume NAME");
        for (int i = optind; i < argc; i++) {
                r = check_name(ctx, cmd, argv[i], err);
                if (r < 0)
                        return r;
        }

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;

        _cleanup_(json_decrefp) json_t *removed = json_array();
        int worst = 0;
        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *path = volume_path(argv[i], NULL);
                if (force) {
                        char *p = xasprintf("%s?force=1", path);
                        free(path);
                        path = p;
                }
                r = vol_client_call(client, "DELETE", path, NULL, NULL, err);
                if (r == -ECONNREFUSED) {
                        worst = r;
                        break;
                }
                if (r < 0) {
                        cli_diag_add(ctx, false, "removing volume %s: %s", argv[i],
                                     vol_error_message(err));
                        vol_error_clear(err);
                        worst = cli_worse(worst, r);
                        continue;
                }
                if (ctx->json)
                        json_array_append_new(removed, json_string(argv[i]));
                else
                        cli_print_line(stdout, argv[i]);
        }
        if (ctx->json) {
                r = cli_json_print(removed, stdout);
                if (r < 0)
                        return r;
        }
        return worst;
}

/* ---- prune ---- */

static const char prune_usage[] =
    "Usage: volman volume prune [OPTIONS]\n"
    "\n"
    "Removes every ready volume that has no mount reference and matches all\n"
    "filters, then prints the removed names and a count. Never asks: a volume\n"
    "between two deploys of its app has no mount reference either, so a prune\n"
    "without a filter needs --all.\n"
    "\n"
    "Options:\n"
    "  -f, --filter KEY=VALUE  only matching volumes (repeatable; see 'volume ls --help')\n"
    "  -a, --all               allow a prune without filters (every unused volume)\n"
    "      --dry-run           print what would be removed, remove nothing\n"
    "      --json              print volmand's answer: {\"removed\": [...], \"dry_run\": ...}\n"
    "\n"
    "Example:\n"
    "  volman volume prune --filter label=team=web --dry-run\n";

struct prune_state {
        json_t *filters;
        bool all;
        bool dry_run;
};

static int prune_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                        struct vol_error *err)
{
        struct prune_state *s = state;

        switch (opt) {
        case 'f': {
                int r = check_filter(ctx, "volume prune", arg, err);
                if (r < 0)
                        return r;
                json_t *f = json_string(arg);
                if (!f)
                        return cli_usage_error(ctx, "volume prune", err,
                                               "--filter is not valid UTF-8");
                json_array_append_new(s->filters, f);
                return 0;
        }
        case 'a':
        case OPT_ALL:
                s->all = true;
                return 0;
        case OPT_DRY_RUN:
                s->dry_run = true;
                return 0;
        default:
                return -EINVAL;
        }
}

static int volume_prune(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"filter", required_argument, NULL, 'f'},
            {"all", no_argument, NULL, OPT_ALL},
            {"dry-run", no_argument, NULL, OPT_DRY_RUN},
            CLI_COMMON_OPTIONS,
            {},
        };
        const char *cmd = "volume prune";
        _cleanup_(json_decrefp) json_t *filters = json_array();
        struct prune_state s = {.filters = filters};

        int r = cli_parse_options(ctx, cmd, prune_usage, ":hf:a", options, prune_option, &s, argc,
                                  argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        if (json_array_size(filters) == 0 && !s.all)
                return cli_usage_error(
                    ctx, cmd, err,
                    "refusing to prune every unused volume: give --filter, or --all to mean it");

        _cleanup_(json_decrefp) json_t *body =
            json_pack("{s:O, s:b, s:b}", "filters", filters, "all", s.all, "dry_run", s.dry_run);
        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "POST", "/v1/volumes/prune", body, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "pruning volumes: ");
        json_t *removed = json_object_get(answer, "removed");
        if (!json_is_array(removed))
                return vol_error_set(err, -EPROTO,
                                     "pruning volumes: volmand's answer has no removed list");
        if (ctx->json)
                return cli_json_print(answer, stdout);

        size_t i, n = json_array_size(removed);
        json_t *v;
        json_array_foreach(removed, i, v)
        {
                if (s.dry_run)
                        fputs("would remove ", stdout);
                cli_print_line(stdout, json_string_value(v) ?: "?");
        }
        printf("%s %zu volume%s\n", s.dry_run ? "would remove" : "removed", n, n == 1 ? "" : "s");
        return 0;
}

/* ---- mount, unmount ---- */

static const char mount_usage[] =
    "Usage: volman volume mount NAME --id ID\n"
    "\n"
    "Records mount reference ID on the volume (again with the same ID changes\n"
    "nothing), makes it ready for use, and prints its mountpoint.\n"
    "\n"
    "Options:\n"
    "      --id ID   the reference: 1 to 256 printable ASCII bytes, no spaces\n"
    "      --json    print volmand's answer: {\"mountpoint\": ...}\n"
    "\n"
    "Example:\n"
    "  volman volume mount web-data --id c0ffee\n";

static const char unmount_usage[] =
    "Usage: volman volume unmount NAME --id ID\n"
    "\n"
    "Drops mount reference ID from the volume (also fine when it was not there).\n"
    "\n"
    "Options:\n"
    "      --id ID   the reference given to 'volume mount'\n"
    "      --json    print volmand's answer: {}\n"
    "\n"
    "Example:\n"
    "  volman volume unmount web-data --id c0ffee\n";

static int id_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                     struct vol_error *err)
{
        if (opt != OPT_ID)
                return -EINVAL;
        *(const char **)state = arg;
        return 0;
}

static int mount_or_unmount(struct cli_context *ctx, bool mount, int argc, char **argv,
                            struct vol_error *err)
{
        static const struct option options[] = {
            {"id", required_argument, NULL, OPT_ID}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = mount ? "volume mount" : "volume unmount";
        const char *id = NULL;

        int r = cli_parse_options(ctx, cmd, mount ? mount_usage : unmount_usage, ":h", options,
                                  id_option, &id, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind >= argc)
                return cli_usage_error(ctx, cmd, err, "give a volume NAME");
        if (argc - optind > 1)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind + 1]);
        if (!id)
                return cli_usage_error(ctx, cmd, err, "--id is required");
        const char *name = argv[optind];
        r = check_name(ctx, cmd, name, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *body = json_pack("{s:s}", "id", id);
        if (!body)
                return cli_usage_error(ctx, cmd, err, "--id is not valid UTF-8");

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = volume_path(name, mount ? "mount" : "unmount");
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "POST", path, body, &answer, err);
        if (r < 0)
                return call_failed(r, err, mount ? "mounting volume" : "unmounting volume", name);
        if (ctx->json) {
                if (!answer)
                        answer = json_object();
                return cli_json_print(answer, stdout);
        }
        if (!mount)
                return 0;
        const char *mountpoint = json_string_value(json_object_get(answer, "mountpoint"));
        if (!mountpoint)
                return vol_error_set(
                    err, -EPROTO, "mounting volume %s: volmand's answer has no mountpoint", name);
        puts(mountpoint);
        return 0;
}

static int volume_mount(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return mount_or_unmount(ctx, true, argc, argv, err);
}

static int volume_unmount(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return mount_or_unmount(ctx, false, argc, argv, err);
}

/* ---- the group ---- */

static const struct cli_command volume_commands[] = {
    {"create", NULL, volume_create, "Create a volume (or find the same one)"},
    {"ls", "list", volume_ls, "List volumes"},
    {"inspect", NULL, volume_inspect, "Show volumes as JSON"},
    {"rm", "remove", volume_rm, "Remove volumes and their data"},
    {"prune", NULL, volume_prune, "Remove unused volumes"},
    {"mount", NULL, volume_mount, "Add a mount reference and print the mountpoint"},
    {"unmount", NULL, volume_unmount, "Drop a mount reference"},
    {"snapshot", NULL, cli_volume_snapshot, "Snapshots of a volume (create, ls, restore, rm)"},
    {"clone", NULL, cli_volume_clone, "Make a new volume with another's content"},
    {"move", NULL, cli_volume_move, "Move a volume to another node of a cluster"},
    {"update", NULL, cli_volume_update, "Change a volume's size limit"},
    {"export", NULL, cli_volume_export, "Write a volume's content as a tar archive"},
    {"import", NULL, cli_volume_import, "Make a new volume from a tar archive"},
};

int cli_volume(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "volume", volume_commands, ARRAY_SIZE(volume_commands), argc, argv,
                             err);
}
