/* volman: the command-line client of volmand (docs/cli.md). Global flags, the
 * command table, and the one place that writes errors. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"

static int cmd_health(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
static int cmd_version(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

static const struct cli_command commands[] = {
    {"volume", NULL, cli_volume, "Manage volumes (create, ls, inspect, rm, prune, mount, unmount, snapshot, clone, update)"},
    {"app", NULL, cli_app, "Manage tenant apps (config set|get|resolve, deploy, ls, rm, file, secret)"},
    {"config", NULL, cli_config, "Set or get the global app container config"},
    {"driver", NULL, cli_driver, "List the volume drivers and what each can do here"},
    {"events", NULL, cli_events, "Follow what happens to volumes and apps"},
    {"token", NULL, cli_token, "Make, list and revoke API tokens (create, ls, rm)"},
    {"node", NULL, cli_node, "List a cluster's nodes, drain one (ls, drain)"},
    {"store", NULL, cli_store, "Back up the metadata store while volmand runs (backup)"},
    {"health", NULL, cmd_health, "Check that volmand answers"},
    {"doctor", NULL, cli_doctor, "Check what this host gives volman, and how to fix what it lacks"},
    {"version", NULL, cmd_version, "Show the versions of volman and volmand"},
};

static void print_usage(FILE *f)
{
        fputs("Usage: volman [--socket PATH] [--json] COMMAND [ARG...]\n"
              "\n"
              "The command-line client of volmand, the volume orchestrator.\n"
              "\n"
              "Options:\n"
              "  --socket PATH   volmand's socket (default $VOLMAN_SOCKET, "
              "else " VOLMAN_DEFAULT_SOCKET ")\n"
              "  --json          print JSON instead of tables (also accepted after COMMAND)\n"
              "  -h, --help      show this help\n"
              "\n"
              "Commands:\n",
              f);
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
        fputs("\nRun 'volman COMMAND --help' for more on a command.\n"
              "Exit codes: 0 ok, 1 failure, 2 usage, 3 volmand unreachable, 4 not found,\n"
              "5 conflict or in use, 6 input refused by volmand or a bad config file,\n"
              "7 not allowed (forbidden).\n"
              "\n"
              "Example:\n"
              "  volman volume create --tenant acme --env prod --app orders --path /var/lib/state\n"
              "  volman --json volume ls\n",
              f);
}

/* Parses a command that takes nothing but the common options. Returns 1 when
 * --help was asked (and printed), 0 to go on, or a negative errno. */
static int parse_no_arguments(struct cli_context *ctx, const char *cmd, const char *usage, int argc,
                              char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        int c;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
                if (cli_common_option(ctx, c, optarg))
                        continue;
                if (c == 'h') {
                        fputs(usage, stdout);
                        return 1;
                }
                return cli_option_error(ctx, cmd, c, argv, err);
        }
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        return 0;
}

static int get_health(struct cli_context *ctx, json_t **ret_json, struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        return vol_client_call(client, "GET", "/v1/health", NULL, ret_json, err);
}

static int cmd_health(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        int r = parse_no_arguments(
            ctx, "health",
            "Usage: volman health [--json]\n\nPrints \"ok\" when volmand answers.\n\nExample:\n"
            "  volman --socket /run/volman/volman.sock health\n",
            argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_(json_decrefp) json_t *j = NULL;
        r = get_health(ctx, &j, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "health: ");
        const char *status = json_string_value(json_object_get(j, "status"));
        if (!status || strcmp(status, "ok") != 0)
                return vol_error_set(err, -EIO, "health: volmand says status %s",
                                     status ? status : "(none)");
        if (ctx->json)
                return cli_json_print(j, stdout);
        puts("ok");
        return 0;
}

static int cmd_version(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        int r = parse_no_arguments(ctx, "version",
                                   "Usage: volman version [--json]\n\n"
                                   "Prints volman's version, then volmand's when it answers.\n"
                                   "\n"
                                   "Example:\n"
                                   "  volman version --json\n",
                                   argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_(json_decrefp) json_t *health = NULL;
        r = get_health(ctx, &health, err);
        const char *server = json_string_value(json_object_get(health, "version"));
        if (ctx->json) {
                _cleanup_(json_decrefp) json_t *j =
                    json_pack("{s:s, s:s?}", "client", VOLMAN_VERSION, "server", server);
                int w = cli_json_print(j, stdout);
                if (w < 0)
                        return w;
        } else {
                printf("volman %s\n", VOLMAN_VERSION);
                if (server)
                        printf("volmand %s\n", server);
        }
        /* The client's version is printed even when the daemon is away; the
         * exit code still says it is. */
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "version: ");
        return 0;
}

static void print_diags(const struct cli_context *ctx)
{
        for (size_t i = 0; i < ctx->n_diags; i++) {
                fputs(ctx->diags[i].warning ? "warning: " : "volman: ", stderr);
                cli_print_line(stderr, ctx->diags[i].msg);
        }
        if (ctx->n_diags_dropped > 0)
                fprintf(stderr, "volman: %zu more messages not shown\n", ctx->n_diags_dropped);
}

static void context_free(struct cli_context *ctx)
{
        for (size_t i = 0; i < ctx->n_diags; i++)
                free(ctx->diags[i].msg);
        free(ctx->diags);
        vol_client_free(ctx->client);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        struct cli_context ctx = {.socket_path = VOLMAN_DEFAULT_SOCKET};
        struct vol_error err = VOL_ERROR_INIT;
        bool curl_global_cleanup_needed = false;
        int c, r;

        const char *env = getenv("VOLMAN_SOCKET");
        if (env && *env)
                ctx.socket_path = env;

        /* Global options stop at the command ('+'): what follows is its own. */
        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
                if (cli_common_option(&ctx, c, optarg))
                        continue;
                if (c == 'h') {
                        print_usage(stdout);
                        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
                }
                r = cli_option_error(&ctx, NULL, c, argv, &err);
                goto finish;
        }
        if (optind >= argc) {
                print_usage(stderr);
                return CLI_EXIT_USAGE;
        }
        const struct cli_command *cmd =
            cli_command_find(commands, ARRAY_SIZE(commands), argv[optind]);
        if (!cmd) {
                r = cli_usage_error(&ctx, NULL, &err, "unknown command '%s'", argv[optind]);
                goto finish;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fputs("volman: cannot initialize libcurl\n", stderr);
                return CLI_EXIT_FAILURE;
        }
        r = cmd->handler(&ctx, argc - optind, argv + optind, &err);
        curl_global_cleanup_needed = true;

finish:
        /* Output first, then what went wrong, so the two streams read in order. */
        if (fflush(stdout) != 0 && r >= 0)
                r = vol_error_set(&err, -EIO, "writing output: %s", strerror(errno));
        print_diags(&ctx);
        /* A command that reported per item (rm, inspect) has said it all already. */
        if (r < 0 && (err.msg || ctx.n_diags == 0)) {
                fputs("volman: ", stderr);
                cli_print_line(stderr, err.msg ? err.msg : strerror(-r));
                if (r == -EINVAL)
                        fprintf(stderr, "Run 'volman%s%s --help' for usage.\n",
                                ctx.usage_cmd ? " " : "", ctx.usage_cmd ? ctx.usage_cmd : "");
        }

        vol_error_clear(&err);
        context_free(&ctx);
        if (curl_global_cleanup_needed)
                curl_global_cleanup();
        return cli_exit_code(r);
}
