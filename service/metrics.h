/* Operation counters and latency histograms, rendered as Prometheus text. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "core/strbuf.h"

enum vol_op {
        VOL_OP_CREATE,
        VOL_OP_INSPECT,
        VOL_OP_LIST,
        VOL_OP_REMOVE,
        VOL_OP_PRUNE,
        VOL_OP_MOUNT,
        VOL_OP_UNMOUNT,
        VOL_OP_DEPLOY,
        VOL_OP_APP_DELETE,
        VOL_OP_SNAPSHOT,
        VOL_OP_CLONE,
        VOL_OP_RESIZE,
        VOL_OP_EXPORT,
        VOL_OP_IMPORT,
        VOL_OP__COUNT,
};

#define VOL_LATENCY_BUCKETS 12

struct vol_op_stats {
        atomic_uint_fast64_t total;
        atomic_uint_fast64_t errors;
        atomic_uint_fast64_t sum_us;
        atomic_uint_fast64_t buckets[VOL_LATENCY_BUCKETS]; /* cumulative at render */
};

struct vol_metrics {
        struct vol_op_stats ops[VOL_OP__COUNT];
};

/* The name of op as it appears in metric labels ("create", ...). */
const char *vol_op_name(enum vol_op op);
/* A monotonic clock reading in microseconds. */
uint64_t vol_now_us(void);
/* Records one operation that started at start_us and ended with result r (< 0: error). */
void vol_metrics_record(struct vol_metrics *m, enum vol_op op, uint64_t start_us, int r);
/* Appends the operation counters and histograms in Prometheus text format. */
int vol_metrics_render(const struct vol_metrics *m, struct vol_strbuf *out);
