#include "volume_json.h"

#include <stdio.h>
#include <time.h>

static int kvs_json(struct vol_strbuf *b, const struct vol_kvs *m)
{
        int r = vol_strbuf_putc(b, '{');
        for (size_t i = 0; i < m->n; i++) {
                if (i)
                        r |= vol_strbuf_putc(b, ',');
                r |= vol_strbuf_json_string(b, m->items[i].key);
                r |= vol_strbuf_putc(b, ':');
                r |= vol_strbuf_json_string(b, m->items[i].value);
        }
        r |= vol_strbuf_putc(b, '}');
        return r;
}

void vol_format_time(int64_t t, char out[32])
{
        time_t tt = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(out, 32, "1970-01-01T00:00:00Z");
}

int vol_volume_to_json(struct vol_strbuf *b, const struct vol_volume *v,
                       const struct vol_volume_info *info)
{
        char ts[32];
        int r = vol_strbuf_puts(b, "{\"id\":\"");
        r |= vol_strbuf_puts(b, v->id);
        r |= vol_strbuf_puts(b, "\",\"name\":");
        r |= vol_strbuf_json_string(b, v->name);
        r |= vol_strbuf_puts(b, ",\"driver\":");
        r |= vol_strbuf_json_string(b, v->driver);
        r |= vol_strbuf_puts(b, ",\"mountpoint\":");
        r |= vol_strbuf_json_string(b, v->mountpoint ? v->mountpoint : "");
        r |= vol_strbuf_puts(b, ",\"status\":\"");
        r |= vol_strbuf_puts(b, vol_status_name(v->status));
        r |= vol_strbuf_puts(b, "\",\"labels\":");
        r |= kvs_json(b, &v->labels);
        r |= vol_strbuf_puts(b, ",\"options\":");
        r |= kvs_json(b, &v->options);
        r |= vol_strbuf_puts(b, ",\"scope\":");
        if (v->scope) {
                r |= vol_strbuf_puts(b, "{\"tenant\":");
                r |= vol_strbuf_json_string(b, v->scope->tenant);
                r |= vol_strbuf_puts(b, ",\"env\":");
                r |= vol_strbuf_json_string(b, v->scope->env);
                r |= vol_strbuf_puts(b, ",\"app\":");
                r |= vol_strbuf_json_string(b, v->scope->app);
                r |= vol_strbuf_puts(b, ",\"path\":");
                r |= vol_strbuf_json_string(b, v->scope->path);
                r |= vol_strbuf_putc(b, '}');
        } else {
                r |= vol_strbuf_puts(b, "null");
        }
        vol_format_time(v->created_at, ts);
        r |= vol_strbuf_puts(b, ",\"created_at\":\"");
        r |= vol_strbuf_puts(b, ts);
        r |= vol_strbuf_puts(b, "\",\"mounts\":[");
        for (size_t i = 0; i < v->n_mounts; i++) {
                if (i)
                        r |= vol_strbuf_putc(b, ',');
                vol_format_time(v->mounts[i].since, ts);
                r |= vol_strbuf_puts(b, "{\"id\":");
                r |= vol_strbuf_json_string(b, v->mounts[i].id);
                r |= vol_strbuf_puts(b, ",\"since\":\"");
                r |= vol_strbuf_puts(b, ts);
                r |= vol_strbuf_puts(b, "\"}");
        }
        r |= vol_strbuf_putc(b, ']');
        if (info) {
                r |= vol_strbuf_puts(b, info->persistent ? ",\"persistent\":true"
                                                         : ",\"persistent\":false");
                if (info->note) {
                        r |= vol_strbuf_puts(b, ",\"note\":");
                        r |= vol_strbuf_json_string(b, info->note);
                }
                if (info->has_usage)
                        r |= vol_strbuf_printf(b, ",\"usage\":{\"bytes\":%llu,\"inodes\":%llu}",
                                               (unsigned long long)info->usage_bytes,
                                               (unsigned long long)info->usage_inodes);
        }
        r |= vol_strbuf_putc(b, '}');
        return r ? -E2BIG : 0;
}
