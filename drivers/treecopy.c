/* Copying a volume's tree (the local driver's snapshots, clones and
 * restores) without trusting anything in it: every directory is opened
 * below its parent with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_XDEV), files with O_NOFOLLOW, symlinks are copied as links and
 * never followed, and another filesystem mounted inside is not entered.
 * Owners, modes, times, extended attributes and hard links are kept; sparse
 * files stay sparse (reflinks where the filesystem has them). Device nodes
 * and sockets are not copied (counted in *skipped): a volume is data. */
#include "treecopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/progress.h"
#include "core/xmalloc.h"
#include "fsutil.h"
#include "run.h"

#define DEPTH_MAX 256
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

struct link {
        dev_t dev;
        ino_t ino;
        char *path; /* of the first copy, relative to the destination's top */
};

struct state {
        int dst_top;
        char path[PATH_MAX]; /* the destination's current directory, relative */
        size_t path_len;
        struct link *links;
        size_t n_links, cap_links;
        struct vol_copy_stats *stats;
};

static void copy_xattrs(int in, int out)
{
        char *names = malloc(XATTR_LIST_MAX_BYTES), *value = malloc(XATTR_VALUE_MAX_BYTES);
        ssize_t n = names && value ? flistxattr(in, names, XATTR_LIST_MAX_BYTES) : -1;
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
                ssize_t v = fgetxattr(in, names + off, value, XATTR_VALUE_MAX_BYTES);
                if (v >= 0)
                        (void)fsetxattr(out, names + off, value, (size_t)v, 0); /* best effort: a filesystem may lack them */
        }
        free(names);
        free(value);
}

/* Owner, mode, xattrs and times of st onto the open out (a file or directory). */
static int copy_attrs(int in, int out, const struct stat *st, struct vol_error *err)
{
        if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0)
                return vol_error_set(err, -errno, "copying the owner and mode: %m");
        if (in >= 0)
                copy_xattrs(in, out);
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        if (futimens(out, ts) < 0)
                return vol_error_set(err, -errno, "copying the times: %m");
        return 0;
}

static int push(struct state *s, const char *name)
{
        size_t n = strlen(name);
        if (s->path_len + n + 2 >= sizeof(s->path))
                return -ENAMETOOLONG;
        if (s->path_len)
                s->path[s->path_len++] = '/';
        memcpy(s->path + s->path_len, name, n + 1);
        s->path_len += n;
        return 0;
}

static void pop(struct state *s, size_t len)
{
        s->path_len = len;
        s->path[len] = 0;
}

static int copy_file(struct state *s, int sfd, int dfd, const char *name, const struct stat *st,
                     struct vol_error *err)
{
        if (st->st_nlink > 1) {
                for (size_t i = 0; i < s->n_links; i++)
                        if (s->links[i].dev == st->st_dev && s->links[i].ino == st->st_ino) {
                                if (linkat(s->dst_top, s->links[i].path, dfd, name, 0) < 0)
                                        return vol_error_set(err, -errno, "linking %s: %m", name);
                                return 0;
                        }
        }
        _cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (in < 0)
                return vol_error_set(err, -errno, "opening %s: %m", name);
        _cleanup_close_ int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return vol_error_set(err, -errno, "creating %s: %m", name);
        bool reflinked;
        int r = vol_copy_file_nosync(in, out, &reflinked, err);
        if (r < 0)
                return r;
        s->stats->bytes += (uint64_t)st->st_size;
        s->stats->files++;
        vol_progress_add(0, 1);
        if (st->st_nlink > 1) {
                size_t len = s->path_len;
                if (push(s, name) == 0) {
                        if (s->n_links == s->cap_links) {
                                s->cap_links = s->cap_links ? s->cap_links * 2 : 16;
                                s->links = xrealloc(s->links, s->cap_links * sizeof(*s->links));
                        }
                        s->links[s->n_links++] = (struct link){st->st_dev, st->st_ino, xstrdup(s->path)};
                }
                pop(s, len);
        }
        return copy_attrs(in, out, st, err);
}

static int copy_dir(struct state *s, int sfd, int dfd, int depth, struct vol_error *err);

static int copy_entry(struct state *s, int sfd, int dfd, const char *name, int depth, struct vol_error *err)
{
        struct stat st;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vol_error_set(err, -errno, "stat of %s: %m", name);
        if (S_ISREG(st.st_mode))
                return copy_file(s, sfd, dfd, name, &st, err);
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return vol_error_set(err, -errno, "reading link %s: %m", name);
                target[n] = 0;
                if (symlinkat(target, dfd, name) < 0)
                        return vol_error_set(err, -errno, "making link %s: %m", name);
                (void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
                struct timespec ts[2] = {st.st_atim, st.st_mtim};
                (void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
                s->stats->files++;
                return 0;
        }
        if (S_ISFIFO(st.st_mode)) {
                if (mkfifoat(dfd, name, 0600) < 0)
                        return vol_error_set(err, -errno, "making fifo %s: %m", name);
                (void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
                (void)fchmodat(dfd, name, st.st_mode & 07777, 0);
                s->stats->files++;
                return 0;
        }
        if (!S_ISDIR(st.st_mode)) {
                s->stats->skipped++; /* a device node or a socket: not data */
                return 0;
        }
        _cleanup_close_ int in = vol_fs_open_subdir(sfd, name);
        if (in == -EXDEV) {
                s->stats->skipped++; /* another filesystem mounted here */
                return 0;
        }
        if (in < 0)
                return vol_error_set(err, in, "opening directory %s: %s", name, strerror(-in));
        if (mkdirat(dfd, name, 0700) < 0)
                return vol_error_set(err, -errno, "making directory %s: %m", name);
        _cleanup_close_ int out = vol_fs_open_dir(dfd, name);
        if (out < 0)
                return vol_error_set(err, out, "opening the copy of %s: %s", name, strerror(-out));
        size_t len = s->path_len;
        int r = push(s, name);
        if (r < 0)
                return vol_error_set(err, r, "a path in the volume is too long");
        r = copy_dir(s, in, out, depth + 1, err);
        pop(s, len);
        s->stats->dirs++;
        return r < 0 ? r : copy_attrs(in, out, &st, err); /* times last: the copies inside changed them */
}

static int copy_dir(struct state *s, int sfd, int dfd, int depth, struct vol_error *err)
{
        if (depth > DEPTH_MAX)
                return vol_error_set(err, -ELOOP, "the volume's tree is deeper than %d levels", DEPTH_MAX);
        int fd = dup(sfd);
        if (fd < 0)
                return vol_error_set(err, -errno, "dup: %m");
        _cleanup_closedir_ DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return vol_error_set(err, -errno, "reading a directory: %m");
        }
        rewinddir(dir);
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int r = copy_entry(s, sfd, dfd, de->d_name, depth, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vol_copy_tree(int src_fd, int dst_fd, struct vol_copy_stats *stats, struct vol_error *err)
{
        struct vol_copy_stats local = {0};
        struct state s = {.dst_top = dst_fd, .stats = stats ? stats : &local};
        memset(s.stats, 0, sizeof(*s.stats));
        int r = copy_dir(&s, src_fd, dst_fd, 0, err);
        struct stat st;
        if (r == 0 && fstat(src_fd, &st) == 0)
                r = copy_attrs(src_fd, dst_fd, &st, err);
        if (r == 0 && syncfs(dst_fd) < 0)
                r = vol_error_set(err, -errno, "syncing the copy: %m");
        for (size_t i = 0; i < s.n_links; i++)
                free(s.links[i].path);
        free(s.links);
        return r;
}
