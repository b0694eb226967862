/* The SQLite store's online backup. Not a public header: only store/sqlite*.c
 * include it. */
#pragma once

#include "core/error.h"

/* The VFS of every connection volmand opens to its database. "unix-excl"
 * holds the file locked against other processes for as long as volmand has
 * it open, and keeps the WAL index in this process's memory: no lock of a
 * transaction is a system call (docs/architecture.md, "One process owns the
 * store"). A connection on another VFS in this process would break that
 * lock, so every one, the backup's included, is opened with this one. */
#define VOL_SQLITE_VFS "unix-excl"

/* A consistent copy of the database at db_path (VACUUM INTO, on a connection
 * of its own: writers go on meanwhile) in a new file beside it: 0 and *ret_fd
 * open for reading at its start, the file already unlinked. */
int vol_sqlite_backup(const char *db_path, int *ret_fd, struct vol_error *err);

/* Removes the copies a backup cut short by a crash left beside db_path. */
void vol_sqlite_backup_sweep(const char *db_path);

/* The pid of another process holding a lock on the file at path (from
 * /proc/locks: no descriptor is opened, since closing one would drop this
 * process's own POSIX locks on the file), 0 when there is none, < 0 when it
 * cannot be told. */
long vol_sqlite_lock_holder(const char *path);
