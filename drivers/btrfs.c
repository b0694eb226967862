/* The btrfs driver: a subvolume per volume, {btrfs-root}/volumes/{id}, on the
 * btrfs filesystem `volmand --btrfs-root DIR` names (volmand enables quotas
 * there). The `size` option is a qgroup limit on what the subvolume refers to:
 * a write past it fails with EDQUOT in the container. Usage comes from the
 * qgroup, at no cost.
 *
 * Snapshots are read-only subvolume snapshots, {btrfs-root}/snapshots/{snap};
 * clones and restores are writable snapshots made under a temporary name
 * ({id}.tmp) and renamed into place (a restore swaps the two with
 * RENAME_EXCHANGE, then deletes the old one): a crash leaves the old content
 * or the new, and recover() deletes what is left under a temporary name. A
 * deleted subvolume's qgroup cannot be destroyed at once (btrfs cleans the
 * subvolume in the background): stale qgroups are destroyed at start-up and
 * after each removal, when btrfs lets go of them. */
#include <btrfsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "driver.h"
#include "fsutil.h"

#define SNAP_DIR "snapshots"

static const char *const btrfs_options[] = {"size", "uid", "gid", "mode", NULL};

struct btrfs_priv {
        int top_fd;  /* the --btrfs-root directory */
        int snap_fd; /* {top}/snapshots */
};

static struct btrfs_priv *priv(struct vol_driver *d)
{
        return d->priv;
}

static int parse_size(const struct vol_kvs *options, uint64_t *ret, struct vol_error *err)
{
        const char *s = vol_kvs_get(options, "size");
        *ret = 0;
        return s ? vol_parse_size("option size", s, ret, err) : 0;
}

static int btrfs_validate(const struct vol_kvs *options, struct vol_error *err)
{
        uint64_t size;
        struct vol_owner o;
        int r = parse_size(options, &size, err);
        if (r == 0 && vol_kvs_get(options, "size") && size < (UINT64_C(1) << 20))
                r = vol_error_set(err, -EINVAL, "option size of a btrfs volume must be at least 1m");
        return r < 0 ? r : vol_fs_parse_owner(options, 0700, &o, err);
}

static int berr(struct vol_error *err, enum btrfs_util_error e, const char *what, const char *name)
{
        int code = errno ? -errno : -EIO;
        return vol_error_set(err, code, "%s %s: %s (%s)", what, name, btrfs_util_strerror(e), strerror(-code));
}

/* ---- qgroups ---- */

/* The referenced and exclusive bytes of qgroup 0/id, from the quota tree. */
static int qgroup_usage(int fd, uint64_t id, uint64_t *rfer, uint64_t *excl)
{
        struct btrfs_ioctl_search_args a = {0};
        a.key.tree_id = BTRFS_QUOTA_TREE_OBJECTID;
        a.key.min_type = a.key.max_type = BTRFS_QGROUP_INFO_KEY;
        a.key.min_offset = a.key.max_offset = id;
        a.key.max_objectid = 0;
        a.key.max_transid = UINT64_MAX;
        a.key.nr_items = 1;
        if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) < 0)
                return -errno;
        if (a.key.nr_items < 1)
                return -ENOENT;
        const struct btrfs_ioctl_search_header *h = (const void *)a.buf;
        if (h->type != BTRFS_QGROUP_INFO_KEY || h->offset != id || h->len < sizeof(struct btrfs_qgroup_info_item))
                return -ENOENT;
        const struct btrfs_qgroup_info_item *it = (const void *)(a.buf + sizeof(*h));
        *rfer = le64toh(it->rfer);
        *excl = le64toh(it->excl);
        return 0;
}

static int set_limit(int fd, uint64_t id, uint64_t bytes, const char *name, struct vol_error *err)
{
        struct btrfs_ioctl_qgroup_limit_args a = {.qgroupid = id};
        if (bytes) {
                a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
                a.lim.max_rfer = bytes;
        } else {
                a.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER; /* 0 with the flag: no limit */
        }
        if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &a) < 0)
                return vol_error_set(err, -errno, "setting the size limit of volume %s: %m", name);
        return 0;
}

/* Destroys the level-0 qgroups whose subvolume is gone; btrfs refuses
 * (EBUSY) those it still cleans: they go another time. */
static void clean_stale_qgroups(int fd)
{
        struct btrfs_ioctl_search_args a = {0};
        a.key.tree_id = BTRFS_QUOTA_TREE_OBJECTID;
        a.key.min_type = a.key.max_type = BTRFS_QGROUP_INFO_KEY;
        a.key.max_offset = (UINT64_C(1) << 48) - 1; /* level 0 */
        a.key.max_objectid = 0;
        a.key.max_transid = UINT64_MAX;
        for (int round = 0; round < 64; round++) {
                a.key.nr_items = 4096;
                if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &a) < 0 || a.key.nr_items == 0)
                        return;
                size_t off = 0;
                uint64_t last = 0;
                for (unsigned i = 0; i < a.key.nr_items; i++) {
                        const struct btrfs_ioctl_search_header *h = (const void *)(a.buf + off);
                        off += sizeof(*h) + h->len;
                        last = h->offset;
                        if (h->type != BTRFS_QGROUP_INFO_KEY || h->offset < BTRFS_FIRST_FREE_OBJECTID)
                                continue;
                        struct btrfs_util_subvolume_info info;
                        if (btrfs_util_subvolume_info_fd(fd, h->offset, &info) ==
                            BTRFS_UTIL_ERROR_SUBVOLUME_NOT_FOUND) {
                                struct btrfs_ioctl_qgroup_create_args c = {.create = 0, .qgroupid = h->offset};
                                (void)ioctl(fd, BTRFS_IOC_QGROUP_CREATE, &c);
                        }
                }
                if (last == UINT64_MAX)
                        return;
                a.key.min_offset = last + 1;
        }
}

/* ---- set-up ---- */

static int btrfs_setup(struct vol_driver *d, const struct vol_drivers_config *cfg, struct vol_error *err)
{
        if (!cfg->btrfs_root)
                return vol_error_set(err, -ENOTSUP, "no --btrfs-root was given (a directory on a btrfs filesystem)");
        int top = open(cfg->btrfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (top < 0)
                return vol_error_set(err, -ENOTSUP, "--btrfs-root %s cannot be opened: %m", cfg->btrfs_root);
        struct statfs sf;
        if (fstatfs(top, &sf) < 0 || sf.f_type != BTRFS_SUPER_MAGIC) {
                close(top);
                return vol_error_set(err, -ENOTSUP, "--btrfs-root %s is not on a btrfs filesystem", cfg->btrfs_root);
        }
        struct btrfs_ioctl_quota_ctl_args q = {.cmd = BTRFS_QUOTA_CTL_ENABLE};
        if (ioctl(top, BTRFS_IOC_QUOTA_CTL, &q) < 0 && errno != EEXIST) {
                int e = errno;
                close(top);
                return vol_error_set(err, -ENOTSUP, "enabling quotas on %s failed: %s", cfg->btrfs_root, strerror(e));
        }
        if ((mkdirat(top, "volumes", 0700) < 0 && errno != EEXIST) ||
            (mkdirat(top, SNAP_DIR, 0700) < 0 && errno != EEXIST)) {
                int r = vol_error_set(err, -errno, "creating folders under %s: %m", cfg->btrfs_root);
                close(top);
                return r;
        }
        int vfd = openat(top, "volumes", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int sfd = openat(top, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (vfd < 0 || sfd < 0) {
                int r = vol_error_set(err, -errno, "opening folders under %s: %m", cfg->btrfs_root);
                close(top);
                if (vfd >= 0)
                        close(vfd);
                if (sfd >= 0)
                        close(sfd);
                return r;
        }
        close(d->dir_fd); /* the registry's {root}/btrfs stays unused */
        d->dir_fd = vfd;
        free(d->dir_path);
        d->dir_path = xasprintf("%s/volumes", cfg->btrfs_root);
        struct btrfs_priv *p = xcalloc(1, sizeof(*p));
        p->top_fd = top;
        p->snap_fd = sfd;
        d->priv = p;
        return 0;
}

static void btrfs_teardown(struct vol_driver *d)
{
        struct btrfs_priv *p = priv(d);
        if (!p)
                return;
        close(p->top_fd);
        close(p->snap_fd);
        free(p);
        d->priv = NULL;
}

/* ---- volumes ---- */

static char *btrfs_path(const struct vol_driver *d, const struct vol_volume *v)
{
        return xasprintf("%s/%s", d->dir_path, v->id);
}

static int subvol_id(int parent, const char *name, uint64_t *id)
{
        _cleanup_close_ int fd = vol_fs_open_dir(parent, name);
        if (fd < 0)
                return fd;
        return btrfs_util_subvolume_id_fd(fd, id) ? -EIO : 0;
}

/* Limits and owns the subvolume name below parent as v's options say. */
static int finish_subvol(struct vol_driver *d, int parent, const char *name, const struct vol_volume *v,
                         bool owner, struct vol_error *err)
{
        uint64_t size, id;
        struct vol_owner o;
        int r;
        if ((r = parse_size(&v->options, &size, err)) < 0 || (r = vol_fs_parse_owner(&v->options, 0700, &o, err)) < 0)
                return r;
        if (subvol_id(parent, name, &id) < 0)
                return vol_error_set(err, -EIO, "finding the subvolume of volume %s", v->name);
        if (size && (r = set_limit(priv(d)->top_fd, id, size, v->name, err)) < 0)
                return r;
        if (!owner)
                return 0;
        _cleanup_close_ int fd = vol_fs_open_dir(parent, name);
        if (fd < 0)
                return vol_error_set(err, fd, "opening volume %s: %s", v->name, strerror(-fd));
        return vol_fs_apply_owner(fd, &o, err);
}

static int btrfs_create(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        struct stat st;
        if (fstatat(d->dir_fd, v->id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                errno = 0;
                enum btrfs_util_error e = btrfs_util_create_subvolume_fd(d->dir_fd, v->id, 0, NULL, NULL);
                if (e && errno != EEXIST)
                        return berr(err, e, "creating the subvolume of volume", v->name);
        }
        /* No sync: an empty subvolume a power loss takes is made again at
         * start-up (VOL_CAP_REMAKE_EMPTY); an fsync of anything inside it
         * commits the transaction that made it first. */
        return finish_subvol(d, d->dir_fd, v->id, v, true, err);
}

static int delete_subvol(int parent, const char *name, const char *what, struct vol_error *err)
{
        struct stat st;
        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vol_error_set(err, -errno, "stat of %s: %m", what);
        errno = 0;
        enum btrfs_util_error e =
                btrfs_util_delete_subvolume_fd(parent, name, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
        if (e && errno != ENOENT)
                return berr(err, e, "deleting the subvolume of", what);
        return 0;
}

static int btrfs_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int r = delete_subvol(d->dir_fd, v->id, v->name, err);
        if (r == 0)
                clean_stale_qgroups(priv(d)->top_fd);
        return r;
}

static int btrfs_sync(struct vol_driver *d, struct vol_error *err)
{
        if (btrfs_util_sync_fd(d->dir_fd))
                return vol_error_set(err, -EIO, "syncing %s: %m", d->dir_path);
        return 0;
}

static int btrfs_exists(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        struct stat st;
        if (fstatat(d->dir_fd, v->id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return vol_error_set(err, -errno, "stat of volume %s: %m", v->name);
        }
        return S_ISDIR(st.st_mode) && st.st_ino == BTRFS_FIRST_FREE_OBJECTID; /* a subvolume's root */
}

static int btrfs_mount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int r = btrfs_exists(d, v, err);
        if (r < 0)
                return r;
        return r ? 0 : vol_error_set(err, -ENOENT, "the subvolume of volume %s is missing", v->name);
}

static int btrfs_unmount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        return 0;
}

static int btrfs_info(struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                      struct vol_volume_info *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        ret->persistent = true;
        uint64_t id, rfer, excl;
        if (!with_usage) /* lists: the driver's view alone */
                return 0;
        if (subvol_id(d->dir_fd, v->id, &id) == 0 && qgroup_usage(priv(d)->top_fd, id, &rfer, &excl) == 0) {
                ret->has_usage = true; /* from the qgroup: no walk */
                ret->usage_bytes = rfer;
        }
        return 0;
}

static int btrfs_scan(struct vol_driver *d, vol_driver_id_cb cb, void *userdata, struct vol_error *err)
{
        return vol_driver_scan_uuid_dirs(d, cb, userdata, err);
}

/* ---- snapshots, clones, resizes ---- */

static int btrfs_snapshot(struct vol_driver *d, const struct vol_volume *v, const char *snap, struct vol_error *err)
{
        struct stat st;
        if (fstatat(priv(d)->snap_fd, snap, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        _cleanup_close_ int src = vol_fs_open_dir(d->dir_fd, v->id);
        if (src < 0)
                return vol_error_set(err, src, "opening volume %s: %s", v->name, strerror(-src));
        errno = 0;
        /* the ioctl returns once the transaction that makes it is committed */
        enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(src, priv(d)->snap_fd, snap,
                                                                  BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY, NULL, NULL);
        return e ? berr(err, e, "snapshotting volume", v->name) : 0;
}

static int btrfs_snapshot_remove(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                 struct vol_error *err)
{
        int r = delete_subvol(priv(d)->snap_fd, snap, v->name, err);
        if (r == 0)
                clean_stale_qgroups(priv(d)->top_fd);
        return r;
}

/* A writable snapshot of the subvolume open at src, as {name}.tmp below parent. */
static int writable_copy(struct vol_driver *d, int src, const char *tmp, const struct vol_volume *v,
                         struct vol_error *err)
{
        if (delete_subvol(d->dir_fd, tmp, v->name, err) < 0)
                return -EIO;
        errno = 0;
        enum btrfs_util_error e = btrfs_util_create_snapshot_fd2(src, d->dir_fd, tmp, 0, NULL, NULL);
        if (e)
                return berr(err, e, "copying into volume", v->name);
        return finish_subvol(d, d->dir_fd, tmp, v, false, err);
}

static int btrfs_snapshot_restore(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                  struct vol_error *err)
{
        _cleanup_close_ int src = vol_fs_open_dir(priv(d)->snap_fd, snap);
        if (src < 0)
                return vol_error_set(err, src, "opening the snapshot of volume %s: %s", v->name, strerror(-src));
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.tmp", v->id);
        int r = writable_copy(d, src, tmp, v, err);
        if (r < 0)
                return r;
        vol_failpoint("restore-before-switch");
        if (renameat2(d->dir_fd, tmp, d->dir_fd, v->id, RENAME_EXCHANGE) < 0)
                return vol_error_set(err, -errno, "putting the restored content of volume %s in place: %m", v->name);
        if ((r = btrfs_sync(d, err)) < 0)
                return r;
        vol_failpoint("restore-after-switch");
        r = delete_subvol(d->dir_fd, tmp, v->name, err); /* the old content */
        clean_stale_qgroups(priv(d)->top_fd);
        return r;
}

static int btrfs_clone(struct vol_driver *d, const struct vol_volume *srcv, const struct vol_volume *dst,
                       struct vol_error *err)
{
        if (btrfs_exists(d, dst, NULL) == 1)
                return finish_subvol(d, d->dir_fd, dst->id, dst, false, err);
        _cleanup_close_ int src = vol_fs_open_dir(d->dir_fd, srcv->id);
        if (src < 0)
                return vol_error_set(err, src, "opening volume %s: %s", srcv->name, strerror(-src));
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.tmp", dst->id);
        int r = writable_copy(d, src, tmp, dst, err);
        if (r < 0)
                return r;
        vol_failpoint("clone-before-rename"); /* a whole snapshot under its temporary name */
        if (renameat(d->dir_fd, tmp, d->dir_fd, dst->id) < 0)
                return vol_error_set(err, -errno, "naming the clone %s: %m", dst->name);
        return btrfs_sync(d, err);
}

static int btrfs_resize(struct vol_driver *d, const struct vol_volume *v, uint64_t size, bool in_use,
                        struct vol_error *err)
{
        uint64_t id, rfer = 0, excl;
        if (subvol_id(d->dir_fd, v->id, &id) < 0)
                return vol_error_set(err, -EIO, "finding the subvolume of volume %s", v->name);
        if (size && qgroup_usage(priv(d)->top_fd, id, &rfer, &excl) == 0 && rfer > size)
                return vol_error_set(err, -ENOSPC, "volume %s holds %llu bytes, more than %llu; not shrunk", v->name,
                                     (unsigned long long)rfer, (unsigned long long)size);
        return set_limit(priv(d)->top_fd, id, size, v->name, err);
}

static void recover_one(struct vol_driver *d, const char *name, void *userdata)
{
        if (!vol_driver_is_uuid_with(name, ".tmp"))
                return;
        struct vol_error e = VOL_ERROR_INIT;
        delete_subvol(d->dir_fd, name, name, &e); /* a restore or clone a crash cut short */
        vol_error_clear(&e);
}

static int btrfs_recover(struct vol_driver *d, struct vol_error *err)
{
        int r = vol_driver_each_entry(d, recover_one, NULL, err);
        clean_stale_qgroups(priv(d)->top_fd);
        return r;
}

const struct vol_driver_ops vol_driver_btrfs_ops = {
        .name = "btrfs",
        .caps = VOL_CAP_SIZE_LIMIT | VOL_CAP_OWNERSHIP | VOL_CAP_USAGE | VOL_CAP_REMAKE_EMPTY | VOL_CAP_SNAPSHOT |
                VOL_CAP_RESIZE | VOL_CAP_USAGE_CHEAP | VOL_CAP_MOUNT_CHEAP,
        .options = btrfs_options,
        .validate = btrfs_validate,
        .path = btrfs_path,
        .create = btrfs_create,
        .check_remove = vol_driver_check_remove_dir,
        .remove = btrfs_remove,
        .sync = btrfs_sync,
        .mount = btrfs_mount,
        .unmount = btrfs_unmount,
        .exists = btrfs_exists,
        .info = btrfs_info,
        .scan = btrfs_scan,
        .setup = btrfs_setup,
        .teardown = btrfs_teardown,
        .recover = btrfs_recover,
        .snapshot = btrfs_snapshot,
        .snapshot_remove = btrfs_snapshot_remove,
        .snapshot_restore = btrfs_snapshot_restore,
        .clone = btrfs_clone,
        .resize = btrfs_resize,
};
