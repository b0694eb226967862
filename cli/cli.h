/* What the CLI's commands share: the context main() hands them, the shape of
 * a command table, and the exit codes of docs/cli.md. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client.h"
#include "core/error.h"

#define VOLMAN_DEFAULT_SOCKET "/run/volman/volman.sock"

/* Exit codes (docs/cli.md). */
enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_FAILURE = 1,     /* the daemon failed (500) or anything else */
        CLI_EXIT_USAGE = 2,       /* bad flags, missing arguments */
        CLI_EXIT_UNREACHABLE = 3, /* socket missing, connection refused, permission denied */
        CLI_EXIT_NOT_FOUND = 4,   /* 404 */
        CLI_EXIT_CONFLICT = 5,    /* 409: conflict or in use */
        CLI_EXIT_INVALID = 6,     /* 400, 413, 507: the daemon refused the input */
        CLI_EXIT_FORBIDDEN = 7,   /* 403: the caller may not do that */
};

/* One message for stderr, kept until main() prints it. */
struct cli_diag {
        bool warning; /* "warning: ..." rather than an error */
        char *msg;
};

#define CLI_DIAGS_MAX 10000

struct cli_context {
        const char *socket_path;
        bool json;                 /* --json: machine output */
        struct vol_client *client; /* made on first use by cli_client() */
        const char *usage_cmd;     /* set with a usage error: "volume create" */

        /* Per-item errors and warnings of a command that goes on after one
         * item fails (rm, inspect); main() prints them in order. */
        size_t n_diags;
        struct cli_diag *diags;
        size_t n_diags_dropped;
};

/* A command's handler: argv[0] is the command's own name. Returns 0 or a
 * negative errno; when err has a message main() prints it. Usage errors are
 * -EINVAL (only the CLI itself uses -EINVAL; see client.h for the others). */
typedef int (*cli_handler_t)(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

struct cli_command {
        const char *name;
        const char *alias; /* or NULL */
        cli_handler_t handler;
        const char *help; /* one line for the command list */
};

/* The client of ctx's socket, created on first use. Returns 0 and
 * *ret_client (owned by ctx), or a negative errno. */
int cli_client(struct cli_context *ctx, struct vol_client **ret_client, struct vol_error *err);

/* Queues a per-item error or warning for main() to print. */
void cli_diag_add(struct cli_context *ctx, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit code for a negative errno returned by a handler (0 → 0). */
int cli_exit_code(int code);

/* Of two negative errnos (or 0), the one whose failure is worse: unreachable,
 * then daemon failures, then refused input, conflicts, not found. */
int cli_worse(int a, int b);

/* Looks name up in a table of n commands, by name or alias. NULL if absent. */
const struct cli_command *cli_command_find(const struct cli_command *table, size_t n,
                                           const char *name);

/* The `volume` command group (volume.c). */
int cli_volume(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

/* The `app` command group (app.c): config set|get|resolve, deploy, ls, rm, file, secret. */
int cli_app(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

/* The `config` command group (config.c): the global layer of the app config. */
int cli_config(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman volume snapshot ...`, `volume clone`, `volume update`, `driver ...` (cli/storage.c). */
int cli_volume_snapshot(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
int cli_volume_clone(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
int cli_volume_update(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
int cli_driver(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman volume export`, `volume import` (cli/transfer.c). */
int cli_volume_export(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
int cli_volume_import(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman doctor` (cli/doctor.c): checks the host; -EIO when something
 * volman needs is missing. */
int cli_doctor(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

/* `volman events` (cli/events.c). */
int cli_events(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman token ...` (cli/token.c). */
int cli_token(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman store backup` (cli/store.c). */
int cli_store(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* `volman node ls|drain`: a cluster's nodes (cli/node.c). */
int cli_node(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* Every volume GET /v1/volumes?QUERY lists, page after page (cli/volume.c). */
int cli_list_volumes(struct vol_client *client, const char *query, json_t **ret_volumes, struct vol_error *err);
/* `volman volume move` (cli/node.c). */
int cli_volume_move(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
/* Runs a call that makes volmand copy (clone, snapshot, move) on its own
 * connection and, on a terminal unless quiet, draws what GET
 * /v1/operations/{id} (on node, NULL: the one answering) says of it
 * meanwhile: bytes, rate, ETA. The answer in *ret; errors name what. */
int cli_call_watched(struct cli_context *ctx, const char *what, const char *method, const char *path,
                     json_t *body, bool quiet, const char *node, json_t **ret, struct vol_error *err);

/* Runs the subcommand argv[1..] of group ("app config") from its table of n
 * commands; prints the group's help for --help. Returns what the command does. */
int cli_group_run(struct cli_context *ctx, const char *group, const struct cli_command *table,
                  size_t n, int argc, char **argv, struct vol_error *err);

/* One layer of the app config (config.c), shared by `config` and `app config`.
 * api_path is the layer's route ("/v1/config", escaped), what names it in
 * messages ("the global config"). */

/* Reads file (YAML or JSON, "-": stdin) and PUTs it to api_path; nothing is
 * sent when the file is wrong (-EBADMSG). Prints the layer as saved. */
int cli_config_layer_set(struct cli_context *ctx, const char *api_path, const char *file,
                         const char *what, struct vol_error *err);

/* GETs the layer at api_path and prints it. */
int cli_config_layer_get(struct cli_context *ctx, const char *api_path, const char *what,
                         struct vol_error *err);

/* Writes the fields of obj to f as a YAML listing (strings quoted where YAML
 * would read them otherwise), except the field named skip (or NULL). An
 * empty object prints as {}. Returns 0 or -EIO. */
int cli_config_fields_print(const json_t *obj, const char *skip, FILE *f);

/* Options every command accepts, for getopt_long tables: --json, --socket PATH, --help/-h. */
#define CLI_OPT_JSON 0x100
#define CLI_OPT_SOCKET 0x101
#define CLI_COMMON_OPTIONS                                                                         \
        {"json", no_argument, NULL, CLI_OPT_JSON},                                                 \
            {"socket", required_argument, NULL, CLI_OPT_SOCKET},                                   \
        {                                                                                          \
                "help", no_argument, NULL, 'h'                                                     \
        }

/* Handles a command's own option opt (with arg, or NULL) for
 * cli_parse_options; state is the command's. Returns 0 or a negative errno. */
typedef int (*cli_option_fn)(struct cli_context *ctx, void *state, int opt, const char *arg,
                             struct vol_error *err);

/* Parses the options of command cmd with getopt_long (optstring, options),
 * the common ones included; calls on_option for the others (NULL for a
 * command with no option of its own). Returns 1 when
 * --help was asked (usage is then printed), 0 to go on (optind is at the
 * first argument), or a negative errno. */
int cli_parse_options(struct cli_context *ctx, const char *cmd, const char *usage,
                      const char *optstring, const struct option *options, cli_option_fn on_option,
                      void *state, int argc, char **argv, struct vol_error *err);

/* Prepares getopt_long for a new argv (argv[0] is the command) and silences
 * its own messages: errors come back through cli_option_error(). */
void cli_getopt_reset(void);

/* Applies a common option getopt_long returned (CLI_OPT_JSON, CLI_OPT_SOCKET).
 * Returns 1 if opt was one, 0 if not. */
int cli_common_option(struct cli_context *ctx, int opt, const char *arg);

/* The usage error for getopt_long's '?' or ':' answer, for command cmd.
 * Returns -EINVAL. */
int cli_option_error(struct cli_context *ctx, const char *cmd, int opt, char **argv,
                     struct vol_error *err);

/* A usage error of command cmd ("volume create", or NULL for volman's own
 * flags): sets err and remembers cmd so main() can point to its --help.
 * Returns -EINVAL. */
int cli_usage_error(struct cli_context *ctx, const char *cmd, struct vol_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
