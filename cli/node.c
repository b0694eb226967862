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

static const char drain_usage[] = "Usage: volman node drain NAME [--undo]\n"
                                  "\n"
                                  "Marks node NAME draining: nothing new is placed there, and a create\n"
                                  "that names it is refused. --undo takes the mark away.\n"
                                  "\n"
                                  "Example:\n"
                                  "  volman node drain n2\n";

static void bytes_human(json_t *v, char out[32])
{
        if (!json_is_integer(v)) {
                snprintf(out, 32, "-");
                return;
        }
        double b = (double)json_integer_value(v);
        const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        size_t u = 0;
        while (b >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
                b /= 1024;
                u++;
        }
        snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", b, units[u]);
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

static int drain_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        if (opt != 'u')
                return -EINVAL;
        *(bool *)state = true;
        return 0;
}

static int node_drain(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"undo", no_argument, NULL, 'u'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "node drain";
        bool undo = false;
        int r = cli_parse_options(ctx, cmd, drain_usage, ":h", options, drain_option, &undo, argc, argv, err);
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
        if (ctx->json)
                return cli_json_print(answer, stdout);
        printf("%s %s\n", argv[optind], undo ? "takes volumes again" : "is draining: nothing new lands there");
        return ferror(stdout) ? -EIO : 0;
}

static const struct cli_command node_commands[] = {
    {"ls", NULL, node_ls, "List the cluster's nodes and their state"},
    {"drain", NULL, node_drain, "Mark a node draining (nothing new lands there), or --undo it"},
};

int cli_node(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "node", node_commands, ARRAY_SIZE(node_commands), argc, argv, err);
}
