/* The SQLite metadata store: one database file in WAL mode.
 *
 * Writes are committed in groups by whichever caller leads (commit_op): every
 * put or remove waiting when a transaction starts rides in it, and the leader
 * flushes the WAL once for all of them, so sixteen clients creating at once
 * pay for one fsync, not sixteen. A write returns only when
 * its transaction has committed (and, for VOL_SYNC_FULL, reached the disk).
 * Reads use a small pool of read-only connections, which WAL lets run while
 * the writer commits.
 *
 * The row codec is in sqlite_rows.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/futex.h"
#include "core/strbuf.h"
#include "core/syncer.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "conflict.h"
#include "store.h"
#include "sqlite_backup.h"
#include "sqlite_rows.h"

#define READERS_IDLE_MAX 4
#define READERS_AT_OPEN 2
#define READERS_MAX 32
#define BATCH_MAX 256

static const char *const migrations[] = {
        /* 1: volumes */
        "CREATE TABLE volumes ("
        "  name TEXT PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  driver TEXT NOT NULL,"
        "  status INTEGER NOT NULL,"
        "  tenant TEXT, env TEXT, app TEXT, path TEXT,"
        "  options TEXT NOT NULL,"
        "  labels TEXT NOT NULL,"
        "  mounts TEXT NOT NULL,"
        "  mountpoint TEXT NOT NULL,"
        "  created_at INTEGER NOT NULL,"
        "  revision INTEGER NOT NULL"
        ") WITHOUT ROWID;"
        "CREATE INDEX volumes_by_scope ON volumes(tenant, env, app) WHERE tenant IS NOT NULL;",
        /* 2: documents (configuration layers, app state) */
        "CREATE TABLE docs ("
        "  kind TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  PRIMARY KEY (kind, key)"
        ") WITHOUT ROWID;",
        /* 3: tombstones: storage of removed volumes, destroyed in the background */
        "CREATE TABLE tombstones ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL,"
        "  driver TEXT NOT NULL,"
        "  mountpoint TEXT NOT NULL,"
        "  options TEXT NOT NULL,"
        "  retired_at INTEGER NOT NULL"
        ") WITHOUT ROWID;",
        /* 4: each volume's API JSON (vol_volume_to_json with no driver info),
         * written with the row, so a list copies text instead of decoding and
         * rendering every row; filled in for older rows at open */
        "ALTER TABLE volumes ADD COLUMN json TEXT;",
        /* 5: documents in a rowid table: a WITHOUT ROWID table keeps whole rows
         * in its B-tree, which suits small rows only; the /con files and
         * secrets (docs/con.md) are documents of up to 1.4 MB, and with them
         * every write and scan crawled through overflow chains */
        "CREATE TABLE docs5 ("
        "  kind TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  body TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  PRIMARY KEY (kind, key)"
        ");"
        "INSERT INTO docs5 (kind, key, body, revision) SELECT kind, key, body, revision FROM docs;"
        "DROP TABLE docs;"
        "ALTER TABLE docs5 RENAME TO docs;",
};

#define COLUMNS SQLITE_COLUMNS

enum write_kind { W_PUT, W_REMOVE, W_RETIRE, W_DROP_TOMBSTONE, W_DOC_PUT, W_DOC_REMOVE };

struct write_op {
        enum write_kind kind;
        const struct vol_volume *v; /* W_PUT, W_RETIRE */
        const char *name;     /* W_REMOVE; the key of W_DOC_* */
        const char *const *ids; /* W_DROP_TOMBSTONE: the storages */
        size_t n_ids;
        const char *doc_kind; /* W_DOC_* */
        const char *body;     /* W_DOC_PUT */
        int64_t expect_rev;
        enum vol_store_sync sync;
        int result;      /* of the commit */
        int sync_result; /* of the flush that made it durable (VOL_SYNC_FULL) */
        int64_t new_rev;
        bool taken; /* in a batch: committed or being committed by a leader */
        bool done; /* set (atomically) under wlock; read without it by a woken waiter */
        uint32_t wake; /* a futex word its waiter sleeps on: bumped to wake it alone */
        /* What a VOL_SYNC_FULL write replaced, to write back if the commit
         * cannot be made durable: the old volume row (or NULL: there was
         * none), the old document (had_doc, doc_body). */
        struct vol_volume *prev;
        bool had_doc;
        char *doc_body;
        struct write_op *next;
};

struct reader {
        sqlite3 *db;
        sqlite3_stmt *get;
        sqlite3_stmt *list;     /* with the filters the store can push down */
        sqlite3_stmt *list_all; /* without: nothing to test per row */
        sqlite3_stmt *list_json, *list_json_all; /* the same, stored JSON only */
        sqlite3_stmt *begin, *commit;
        struct vol_row_scratch scratch; /* reused by every view, no allocation once warm */
        struct reader *next;
};

struct sqlite_store {
        struct vol_store base;
        char *path;

        /* writer */
        sqlite3 *wdb;
        sqlite3_stmt *w_rev, *w_insert, *w_update, *w_update_row, *w_delete, *w_get;
        sqlite3_stmt *w_doc_rev, *w_doc_put, *w_doc_delete, *w_doc_get;
        sqlite3_stmt *w_tomb_put, *w_tomb_delete;
        sqlite3_stmt *w_begin, *w_commit, *w_rollback; /* prepared once: no SQL parsed per batch */
        /* Commits run with synchronous=NORMAL: the writer never waits for the
         * disk while it holds SQLite's write lock. A VOL_SYNC_FULL write is
         * made durable after its commit by an fdatasync of the WAL file,
         * shared between every thread waiting for one. */
        int wal_fd;
        struct vol_syncer wal_syncer;
        pthread_mutex_t wlock;
        pthread_cond_t wcond_done; /* close waits here for the last batch */
        struct write_op *pending, **pending_tail;
        bool committing; /* a caller leads a batch now */
        unsigned syncing; /* leaders between their commit and their flush's end (at most 2) */
        size_t pending_full; /* synced writes in the queue, not yet taken */
        size_t flush_batch;  /* the synced writes of the batch that went to flush last */
        struct vol_store_stats stats; /* under wlock, but syncs (atomic) */
        bool stopping;

        /* checkpointer: copies the WAL back into the database off the commit
         * path, so that no write waits for a checkpoint */
        sqlite3 *cdb;
        pthread_t checkpointer;
        pthread_cond_t ccond; /* the checkpointer waits here */
        bool checkpoint_due;
        int ckpt_base; /* WAL frames at the end of the last checkpoint (atomic) */
        int wal_pages; /* WAL frames after the last commit (atomic) */
        uint64_t last_commit_ms; /* CLOCK_MONOTONIC of the last commit (atomic) */
        bool idle_watch; /* the checkpointer was told of IDLE_CHECKPOINT_PAGES frames (atomic) */
        bool threads; /* the checkpointer runs */

        /* readers */
        pthread_mutex_t rlock;
        pthread_cond_t rcond;
        struct reader *idle;
        size_t n_idle, n_open;
        /* The reader of lists, which maps the database: a page of 10,000 is
         * read from the mapping instead of page by page with pread. One
         * only, and no other reader maps: a mapping is remapped whenever the
         * file has grown since its last read, which on every small read
         * would cost creates more than lists gain. */
        pthread_mutex_t list_lock;
        struct reader *list_rd;
};

static int db_error(sqlite3 *db, struct vol_error *err, const char *what)
{
        int rc = sqlite3_errcode(db);
        int code = (rc == SQLITE_FULL) ? -ENOSPC : (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? -EAGAIN : -EIO;
        return vol_error_set(err, code, "metadata store: %s: %s", what, sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, struct vol_error *err)
{
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = vol_error_set(err, -EIO, "metadata store: %s", msg ? msg : "exec failed");
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

/* ---- connections ---- */

#define LIST_MMAP_BYTES "1073741824"

static int open_db(const char *path, bool readonly, bool mapped, sqlite3 **ret, struct vol_error *err)
{
        sqlite3 *db = NULL;
        /* readers too are opened for writing (and kept from it by query_only):
         * unix-excl locks the file only for a connection that may write, and
         * a read-only one would take and drop the process's lock itself */
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (readonly ? 0 : SQLITE_OPEN_CREATE);
        if (sqlite3_open_v2(path, &db, flags, VOL_SQLITE_VFS) != SQLITE_OK) {
                int r = vol_error_set(err, -EIO, "opening metadata store %s: %s", path,
                                      db ? sqlite3_errmsg(db) : "out of memory");
                sqlite3_close(db);
                return r;
        }
        /* The first statement takes the file's lock for this process
         * (VOL_SQLITE_VFS): another process that has the database open
         * (sqlite3, a copy tool) is said at once, not after the busy wait.
         * A refusal from within this process (a commit under way) is waited
         * for as always. */
        sqlite3_busy_timeout(db, 0);
        long holder;
        if (sqlite3_exec(db, "PRAGMA schema_version;", NULL, NULL, NULL) == SQLITE_BUSY &&
            (holder = vol_sqlite_lock_holder(path)) > 0) {
                sqlite3_close(db);
                return vol_error_set(err, -EBUSY,
                                     "metadata store %s is open in another process (pid %ld): volmand must "
                                     "be the only one to open it; `volman store backup` copies it while "
                                     "volmand runs",
                                     path, holder);
        }
        sqlite3_busy_timeout(db, 10000);
        int r = exec(db, !readonly ? "PRAGMA cache_size=-2048;"
                         : mapped ? "PRAGMA query_only=1; PRAGMA cache_size=-384; PRAGMA mmap_size=" LIST_MMAP_BYTES ";"
                                  : "PRAGMA query_only=1; PRAGMA cache_size=-384;",
                     err);
        if (r < 0) {
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct vol_error *err)
{
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL) != SQLITE_OK)
                return db_error(db, err, "preparing a statement");
        return 0;
}

static void reader_free(struct reader *rd)
{
        if (!rd)
                return;
        sqlite3_finalize(rd->get);
        sqlite3_finalize(rd->list);
        sqlite3_finalize(rd->list_all);
        sqlite3_finalize(rd->list_json);
        sqlite3_finalize(rd->list_json_all);
        sqlite3_finalize(rd->begin);
        sqlite3_finalize(rd->commit);
        sqlite3_close(rd->db);
        vol_sqlite_row_scratch_free(&rd->scratch);
        free(rd);
}

/* Opens a reader connection with its statements. */
static int reader_open(struct sqlite_store *s, bool mapped, struct reader **ret, struct vol_error *err)
{
        struct reader *rd = xcalloc(1, sizeof(*rd));
        int r = open_db(s->path, true, mapped, &rd->db, err);
        if (r >= 0)
                r = prepare(rd->db, "SELECT " COLUMNS " FROM volumes WHERE name = ?1", &rd->get, err);
        if (r >= 0)
                r = prepare(rd->db,
                            "SELECT " COLUMNS " FROM volumes WHERE name > ?1"
                            " AND (?2 IS NULL OR driver = ?2) AND (?3 IS NULL OR tenant = ?3)"
                            " AND (?4 IS NULL OR env = ?4) AND (?5 IS NULL OR app = ?5)"
                            " ORDER BY name",
                            &rd->list, err);
        if (r >= 0)
                r = prepare(rd->db, "SELECT " COLUMNS " FROM volumes WHERE name > ?1 ORDER BY name",
                            &rd->list_all, err);
        if (r >= 0)
                r = prepare(rd->db,
                            "SELECT name, driver, json FROM volumes WHERE name > ?1"
                            " AND (?2 IS NULL OR driver = ?2) AND (?3 IS NULL OR tenant = ?3)"
                            " AND (?4 IS NULL OR env = ?4) AND (?5 IS NULL OR app = ?5)"
                            " ORDER BY name",
                            &rd->list_json, err);
        if (r >= 0)
                r = prepare(rd->db, "SELECT name, driver, json FROM volumes WHERE name > ?1 ORDER BY name",
                            &rd->list_json_all, err);
        if (r >= 0)
                r = prepare(rd->db, "BEGIN", &rd->begin, err);
        if (r >= 0)
                r = prepare(rd->db, "COMMIT", &rd->commit, err);
        if (r < 0) {
                reader_free(rd);
                return r;
        }
        *ret = rd;
        return 0;
}

static int reader_get(struct sqlite_store *s, struct reader **ret, struct vol_error *err)
{
        pthread_mutex_lock(&s->rlock);
        while (!s->idle && s->n_open >= READERS_MAX)
                pthread_cond_wait(&s->rcond, &s->rlock);
        struct reader *rd = s->idle;
        if (rd) {
                s->idle = rd->next;
                s->n_idle--;
                pthread_mutex_unlock(&s->rlock);
                *ret = rd;
                return 0;
        }
        s->n_open++;
        pthread_mutex_unlock(&s->rlock);

        int r = reader_open(s, false, &rd, err);
        if (r < 0) {
                pthread_mutex_lock(&s->rlock);
                s->n_open--;
                pthread_cond_signal(&s->rcond);
                pthread_mutex_unlock(&s->rlock);
                return r;
        }
        *ret = rd;
        return 0;
}

static void reader_reset(struct reader *rd)
{
        sqlite3_reset(rd->get);
        sqlite3_reset(rd->list);
        sqlite3_reset(rd->list_all);
        sqlite3_reset(rd->list_json);
        sqlite3_reset(rd->list_json_all);
        sqlite3_clear_bindings(rd->get);
        sqlite3_clear_bindings(rd->list);
        sqlite3_clear_bindings(rd->list_all);
}

/* The reader for a list: the mapped one when it is free, else any. */
static int list_reader_get(struct sqlite_store *s, struct reader **ret, struct vol_error *err)
{
        if (pthread_mutex_trylock(&s->list_lock) != 0)
                return reader_get(s, ret, err);
        if (!s->list_rd && reader_open(s, true, &s->list_rd, NULL) < 0) {
                pthread_mutex_unlock(&s->list_lock);
                return reader_get(s, ret, err);
        }
        *ret = s->list_rd;
        return 0;
}

static void reader_put(struct sqlite_store *s, struct reader *rd)
{
        reader_reset(rd);
        if (rd == s->list_rd) {
                pthread_mutex_unlock(&s->list_lock);
                return;
        }
        pthread_mutex_lock(&s->rlock);
        if (s->n_idle < READERS_IDLE_MAX) {
                rd->next = s->idle;
                s->idle = rd;
                s->n_idle++;
                rd = NULL;
        } else {
                s->n_open--;
        }
        pthread_cond_signal(&s->rcond);
        pthread_mutex_unlock(&s->rlock);
        reader_free(rd);
}

/* ---- reads ---- */

static void wake_leader(struct sqlite_store *s);

/* Takes the writer's connection for a read if nobody commits or waits to:
 * true when taken (as a leader takes it; writer_give ends that). It never
 * waits. */
static bool writer_take(struct sqlite_store *s)
{
        if (pthread_mutex_trylock(&s->wlock) != 0)
                return false;
        bool ok = !s->committing && !s->pending && !s->stopping;
        if (ok)
                s->committing = true;
        pthread_mutex_unlock(&s->wlock);
        return ok;
}

static void writer_give(struct sqlite_store *s)
{
        pthread_mutex_lock(&s->wlock);
        s->committing = false;
        wake_leader(s);
        pthread_cond_broadcast(&s->wcond_done);
        pthread_mutex_unlock(&s->wlock);
}

/* The volume called name through st ("SELECT columns ... WHERE name = ?1") on
 * db: 0 and *ret, -ENOENT, or the database's error. st is reset. */
static int get_row(sqlite3 *db, sqlite3_stmt *st, const char *name, struct vol_volume **ret,
                   struct vol_error *err)
{
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW)
                *ret = vol_sqlite_row_to_volume(st);
        else if (rc == SQLITE_DONE)
                r = vol_error_set(err, -ENOENT, "volume %s not found", name);
        else
                r = db_error(db, err, "reading a volume");
        sqlite3_reset(st);
        return r;
}

static int sqlite_get(struct vol_store *base, const char *name, struct vol_volume **ret,
                      struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        /* The writer's connection when it is idle: the read before a write
         * (a mount, a status change) finds in its cache the pages the last
         * commits wrote, where a reader would read them back from the WAL. */
        if (writer_take(s)) {
                int r = get_row(s->wdb, s->w_get, name, ret, err);
                writer_give(s);
                return r;
        }
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        r = get_row(rd->db, rd->get, name, ret, err);
        reader_put(s, rd);
        return r;
}

static int sqlite_view(struct vol_store *base, const char *name, vol_store_list_cb cb, void *userdata,
                       struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(rd->get, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(rd->get);
        if (rc == SQLITE_ROW) {
                r = cb(vol_sqlite_row_borrow(rd->get, &rd->scratch), userdata);
        } else if (rc == SQLITE_DONE) {
                r = vol_error_set(err, -ENOENT, "volume %s not found", name);
        } else {
                r = db_error(rd->db, err, "reading a volume");
        }
        reader_put(s, rd);
        return r;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
        if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, i);
}

/* Opens a page's read transaction (one snapshot for the whole page) and
 * binds the statement that walks it: st_pushed when a filter SQL can apply
 * is given, st_all otherwise. */
static sqlite3_stmt *page_begin(struct reader *rd, const struct vol_filter *f, const char *after,
                                sqlite3_stmt *st_pushed, sqlite3_stmt *st_all)
{
        sqlite3_step(rd->begin);
        sqlite3_reset(rd->begin);
        bool pushed = f && (f->driver || f->tenant || f->env || f->app);
        sqlite3_stmt *st = pushed ? st_pushed : st_all;
        sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
        if (pushed) {
                bind_opt(st, 2, f->driver);
                bind_opt(st, 3, f->tenant);
                bind_opt(st, 4, f->env);
                bind_opt(st, 5, f->app);
        }
        return st;
}

static void page_end(struct sqlite_store *s, struct reader *rd, sqlite3_stmt *st)
{
        sqlite3_reset(st);
        sqlite3_step(rd->commit);
        sqlite3_reset(rd->commit);
        reader_put(s, rd);
}

/* The next row of a page: 1, 0 at its end, < 0 on error. */
static int page_step(struct reader *rd, sqlite3_stmt *st, struct vol_error *err)
{
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        return rc == SQLITE_DONE ? 0 : db_error(rd->db, err, "listing volumes");
}

/* What a page's callback answered: go on (0), or stop with r. */
static int page_next(int c, int count, size_t limit, int *r)
{
        if (c < 0)
                *r = c;
        return c != 0 || (limit && (size_t)count >= limit);
}

static int sqlite_list(struct vol_store *base, const struct vol_filter *f, const char *after,
                       size_t limit, vol_store_list_cb cb, void *userdata, struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = list_reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = page_begin(rd, f, after, rd->list, rd->list_all);
        bool any = f && !vol_filter_is_empty(f);
        int count = 0;
        while ((r = page_step(rd, st, err)) > 0) {
                const struct vol_volume *v = vol_sqlite_row_borrow(st, &rd->scratch);
                if (any && !vol_filter_match(f, v))
                        continue;
                if (page_next(cb(v, userdata), ++count, limit, &r))
                        break;
        }
        page_end(s, rd, st);
        return r < 0 ? r : count;
}

static int sqlite_list_json(struct vol_store *base, const struct vol_filter *f, const char *after,
                            size_t limit, vol_store_json_cb cb, void *userdata, struct vol_error *err)
{
        if (f && (f->name || f->n_labels || f->dangling >= 0))
                return vol_error_set(err, -EINVAL, "list_json takes only driver, tenant, env and app filters");
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = list_reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = page_begin(rd, f, after, rd->list_json, rd->list_json_all);
        int count = 0;
        while ((r = page_step(rd, st, err)) > 0) {
                int c = cb(vol_sqlite_col_str(st, 0), vol_sqlite_col_str(st, 1), vol_sqlite_col_str(st, 2),
                           (size_t)sqlite3_column_bytes(st, 2), userdata);
                if (page_next(c, ++count, limit, &r))
                        break;
        }
        page_end(s, rd, st);
        return r < 0 ? r : count;
}

static int sqlite_count(struct vol_store *base, vol_store_count_cb cb, void *userdata,
                        struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(rd->db,
                               "SELECT driver, status, count(*) FROM volumes GROUP BY driver, status",
                               -1, &st, NULL) != SQLITE_OK) {
                r = db_error(rd->db, err, "counting volumes");
        } else {
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                        cb(vol_sqlite_col_str(st, 0), (enum vol_status)sqlite3_column_int(st, 1),
                           (uint64_t)sqlite3_column_int64(st, 2), userdata);
                if (rc != SQLITE_DONE)
                        r = db_error(rd->db, err, "counting volumes");
        }
        sqlite3_finalize(st);
        reader_put(s, rd);
        return r;
}

/* ---- writes ---- */

/* Whether column col of st's row holds want (both NULL counts). */
static bool same_text(sqlite3_stmt *st, int col, const char *want)
{
        const char *have = (const char *)sqlite3_column_text(st, col);
        return have && want ? !strcmp(have, want) : !have && !want;
}

/* The stored revision of name (0: absent, < 0: error). With v: *ret_keys_kept
 * says whether v keeps the stored row's indexed columns (id, tenant, env,
 * app), so that an update need not touch the indexes. */
static int64_t current_revision(struct sqlite_store *s, const char *name, const struct vol_volume *v,
                                bool *ret_keys_kept)
{
        sqlite3_stmt *st = s->w_rev;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t rev = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -EIO;
        if (v && rev > 0)
                *ret_keys_kept = same_text(st, 1, v->id) &&
                                 same_text(st, 2, v->scope ? v->scope->tenant : NULL) &&
                                 same_text(st, 3, v->scope ? v->scope->env : NULL) &&
                                 same_text(st, 4, v->scope ? v->scope->app : NULL);
        sqlite3_reset(st);
        return rev;
}

/* The stored row of name, for a durable write's undo (NULL when absent). */
static struct vol_volume *stored_row(struct sqlite_store *s, const char *name)
{
        sqlite3_bind_text(s->w_get, 1, name, -1, SQLITE_STATIC);
        struct vol_volume *v = sqlite3_step(s->w_get) == SQLITE_ROW ? vol_sqlite_row_to_volume(s->w_get) : NULL;
        sqlite3_reset(s->w_get);
        return v;
}

static int apply_put(struct sqlite_store *s, struct write_op *op)
{
        const struct vol_volume *v = op->v;
        bool keys_kept = false;
        int64_t cur = current_revision(s, v->name, v, &keys_kept);
        if (cur < 0)
                return (int)cur;
        if (op->expect_rev == 0 && cur > 0)
                return -EEXIST;
        if (op->expect_rev > 0 && cur == 0)
                return -ENOENT;
        if (op->expect_rev > 0 && cur != op->expect_rev)
                return -ESTALE;
        if (op->sync == VOL_SYNC_FULL && cur > 0)
                op->prev = stored_row(s, v->name);

        struct vol_strbuf opts, labels, mounts, json;
        vol_strbuf_init(&opts, 0);
        vol_strbuf_init(&labels, 0);
        vol_strbuf_init(&mounts, 0);
        vol_strbuf_init(&json, 0);
        vol_sqlite_encode_kvs(&opts, &v->options);
        vol_sqlite_encode_kvs(&labels, &v->labels);
        vol_sqlite_encode_mounts(&mounts, v);
        struct vol_volume stored = *v;
        stored.revision = cur + 1;
        vol_volume_to_json(&json, &stored, NULL);

        /* A mount, a status or a label changes no indexed column: the narrow
         * update writes the row's page alone, not the indexes' pages too
         * (SQLite rewrites an index entry whose column is SET, even to the
         * same value): one WAL frame instead of two or three. */
        sqlite3_stmt *st = !cur ? s->w_insert : keys_kept ? s->w_update_row : s->w_update;
        sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->driver, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int)v->status);
        bind_opt(st, 5, v->scope ? v->scope->tenant : NULL);
        bind_opt(st, 6, v->scope ? v->scope->env : NULL);
        bind_opt(st, 7, v->scope ? v->scope->app : NULL);
        bind_opt(st, 8, v->scope ? v->scope->path : NULL);
        sqlite3_bind_text(st, 9, opts.data ? opts.data : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, labels.data ? labels.data : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, mounts.data ? mounts.data : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, v->mountpoint ? v->mountpoint : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, v->created_at);
        sqlite3_bind_int64(st, 14, cur + 1);
        sqlite3_bind_text(st, 15, json.data, (int)json.len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        vol_strbuf_free(&opts);
        vol_strbuf_free(&labels);
        vol_strbuf_free(&mounts);
        vol_strbuf_free(&json);
        if (rc == SQLITE_CONSTRAINT)
                return -EEXIST; /* the id is taken: never reuse one */
        if (rc != SQLITE_DONE)
                return -EIO;
        op->new_rev = cur + 1;
        return 0;
}

static int apply_remove(struct sqlite_store *s, struct write_op *op)
{
        int64_t cur = current_revision(s, op->name, NULL, NULL);
        if (cur < 0)
                return (int)cur;
        if (cur == 0)
                return -ENOENT;
        if (op->expect_rev != VOL_REV_ANY && cur != op->expect_rev)
                return -ESTALE;
        if (op->sync == VOL_SYNC_FULL)
                op->prev = stored_row(s, op->name);
        sqlite3_bind_text(s->w_delete, 1, op->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s->w_delete);
        sqlite3_reset(s->w_delete);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

/* The record goes and a tombstone for its storage comes, in one transaction. */
static int apply_retire(struct sqlite_store *s, struct write_op *op)
{
        const struct vol_volume *v = op->v;
        op->name = v->name;
        int r = apply_remove(s, op);
        if (r < 0)
                return r;
        struct vol_strbuf opts;
        vol_strbuf_init(&opts, 0);
        vol_sqlite_encode_kvs(&opts, &v->options);
        sqlite3_stmt *st = s->w_tomb_put;
        sqlite3_bind_text(st, 1, v->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->driver, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v->mountpoint ? v->mountpoint : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, opts.data ? opts.data : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        vol_strbuf_free(&opts);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

static int apply_drop_tombstone(struct sqlite_store *s, struct write_op *op)
{
        for (size_t i = 0; i < op->n_ids; i++) {
                sqlite3_bind_text(s->w_tomb_delete, 1, op->ids[i], -1, SQLITE_STATIC);
                int rc = sqlite3_step(s->w_tomb_delete);
                sqlite3_reset(s->w_tomb_delete);
                if (rc != SQLITE_DONE)
                        return -EIO;
        }
        return 0;
}

static int64_t current_doc_revision(struct sqlite_store *s, const char *kind, const char *key)
{
        sqlite3_bind_text(s->w_doc_rev, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->w_doc_rev, 2, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(s->w_doc_rev);
        int64_t rev = rc == SQLITE_ROW ? sqlite3_column_int64(s->w_doc_rev, 0) : rc == SQLITE_DONE ? 0 : -EIO;
        sqlite3_reset(s->w_doc_rev);
        return rev;
}

static int check_rev(int64_t cur, int64_t expect)
{
        if (expect == VOL_REV_ANY)
                return 0;
        if (expect == 0 && cur > 0)
                return -EEXIST;
        if (expect > 0 && cur == 0)
                return -ENOENT;
        if (expect > 0 && cur != expect)
                return -ESTALE;
        return 0;
}

static int apply_doc(struct sqlite_store *s, struct write_op *op)
{
        int64_t cur = current_doc_revision(s, op->doc_kind, op->name);
        if (cur < 0)
                return (int)cur;
        int r = check_rev(cur, op->expect_rev);
        if (r < 0)
                return r;
        if (op->sync == VOL_SYNC_FULL && cur > 0) {
                sqlite3_bind_text(s->w_doc_get, 1, op->doc_kind, -1, SQLITE_STATIC);
                sqlite3_bind_text(s->w_doc_get, 2, op->name, -1, SQLITE_STATIC);
                if (sqlite3_step(s->w_doc_get) == SQLITE_ROW) {
                        op->had_doc = true;
                        op->doc_body = xstrdup(vol_sqlite_col_str(s->w_doc_get, 0));
                }
                sqlite3_reset(s->w_doc_get);
        }
        sqlite3_stmt *st;
        if (op->kind == W_DOC_PUT) {
                st = s->w_doc_put;
                sqlite3_bind_text(st, 3, op->body, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, cur + 1);
        } else {
                if (cur == 0)
                        return -ENOENT;
                st = s->w_doc_delete;
        }
        sqlite3_bind_text(st, 1, op->doc_kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, op->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
                return -EIO;
        op->new_rev = cur + 1;
        return 0;
}

/* Runs one batch in one transaction. A failed COMMIT fails every op. */
/* Steps a statement that returns no row, and resets it: SQLITE_OK or the error. */
static int run_once(sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void run_batch(struct sqlite_store *s, struct write_op *batch)
{
        int r = run_once(s->w_begin) == SQLITE_OK ? 0 : -EIO;
        for (struct write_op *op = batch; op; op = op->next) {
                op->result = r < 0                          ? r
                             : op->kind == W_PUT              ? apply_put(s, op)
                             : op->kind == W_REMOVE           ? apply_remove(s, op)
                             : op->kind == W_RETIRE           ? apply_retire(s, op)
                             : op->kind == W_DROP_TOMBSTONE   ? apply_drop_tombstone(s, op)
                                                              : apply_doc(s, op);
                /* Some errors (disk full, I/O, out of memory) make SQLite roll
                 * the whole transaction back by itself: then nothing of this
                 * batch stands, and the rest must not run in autocommit. */
                if (r == 0 && op->result < 0 && sqlite3_get_autocommit(s->wdb))
                        r = -EIO;
        }
        if (r < 0) {
                for (struct write_op *op = batch; op; op = op->next)
                        op->result = r;
                return;
        }
        vol_failpoint("store-before-commit");
        if (run_once(s->w_commit) != SQLITE_OK) {
                run_once(s->w_rollback);
                for (struct write_op *op = batch; op; op = op->next)
                        op->result = -EIO;
        }
}

#define CHECKPOINT_PAGES 1000
#define IDLE_CHECKPOINT_MS 20
#define IDLE_CHECKPOINT_PAGES 64

/* Called by SQLite in the writer thread after each commit, wlock not held. */
/* WAL frames written since the last checkpoint ended; fewer than then: the
 * WAL restarted, and all of them count. */
static int frames_since_checkpoint(struct sqlite_store *s)
{
        int pages = __atomic_load_n(&s->wal_pages, __ATOMIC_RELAXED);
        int base = __atomic_load_n(&s->ckpt_base, __ATOMIC_RELAXED);
        return pages - (pages >= base ? base : 0);
}

static uint64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
        struct sqlite_store *s = arg;
        __atomic_store_n(&s->wal_pages, pages, __ATOMIC_RELAXED);
        __atomic_store_n(&s->last_commit_ms, mono_ms(), __ATOMIC_RELAXED);
        int frames = frames_since_checkpoint(s);
        if (frames >= IDLE_CHECKPOINT_PAGES && frames < CHECKPOINT_PAGES &&
            !__atomic_load_n(&s->idle_watch, __ATOMIC_RELAXED)) {
                /* enough for a checkpoint once writes pause: the checkpointer watches */
                pthread_mutex_lock(&s->wlock);
                __atomic_store_n(&s->idle_watch, true, __ATOMIC_RELAXED);
                pthread_cond_signal(&s->ccond);
                pthread_mutex_unlock(&s->wlock);
        }
        if (frames < CHECKPOINT_PAGES)
                return SQLITE_OK;
        pthread_mutex_lock(&s->wlock);
        s->checkpoint_due = true;
        pthread_cond_signal(&s->ccond);
        pthread_mutex_unlock(&s->wlock);
        return SQLITE_OK;
}

/* Copies the WAL back into the database, off the commit path. A passive
 * checkpoint never blocks a reader or the writer, but under a steady stream
 * of writes it never catches up either: frames come in while it copies, the
 * WAL is never wholly copied back, so it is never restarted: it grows without
 * bound and every commit finds it past the threshold. So the bulk is copied
 * while writers go on, then the few frames that came meanwhile with commits
 * held back (as a leader holds them during its own commit: a stall of one
 * short checkpoint), and the next write starts the WAL again from its
 * beginning. A reader still on an old snapshot can keep that tail from
 * being copied; then the next checkpoint waits for CHECKPOINT_PAGES more. */
static void *checkpointer_main(void *arg)
{
        struct sqlite_store *s = arg;
        pthread_mutex_lock(&s->wlock);
        while (!s->stopping) {
                if (!s->checkpoint_due && frames_since_checkpoint(s) < IDLE_CHECKPOINT_PAGES) {
                        pthread_cond_wait(&s->ccond, &s->wlock);
                        continue;
                }
                if (!s->checkpoint_due) {
                        /* Many frames wait in the WAL: once writes pause
                         * for IDLE_CHECKPOINT_MS, they are copied back too, so
                         * a reader finds every page in the database file (a
                         * mapped list reads a page from there; one still in
                         * the WAL costs a pread: a list of 10,000 right after
                         * 10,000 creates took 5.2-5.7 ms instead of 4.3-4.7).
                         * A few frames wait for more: a checkpoint costs two
                         * flushes of its own. */
                        uint64_t idle_at = __atomic_load_n(&s->last_commit_ms, __ATOMIC_RELAXED) +
                                           IDLE_CHECKPOINT_MS;
                        uint64_t now = mono_ms();
                        if (now < idle_at) {
                                struct timespec ts;
                                clock_gettime(CLOCK_MONOTONIC, &ts);
                                uint64_t ns = (uint64_t)ts.tv_nsec + (idle_at - now) * 1000000;
                                ts.tv_sec += (time_t)(ns / 1000000000);
                                ts.tv_nsec = (long)(ns % 1000000000);
                                pthread_cond_timedwait(&s->ccond, &s->wlock, &ts);
                                continue;
                        }
                }
                s->checkpoint_due = false;
                pthread_mutex_unlock(&s->wlock);
                int log = 0, copied = 0;
                sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
                pthread_mutex_lock(&s->wlock);
                /* the tail: what was not copied, and what came while it copied */
                bool tail = copied < log || __atomic_load_n(&s->wal_pages, __ATOMIC_RELAXED) > log;
                if (tail && !s->stopping) { /* with commits held */
                        while (s->committing && !s->stopping)
                                pthread_cond_wait(&s->wcond_done, &s->wlock);
                        if (s->stopping)
                                break;
                        s->committing = true;
                        pthread_mutex_unlock(&s->wlock);
                        sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
                        pthread_mutex_lock(&s->wlock);
                        s->committing = false;
                        wake_leader(s);
                        pthread_cond_broadcast(&s->wcond_done);
                }
                __atomic_store_n(&s->ckpt_base, log, __ATOMIC_RELAXED);
                s->stats.checkpoints++;
                s->checkpoint_due = false; /* a call made while it copied is answered */
                __atomic_store_n(&s->idle_watch, false, __ATOMIC_RELAXED);
        }
        pthread_mutex_unlock(&s->wlock);
        return NULL;
}

struct flush_arg {
        int fd;
        uint64_t *count;
};

static int fdatasync_fd(void *arg)
{
        struct flush_arg *a = arg;
        int r = vol_failpoint("store-fdatasync"); /* =eio: the disk lost what was written */
        if (r < 0)
                return r;
        __atomic_add_fetch(a->count, 1, __ATOMIC_RELAXED);
        return fdatasync(a->fd) < 0 ? -errno : 0;
}

/* Wakes the thread sleeping on o (wlock held); o is not done. */
static void op_wake(struct write_op *o)
{
        __atomic_add_fetch(&o->wake, 1, __ATOMIC_RELEASE);
        vol_futex_wake(&o->wake);
}

/* Marks o done and wakes its waiter, unless o is self (wlock held). A waiter that finds its op
 * done returns without taking wlock again, so it never wakes only to wait for
 * the lock its waker still holds. Once `done` is stored, o may be gone at any
 * moment (it lives on its waiter's stack): nothing is written to it after
 * that, and FUTEX_WAKE only uses its address as a key (a wake-up at a stale
 * address is at most a spurious one, which every futex waiter checks for). */
static void op_done(struct write_op *o, const struct write_op *self)
{
        uint32_t *w = &o->wake;
        __atomic_add_fetch(w, 1, __ATOMIC_RELEASE);
        __atomic_store_n(&o->done, true, __ATOMIC_RELEASE);
        if (o != self) /* the leader's own op has no one asleep on it */
                vol_futex_wake(w);
}

/* Sleeps until op is woken, wlock held on entry. Returns true when op is
 * done, with wlock NOT held; false with wlock held again. */
static bool op_sleep(struct sqlite_store *s, struct write_op *op)
{
        uint32_t seen = __atomic_load_n(&op->wake, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&s->wlock);
        while (__atomic_load_n(&op->wake, __ATOMIC_ACQUIRE) == seen)
                vol_futex_wait(&op->wake, seen);
        if (__atomic_load_n(&op->done, __ATOMIC_ACQUIRE))
                return true;
        pthread_mutex_lock(&s->wlock);
        return false;
}

/* Whether the synced writes in the queue may be committed now (wlock held):
 * while no flush runs; and while one runs, once as many wait as that flush
 * covers, so that the next batch is committed under the running flush and
 * its own flush starts the moment that one ends (16 clients fall into two
 * groups, each answered by one flush and back while the other's runs: a
 * commit made only after the flush put the commit's time between flushes).
 * Fewer wait for the flush to end and go into one commit then: a commit per
 * arrival would write the same pages again and again. At most one batch is
 * committed ahead. */
static bool full_may_commit(const struct sqlite_store *s)
{
        return s->syncing == 0 || (s->syncing == 1 && s->pending_full >= s->flush_batch);
}

/* True when o may be committed now: an ordered write always; a synced one as
 * full_may_commit says (wlock held). */
static bool may_commit(const struct sqlite_store *s, const struct write_op *o)
{
        return o->sync != VOL_SYNC_FULL || full_may_commit(s);
}

/* Takes the ops that may be committed now (up to BATCH_MAX) out of the queue,
 * in order, marked taken; NULL when none may (wlock held). */
static struct write_op *take_batch(struct sqlite_store *s, size_t *ret_n)
{
        struct write_op *batch = NULL, **btail = &batch, **pp = &s->pending;
        size_t n = 0;
        bool full_ok = full_may_commit(s); /* decided once: taking changes the count */
        while (*pp) {
                struct write_op *o = *pp;
                if (n < BATCH_MAX && (o->sync != VOL_SYNC_FULL || full_ok)) {
                        if (o->sync == VOL_SYNC_FULL)
                                s->pending_full--;
                        *pp = o->next;
                        o->next = NULL;
                        o->taken = true;
                        *btail = o;
                        btail = &o->next;
                        n++;
                } else {
                        pp = &o->next;
                }
        }
        s->pending_tail = pp;
        *ret_n = n;
        return batch;
}

/* Wakes the first queued op that may lead a commit now, if nobody commits
 * (wlock held). */
static void wake_leader(struct sqlite_store *s)
{
        if (s->committing)
                return;
        for (struct write_op *o = s->pending; o; o = o->next)
                if (may_commit(s, o)) {
                        op_wake(o);
                        return;
                }
}

/* A VOL_SYNC_NOWAIT op (wlock held, released on return): committed alone, at
 * once, when nobody commits, nothing waits in the queue and no flush runs;
 * else -EWOULDBLOCK and nothing done. It never leads others' ops (a synced
 * one would make it flush) and never sleeps on the writer. Not under a
 * flush: a write to the WAL while another thread's fdatasync of it runs can
 * wait in the kernel for that flush's pages (p99 40 us, at times 12 ms,
 * measured here). */
static int commit_now(struct sqlite_store *s, struct write_op *op)
{
        if (s->committing || s->pending || s->syncing) {
                pthread_mutex_unlock(&s->wlock);
                return -EWOULDBLOCK;
        }
        s->stats.writes_ordered++;
        op->next = NULL;
        op->taken = true;
        s->committing = true;
        pthread_mutex_unlock(&s->wlock);

        run_batch(s, op);

        pthread_mutex_lock(&s->wlock);
        s->stats.commits++;
        s->committing = false;
        wake_leader(s);
        pthread_cond_broadcast(&s->wcond_done);
        pthread_mutex_unlock(&s->wlock);
        return op->result;
}

/* Queues op and waits until it is committed and, for VOL_SYNC_FULL, flushed.
 * Group commit without a writer thread: a caller that finds nobody committing
 * leads: it takes every op waiting then (up to BATCH_MAX) into one
 * transaction, commits it on its own thread, hands the lead on, and flushes
 * the WAL once for the whole batch. While a flush runs, synced writes wait in
 * the queue (ordered ones are committed at once): the next flush has to
 * begin after their commit anyway, so they all go into the one commit made
 * when the flush ends, instead of a small commit each (a commit costs CPU:
 * locks, WAL frames, the WAL index; each would write the same pages again).
 * One flush runs at a time. Each waiter sleeps on its own condition and is
 * woken once, to lead or when its op is done: no herd wakes for nothing,
 * which matters where a context switch is dear (virtual machines).
 * Returns the commit's result; op->sync_result says whether the flush held. */
static int commit_op(struct sqlite_store *s, struct write_op *op)
{
        pthread_mutex_lock(&s->wlock);
        if (s->stopping) {
                pthread_mutex_unlock(&s->wlock);
                return -ESHUTDOWN;
        }
        if (op->sync == VOL_SYNC_NOWAIT)
                return commit_now(s, op);
        op->next = NULL;
        op->wake = 0;
        op->done = op->taken = false;
        op->sync_result = 0;
        if (op->sync == VOL_SYNC_FULL) {
                s->stats.writes_full++;
                s->pending_full++;
        } else
                s->stats.writes_ordered++;
        *s->pending_tail = op;
        s->pending_tail = &op->next;
        bool locked = true;
        while (!op->done) {
                /* a leader is at work, or op is in a batch being flushed */
                if (s->committing || op->taken) {
                        if (op_sleep(s, op)) {
                                locked = false;
                                break;
                        }
                        continue;
                }
                if (s->stopping) { /* close is under way: nothing more commits */
                        for (struct write_op *o = s->pending, *next; o; o = next) {
                                next = o->next;
                                o->result = -ESHUTDOWN;
                                op_done(o, op);
                        }
                        s->pending = NULL;
                        s->pending_tail = &s->pending;
                        s->pending_full = 0;
                        break;
                }
                size_t n;
                struct write_op *batch = take_batch(s, &n);
                if (!batch) { /* op is synced and a flush runs: its end wakes a leader */
                        if (op_sleep(s, op)) {
                                locked = false;
                                break;
                        }
                        continue;
                }
                s->committing = true;
                pthread_mutex_unlock(&s->wlock);

                run_batch(s, batch);

                pthread_mutex_lock(&s->wlock);
                s->stats.commits++;
                /* an op marked done may be gone at once (it lives on its
                 * waiter's stack): the ops to flush are kept aside first */
                struct write_op *flushing[BATCH_MAX];
                size_t n_flush = 0;
                for (struct write_op *o = batch, *next; o; o = next) {
                        next = o->next;
                        if (o->result == 0 && o->sync == VOL_SYNC_FULL)
                                flushing[n_flush++] = o;
                        else
                                op_done(o, op);
                }
                s->committing = false;
                if (n_flush) {
                        if (s->syncing) /* under an earlier batch's flush */
                                s->stats.commits_ahead++;
                        s->syncing++;
                        s->flush_batch = n_flush;
                }
                wake_leader(s);
                pthread_cond_broadcast(&s->wcond_done);
                if (!n_flush)
                        continue;
                pthread_mutex_unlock(&s->wlock);

                struct flush_arg fa = {s->wal_fd, &s->stats.syncs};
                int r = vol_syncer_sync(&s->wal_syncer, fdatasync_fd, &fa);

                pthread_mutex_lock(&s->wlock);
                s->syncing--;
                for (size_t i = 0; i < n_flush; i++) {
                        flushing[i]->sync_result = r;
                        op_done(flushing[i], op);
                }
                wake_leader(s);
                pthread_cond_broadcast(&s->wcond_done);
        }
        if (locked)
                pthread_mutex_unlock(&s->wlock);
        return op->result;
}

/* Writes back what a committed op replaced (its pre-image), so that a write
 * reported as failed leaves no trace a read could see. Ordered: the disk
 * cannot take durable writes any more anyway. */
static void undo(struct sqlite_store *s, const struct write_op *op)
{
        struct write_op u = {.expect_rev = VOL_REV_ANY, .sync = VOL_SYNC_ORDERED};
        switch (op->kind) {
        case W_PUT:
        case W_REMOVE:
        case W_RETIRE:
                if (op->prev) {
                        u.kind = W_PUT;
                        u.v = op->prev;
                } else {
                        u.kind = W_REMOVE;
                        u.name = op->kind == W_PUT ? op->v->name : op->name;
                }
                commit_op(s, &u);
                if (op->kind == W_RETIRE) {
                        const char *id = op->v->id;
                        struct write_op t = {.kind = W_DROP_TOMBSTONE, .ids = &id, .n_ids = 1,
                                             .sync = VOL_SYNC_ORDERED};
                        commit_op(s, &t);
                }
                break;
        case W_DOC_PUT:
        case W_DOC_REMOVE:
                u.kind = op->had_doc ? W_DOC_PUT : W_DOC_REMOVE;
                u.doc_kind = op->doc_kind;
                u.name = op->name;
                u.body = op->doc_body;
                commit_op(s, &u);
                break;
        case W_DROP_TOMBSTONE:
                break;
        }
}

static int submit(struct sqlite_store *s, struct write_op *op)
{
        int r = commit_op(s, op);
        if (r == 0 && op->sync == VOL_SYNC_FULL && op->sync_result < 0) {
                /* committed, but not known to be on disk: take it back */
                undo(s, op);
                r = -EIO;
        }
        vol_volume_free(op->prev);
        free(op->doc_body);
        op->prev = NULL;
        op->doc_body = NULL;
        return r;
}

static int write_error(int r, const char *name, struct vol_error *err);

static int sqlite_retire(struct vol_store *base, const struct vol_volume *v, int64_t expect_rev,
                         enum vol_store_sync sync, struct vol_error *err)
{
        struct write_op op = {.kind = W_RETIRE, .v = v, .expect_rev = expect_rev, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        return r < 0 ? write_error(r, v->name, err) : 0;
}

static int sqlite_drop_tombstones(struct vol_store *base, const char *const *ids, size_t n,
                                  enum vol_store_sync sync, struct vol_error *err)
{
        struct write_op op = {.kind = W_DROP_TOMBSTONE, .ids = ids, .n_ids = n, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        return r < 0 ? vol_error_set(err, r, "metadata store: dropping %zu tombstones failed", n) : 0;
}

static int sqlite_list_tombstones(struct vol_store *base, vol_store_tombstone_cb cb, void *userdata,
                                  struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = NULL;
        int count = 0;
        if (sqlite3_prepare_v2(rd->db,
                               "SELECT id, name, driver, mountpoint, options, retired_at FROM tombstones"
                               " ORDER BY retired_at, id",
                               -1, &st, NULL) != SQLITE_OK) {
                r = db_error(rd->db, err, "listing tombstones");
        } else {
                int rc;
                struct vol_kv kv[VOL_OPTIONS_MAX];
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        _cleanup_free_ char *opts = xstrdup(vol_sqlite_col_str(st, 4));
                        size_t n = vol_sqlite_count_records(opts);
                        if (n > VOL_OPTIONS_MAX)
                                n = VOL_OPTIONS_MAX;
                        vol_sqlite_split_kvs(opts, kv, n);
                        struct vol_tombstone t = {
                                .name = vol_sqlite_col_str(st, 1),
                                .driver = vol_sqlite_col_str(st, 2),
                                .mountpoint = vol_sqlite_col_str(st, 3),
                                .options = {n, kv},
                                .retired_at = sqlite3_column_int64(st, 5),
                        };
                        snprintf(t.id, sizeof(t.id), "%s", vol_sqlite_col_str(st, 0));
                        count++;
                        int c = cb(&t, userdata);
                        if (c != 0) {
                                if (c < 0)
                                        r = c;
                                break;
                        }
                }
                if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                        r = db_error(rd->db, err, "listing tombstones");
        }
        sqlite3_finalize(st);
        reader_put(s, rd);
        return r < 0 ? r : count;
}

static int sqlite_backup(struct vol_store *base, int *ret_fd, struct vol_error *err)
{
        return vol_sqlite_backup(((struct sqlite_store *)base)->path, ret_fd, err);
}

static void sqlite_stats(struct vol_store *base, struct vol_store_stats *out)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        pthread_mutex_lock(&s->wlock);
        *out = s->stats;
        out->syncs = __atomic_load_n(&s->stats.syncs, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->wlock);
}

static int sqlite_health(struct vol_store *base, struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        pthread_mutex_lock(&s->wal_syncer.lock);
        int e = s->wal_syncer.error;
        pthread_mutex_unlock(&s->wal_syncer.lock);
        if (e < 0)
                return vol_error_set(err, -EIO,
                                     "an fdatasync of the metadata store's log %s-wal failed (%s): the "
                                     "kernel may have dropped written pages, so every durable write is "
                                     "refused until volmand is restarted (check the disk and the kernel log)",
                                     s->path, strerror(-e));
        return 0;
}

static int write_error(int r, const char *name, struct vol_error *err)
{
        if (r == -EWOULDBLOCK)
                return r; /* VOL_SYNC_NOWAIT: nothing written, nothing to say */
        if (vol_store_is_conflict(r))
                return vol_store_volume_conflict(r, name, err);
        switch (r) {
        case -ESHUTDOWN:
                return vol_error_set(err, r, "the daemon is shutting down");
        case -EIO:
                return vol_error_set(err, r, "metadata store: writing volume %s failed, or could not "
                                             "be made durable (fdatasync)", name);
        default:
                return vol_error_set(err, r, "metadata store: writing volume %s failed", name);
        }
}

static int sqlite_put(struct vol_store *base, struct vol_volume *v, int64_t expect_rev,
                      enum vol_store_sync sync, struct vol_error *err)
{
        struct write_op op = {.kind = W_PUT, .v = v, .expect_rev = expect_rev, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        if (r < 0)
                return write_error(r, v->name, err);
        v->revision = op.new_rev;
        return 0;
}

static int sqlite_remove(struct vol_store *base, const char *name, int64_t expect_rev,
                         enum vol_store_sync sync, struct vol_error *err)
{
        struct write_op op = {.kind = W_REMOVE, .name = name, .expect_rev = expect_rev, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        return r < 0 ? write_error(r, name, err) : 0;
}

static int doc_write_error(int r, const char *kind, const char *key, struct vol_error *err)
{
        if (vol_store_is_conflict(r))
                return vol_store_doc_conflict(r, kind, key, err);
        return vol_error_set(err, r, "%s %s: writing to the metadata store failed", kind, key);
}

static int sqlite_put_doc(struct vol_store *base, const char *kind, const char *key,
                          const char *json, int64_t expect_rev, enum vol_store_sync sync,
                          int64_t *ret_rev, struct vol_error *err)
{
        struct write_op op = {.kind = W_DOC_PUT, .doc_kind = kind, .name = key, .body = json,
                              .expect_rev = expect_rev, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        if (r < 0)
                return doc_write_error(r, kind, key, err);
        if (ret_rev)
                *ret_rev = op.new_rev;
        return 0;
}

static int sqlite_remove_doc(struct vol_store *base, const char *kind, const char *key,
                             int64_t expect_rev, enum vol_store_sync sync, struct vol_error *err)
{
        struct write_op op = {.kind = W_DOC_REMOVE, .doc_kind = kind, .name = key,
                              .expect_rev = expect_rev, .sync = sync};
        int r = submit((struct sqlite_store *)base, &op);
        return r < 0 ? doc_write_error(r, kind, key, err) : 0;
}

static int sqlite_get_doc(struct vol_store *base, const char *kind, const char *key, char **ret_json,
                          int64_t *ret_rev, struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(rd->db, "SELECT body, revision FROM docs WHERE kind = ?1 AND key = ?2", -1,
                               &st, NULL) != SQLITE_OK) {
                r = db_error(rd->db, err, "reading a document");
        } else {
                sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                if (rc == SQLITE_ROW) {
                        *ret_json = xstrdup(vol_sqlite_col_str(st, 0));
                        if (ret_rev)
                                *ret_rev = sqlite3_column_int64(st, 1);
                } else if (rc == SQLITE_DONE) {
                        r = vol_error_set(err, -ENOENT, "%s %s not found", kind, key);
                } else {
                        r = db_error(rd->db, err, "reading a document");
                }
        }
        sqlite3_finalize(st);
        reader_put(s, rd);
        return r;
}

static int sqlite_list_docs(struct vol_store *base, const char *kind, const char *prefix,
                            vol_store_doc_cb cb, void *userdata, struct vol_error *err)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        struct reader *rd;
        int r = reader_get(s, &rd, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st = NULL;
        int count = 0;
        if (sqlite3_prepare_v2(rd->db,
                               "SELECT key, body, revision FROM docs WHERE kind = ?1"
                               " AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
                               -1, &st, NULL) != SQLITE_OK) {
                r = db_error(rd->db, err, "listing documents");
        } else {
                sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
                int rc;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        count++;
                        int c = cb(vol_sqlite_col_str(st, 0), vol_sqlite_col_str(st, 1), sqlite3_column_int64(st, 2), userdata);
                        if (c != 0) {
                                if (c < 0)
                                        r = c;
                                break;
                        }
                }
                if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                        r = db_error(rd->db, err, "listing documents");
        }
        sqlite3_finalize(st);
        reader_put(s, rd);
        return r < 0 ? r : count;
}

/* ---- open / close ---- */

static int migrate(sqlite3 *db, struct vol_error *err)
{
        sqlite3_stmt *st = NULL;
        int version = 0;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        int known = (int)(sizeof(migrations) / sizeof(migrations[0]));
        if (version > known)
                return vol_error_set(err, -EPROTO,
                                     "metadata store has schema version %d; this volmand knows up to "
                                     "%d (a newer volmand wrote it)",
                                     version, known);
        for (int i = version; i < known; i++) {
                _cleanup_free_ char *sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;",
                                                     migrations[i], i + 1);
                int r = exec(db, sql, err);
                if (r < 0) {
                        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
                        return vol_error_wrap(err, "migrating the store to version %d: ", i + 1);
                }
        }
        return 0;
}

/* Writes the JSON of every row an older volmand left without it (schema 4). */
static int fill_json(sqlite3 *db, struct vol_error *err)
{
        sqlite3_stmt *sel = NULL, *upd = NULL;
        int r = 0;
        if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM volumes WHERE json IS NULL", -1, &sel, NULL) !=
                    SQLITE_OK ||
            sqlite3_prepare_v2(db, "UPDATE volumes SET json = ?2 WHERE name = ?1", -1, &upd, NULL) != SQLITE_OK) {
                r = db_error(db, err, "preparing the JSON fill");
                goto out;
        }
        if ((r = exec(db, "BEGIN IMMEDIATE", err)) < 0)
                goto out;
        struct vol_row_scratch sc;
        memset(&sc, 0, sizeof(sc));
        int rc;
        while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
                const struct vol_volume *v = vol_sqlite_row_borrow(sel, &sc);
                struct vol_strbuf json;
                vol_strbuf_init(&json, 0);
                vol_volume_to_json(&json, v, NULL);
                sqlite3_bind_text(upd, 1, v->name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(upd, 2, json.data, (int)json.len, SQLITE_TRANSIENT);
                int u = sqlite3_step(upd);
                sqlite3_reset(upd);
                vol_strbuf_free(&json);
                if (u != SQLITE_DONE) {
                        rc = u;
                        break;
                }
        }
        vol_sqlite_row_scratch_free(&sc);
        if (rc != SQLITE_DONE) {
                r = db_error(db, err, "filling in the volumes' JSON");
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        } else {
                r = exec(db, "COMMIT", err);
        }
out:
        sqlite3_finalize(sel);
        sqlite3_finalize(upd);
        return r;
}

static void sqlite_close(struct vol_store *base)
{
        struct sqlite_store *s = (struct sqlite_store *)base;
        if (!s)
                return;
        if (s->threads) {
                pthread_mutex_lock(&s->wlock);
                s->stopping = true;
                /* a batch under way finishes before the connection closes */
                while (s->committing || s->syncing)
                        pthread_cond_wait(&s->wcond_done, &s->wlock);
                pthread_cond_broadcast(&s->ccond);
                pthread_mutex_unlock(&s->wlock);
                pthread_join(s->checkpointer, NULL);
        }
        if (s->cdb) {
                sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
                sqlite3_close(s->cdb);
        }
        while (s->idle) {
                struct reader *rd = s->idle;
                s->idle = rd->next;
                reader_free(rd);
        }
        reader_free(s->list_rd);
        pthread_mutex_destroy(&s->list_lock);
        sqlite3_finalize(s->w_rev);
        sqlite3_finalize(s->w_insert);
        sqlite3_finalize(s->w_update);
        sqlite3_finalize(s->w_update_row);
        sqlite3_finalize(s->w_delete);
        sqlite3_finalize(s->w_doc_rev);
        sqlite3_finalize(s->w_doc_put);
        sqlite3_finalize(s->w_doc_delete);
        sqlite3_finalize(s->w_get);
        sqlite3_finalize(s->w_doc_get);
        sqlite3_finalize(s->w_tomb_put);
        sqlite3_finalize(s->w_tomb_delete);
        sqlite3_finalize(s->w_begin);
        sqlite3_finalize(s->w_commit);
        sqlite3_finalize(s->w_rollback);
        sqlite3_close(s->wdb);
        pthread_mutex_destroy(&s->wlock);
        pthread_mutex_destroy(&s->rlock);
        pthread_cond_destroy(&s->wcond_done);
        pthread_cond_destroy(&s->ccond);
        vol_syncer_destroy(&s->wal_syncer);
        if (s->wal_fd >= 0)
                close(s->wal_fd);
        pthread_cond_destroy(&s->rcond);
        free(s->path);
        free(s);
}

static int sqlite_open(const char *location, struct vol_store **ret, struct vol_error *err)
{
        struct sqlite_store *s = xcalloc(1, sizeof(*s));
        s->base.ops = &vol_store_sqlite_ops;
        s->path = xstrdup(location);
        s->pending_tail = &s->pending;
        s->wal_fd = -1;
        vol_syncer_init(&s->wal_syncer);
        pthread_mutex_init(&s->wlock, NULL);
        pthread_mutex_init(&s->rlock, NULL);
        pthread_mutex_init(&s->list_lock, NULL);
        pthread_cond_init(&s->wcond_done, NULL);
        pthread_condattr_t monotonic;
        pthread_condattr_init(&monotonic);
        pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
        pthread_cond_init(&s->ccond, &monotonic); /* the idle checkpoint's wait */
        pthread_condattr_destroy(&monotonic);
        pthread_cond_init(&s->rcond, NULL);
        vol_sqlite_backup_sweep(location);
        /* Keep the page caches small: RSS matters more than a cache hit. */
        sqlite3_soft_heap_limit64(16 << 20);

        sqlite3 *db = NULL;
        int r = open_db(location, false, false, &db, err);
        if (r < 0)
                goto fail;
        s->wdb = db;
        if ((r = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err)) < 0 ||
            (r = migrate(db, err)) < 0 || (r = fill_json(db, err)) < 0 ||
            (r = exec(db, "PRAGMA synchronous=NORMAL;", err)) < 0)
                goto fail_nowriter;
        /* The WAL exists once the database is in WAL mode and a connection is
         * open; SQLite keeps that file (same inode) while we hold connections. */
        char *wal = xasprintf("%s-wal", location);
        s->wal_fd = open(wal, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        if (s->wal_fd < 0)
                r = vol_error_set(err, -errno, "opening %s: %m", wal);
        free(wal);
        if (r < 0)
                goto fail_nowriter;
        if ((r = prepare(db, "SELECT revision, id, tenant, env, app FROM volumes WHERE name = ?1", &s->w_rev,
                         err)) < 0 ||
            (r = prepare(db, "INSERT INTO volumes (" COLUMNS ", json) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                         &s->w_insert, err)) < 0 ||
            (r = prepare(db,
                         "UPDATE volumes SET id=?2, driver=?3, status=?4, tenant=?5, env=?6, app=?7, path=?8,"
                         " options=?9, labels=?10, mounts=?11, mountpoint=?12, created_at=?13, revision=?14,"
                         " json=?15 WHERE name = ?1",
                         &s->w_update, err)) < 0 ||
            (r = prepare(db, /* ?2 and ?5-?7 bound but unused: see apply_put */
                         "UPDATE volumes SET driver=?3, status=?4, path=?8, options=?9, labels=?10, mounts=?11,"
                         " mountpoint=?12, created_at=?13, revision=?14, json=?15 WHERE name = ?1",
                         &s->w_update_row, err)) < 0 ||
            (r = prepare(db, "DELETE FROM volumes WHERE name = ?1", &s->w_delete, err)) < 0 ||
            (r = prepare(db, "SELECT revision FROM docs WHERE kind = ?1 AND key = ?2", &s->w_doc_rev, err)) < 0 ||
            (r = prepare(db, "INSERT OR REPLACE INTO docs (kind, key, body, revision) VALUES (?1, ?2, ?3, ?4)",
                         &s->w_doc_put, err)) < 0 ||
            (r = prepare(db, "DELETE FROM docs WHERE kind = ?1 AND key = ?2", &s->w_doc_delete, err)) < 0 ||
            (r = prepare(db, "SELECT " COLUMNS " FROM volumes WHERE name = ?1", &s->w_get, err)) < 0 ||
            (r = prepare(db, "SELECT body FROM docs WHERE kind = ?1 AND key = ?2", &s->w_doc_get, err)) < 0 ||
            (r = prepare(db,
                         "INSERT OR REPLACE INTO tombstones (id, name, driver, mountpoint, options, retired_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         &s->w_tomb_put, err)) < 0 ||
            (r = prepare(db, "DELETE FROM tombstones WHERE id = ?1", &s->w_tomb_delete, err)) < 0 ||
            (r = prepare(db, "BEGIN IMMEDIATE", &s->w_begin, err)) < 0 ||
            (r = prepare(db, "COMMIT", &s->w_commit, err)) < 0 || (r = prepare(db, "ROLLBACK", &s->w_rollback, err)) < 0)
                goto fail_nowriter;
        if ((r = open_db(location, false, false, &s->cdb, err)) < 0 ||
            (r = exec(s->cdb, "PRAGMA cache_size=-64;", err)) < 0) /* it copies pages, it never reads twice */
                goto fail_nowriter;
        if ((r = exec(db, "PRAGMA wal_autocheckpoint=0;", err)) < 0)
                goto fail_nowriter;
        sqlite3_wal_hook(db, wal_hook, s);
        /* Readers made now, not on a first read: a read on an HTTP event
         * thread while the writer commits then finds one idle, where opening
         * a connection would open files, set their owner and read the
         * header (on a stalled disk, a wait). Two cover the event threads'
         * reads alongside a worker's; when more run at once, a read opens
         * another connection (up to 32) or, past that, waits for one to
         * come back. Best effort: a reader that cannot be made now is made
         * when first needed. */
        for (int i = 0; i < READERS_AT_OPEN; i++) {
                struct reader *rd;
                struct vol_error ignored = VOL_ERROR_INIT;
                if (reader_open(s, false, &rd, &ignored) < 0) {
                        vol_error_clear(&ignored);
                        break;
                }
                s->n_open++;
                reader_put(s, rd); /* into the idle list */
        }
        if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
                r = vol_error_set(err, -EAGAIN, "starting the store's checkpoint thread failed");
                goto fail_nowriter;
        }
        s->threads = true;
        *ret = &s->base;
        return 0;
fail_nowriter:
        sqlite3_finalize(s->w_rev);
        sqlite3_finalize(s->w_insert);
        sqlite3_finalize(s->w_update);
        sqlite3_finalize(s->w_update_row);
        sqlite3_finalize(s->w_delete);
        sqlite3_finalize(s->w_doc_rev);
        sqlite3_finalize(s->w_doc_put);
        sqlite3_finalize(s->w_doc_delete);
        sqlite3_finalize(s->w_get);
        sqlite3_finalize(s->w_doc_get);
        sqlite3_finalize(s->w_tomb_put);
        sqlite3_finalize(s->w_tomb_delete);
        sqlite3_finalize(s->w_begin);
        sqlite3_finalize(s->w_commit);
        sqlite3_finalize(s->w_rollback);
        s->w_begin = s->w_commit = s->w_rollback = NULL;
        s->w_rev = s->w_insert = s->w_update = s->w_update_row = s->w_delete = s->w_get = NULL;
        s->w_doc_rev = s->w_doc_put = s->w_doc_delete = s->w_doc_get = NULL;
        s->w_tomb_put = s->w_tomb_delete = NULL;
        sqlite3_close(s->wdb);
        s->wdb = NULL;
        sqlite3_close(s->cdb);
        s->cdb = NULL;
fail:
        sqlite_close(&s->base);
        return r;
}

const struct vol_store_ops vol_store_sqlite_ops = {
        .name = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .get = sqlite_get,
        .view = sqlite_view,
        .list = sqlite_list,
        .list_json = sqlite_list_json,
        .put = sqlite_put,
        .remove = sqlite_remove,
        .count = sqlite_count,
        .get_doc = sqlite_get_doc,
        .put_doc = sqlite_put_doc,
        .remove_doc = sqlite_remove_doc,
        .list_docs = sqlite_list_docs,
        .retire = sqlite_retire,
        .list_tombstones = sqlite_list_tombstones,
        .drop_tombstones = sqlite_drop_tombstones,
        .health = sqlite_health,
        .stats = sqlite_stats,
        .backup = sqlite_backup,
};
