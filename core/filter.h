/* Volume list filters (docker-style "key=value" filters) and their matching.
 * Pure: the store may push some filters down, but vol_filter_match is the truth. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "volume.h"

#define VOL_FILTERS_MAX 32

struct vol_label_match {
        char *key;
        char *value; /* NULL: the key only has to be present */
};

struct vol_filter {
        char *driver;
        char *tenant;
        char *env;
        char *app;
        char *name; /* substring of the name, like docker's name filter */
        int dangling; /* -1: any; 1: only volumes with no mount; 0: only mounted */
        size_t n_labels;
        struct vol_label_match *labels;
};

/* An empty filter (matches everything). */
void vol_filter_init(struct vol_filter *f);
/* Frees what f owns and re-initializes it. */
void vol_filter_free(struct vol_filter *f);
/* Makes dst (initialized, empty) a deep copy of src. */
void vol_filter_copy(struct vol_filter *dst, const struct vol_filter *src);
/* Adds one "key=value" filter: label=K, label=K=V, driver=D, tenant=T, env=E,
 * app=A, name=SUBSTRING, dangling=true|false. Returns 0 or -EINVAL naming the
 * unknown key or bad value, or -E2BIG past VOL_FILTERS_MAX. */
int vol_filter_add(struct vol_filter *f, const char *text, struct vol_error *err);
/* True when f has at least one condition. */
bool vol_filter_is_empty(const struct vol_filter *f);
/* True when v passes every condition in f. */
bool vol_filter_match(const struct vol_filter *f, const struct vol_volume *v);
