#include "sqlite_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"

void vol_sqlite_encode_kvs(struct vol_strbuf *b, const struct vol_kvs *m)
{
        for (size_t i = 0; i < m->n; i++) {
                vol_strbuf_puts(b, m->items[i].key);
                vol_strbuf_putc(b, '\x1f');
                vol_strbuf_puts(b, m->items[i].value);
                vol_strbuf_putc(b, '\x1e');
        }
}

void vol_sqlite_encode_mounts(struct vol_strbuf *b, const struct vol_volume *v)
{
        for (size_t i = 0; i < v->n_mounts; i++) {
                const struct vol_mount_ref *m = &v->mounts[i];
                vol_strbuf_printf(b, "%s\x1f%lld\x1f%s\x1f%s\x1e", m->id, (long long)m->since,
                                  m->owner ? m->owner : "", m->boot ? m->boot : "");
        }
}

static const char *col_text(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? (const char *)t : NULL;
}

const char *vol_sqlite_col_str(sqlite3_stmt *st, int i)
{
        const char *t = col_text(st, i);
        return t ? t : "";
}

size_t vol_sqlite_count_records(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\x1e';
        return n;
}

void vol_sqlite_split_kvs(char *p, struct vol_kv *items, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char *us = strchr(p, '\x1f');
                char *rs = us ? strchr(us + 1, '\x1e') : NULL;
                if (!rs) { /* malformed: stop with what is whole */
                        items[i].key = items[i].value = (char *)"";
                        continue;
                }
                *us = 0;
                *rs = 0;
                items[i].key = p;
                items[i].value = us + 1;
                p = rs + 1;
        }
}

/* Splits the mount records at p into sc->mounts; returns how many were whole. */
static size_t split_mounts(char *p, struct vol_mount_ref *out, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char *rs = strchr(p, '\x1e');
                if (!rs)
                        return i;
                *rs = 0;
                char *f[4] = {p, NULL, NULL, NULL};
                for (int k = 1; k < 4; k++) {
                        char *us = f[k - 1] ? strchr(f[k - 1], '\x1f') : NULL;
                        if (us) {
                                *us = 0;
                                f[k] = us + 1;
                        }
                }
                if (!f[1])
                        return i;
                out[i] = (struct vol_mount_ref){f[0], strtoll(f[1], NULL, 10), f[2] ? f[2] : (char *)"",
                                                f[3] ? f[3] : (char *)""};
                p = rs + 1;
        }
        return n;
}

const struct vol_volume *vol_sqlite_row_borrow(sqlite3_stmt *st, struct vol_row_scratch *sc)
{
        struct vol_volume *v = &sc->v;
        const char *opts = vol_sqlite_col_str(st, 8), *labels = vol_sqlite_col_str(st, 9),
                   *mounts = vol_sqlite_col_str(st, 10);
        size_t lo = strlen(opts), ll = strlen(labels), lm = strlen(mounts);
        if (lo + ll + lm + 3 > sc->buf_cap) {
                sc->buf_cap = (lo + ll + lm + 3) * 2;
                sc->buf = xrealloc(sc->buf, sc->buf_cap);
        }
        char *bo = sc->buf, *bl = bo + lo + 1, *bm = bl + ll + 1;
        memcpy(bo, opts, lo + 1);
        memcpy(bl, labels, ll + 1);
        memcpy(bm, mounts, lm + 1);
        size_t no = vol_sqlite_count_records(bo), nl = vol_sqlite_count_records(bl),
               nm = vol_sqlite_count_records(bm);
        if (no + nl > sc->kv_cap) {
                sc->kv_cap = (no + nl) * 2;
                sc->kv = xrealloc(sc->kv, sc->kv_cap * sizeof(*sc->kv));
        }
        if (nm > sc->mounts_cap) {
                sc->mounts_cap = nm * 2;
                sc->mounts = xrealloc(sc->mounts, sc->mounts_cap * sizeof(*sc->mounts));
        }
        vol_sqlite_split_kvs(bo, sc->kv, no);
        vol_sqlite_split_kvs(bl, sc->kv + no, nl);
        nm = split_mounts(bm, sc->mounts, nm);
        v->name = (char *)vol_sqlite_col_str(st, 0);
        const char *id = vol_sqlite_col_str(st, 1);
        size_t idn = strnlen(id, sizeof(v->id) - 1);
        memcpy(v->id, id, idn);
        v->id[idn] = 0;
        v->driver = (char *)vol_sqlite_col_str(st, 2);
        v->status = (enum vol_status)sqlite3_column_int(st, 3);
        v->scope = NULL;
        if (col_text(st, 4)) {
                sc->scope.tenant = (char *)vol_sqlite_col_str(st, 4);
                sc->scope.env = (char *)vol_sqlite_col_str(st, 5);
                sc->scope.app = (char *)vol_sqlite_col_str(st, 6);
                sc->scope.path = (char *)vol_sqlite_col_str(st, 7);
                v->scope = &sc->scope;
        }
        v->options = (struct vol_kvs){no, sc->kv};
        v->labels = (struct vol_kvs){nl, sc->kv + no};
        v->n_mounts = nm;
        v->mounts = sc->mounts;
        v->mountpoint = (char *)vol_sqlite_col_str(st, 11);
        v->created_at = sqlite3_column_int64(st, 12);
        v->revision = sqlite3_column_int64(st, 13);
        return v;
}

void vol_sqlite_row_scratch_free(struct vol_row_scratch *sc)
{
        free(sc->buf);
        free(sc->kv);
        free(sc->mounts);
}

struct vol_volume *vol_sqlite_row_to_volume(sqlite3_stmt *st)
{
        struct vol_row_scratch sc;
        memset(&sc, 0, sizeof(sc));
        struct vol_volume *v = vol_volume_dup(vol_sqlite_row_borrow(st, &sc));
        vol_sqlite_row_scratch_free(&sc);
        return v;
}
