#include "metrics.h"

#include <errno.h>
#include <time.h>

static const char *const op_names[VOL_OP__COUNT] = {
        [VOL_OP_CREATE] = "create", [VOL_OP_INSPECT] = "inspect", [VOL_OP_LIST] = "list",
        [VOL_OP_REMOVE] = "remove", [VOL_OP_PRUNE] = "prune",     [VOL_OP_MOUNT] = "mount",
        [VOL_OP_UNMOUNT] = "unmount", [VOL_OP_DEPLOY] = "deploy",   [VOL_OP_APP_DELETE] = "app_delete",
        [VOL_OP_SNAPSHOT] = "snapshot", [VOL_OP_CLONE] = "clone",   [VOL_OP_RESIZE] = "resize",
        [VOL_OP_EXPORT] = "export",   [VOL_OP_IMPORT] = "import",
};

/* Upper bounds of the latency buckets, in seconds. */
static const double bucket_le[VOL_LATENCY_BUCKETS] = {
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1, 10,
};

const char *vol_op_name(enum vol_op op)
{
        return op < VOL_OP__COUNT ? op_names[op] : "unknown";
}

uint64_t vol_now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void vol_metrics_record(struct vol_metrics *m, enum vol_op op, uint64_t start_us, int r)
{
        uint64_t us = vol_now_us() - start_us;
        struct vol_op_stats *s = &m->ops[op];
        atomic_fetch_add(&s->total, 1);
        if (r < 0)
                atomic_fetch_add(&s->errors, 1);
        atomic_fetch_add(&s->sum_us, us);
        double secs = (double)us / 1e6;
        for (int i = 0; i < VOL_LATENCY_BUCKETS; i++)
                if (secs <= bucket_le[i]) {
                        atomic_fetch_add(&s->buckets[i], 1);
                        break;
                }
}

int vol_metrics_render(const struct vol_metrics *m, struct vol_strbuf *out)
{
        int r = 0;
        r |= vol_strbuf_puts(out, "# HELP volman_operations_total Operations by kind (volumes, apps' deploys and deletes).\n"
                                  "# TYPE volman_operations_total counter\n");
        for (int op = 0; op < VOL_OP__COUNT; op++)
                r |= vol_strbuf_printf(out, "volman_operations_total{op=\"%s\"} %llu\n", op_names[op],
                                       (unsigned long long)atomic_load(&m->ops[op].total));
        r |= vol_strbuf_puts(out, "# HELP volman_operation_errors_total Failed volume operations by kind.\n"
                                  "# TYPE volman_operation_errors_total counter\n");
        for (int op = 0; op < VOL_OP__COUNT; op++)
                r |= vol_strbuf_printf(out, "volman_operation_errors_total{op=\"%s\"} %llu\n",
                                       op_names[op],
                                       (unsigned long long)atomic_load(&m->ops[op].errors));
        r |= vol_strbuf_puts(out, "# HELP volman_operation_duration_seconds Latency of volume operations.\n"
                                  "# TYPE volman_operation_duration_seconds histogram\n");
        for (int op = 0; op < VOL_OP__COUNT; op++) {
                uint64_t cum = 0;
                for (int i = 0; i < VOL_LATENCY_BUCKETS; i++) {
                        cum += atomic_load(&m->ops[op].buckets[i]);
                        r |= vol_strbuf_printf(out,
                                               "volman_operation_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n",
                                               op_names[op], bucket_le[i], (unsigned long long)cum);
                }
                uint64_t total = atomic_load(&m->ops[op].total);
                r |= vol_strbuf_printf(out,
                                       "volman_operation_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n"
                                       "volman_operation_duration_seconds_sum{op=\"%s\"} %.6f\n"
                                       "volman_operation_duration_seconds_count{op=\"%s\"} %llu\n",
                                       op_names[op], (unsigned long long)total, op_names[op],
                                       (double)atomic_load(&m->ops[op].sum_us) / 1e6, op_names[op],
                                       (unsigned long long)total);
        }
        return r ? -E2BIG : 0;
}
