/* Events: what happened to volumes and apps, for GET /v1/events and
 * `volman events`. The model, its JSON line, the filters and time
 * references of a query. Pure: no I/O. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strbuf.h"

struct vol_event {
        uint64_t seq;     /* 1, 2, ...: the order they happened in, across restarts */
        int64_t time_us;  /* unix microseconds */
        char type[16];    /* volume, snapshot, app, reconcile, events */
        char action[24];  /* create, remove, mount, unmount, prune, restore, clone, resize, import,
                             config, deploy, delete, findings, dropped */
        char name[160];   /* the volume's name (<= 128), tenant/env/app, or "" */
        char tenant[64];  /* the tenant it belongs to, or "" */
        char face[16];    /* who did it: admin, tenant, plugin, system */
        char who[96];
        char attrs[256];  /* more, as a JSON object's members ("\"k\":\"v\",..."), or "" */
};

/* Writes e as one JSON object (no newline):
 * {"seq","time","time_us","type","action","name","tenant"|null,"actor":{"face","who"},
 *  "attributes":{...}}. */
void vol_event_to_json(const struct vol_event *e, struct vol_strbuf *out);
/* Reads what vol_event_to_json wrote. Returns 0, or -EINVAL. */
int vol_event_from_json(json_t *o, struct vol_event *ret);

/* Sets an attribute (appended; values are JSON-escaped). Quietly stops when
 * the attributes are full. */
void vol_event_attr(struct vol_event *e, const char *key, const char *value);

#define VOL_EVENT_FILTERS_MAX 16

/* KEY=VALUE terms: type, action, name, tenant. Terms of one key are
 * alternatives; different keys must all match (as `docker events`). */
struct vol_event_filter {
        size_t n;
        struct {
                char key[8];
                char value[160];
        } terms[VOL_EVENT_FILTERS_MAX];
};

/* Adds "KEY=VALUE" to f. -EINVAL naming the key or form that is wrong,
 * -E2BIG past VOL_EVENT_FILTERS_MAX. */
int vol_event_filter_add(struct vol_event_filter *f, const char *term, struct vol_error *err);
/* Whether e passes f (an empty f passes everything). */
bool vol_event_match(const struct vol_event_filter *f, const struct vol_event *e);

/* A point in time for since/until: RFC 3339 ("2026-12-01T03:18:00Z"), unix
 * seconds ("1764559080"), or a duration before now ("10m", "2h", "90s",
 * "1d"). Returns 0 and *ret_us, or -EINVAL naming what is wrong. */
int vol_parse_time_ref(const char *s, int64_t now_us, int64_t *ret_us, struct vol_error *err);
