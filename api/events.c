/* GET /v1/events: events as JSON lines, as they happen (docs/api.md, "Events"). */
#include <string.h>
#include <time.h>

#include "api.h"

struct follow {
        const struct vol_http_request *req;
        struct vol_http_stream *st;
        struct vol_strbuf line;
};

static void admitted(void *userdata)
{
        struct follow *f = userdata;
        f->st = vol_http_stream_start(f->req, 200, "application/x-ndjson");
        if (f->st)
                vol_http_stream_flush(f->st); /* the head now: the reader knows it is following */
}

static int one(const struct vol_event *e, void *userdata)
{
        struct follow *f = userdata;
        if (!f->st)
                return -EPIPE;
        f->line.len = 0;
        vol_event_to_json(e, &f->line);
        vol_strbuf_putc(&f->line, '\n');
        return vol_http_stream_write(f->st, f->line.data, f->line.len);
}

static bool alive(void *userdata)
{
        struct follow *f = userdata;
        return f->st && vol_http_stream_flush(f->st) == 0 && vol_http_stream_alive(f->st);
}

struct filters {
        struct vol_event_filter *f;
        struct vol_error *err;
        int r;
};

static void add_filter(const char *value, void *userdata)
{
        struct filters *fs = userdata;
        if (fs->r == 0)
                fs->r = vol_event_filter_add(fs->f, value, fs->err);
}

void vol_api_events(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        struct vol_events_query q = {.caller = &caller, .alive = alive, .admitted = admitted};
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        struct filters fs = {&q.filter, &err, 0};
        vol_http_query_all(req, "filter", add_filter, &fs);
        const char *since = vol_http_query(req, "since"), *until = vol_http_query(req, "until");
        int r = fs.r;
        if (r == 0 && since)
                r = vol_parse_time_ref(since, now, &q.since_us, &err);
        if (r == 0 && until)
                r = vol_parse_time_ref(until, now, &q.until_us, &err);
        if (r == 0 && since && q.since_us == 0)
                q.since_us = 1; /* the epoch itself: everything kept */
        if (r < 0) {
                vol_api_error(resp, err.code, vol_error_message(&err));
                vol_error_clear(&err);
                return;
        }
        struct follow f = {.req = req};
        vol_strbuf_init(&f.line, 0);
        r = vol_service_events(ctx, &q, one, &f, &err);
        vol_strbuf_free(&f.line);
        if (!f.st) { /* refused before the stream began */
                vol_api_error(resp, err.code ? err.code : -EIO, vol_error_message(&err));
                vol_error_clear(&err);
                return;
        }
        vol_error_clear(&err);
        vol_http_stream_end(f.st, true);
}
