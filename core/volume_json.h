/* The volume JSON of the API (docs/api.md), written straight into a buffer:
 * listing 10,000 volumes must not build 10,000 trees. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"
#include "volume.h"

/* What the driver says about a volume beyond the record. */
struct vol_volume_info {
        bool persistent;  /* false: content lives in memory, lost at host reboot */
        const char *note; /* a sentence for people, or NULL */
        bool has_usage;
        uint64_t usage_bytes;
        uint64_t usage_inodes;
        bool has_limit;       /* the driver enforces a size limit: */
        uint64_t limit_bytes; /* ... this one */
        bool has_snapshots;   /* the driver snapshots: */
        const struct vol_snapshot *snapshots; /* ... these (oldest first) */
        size_t n_snapshots;
        const char *status;     /* in place of the record's status ("unavailable"), or NULL */
        const char *node_state; /* cluster mode: the state of the volume's node, or NULL */
};

/* Writes v as one JSON object: id, name, driver, mountpoint, status, labels,
 * options, scope (object or null), created_at (RFC 3339, UTC), mounts
 * ([{id, since}]), node (cluster mode only), persistent, and note and usage when info has them.
 * info may be NULL (persistent is then omitted). Returns 0 or -E2BIG when b's
 * maximum is reached. */
int vol_volume_to_json(struct vol_strbuf *b, const struct vol_volume *v,
                       const struct vol_volume_info *info);

/* Writes the fields info adds to a volume's object (",\"persistent\":...",
 * note, usage), each with its leading comma: what vol_volume_to_json writes
 * for info before the closing brace. Returns 0 or -E2BIG. */
int vol_volume_info_to_json(struct vol_strbuf *b, const struct vol_volume_info *info);

/* Formats unix time t as RFC 3339 UTC ("2026-11-22T03:04:05Z") into out (>= 21 bytes). */
void vol_format_time(int64_t t, char out[32]);
