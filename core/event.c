#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vol_event_to_json(const struct vol_event *e, struct vol_strbuf *out)
{
        char t[40];
        time_t secs = (time_t)(e->time_us / 1000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(t + n, sizeof(t) - n, ".%06lldZ", (long long)(e->time_us % 1000000));
        vol_strbuf_printf(out, "{\"seq\":%llu,\"time\":\"%s\",\"time_us\":%lld,\"type\":", (unsigned long long)e->seq,
                          t, (long long)e->time_us);
        vol_strbuf_json_string(out, e->type);
        vol_strbuf_puts(out, ",\"action\":");
        vol_strbuf_json_string(out, e->action);
        vol_strbuf_puts(out, ",\"name\":");
        vol_strbuf_json_string(out, e->name);
        vol_strbuf_puts(out, ",\"tenant\":");
        if (*e->tenant)
                vol_strbuf_json_string(out, e->tenant);
        else
                vol_strbuf_puts(out, "null");
        vol_strbuf_puts(out, ",\"actor\":{\"face\":");
        vol_strbuf_json_string(out, e->face);
        vol_strbuf_puts(out, ",\"who\":");
        vol_strbuf_json_string(out, e->who);
        vol_strbuf_printf(out, "},\"attributes\":{%s}}", e->attrs);
}

/* Copies at most n-1 bytes, never cutting a UTF-8 sequence in two. */
static void copy_str(json_t *o, const char *key, char *out, size_t n)
{
        const char *s = json_string_value(json_object_get(o, key));
        size_t len = s ? strlen(s) : 0;
        if (len >= n) {
                len = n - 1;
                while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
                        len--; /* s[len] is where the cut falls: back to a sequence's start */
        }
        memcpy(out, s ? s : "", len);
        out[len] = 0;
}

int vol_event_from_json(json_t *o, struct vol_event *ret)
{
        memset(ret, 0, sizeof(*ret));
        json_t *seq = json_object_get(o, "seq"), *tu = json_object_get(o, "time_us");
        if (!json_is_integer(seq) || !json_is_integer(tu))
                return -EINVAL;
        ret->seq = (uint64_t)json_integer_value(seq);
        ret->time_us = json_integer_value(tu);
        copy_str(o, "type", ret->type, sizeof(ret->type));
        copy_str(o, "action", ret->action, sizeof(ret->action));
        copy_str(o, "name", ret->name, sizeof(ret->name));
        copy_str(o, "tenant", ret->tenant, sizeof(ret->tenant));
        json_t *actor = json_object_get(o, "actor");
        copy_str(actor, "face", ret->face, sizeof(ret->face));
        copy_str(actor, "who", ret->who, sizeof(ret->who));
        json_t *a = json_object_get(o, "attributes");
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
                if (json_is_string(v))
                        vol_event_attr(ret, k, json_string_value(v));
        }
        return 0;
}

void vol_event_attr(struct vol_event *e, const char *key, const char *value)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_strbuf_puts(&b, *e->attrs ? "," : "");
        vol_strbuf_json_string(&b, key);
        vol_strbuf_putc(&b, ':');
        vol_strbuf_json_string(&b, value);
        size_t have = strlen(e->attrs);
        if (b.data && have + b.len < sizeof(e->attrs))
                memcpy(e->attrs + have, b.data, b.len + 1);
        vol_strbuf_free(&b);
}

static const char *const filter_keys[] = {"type", "action", "name", "tenant", NULL};

int vol_event_filter_add(struct vol_event_filter *f, const char *term, struct vol_error *err)
{
        const char *eq = term ? strchr(term, '=') : NULL;
        if (!eq)
                return vol_error_set(err, -EINVAL, "filter %s: give KEY=VALUE (keys: type, action, name, tenant)",
                                     term ? term : "");
        size_t kl = (size_t)(eq - term);
        bool known = false;
        for (const char *const *k = filter_keys; *k; k++)
                known |= strlen(*k) == kl && !strncmp(*k, term, kl);
        if (!known)
                return vol_error_set(err, -EINVAL, "filter %.*s: unknown key (type, action, name, tenant)", (int)kl,
                                     term);
        if (strlen(eq + 1) >= sizeof(f->terms[0].value))
                return vol_error_set(err, -EINVAL, "filter %.*s: the value is too long", (int)kl, term);
        if (f->n >= VOL_EVENT_FILTERS_MAX)
                return vol_error_set(err, -E2BIG, "at most %d filters", VOL_EVENT_FILTERS_MAX);
        snprintf(f->terms[f->n].key, sizeof(f->terms[f->n].key), "%.*s", (int)kl, term);
        snprintf(f->terms[f->n].value, sizeof(f->terms[f->n].value), "%s", eq + 1);
        f->n++;
        return 0;
}

static const char *field(const struct vol_event *e, const char *key)
{
        return !strcmp(key, "type")     ? e->type
               : !strcmp(key, "action") ? e->action
               : !strcmp(key, "name")   ? e->name
                                        : e->tenant;
}

bool vol_event_match(const struct vol_event_filter *f, const struct vol_event *e)
{
        for (const char *const *k = filter_keys; *k; k++) {
                bool asked = false, hit = false;
                for (size_t i = 0; i < f->n; i++)
                        if (!strcmp(f->terms[i].key, *k)) {
                                asked = true;
                                hit |= !strcmp(f->terms[i].value, field(e, *k));
                        }
                if (asked && !hit)
                        return false;
        }
        return true;
}

#define TIME_MAX_S 253402300799LL /* 9999-12-31T23:59:59Z */

int vol_parse_time_ref(const char *s, int64_t now_us, int64_t *ret_us, struct vol_error *err)
{
        if (!s || !*s)
                return vol_error_set(err, -EINVAL, "an empty time");
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (!errno && end != s && !*end && n >= 0) { /* unix seconds, up to the year 9999 */
                if (n > TIME_MAX_S)
                        return vol_error_set(err, -EINVAL, "time %s is past the year 9999", s);
                *ret_us = (int64_t)n * 1000000;
                return 0;
        }
        if (!errno && end != s && n >= 0 && *end && end[1] == 0 && strchr("smhd", *end)) { /* before now */
                long long unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
                if (n > TIME_MAX_S / unit)
                        return vol_error_set(err, -EINVAL, "duration %s is longer than time itself", s);
                *ret_us = now_us - (int64_t)(n * unit) * 1000000;
                return 0;
        }
        struct tm tm = {0};
        const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (rest) {
                long long frac_us = 0;
                if (*rest == '.') {
                        long long scale = 100000;
                        for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
                                frac_us += (*rest - '0') * scale;
                }
                if (!strcmp(rest, "Z")) {
                        *ret_us = (int64_t)timegm(&tm) * 1000000 + frac_us;
                        return 0;
                }
        }
        return vol_error_set(err, -EINVAL,
                             "time %s: give RFC 3339 in UTC (2026-12-01T03:18:00Z), unix seconds, or a duration "
                             "before now (10m, 2h, 90s, 1d)",
                             s);
}
