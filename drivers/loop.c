/* The loop driver: a sparse image file per volume, {root}/loop/{id}.img,
 * formatted ext4, attached to a loop device and mounted at {root}/loop/{id}
 * from create to remove. The `size` option is required and hard by
 * construction: the filesystem has no more room (ENOSPC in the container).
 *
 * Snapshots are copies of the image, {root}/loop/snapshots/{snap}.img, made
 * while the mounted filesystem is frozen (FIFREEZE), as reflinks where the
 * host's filesystem shares extents (btrfs, xfs), else as sparse copies.
 * Restores and clones write {id}.img.tmp and rename it into place: a crash
 * leaves the old image or the new one; recover() removes what is left of a
 * temporary and thaws what a crash left frozen; reattach() mounts each
 * recorded volume's image again (a reboot detaches them all), and scan()
 * reports mounts whose image is gone as well as images. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "driver.h"
#include "fsutil.h"
#include "run.h"

#define LOOP_MAJOR_NR 7
#define SIZE_MIN (UINT64_C(16) << 20)
#define SIZE_MAX_BYTES (UINT64_C(16) << 40)
#define SNAP_DIR "snapshots"

static const char *const loop_options[] = {"size", "uid", "gid", "mode", NULL};

static int size_of(const struct vol_kvs *options, uint64_t *ret, struct vol_error *err)
{
        const char *s = vol_kvs_get(options, "size");
        if (!s)
                return vol_error_set(err, -EINVAL,
                                     "driver loop needs the size option (the image's size: a hard limit), "
                                     "e.g. size=1g");
        int r = vol_parse_size("option size", s, ret, err);
        if (r < 0)
                return r;
        if (*ret < SIZE_MIN || *ret > SIZE_MAX_BYTES)
                return vol_error_set(err, -EINVAL, "option size of a loop volume must be between 16m and 16t");
        return 0;
}

static int loop_validate(const struct vol_kvs *options, struct vol_error *err)
{
        uint64_t size;
        struct vol_owner o;
        int r = size_of(options, &size, err);
        return r < 0 ? r : vol_fs_parse_owner(options, 0700, &o, err);
}

static int loop_setup(struct vol_driver *d, const struct vol_drivers_config *cfg, struct vol_error *err)
{
        char prog[4096];
        if (access("/dev/loop-control", R_OK | W_OK) < 0)
                return vol_error_set(err, -ENOTSUP, "this host has no usable /dev/loop-control (%m)");
        if (!vol_find_program("mkfs.ext4", prog) || !vol_find_program("resize2fs", prog) ||
            !vol_find_program("e2fsck", prog))
                return vol_error_set(err, -ENOTSUP, "mkfs.ext4, e2fsck and resize2fs are needed (e2fsprogs)");
        if (mkdirat(d->dir_fd, SNAP_DIR, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating %s/%s: %m", d->dir_path, SNAP_DIR);
        return 0;
}

static char *loop_path(const struct vol_driver *d, const struct vol_volume *v)
{
        return xasprintf("%s/%s", d->dir_path, v->id);
}

/* 1 if the volume's directory is a mount point, 0 if not, < 0 (-ENOENT: no directory). */
static int is_mounted(struct vol_driver *d, const char *id)
{
        struct stat parent, st;
        if (fstat(d->dir_fd, &parent) < 0)
                return -errno;
        if (fstatat(d->dir_fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return st.st_dev != parent.st_dev;
}

/* Attaches the image open at img_fd to a free loop device (detached again
 * when its last user goes) and returns the device's fd; its path in dev. */
static int attach(int img_fd, char dev[32], struct vol_error *err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return vol_error_set(err, -errno, "opening /dev/loop-control: %m");
        for (int attempt = 0; attempt < 16; attempt++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return vol_error_set(err, -errno, "finding a free loop device: %m");
                snprintf(dev, 32, "/dev/loop%d", n);
                int lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0 && errno == ENOENT && mknod(dev, S_IFBLK | 0660, makedev(LOOP_MAJOR_NR, n)) == 0)
                        lfd = open(dev, O_RDWR | O_CLOEXEC);
                if (lfd < 0)
                        return vol_error_set(err, -errno, "opening %s: %m", dev);
                struct loop_config lc = {.fd = (unsigned)img_fd, .info = {.lo_flags = LO_FLAGS_AUTOCLEAR}};
                snprintf((char *)lc.info.lo_file_name, sizeof(lc.info.lo_file_name), "volman");
                if (ioctl(lfd, LOOP_CONFIGURE, &lc) == 0)
                        return lfd;
                int e = errno;
                close(lfd);
                if (e != EBUSY) /* EBUSY: another process took it first */
                        return vol_error_set(err, -e, "attaching an image to %s: %s", dev, strerror(e));
        }
        return vol_error_set(err, -EBUSY, "no free loop device could be had");
}

/* Attaches {id}.img and mounts it on {id}/ (made if missing). */
static int do_mount(struct vol_driver *d, const char *id, const char *what, struct vol_error *err)
{
        char img[64];
        snprintf(img, sizeof(img), "%s.img", id);
        _cleanup_close_ int ifd = openat(d->dir_fd, img, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (ifd < 0)
                return vol_error_set(err, -errno, "opening the image of volume %s: %m", what);
        if (mkdirat(d->dir_fd, id, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating the mount point of volume %s: %m", what);
        _cleanup_close_ int mfd = vol_fs_open_dir(d->dir_fd, id);
        if (mfd < 0)
                return vol_error_set(err, mfd, "opening the mount point of volume %s: %s", what, strerror(-mfd));
        char dev[32];
        _cleanup_close_ int lfd = attach(ifd, dev, err);
        if (lfd < 0)
                return lfd;
        char target[64];
        snprintf(target, sizeof(target), "/proc/self/fd/%d", mfd);
        if (mount(dev, target, "ext4", MS_NOSUID | MS_NODEV, "errors=remount-ro") < 0)
                return vol_error_set(err, -errno, "mounting the image of volume %s (%s): %m", what, dev);
        return 0; /* the mount holds the device; closing lfd leaves it attached */
}

static int do_umount(struct vol_driver *d, const char *id, const char *what, struct vol_error *err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", d->dir_path, id);
        if (umount2(path, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                return vol_error_set(err, -errno, "unmounting volume %s: %m", what);
        return 0;
}

static int make_image(struct vol_driver *d, const char *img, uint64_t size, const struct vol_owner *o,
                      const char *what, struct vol_error *err)
{
        _cleanup_close_ int fd = openat(d->dir_fd, img, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return vol_error_set(err, -errno, "creating the image of volume %s: %m", what);
        if (ftruncate(fd, (off_t)size) < 0)
                return vol_error_set(err, -errno, "sizing the image of volume %s: %m", what);
        char path[4096], owner[64];
        snprintf(path, sizeof(path), "%s/%s", d->dir_path, img);
        snprintf(owner, sizeof(owner), "root_owner=%ld:%ld,nodiscard", o->uid >= 0 ? o->uid : 0L,
                 o->gid >= 0 ? o->gid : 0L);
        const char *argv[] = {"mkfs.ext4", "-q", "-F", "-m", "0", "-L", "volman", "-E", owner, path, NULL};
        int r = vol_run(argv, 0, err);
        if (r < 0)
                return vol_error_wrap(err, "formatting volume %s: ", what);
        if (fsync(fd) < 0)
                return vol_error_set(err, -errno, "syncing the image of volume %s: %m", what);
        return 0;
}

static int loop_create(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        uint64_t size;
        struct vol_owner o;
        int r;
        if ((r = size_of(&v->options, &size, err)) < 0 || (r = vol_fs_parse_owner(&v->options, 0700, &o, err)) < 0)
                return r;
        int m = is_mounted(d, v->id);
        if (m == 1)
                return 0; /* made and mounted by an earlier attempt */
        char img[64], tmp[64];
        snprintf(img, sizeof(img), "%s.img", v->id);
        snprintf(tmp, sizeof(tmp), "%s.img.tmp", v->id);
        struct stat st;
        if (fstatat(d->dir_fd, img, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                /* formatted under a temporary name: an image never exists half made */
                if ((r = make_image(d, tmp, size, &o, v->name, err)) < 0)
                        return r;
                if (renameat(d->dir_fd, tmp, d->dir_fd, img) < 0)
                        return vol_error_set(err, -errno, "renaming the image of volume %s: %m", v->name);
                if ((r = vol_driver_sync_dir(d, err)) < 0)
                        return r;
        }
        if ((r = do_mount(d, v->id, v->name, err)) < 0)
                return r;
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        if (fd < 0)
                return vol_error_set(err, fd, "opening volume %s: %s", v->name, strerror(-fd));
        unlinkat(fd, "lost+found", AT_REMOVEDIR); /* a volume starts empty; e2fsck makes it again if needed */
        if ((r = vol_fs_apply_owner(fd, &o, err)) < 0)
                return r;
        return fsync(fd) < 0 ? vol_error_set(err, -errno, "syncing volume %s: %m", v->name) : 0;
}

static int loop_check_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        _cleanup_free_ char *path = loop_path(d, v);
        return vol_fs_check_no_mounts(path, is_mounted(d, v->id) == 1 ? 1 : 0, v->name, err);
}

static int loop_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int r = do_umount(d, v->id, v->name, err);
        if (r < 0)
                return r;
        char img[64];
        snprintf(img, sizeof(img), "%s.img", v->id);
        if (unlinkat(d->dir_fd, img, 0) < 0 && errno != ENOENT)
                return vol_error_set(err, -errno, "removing the image of volume %s: %m", v->name);
        if (unlinkat(d->dir_fd, v->id, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return vol_fs_remove_tree(d->dir_fd, v->id, v->name, err); /* not ours to leave */
        return 0;
}

static int loop_exists(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        char img[64];
        struct stat st;
        snprintf(img, sizeof(img), "%s.img", v->id);
        if (fstatat(d->dir_fd, img, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return vol_error_set(err, -errno, "stat of the image of volume %s: %m", v->name);
        }
        return S_ISREG(st.st_mode) ? 1 : 0;
}

static int loop_mount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int m = is_mounted(d, v->id);
        if (m == 1)
                return 0;
        int r = loop_exists(d, v, err);
        if (r <= 0)
                return r < 0 ? r : vol_error_set(err, -ENOENT, "the image of volume %s is missing", v->name);
        return do_mount(d, v->id, v->name, err);
}

static int loop_unmount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        return 0; /* mounted from create to remove */
}

static int loop_info(struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                     struct vol_volume_info *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        ret->persistent = true;
        if (!with_usage || is_mounted(d, v->id) != 1) /* lists: the driver's view alone */
                return 0;
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        struct statvfs sv;
        if (fd >= 0 && fstatvfs(fd, &sv) == 0) { /* cheap: the filesystem counts it */
                ret->has_usage = true;
                ret->usage_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                ret->usage_inodes = (uint64_t)(sv.f_files - sv.f_ffree);
        }
        return 0;
}

struct scan_ctx {
        vol_driver_id_cb cb;
        void *userdata;
};

static void scan_one(struct vol_driver *d, const char *name, void *userdata)
{
        struct scan_ctx *c = userdata;
        if (!vol_driver_is_uuid_with(name, ".img"))
                return;
        char id[37];
        memcpy(id, name, 36);
        id[36] = 0;
        c->cb(id, false, c->userdata); /* an image holds a filesystem: never "empty" */
}

/* A mount on {dir}/{id} whose image is gone: its data lives only as long as
 * the mount (the loop device holds the deleted image). */
struct stray_ctx {
        struct vol_driver *d;
        const char *dir; /* d's directory as the mount table spells it */
        size_t dlen;
        struct scan_ctx *scan;
        size_t n;
        char (*seen)[37]; /* reported once, however many mounts are stacked there */
};

static int stray_one(const char *mp, void *userdata)
{
        struct stray_ctx *c = userdata;
        if (strncmp(mp, c->dir, c->dlen) || mp[c->dlen] != '/' || !vol_fs_is_uuid(mp + c->dlen + 1))
                return 0;
        const char *id = mp + c->dlen + 1;
        char img[64];
        struct stat st;
        snprintf(img, sizeof(img), "%s.img", id);
        if (fstatat(c->d->dir_fd, img, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
                return 0; /* the image is there: scan_one reports it */
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->seen[i], id))
                        return 0;
        c->seen = xrealloc(c->seen, (c->n + 1) * sizeof(*c->seen));
        snprintf(c->seen[c->n++], 37, "%s", id);
        c->scan->cb(id, false, c->scan->userdata);
        return 0;
}

/* Images, and mounts below the directory that have no image (from the
 * mount table: a directory listing cannot tell a mount point). */
static int loop_scan(struct vol_driver *d, vol_driver_id_cb cb, void *userdata, struct vol_error *err)
{
        struct scan_ctx c = {cb, userdata};
        int r = vol_driver_each_entry(d, scan_one, &c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = realpath(d->dir_path, NULL);
        if (!dir)
                return vol_error_set(err, -errno, "resolving %s: %m", d->dir_path);
        struct stray_ctx sc = {d, dir, strlen(dir), &c, 0, NULL};
        r = vol_fs_each_mount(stray_one, &sc, err);
        free(sc.seen);
        return r < 0 ? r : 0;
}

/* Runs fn with the volume's filesystem frozen (if mounted): a consistent
 * image for a copy. */
static int frozen_copy(struct vol_driver *d, const struct vol_volume *v, const char *to_dir, const char *to,
                       struct vol_error *err)
{
        char img[64];
        snprintf(img, sizeof(img), "%s.img", v->id);
        _cleanup_close_ int src = openat(d->dir_fd, img, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0)
                return vol_error_set(err, -errno, "opening the image of volume %s: %m", v->name);
        _cleanup_close_ int tdir = to_dir ? openat(d->dir_fd, to_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                          : dup(d->dir_fd);
        if (tdir < 0)
                return vol_error_set(err, -errno, "opening %s: %m", to_dir ? to_dir : d->dir_path);
        _cleanup_close_ int dst = openat(tdir, to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dst < 0)
                return vol_error_set(err, -errno, "creating a copy of volume %s: %m", v->name);
        _cleanup_close_ int mfd = is_mounted(d, v->id) == 1 ? vol_fs_open_dir(d->dir_fd, v->id) : -1;
        if (mfd >= 0 && ioctl(mfd, FIFREEZE, 0) < 0)
                return vol_error_set(err, -errno, "freezing volume %s for a consistent copy: %m", v->name);
        /* a crash from here to the thaw leaves the filesystem frozen: recover() thaws it */
        int r = mfd >= 0 ? vol_failpoint("snapshot-frozen") : 0;
        bool reflinked;
        if (r < 0)
                vol_error_set(err, r, "copying volume %s: failpoint snapshot-frozen", v->name);
        else
                r = vol_copy_file(src, dst, &reflinked, err);
        if (mfd >= 0 && ioctl(mfd, FITHAW, 0) < 0 && r == 0)
                r = vol_error_set(err, -errno, "thawing volume %s: %m", v->name);
        if (r < 0)
                unlinkat(tdir, to, 0);
        else if (fsync(tdir) < 0)
                r = vol_error_set(err, -errno, "syncing %s: %m", to_dir ? to_dir : d->dir_path);
        return r;
}

static int loop_snapshot(struct vol_driver *d, const struct vol_volume *v, const char *snap, struct vol_error *err)
{
        char name[64];
        snprintf(name, sizeof(name), "%s.img", snap);
        return frozen_copy(d, v, SNAP_DIR, name, err);
}

static int loop_snapshot_remove(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                struct vol_error *err)
{
        char name[80];
        snprintf(name, sizeof(name), SNAP_DIR "/%s.img", snap);
        if (unlinkat(d->dir_fd, name, 0) < 0 && errno != ENOENT)
                return vol_error_set(err, -errno, "removing a snapshot of volume %s: %m", v->name);
        return 0;
}

static int loop_snapshot_restore(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                 struct vol_error *err)
{
        char from[80], tmp[64], img[64];
        snprintf(from, sizeof(from), SNAP_DIR "/%s.img", snap);
        snprintf(tmp, sizeof(tmp), "%s.img.tmp", v->id);
        snprintf(img, sizeof(img), "%s.img", v->id);
        _cleanup_close_ int src = openat(d->dir_fd, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0)
                return vol_error_set(err, -errno, "opening the snapshot of volume %s: %m", v->name);
        _cleanup_close_ int dst = openat(d->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dst < 0)
                return vol_error_set(err, -errno, "creating the restored image of volume %s: %m", v->name);
        bool reflinked;
        int r = vol_copy_file(src, dst, &reflinked, err);
        if (r < 0) {
                unlinkat(d->dir_fd, tmp, 0);
                return r;
        }
        /* the switch: unmounted, the new image renamed over the old, mounted */
        vol_failpoint("restore-before-switch");
        if ((r = do_umount(d, v->id, v->name, err)) < 0)
                return r;
        if (renameat(d->dir_fd, tmp, d->dir_fd, img) < 0)
                r = vol_error_set(err, -errno, "putting the restored image of volume %s in place: %m", v->name);
        else
                r = vol_driver_sync_dir(d, err);
        if (r == 0)
                vol_failpoint("restore-after-switch");
        int m = do_mount(d, v->id, v->name, r < 0 ? NULL : err);
        return r < 0 ? r : m;
}

static int loop_clone(struct vol_driver *d, const struct vol_volume *src, const struct vol_volume *dst,
                      struct vol_error *err)
{
        if (is_mounted(d, dst->id) == 1)
                return 0;
        char tmp[64], img[64];
        snprintf(tmp, sizeof(tmp), "%s.img.tmp", dst->id);
        snprintf(img, sizeof(img), "%s.img", dst->id);
        int r = frozen_copy(d, src, NULL, tmp, err);
        if (r < 0)
                return r;
        vol_failpoint("clone-before-rename"); /* a whole image under its temporary name */
        if (renameat(d->dir_fd, tmp, d->dir_fd, img) < 0)
                return vol_error_set(err, -errno, "renaming the image of volume %s: %m", dst->name);
        if ((r = vol_driver_sync_dir(d, err)) < 0)
                return r;
        return do_mount(d, dst->id, dst->name, err);
}

static int loop_resize(struct vol_driver *d, const struct vol_volume *v, uint64_t size, bool in_use,
                       struct vol_error *err)
{
        if (size < SIZE_MIN || size > SIZE_MAX_BYTES)
                return vol_error_set(err, -EINVAL, "the size of a loop volume must be between 16m and 16t");
        char img[64], path[4096], kib[32];
        snprintf(img, sizeof(img), "%s.img", v->id);
        snprintf(path, sizeof(path), "%s/%s", d->dir_path, img);
        snprintf(kib, sizeof(kib), "%lluK", (unsigned long long)(size >> 10));
        uint64_t old = 0;
        size_of(&v->options, &old, NULL);
        if (in_use)
                return vol_error_set(err, -EBUSY,
                                     "volume %s is in use: a loop volume is resized while no container uses it "
                                     "(growing a mounted ext4 needs CAP_SYS_RESOURCE, which volmand may lack)",
                                     v->name);
        int r = do_umount(d, v->id, v->name, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = openat(d->dir_fd, img, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                r = vol_error_set(err, -errno, "opening the image of volume %s: %m", v->name);
        const char *fsck[] = {"e2fsck", "-f", "-p", path, NULL};
        const char *grow[] = {"resize2fs", path, kib, NULL};
        if (r == 0)
                r = vol_run(fsck, 1u << 1, err); /* 1: errors fixed */
        if (r == 0 && size > old && ftruncate(fd, (off_t)size) < 0)
                r = vol_error_set(err, -errno, "growing the image of volume %s: %m", v->name);
        if (r == 0 && (r = vol_run(grow, 0, err)) < 0 && size < old) {
                vol_error_clear(err);
                r = vol_error_set(err, -ENOSPC, "volume %s holds more than %s fits; not shrunk", v->name, kib);
        }
        if (r == 0 && size < old && ftruncate(fd, (off_t)size) < 0)
                r = vol_error_set(err, -errno, "shrinking the image of volume %s: %m", v->name);
        if (r == 0 && fsync(fd) < 0)
                r = vol_error_set(err, -errno, "syncing the image of volume %s: %m", v->name);
        int m = do_mount(d, v->id, v->name, r < 0 ? NULL : err);
        return r < 0 ? r : m;
}

/* At start-up: temporaries go, frozen filesystems thaw. Images are mounted
 * again by reattach, per recorded volume, so that one that cannot be is
 * reported under its volume's name. */
static void recover_one(struct vol_driver *d, const char *name, void *userdata)
{
        if (vol_driver_is_uuid_with(name, ".img.tmp")) {
                unlinkat(d->dir_fd, name, 0); /* a restore or clone a crash cut short */
                return;
        }
        if (!vol_fs_is_uuid(name) || is_mounted(d, name) != 1)
                return;
        _cleanup_close_ int mfd = vol_fs_open_dir(d->dir_fd, name);
        if (mfd >= 0)
                (void)ioctl(mfd, FITHAW, 0); /* EINVAL when not frozen */
}

static int loop_recover(struct vol_driver *d, struct vol_error *err)
{
        return vol_driver_each_entry(d, recover_one, NULL, err);
}

const struct vol_driver_ops vol_driver_loop_ops = {
        .name = "loop",
        .caps = VOL_CAP_SIZE_LIMIT | VOL_CAP_OWNERSHIP | VOL_CAP_USAGE | VOL_CAP_SNAPSHOT | VOL_CAP_RESIZE |
                VOL_CAP_USAGE_CHEAP,
        .options = loop_options,
        .validate = loop_validate,
        .path = loop_path,
        .create = loop_create,
        .check_remove = loop_check_remove,
        .remove = loop_remove,
        .sync = vol_driver_sync_dir,
        .mount = loop_mount,
        .reattach = loop_mount, /* a reboot detached every image */
        .unmount = loop_unmount,
        .exists = loop_exists,
        .info = loop_info,
        .scan = loop_scan,
        .setup = loop_setup,
        .recover = loop_recover,
        .snapshot = loop_snapshot,
        .snapshot_remove = loop_snapshot_remove,
        .snapshot_restore = loop_snapshot_restore,
        .clone = loop_clone,
        .resize = loop_resize,
};
