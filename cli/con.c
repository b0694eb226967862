/* `volman app file put|ls|get|rm` and `volman app secret put|ls|rm`: the
 * files of the /con interface's configuration and context areas, and its
 * secrets, at an env's level or an app's (docs/cli.md, docs/api.md).
 *
 * File and secret contents are raw bytes and go both ways byte-exact. A
 * secret's value is read from -f, sent once, wiped from memory, and never
 * printed: volmand has no route that gives it back to the CLI. */
#include "con.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "output.h"

/* Hard maximum of one file or secret: volmand's (VOL_CON_FILE_MAX). */
#define CON_CONTENT_MAX ((size_t)1024 * 1024)
/* Hex digits of a file's SHA-256 shown in `file ls`'s table. */
#define CON_SHA256_SHOWN 12

enum {
        OPT_TENANT = 0x200,
        OPT_ENV,
        OPT_APP,
        OPT_AREA,
};

#define CON_OPTION_LEVEL                                                                           \
        {"tenant", required_argument, NULL, OPT_TENANT},                                           \
            {"env", required_argument, NULL, OPT_ENV},                                             \
        {                                                                                          \
                "app", required_argument, NULL, OPT_APP                                            \
        }
#define CON_OPTION_AREA                                                                            \
        {                                                                                          \
                "area", required_argument, NULL, OPT_AREA                                          \
        }
#define CON_OPTION_FILE                                                                            \
        {                                                                                          \
                "file", required_argument, NULL, 'f'                                               \
        }
#define CON_OPTION_OUTPUT                                                                          \
        {                                                                                          \
                "output", required_argument, NULL, 'o'                                             \
        }

/* The flags of every file and secret command; each command's getopt table
 * names only its own, so the others stay NULL. */
struct con_flags {
        const char *cmd; /* "app file put", for messages */
        const char *tenant;
        const char *env;
        const char *app;
        const char *area;
        const char *file;   /* -f: what to put */
        const char *output; /* -o: where `file get` writes */
        const char *name;   /* the NAME argument */
};

/* What a command takes besides the level (--tenant, --env, --app). */
enum {
        TAKES_NAME = 1 << 0,   /* exactly one NAME */
        NEEDS_AREA = 1 << 1,   /* --area is required */
        NEEDS_FILE = 1 << 2,   /* -f is required */
        NAMES_SECRET = 1 << 3, /* NAME is a secret's, for messages */
};

static int con_option(struct cli_context *ctx, void *state, int opt, const char *arg,
                      struct vol_error *err)
{
        static const char *const names[] = {"--tenant", "--env", "--app", "--area"};
        struct con_flags *f = state;
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
        case OPT_AREA:
                slot = &f->area;
                break;
        case 'f':
                if (!*arg)
                        return cli_usage_error(ctx, f->cmd, err,
                                               "-f needs a file name (- reads stdin)");
                f->file = arg;
                return 0;
        case 'o':
                if (!*arg)
                        return cli_usage_error(ctx, f->cmd, err,
                                               "-o needs a file name (- is stdout)");
                f->output = arg;
                return 0;
        default:
                return -EINVAL;
        }
        if (!*arg)
                return cli_usage_error(ctx, f->cmd, err, "%s is empty", names[opt - OPT_TENANT]);
        *slot = arg;
        return 0;
}

/* Parses a command's options and arguments and checks what it needs (what:
 * TAKES_NAME...). Returns 1 after --help, 0 to go on, or a negative errno
 * (a usage error, before anything is read or sent). */
static int parse(struct cli_context *ctx, struct con_flags *f, unsigned what, const char *usage,
                 const char *optstring, const struct option *options, int argc, char **argv,
                 struct vol_error *err)
{
        int r = cli_parse_options(ctx, f->cmd, usage, optstring, options, con_option, f, argc, argv,
                                  err);
        if (r != 0)
                return r;
        const char *kind = what & NAMES_SECRET ? "secret" : "file";
        if (what & TAKES_NAME) {
                if (optind >= argc)
                        return cli_usage_error(ctx, f->cmd, err, "give the %s's NAME", kind);
                f->name = argv[optind++];
                if (!*f->name)
                        return cli_usage_error(ctx, f->cmd, err, "the %s's NAME is empty", kind);
        }
        if (optind < argc)
                return cli_usage_error(ctx, f->cmd, err, "unexpected argument '%s'", argv[optind]);
        if (!f->tenant)
                return cli_usage_error(ctx, f->cmd, err, "--tenant is required");
        if (!f->env)
                return cli_usage_error(ctx, f->cmd, err, "--env is required");
        if ((what & NEEDS_AREA) && !f->area)
                return cli_usage_error(ctx, f->cmd, err,
                                       "--area is required (configuration or context)");
        if (f->area && strcmp(f->area, "configuration") != 0 && strcmp(f->area, "context") != 0)
                return cli_usage_error(ctx, f->cmd, err,
                                       "--area '%s': expected configuration or context", f->area);
        if ((what & NEEDS_FILE) && !f->file)
                return cli_usage_error(ctx, f->cmd, err, "-f FILE is required (- reads stdin)");
        return 0;
}

/* "/v1/tenants/T/envs/E[/apps/A]/KIND[/AREA][/NAME]", each segment
 * percent-encoded. */
static char *level_path(const struct con_flags *f, const char *kind, const char *area,
                        const char *name)
{
        _cleanup_free_ char *t = vol_client_escape(f->tenant);
        _cleanup_free_ char *e = vol_client_escape(f->env);
        _cleanup_free_ char *a = f->app ? vol_client_escape(f->app) : NULL;
        _cleanup_free_ char *ar = area ? vol_client_escape(area) : NULL;
        _cleanup_free_ char *n = name ? vol_client_escape(name) : NULL;
        return xasprintf("/v1/tenants/%s/envs/%s%s%s/%s%s%s%s%s", t, e, a ? "/apps/" : "",
                         a ? a : "", kind, ar ? "/" : "", ar ? ar : "", n ? "/" : "", n ? n : "");
}

/* "acme/prod" or "acme/prod/orders", for messages. */
static char *level_text(const struct con_flags *f)
{
        return xasprintf("%s/%s%s%s", f->tenant, f->env, f->app ? "/" : "", f->app ? f->app : "");
}

/* Prefixes err with "<doing> <what> of <level>: ", except when volmand could
 * not be reached (that message stands alone). Returns r. */
static int call_failed(int r, struct vol_error *err, const char *doing, const char *what,
                       const struct con_flags *f)
{
        if (r == -ECONNREFUSED)
                return r;
        _cleanup_free_ char *level = level_text(f);
        vol_error_wrap(err, "%s %s of %s: ", doing, what, level);
        return r;
}

/* "2026-12-01T03:02:26Z", or "-" when v is not a time. */
static void format_time(const json_t *v, char out[32])
{
        if (!json_is_integer(v)) {
                snprintf(out, 32, "-");
                return;
        }
        time_t t = (time_t)json_integer_value(v);
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(out, 32, "-");
}

static void format_size(const json_t *v, char out[32])
{
        if (json_is_integer(v))
                snprintf(out, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
                snprintf(out, 32, "-");
}

/* ---- the content to put ---- */

/* A content read from -f, in a buffer of CON_CONTENT_MAX + 1 bytes that is
 * wiped before it is freed (it may hold a secret). */
struct content {
        char *data;
        size_t len;
};

static void content_wipe(struct content *c)
{
        if (c->data) {
                explicit_bzero(c->data, CON_CONTENT_MAX + 1);
                free(c->data);
        }
        *c = (struct content){0};
}

/* Reads path ("-": stdin) to its end into *ret, reading at most one byte
 * past CON_CONTENT_MAX: enough to tell a content too large, never more.
 * Returns 0, -EMSGSIZE when it is too large, or -EBADMSG when it cannot be
 * read; the messages name the file, never what it holds. */
static int content_read(const char *path, struct content *ret, struct vol_error *err)
{
        bool from_stdin = strcmp(path, "-") == 0;
        const char *source = from_stdin ? "stdin" : path;
        _cleanup_close_ int fd = from_stdin ? -1 : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (!from_stdin && fd < 0)
                return vol_error_set(err, -EBADMSG, "cannot open %s: %s; nothing was sent", path,
                                     strerror(errno));

        _cleanup_(content_wipe) struct content c = {.data = xmalloc(CON_CONTENT_MAX + 1)};
        while (c.len < CON_CONTENT_MAX + 1) {
                ssize_t n = read(from_stdin ? STDIN_FILENO : fd, c.data + c.len,
                                 CON_CONTENT_MAX + 1 - c.len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vol_error_set(err, -EBADMSG, "cannot read %s: %s; nothing was sent",
                                             source, strerror(errno));
                if (n == 0)
                        break;
                c.len += (size_t)n;
        }
        if (c.len > CON_CONTENT_MAX)
                return vol_error_set(err, -EMSGSIZE,
                                     "%s is larger than %zu MiB, the most a file or secret may "
                                     "hold; nothing was sent",
                                     source, CON_CONTENT_MAX >> 20);
        *ret = (struct content){.data = TAKE_PTR(c.data), .len = c.len};
        return 0;
}

/* ---- requests with raw bodies ---- */

/* PUTs the len bytes at data to path (percent-encoded) and parses the JSON
 * answer into *ret_json (the caller decrefs). */
static int put_bytes(struct cli_context *ctx, const char *path, const char *data, size_t len,
                     json_t **ret_json, struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        return vol_client_send_bytes(client, "PUT", path, data, len, ret_json, err);
}

static ssize_t capped_write(void *cookie, const char *buf, size_t n)
{
        if (vol_strbuf_append(cookie, buf, n) < 0) {
                errno = EFBIG;
                return 0;
        }
        return (ssize_t)n;
}

/* GETs path into *ret (a buffer of at most CON_CONTENT_MAX bytes the caller
 * initialized and frees): the raw bytes of a 2xx answer, or the daemon's
 * error as vol_client_call reports it. */
static int get_bytes(struct cli_context *ctx, const char *path, struct vol_strbuf *ret,
                     struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        _cleanup_fclose_ FILE *f =
            fopencookie(ret, "w", (cookie_io_functions_t){.write = capped_write});
        if (!f)
                return vol_error_set(err, -ENOMEM, "cannot make a buffer for the file");
        setvbuf(f, NULL, _IONBF, 0); /* every write reaches the buffer, and its limit, at once */
        r = vol_client_download(client, path, f, NULL, NULL, 0, err);
        if (ret->overflow)
                return vol_error_set(err, -EPROTO, "volmand's answer is larger than %zu MiB",
                                     CON_CONTENT_MAX >> 20);
        return r;
}

/* Writes len bytes at data to path, or to stdout for NULL or "-". The file
 * is created (mode 0666 less the umask) or truncated. Failures are -EIO. */
static int write_output(const char *path, const char *data, size_t len, struct vol_error *err)
{
        if (!path || strcmp(path, "-") == 0) {
                if (len > 0 && fwrite(data, 1, len, stdout) != len)
                        return vol_error_set(err, -EIO, "writing to stdout: %s", strerror(errno));
                return 0;
        }
        _cleanup_close_ int fd =
            open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd < 0)
                return vol_error_set(err, -EIO, "cannot write %s: %s", path, strerror(errno));
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vol_error_set(err, -EIO, "writing %s: %s", path, strerror(errno));
                done += (size_t)n;
        }
        if (close(TAKE_FD(fd)) < 0)
                return vol_error_set(err, -EIO, "writing %s: %s", path, strerror(errno));
        return 0;
}

/* A DELETE with an empty answer (204). Prints "<level>: <what> removed", or
 * {} with --json (volmand answers nothing more). */
static int remove_one(struct cli_context *ctx, const struct con_flags *f, const char *path,
                      const char *what, struct vol_error *err)
{
        struct vol_client *client;
        int r = cli_client(ctx, &client, err);
        if (r < 0)
                return r;
        r = vol_client_call(client, "DELETE", path, NULL, NULL, err);
        if (r < 0)
                return call_failed(r, err, "removing", what, f);
        if (ctx->json) {
                puts("{}");
                return 0;
        }
        _cleanup_free_ char *level = level_text(f);
        _cleanup_free_ char *line = xasprintf("%s: %s removed", level, what);
        return cli_print_line(stdout, line);
}

/* ---- app file put|ls|get|rm ---- */

static const char file_put_usage[] =
    "Usage: volman app file put --tenant T --env E [--app A] --area AREA NAME -f FILE\n"
    "\n"
    "Stores FILE, byte for byte, as file NAME of the /con area AREA and prints its\n"
    "record: at the env's level without --app (every app of tenant T in env E\n"
    "sees it), at app A's with it (it wins over the env's file of that name). A\n"
    "file of that name is replaced. Apps see it under /con/AREA from their next\n"
    "deploy.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app: its own file rather than the env's\n"
    "      --area AREA     configuration or context (required)\n"
    "  -f, --file FILE     the content, at most 1 MiB; - reads stdin (required)\n"
    "      --json          print the stored file's record as JSON\n"
    "\n"
    "NAME is 1 to 128 of A-Z a-z 0-9 . _ -, not starting with a dot, not DEFAULT.\n"
    "\n"
    "Example:\n"
    "  volman app file put --tenant acme --env prod --app orders --area configuration \\\n"
    "      app.yaml -f app.yaml\n";

static const char file_ls_usage[] =
    "Usage: volman app file ls --tenant T --env E [--app A] [--area AREA] [--json]\n"
    "\n"
    "Lists the files put at the env's level (without --app) or at app A's, of\n"
    "both areas or of AREA: area, name, size in bytes, when last put (UTC) and\n"
    "the start of their SHA-256.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app's files rather than the env's\n"
    "      --area AREA     only the files of configuration or context\n"
    "      --json          print one JSON array of the files' records\n"
    "\n"
    "Example:\n"
    "  volman app file ls --tenant acme --env prod --app orders\n";

static const char file_get_usage[] =
    "Usage: volman app file get --tenant T --env E [--app A] --area AREA NAME [-o FILE]\n"
    "\n"
    "Writes the content of file NAME of AREA, byte for byte, to stdout or to FILE.\n"
    "FILE is written only once the whole content has come.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app's file rather than the env's\n"
    "      --area AREA     configuration or context (required)\n"
    "  -o, --output FILE   write to FILE (created or truncated); - is stdout\n"
    "\n"
    "Example:\n"
    "  volman app file get --tenant acme --env prod --app orders --area configuration \\\n"
    "      app.yaml -o app.yaml\n";

static const char file_rm_usage[] =
    "Usage: volman app file rm --tenant T --env E [--app A] --area AREA NAME [--json]\n"
    "\n"
    "Removes file NAME of AREA at the env's level (without --app) or at app A's.\n"
    "Apps stop seeing it from their next deploy.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app's file rather than the env's\n"
    "      --area AREA     configuration or context (required)\n"
    "      --json          print {} once removed\n"
    "\n"
    "Example:\n"
    "  volman app file rm --tenant acme --env prod --app orders --area context notes.txt\n";

static int file_put(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            CON_OPTION_LEVEL, CON_OPTION_AREA, CON_OPTION_FILE, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app file put"};
        int r = parse(ctx, &f, TAKES_NAME | NEEDS_AREA | NEEDS_FILE, file_put_usage,
                      ":hf:", options, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_(content_wipe) struct content c = {0};
        if ((r = content_read(f.file, &c, err)) < 0)
                return r;
        _cleanup_free_ char *path = level_path(&f, "files", f.area, f.name);
        _cleanup_free_ char *what = xasprintf("file %s/%s", f.area, f.name);
        _cleanup_(json_decrefp) json_t *record = NULL;
        r = put_bytes(ctx, path, c.data, c.len, &record, err);
        if (r < 0)
                return call_failed(r, err, "putting", what, &f);
        if (ctx->json)
                return cli_json_print(record, stdout);

        char size[32];
        format_size(json_object_get(record, "size"), size);
        const char *sha = json_string_value(json_object_get(record, "sha256"));
        _cleanup_free_ char *level = level_text(&f);
        _cleanup_free_ char *line = xasprintf("%s: %s/%s stored, %s bytes, sha256 %s", level,
                                              f.area, f.name, size, sha ? sha : "-");
        return cli_print_line(stdout, line);
}

static int file_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            CON_OPTION_LEVEL, CON_OPTION_AREA, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app file ls"};
        int r = parse(ctx, &f, 0, file_ls_usage, ":h", options, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_free_ char *base = level_path(&f, "files", NULL, NULL);
        _cleanup_free_ char *area = f.area ? vol_client_escape(f.area) : NULL;
        _cleanup_free_ char *path =
            xasprintf("%s%s%s", base, area ? "?area=" : "", area ? area : "");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "GET", path, NULL, &answer, err);
        if (r < 0)
                return call_failed(r, err, "listing", "the files", &f);
        json_t *files = json_object_get(answer, "files");
        if (!json_is_array(files))
                return call_failed(
                    vol_error_set(err, -EPROTO, "volmand's answer has no files list"), err,
                    "listing", "the files", &f);
        if (ctx->json)
                return cli_json_print(files, stdout);

        static const char *const headers[] = {"AREA", "NAME", "SIZE", "UPDATED", "SHA256"};
        _cleanup_(cli_table_freep) struct cli_table *table =
            cli_table_new(ARRAY_SIZE(headers), headers);
        size_t i;
        json_t *file;
        json_array_foreach(files, i, file)
        {
                char size[32], updated[32], sha[CON_SHA256_SHOWN + 1] = "-";
                format_size(json_object_get(file, "size"), size);
                format_time(json_object_get(file, "updated"), updated);
                const char *sum = json_string_value(json_object_get(file, "sha256"));
                if (sum)
                        snprintf(sha, sizeof(sha), "%s", sum);
                const char *row[] = {json_string_value(json_object_get(file, "area")),
                                     json_string_value(json_object_get(file, "name")), size,
                                     updated, sha};
                cli_table_add_row(table, row);
        }
        return cli_table_print(table, stdout);
}

static int file_get(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            CON_OPTION_LEVEL, CON_OPTION_AREA, CON_OPTION_OUTPUT, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app file get"};
        int r = parse(ctx, &f, TAKES_NAME | NEEDS_AREA, file_get_usage, ":ho:", options, argc, argv,
                      err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_free_ char *path = level_path(&f, "files", f.area, f.name);
        _cleanup_free_ char *what = xasprintf("file %s/%s", f.area, f.name);
        struct vol_strbuf content;
        vol_strbuf_init(&content, CON_CONTENT_MAX);
        r = get_bytes(ctx, path, &content, err);
        if (r < 0)
                r = call_failed(r, err, "getting", what, &f);
        else
                r = write_output(f.output, content.data ? content.data : "", content.len, err);
        vol_strbuf_free(&content);
        return r;
}

static int file_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            CON_OPTION_LEVEL, CON_OPTION_AREA, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app file rm"};
        int r =
            parse(ctx, &f, TAKES_NAME | NEEDS_AREA, file_rm_usage, ":h", options, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_free_ char *path = level_path(&f, "files", f.area, f.name);
        _cleanup_free_ char *what = xasprintf("file %s/%s", f.area, f.name);
        return remove_one(ctx, &f, path, what, err);
}

/* ---- app secret put|ls|rm ---- */

static const char secret_put_usage[] =
    "Usage: volman app secret put --tenant T --env E [--app A] NAME -f FILE\n"
    "\n"
    "Stores the content of FILE, byte for byte (a trailing newline included), as\n"
    "secret NAME and prints its record, never its value: at the env's level\n"
    "without --app (every app of tenant T in env E sees it), at app A's with it\n"
    "(it wins over the env's secret of that name). A secret of that name is\n"
    "replaced. volmand keeps it encrypted; apps see it under /con/secret from\n"
    "their next deploy. Nothing gives a value back to volman.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app: its own secret rather than the env's\n"
    "  -f, --file FILE     the value, at most 1 MiB; - reads stdin (required)\n"
    "      --json          print the secret's record (no value) as JSON\n"
    "\n"
    "NAME is 1 to 128 of A-Z a-z 0-9 . _ -, not starting with a dot, not DEFAULT.\n"
    "\n"
    "Example:\n"
    "  volman app secret put --tenant acme --env prod --app orders tls.key -f tls.key\n"
    "  printf %s \"$DB_PASSWORD\" | volman app secret put --tenant acme --env prod \\\n"
    "      --app orders db-password -f -\n";

static const char secret_ls_usage[] =
    "Usage: volman app secret ls --tenant T --env E [--app A] [--json]\n"
    "\n"
    "Lists the secrets of the env's level (without --app) or of app A's: name,\n"
    "size in bytes, when first and last put (UTC). Never their values.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app's secrets rather than the env's\n"
    "      --json          print one JSON array of the secrets' records\n"
    "\n"
    "Example:\n"
    "  volman app secret ls --tenant acme --env prod --app orders\n";

static const char secret_rm_usage[] =
    "Usage: volman app secret rm --tenant T --env E [--app A] NAME [--json]\n"
    "\n"
    "Removes secret NAME of the env's level (without --app) or of app A's. Apps\n"
    "stop seeing it from their next deploy.\n"
    "\n"
    "Options:\n"
    "      --tenant T      the tenant (required)\n"
    "      --env E         the env (required)\n"
    "      --app A         the app's secret rather than the env's\n"
    "      --json          print {} once removed\n"
    "\n"
    "Example:\n"
    "  volman app secret rm --tenant acme --env prod --app orders db-password\n";

static int secret_put(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {
            CON_OPTION_LEVEL, CON_OPTION_FILE, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app secret put"};
        int r = parse(ctx, &f, TAKES_NAME | NEEDS_FILE | NAMES_SECRET, secret_put_usage,
                      ":hf:", options, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_(content_wipe) struct content c = {0};
        if ((r = content_read(f.file, &c, err)) < 0)
                return r;
        _cleanup_free_ char *path = level_path(&f, "secrets", NULL, f.name);
        _cleanup_free_ char *what = xasprintf("secret %s", f.name);
        _cleanup_(json_decrefp) json_t *record = NULL;
        r = put_bytes(ctx, path, c.data, c.len, &record, err);
        content_wipe(&c); /* sent: no need to hold it while printing */
        if (r < 0)
                return call_failed(r, err, "putting", what, &f);
        if (ctx->json)
                return cli_json_print(record, stdout);

        char size[32];
        format_size(json_object_get(record, "size"), size);
        _cleanup_free_ char *level = level_text(&f);
        _cleanup_free_ char *line =
            xasprintf("%s: secret %s stored, %s bytes", level, f.name, size);
        return cli_print_line(stdout, line);
}

static int secret_ls(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CON_OPTION_LEVEL, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app secret ls"};
        int r = parse(ctx, &f, 0, secret_ls_usage, ":h", options, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_free_ char *path = level_path(&f, "secrets", NULL, NULL);
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        r = vol_client_call(client, "GET", path, NULL, &answer, err);
        if (r < 0)
                return call_failed(r, err, "listing", "the secrets", &f);
        json_t *secrets = json_object_get(answer, "secrets");
        if (!json_is_array(secrets))
                return call_failed(
                    vol_error_set(err, -EPROTO, "volmand's answer has no secrets list"), err,
                    "listing", "the secrets", &f);
        if (ctx->json)
                return cli_json_print(secrets, stdout);

        static const char *const headers[] = {"NAME", "SIZE", "CREATED", "UPDATED"};
        _cleanup_(cli_table_freep) struct cli_table *table =
            cli_table_new(ARRAY_SIZE(headers), headers);
        size_t i;
        json_t *s;
        json_array_foreach(secrets, i, s)
        {
                char size[32], created[32], updated[32];
                format_size(json_object_get(s, "size"), size);
                format_time(json_object_get(s, "created"), created);
                format_time(json_object_get(s, "updated"), updated);
                const char *row[] = {json_string_value(json_object_get(s, "name")), size, created,
                                     updated};
                cli_table_add_row(table, row);
        }
        return cli_table_print(table, stdout);
}

static int secret_rm(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CON_OPTION_LEVEL, CLI_COMMON_OPTIONS, {}};
        struct con_flags f = {.cmd = "app secret rm"};
        int r = parse(ctx, &f, TAKES_NAME | NAMES_SECRET, secret_rm_usage, ":h", options, argc,
                      argv, err);
        if (r != 0)
                return r < 0 ? r : 0;

        _cleanup_free_ char *path = level_path(&f, "secrets", NULL, f.name);
        _cleanup_free_ char *what = xasprintf("secret %s", f.name);
        return remove_one(ctx, &f, path, what, err);
}

/* ---- the groups ---- */

/* cli_group_run, with an example under the group's own help (common.c's
 * examples name the older groups only). */
static int group_run(struct cli_context *ctx, const char *group, const struct cli_command *table,
                     size_t n, const char *example, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {CLI_COMMON_OPTIONS, {}};
        bool help = false;
        int c;

        /* The same scan cli_group_run makes: is --help before the command? */
        cli_getopt_reset();
        while (!help && (c = getopt_long(argc, argv, "+:h", options, NULL)) != -1)
                if (c == 'h')
                        help = true;
                else if (c == '?' || c == ':')
                        break;
        int r = cli_group_run(ctx, group, table, n, argc, argv, err);
        if (r == 0 && help)
                printf("\nExample:\n  %s\n", example);
        return r;
}

static const struct cli_command file_commands[] = {
    {"put", NULL, file_put, "Store a file of the configuration or context area"},
    {"ls", "list", file_ls, "List the files of an env or an app"},
    {"get", NULL, file_get, "Write a file's content to stdout or a file"},
    {"rm", "remove", file_rm, "Remove a file"},
};

int cli_app_file(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return group_run(ctx, "app file", file_commands, ARRAY_SIZE(file_commands),
                         "volman app file ls --tenant acme --env prod --app orders", argc, argv,
                         err);
}

static const struct cli_command secret_commands[] = {
    {"put", NULL, secret_put, "Store a secret (its value is never shown)"},
    {"ls", "list", secret_ls, "List the secrets of an env or an app (never values)"},
    {"rm", "remove", secret_rm, "Remove a secret"},
};

int cli_app_secret(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return group_run(ctx, "app secret", secret_commands, ARRAY_SIZE(secret_commands),
                         "volman app secret ls --tenant acme --env prod --app orders", argc, argv,
                         err);
}
