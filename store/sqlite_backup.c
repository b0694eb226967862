/* The SQLite store's online backup: VACUUM INTO a file beside the database,
 * handed over as an open, unlinked file. */
#include "sqlite_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"

#define BACKUP_SUFFIX ".backup-"

static int vacuum_into(const char *db_path, const char *target, struct vol_error *err)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, VOL_SQLITE_VFS);
        if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(db, 10000);
                rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
        }
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
                rc = sqlite3_step(st);
                rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        int r = 0;
        if (rc != SQLITE_OK)
                r = vol_error_set(err, rc == SQLITE_FULL ? -ENOSPC : -EIO, "metadata store backup: %s",
                                  db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_finalize(st);
        sqlite3_close(db);
        return r;
}

int vol_sqlite_backup(const char *db_path, int *ret_fd, struct vol_error *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s" BACKUP_SUFFIX "XXXXXX", db_path);
        /* created empty, root's alone (it holds what the store holds):
         * VACUUM INTO fills an empty file */
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return vol_error_set(err, -errno, "metadata store backup: creating %s: %s", tmp,
                                     strerror(errno));
        close(fd);
        int r = vacuum_into(db_path, tmp, err);
        if (r == 0)
                r = vol_failpoint("store-backup-made");
        if (r == 0 && (fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0)
                r = vol_error_set(err, -errno, "metadata store backup: opening %s: %s", tmp, strerror(errno));
        unlink(tmp);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

void vol_sqlite_backup_sweep(const char *db_path)
{
        _cleanup_free_ char *dir = xstrdup(db_path);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : db_path;
        if (slash)
                *slash = 0;
        _cleanup_free_ char *prefix = xasprintf("%s" BACKUP_SUFFIX, base);
        size_t n = strlen(prefix);
        DIR *d = opendir(slash ? (*dir ? dir : "/") : ".");
        if (!d)
                return;
        struct dirent *e;
        while ((e = readdir(d)))
                if (!strncmp(e->d_name, prefix, n) && strlen(e->d_name) == n + 6)
                        unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
}

long vol_sqlite_lock_holder(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        FILE *f = fopen("/proc/locks", "re");
        if (!f)
                return -errno;
        char line[256];
        long found = 0, self = (long)getpid();
        while (!found && fgets(line, sizeof(line), f)) {
                /* "1: POSIX  ADVISORY  WRITE 1234 08:01:131090 0 EOF" (a blocked
                 * waiter's line starts "1: -> "); the device in hex */
                long pid;
                unsigned maj, min;
                unsigned long ino;
                char *p = strstr(line, "POSIX");
                if (p && sscanf(p, "POSIX %*s %*s %ld %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
                    ino == (unsigned long)st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev) &&
                    pid != self)
                        found = pid;
        }
        fclose(f);
        return found;
}
