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
                return CLI_EXIT_INVALID;
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
        case CLI_EXIT_USAGE:
                return 4;
        case CLI_EXIT_FAILURE:
                return 5;
        default: /* unreachable */
                return 6;
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
