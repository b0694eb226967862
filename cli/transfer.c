/* `volman volume export` and `volman volume import`: a volume's content as a
 * tar stream, with a progress bar on a terminal (bytes, rate, ETA when the
 * size is known); --quiet for scripts. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "output.h"

struct bar {
        bool on;
        struct timespec start;
        const char *what;
};

static double since(const struct timespec *t0)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void draw(void *userdata, unsigned long long done, unsigned long long total)
{
        struct bar *b = userdata;
        if (!b->on)
                return;
        cli_progress_draw(stderr, b->what, (double)done, (double)total, since(&b->start));
}

static void bar_end(struct bar *b)
{
        if (b->on)
                fputc('\n', stderr);
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && !strcmp(s + n - m, suffix);
}

static const char export_usage[] =
    "Usage: volman volume export VOLUME -o FILE [--quiet]\n"
    "\n"
    "Writes VOLUME's content to FILE as a tar archive (zstd-compressed when FILE ends\n"
    "in .zst; -o - writes to stdout): owners, modes, times, extended attributes,\n"
    "symlinks (as links) and hard links. A progress bar shows on a terminal.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE   where to write (- for stdout)\n"
    "  -q, --quiet         no progress bar\n"
    "\n"
    "Example:\n"
    "  volman volume export web-data -o web-data.tar.zst\n";

struct xopts {
        const char *file;
        bool quiet;
        const char *driver;
        json_t *opts, *labels;
};

static int xoption(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct xopts *o = state;
        switch (opt) {
        case 'o':
        case 'i': o->file = arg; return 0;
        case 'q': o->quiet = true; return 0;
        case 'd': o->driver = arg; return 0;
        case 'O': json_array_append_new(o->opts, json_string(arg)); return 0;
        case 'l': json_array_append_new(o->labels, json_string(arg)); return 0;
        default: return -EINVAL;
        }
}

static int volume_export(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"output", required_argument, NULL, 'o'},
                                                {"quiet", no_argument, NULL, 'q'},
                                                CLI_COMMON_OPTIONS,
                                                {}};
        const char *cmd = "volume export";
        struct xopts o = {0};
        int r = cli_parse_options(ctx, cmd, export_usage, ":ho:q", options, xoption, &o, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 1)
                return cli_usage_error(ctx, cmd, err, "give one VOLUME");
        if (!o.file)
                return cli_usage_error(ctx, cmd, err, "give -o FILE (- for stdout)");
        bool to_stdout = !strcmp(o.file, "-");
        if (to_stdout && isatty(1))
                return cli_usage_error(ctx, cmd, err, "stdout is a terminal: give -o FILE, or redirect it");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_free_ char *esc = vol_client_escape(argv[optind]);
        /* the volume's usage is the bar's total; it is asked for only when a
         * bar is drawn (on a local volume it costs a walk of the tree) */
        bool bar_on = !o.quiet && isatty(2);
        _cleanup_free_ char *ipath = xasprintf("/v1/volumes/%s%s", esc, bar_on ? "?usage=true" : "");
        _cleanup_(json_decrefp) json_t *info = NULL;
        if ((r = vol_client_call(client, "GET", ipath, NULL, &info, err)) < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "export: ");
        json_t *usage = json_object_get(json_object_get(info, "usage"), "bytes");
        unsigned long long total = json_is_integer(usage) ? (unsigned long long)json_integer_value(usage) : 0;
        bool zstd = ends_with(o.file, ".zst") || ends_with(o.file, ".zstd");
        _cleanup_free_ char *path = xasprintf("/v1/volumes/%s/export%s", esc, zstd ? "?compression=zstd" : "");
        _cleanup_free_ char *tmp = to_stdout ? NULL : xasprintf("%s.part", o.file);
        FILE *out = to_stdout ? stdout : fopen(tmp, "wbx");
        if (!out)
                return vol_error_set(err, -errno, "export: creating %s: %s", tmp, strerror(errno));
        setvbuf(out, NULL, _IOFBF, 1 << 20);
        struct bar b = {.on = bar_on, .what = "exporting"};
        clock_gettime(CLOCK_MONOTONIC, &b.start);
        r = vol_client_download(client, path, out, draw, &b, total, err);
        bar_end(&b);
        if (!to_stdout) {
                if (fflush(out) != 0 || fsync(fileno(out)) < 0)
                        r = r < 0 ? r : vol_error_set(err, -errno, "export: writing %s: %s", tmp, strerror(errno));
                fclose(out);
                /* a whole archive, or none: the name appears only once it is complete */
                if (r == 0 && rename(tmp, o.file) < 0)
                        r = vol_error_set(err, -errno, "export: naming %s: %s", o.file, strerror(errno));
                if (r < 0)
                        unlink(tmp);
        }
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "export: ");
        return 0;
}

static const char import_usage[] =
    "Usage: volman volume import VOLUME -i FILE [--driver D] [--opt K=V...] [--label K=V...] [--quiet]\n"
    "\n"
    "Makes a new volume VOLUME from a tar archive (plain, zstd, gzip or xz: found by\n"
    "its content; -i - reads stdin). Owners, modes, times, extended attributes,\n"
    "symlinks and hard links come back as they were. An archive with a path that\n"
    "leaves the volume (\"..\", an absolute path, through a symlink), a device node, or\n"
    "more data than the volume holds is refused whole, and no volume is left behind.\n"
    "\n"
    "Options:\n"
    "  -i, --input FILE   the archive (- for stdin)\n"
    "  -d, --driver D     the new volume's driver (default volmand's)\n"
    "  -o, --opt K=V      a driver option (size=1g for loop), repeatable\n"
    "      --label K=V    a label, repeatable\n"
    "  -q, --quiet        no progress bar\n"
    "\n"
    "Example:\n"
    "  volman volume import web-data-copy -i web-data.tar.zst --driver loop --opt size=2g\n";

static int volume_import(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"input", required_argument, NULL, 'i'},
                                                {"driver", required_argument, NULL, 'd'},
                                                {"opt", required_argument, NULL, 'O'},
                                                {"label", required_argument, NULL, 'l'},
                                                {"quiet", no_argument, NULL, 'q'},
                                                CLI_COMMON_OPTIONS,
                                                {}};
        const char *cmd = "volume import";
        _cleanup_(json_decrefp) json_t *opts = json_array();
        _cleanup_(json_decrefp) json_t *labels = json_array();
        struct xopts o = {.opts = opts, .labels = labels};
        int r = cli_parse_options(ctx, cmd, import_usage, ":hi:d:o:O:q", options, xoption, &o, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 1)
                return cli_usage_error(ctx, cmd, err, "give one VOLUME (the new volume's name)");
        if (!o.file)
                return cli_usage_error(ctx, cmd, err, "give -i FILE (- for stdin)");
        bool from_stdin = !strcmp(o.file, "-");
        FILE *in = from_stdin ? stdin : fopen(o.file, "rb");
        if (!in)
                return vol_error_set(err, -errno, "import: opening %s: %s", o.file, strerror(errno));
        struct stat st;
        long long size = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0) {
                if (!from_stdin)
                        fclose(in);
                return r;
        }
        struct vol_strbuf q;
        vol_strbuf_init(&q, 0);
        _cleanup_free_ char *name = vol_client_escape(argv[optind]);
        vol_strbuf_printf(&q, "/v1/volumes/import?name=%s", name);
        if (o.driver) {
                _cleanup_free_ char *e = vol_client_escape(o.driver);
                vol_strbuf_printf(&q, "&driver=%s", e);
        }
        size_t i;
        json_t *x;
        json_array_foreach(opts, i, x)
        {
                _cleanup_free_ char *e = vol_client_escape(json_string_value(x));
                vol_strbuf_printf(&q, "&opt=%s", e);
        }
        json_array_foreach(labels, i, x)
        {
                _cleanup_free_ char *e = vol_client_escape(json_string_value(x));
                vol_strbuf_printf(&q, "&label=%s", e);
        }
        struct bar b = {.on = !o.quiet && isatty(2), .what = "importing"};
        clock_gettime(CLOCK_MONOTONIC, &b.start);
        _cleanup_(json_decrefp) json_t *ans = NULL;
        r = vol_client_upload(client, q.data, in, size, draw, &b, &ans, err);
        bar_end(&b);
        vol_strbuf_free(&q);
        if (!from_stdin)
                fclose(in);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "import: ");
        if (ctx->json)
                return cli_json_print(ans, stdout);
        return cli_print_line(stdout, json_string_value(json_object_get(ans, "name")));
}

int cli_volume_export(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return volume_export(ctx, argc, argv, err);
}

int cli_volume_import(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return volume_import(ctx, argc, argv, err);
}
