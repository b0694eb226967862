/* The local driver: a directory per volume, {root}/local/{id}, mode 0700
 * unless the `mode` option says otherwise, owned by `uid`:`gid` if given.
 * No size limit (the kernel here has no quotas for plain directories).
 *
 * Snapshots ({root}/local/snapshots/{snap}) and clones are tree copies
 * (drivers/treecopy.c: no symlink followed, no other filesystem entered).
 * A plain directory cannot be frozen: a snapshot of a volume being written
 * to copies each file as it is when the walk reaches it. Restores and clones
 * copy into {id}.tmp and rename it into place (a restore swaps the two with
 * RENAME_EXCHANGE, then removes the old tree): a crash leaves the old
 * content or the new; recover() removes what is left under .tmp names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"
#include "driver.h"
#include "fsutil.h"
#include "treecopy.h"

#define SNAP_DIR "snapshots"

static const char *const local_options[] = {"uid", "gid", "mode", NULL};

static int local_validate(const struct vol_kvs *options, struct vol_error *err)
{
        struct vol_owner o;
        return vol_fs_parse_owner(options, 0700, &o, err);
}

static char *local_path(const struct vol_driver *d, const struct vol_volume *v)
{
        return xasprintf("%s/%s", d->dir_path, v->id);
}

static int local_create(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        struct vol_owner o;
        int r = vol_fs_parse_owner(&v->options, 0700, &o, err);
        if (r < 0)
                return r;
        bool plain = vol_fs_mkdir_gives(&o);
        bool made = mkdirat(d->dir_fd, v->id, plain ? o.mode : 0700) == 0;
        if (!made && errno != EEXIST)
                return vol_error_set(err, -errno, "creating the directory of volume %s: %m", v->name);
        /* No fsync of the new entry: the volume is answered ready once its
         * record is durable, and a power loss that drops the empty directory
         * drops nothing anyone wrote (an fsync inside it would have made it
         * durable first); start-up makes it again (VOL_CAP_REMAKE_EMPTY).
         * A directory this call made with the mode asked for is done: our
         * own, in the driver's directory no one else may write. */
        if (made && plain)
                return 0;
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        if (fd < 0)
                return vol_error_set(err, fd, "opening the directory of volume %s: %s", v->name,
                                     strerror(-fd));
        return vol_fs_apply_owner(fd, &o, err);
}

int vol_driver_check_remove_dir(struct vol_driver *d, const struct vol_volume *v,
                                struct vol_error *err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", d->dir_path, v->id);
        return vol_fs_check_no_mounts(path, 0, v->name, err);
}

int vol_driver_sync_dir(struct vol_driver *d, struct vol_error *err)
{
        return vol_fs_sync_dir_shared(d->syncer, d->dir_fd, err);
}

static int local_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        return vol_fs_remove_tree(d->dir_fd, v->id, v->name, err);
}

static int local_exists(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        struct stat st;
        if (fstatat(d->dir_fd, v->id, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return vol_error_set(err, -errno, "stat of volume %s: %m", v->name);
        }
        return S_ISDIR(st.st_mode) ? 1 : 0;
}

static int local_mount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int r = local_exists(d, v, err);
        if (r < 0)
                return r;
        if (r == 0)
                return vol_error_set(err, -ENOENT, "the directory of volume %s is missing on this host",
                                     v->name);
        return 0;
}

static int local_unmount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        return 0;
}

static int local_info(struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                      struct vol_volume_info *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        ret->persistent = true;
        if (!with_usage)
                return 0;
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        if (fd < 0)
                return 0; /* no usage to tell */
        bool partial = false;
        if (vol_fs_usage(fd, &ret->usage_bytes, &ret->usage_inodes, &partial, err) == 0)
                ret->has_usage = true;
        if (partial)
                ret->note = "usage is partial: the walk counts 128 directory levels and stops after 5 s";
        return 0;
}

struct scan_ctx {
        vol_driver_id_cb cb;
        void *userdata;
};

static void scan_one(struct vol_driver *d, const char *name, void *userdata)
{
        struct scan_ctx *c = userdata;
        if (vol_fs_is_uuid(name))
                c->cb(name, vol_fs_is_empty_dir(d->dir_fd, name) == 1, c->userdata);
}

int vol_driver_scan_uuid_dirs(struct vol_driver *d, vol_driver_id_cb cb, void *userdata,
                              struct vol_error *err)
{
        struct scan_ctx c = {cb, userdata};
        return vol_driver_each_entry(d, scan_one, &c, err);
}

static int local_setup(struct vol_driver *d, const struct vol_drivers_config *cfg, struct vol_error *err)
{
        if (mkdirat(d->dir_fd, SNAP_DIR, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating %s/%s: %m", d->dir_path, SNAP_DIR);
        return 0;
}

/* Copies the tree of the directory name below from_dir into a new directory
 * to below to_dir (removed again on failure). */
static int copy_into(int from_dir, const char *name, int to_dir, const char *to, const char *what,
                     struct vol_error *err)
{
        _cleanup_close_ int src = vol_fs_open_dir(from_dir, name);
        if (src < 0)
                return vol_error_set(err, src, "opening %s: %s", what, strerror(-src));
        if (vol_fs_remove_tree(to_dir, to, what, err) < 0)
                return -EIO;
        if (mkdirat(to_dir, to, 0700) < 0)
                return vol_error_set(err, -errno, "creating the copy of %s: %m", what);
        _cleanup_close_ int dst = vol_fs_open_dir(to_dir, to);
        if (dst < 0)
                return vol_error_set(err, dst, "opening the copy of %s: %s", what, strerror(-dst));
        int r = vol_copy_tree(src, dst, NULL, err);
        if (r < 0) {
                struct vol_error e = VOL_ERROR_INIT;
                vol_fs_remove_tree(to_dir, to, what, &e);
                vol_error_clear(&e);
                return vol_error_wrap(err, "copying %s: ", what);
        }
        return fsync(to_dir) < 0 ? vol_error_set(err, -errno, "syncing: %m") : 0;
}

static int snap_dir(struct vol_driver *d)
{
        return openat(d->dir_fd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int local_snapshot(struct vol_driver *d, const struct vol_volume *v, const char *snap, struct vol_error *err)
{
        _cleanup_close_ int sd = snap_dir(d);
        if (sd < 0)
                return vol_error_set(err, -errno, "opening %s/%s: %m", d->dir_path, SNAP_DIR);
        return copy_into(d->dir_fd, v->id, sd, snap, v->name, err);
}

static int local_snapshot_remove(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                 struct vol_error *err)
{
        _cleanup_close_ int sd = snap_dir(d);
        if (sd < 0)
                return vol_error_set(err, -errno, "opening %s/%s: %m", d->dir_path, SNAP_DIR);
        return vol_fs_remove_tree(sd, snap, v->name, err);
}

static int local_snapshot_restore(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                  struct vol_error *err)
{
        _cleanup_close_ int sd = snap_dir(d);
        if (sd < 0)
                return vol_error_set(err, -errno, "opening %s/%s: %m", d->dir_path, SNAP_DIR);
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.tmp", v->id);
        int r = copy_into(sd, snap, d->dir_fd, tmp, v->name, err);
        if (r < 0)
                return r;
        vol_failpoint("restore-before-switch");
        if (renameat2(d->dir_fd, tmp, d->dir_fd, v->id, RENAME_EXCHANGE) < 0)
                return vol_error_set(err, -errno, "putting the restored content of volume %s in place: %m", v->name);
        if ((r = vol_driver_sync_dir(d, err)) < 0)
                return r;
        vol_failpoint("restore-after-switch");
        return vol_fs_remove_tree(d->dir_fd, tmp, v->name, err); /* the old content */
}

static int local_clone(struct vol_driver *d, const struct vol_volume *src, const struct vol_volume *dst,
                       struct vol_error *err)
{
        if (local_exists(d, dst, NULL) == 1)
                return 0;
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.tmp", dst->id);
        int r = copy_into(d->dir_fd, src->id, d->dir_fd, tmp, src->name, err);
        if (r < 0)
                return r;
        vol_failpoint("clone-before-rename"); /* a whole copy under its temporary name */
        if (renameat(d->dir_fd, tmp, d->dir_fd, dst->id) < 0)
                return vol_error_set(err, -errno, "naming the clone %s: %m", dst->name);
        return vol_driver_sync_dir(d, err);
}

static void recover_one(struct vol_driver *d, const char *name, void *userdata)
{
        if (!vol_driver_is_uuid_with(name, ".tmp"))
                return;
        struct vol_error e = VOL_ERROR_INIT;
        vol_fs_remove_tree(d->dir_fd, name, name, &e); /* a restore or clone a crash cut short */
        vol_error_clear(&e);
}

static int local_recover(struct vol_driver *d, struct vol_error *err)
{
        return vol_driver_each_entry(d, recover_one, NULL, err);
}

const struct vol_driver_ops vol_driver_local_ops = {
        .name = "local",
        .caps = VOL_CAP_OWNERSHIP | VOL_CAP_USAGE | VOL_CAP_REMAKE_EMPTY | VOL_CAP_SNAPSHOT | VOL_CAP_MOUNT_CHEAP,
        .options = local_options,
        .validate = local_validate,
        .path = local_path,
        .create = local_create,
        .check_remove = vol_driver_check_remove_dir,
        .remove = local_remove,
        .sync = vol_driver_sync_dir,
        .mount = local_mount,
        .unmount = local_unmount,
        .exists = local_exists,
        .info = local_info,
        .scan = vol_driver_scan_uuid_dirs,
        .setup = local_setup,
        .recover = local_recover,
        .snapshot = local_snapshot,
        .snapshot_remove = local_snapshot_remove,
        .snapshot_restore = local_snapshot_restore,
        .clone = local_clone,
};
