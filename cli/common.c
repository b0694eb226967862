/* What every command uses: the lazily made client, queued diagnostics, option
 * parsing helpers, and the mapping of errors to exit codes. Prints nothing. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/xmalloc.h"

int cli_client(struct cli_context *ctx, struct vol_client **ret_client, struct vol_error *err)
{
        if (!ctx->client) {
                int r = vol_client_new(ctx->socket_path, &ctx->client, err);
                if (r < 0)
                        return r;
        }
        *ret_client = ctx->client;
        return 0;
}

void cli_diag_add(struct cli_context *ctx, bool warning, const char *fmt, ...)
{
        if (ctx->n_diags >= CLI_DIAGS_MAX) {
                ctx->n_diags_dropped++;
                return;
        }
        va_list ap;
        va_start(ap, fmt);
        char *msg;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = xstrdup("(message lost: out of memory)");
        va_end(ap);
        ctx->diags = xrealloc(ctx->diags, (ctx->n_diags + 1) * sizeof(*ctx->diags));
        ctx->diags[ctx->n_diags++] = (struct cli_diag){.warning = warning, .msg = msg};
}

int cli_exit_code(int code)
{
        switch (code) {
        case 0:
                return CLI_EXIT_OK;
        case -EINVAL:
                return CLI_EXIT_USAGE;
        case -ECONNREFUSED:
                return CLI_EXIT_UNREACHABLE;
        case -ENOENT:
                return CLI_EXIT_NOT_FOUND;
        case -EBUSY:
        case -EEXIST:
                return CLI_EXIT_CONFLICT;
        case -EBADMSG:
        case -ENOTSUP:
        case -EMSGSIZE:
        case -ENOSPC:
                return CLI_EXIT_INVALID;
        case -EPERM:
                return CLI_EXIT_FORBIDDEN;
        default:
                return code > 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
        }
}

static int severity(int code)
{
        switch (cli_exit_code(code)) {
        case CLI_EXIT_OK:
                return 0;
        case CLI_EXIT_NOT_FOUND:
                return 1;
        case CLI_EXIT_CONFLICT:
                return 2;
        case CLI_EXIT_INVALID:
                return 3;
        case CLI_EXIT_FORBIDDEN:
                return 4;
        case CLI_EXIT_USAGE:
                return 5;
        case CLI_EXIT_FAILURE:
                return 6;
        default: /* unreachable */
                return 7;
        }
}

int cli_worse(int a, int b)
{
        return severity(b) > severity(a) ? b : a;
}

const struct cli_command *cli_command_find(const struct cli_command *table, size_t n,
                                           const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(table[i].name, name) == 0 ||
                    (table[i].alias && strcmp(table[i].alias, name) == 0))
                        return &table[i];
        return NULL;
}

void cli_getopt_reset(void)
{
        optind = 0; /* glibc: 0 re-initializes getopt completely */
        opterr = 0;
}

int cli_common_option(struct cli_context *ctx, int opt, const char *arg)
{
        switch (opt) {
        case CLI_OPT_JSON:
                ctx->json = true;
                return 1;
        case CLI_OPT_SOCKET:
                ctx->socket_path = arg;
                return 1;
        default:
                return 0;
        }
}

int cli_usage_error(struct cli_context *ctx, const char *cmd, struct vol_error *err,
                    const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *msg;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        ctx->usage_cmd = cmd;
        if (cmd)
                vol_error_set(err, -EINVAL, "%s: %s", cmd, msg ? msg : "usage error");
        else
                vol_error_set(err, -EINVAL, "%s", msg ? msg : "usage error");
        free(msg);
        return -EINVAL;
}

int cli_parse_options(struct cli_context *ctx, const char *cmd, const char *usage,
                      const char *optstring, const struct option *options, cli_option_fn on_option,
                      void *state, int argc, char **argv, struct vol_error *err)
{
        int c;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, optstring, options, NULL)) != -1) {
                if (cli_common_option(ctx, c, optarg))
                        continue;
                if (c == 'h') {
                        fputs(usage, stdout);
                        return 1;
                }
                if (c == '?' || c == ':')
                        return cli_option_error(ctx, cmd, c, argv, err);
                /* getopt_long returns only what the table names: without a
                 * handler, the command has no option of its own to see */
                int r = on_option ? on_option(ctx, state, c, optarg, err) : -EINVAL;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An example for each group's own help (each command's help has its own). */
static const struct {
        const char *group, *example;
} group_examples[] = {
    {"volume", "volman volume create web-data\n  volman volume ls --quiet"},
    {"app", "volman app ls --tenant acme"},
    {"app config", "volman app config resolve --tenant acme --env prod --app orders"},
    {"config", "volman config get"},
    {"token", "volman token create --tenant acme --name ci"},
    {"volume snapshot", "volman volume snapshot create web-data before-upgrade"},
    {"driver", "volman driver ls"},
    {"node", "volman node ls"},
    {"store", "volman store backup -o /var/backups/volman.db"},
};

static void print_group_usage(const char *group, const struct cli_command *table, size_t n, FILE *f)
{
        fprintf(f, "Usage: volman %s COMMAND [ARG...]\n\nCommands:\n", group);
        for (size_t i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof(name), "%s%s%s", table[i].name, table[i].alias ? ", " : "",
                         table[i].alias ? table[i].alias : "");
                fprintf(f, "  %-12s %s\n", name, table[i].help);
        }
        fprintf(f, "\nRun 'volman %s COMMAND --help' for more on a command.\n", group);
        for (size_t i = 0; i < ARRAY_SIZE(group_examples); i++)
                if (strcmp(group_examples[i].group, group) == 0)
                        fprintf(f, "\nExample:\n  %s\n", group_examples[i].example);
}

int cli_group_run(struct cli_context *ctx, const char *group, const struct cli_command *table,
                  size_t n, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        int c;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
                if (cli_common_option(ctx, c, optarg))
                        continue;
                if (c == 'h') {
                        print_group_usage(group, table, n, stdout);
                        return 0;
                }
                return cli_option_error(ctx, group, c, argv, err);
        }
        if (optind >= argc) {
                char names[256] = "";
                for (size_t i = 0; i < n; i++)
                        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                                 i ? ", " : "", table[i].name);
                return cli_usage_error(ctx, group, err, "give a command (%s)", names);
        }
        const struct cli_command *cmd = cli_command_find(table, n, argv[optind]);
        if (!cmd)
                return cli_usage_error(ctx, group, err, "unknown command '%s'", argv[optind]);
        return cmd->handler(ctx, argc - optind, argv + optind, err);
}

int cli_option_error(struct cli_context *ctx, const char *cmd, int opt, char **argv,
                     struct vol_error *err)
{
        const char *text = optind > 0 ? argv[optind - 1] : "?";
        char shortopt[3] = {'-', (char)optopt, 0};

        /* A short option, maybe inside a cluster ("-qx"), is named by optopt. */
        if (strncmp(text, "--", 2) != 0 && optopt > 0 && optopt < 0x80)
                text = shortopt;
        if (opt == ':')
                return cli_usage_error(ctx, cmd, err, "option %s needs a value", text);
        return cli_usage_error(ctx, cmd, err, "unknown option %s", text);
}
