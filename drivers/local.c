/* The local driver: a directory per volume, {root}/local/{id}, mode 0700
 * unless the `mode` option says otherwise, owned by `uid`:`gid` if given.
 * No size limit (the kernel here has no quotas for plain directories). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "driver.h"
#include "fsutil.h"

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
        bool made = mkdirat(d->dir_fd, v->id, 0700) == 0;
        if (!made && errno != EEXIST)
                return vol_error_set(err, -errno, "creating the directory of volume %s: %m", v->name);
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        if (fd < 0)
                return vol_error_set(err, fd, "opening the directory of volume %s: %s", v->name,
                                     strerror(-fd));
        /* No fsync of the new entry: the volume is answered ready once its
         * record is durable, and a power loss that drops the empty directory
         * drops nothing anyone wrote (an fsync inside it would have made it
         * durable first); start-up makes it again (VOL_CAP_REMAKE_EMPTY). */
        (void)made;
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
                ret->note = "usage counts only the first 128 directory levels";
        return 0;
}

int vol_driver_scan_uuid_dirs(struct vol_driver *d, vol_driver_id_cb cb, void *userdata,
                              struct vol_error *err)
{
        int dfd = dup(d->dir_fd);
        if (dfd < 0)
                return vol_error_set(err, -errno, "dup: %m");
        _cleanup_closedir_ DIR *dir = fdopendir(dfd);
        if (!dir) {
                close(dfd);
                return vol_error_set(err, -errno, "reading %s: %m", d->dir_path);
        }
        rewinddir(dir);
        struct dirent *de;
        while ((de = readdir(dir)))
                if (vol_fs_is_uuid(de->d_name))
                        cb(de->d_name, vol_fs_is_empty_dir(dirfd(dir), de->d_name) == 1, userdata);
        return 0;
}

const struct vol_driver_ops vol_driver_local_ops = {
        .name = "local",
        .caps = VOL_CAP_OWNERSHIP | VOL_CAP_USAGE | VOL_CAP_REMAKE_EMPTY,
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
};
