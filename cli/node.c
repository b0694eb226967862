/* `volman node ls|drain`: the nodes of a cluster (docs/cluster.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "core/xmalloc.h"
#include "output.h"

static const char ls_usage[] = "Usage: volman node ls [--json]\n"
                               "\n"
                               "Lists the cluster's nodes: name, state (up, down, draining), the address\n"
                               "the others reach it at, how many volumes it holds, its free space and how\n"
                               "long ago its last heartbeat was. A node is down once its session in the\n"
                               "store lapses (10 s without a heartbeat); '*' marks the node answering.\n"
                               "\n"
                               "Example:\n"
                               "  volman node ls\n";

static const char drain_usage[] =
    "Usage: volman node drain NAME [--mark-only] [--undo]\n"
    "\n"
    "Marks node NAME draining (nothing new is placed there, and a create that\n"
    "names it is refused), then moves every unmounted volume it holds to the\n"
    "node the placement policy picks, one at a time, and lists the volumes\n"
    "left behind (mounted ones, or those whose move failed, with why). Run it\n"
    "again once they are free. It exits 0 only when NAME holds no volume.\n"
    "\n"
    "  --mark-only   mark the node draining, move nothing\n"
    "  --undo        take the mark away (moves nothing back)\n"
    "\n"
    "Example:\n"
    "  volman node drain n2\n";

static const char move_usage[] =
    "Usage: volman volume move VOLUME [--to NODE] [-q]\n"
    "\n"
    "Moves VOLUME to NODE (default: where the placement policy puts a new\n"
    "volume): its content is streamed from its node to NODE, synced there, and\n"
    "only then does the volume belong to NODE, in one step; its old copy is\n"
    "destroyed after. A volume moves only unmounted and without snapshots.\n"
    "Until the end the volume stays whole where it was: a failure or a crash\n"
    "of either node leaves it there. A progress bar shows on a terminal.\n"
    "\n"
    "  --to NODE     the node to move it to\n"
    "  -q, --quiet   no progress bar\n"
    "\n"
    "Example:\n"
    "  volman volume move pgdata --to n3\n";

static void bytes_human(json_t *v, char out[32])
{
        if (!json_is_integer(v)) {
                snprintf(out, 32, "-");
                return;
        }
        cli_human_bytes((double)json_integer_value(v), out);
}

static void ago(const char *when, char out[32])
{
        struct tm tm = {0};
        if (!when || !strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
                snprintf(out, 32, "never");
                return;
        }
        long long s = (long long)(time(NULL) - timegm(&tm));
        snprintf(out, 32, "%llds ago", s < 0 ? 0 : s);
}

static int node_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "node ls";
        int r = cli_parse_options(ctx, cmd, ls_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "GET", "/v1/nodes", NULL, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "node ls: ");
        json_t *nodes = json_object_get(answer, "nodes");
        if (ctx->json)
                return cli_json_print(nodes, stdout);
        static const char *const headers[] = {"NAME", "STATE", "ADDRESS", "VOLUMES", "FREE", "HEARTBEAT"};
        _cleanup_(cli_table_freep) struct cli_table *t = cli_table_new(6, headers);
        size_t i;
        json_t *n;
        json_array_foreach(nodes, i, n)
        {
                char name[80], volumes[24], free_[32], beat[32];
                snprintf(name, sizeof(name), "%s%s", json_string_value(json_object_get(n, "name")) ?: "?",
                         json_is_true(json_object_get(n, "self")) ? " *" : "");
                snprintf(volumes, sizeof(volumes), "%lld", (long long)json_integer_value(json_object_get(n, "volumes")));
                bytes_human(json_object_get(n, "free_bytes"), free_);
                ago(json_string_value(json_object_get(n, "heartbeat")), beat);
                const char *down = json_string_value(json_object_get(n, "state"));
                bool is_down = down && !strcmp(down, "down");
                const char *cells[] = {name, down, json_string_value(json_object_get(n, "address")),
                                       is_down ? "-" : volumes, is_down ? "-" : free_, beat};
                cli_table_add_row(t, cells);
        }
        return cli_table_print(t, stdout);
}

struct move_opts {
        const char *to;
        bool quiet, undo, mark_only;
};

static int move_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct move_opts *o = state;
        switch (opt) {
        case 't': o->to = arg; return 0;
        case 'q': o->quiet = true; return 0;
        case 'u': o->undo = true; return 0;
        case 'm': o->mark_only = true; return 0;
        default: return -EINVAL;
        }
}

/* POST /v1/volumes/NAME/move; the moved volume in *ret. */
static int move_one(struct cli_context *ctx, const char *name, const char *to, bool quiet, json_t **ret,
                    struct vol_error *err)
{
        _cleanup_free_ char *esc = vol_client_escape(name);
        _cleanup_free_ char *path = xasprintf("/v1/volumes/%s/move", esc);
        _cleanup_(json_decrefp) json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
        _cleanup_free_ char *what = xasprintf("move %s", name);
        return cli_call_watched(ctx, what, "POST", path, body, quiet, to, ret, err);
}

int cli_volume_move(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"to", required_argument, NULL, 't'},
                                                {"quiet", no_argument, NULL, 'q'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "volume move";
        struct move_opts o = {0};
        int r = cli_parse_options(ctx, cmd, move_usage, ":hqt:", options, move_option, &o, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind + 1 != argc)
                return cli_usage_error(ctx, cmd, err, optind < argc ? "give one VOLUME" : "give the VOLUME to move");
        _cleanup_(json_decrefp) json_t *ans = NULL;
        if ((r = move_one(ctx, argv[optind], o.to, o.quiet, &ans, err)) < 0)
                return r;
        if (ctx->json)
                return cli_json_print(ans, stdout);
        printf("%s is on node %s\n", argv[optind], json_string_value(json_object_get(ans, "node")) ?: "?");
        return ferror(stdout) ? -EIO : 0;
}

/* Moves every volume of node away; prints what moved and what stays. */
static int drain_moves(struct cli_context *ctx, struct vol_client *client, const char *node, bool quiet,
                       struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *all = NULL;
        int r = cli_list_volumes(client, "", &all, err);
        if (r < 0)
                return r;
        size_t i, moved = 0, left = 0;
        json_t *v;
        json_array_foreach(all, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "name"));
                const char *on = json_string_value(json_object_get(v, "node"));
                if (!name || !on || strcmp(on, node) != 0)
                        continue;
                size_t mounts = json_array_size(json_object_get(v, "mounts"));
                if (mounts) {
                        printf("left  %s: mounted (%zu reference%s); run the drain again once it is free\n", name,
                               mounts, mounts == 1 ? "" : "s");
                        left++;
                        continue;
                }
                _cleanup_(json_decrefp) json_t *ans = NULL;
                struct vol_error e = VOL_ERROR_INIT;
                if (move_one(ctx, name, NULL, quiet, &ans, &e) < 0) {
                        printf("left  %s: %s\n", name, vol_error_message(&e));
                        vol_error_clear(&e);
                        left++;
                        continue;
                }
                printf("moved %s to %s\n", name, json_string_value(json_object_get(ans, "node")) ?: "?");
                moved++;
        }
        printf("%s is draining: %zu volume%s moved, %zu left\n", node, moved, moved == 1 ? "" : "s", left);
        if (ferror(stdout))
                return -EIO;
        return left ? vol_error_set(err, -EBUSY, "node drain: %zu volume%s still on %s", left, left == 1 ? "" : "s",
                                    node)
                    : 0;
}

static int node_drain(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"undo", no_argument, NULL, 'u'},
                                                {"mark-only", no_argument, NULL, 'm'},
                                                {"quiet", no_argument, NULL, 'q'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "node drain";
        struct move_opts o = {0};
        int r = cli_parse_options(ctx, cmd, drain_usage, ":hq", options, move_option, &o, argc, argv, err);
        bool undo = o.undo;
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind + 1 != argc)
                return cli_usage_error(ctx, cmd, err, optind < argc ? "give one node NAME" : "give the node's NAME");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_free_ char *esc = vol_client_escape(argv[optind]);
        _cleanup_free_ char *path = xasprintf("/v1/nodes/%s/drain", esc);
        _cleanup_(json_decrefp) json_t *body = json_pack("{s:b}", "draining", !undo);
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "POST", path, body, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "node drain: ");
        if (ctx->json && (undo || o.mark_only))
                return cli_json_print(answer, stdout);
        if (undo || o.mark_only) {
                printf("%s %s\n", argv[optind], undo ? "takes volumes again" : "is draining: nothing new lands there");
                return ferror(stdout) ? -EIO : 0;
        }
        return drain_moves(ctx, client, argv[optind], o.quiet || ctx->json, err);
}

static const struct cli_command node_commands[] = {
    {"ls", NULL, node_ls, "List the cluster's nodes and their state"},
    {"drain", NULL, node_drain, "Mark a node draining and move its volumes away, or --undo it"},
};

int cli_node(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "node", node_commands, ARRAY_SIZE(node_commands), argc, argv, err);
}
