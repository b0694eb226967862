/* The etcd store's record codec: volume records and tombstones to the JSON
 * values kept in etcd, and back. Pure (jansson only, no I/O), unit-tested in
 * tests/unit/test_etcd_codec.c. Not a public header: only store/etcd*.c
 * include it.
 *
 * A record is one JSON object with a format number "v" (1 today: a record of
 * a newer format is refused, never half-read). A volume: id, name, driver,
 * status (its name), created_at, options, labels, scope (absent for an
 * unscoped volume), mounts [{id, since, owner, boot}], mountpoint and node
 * (absent when NULL). A tombstone: id, name, driver, mountpoint, options,
 * retired_at and node. Decoding checks every type, size and count against
 * the bounds of core/volume.h, and fails with a message naming the key. */
#pragma once

#include <stddef.h>

#include "core/error.h"
#include "core/volume.h"
#include "store.h"

#define VOL_ETCD_RECORD_FORMAT 1
/* The largest record decoded: etcd's default --max-request-bytes is 1.5 MiB. */
#define VOL_ETCD_RECORD_MAX (4u << 20)

/* v's record as a heap string (caller frees) in *ret. Returns 0, or -EINVAL
 * naming the field when a string of v is not UTF-8 (JSON cannot hold it). */
int vol_etcd_volume_encode(const struct vol_volume *v, char **ret, struct vol_error *err);

/* Decodes the volume record text[0..len) read at key (for messages). When
 * expect_name is not NULL, the record's name must be it (the key's own name).
 * Returns 0 and *ret (caller frees; revision 0), or -EBADMSG (-EPROTO for a
 * newer format) with a message naming key and what is wrong. */
int vol_etcd_volume_decode(const char *key, const char *text, size_t len, const char *expect_name,
                           struct vol_volume **ret, struct vol_error *err);

/* A decoded tombstone: t's strings and options are owned by it. */
struct vol_etcd_tombstone {
        struct vol_tombstone t;
        struct vol_kvs options; /* what t.options lends */
};

/* t's record as a heap string (caller frees) in *ret. Returns 0 or -EINVAL as
 * vol_etcd_volume_encode. */
int vol_etcd_tombstone_encode(const struct vol_tombstone *t, char **ret, struct vol_error *err);

/* Decodes the tombstone record text[0..len) read at key. Returns 0 and *ret
 * (free with vol_etcd_tombstone_free), or -EBADMSG / -EPROTO as
 * vol_etcd_volume_decode. */
int vol_etcd_tombstone_decode(const char *key, const char *text, size_t len,
                              struct vol_etcd_tombstone **ret, struct vol_error *err);

/* Frees a decoded tombstone. Accepts NULL. */
void vol_etcd_tombstone_free(struct vol_etcd_tombstone *t);

/* Where the store is: "HOST:PORT[,HOST:PORT...][/PREFIX]". */
#define VOL_ETCD_ENDPOINTS_MAX 16
#define VOL_ETCD_PREFIX_MAX 63
#define VOL_ETCD_PREFIX_DEFAULT "volman"

struct vol_etcd_location {
        size_t n;
        char *endpoints[VOL_ETCD_ENDPOINTS_MAX]; /* "HOST:PORT", HOST a name, IPv4 or [IPv6] */
        char *prefix;                            /* [a-z0-9-]{1,63} */
};

/* Parses location into *ret (free with vol_etcd_location_free; untouched on
 * failure). Returns 0, or -EINVAL with a message naming what is wrong (a
 * scheme, an empty or bad host, a bad port, too many endpoints, a bad
 * prefix). */
int vol_etcd_location_parse(const char *location, struct vol_etcd_location *ret,
                            struct vol_error *err);

/* Frees what l holds. Accepts a zeroed one. */
void vol_etcd_location_free(struct vol_etcd_location *l);
