/* `volman volume snapshot create|ls|restore|rm`, `volman volume clone`,
 * `volman volume update` and `volman driver ls`: what a volume's driver does
 * beyond create and remove (docs/api.md, "Storage"). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "core/xmalloc.h"
#include "output.h"

static char *vpath(const char *name, const char *suffix, const char *sub, const char *tail)
{
        _cleanup_free_ char *e = vol_client_escape(name);
        _cleanup_free_ char *es = sub ? vol_client_escape(sub) : NULL;
        return xasprintf("/v1/volumes/%s/%s%s%s%s%s", e, suffix, es ? "/" : "", es ? es : "", tail ? "/" : "",
                         tail ? tail : "");
}

/* Runs one call and prints its answer as JSON with --json, else text. */
static int call(struct cli_context *ctx, const char *what, const char *method, const char *path, json_t *body,
                json_t **ret, struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        r = vol_client_call(client, method, path, body, ret, err);
        if (r < 0 && r != -ECONNREFUSED)
                vol_error_wrap(err, "%s: ", what);
        return r;
}

/* ---- a progress bar for a copy volmand makes (clone, snapshot) ---- */

struct bg_call {
        const char *socket_path;
        const char *method, *path, *header;
        json_t *body;
        json_t *answer;
        struct vol_error err;
        int r;
        volatile bool done;
};

static void *bg_main(void *arg)
{
        struct bg_call *b = arg;
        struct vol_client *c = NULL;
        b->r = vol_client_new(b->socket_path, &c, &b->err);
        if (b->r == 0) {
                vol_client_set_header(c, b->header);
                b->r = vol_client_call(c, b->method, b->path, b->body, &b->answer, &b->err);
        }
        vol_client_free(c);
        b->done = true;
        return NULL;
}

int cli_call_watched(struct cli_context *ctx, const char *what, const char *method, const char *path,
                     json_t *body, bool quiet, const char *node, json_t **ret, struct vol_error *err)
{
        if (quiet || !isatty(2))
                return call(ctx, what, method, path, body, ret, err);
        uint8_t rnd[8];
        char id[32], header[64];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return call(ctx, what, method, path, body, ret, err);
        snprintf(id, sizeof(id), "cli-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
                 rnd[6], rnd[7]);
        snprintf(header, sizeof(header), "X-Volman-Operation: %s", id);
        struct bg_call b = {.socket_path = ctx->socket_path, .method = method, .path = path, .header = header,
                            .body = body, .err = VOL_ERROR_INIT};
        pthread_t t;
        if (pthread_create(&t, NULL, bg_main, &b) != 0)
                return call(ctx, what, method, path, body, ret, err);
        struct vol_client *watch;
        bool drawn = false;
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        _cleanup_free_ char *enode = node ? vol_client_escape(node) : NULL;
        _cleanup_free_ char *opath = xasprintf("/v1/operations/%s%s%s", id, node ? "?node=" : "", node ? enode : "");
        if (cli_client(ctx, &watch, err) == 0) {
                while (!b.done) {
                        struct timespec nap = {0, 200 * 1000 * 1000};
                        nanosleep(&nap, NULL);
                        json_t *op = NULL;
                        struct vol_error e = VOL_ERROR_INIT;
                        if (b.done || vol_client_call(watch, "GET", opath, NULL, &op, &e) < 0) {
                                vol_error_clear(&e);
                                continue;
                        }
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        double secs = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
                        double done = (double)json_integer_value(json_object_get(op, "bytes"));
                        double total = (double)json_integer_value(json_object_get(op, "total_bytes"));
                        cli_progress_draw(stderr, what, done, total, secs);
                        drawn = true;
                        json_decref(op);
                }
        }
        pthread_join(t, NULL);
        if (drawn)
                fputc('\n', stderr);
        if (b.r < 0) {
                *err = b.err;
                return b.r == -ECONNREFUSED ? b.r : vol_error_wrap(err, "%s: ", what);
        }
        *ret = b.answer;
        return 0;
}

/* ---- snapshots ---- */

static const char snap_create_usage[] =
    "Usage: volman volume snapshot create VOLUME [NAME]\n"
    "\n"
    "Snapshots VOLUME's content now, as NAME (default: the time, 2026-12-01T03-18-00Z).\n"
    "btrfs: a read-only subvolume snapshot; loop: a copy of the image, made while its\n"
    "filesystem is frozen (a reflink where the host's filesystem has them); local: a\n"
    "copy of the tree, file by file. At most 64 per volume; they go with the volume.\n"
    "A copy shows its progress on a terminal (-q, --quiet: not).\n"
    "\n"
    "Example:\n"
    "  volman volume snapshot create web-data before-upgrade\n";

static int quiet_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        if (opt != 'q')
                return -EINVAL;
        *(bool *)state = true;
        return 0;
}

static int snap_create(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"quiet", no_argument, NULL, 'q'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume snapshot create";
        bool quiet = false;
        int r = cli_parse_options(ctx, cmd, snap_create_usage, ":hq", options, quiet_option, &quiet, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind >= argc || argc - optind > 2)
                return cli_usage_error(ctx, cmd, err, "give VOLUME and, optionally, NAME");
        _cleanup_(json_decrefp) json_t *body = json_object();
        if (argc - optind == 2)
                json_object_set_new(body, "name", json_string(argv[optind + 1]));
        _cleanup_free_ char *path = vpath(argv[optind], "snapshots", NULL, NULL);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = cli_call_watched(ctx, "snapshot create", "POST", path, body, quiet, NULL, &ans, err)) < 0)
                return r;
        if (ctx->json)
                return cli_json_print(ans, stdout);
        return cli_print_line(stdout, json_string_value(json_object_get(ans, "name")));
}

static const char snap_ls_usage[] = "Usage: volman volume snapshot ls VOLUME [--json]\n"
                                    "\n"
                                    "Lists VOLUME's snapshots, oldest first.\n"
                                    "\n"
                                    "Example:\n"
                                    "  volman volume snapshot ls web-data\n";

static int snap_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume snapshot ls";
        int r = cli_parse_options(ctx, cmd, snap_ls_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 1)
                return cli_usage_error(ctx, cmd, err, "give one VOLUME");
        _cleanup_free_ char *path = vpath(argv[optind], "snapshots", NULL, NULL);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = call(ctx, "snapshot ls", "GET", path, NULL, &ans, err)) < 0)
                return r;
        json_t *list = json_object_get(ans, "snapshots");
        if (ctx->json)
                return cli_json_print(list, stdout);
        static const char *const headers[] = {"NAME", "CREATED", "STATE"};
        _cleanup_(cli_table_freep) struct cli_table *t = cli_table_new(3, headers);
        size_t i;
        json_t *s;
        json_array_foreach(list, i, s)
        {
                const char *cells[] = {json_string_value(json_object_get(s, "name")),
                                       json_string_value(json_object_get(s, "created_at")),
                                       json_is_true(json_object_get(s, "ready")) ? "ready" : "in progress"};
                cli_table_add_row(t, cells);
        }
        return cli_table_print(t, stdout);
}

static const char snap_restore_usage[] =
    "Usage: volman volume snapshot restore VOLUME NAME\n"
    "\n"
    "Makes VOLUME's content snapshot NAME's (what was written since is lost). Refused\n"
    "while anything has VOLUME mounted (stop its containers first). The switch is\n"
    "atomic: a crash leaves the old content or the restored one.\n"
    "\n"
    "Example:\n"
    "  volman volume snapshot restore web-data before-upgrade\n";

static const char snap_rm_usage[] = "Usage: volman volume snapshot rm VOLUME NAME...\n"
                                    "\n"
                                    "Removes snapshots of VOLUME.\n"
                                    "\n"
                                    "Example:\n"
                                    "  volman volume snapshot rm web-data before-upgrade\n";

static int snap_restore(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume snapshot restore";
        int r = cli_parse_options(ctx, cmd, snap_restore_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 2)
                return cli_usage_error(ctx, cmd, err, "give VOLUME and the snapshot's NAME");
        _cleanup_free_ char *path = vpath(argv[optind], "snapshots", argv[optind + 1], "restore");
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = call(ctx, "snapshot restore", "POST", path, NULL, &ans, err)) < 0)
                return r;
        return ctx->json ? cli_json_print(ans, stdout) : 0;
}

static int snap_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume snapshot rm";
        int r = cli_parse_options(ctx, cmd, snap_rm_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind < 2)
                return cli_usage_error(ctx, cmd, err, "give VOLUME and at least one snapshot NAME");
        int worst = 0;
        for (int i = optind + 1; i < argc; i++) {
                _cleanup_free_ char *path = vpath(argv[optind], "snapshots", argv[i], NULL);
                r = call(ctx, "snapshot rm", "DELETE", path, NULL, NULL, err);
                if (r == -ECONNREFUSED)
                        return r;
                if (r < 0) {
                        cli_diag_add(ctx, false, "%s", vol_error_message(err));
                        vol_error_clear(err);
                        worst = cli_worse(worst, r);
                        continue;
                }
                cli_print_line(stdout, argv[i]);
        }
        return worst;
}

static const struct cli_command snapshot_commands[] = {
    {"create", NULL, snap_create, "Snapshot a volume's content"},
    {"ls", "list", snap_ls, "List a volume's snapshots"},
    {"restore", NULL, snap_restore, "Put a snapshot's content back"},
    {"rm", "remove", snap_rm, "Remove snapshots"},
};

int cli_volume_snapshot(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "volume snapshot", snapshot_commands, ARRAY_SIZE(snapshot_commands), argc, argv,
                             err);
}

/* ---- clone and update ---- */

static const char clone_usage[] =
    "Usage: volman volume clone SOURCE [DEST] [--tenant T --env E --app A --path P] [--label K=V...]\n"
    "\n"
    "Makes a new volume with SOURCE's content, driver and options, independent of it\n"
    "from then on: DEST by name, or the scoped volume of --tenant/--env/--app/--path.\n"
    "btrfs: a writable snapshot; loop: a copy of the image (a reflink where the host's\n"
    "filesystem has them); local: a copy of the tree. A copy shows its progress on\n"
    "a terminal (-q, --quiet: not).\n"
    "\n"
    "Example:\n"
    "  volman volume clone web-data web-data-test\n";

struct clone_opts {
        const char *tenant, *env, *app, *path;
        json_t *labels;
        bool quiet;
};

static int clone_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct clone_opts *o = state;
        switch (opt) {
        case 'T': o->tenant = arg; return 0;
        case 'E': o->env = arg; return 0;
        case 'A': o->app = arg; return 0;
        case 'P': o->path = arg; return 0;
        case 'q': o->quiet = true; return 0;
        case 'l': {
                const char *eq = strchr(arg, '=');
                _cleanup_free_ char *k = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
                json_object_set_new(o->labels, k, json_string(eq ? eq + 1 : ""));
                return 0;
        }
        default: return -EINVAL;
        }
}

static int volume_clone(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"tenant", required_argument, NULL, 'T'}, {"env", required_argument, NULL, 'E'},
            {"app", required_argument, NULL, 'A'},    {"path", required_argument, NULL, 'P'},
            {"label", required_argument, NULL, 'l'},  {"quiet", no_argument, NULL, 'q'},
            CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume clone";
        _cleanup_(json_decrefp) json_t *labels = json_object();
        struct clone_opts o = {.labels = labels};
        int r = cli_parse_options(ctx, cmd, clone_usage, ":hq", options, clone_option, &o, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        bool scoped = o.tenant || o.env || o.app || o.path;
        if (argc - optind != (scoped ? 1 : 2))
                return cli_usage_error(ctx, cmd, err, scoped ? "give SOURCE and the scope, not a DEST name"
                                                             : "give SOURCE and DEST (or a scope)");
        if (scoped && !(o.tenant && o.env && o.app && o.path))
                return cli_usage_error(ctx, cmd, err, "a scope needs --tenant, --env, --app and --path");
        _cleanup_(json_decrefp) json_t *body = json_object();
        if (scoped)
                json_object_set_new(body, "scope", json_pack("{s:s,s:s,s:s,s:s}", "tenant", o.tenant, "env", o.env,
                                                             "app", o.app, "path", o.path));
        else
                json_object_set_new(body, "name", json_string(argv[optind + 1]));
        if (json_object_size(labels))
                json_object_set(body, "labels", labels);
        _cleanup_free_ char *path = vpath(argv[optind], "clone", NULL, NULL);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = cli_call_watched(ctx, "clone", "POST", path, body, o.quiet, NULL, &ans, err)) < 0)
                return r;
        if (ctx->json)
                return cli_json_print(ans, stdout);
        return cli_print_line(stdout, json_string_value(json_object_get(ans, "name")));
}

static const char update_usage[] =
    "Usage: volman volume update VOLUME --size SIZE\n"
    "\n"
    "Changes VOLUME's size limit (drivers btrfs and loop). btrfs changes its qgroup\n"
    "limit at once; loop grows or shrinks the image and its filesystem while no\n"
    "container uses the volume. Shrinking below what the volume holds is refused.\n"
    "\n"
    "Example:\n"
    "  volman volume update db-data --size 20g\n";

static int update_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        if (opt != 's')
                return -EINVAL;
        *(const char **)state = arg;
        return 0;
}

static int volume_update(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"size", required_argument, NULL, 's'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume update";
        const char *size = NULL;
        int r = cli_parse_options(ctx, cmd, update_usage, ":hs:", options, update_option, &size, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 1)
                return cli_usage_error(ctx, cmd, err, "give one VOLUME");
        if (!size)
                return cli_usage_error(ctx, cmd, err, "give --size SIZE (the only thing update changes)");
        _cleanup_(json_decrefp) json_t *body = json_pack("{s:s}", "size", size);
        _cleanup_free_ char *path = vpath(argv[optind], "resize", NULL, NULL);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = call(ctx, "update", "POST", path, body, &ans, err)) < 0)
                return r;
        if (ctx->json)
                return cli_json_print(ans, stdout);
        return cli_print_line(stdout, argv[optind]);
}

int cli_volume_clone(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return volume_clone(ctx, argc, argv, err);
}

int cli_volume_update(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return volume_update(ctx, argc, argv, err);
}

/* ---- drivers ---- */

static const char driver_ls_usage[] = "Usage: volman driver ls [--json]\n"
                                      "\n"
                                      "Lists volmand's drivers: whether each works on this host (and why not),\n"
                                      "what it can do and the options it takes.\n"
                                      "\n"
                                      "Example:\n"
                                      "  volman driver ls\n";

static int join(json_t *arr, char *out, size_t n)
{
        out[0] = 0;
        size_t i, len = 0;
        json_t *x;
        json_array_foreach(arr, i, x)
        {
                int w = snprintf(out + len, n - len, "%s%s", i ? "," : "", json_string_value(x));
                if (w < 0 || (size_t)w >= n - len)
                        break;
                len += (size_t)w;
        }
        return 0;
}

static int driver_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "driver ls";
        int r = cli_parse_options(ctx, cmd, driver_ls_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = call(ctx, "driver ls", "GET", "/v1/drivers", NULL, &ans, err)) < 0)
                return r;
        json_t *list = json_object_get(ans, "drivers");
        if (ctx->json)
                return cli_json_print(list, stdout);
        static const char *const headers[] = {"DRIVER", "AVAILABLE", "CAN", "OPTIONS"};
        _cleanup_(cli_table_freep) struct cli_table *t = cli_table_new(4, headers);
        size_t i;
        json_t *d;
        json_array_foreach(list, i, d)
        {
                char can[256], opts[256], avail[512];
                join(json_object_get(d, "capabilities"), can, sizeof(can));
                join(json_object_get(d, "options"), opts, sizeof(opts));
                const char *reason = json_string_value(json_object_get(d, "reason"));
                snprintf(avail, sizeof(avail), "%s%s%s", json_is_true(json_object_get(d, "available")) ? "yes" : "no",
                         reason ? ": " : "", reason ? reason : "");
                const char *cells[] = {json_string_value(json_object_get(d, "name")), avail, can, opts};
                cli_table_add_row(t, cells);
        }
        return cli_table_print(t, stdout);
}

static const struct cli_command driver_commands[] = {
    {"ls", "list", driver_ls, "List the drivers, and what each can do here"},
};

int cli_driver(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "driver", driver_commands, ARRAY_SIZE(driver_commands), argc, argv, err);
}
