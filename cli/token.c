/* `volman token create|ls|rm`: the API tokens of the TLS listener (docs/api.md,
 * "Tokens"). The admin makes them on the unix socket; a token is printed once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "core/xmalloc.h"
#include "output.h"

static const char create_usage[] =
    "Usage: volman token create (--tenant TENANT | --admin) [--name NAME] [--json]\n"
    "\n"
    "Makes an API token for the HTTPS listener (volmand --listen) and prints it,\n"
    "once: volman keeps only its hash. A tenant's token sees and changes only that\n"
    "tenant's volumes, config layers and apps; an admin's token can do everything\n"
    "the unix socket can. Send it as \"Authorization: Bearer TOKEN\", or log in to\n"
    "the web console with it.\n"
    "\n"
    "Options:\n"
    "  --tenant TENANT   the tenant the token acts for\n"
    "  --admin           an admin's token instead\n"
    "  --name NAME       a name to tell it by in 'volman token ls' (A-Z a-z 0-9 . _ -)\n"
    "  --json            print the token and its details as JSON\n"
    "\n"
    "Example:\n"
    "  volman token create --tenant acme --name ci\n";

static const char ls_usage[] = "Usage: volman token ls [--json]\n"
                               "\n"
                               "Lists the tokens: ID, tenant (or admin), name, when made and last used.\n"
                               "The tokens themselves are never shown again.\n"
                               "\n"
                               "Example:\n"
                               "  volman token ls --json\n";

static const char rm_usage[] = "Usage: volman token rm ID...\n"
                               "\n"
                               "Revokes tokens by ID (as 'volman token ls' shows): a request with one fails\n"
                               "at once, and console sessions made with it end.\n"
                               "\n"
                               "Example:\n"
                               "  volman token rm 3f2a9c01b7de\n";

struct create_opts {
        const char *tenant, *name;
        bool admin;
};

static int create_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct create_opts *o = state;
        switch (opt) {
        case 't': o->tenant = arg; return 0;
        case 'n': o->name = arg; return 0;
        case 'a': o->admin = true; return 0;
        default: return -EINVAL;
        }
}

static int token_create(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"tenant", required_argument, NULL, 't'},
                                                {"name", required_argument, NULL, 'n'},
                                                {"admin", no_argument, NULL, 'a'},
                                                CLI_COMMON_OPTIONS,
                                                {}};
        const char *cmd = "token create";
        struct create_opts o = {0};
        int r = cli_parse_options(ctx, cmd, create_usage, ":h", options, create_option, &o, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        if (!o.tenant == !o.admin)
                return cli_usage_error(ctx, cmd, err, "give --tenant TENANT or --admin (one of them)");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *body = json_object();
        if (o.tenant)
                json_object_set_new(body, "tenant", json_string(o.tenant));
        else
                json_object_set_new(body, "admin", json_true());
        if (o.name)
                json_object_set_new(body, "name", json_string(o.name));
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "POST", "/v1/tokens", body, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "token create: ");
        if (ctx->json)
                return cli_json_print(answer, stdout);
        const char *token = json_string_value(json_object_get(answer, "token"));
        const char *id = json_string_value(json_object_get(answer, "id"));
        if (!token || !id)
                return vol_error_set(err, -EPROTO, "token create: volmand's answer holds no token");
        puts(token);
        fprintf(stderr, "Token %s made for %s%s. Keep it now: volman shows it only this once.\n", id,
                o.tenant ? "tenant " : "an admin", o.tenant ? o.tenant : "");
        return 0;
}

static void format_time(json_t *v, char out[32])
{
        if (!json_is_integer(v)) {
                snprintf(out, 32, "never");
                return;
        }
        time_t t = (time_t)json_integer_value(v);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int token_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "token ls";
        int r = cli_parse_options(ctx, cmd, ls_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "GET", "/v1/tokens", NULL, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "token ls: ");
        json_t *tokens = json_object_get(answer, "tokens");
        if (ctx->json)
                return cli_json_print(tokens, stdout);
        static const char *const headers[] = {"ID", "TENANT", "NAME", "CREATED", "LAST USED"};
        _cleanup_(cli_table_freep) struct cli_table *t = cli_table_new(5, headers);
        size_t i;
        json_t *tok;
        json_array_foreach(tokens, i, tok)
        {
                char created[32], used[32];
                format_time(json_object_get(tok, "created"), created);
                format_time(json_object_get(tok, "last_used"), used);
                const char *tenant = json_string_value(json_object_get(tok, "tenant"));
                const char *name = json_string_value(json_object_get(tok, "name"));
                const char *cells[] = {json_string_value(json_object_get(tok, "id")),
                                       tenant ? tenant : "(admin)", name && *name ? name : NULL, created, used};
                cli_table_add_row(t, cells);
        }
        return cli_table_print(t, stdout);
}

static int token_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "token rm";
        int r = cli_parse_options(ctx, cmd, rm_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind >= argc)
                return cli_usage_error(ctx, cmd, err, "give the ID of a token to revoke");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        int first = 0;
        for (int i = optind; i < argc; i++) {
                _cleanup_free_ char *esc = vol_client_escape(argv[i]);
                _cleanup_free_ char *path = xasprintf("/v1/tokens/%s", esc);
                struct vol_error e = VOL_ERROR_INIT;
                int one = vol_client_call(client, "DELETE", path, NULL, NULL, &e);
                if (one == -ECONNREFUSED) {
                        *err = e;
                        return one;
                }
                if (one < 0) {
                        cli_diag_add(ctx, false, "token rm %s: %s", argv[i], vol_error_message(&e));
                        if (!first)
                                first = one;
                } else {
                        puts(argv[i]);
                }
                vol_error_clear(&e);
        }
        return first;
}

static const struct cli_command token_commands[] = {
    {"create", NULL, token_create, "Make an API token for a tenant or an admin (printed once)"},
    {"ls", NULL, token_ls, "List tokens (never the tokens themselves)"},
    {"rm", NULL, token_rm, "Revoke tokens by ID"},
};

int cli_token(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "token", token_commands, ARRAY_SIZE(token_commands), argc, argv, err);
}
