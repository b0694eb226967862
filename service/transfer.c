/* Export and import: a volume's content as a tar stream (pax, with owners,
 * modes, times, extended attributes, symlinks as links and hard links), and
 * a new volume made from one, through libarchive.
 *
 * Export walks the volume as clones do (drivers/treecopy.c's rules): every
 * directory opened below its parent without following a symlink or entering
 * another filesystem. Import trusts nothing in the archive: a path with ".."
 * or an absolute one, a path through a symlink (every parent is opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)), a device node or socket, an
 * entry given twice, more data than the volume holds: each refuses the whole
 * import, naming the entry, and the half-made volume is removed (it is made
 * through the create state machine: `creating` until the archive is whole). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"
#include "con_internal.h"
#include "drivers/fsutil.h"
#include "internal.h"
#include "lazy_archive.h"

/* libarchive is loaded on first use (lazy_archive.h): every entry point
 * below loads it first, and each call goes through its table. A call
 * missing here fails to link (volmand does not link libarchive). */
#define LA(f) (vol_libarchive()->f)
#define archive_entry_atime LA(archive_entry_atime)
#define archive_entry_atime_is_set LA(archive_entry_atime_is_set)
#define archive_entry_atime_nsec LA(archive_entry_atime_nsec)
#define archive_entry_filetype LA(archive_entry_filetype)
#define archive_entry_free LA(archive_entry_free)
#define archive_entry_gid LA(archive_entry_gid)
#define archive_entry_hardlink LA(archive_entry_hardlink)
#define archive_entry_mode LA(archive_entry_mode)
#define archive_entry_mtime LA(archive_entry_mtime)
#define archive_entry_mtime_nsec LA(archive_entry_mtime_nsec)
#define archive_entry_new LA(archive_entry_new)
#define archive_entry_pathname LA(archive_entry_pathname)
#define archive_entry_perm LA(archive_entry_perm)
#define archive_entry_set_atime LA(archive_entry_set_atime)
#define archive_entry_set_gid LA(archive_entry_set_gid)
#define archive_entry_set_hardlink LA(archive_entry_set_hardlink)
#define archive_entry_set_mode LA(archive_entry_set_mode)
#define archive_entry_set_mtime LA(archive_entry_set_mtime)
#define archive_entry_set_pathname LA(archive_entry_set_pathname)
#define archive_entry_set_size LA(archive_entry_set_size)
#define archive_entry_set_symlink LA(archive_entry_set_symlink)
#define archive_entry_set_uid LA(archive_entry_set_uid)
#define archive_entry_size LA(archive_entry_size)
#define archive_entry_sparse_add_entry LA(archive_entry_sparse_add_entry)
#define archive_entry_symlink LA(archive_entry_symlink)
#define archive_entry_uid LA(archive_entry_uid)
#define archive_entry_xattr_add_entry LA(archive_entry_xattr_add_entry)
#define archive_entry_xattr_next LA(archive_entry_xattr_next)
#define archive_entry_xattr_reset LA(archive_entry_xattr_reset)
#define archive_error_string LA(archive_error_string)
#define archive_read_data LA(archive_read_data)
#define archive_read_data_block LA(archive_read_data_block)
#define archive_read_free LA(archive_read_free)
#define archive_read_new LA(archive_read_new)
#define archive_read_next_header LA(archive_read_next_header)
#define archive_read_open LA(archive_read_open)
#define archive_read_open_fd LA(archive_read_open_fd)
#define archive_read_support_filter_all LA(archive_read_support_filter_all)
#define archive_read_support_format_tar LA(archive_read_support_format_tar)
#define archive_set_error LA(archive_set_error)
#define archive_write_add_filter_zstd LA(archive_write_add_filter_zstd)
#define archive_write_close LA(archive_write_close)
#define archive_write_data LA(archive_write_data)
#define archive_write_free LA(archive_write_free)
#define archive_write_header LA(archive_write_header)
#define archive_write_new LA(archive_write_new)
#define archive_write_open2 LA(archive_write_open2)
#define archive_write_set_bytes_in_last_block LA(archive_write_set_bytes_in_last_block)
#define archive_write_set_bytes_per_block LA(archive_write_set_bytes_per_block)
#define archive_write_set_format_pax LA(archive_write_set_format_pax)

#define BLOCK (64u << 10)
#define DEPTH_MAX 256
#define XATTR_BUF 65536

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* ---- export ---- */

struct exporter {
        struct archive *a;
        struct vol_transfer_progress *progress;
        char path[PATH_MAX];
        size_t path_len;
        struct {
                dev_t dev;
                ino_t ino;
                char *path;
        } *links;
        size_t n_links, cap_links;
        char *buf;
        struct vol_error *err;
};

static int aerr(struct exporter *x, const char *what)
{
        return vol_error_set(x->err, -EIO, "%s: %s", what, archive_error_string(x->a));
}

static void add_xattrs(struct archive_entry *e, int fd)
{
        char *names = malloc(XATTR_BUF), *value = malloc(XATTR_BUF);
        ssize_t n = names && value ? flistxattr(fd, names, XATTR_BUF) : -1;
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
                ssize_t v = fgetxattr(fd, names + off, value, XATTR_BUF);
                if (v >= 0)
                        archive_entry_xattr_add_entry(e, names + off, value, (size_t)v);
        }
        free(names);
        free(value);
}

static void set_common(struct archive_entry *e, const char *path, const struct stat *st)
{
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, st->st_mode);
        archive_entry_set_uid(e, st->st_uid);
        archive_entry_set_gid(e, st->st_gid);
        archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        archive_entry_set_atime(e, st->st_atim.tv_sec, st->st_atim.tv_nsec);
}

static int export_dir(struct exporter *x, int dfd, int depth);

struct range {
        off_t off, len;
};

/* The data ranges of the file open at fd (SEEK_DATA/SEEK_HOLE), or NULL. */
static struct range *data_ranges(int fd, off_t size, size_t *ret_n)
{
        struct range *r = NULL;
        size_t n = 0, cap = 0;
        off_t pos = 0;
        while (pos < size) {
                off_t data = lseek(fd, pos, SEEK_DATA);
                if (data < 0)
                        break; /* ENXIO: a hole to the end */
                off_t hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0) {
                        free(r);
                        return NULL;
                }
                if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        r = xrealloc(r, cap * sizeof(*r));
                }
                r[n++] = (struct range){data, hole - data};
                pos = hole;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                free(r);
                return NULL;
        }
        if (!n) { /* all hole: one empty range keeps the map valid */
                r = xrealloc(r, sizeof(*r));
                r[n++] = (struct range){size, 0};
        }
        *ret_n = n;
        return r;
}

/* Writes n zero bytes (a hole) into the current entry. */
static int write_zeros(struct exporter *x, off_t n)
{
        static const char zeros[BLOCK];
        while (n > 0) {
                size_t k = n < BLOCK ? (size_t)n : BLOCK;
                if (archive_write_data(x->a, zeros, k) != (la_ssize_t)k)
                        return aerr(x, "writing file data");
                n -= (off_t)k;
        }
        return 0;
}

/* Writes len bytes of fd from off into the current entry. */
static int copy_range(struct exporter *x, int fd, off_t off, off_t len)
{
        while (len > 0) {
                ssize_t got = pread(fd, x->buf, len < BLOCK ? (size_t)len : BLOCK, off);
                if (got <= 0)
                        return vol_error_set(x->err, got < 0 ? -errno : -EIO, "reading %s: %s", x->path,
                                             got < 0 ? strerror(errno) : "it shrank while it was read");
                if (archive_write_data(x->a, x->buf, (size_t)got) != got)
                        return aerr(x, "writing file data");
                off += got;
                len -= got;
                if (x->progress)
                        x->progress->bytes += (uint64_t)got;
        }
        return 0;
}

static int export_entry(struct exporter *x, int dfd, const char *name, int depth)
{
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vol_error_set(x->err, -errno, "stat of %s: %m", name);
        size_t len = x->path_len, n = strlen(name);
        if (len + n + 2 >= sizeof(x->path))
                return vol_error_set(x->err, -ENAMETOOLONG, "a path in the volume is too long");
        if (len)
                x->path[x->path_len++] = '/';
        memcpy(x->path + x->path_len, name, n + 1);
        x->path_len += n;
        int r = 0;
        struct archive_entry *e = archive_entry_new();
        set_common(e, x->path, &st);
        _cleanup_close_ int fd = -1;
        if (S_ISDIR(st.st_mode)) {
                fd = vol_fs_open_subdir(dfd, name);
                if (fd == -EXDEV) { /* another filesystem mounted here: not the volume's */
                        archive_entry_free(e);
                        x->path_len = len;
                        x->path[len] = 0;
                        return 0;
                }
                if (fd < 0) {
                        r = vol_error_set(x->err, fd, "opening %s: %s", x->path, strerror(-fd));
                        goto out;
                }
                add_xattrs(e, fd);
                if (archive_write_header(x->a, e) != ARCHIVE_OK) {
                        r = aerr(x, "writing a directory entry");
                        goto out;
                }
                r = export_dir(x, fd, depth + 1);
                goto out;
        }
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t t = readlinkat(dfd, name, target, sizeof(target) - 1);
                if (t < 0) {
                        r = vol_error_set(x->err, -errno, "reading link %s: %m", x->path);
                        goto out;
                }
                target[t] = 0;
                archive_entry_set_symlink(e, target);
        } else if (S_ISREG(st.st_mode)) {
                if (st.st_nlink > 1)
                        for (size_t i = 0; i < x->n_links; i++)
                                if (x->links[i].dev == st.st_dev && x->links[i].ino == st.st_ino) {
                                        archive_entry_set_hardlink(e, x->links[i].path);
                                        archive_entry_set_size(e, 0);
                                        if (archive_write_header(x->a, e) != ARCHIVE_OK)
                                                r = aerr(x, "writing a hard link");
                                        goto out;
                                }
                fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                if (fd < 0) {
                        r = vol_error_set(x->err, -errno, "opening %s: %m", x->path);
                        goto out;
                }
                add_xattrs(e, fd);
                archive_entry_set_size(e, st.st_size);
                /* a sparse file goes with its map: only its data is written */
                size_t n_ranges = 0;
                struct range *ranges = data_ranges(fd, st.st_size, &n_ranges);
                bool sparse = ranges && (n_ranges != 1 || ranges[0].off || ranges[0].len != st.st_size) &&
                              st.st_blocks * 512 < st.st_size;
                if (sparse)
                        for (size_t i = 0; i < n_ranges; i++)
                                archive_entry_sparse_add_entry(e, ranges[i].off, ranges[i].len);
                if (archive_write_header(x->a, e) != ARCHIVE_OK) {
                        free(ranges);
                        r = aerr(x, "writing a file entry");
                        goto out;
                }
                /* libarchive's pax writer takes the whole content and drops
                 * the holes the map names: holes are given as zeros, unread */
                struct range whole = {0, st.st_size};
                const struct range *rs = sparse ? ranges : &whole;
                size_t nr = sparse ? n_ranges : 1;
                off_t at = 0;
                for (size_t i = 0; i < nr && r == 0; i++) {
                        if ((r = write_zeros(x, rs[i].off - at)) == 0)
                                r = copy_range(x, fd, rs[i].off, rs[i].len);
                        at = rs[i].off + rs[i].len;
                }
                if (r == 0)
                        r = write_zeros(x, st.st_size - at);
                free(ranges);
                if (r < 0)
                        goto out;
                if (st.st_nlink > 1) {
                        if (x->n_links == x->cap_links) {
                                x->cap_links = x->cap_links ? x->cap_links * 2 : 16;
                                x->links = xrealloc(x->links, x->cap_links * sizeof(*x->links));
                        }
                        x->links[x->n_links].dev = st.st_dev;
                        x->links[x->n_links].ino = st.st_ino;
                        x->links[x->n_links++].path = xstrdup(x->path);
                }
                goto out;
        } else if (!S_ISFIFO(st.st_mode)) {
                goto out; /* device nodes, sockets: not data */
        }
        if (archive_write_header(x->a, e) != ARCHIVE_OK)
                r = aerr(x, "writing an entry");
out:
        if (x->progress)
                x->progress->entries++;
        archive_entry_free(e);
        x->path_len = len;
        x->path[len] = 0;
        return r;
}

static int export_dir(struct exporter *x, int dfd, int depth)
{
        if (depth > DEPTH_MAX)
                return vol_error_set(x->err, -ELOOP, "the volume's tree is deeper than %d levels", DEPTH_MAX);
        int fd = dup(dfd);
        if (fd < 0)
                return vol_error_set(x->err, -errno, "dup: %m");
        _cleanup_closedir_ DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return vol_error_set(x->err, -errno, "reading a directory: %m");
        }
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                    (depth == 0 && !strcmp(de->d_name, "lost+found")))
                        continue;
                int r = export_entry(x, dfd, de->d_name, depth);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct sink {
        vol_transfer_write_fn write;
        void *userdata;
};

static la_ssize_t sink_write(struct archive *a, void *ud, const void *buf, size_t n)
{
        struct sink *s = ud;
        if (vol_failpoint("export-streaming") < 0 || s->write(s->userdata, buf, n) < 0) {
                archive_set_error(a, EPIPE, "the client stopped reading");
                return -1;
        }
        return (la_ssize_t)n;
}

static int export_volume(struct vol_service *s, const struct vol_caller *caller, const char *name, bool zstd,
                         vol_transfer_write_fn write, void *userdata, struct vol_transfer_progress *progress,
                         struct vol_error *err);

int vol_service_export(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *name,
                       bool zstd, vol_transfer_write_fn write, void *userdata, struct vol_transfer_progress *progress,
                       struct vol_error *err)
{
        struct op *o = vol_operation_begin(caller, op_id, "export", name, progress, 0);
        uint64_t start = vol_now_us();
        int r = export_volume(s, caller, name, zstd, write, userdata, progress, err);
        vol_metrics_record(&s->metrics, VOL_OP_EXPORT, start, r);
        vol_operation_end(o, NULL, r, err);
        return r;
}

static int export_volume(struct vol_service *s, const struct vol_caller *caller, const char *name, bool zstd,
                         vol_transfer_write_fn write, void *userdata, struct vol_transfer_progress *progress,
                         struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_service_get(s, caller, name, false, &v, NULL, err);
        if (r < 0 || (r = vol_libarchive_load("volume export", err)) < 0)
                return r;
        if (v->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being created or removed", name);
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d)
                return vol_error_set(err, -ENOTSUP, "driver %s is not available", v->driver);
        int m = d->ops->mount(d, v, err); /* a loop or tmpfs volume may need its mount back */
        if (m < 0)
                return m;
        _cleanup_close_ int top = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return vol_error_set(err, -errno, "opening volume %s: %m", name);
        struct sink sk = {write, userdata};
        struct exporter x = {.a = archive_write_new(), .progress = progress, .err = err, .buf = xmalloc(BLOCK)};
        archive_write_set_format_pax(x.a); /* full pax: times to the nanosecond */
        if (zstd)
                archive_write_add_filter_zstd(x.a);
        archive_write_set_bytes_per_block(x.a, 64 << 10); /* the stream's chunk: written through, not copied */
        archive_write_set_bytes_in_last_block(x.a, 1);
        if (archive_write_open2(x.a, &sk, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
                r = vol_error_set(err, -EIO, "starting the archive: %s", archive_error_string(x.a));
        else
                r = export_dir(&x, top, 0);
        if (r == 0 && archive_write_close(x.a) != ARCHIVE_OK)
                r = vol_error_set(err, -EIO, "ending the archive: %s", archive_error_string(x.a));
        archive_write_free(x.a);
        for (size_t i = 0; i < x.n_links; i++)
                free(x.links[i].path);
        free(x.links);
        free(x.buf);
        _cleanup_free_ char *what = xasprintf("export %s", name);
        if (r < 0)
                vol_service_audit(caller, what, r, err);
        return r;
}

/* ---- import ---- */

struct importer {
        struct archive *a;
        int top;
        const char *volume;
        bool strip_first; /* an Engine API archive of /a/b holds b/...: b is the top */
        struct vol_transfer_progress *progress;
        struct vol_error *err;
        /* directories, to take their modes and times once all is in them */
        struct dirmeta {
                char *path;
                struct stat st;
        } *dirs;
        size_t n_dirs, cap_dirs;
};

static int open_beneath(int top, const char *path, unsigned flags)
{
        struct open_how how = {
                .flags = flags | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd = syscall(SYS_openat2, top, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/* The entry's path, checked: relative, no "..", no empty or "." parts but a
 * leading "./"; in out without a trailing "/". */
static int clean_path(struct importer *im, const char *p, char out[PATH_MAX])
{
        if (!p || !*p)
                return vol_error_set(im->err, -EINVAL, "the archive has an entry without a name");
        if (p[0] == '/')
                return vol_error_set(im->err, -EINVAL, "entry %s has an absolute path; an import takes relative ones",
                                     p);
        while (p[0] == '.' && p[1] == '/')
                p += 2;
        size_t n = strlen(p);
        if (n >= PATH_MAX)
                return vol_error_set(im->err, -ENAMETOOLONG, "an entry's path is too long");
        memcpy(out, p, n + 1);
        while (n > 1 && out[n - 1] == '/')
                out[--n] = 0;
        if (im->strip_first) {
                char *slash = strchr(out, '/');
                if (!slash)
                        return 1; /* the top itself */
                memmove(out, slash + 1, strlen(slash + 1) + 1);
        }
        if (!strcmp(out, ".") || !*out)
                return 1; /* the top itself */
        for (char *seg = out, *end; seg; seg = end ? end + 1 : NULL) {
                end = strchr(seg, '/');
                size_t len = end ? (size_t)(end - seg) : strlen(seg);
                if ((len == 2 && !memcmp(seg, "..", 2)) || len == 0 || (len == 1 && seg[0] == '.'))
                        return vol_error_set(im->err, -EINVAL,
                                             "entry %s has an empty, \".\" or \"..\" part; refused", p);
        }
        return 0;
}

/* The directory holding path (made as needed, never through a symlink), and
 * path's last part in *leaf. */
static int open_parent(struct importer *im, char *path, const char **leaf)
{
        char *slash = strrchr(path, '/');
        if (!slash) {
                *leaf = path;
                return dup(im->top);
        }
        *slash = 0;
        *leaf = slash + 1;
        int fd = open_beneath(im->top, path, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT) { /* an archive may leave its directories out: make them */
                int cur = dup(im->top);
                for (char *seg = path, *end; cur >= 0 && seg; seg = end ? end + 1 : NULL) {
                        end = strchr(seg, '/');
                        if (end)
                                *end = 0;
                        if (mkdirat(cur, seg, 0755) < 0 && errno != EEXIST) {
                                close(cur);
                                cur = -errno;
                                break;
                        }
                        int next = open_beneath(cur, seg, O_RDONLY | O_DIRECTORY);
                        close(cur);
                        cur = next;
                        if (end)
                                *end = '/';
                }
                fd = cur;
        }
        *slash = '/';
        if (fd < 0)
                return vol_error_set(im->err, fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR ? -EINVAL : fd,
                                     fd == -ELOOP || fd == -EXDEV || fd == -ENOTDIR
                                             ? "entry %s lies through a symlink or a file: refused"
                                             : "entry %s: its folder cannot be opened (%s)",
                                     path, strerror(-fd));
        return fd;
}

static int space_error(struct importer *im, int e, const char *path)
{
        if (e == ENOSPC || e == EDQUOT)
                return vol_error_set(im->err, -ENOSPC, "the archive holds more than volume %s can take (at %s)",
                                     im->volume, path);
        return vol_error_set(im->err, -e, "writing %s: %s", path, strerror(e));
}

static void set_xattrs(struct archive_entry *e, int fd)
{
        const char *name;
        const void *value;
        size_t size;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                (void)fsetxattr(fd, name, value, size, 0); /* best effort: a filesystem may lack them */
}

static int file_entry(struct importer *im, struct archive_entry *e, int parent, const char *leaf, const char *path)
{
        _cleanup_close_ int fd = openat(parent, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return errno == EEXIST ? vol_error_set(im->err, -EINVAL, "entry %s comes twice in the archive; refused",
                                                       path)
                                       : vol_error_set(im->err, -errno, "creating %s: %m", path);
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r;
        while ((r = archive_read_data_block(im->a, &buf, &size, &offset)) == ARCHIVE_OK) {
                const char *p = buf;
                while (size) {
                        ssize_t w = pwrite(fd, p, size, (off_t)offset);
                        if (w < 0)
                                return space_error(im, errno, path);
                        p += w;
                        size -= (size_t)w;
                        offset += w;
                        if (im->progress)
                                im->progress->bytes += (uint64_t)w;
                }
        }
        if (r != ARCHIVE_EOF)
                return vol_error_set(im->err, -EINVAL, "reading the data of %s: %s", path, archive_error_string(im->a));
        if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0) /* a sparse tail */
                return space_error(im, errno, path);
        set_xattrs(e, fd);
        if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0 ||
            fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return vol_error_set(im->err, -errno, "setting the owner of %s: %m", path);
        struct timespec ts[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                                 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
        if (!archive_entry_atime_is_set(e))
                ts[0] = ts[1];
        futimens(fd, ts);
        return 0;
}

/* The entry's times on leaf below parent, not following a symlink. */
static void entry_times(struct archive_entry *e, int parent, const char *leaf)
{
        struct timespec ts[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
                                 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
        if (!archive_entry_atime_is_set(e))
                ts[0] = ts[1];
        (void)utimensat(parent, leaf, ts, AT_SYMLINK_NOFOLLOW);
}

/* A directory whose owner, mode and times are set once everything is in it. */
static void remember_dir(struct importer *im, const char *path, struct archive_entry *e)
{
        struct stat st = {.st_mode = archive_entry_mode(e), .st_uid = archive_entry_uid(e),
                          .st_gid = archive_entry_gid(e)};
        st.st_mtim.tv_sec = archive_entry_mtime(e);
        st.st_mtim.tv_nsec = archive_entry_mtime_nsec(e);
        if (im->n_dirs == im->cap_dirs) {
                im->cap_dirs = im->cap_dirs ? im->cap_dirs * 2 : 64;
                im->dirs = xrealloc(im->dirs, im->cap_dirs * sizeof(*im->dirs));
        }
        im->dirs[im->n_dirs++] = (struct dirmeta){xstrdup(path), st};
}

static int import_entry(struct importer *im, struct archive_entry *e)
{
        char path[PATH_MAX];
        int c = clean_path(im, archive_entry_pathname(e), path);
        if (c < 0)
                return c;
        mode_t type = archive_entry_filetype(e);
        if (c == 1) { /* "./": the volume's own top */
                if (type != AE_IFDIR)
                        return vol_error_set(im->err, -EINVAL, "the archive's top entry is not a directory");
                remember_dir(im, ".", e);
                return 0;
        }
        const char *hard = archive_entry_hardlink(e); /* a hard link's entry may say no type */
        if (!hard && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO)
                return vol_error_set(im->err, -EINVAL,
                                     "entry %s is a device node or a socket: an import takes data only; refused", path);
        char work[PATH_MAX];
        memcpy(work, path, sizeof(work));
        const char *leaf;
        _cleanup_close_ int parent = open_parent(im, work, &leaf);
        if (parent < 0)
                return parent;
        if (hard) {
                char target[PATH_MAX];
                if ((c = clean_path(im, hard, target)) != 0)
                        return c < 0 ? c : vol_error_set(im->err, -EINVAL, "entry %s links to the top", path);
                char twork[PATH_MAX];
                memcpy(twork, target, sizeof(twork));
                const char *tleaf;
                _cleanup_close_ int tparent = open_parent(im, twork, &tleaf);
                if (tparent < 0)
                        return tparent;
                struct stat st;
                if (fstatat(tparent, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        return vol_error_set(im->err, -EINVAL, "entry %s links to %s, which is not a file before it",
                                             path, target);
                if (linkat(tparent, tleaf, parent, leaf, 0) < 0)
                        return vol_error_set(im->err, errno == EEXIST ? -EINVAL : -errno, "linking %s: %m", path);
                return 0;
        }
        switch (type) {
        case AE_IFREG:
                return file_entry(im, e, parent, leaf, path);
        case AE_IFDIR: {
                if (mkdirat(parent, leaf, 0700) < 0 && errno != EEXIST)
                        return space_error(im, errno, path);
                _cleanup_close_ int fd = open_beneath(parent, leaf, O_RDONLY | O_DIRECTORY);
                if (fd < 0)
                        return vol_error_set(im->err, fd, "entry %s is not a directory it can be: %s", path,
                                             strerror(-fd));
                set_xattrs(e, fd);
                remember_dir(im, path, e);
                return 0;
        }
        case AE_IFLNK:
                if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", parent, leaf) < 0)
                        return errno == EEXIST ? vol_error_set(im->err, -EINVAL, "entry %s comes twice; refused", path)
                                               : space_error(im, errno, path);
                (void)fchownat(parent, leaf, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
                entry_times(e, parent, leaf);
                return 0;
        default: /* AE_IFIFO */
                if (mkfifoat(parent, leaf, 0600) < 0)
                        return errno == EEXIST ? vol_error_set(im->err, -EINVAL, "entry %s comes twice; refused", path)
                                               : space_error(im, errno, path);
                (void)fchownat(parent, leaf, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
                (void)fchmodat(parent, leaf, archive_entry_perm(e) & 07777, 0);
                entry_times(e, parent, leaf);
                return 0;
        }
}

/* Modes, owners and times of the directories, deepest first. */
static int finish_dirs(struct importer *im)
{
        for (size_t i = im->n_dirs; i-- > 0;) {
                struct dirmeta *m = &im->dirs[i];
                _cleanup_close_ int fd = strcmp(m->path, ".") ? open_beneath(im->top, m->path, O_RDONLY | O_DIRECTORY)
                                                               : dup(im->top);
                if (fd < 0)
                        return vol_error_set(im->err, fd, "reopening %s: %s", m->path, strerror(-fd));
                if (fchown(fd, m->st.st_uid, m->st.st_gid) < 0 || fchmod(fd, m->st.st_mode & 07777) < 0)
                        return vol_error_set(im->err, -errno, "setting the owner of %s: %m", m->path);
                struct timespec ts[2] = {m->st.st_mtim, m->st.st_mtim};
                futimens(fd, ts);
        }
        return 0;
}

struct source {
        vol_transfer_read_fn read;
        void *userdata;
        char *buf;
        int error; /* the reader's, when it failed */
};

static la_ssize_t source_read(struct archive *a, void *ud, const void **buf)
{
        struct source *src = ud;
        ssize_t n = src->read(src->userdata, src->buf, BLOCK);
        if (n < 0) {
                src->error = (int)-n;
                archive_set_error(a, (int)-n, "the upload failed: %s", strerror((int)-n));
                return -1;
        }
        *buf = src->buf;
        return n;
}

struct fill_ctx {
        struct source *src;
        struct vol_transfer_progress *progress;
};

/* Extracts the archive fc reads into the directory top, named name in
 * messages, and syncs its file system. entry_failpoint (or NULL) is reached
 * after each entry. */
static int extract(int top, const char *name, bool strip_first, struct fill_ctx *fc, const char *entry_failpoint,
                   struct vol_error *err)
{
        struct importer im = {.a = archive_read_new(), .top = top, .volume = name, .strip_first = strip_first,
                              .progress = fc->progress, .err = err};
        archive_read_support_filter_all(im.a);
        archive_read_support_format_tar(im.a);
        int r = 0;
        if (archive_read_open(im.a, fc->src, NULL, source_read, NULL) != ARCHIVE_OK)
                r = vol_error_set(err, -EINVAL, "the upload is not a tar archive: %s", archive_error_string(im.a));
        struct archive_entry *e;
        while (r == 0) {
                int h = archive_read_next_header(im.a, &e);
                if (h == ARCHIVE_EOF)
                        break;
                if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
                        r = fc->src->error ? vol_error_set(err, -fc->src->error, "the upload failed: %s",
                                                           strerror(fc->src->error))
                                           : vol_error_set(err, -EINVAL, "the archive is damaged: %s",
                                                           archive_error_string(im.a));
                        break;
                }
                r = import_entry(&im, e);
                if (fc->progress)
                        fc->progress->entries++;
                if (r == 0 && entry_failpoint && (r = vol_failpoint(entry_failpoint)) < 0)
                        vol_error_set(err, r, "importing into %s: failpoint %s", name, entry_failpoint);
        }
        if (r == 0)
                r = finish_dirs(&im);
        if (r == 0 && syncfs(top) < 0)
                r = vol_error_set(err, -errno, "syncing %s: %m", name);
        archive_read_free(im.a);
        for (size_t i = 0; i < im.n_dirs; i++)
                free(im.dirs[i].path);
        free(im.dirs);
        return r;
}

static int fill_with(const struct vol_volume *v, struct fill_ctx *fc, const char *entry_failpoint,
                     struct vol_error *err)
{
        _cleanup_close_ int top = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return vol_error_set(err, -errno, "opening the new volume %s: %m", v->name);
        return extract(top, v->name, false, fc, entry_failpoint, err);
}

static int fill_volume(struct vol_service *s, const struct vol_volume *v, void *userdata, struct vol_error *err)
{
        return fill_with(v, userdata, NULL, err);
}

/* An import's fill: the failpoint import-after-entry lets a test stop it
 * part-way (a move's fill has none of its own). */
static int fill_import(struct vol_service *s, const struct vol_volume *v, void *userdata, struct vol_error *err)
{
        return fill_with(v, userdata, "import-after-entry", err);
}

static ssize_t fd_read(void *userdata, void *buf, size_t n)
{
        ssize_t got;
        do
                got = read(*(int *)userdata, buf, n);
        while (got < 0 && errno == EINTR);
        return got < 0 ? -errno : got;
}

int vol_tar_first_file(int fd, size_t max, char **ret_text, struct vol_error *err)
{
        int r = vol_libarchive_load("reading a file of an image", err);
        if (r < 0)
                return r;
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        r = -ENOENT;
        struct archive_entry *e;
        if (archive_read_open_fd(a, fd, BLOCK) != ARCHIVE_OK) {
                archive_read_free(a);
                return vol_error_set(err, -EINVAL, "not a tar archive");
        }
        while (r == -ENOENT && archive_read_next_header(a, &e) == ARCHIVE_OK) {
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                if (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > max) {
                        r = vol_error_set(err, -EFBIG, "%s is larger than %zu bytes", archive_entry_pathname(e), max);
                        break;
                }
                size_t n = (size_t)archive_entry_size(e);
                char *text = xmalloc(n + 1);
                la_ssize_t got = archive_read_data(a, text, n);
                if (got < 0 || (size_t)got != n) {
                        free(text);
                        r = vol_error_set(err, -EIO, "reading %s from the archive", archive_entry_pathname(e));
                        break;
                }
                text[n] = 0;
                *ret_text = text;
                r = 0;
        }
        archive_read_free(a);
        return r;
}

int vol_tar_extract_fd(int top, int src_fd, const char *name, struct vol_error *err)
{
        int r = vol_libarchive_load("extracting an image's files", err);
        if (r < 0)
                return r;
        struct source src = {fd_read, &src_fd, xmalloc(BLOCK), 0};
        struct fill_ctx fc = {&src, NULL};
        r = extract(top, name, true, &fc, NULL, err);
        free(src.buf);
        return r;
}

int vol_transfer_fill(const struct vol_volume *v, vol_transfer_read_fn read, void *userdata,
                      struct vol_transfer_progress *progress, struct vol_error *err)
{
        int r = vol_libarchive_load("volume move", err);
        if (r < 0)
                return r;
        struct source src = {read, userdata, xmalloc(BLOCK), 0};
        struct fill_ctx fc = {&src, progress};
        r = fill_volume(NULL, v, &fc, err);
        free(src.buf);
        return r;
}

int vol_service_transfer_ready(const char *what, struct vol_error *err)
{
        return vol_libarchive_load(what, err);
}

int vol_service_import(struct vol_service *s, const struct vol_caller *caller, const char *op_id,
                       const struct vol_create_request *req, vol_transfer_read_fn read, void *userdata,
                       struct vol_transfer_progress *progress, struct vol_volume **ret, struct vol_error *err)
{
        struct op *o = vol_operation_begin(caller, op_id, "import", req->name, progress, 0);
        struct source src = {read, userdata, xmalloc(BLOCK), 0};
        struct fill_ctx fc = {&src, progress};
        struct vol_create_request cr = *req;
        cr.fill = fill_import;
        cr.fill_userdata = &fc;
        cr.clone_from = NULL;
        bool created;
        uint64_t start = vol_now_us();
        /* before the create: no volume is made (and removed) for nothing */
        int r = vol_libarchive_load("volume import", err);
        if (r == 0)
                r = vol_service_create(s, caller, &cr, ret, &created, err);
        vol_metrics_record(&s->metrics, VOL_OP_IMPORT, start, r);
        free(src.buf);
        vol_operation_end(o, r == 0 ? (*ret)->name : NULL, r, err);
        _cleanup_free_ char *what = xasprintf("import into %s", r == 0 ? (*ret)->name : req->name ? req->name : "a new volume");
        vol_service_audit(caller, what, r, err);
        return r;
}
