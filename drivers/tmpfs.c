/* The tmpfs driver: a memory-backed filesystem per volume, mounted at
 * {root}/tmpfs/{id} from create to remove, with the `size` option as a hard
 * limit enforced by the kernel. The content survives container and daemon
 * restarts but not a host reboot: after one, the volume comes back empty
 * (remounted at start-up reconciliation or at the next mount). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "driver.h"
#include "fsutil.h"

#define TMPFS_DEFAULT_SIZE "64m"

static const char *const tmpfs_options[] = {"size", "uid", "gid", "mode", NULL};

static int tmpfs_validate(const struct vol_kvs *options, struct vol_error *err)
{
        struct vol_owner o;
        uint64_t size;
        const char *s = vol_kvs_get(options, "size");
        int r = vol_parse_size("option size", s ? s : TMPFS_DEFAULT_SIZE, &size, err);
        if (r < 0)
                return r;
        return vol_fs_parse_owner(options, 0700, &o, err);
}

static char *tmpfs_path(const struct vol_driver *d, const struct vol_volume *v)
{
        return xasprintf("%s/%s", d->dir_path, v->id);
}

/* 1 if the volume's directory is a mount point, 0 if a plain directory,
 * -ENOENT if absent. */
static int is_mounted(struct vol_driver *d, const struct vol_volume *v)
{
        struct stat parent, st;
        if (fstat(d->dir_fd, &parent) < 0)
                return -errno;
        if (fstatat(d->dir_fd, v->id, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return st.st_dev != parent.st_dev;
}

static int do_mount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        struct vol_owner o;
        uint64_t size;
        const char *s = vol_kvs_get(&v->options, "size");
        int r = vol_parse_size("option size", s ? s : TMPFS_DEFAULT_SIZE, &size, err);
        if (r < 0 || (r = vol_fs_parse_owner(&v->options, 0700, &o, err)) < 0)
                return r;
        char data[128];
        int n = snprintf(data, sizeof(data), "size=%llu,mode=%o", (unsigned long long)size, (unsigned)o.mode);
        if (o.uid >= 0)
                n += snprintf(data + n, sizeof(data) - (size_t)n, ",uid=%ld", o.uid);
        if (o.gid >= 0)
                snprintf(data + n, sizeof(data) - (size_t)n, ",gid=%ld", o.gid);
        /* Mount on the directory we opened, not on a path a race could redirect. */
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        if (fd < 0)
                return vol_error_set(err, fd, "opening the directory of volume %s: %s", v->name,
                                     strerror(-fd));
        char target[64];
        snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
        if (mount("volman-tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0)
                return vol_error_set(err, -errno, "mounting the tmpfs of volume %s: %m", v->name);
        return 0;
}

static int tmpfs_create(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        bool made = mkdirat(d->dir_fd, v->id, 0700) == 0;
        if (!made && errno != EEXIST)
                return vol_error_set(err, -errno, "creating the directory of volume %s: %m", v->name);
        int m = is_mounted(d, v);
        if (m < 0)
                return vol_error_set(err, m, "checking volume %s: %s", v->name, strerror(-m));
        /* No fsync of the directory: its content lives in memory and a
         * reboot empties it anyway; mount() makes it again when missing. */
        (void)made;
        return m ? 0 : do_mount(d, v, err);
}

static int tmpfs_check_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        _cleanup_free_ char *path = tmpfs_path(d, v);
        /* its own tmpfs is mounted on the directory; nothing else may be */
        return vol_fs_check_no_mounts(path, is_mounted(d, v) == 1 ? 1 : 0, v->name, err);
}

static int tmpfs_remove(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int m = is_mounted(d, v);
        if (m == -ENOENT)
                return 0;
        if (m > 0) {
                _cleanup_free_ char *path = tmpfs_path(d, v);
                /* Our own directory under the data root: no container writes here. */
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL)
                        return vol_error_set(err, -errno, "unmounting the tmpfs of volume %s: %m",
                                             v->name);
        }
        return vol_fs_remove_tree(d->dir_fd, v->id, v->name, err);
}

static uint64_t tmpfs_memory_bytes(const struct vol_kvs *options)
{
        uint64_t size = 0;
        const char *s = vol_kvs_get(options, "size");
        if (vol_parse_size("size", s ? s : TMPFS_DEFAULT_SIZE, &size, NULL) < 0)
                return 0;
        return size;
}

static int tmpfs_exists(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int m = is_mounted(d, v);
        if (m == -ENOENT || m == -ENOTDIR)
                return 0;
        if (m < 0)
                return vol_error_set(err, m, "checking volume %s: %s", v->name, strerror(-m));
        /* A directory that lost its tmpfs (host reboot) is there but empty:
         * mount() puts it back. */
        return 1;
}

static int tmpfs_mount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        int m = is_mounted(d, v);
        if (m == -ENOENT) {
                if (mkdirat(d->dir_fd, v->id, 0700) < 0 && errno != EEXIST)
                        return vol_error_set(err, -errno, "creating the directory of volume %s: %m",
                                             v->name);
                m = 0;
        }
        if (m < 0)
                return vol_error_set(err, m, "checking volume %s: %s", v->name, strerror(-m));
        if (m)
                return 0;
        int r = do_mount(d, v, err);
        return r < 0 ? r : 1;
}

static int tmpfs_unmount(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err)
{
        return 0; /* the tmpfs stays until the volume is removed */
}

static int tmpfs_info(struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                      struct vol_volume_info *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        ret->persistent = false;
        ret->note = "content is kept in memory (tmpfs): it survives container and daemon restarts "
                    "but is lost when the host reboots";
        if (!with_usage || is_mounted(d, v) != 1)
                return 0;
        _cleanup_close_ int fd = vol_fs_open_dir(d->dir_fd, v->id);
        struct statvfs sv;
        if (fd >= 0 && fstatvfs(fd, &sv) == 0) {
                ret->has_usage = true;
                ret->usage_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                ret->usage_inodes = (uint64_t)(sv.f_files - sv.f_ffree);
        }
        return 0;
}

const struct vol_driver_ops vol_driver_tmpfs_ops = {
        .name = "tmpfs",
        .caps = VOL_CAP_SIZE_LIMIT | VOL_CAP_OWNERSHIP | VOL_CAP_USAGE | VOL_CAP_EPHEMERAL | VOL_CAP_USAGE_CHEAP,
        .options = tmpfs_options,
        .validate = tmpfs_validate,
        .path = tmpfs_path,
        .create = tmpfs_create,
        .check_remove = tmpfs_check_remove,
        .remove = tmpfs_remove,
        .sync = vol_driver_sync_dir,
        .mount = tmpfs_mount,
        .unmount = tmpfs_unmount,
        .exists = tmpfs_exists,
        .info = tmpfs_info,
        .scan = vol_driver_scan_uuid_dirs,
        .memory_bytes = tmpfs_memory_bytes,
};
