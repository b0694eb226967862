#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/cleanup.h"
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

int vol_fs_open_dir(int dirfd, const char *name)
{
        return open_dir(dirfd, name, 0);
}

int vol_fs_open_subdir(int dirfd, const char *name)
{
        return open_dir(dirfd, name, RESOLVE_NO_XDEV);
}

struct frame {
        char *name; /* this directory's name in its parent */
        dev_t parent_dev;
        ino_t parent_ino;
};

/* One pass over directory fd: unlinks every entry that is not a directory
 * (symlinks included, never followed) and copies the name of the first
 * directory into subdir. Returns 2 if a directory was seen, 1 if only other
 * entries were (and removed), 0 if the directory was empty, < 0 on error. */
static int sweep(int fd, char subdir[NAME_MAX + 1])
{
        int dfd = dup(fd);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                int e = -errno;
                close(dfd);
                return e;
        }
        rewinddir(d);
        int r = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                r = -errno;
                                break;
                        }
                        if (S_ISDIR(st.st_mode)) {
                                if (r < 2)
                                        snprintf(subdir, NAME_MAX + 1, "%s", de->d_name);
                                r = 2;
                                continue;
                        }
                }
                if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT) {
                        if (errno == EISDIR) { /* became a directory: the next pass sees it */
                                r = r < 1 ? 1 : r;
                                continue;
                        }
                        r = -errno;
                        break;
                }
                if (r < 1)
                        r = 1;
                errno = 0;
        }
        if (!de && errno && r >= 0)
                r = -errno;
        closedir(d);
        return r;
}

int vol_fs_remove_tree(int dirfd, const char *name, struct vol_error *err)
{
        int cur = vol_fs_open_dir(dirfd, name);
        if (cur == -ENOENT)
                return 0;
        if (cur == -ENOTDIR || cur == -ELOOP) {
                /* not a directory (or a symlink): remove the entry itself */
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        return vol_error_set(err, -errno, "removing %s: %m", name);
                return 0;
        }
        if (cur < 0)
                return vol_error_set(err, cur, "opening %s: %s", name, strerror(-cur));
        struct stat root;
        if (fstat(cur, &root) < 0) {
                close(cur);
                return vol_error_set(err, -errno, "stat %s: %m", name);
        }

        struct frame *stack = NULL;
        size_t depth = 0, cap = 0;
        int r = 0;
        char ent[NAME_MAX + 1];
        for (;;) {
                int f = sweep(cur, ent);
                if (f < 0) {
                        r = vol_error_set(err, f, "removing the content of volume %s: %s", name,
                                          strerror(-f));
                        break;
                }
                if (f == 1)
                        continue; /* removed files: make sure nothing new appeared */
                if (f == 2) {
                        struct stat st;
                        if (fstatat(cur, ent, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        if (st.st_dev != root.st_dev) {
                                r = vol_error_set(err, -EBUSY,
                                                  "a filesystem is mounted inside volume %s; unmount it first",
                                                  name);
                                break;
                        }
                        if (depth >= REMOVE_DEPTH_MAX) {
                                r = vol_error_set(err, -ELOOP, "volume %s is nested deeper than %d levels",
                                                  name, REMOVE_DEPTH_MAX);
                                break;
                        }
                        int child = vol_fs_open_subdir(cur, ent);
                        if (child == -EXDEV) {
                                /* a mount of the same filesystem (a bind mount): st_dev
                                 * alone cannot tell it, openat2 can */
                                r = vol_error_set(err, -EBUSY,
                                                  "a filesystem is mounted inside volume %s; unmount it first",
                                                  name);
                                break;
                        }
                        if (child == -ENOTDIR || child == -ELOOP || child == -ENOENT)
                                continue; /* changed under us: look again */
                        if (child < 0) {
                                r = vol_error_set(err, child, "opening a directory in volume %s: %s", name,
                                                  strerror(-child));
                                break;
                        }
                        struct stat here;
                        fstat(cur, &here);
                        if (depth == cap) {
                                cap = cap ? cap * 2 : 64;
                                stack = xrealloc(stack, cap * sizeof(*stack));
                        }
                        stack[depth++] = (struct frame){xstrdup(ent), here.st_dev, here.st_ino};
                        close(cur);
                        cur = child;
                        continue;
                }
                /* cur is empty */
                if (depth == 0)
                        break;
                struct frame fr = stack[--depth];
                int parent = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat pst;
                if (parent < 0 || fstat(parent, &pst) < 0 || pst.st_dev != fr.parent_dev ||
                    pst.st_ino != fr.parent_ino) {
                        if (parent >= 0)
                                close(parent);
                        free(fr.name);
                        r = vol_error_set(err, -EXDEV, "a directory in volume %s moved during removal",
                                          name);
                        break;
                }
                close(cur);
                cur = parent;
                if (unlinkat(cur, fr.name, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTEMPTY) {
                        r = vol_error_set(err, -errno, "removing a directory in volume %s: %m", name);
                        free(fr.name);
                        break;
                }
                free(fr.name);
        }
        for (size_t i = 0; i < depth; i++)
                free(stack[i].name);
        free(stack);
        close(cur);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return vol_error_set(err, -errno, "removing volume directory %s: %m", name);
        return 0;
}

static void usage_walk(int fd, dev_t dev, int level, uint64_t *bytes, uint64_t *inodes,
                       bool *partial)
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
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (st.st_dev != dev)
                        continue;
                *inodes += 1;
                *bytes += (uint64_t)st.st_blocks * 512u;
                if (S_ISDIR(st.st_mode)) {
                        if (level + 1 >= VOL_FS_USAGE_DEPTH) {
                                *partial = true;
                                continue;
                        }
                        int child = vol_fs_open_subdir(dirfd(d), de->d_name);
                        if (child >= 0)
                                usage_walk(child, dev, level + 1, bytes, inodes, partial);
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
        uint64_t bytes = (uint64_t)st.st_blocks * 512u, inodes = 1;
        bool partial = false;
        usage_walk(dfd, st.st_dev, 0, &bytes, &inodes, &partial);
        *ret_bytes = bytes;
        *ret_inodes = inodes;
        *ret_partial = partial;
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
