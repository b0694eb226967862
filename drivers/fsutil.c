#include "fsutil.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"

#define REMOVE_DEPTH_MAX 200000

static int open_dir(int dirfd, const char *name, unsigned long long extra)
{
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | extra,
        };
        long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        return (int)fd;
}

/* Whether the filesystem of fd is an ext4 without a journal, from
 * /sys/fs/ext4/DEV/journal_task ("<none>" without one). false when it
 * cannot tell. */
static bool ext4_without_journal(int fd)
{
        struct statfs sf;
        struct stat st;
        if (fstatfs(fd, &sf) < 0 || sf.f_type != EXT4_SUPER_MAGIC || fstat(fd, &st) < 0)
                return false;
        char link[64], dev[PATH_MAX];
        snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
        ssize_t n = readlink(link, dev, sizeof(dev) - 1);
        if (n <= 0)
                return false;
        dev[n] = 0;
        const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
        _cleanup_free_ char *path = xasprintf("/sys/fs/ext4/%s/journal_task", name);
        _cleanup_close_ int jfd = open(path, O_RDONLY | O_CLOEXEC);
        char text[16] = "";
        if (jfd < 0 || read(jfd, text, sizeof(text) - 1) <= 0)
                return false;
        return strncmp(text, "<none>", 6) == 0;
}

int vol_fs_mark_top(int dir_fd)
{
        if (!ext4_without_journal(dir_fd))
                return -EOPNOTSUPP;
        int flags = 0;
        if (ioctl(dir_fd, FS_IOC_GETFLAGS, &flags) < 0)
                return -errno;
        if (flags & FS_TOPDIR_FL)
                return 0;
        flags |= FS_TOPDIR_FL;
        return ioctl(dir_fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

int vol_fs_open_dir(int dirfd, const char *name)
{
        return open_dir(dirfd, name, 0);
}

int vol_fs_open_subdir(int dirfd, const char *name)
{
        return open_dir(dirfd, name, RESOLVE_NO_XDEV);
}

/* Directory levels whose streams stay open during a removal: within them the
 * walk is one pass over every entry. Deeper levels are closed as the walk goes
 * down and reopened through ".." (checked against the recorded device and
 * inode) on the way back, so a tree of any depth needs at most this many
 * descriptors. */
#define REMOVE_WINDOW 64
/* Rescans of one directory whose content keeps changing under the removal
 * (a process still writing into the volume). */
#define REMOVE_PASSES_MAX 100

struct frame {
        DIR *dir;   /* NULL while closed (beyond the window) */
        char *name; /* this directory's name in its parent; NULL at the top */
        dev_t dev;
        ino_t ino;
        bool rescan; /* an entry changed type under us: read the directory again */
        unsigned passes;
};

static int open_stream(int fd, DIR **ret)
{
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = -errno;
                close(fd);
                return e;
        }
        *ret = d;
        return 0;
}

/* Reopens the stream of frame f, a parent of the directory open at child_fd,
 * through "..", checking it is still the directory the walk came from. */
static int reopen_parent(int child_fd, struct frame *f)
{
        int fd = openat(child_fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
                close(fd);
                return -EXDEV;
        }
        return open_stream(fd, &f->dir);
}

struct walk {
        struct frame *stack;
        size_t depth, cap;
        dev_t root_dev;
        const char *what; /* the volume's name, for messages */
        struct vol_error *err;
};

static int mounted_inside(struct walk *w)
{
        return vol_error_set(w->err, -EBUSY, "a filesystem is mounted inside volume %s; unmount it first",
                             w->what);
}

/* Enters subdirectory `name` of the top frame. Returns 0, 1 when it changed
 * under us (look again), or < 0. */
static int descend(struct walk *w, const char *name, const struct stat *st)
{
        struct frame *top = &w->stack[w->depth - 1];
        if (st->st_dev != w->root_dev)
                return mounted_inside(w);
        if (w->depth >= REMOVE_DEPTH_MAX)
                return vol_error_set(w->err, -ELOOP, "volume %s is nested deeper than %d levels", w->what,
                                     REMOVE_DEPTH_MAX);
        int child = vol_fs_open_subdir(dirfd(top->dir), name);
        if (child == -EXDEV) /* a bind mount of the same filesystem: st_dev cannot tell it */
                return mounted_inside(w);
        if (child == -ENOTDIR || child == -ELOOP) {
                top->rescan = true; /* became a file or a symlink: the next pass unlinks it */
                return 1;
        }
        if (child == -ENOENT)
                return 1;
        if (child < 0)
                return vol_error_set(w->err, child, "opening a directory in volume %s: %s", w->what,
                                     strerror(-child));
        if (w->depth == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 64;
                w->stack = xrealloc(w->stack, w->cap * sizeof(*w->stack));
        }
        if (w->depth >= REMOVE_WINDOW) {
                struct frame *old = &w->stack[w->depth - REMOVE_WINDOW];
                if (old->dir) {
                        closedir(old->dir);
                        old->dir = NULL;
                }
        }
        struct frame f = {.name = xstrdup(name), .dev = st->st_dev, .ino = st->st_ino};
        int r = open_stream(child, &f.dir);
        if (r < 0) {
                free(f.name);
                return vol_error_set(w->err, r, "reading a directory in volume %s: %s", w->what, strerror(-r));
        }
        w->stack[w->depth++] = f;
        vol_failpoint("remove-tree-descend");
        return 0;
}

/* The directory of the top frame is read to its end: read it again if
 * something changed, else remove it from its parent and climb. Returns 0 to go
 * on, 1 when the top of the tree is done, < 0 on error. */
static int finish_dir(struct walk *w, int dirfd_top, const char *top_name)
{
        struct frame *f = &w->stack[w->depth - 1];
        if (f->rescan) {
                if (++f->passes > REMOVE_PASSES_MAX)
                        return vol_error_set(w->err, -EBUSY,
                                             "the content of volume %s keeps changing during its removal; "
                                             "stop what writes into it",
                                             w->what);
                f->rescan = false;
                rewinddir(f->dir);
                return 0;
        }
        if (w->depth == 1) {
                closedir(f->dir);
                f->dir = NULL;
                if (unlinkat(dirfd_top, top_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                        return 1;
                if (errno != ENOTEMPTY && errno != EEXIST)
                        return vol_error_set(w->err, -errno, "removing the directory of volume %s: %m",
                                             w->what);
                /* something appeared at the top meanwhile: read it again */
                if (++f->passes > REMOVE_PASSES_MAX)
                        return vol_error_set(w->err, -EBUSY,
                                             "the content of volume %s keeps changing during its removal",
                                             w->what);
                int fd = open_dir(dirfd_top, top_name, RESOLVE_NO_XDEV);
                if (fd < 0)
                        return fd == -ENOENT ? 1 : vol_error_set(w->err, fd, "reopening volume %s: %s", w->what,
                                                                 strerror(-fd));
                int r = open_stream(fd, &f->dir);
                return r < 0 ? vol_error_set(w->err, r, "reading volume %s: %s", w->what, strerror(-r)) : 0;
        }
        struct frame child = w->stack[--w->depth];
        struct frame *parent = &w->stack[w->depth - 1];
        int r = 0;
        if (!parent->dir && (r = reopen_parent(dirfd(child.dir), parent)) < 0)
                r = vol_error_set(w->err, r == -EXDEV ? -EXDEV : r,
                                  "a directory in volume %s moved during its removal", w->what);
        closedir(child.dir);
        if (r == 0 && unlinkat(dirfd(parent->dir), child.name, AT_REMOVEDIR) < 0) {
                if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR)
                        parent->rescan = true; /* changed under us: the next pass sees it */
                else if (errno != ENOENT)
                        r = vol_error_set(w->err, -errno, "removing a directory in volume %s: %m", w->what);
        }
        free(child.name);
        return r;
}

int vol_fs_remove_tree(int parent, const char *name, const char *what, struct vol_error *err)
{
        /* RESOLVE_NO_XDEV: a filesystem mounted on the volume's own directory
         * is never entered. */
        int top = open_dir(parent, name, RESOLVE_NO_XDEV);
        if (top == -ENOENT)
                return 0;
        if (top == -EXDEV)
                return vol_error_set(err, -EBUSY,
                                     "a filesystem is mounted on the directory of volume %s; unmount it first",
                                     what);
        if (top == -ENOTDIR || top == -ELOOP) {
                /* not a directory (or a symlink): remove the entry itself */
                if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
                        return vol_error_set(err, -errno, "removing %s: %m", what);
                return 0;
        }
        if (top < 0)
                return vol_error_set(err, top, "opening volume %s: %s", what, strerror(-top));
        struct stat root;
        if (fstat(top, &root) < 0) {
                int e = -errno;
                close(top);
                return vol_error_set(err, e, "stat of volume %s: %s", what, strerror(-e));
        }
        struct walk w = {.root_dev = root.st_dev, .what = what, .err = err};
        w.cap = 64;
        w.stack = xcalloc(w.cap, sizeof(*w.stack));
        w.stack[0] = (struct frame){.dev = root.st_dev, .ino = root.st_ino};
        int r = open_stream(top, &w.stack[0].dir);
        if (r < 0) {
                free(w.stack);
                return vol_error_set(err, r, "reading volume %s: %s", what, strerror(-r));
        }
        w.depth = 1;
        for (;;) {
                struct frame *f = &w.stack[w.depth - 1];
                errno = 0;
                struct dirent *de = readdir(f->dir);
                if (!de) {
                        if (errno) {
                                r = vol_error_set(err, -errno, "reading a directory in volume %s: %m", what);
                                break;
                        }
                        r = finish_dir(&w, parent, name);
                        if (r != 0)
                                break;
                        continue;
                }
                const char *n = de->d_name;
                if (n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])))
                        continue;
                if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(dirfd(f->dir), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                r = vol_error_set(err, -errno, "stat in volume %s: %m", what);
                                break;
                        }
                        if (S_ISDIR(st.st_mode)) {
                                if ((r = descend(&w, n, &st)) < 0)
                                        break;
                                continue;
                        }
                }
                if (unlinkat(dirfd(f->dir), n, 0) < 0 && errno != ENOENT) {
                        int e = errno;
                        struct stat st;
                        if ((e == EISDIR || e == EPERM) &&
                            fstatat(dirfd(f->dir), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                                f->rescan = true; /* became a directory: the next pass enters it */
                                continue;
                        }
                        r = vol_error_set(err, -e, "removing a file in volume %s: %s", what, strerror(e));
                        break;
                }
        }
        for (size_t i = 0; i < w.depth; i++) {
                if (w.stack[i].dir)
                        closedir(w.stack[i].dir);
                free(w.stack[i].name);
        }
        free(w.stack);
        return r < 0 ? r : 0;
}

struct usage_walk {
        dev_t dev;
        uint64_t bytes, inodes;
        bool partial;
        struct timespec deadline;
};

static bool past(const struct timespec *t)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void usage_walk(int fd, int level, struct usage_walk *w)
{
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if ((w->inodes & 255) == 0 && past(&w->deadline)) {
                        w->partial = true; /* the time is up: what is counted so far */
                        break;
                }
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (st.st_dev != w->dev)
                        continue;
                w->inodes += 1;
                w->bytes += (uint64_t)st.st_blocks * 512u;
                if (S_ISDIR(st.st_mode)) {
                        if (level + 1 >= VOL_FS_USAGE_DEPTH) {
                                w->partial = true;
                                continue;
                        }
                        int child = vol_fs_open_subdir(dirfd(d), de->d_name);
                        if (child >= 0)
                                usage_walk(child, level + 1, w);
                }
        }
        closedir(d);
}

int vol_fs_usage(int fd, uint64_t *ret_bytes, uint64_t *ret_inodes, bool *ret_partial,
                 struct vol_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vol_error_set(err, -errno, "stat: %m");
        int dfd = dup(fd);
        if (dfd < 0)
                return vol_error_set(err, -errno, "dup: %m");
        struct usage_walk w = {.dev = st.st_dev, .bytes = (uint64_t)st.st_blocks * 512u, .inodes = 1};
        clock_gettime(CLOCK_MONOTONIC, &w.deadline);
        w.deadline.tv_sec += VOL_FS_USAGE_SECONDS;
        usage_walk(dfd, 0, &w);
        *ret_bytes = w.bytes;
        *ret_inodes = w.inodes;
        *ret_partial = w.partial;
        return 0;
}

static int fsync_fd(void *arg)
{
        return fsync(*(int *)arg) < 0 ? -errno : 0;
}

int vol_fs_sync_dir_shared(struct vol_syncer *s, int fd, struct vol_error *err)
{
        int r = vol_syncer_sync(s, fsync_fd, &fd);
        if (r < 0)
                return vol_error_set(err, r, "fsync of a directory: %s", strerror(-r));
        return 0;
}

static int parse_id(const char *what, const char *s, long *ret, struct vol_error *err)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!*s || *end || errno || v < 0 || v > 0x7fffffffL)
                return vol_error_set(err, -EINVAL, "option %s \"%s\" is not a number from 0 to 2147483647",
                                     what, s);
        *ret = v;
        return 0;
}

int vol_fs_parse_owner(const struct vol_kvs *options, mode_t default_mode, struct vol_owner *ret,
                       struct vol_error *err)
{
        struct vol_owner o = {-1, -1, default_mode};
        const char *s;
        int r;
        if ((s = vol_kvs_get(options, "uid")) && (r = parse_id("uid", s, &o.uid, err)) < 0)
                return r;
        if ((s = vol_kvs_get(options, "gid")) && (r = parse_id("gid", s, &o.gid, err)) < 0)
                return r;
        if ((s = vol_kvs_get(options, "mode"))) {
                char *end;
                errno = 0;
                long m = strtol(s, &end, 8);
                if (!*s || *end || errno || m < 0 || m > 07777)
                        return vol_error_set(err, -EINVAL,
                                             "option mode \"%s\" is not an octal mode from 0 to 7777", s);
                o.mode = (mode_t)m;
        }
        *ret = o;
        return 0;
}

int vol_fs_apply_owner(int fd, const struct vol_owner *owner, struct vol_error *err)
{
        if ((owner->uid >= 0 || owner->gid >= 0) &&
            fchown(fd, (uid_t)owner->uid, (gid_t)owner->gid) < 0)
                return vol_error_set(err, -errno, "chown of the volume directory: %m");
        if (fchmod(fd, owner->mode) < 0)
                return vol_error_set(err, -errno, "chmod of the volume directory: %m");
        return 0;
}

/* The process's umask, read once from /proc (umask(2) can only read it by
 * setting it, which would race with other threads' creates); 0777 (clears
 * everything: always chmod) when it cannot be read. */
static mode_t umask_now = 0777;
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;

static void read_umask(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return;
        char line[256];
        unsigned m;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Umask: %o", &m) == 1) {
                        umask_now = (mode_t)(m & 0777);
                        break;
                }
        fclose(f);
}

bool vol_fs_mkdir_gives(const struct vol_owner *owner)
{
        pthread_once(&umask_once, read_umask);
        return owner->uid < 0 && owner->gid < 0 && !(owner->mode & ~(mode_t)0777) && !(owner->mode & umask_now);
}

int vol_fs_is_empty_dir(int dirfd, const char *name)
{
        int fd = vol_fs_open_dir(dirfd, name);
        if (fd == -ENOTDIR || fd == -ELOOP)
                return 0;
        if (fd < 0)
                return fd;
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = -errno;
                close(fd);
                return e;
        }
        int empty = 1;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        empty = 0;
                        break;
                }
        closedir(d);
        return empty;
}

bool vol_fs_is_uuid(const char *s)
{
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                char c = s[i];
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                        return false;
                }
        }
        return true;
}
