#include "volume_json.h"

#include <stdint.h>

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

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm): no
 * locale, no time zone, no library call; listing 10,000 volumes formats
 * 10,000 times. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t yy = (int64_t)yoe + era * 400;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = yy + (*m <= 2);
}

void vol_format_time(int64_t t, char out[32])
{
        if (t < INT64_C(-62167219200) || t > INT64_C(253402300799)) /* outside years 0..9999 */
                t = 0;
        int64_t days = t / 86400, secs = t % 86400, y;
        if (secs < 0) { /* floor, for times before 1970 */
                secs += 86400;
                days -= 1;
        }
        unsigned m, d;
        civil_from_days(days, &y, &m, &d);
        unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60), ss = (unsigned)(secs % 60);
        char *p = out;
        unsigned yy = (unsigned)y;
        *p++ = (char)('0' + yy / 1000);
        *p++ = (char)('0' + yy / 100 % 10);
        *p++ = (char)('0' + yy / 10 % 10);
        *p++ = (char)('0' + yy % 10);
        *p++ = '-';
        *p++ = (char)('0' + m / 10);
        *p++ = (char)('0' + m % 10);
        *p++ = '-';
        *p++ = (char)('0' + d / 10);
        *p++ = (char)('0' + d % 10);
        *p++ = 'T';
        *p++ = (char)('0' + hh / 10);
        *p++ = (char)('0' + hh % 10);
        *p++ = ':';
        *p++ = (char)('0' + mm / 10);
        *p++ = (char)('0' + mm % 10);
        *p++ = ':';
        *p++ = (char)('0' + ss / 10);
        *p++ = (char)('0' + ss % 10);
        *p++ = 'Z';
        *p = 0;
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
        r |= vol_strbuf_puts(b, info && info->status ? info->status : vol_status_name(v->status));
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
                r |= vol_strbuf_puts(b, ",\"owner\":");
                r |= vol_strbuf_json_string(b, v->mounts[i].owner && *v->mounts[i].owner
                                                       ? v->mounts[i].owner
                                                       : "unknown");
                r |= vol_strbuf_puts(b, ",\"since\":\"");
                r |= vol_strbuf_puts(b, ts);
                r |= vol_strbuf_puts(b, "\"}");
        }
        r |= vol_strbuf_putc(b, ']');
        if (v->node) {
                r |= vol_strbuf_puts(b, ",\"node\":");
                r |= vol_strbuf_json_string(b, v->node);
        }
        if (info)
                r |= vol_volume_info_to_json(b, info);
        r |= vol_strbuf_putc(b, '}');
        return r ? -E2BIG : 0;
}

int vol_volume_info_to_json(struct vol_strbuf *b, const struct vol_volume_info *info)
{
        int r = vol_strbuf_puts(b, info->persistent ? ",\"persistent\":true" : ",\"persistent\":false");
        if (info->note) {
                r |= vol_strbuf_puts(b, ",\"note\":");
                r |= vol_strbuf_json_string(b, info->note);
        }
        if (info->node_state) {
                r |= vol_strbuf_puts(b, ",\"node_state\":");
                r |= vol_strbuf_json_string(b, info->node_state);
        }
        if (info->has_limit)
                r |= vol_strbuf_printf(b, ",\"size_limit_bytes\":%llu", (unsigned long long)info->limit_bytes);
        if (info->has_snapshots) {
                r |= vol_strbuf_puts(b, ",\"snapshots\":[");
                for (size_t i = 0; i < info->n_snapshots; i++) {
                        char t[32];
                        vol_format_time(info->snapshots[i].created, t);
                        r |= vol_strbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
                        r |= vol_strbuf_json_string(b, info->snapshots[i].name);
                        r |= vol_strbuf_printf(b, ",\"created_at\":\"%s\",\"ready\":%s}", t,
                                               info->snapshots[i].ready ? "true" : "false");
                }
                r |= vol_strbuf_putc(b, ']');
        }
        if (info->has_usage)
                r |= vol_strbuf_printf(b, ",\"usage\":{\"bytes\":%llu,\"inodes\":%llu}",
                                       (unsigned long long)info->usage_bytes,
                                       (unsigned long long)info->usage_inodes);
        return r ? -E2BIG : 0;
}
