/* `volman events`: follows GET /v1/events, one line per event (JSON lines
 * with --format json). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "output.h"

static const char events_usage[] =
    "Usage: volman events [--since TIME] [--until TIME] [--filter KEY=VALUE]... [--format text|json]\n"
    "\n"
    "Prints what happens to volumes and apps as it happens: creates, removals, mounts,\n"
    "unmounts, prunes, snapshots, clones, resizes, imports, config changes, deploys,\n"
    "app deletes, and what start-up's reconciliation found. Follows until interrupted,\n"
    "or until --until. TIME is RFC 3339 (2026-12-01T03:18:00Z), unix seconds, or a\n"
    "duration before now (10m, 2h, 1d); --since replays the history volmand keeps\n"
    "(the last 10,240 events). A tenant's token sees its own tenant's events only.\n"
    "\n"
    "Options:\n"
    "      --since TIME          start from then\n"
    "      --until TIME          stop there\n"
    "  -f, --filter KEY=VALUE    type, action, name or tenant (repeatable; one key's\n"
    "                            values are alternatives, different keys must all match)\n"
    "      --format text|json    one line per event as text (default) or JSON\n"
    "\n"
    "Example:\n"
    "  volman events --since 10m --filter type=volume --filter action=remove\n";

struct ev_opts {
        const char *since, *until, *format;
        struct vol_strbuf query;
};

static int ev_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        struct ev_opts *o = state;
        switch (opt) {
        case 'S': o->since = arg; return 0;
        case 'U': o->until = arg; return 0;
        case 'F': o->format = arg; return 0;
        case 'f': {
                _cleanup_free_ char *e = vol_client_escape(arg);
                vol_strbuf_printf(&o->query, "&filter=%s", e);
                return 0;
        }
        default: return -EINVAL;
        }
}

/* A text line for one event line of JSON. */
static void print_text(const char *line, size_t len)
{
        json_error_t je;
        _cleanup_(json_decrefp) json_t *e = json_loadb(line, len, 0, &je);
        if (!e)
                return;
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        const char *tenant = json_string_value(json_object_get(e, "tenant"));
        json_t *actor = json_object_get(e, "actor");
        vol_strbuf_printf(&b, "%s %s %s %s", json_string_value(json_object_get(e, "time")) ?: "?",
                          json_string_value(json_object_get(e, "type")) ?: "?",
                          json_string_value(json_object_get(e, "action")) ?: "?",
                          json_string_value(json_object_get(e, "name")) ?: "");
        vol_strbuf_printf(&b, " (%s%s%s by %s", tenant ? "tenant " : "", tenant ? tenant : "", tenant ? ", " : "",
                          json_string_value(json_object_get(actor, "who")) ?: "?");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(e, "attributes"), k, v)
                vol_strbuf_printf(&b, ", %s=%s", k, json_string_value(v) ?: "?");
        vol_strbuf_putc(&b, ')');
        cli_print_line(stdout, b.data);
        fflush(stdout);
        vol_strbuf_free(&b);
}

/* A FILE that hands each whole line written to it to print_text. */
struct liner {
        struct vol_strbuf pending;
};

static ssize_t liner_write(void *cookie, const char *buf, size_t n)
{
        struct liner *l = cookie;
        vol_strbuf_append(&l->pending, buf, n);
        char *nl;
        while (l->pending.data && (nl = memchr(l->pending.data, '\n', l->pending.len))) {
                size_t len = (size_t)(nl - l->pending.data);
                print_text(l->pending.data, len);
                memmove(l->pending.data, nl + 1, l->pending.len - len - 1);
                l->pending.len -= len + 1;
        }
        return (ssize_t)n;
}

static int volman_events(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"since", required_argument, NULL, 'S'},
                                                {"until", required_argument, NULL, 'U'},
                                                {"filter", required_argument, NULL, 'f'},
                                                {"format", required_argument, NULL, 'F'},
                                                CLI_COMMON_OPTIONS,
                                                {}};
        const char *cmd = "events";
        struct ev_opts o = {0};
        vol_strbuf_init(&o.query, 8192);
        int r = cli_parse_options(ctx, cmd, events_usage, ":hf:", options, ev_option, &o, argc, argv, err);
        if (r == 0 && optind < argc)
                r = cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        bool json = ctx->json || (o.format && !strcmp(o.format, "json"));
        if (r == 0 && o.format && strcmp(o.format, "json") && strcmp(o.format, "text"))
                r = cli_usage_error(ctx, cmd, err, "--format is text or json");
        if (r != 0) {
                vol_strbuf_free(&o.query);
                return r < 0 ? r : 0;
        }
        struct vol_strbuf path;
        vol_strbuf_init(&path, 0);
        vol_strbuf_puts(&path, "/v1/events?");
        if (o.since) {
                _cleanup_free_ char *e = vol_client_escape(o.since);
                vol_strbuf_printf(&path, "since=%s", e);
        }
        if (o.until) {
                _cleanup_free_ char *e = vol_client_escape(o.until);
                vol_strbuf_printf(&path, "%suntil=%s", o.since ? "&" : "", e);
        }
        if (o.query.len)
                vol_strbuf_append(&path, o.query.data + (o.since || o.until ? 0 : 1),
                                  o.query.len - (o.since || o.until ? 0 : 1));
        vol_strbuf_free(&o.query);
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0) {
                vol_strbuf_free(&path);
                return r;
        }
        struct liner l;
        vol_strbuf_init(&l.pending, 1 << 20);
        FILE *out = stdout;
        if (json) {
                setvbuf(stdout, NULL, _IOLBF, 0); /* each event as it comes */
        } else {
                out = fopencookie(&l, "w", (cookie_io_functions_t){.write = liner_write});
                if (!out) {
                        vol_strbuf_free(&path);
                        return vol_error_set(err, -errno, "events: %m");
                }
                setvbuf(out, NULL, _IONBF, 0);
        }
        r = vol_client_download(client, path.data, out, NULL, NULL, 0, err);
        if (out != stdout)
                fclose(out);
        vol_strbuf_free(&l.pending);
        vol_strbuf_free(&path);
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "events: ");
        return 0;
}

int cli_events(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return volman_events(ctx, argc, argv, err);
}
