/* `volman app ...`: config set|get|resolve, deploy, ls, rm (docs/apps.md),
 * and the groups `file` and `secret` of the /con interface (con.c).
 * Each command parses its flags, makes one call of the apps API and writes
 * its result to stdout; errors go back to main(). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "con.h"
#include "core/xmalloc.h"
#include "output.h"

enum {
        OPT_TENANT = 0x200,
        OPT_ENV,
        OPT_APP,
        OPT_IMAGE,
        OPT_STRATEGY,
        OPT_NODE,
};

#define OPTION_TENANT                                                                              \
        {                                                                                          \
                "tenant", required_argument, NULL, OPT_TENANT                                      \
        }
#define OPTION_ENV                                                                                 \
        {                                                                                          \
                "env", required_argument, NULL, OPT_ENV                                            \
        }
#define OPTION_APP                                                                                 \
        {                                                                                          \
                "app", required_argument, NULL, OPT_APP                                            \
        }

/* The flags of every app command; each command's getopt table names only
 * its own, so the others stay NULL. */
struct app_flags {
        const char *cmd; /* "app deploy", for messages */
        const char *tenant;
        const char *env;
        const char *app;
        const char *file;
        const char *image;
        const char *strategy;
        const char *node;
        const char *last_arg; /* the value of the last option, to tell it from "--" */
};

static int app_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                      struct vol_error *err)
{
        static const char *const names[] = {"--tenant", "--env", "--app", "--image", "--strategy", "--node"};
        struct app_flags *f = state;
        const char **slot;

        switch (opt) {
        case OPT_TENANT:
                slot = &f->tenant;
                break;
        case OPT_ENV:
                slot = &f->env;
                break;
        case OPT_APP:
                slot = &f->app;
                break;
        case OPT_IMAGE:
                slot = &f->image;
                break;
        case OPT_STRATEGY:
                slot = &f->strategy;
                break;
        case OPT_NODE:
                slot = &f->node;
                break;
        case 'f':
                if (!*arg)
                        return cli_usage_error(ctx, f->cmd, err, "-f needs a file name");
                f->file = f->last_arg = arg;
                return 0;
        default:
                return -EINVAL;
        }
        if (!*arg)
                return cli_usage_error(ctx, f->cmd, err, "%s is empty", names[opt - OPT_TENANT]);
        *slot = f->last_arg = arg;
        return 0;
}

/* Usage errors for what a command needs: --tenant and --env always, --app
 * when need_app. */
static int require_scope(struct cli_context *ctx, const struct app_flags *f, bool need_app,
                         struct vol_error *err)
{
        if (!f->tenant)
                return cli_usage_error(ctx, f->cmd, err, "--tenant is required");
        if (!f->env)
                return cli_usage_error(ctx, f->cmd, err, "--env is required");
        if (need_app && !f->app)
                return cli_usage_error(ctx, f->cmd, err, "--app is required");
        return 0;
}

static int no_arguments(struct cli_context *ctx, const struct app_flags *f, int argc, char **argv,
                        struct vol_error *err)
{
        if (optind < argc)
                return cli_usage_error(ctx, f->cmd, err, "unexpected argument '%s'", argv[optind]);
        return 0;
}

/* "/v1/tenants/T/envs/E[/apps/A][/SUFFIX]", each segment percent-encoded. */
static char *scope_path(const struct app_flags *f, const char *suffix)
{
        _cleanup_free_ char *t = vol_client_escape(f->tenant);
        _cleanup_free_ char *e = vol_client_escape(f->env);
        _cleanup_free_ char *a = f->app ? vol_client_escape(f->app) : NULL;
        return xasprintf("/v1/tenants/%s/envs/%s%s%s%s%s", t, e, a ? "/apps/" : "", a ? a : "",
                         suffix ? "/" : "", suffix ? suffix : "");
}

/* "acme/prod" or "acme/prod/orders", for messages. */
static char *scope_text(const struct app_flags *f)
{
        return xasprintf("%s/%s%s%s", f->tenant, f->env, f->app ? "/" : "", f->app ? f->app : "");
}

static int call_failed(int r, struct vol_error *err, const char *what, const struct app_flags *f)
{
        if (r == -ECONNREFUSED)
                return r;
        _cleanup_free_ char *scope = scope_text(f);
        return vol_error_wrap(err, "%s %s: ", what, scope);
}

/* ---- app config set|get|resolve ---- */

static const char config_set_usage[] =
    "Usage: volman app config set --tenant T --env E [--app A] -f FILE\n"
    "\n"
    "Replaces a layer of the app container config with FILE (YAML or JSON) and\n"
    "prints the layer as saved: the env layer (every app of tenant T in env E)\n"
    "without --app, the app layer with it. A field left out (or null) inherits\n"
    "from the less specific layers; writeableVolumes: [] means none.\n"
    "\n"
    "Options:\n"
    "      --tenant T    the tenant (required)\n"
    "      --env E       the env (required)\n"
    "      --app A       the app: set its own layer rather than the env's\n"
    "  -f, --file FILE   the config, YAML or JSON, at most 1 MiB; - reads stdin\n"
    "      --json        print the saved layer as JSON\n"
    "\n"
    "Example:\n"
    "  volman app config set --tenant acme --env prod --app orders -f orders.yaml\n";

static const char config_get_usage[] =
    "Usage: volman app config get --tenant T --env E [--app A] [--json]\n"
    "\n"
    "Prints one layer of the app container config: the env layer without --app,\n"
    "the app layer with it. {} means the layer sets nothing.\n"
    "\n"
    "Example:\n"
    "  volman app config get --tenant acme --env prod --app orders\n";

static const char config_resolve_usage[] =
    "Usage: volman app config resolve --tenant T --env E --app A [--json]\n"
    "\n"
    "Prints the config app A gets once the global, env and app layers are merged,\n"
    "and the name of the volume each writeable path gets.\n"
    "\n"
    "Example:\n"
    "  volman app config resolve --tenant acme --env prod --app orders\n";

static int config_set_or_get(struct cli_context *ctx, bool set, int argc, char **argv,
                             struct vol_error *err)
{
        static const struct option set_options[] = {
            OPTION_TENANT,      OPTION_ENV, OPTION_APP, {"file", required_argument, NULL, 'f'},
            CLI_COMMON_OPTIONS, {}};
        static const struct option get_options[] = {
            OPTION_TENANT, OPTION_ENV, OPTION_APP, CLI_COMMON_OPTIONS, {}};
        struct app_flags f = {.cmd = set ? "app config set" : "app config get"};

        int r = cli_parse_options(ctx, f.cmd, set ? config_set_usage : config_get_usage,
                                  set ? ":hf:" : ":h", set ? set_options : get_options, app_option,
                                  &f, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if ((r = no_arguments(ctx, &f, argc, argv, err)) < 0 ||
            (r = require_scope(ctx, &f, false, err)) < 0)
                return r;
        if (set && !f.file)
                return cli_usage_error(ctx, f.cmd, err, "-f FILE is required (- reads stdin)");

        _cleanup_free_ char *path = scope_path(&f, "config");
        _cleanup_free_ char *scope = scope_text(&f);
        _cleanup_free_ char *what = xasprintf("the config of %s", scope);
        if (set)
                return cli_config_layer_set(ctx, path, f.file, what, err);
        return cli_config_layer_get(ctx, path, what, err);
}

static int app_config_set(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return config_set_or_get(ctx, true, argc, argv, err);
}

static int app_config_get(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return config_set_or_get(ctx, false, argc, argv, err);
}

static int print_resolved(const json_t *resolved, struct vol_error *err)
{
        json_t *config = json_object_get(resolved, "config");
        json_t *volumes = json_object_get(resolved, "volumes");
        if (!json_is_object(config) || !json_is_array(volumes))
                return vol_error_set(err, -EPROTO,
                                     "volmand's answer has no config or no volumes list");

        /* The paths are in the table below, with their volumes. */
        int r = cli_config_fields_print(config, "writeableVolumes", stdout);
        if (r < 0)
                return r;
        if (json_array_size(volumes) == 0) {
                puts("\nno writeable volumes");
                return ferror(stdout) ? -EIO : 0;
        }
        static const char *const headers[] = {"PATH", "VOLUME NAME"};
        _cleanup_(cli_table_freep) struct cli_table *table =
            cli_table_new(ARRAY_SIZE(headers), headers);
        size_t i;
        json_t *v;
        json_array_foreach(volumes, i, v)
        {
                const char *row[] = {json_string_value(json_object_get(v, "path")),
                                     json_string_value(json_object_get(v, "name"))};
                cli_table_add_row(table, row);
        }
        putchar('\n');
        return cli_table_print(table, stdout);
}

static int app_config_resolve(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            OPTION_TENANT, OPTION_ENV, OPTION_APP, CLI_COMMON_OPTIONS, {}};
        struct app_flags f = {.cmd = "app config resolve"};

        int r = cli_parse_options(ctx, f.cmd, config_resolve_usage, ":h", options, app_option, &f,
                                  argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if ((r = no_arguments(ctx, &f, argc, argv, err)) < 0 ||
            (r = require_scope(ctx, &f, true, err)) < 0)
                return r;

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = scope_path(&f, "resolved");
        _cleanup_(json_decrefp) json_t *resolved = NULL;
        r = vol_client_call(client, "GET", path, NULL, &resolved, err);
        if (r < 0)
                return call_failed(r, err, "resolving the config of", &f);
        if (ctx->json)
                return cli_json_print(resolved, stdout);
        r = print_resolved(resolved, err);
        return r == -EPROTO ? vol_error_wrap(err, "resolving the config: ") : r;
}

static const struct cli_command app_config_commands[] = {
    {"set", NULL, app_config_set, "Replace an env or app config layer with a YAML or JSON file"},
    {"get", NULL, app_config_get, "Print an env or app config layer"},
    {"resolve", NULL, app_config_resolve, "Print an app's merged config and volume names"},
};

static int app_config(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "app config", app_config_commands,
                             ARRAY_SIZE(app_config_commands), argc, argv, err);
}

/* ---- deploy ---- */

static const char deploy_usage[] =
    "Usage: volman app deploy --tenant T --env E --app A --image IMAGE\n"
    "                         [--strategy recreate|blue-green] [--node NODE]\n"
    "                         [-- CMD ARG...]\n"
    "\n"
    "Deploys IMAGE as app A with its resolved config: creates its writeable\n"
    "volumes if needed, replaces its container, and prints the new container's\n"
    "name and generation. Everything after -- is the container's command.\n"
    "\n"
    "Options:\n"
    "      --tenant T, --env E, --app A   the app (required)\n"
    "      --image IMAGE                  the image (required)\n"
    "      --strategy recreate            remove the old container, then start the new\n"
    "                                     one (default)\n"
    "      --strategy blue-green          start the new container, then remove the old\n"
    "      --node NODE                    cluster mode, a first deploy: the node to run\n"
    "                                     on (default: placement picks; later deploys\n"
    "                                     run where the app's volumes are)\n"
    "      --json                         print volmand's answer\n"
    "\n"
    "Example:\n"
    "  volman app deploy --tenant acme --env prod --app orders --image registry/orders:1.4 \\\n"
    "      --strategy blue-green\n";

static int app_deploy(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            OPTION_TENANT,
            OPTION_ENV,
            OPTION_APP,
            {"image", required_argument, NULL, OPT_IMAGE},
            {"strategy", required_argument, NULL, OPT_STRATEGY},
            {"node", required_argument, NULL, OPT_NODE},
            CLI_COMMON_OPTIONS,
            {},
        };
        struct app_flags f = {.cmd = "app deploy"};

        /* '+': stop at "--" or at the first argument, so that the command's
         * own flags are never taken for ours. */
        int r = cli_parse_options(ctx, f.cmd, deploy_usage, "+:h", options, app_option, &f, argc,
                                  argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        /* getopt consumed a "--" that ends the options; one that is an
         * option's value (--image --) does not count. */
        bool dashdash =
            optind > 1 && strcmp(argv[optind - 1], "--") == 0 && argv[optind - 1] != f.last_arg;
        if (!dashdash && optind < argc)
                return cli_usage_error(ctx, f.cmd, err,
                                       "unexpected argument '%s' (the container's command goes "
                                       "after --)",
                                       argv[optind]);
        if ((r = require_scope(ctx, &f, true, err)) < 0)
                return r;
        if (!f.image)
                return cli_usage_error(ctx, f.cmd, err, "--image is required");
        if (f.strategy && strcmp(f.strategy, "recreate") != 0 &&
            strcmp(f.strategy, "blue-green") != 0)
                return cli_usage_error(ctx, f.cmd, err,
                                       "--strategy '%s': expected recreate or blue-green",
                                       f.strategy);

        _cleanup_(json_decrefp) json_t *body = json_object();
        json_t *image = json_string(f.image);
        if (!image)
                return cli_usage_error(ctx, f.cmd, err, "--image is not valid UTF-8");
        json_object_set_new(body, "image", image);
        if (optind < argc) {
                json_t *cmd = json_array();
                json_object_set_new(body, "cmd", cmd);
                for (int i = optind; i < argc; i++) {
                        json_t *a = json_string(argv[i]);
                        if (!a)
                                return cli_usage_error(ctx, f.cmd, err,
                                                       "command argument %d is not valid UTF-8",
                                                       i - optind + 1);
                        json_array_append_new(cmd, a);
                }
        }
        if (f.strategy)
                json_object_set_new(body, "strategy", json_string(f.strategy));
        if (f.node)
                json_object_set_new(body, "node", json_string(f.node));

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = scope_path(&f, "deploy");
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "POST", path, body, &answer, err);
        if (r < 0)
                return call_failed(r, err, "deploying", &f);
        if (ctx->json)
                return cli_json_print(answer, stdout);
        const char *name =
            json_string_value(json_object_get(json_object_get(answer, "container"), "name"));
        json_t *generation = json_object_get(answer, "generation");
        if (!name || !json_is_integer(generation))
                return vol_error_set(err, -EPROTO,
                                     "deploying: volmand's answer has no container name or "
                                     "generation");
        _cleanup_free_ char *safe = cli_printable(name);
        printf("%s (generation %" JSON_INTEGER_FORMAT ")\n", safe, json_integer_value(generation));
        return 0;
}

/* ---- ls ---- */

static const char ls_usage[] = "Usage: volman app ls [--tenant T] [--json]\n"
                               "\n"
                               "Lists every app that has an app config layer or has been\n"
                               "deployed (of tenant T only, with --tenant), with its last deploy.\n"
                               "\n"
                               "Options:\n"
                               "      --tenant T   only the apps of tenant T\n"
                               "      --json       print one JSON array of the apps\n"
                               "\n"
                               "Example:\n"
                               "  volman app ls --tenant acme\n";

static int app_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {OPTION_TENANT, CLI_COMMON_OPTIONS, {}};
        struct app_flags f = {.cmd = "app ls"};

        int r =
            cli_parse_options(ctx, f.cmd, ls_usage, ":h", options, app_option, &f, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if ((r = no_arguments(ctx, &f, argc, argv, err)) < 0)
                return r;

        _cleanup_free_ char *tenant = f.tenant ? vol_client_escape(f.tenant) : NULL;
        _cleanup_free_ char *path =
            xasprintf("/v1/apps%s%s", tenant ? "?tenant=" : "", tenant ? tenant : "");
        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "GET", path, NULL, &answer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "listing apps: ");
        json_t *apps = json_object_get(answer, "apps");
        if (!json_is_array(apps))
                return vol_error_set(err, -EPROTO,
                                     "listing apps: volmand's answer has no apps list");
        if (ctx->json)
                return cli_json_print(apps, stdout);

        static const char *const headers[] = {"TENANT",     "ENV",       "APP",   "CONFIG",
                                              "GENERATION", "CONTAINER", "IMAGE", "NODE"};
        size_t i;
        json_t *a;
        bool nodes = false; /* cluster mode: the NODE column */
        json_array_foreach(apps, i, a)
                nodes |= json_is_string(json_object_get(json_object_get(a, "deployed"), "node"));
        _cleanup_(cli_table_freep) struct cli_table *table =
            cli_table_new(ARRAY_SIZE(headers) - !nodes, headers);
        json_array_foreach(apps, i, a)
        {
                json_t *deployed = json_object_get(a, "deployed");
                json_t *generation = json_object_get(deployed, "generation");
                char gen[32] = "-";
                if (json_is_integer(generation))
                        snprintf(gen, sizeof(gen), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(generation));
                const char *row[] = {
                    json_string_value(json_object_get(a, "tenant")),
                    json_string_value(json_object_get(a, "env")),
                    json_string_value(json_object_get(a, "app")),
                    json_is_true(json_object_get(a, "config")) ? "yes" : "no",
                    gen,
                    json_string_value(json_object_get(deployed, "container_name")),
                    json_string_value(json_object_get(deployed, "image")),
                    json_string_value(json_object_get(deployed, "node")) ?: "-",
                };
                cli_table_add_row(table, row);
        }
        return cli_table_print(table, stdout);
}

/* ---- rm ---- */

static const char rm_usage[] =
    "Usage: volman app rm --tenant T --env E --app A [--json]\n"
    "\n"
    "Removes app A: its containers, then its volumes and all their data, then its\n"
    "app config layer and deploy record, and prints what was removed. Running it\n"
    "again finishes an interrupted removal. The env and global layers stay.\n"
    "\n"
    "Example:\n"
    "  volman app rm --tenant acme --env prod --app orders\n";

static int app_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            OPTION_TENANT, OPTION_ENV, OPTION_APP, CLI_COMMON_OPTIONS, {}};
        struct app_flags f = {.cmd = "app rm"};

        int r =
            cli_parse_options(ctx, f.cmd, rm_usage, ":h", options, app_option, &f, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if ((r = no_arguments(ctx, &f, argc, argv, err)) < 0 ||
            (r = require_scope(ctx, &f, true, err)) < 0)
                return r;

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = scope_path(&f, NULL);
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "DELETE", path, NULL, &answer, err);
        if (r < 0)
                return call_failed(r, err, "removing app", &f);
        if (ctx->json)
                return cli_json_print(answer, stdout);
        json_t *removed = json_object_get(answer, "removed");
        json_t *containers = json_object_get(removed, "containers");
        json_t *volumes = json_object_get(removed, "volumes");
        if (!json_is_integer(containers) || !json_is_integer(volumes))
                return vol_error_set(err, -EPROTO,
                                     "removing app: volmand's answer does not say what it removed");
        json_int_t nc = json_integer_value(containers), nv = json_integer_value(volumes);
        _cleanup_free_ char *scope = scope_text(&f);
        printf("%s: removed %" JSON_INTEGER_FORMAT " container%s, %" JSON_INTEGER_FORMAT
               " volume%s, %s\n",
               scope, nc, nc == 1 ? "" : "s", nv, nv == 1 ? "" : "s",
               json_is_true(json_object_get(removed, "config")) ? "the app config"
                                                                : "no app config");
        return 0;
}

/* ---- the group ---- */

static const struct cli_command app_commands[] = {
    {"config", NULL, app_config, "Set, get or resolve an env or app config layer"},
    {"deploy", NULL, app_deploy, "Deploy an app's container with its writeable volumes"},
    {"ls", "list", app_ls, "List apps and their last deploy"},
    {"rm", "remove", app_rm, "Remove an app: containers, volumes, config"},
    {"file", NULL, cli_app_file, "Put, list, get or remove /con configuration and context files"},
    {"secret", NULL, cli_app_secret, "Put, list or remove /con secrets (never their values)"},
};

int cli_app(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "app", app_commands, ARRAY_SIZE(app_commands), argc, argv, err);
}
