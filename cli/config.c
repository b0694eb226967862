/* `volman config set|get`: the global layer of the app container config
 * (docs/apps.md), and what `app config` shares with it: setting a layer from a
 * YAML or JSON file, getting one, and printing its fields for people. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "configfile.h"
#include "core/xmalloc.h"
#include "output.h"

/* ---- printing a layer ---- */

/* A string YAML reads back as the same string when written plain: no
 * indicator characters, nothing that would resolve to null, a boolean or a
 * number. Anything else is written as a JSON string, which YAML reads too. */
static bool plain_is_safe(const char *s)
{
        static const char *const reserved[] = {"~",    "null", "Null",  "NULL",  "true",
                                               "True", "TRUE", "false", "False", "FALSE"};
        if (!*s || strchr("-?:,[]{}#&*!|>'\"%@` .", s[0]))
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
                if (strcmp(s, reserved[i]) == 0)
                        return false;
        /* Numbers would come back as numbers to a YAML reader. */
        if (strspn(s, "0123456789+-.eE_xXoObB") == strlen(s))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr("/._-+=", *p)))
                        return false;
        return true;
}

static void print_value(const json_t *v, FILE *f)
{
        const char *s = json_string_value(v);
        if (s && plain_is_safe(s)) {
                fputs(s, f);
                return;
        }
        /* JSON, in one line: a valid YAML flow value (and safe for a terminal) */
        _cleanup_free_ char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        _cleanup_free_ char *safe = text ? cli_json_text_safe(text) : NULL;
        if (safe)
                fputs(safe, f);
}

int cli_config_fields_print(const json_t *obj, const char *skip, FILE *f)
{
        if (json_object_size(obj) == 0) {
                fputs("{}\n", f);
                return ferror(f) ? -EIO : 0;
        }
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)obj, key, value)
        {
                if (skip && strcmp(key, skip) == 0)
                        continue;
                json_t *k = json_string(key);
                print_value(k, f);
                json_decref(k);
                fputc(':', f);
                if (json_is_array(value) && json_array_size(value) > 0) {
                        size_t i;
                        json_t *item;
                        fputc('\n', f);
                        json_array_foreach(value, i, item)
                        {
                                fputs("  - ", f);
                                print_value(item, f);
                                fputc('\n', f);
                        }
                        continue;
                }
                fputc(' ', f);
                print_value(value, f);
                fputc('\n', f);
        }
        return ferror(f) ? -EIO : 0;
}

/* ---- set and get a layer ---- */

static int print_layer(struct cli_context *ctx, json_t *layer, const char *what,
                       struct vol_error *err)
{
        if (!json_is_object(layer))
                return vol_error_set(err, -EPROTO, "%s: volmand's answer is not an object", what);
        if (ctx->json)
                return cli_json_print(layer, stdout);
        return cli_config_fields_print(layer, NULL, stdout);
}

int cli_config_layer_set(struct cli_context *ctx, const char *api_path, const char *file,
                         const char *what, struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *layer = NULL;
        int r = cli_config_file_read(file, &layer, err);
        if (r < 0)
                return r;

        struct vol_client *client;
        r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *saved = NULL;
        r = vol_client_call(client, "PUT", api_path, layer, &saved, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "setting %s: ", what);
        return print_layer(ctx, saved, what, err);
}

int cli_config_layer_get(struct cli_context *ctx, const char *api_path, const char *what,
                         struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_(json_decrefp) json_t *layer = NULL;
        r = vol_client_call(client, "GET", api_path, NULL, &layer, err);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "getting %s: ", what);
        return print_layer(ctx, layer, what, err);
}

/* ---- volman config set|get ---- */

#define GLOBAL_PATH "/v1/config"
#define GLOBAL_WHAT "the global config"

static const char set_usage[] =
    "Usage: volman config set -f FILE\n"
    "\n"
    "Replaces the global layer of the app container config (every app of every\n"
    "tenant) with FILE, YAML or JSON, and prints the layer as saved. A field left\n"
    "out (or null) inherits the default; the env and app layers override it.\n"
    "Fields: writeableVolumes, readOnlyRootfs, tmpSize, volumeDriver, volumeSize,\n"
    "networkMode (see docs/apps.md).\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE   the config, YAML or JSON, at most 1 MiB; - reads stdin\n"
    "      --json        print the saved layer as JSON\n"
    "\n"
    "Example:\n"
    "  volman config set -f platform.yaml\n";

static const char get_usage[] = "Usage: volman config get [--json]\n"
                                "\n"
                                "Prints the global layer of the app container config.\n"
                                "\n"
                                "Example:\n"
                                "  volman config get --json\n";

static int file_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                       struct vol_error *err)
{
        if (opt != 'f')
                return -EINVAL;
        *(const char **)state = arg;
        return 0;
}

static int config_set(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            {"file", required_argument, NULL, 'f'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "config set";
        const char *file = NULL;

        int r = cli_parse_options(ctx, cmd, set_usage, ":hf:", options, file_option, &file, argc,
                                  argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        if (!file)
                return cli_usage_error(ctx, cmd, err, "-f FILE is required (- reads stdin)");
        return cli_config_layer_set(ctx, GLOBAL_PATH, file, GLOBAL_WHAT, err);
}

static int config_get(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        const char *cmd = "config get";

        int r =
            cli_parse_options(ctx, cmd, get_usage, ":h", options, NULL, NULL, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (optind < argc)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        return cli_config_layer_get(ctx, GLOBAL_PATH, GLOBAL_WHAT, err);
}

static const struct cli_command config_commands[] = {
    {"set", NULL, config_set, "Replace the global config layer with a YAML or JSON file"},
    {"get", NULL, config_get, "Print the global config layer"},
};

int cli_config(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "config", config_commands, ARRAY_SIZE(config_commands), argc,
                             argv, err);
}
