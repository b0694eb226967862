/* The SQLite store's row codec: volume rows to struct vol_volume and back.
 * Not a public header: only store/sqlite*.c include it.
 *
 * Maps (labels, options) and mount references are stored as text records
 * separated by ASCII unit (0x1f) and record (0x1e) separators; validation
 * refuses control characters in every one of those strings. A mount record is
 * "id US since US owner US boot RS"; records written before owners and boots
 * were kept ("id US since RS") read with both empty. */
#pragma once

#include <sqlite3.h>

#include "core/strbuf.h"
#include "core/volume.h"

#define SQLITE_COLUMNS                                                                             \
        "name, id, driver, status, tenant, env, app, path, options, labels, mounts, mountpoint, "  \
        "created_at, revision"

/* Appends the map m in the store's encoding. */
void vol_sqlite_encode_kvs(struct vol_strbuf *b, const struct vol_kvs *m);
/* Appends v's mount references in the store's encoding. */
void vol_sqlite_encode_mounts(struct vol_strbuf *b, const struct vol_volume *v);

/* A NOT NULL text column; "" if SQLite could not produce it (out of memory). */
const char *vol_sqlite_col_str(sqlite3_stmt *st, int i);

/* A row decoded without allocating: strings point into SQLite's column
 * memory (valid until the next step) and into buf; arrays are reused from
 * row to row. Listing 10,000 volumes would otherwise cost 150,000 mallocs. */
struct vol_row_scratch {
        struct vol_volume v;
        struct vol_scope scope;
        char *buf;
        size_t buf_cap;
        struct vol_kv *kv;
        size_t kv_cap;
        struct vol_mount_ref *mounts;
        size_t mounts_cap;
};

/* Decodes the SQLITE_COLUMNS row at st into sc->v (borrowed: valid until the
 * next step of st or the next call with sc). */
const struct vol_volume *vol_sqlite_row_borrow(sqlite3_stmt *st, struct vol_row_scratch *sc);
/* Frees what sc holds. */
void vol_sqlite_row_scratch_free(struct vol_row_scratch *sc);
/* The row at st as a volume of its own (caller frees). */
struct vol_volume *vol_sqlite_row_to_volume(sqlite3_stmt *st);
/* Splits "k US v RS ..." held in place at p into n entries at items. */
void vol_sqlite_split_kvs(char *p, struct vol_kv *items, size_t n);
/* How many records (RS) s holds. */
size_t vol_sqlite_count_records(const char *s);
