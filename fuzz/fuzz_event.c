/* libFuzzer target: what GET /v1/events and the token check take from a
 * client (core/event.c, core/token.c).
 *
 * The input is split at NUL bytes into pieces. Each piece is given to
 * vol_event_filter_add, vol_parse_time_ref and vol_token_parse; the checks:
 * - a filter term is taken exactly when it is KEY=VALUE with a known key and
 *   a value that fits, and a taken term matches an event whose field is
 *   that value;
 * - a time that parses gives the same instant when parsed again, and a
 *   duration ("10m") lies before now;
 * - a token parses exactly when it is vmt_ + 12 lowercase hex + _ + 64
 *   lowercase hex, and then its ID and secret are those bytes.
 * Then an event built from the pieces renders as JSON that jansson reads
 * back (vol_event_from_json) to the same event, and whose second round trip
 * changes nothing (bytes that are not UTF-8 become U+FFFD the first time). */
#include <jansson.h>

#include "core/event.h"
#include "core/token.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        return 0;
}

static bool lower_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static void one_piece(const char *p, struct vol_event_filter *f, struct vol_event *e)
{
        struct vol_error err = VOL_ERROR_INIT;
        size_t before = f->n;
        int r = vol_event_filter_add(f, p, &err);
        const char *eq = strchr(p, '=');
        bool known = eq && ((eq - p == 4 && !strncmp(p, "type", 4)) || (eq - p == 6 && !strncmp(p, "action", 6)) ||
                            (eq - p == 4 && !strncmp(p, "name", 4)) || (eq - p == 6 && !strncmp(p, "tenant", 6)));
        bool fits = eq && strlen(eq + 1) < sizeof(f->terms[0].value) && before < VOL_EVENT_FILTERS_MAX;
        fuzz_check((r == 0) == (known && fits));
        fuzz_check(r == 0 ? f->n == before + 1 : f->n == before);
        if (r == 0) {
                struct vol_event_filter one = {0};
                fuzz_check(vol_event_filter_add(&one, p, NULL) == 0);
                struct vol_event m = {0};
                char *field = !strncmp(p, "type", 4) ? m.type : !strncmp(p, "action", 6) ? m.action
                              : !strncmp(p, "name", 4) ? m.name : m.tenant;
                size_t cap = !strncmp(p, "type", 4) ? sizeof(m.type) : !strncmp(p, "action", 6) ? sizeof(m.action)
                             : !strncmp(p, "name", 4) ? sizeof(m.name) : sizeof(m.tenant);
                if (strlen(eq + 1) < cap) {
                        memcpy(field, eq + 1, strlen(eq + 1) + 1);
                        fuzz_check(vol_event_match(&one, &m));
                }
        }
        vol_error_clear(&err);

        int64_t now = 1800000000LL * 1000000, t1, t2;
        if (vol_parse_time_ref(p, now, &t1, NULL) == 0) {
                fuzz_check(vol_parse_time_ref(p, now, &t2, NULL) == 0 && t1 == t2);
                size_t n = strlen(p);
                if (n > 1 && strchr("smhd", p[n - 1]) && p[0] >= '0' && p[0] <= '9')
                        fuzz_check(t1 <= now);
        }

        char id[VOL_TOKEN_ID_LEN + 1], secret[VOL_TOKEN_SECRET_LEN + 1];
        bool form = strlen(p) == VOL_TOKEN_LEN && !memcmp(p, "vmt_", 4) && p[16] == '_' && lower_hex(p + 4, 12) &&
                    lower_hex(p + 17, 64);
        int t = vol_token_parse(p, id, secret);
        fuzz_check((t == 0) == form);
        if (t == 0)
                fuzz_check(!memcmp(id, p + 4, 12) && !memcmp(secret, p + 17, 64));

        /* the pieces make an event's fields and attributes */
        snprintf(e->name, sizeof(e->name), "%s", p);
        vol_event_attr(e, p, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 4096)
                return -1;
        char *buf = malloc(size + 1);
        memcpy(buf, data, size);
        buf[size] = 0;
        struct vol_event_filter f = {0};
        struct vol_event e = {.seq = 7, .time_us = 1800000000123456};
        snprintf(e.type, sizeof(e.type), "volume");
        snprintf(e.action, sizeof(e.action), "create");
        for (size_t i = 0; i <= size;) {
                one_piece(buf + i, &f, &e);
                i += strlen(buf + i) + 1;
        }
        /* an event's JSON reads back as the event (bytes that are not UTF-8
         * come back as U+FFFD, once: the second round trip changes nothing) */
        struct vol_strbuf b, b2;
        vol_strbuf_init(&b, 0);
        vol_strbuf_init(&b2, 0);
        vol_event_to_json(&e, &b);
        json_t *o = json_loadb(b.data, b.len, 0, NULL);
        fuzz_check(o != NULL);
        struct vol_event back, again;
        fuzz_check(vol_event_from_json(o, &back) == 0);
        fuzz_check(back.seq == e.seq && back.time_us == e.time_us && !strcmp(back.type, e.type) &&
                   !strcmp(back.action, e.action));
        json_decref(o);
        b.len = 0;
        vol_event_to_json(&back, &b);
        o = json_loadb(b.data, b.len, 0, NULL);
        fuzz_check(o != NULL && vol_event_from_json(o, &again) == 0);
        vol_event_to_json(&again, &b2);
        fuzz_check(b2.len == b.len && !memcmp(b2.data, b.data, b.len));
        json_decref(o);
        vol_strbuf_free(&b);
        vol_strbuf_free(&b2);
        free(buf);
        return 0;
}
