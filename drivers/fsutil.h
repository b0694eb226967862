/* Filesystem operations that never trust a path inside a volume.
 *
 * Containers write into volumes, so anything below a volume's directory may be
 * a hostile symlink, a fifo, a mount, or a tree deep enough to exhaust file
 * descriptors. Everything here works on descriptors opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), never follows a symlink,
 * never crosses into another filesystem, and holds a bounded number of
 * descriptors whatever the depth of the tree. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/kv.h"
#include "core/syncer.h"

/* Marks the directory dir_fd as the top of unrelated hierarchies for the
 * filesystem's allocator (FS_TOPDIR_FL, chattr +T), on an ext4 without a
 * journal only. For the directory that holds a driver's volumes. There,
 * without the mark, each new directory's inode is looked for in its
 * parent's block group, stepping over every inode freed in the last 5-35
 * seconds (ext4 checks recently freed inodes only without a journal):
 * creates that follow removals paid for each removal (27-30% of volmand's
 * CPU in 16-client creates after 10,000 removals; 1.3-1.8% with the mark).
 * With a journal there is no such search, and the mark would only add the
 * Orlov allocator's scan of every block group to each mkdir (+12-30 us on
 * a 1 TiB ext4), so it is not set. Best effort: 0, or -errno where it is
 * not set (-EOPNOTSUPP: not an ext4 without a journal), which changes
 * nothing else. */
int vol_fs_mark_top(int dir_fd);

/* Opens directory `name` below dirfd without following any symlink and
 * without leaving dirfd. Returns the fd (O_CLOEXEC) or a negative errno. */
int vol_fs_open_dir(int dirfd, const char *name);

/* Like vol_fs_open_dir, and also refuses (-EXDEV) to cross into another mount,
 * even a bind mount of the same filesystem: for walks inside a volume. */
int vol_fs_open_subdir(int dirfd, const char *name);

/* Removes the tree `name` below dirfd: symlinks are unlinked, not followed;
 * another filesystem mounted on `name` itself or anywhere inside it is never
 * entered and stops the removal (-EBUSY). One pass over every entry (linear
 * in the tree's size), at most 64 directory streams open whatever the depth;
 * a directory whose content keeps changing is read again, a bounded number
 * of times. A missing `name` is success. `what` names the volume in messages.
 * Returns 0 or < 0 with a message. */
int vol_fs_remove_tree(int dirfd, const char *name, const char *what, struct vol_error *err);

/* Calls cb with the mount point of each line of /proc/self/mountinfo (its
 * octal escapes decoded), in order, until cb returns non-zero. Returns 0,
 * cb's non-zero answer, or < 0 with a message when the table cannot be read. */
typedef int (*vol_fs_mount_cb)(const char *mountpoint, void *userdata);
int vol_fs_each_mount(vol_fs_mount_cb cb, void *userdata, struct vol_error *err);

/* Checks, before anything is touched, that no filesystem is mounted inside
 * the directory at path, nor on it beyond the own_at_top mounts its driver
 * made itself (a tmpfs volume has one), as /proc/self/mountinfo says (its
 * mount points are kept, and read again after the kernel reports a change:
 * drivers/mounts.c). Thread-safe. Returns 0, or -EBUSY with a message naming
 * the mount, or < 0 when the table cannot be read. */
int vol_fs_check_no_mounts(const char *path, unsigned own_at_top, const char *what,
                           struct vol_error *err);

/* Adds up the allocated bytes and the inodes of the tree below the directory
 * fd (not crossing filesystems, not following symlinks). Descends at most
 * VOL_FS_USAGE_DEPTH levels and walks at most VOL_FS_USAGE_SECONDS;
 * *ret_partial tells if parts were left uncounted. */
#define VOL_FS_USAGE_DEPTH 128
#define VOL_FS_USAGE_SECONDS 5
int vol_fs_usage(int fd, uint64_t *ret_bytes, uint64_t *ret_inodes, bool *ret_partial,
                 struct vol_error *err);

/* fsync of directory fd shared between threads (core/syncer.h): returns once
 * an fsync that began after the call has succeeded. */
int vol_fs_sync_dir_shared(struct vol_syncer *s, int fd, struct vol_error *err);

/* Ownership options shared by drivers: uid, gid (decimal, < 2^31) and mode
 * (octal, at most 07777). Absent uid/gid: -1 (left as is); absent mode:
 * default_mode. Returns 0 or -EINVAL naming the option. */
struct vol_owner {
        long uid;
        long gid;
        mode_t mode;
};
int vol_fs_parse_owner(const struct vol_kvs *options, mode_t default_mode, struct vol_owner *ret,
                       struct vol_error *err);

/* Applies owner to the directory fd (fchown, then fchmod). */
int vol_fs_apply_owner(int fd, const struct vol_owner *owner, struct vol_error *err);

/* True when mkdir(2) with owner->mode gives a directory exactly owner: no
 * uid or gid to set, no setuid/setgid/sticky bit, and no bit the process's
 * umask would clear. Then no chown or chmod is needed after it. */
bool vol_fs_mkdir_gives(const struct vol_owner *owner);

/* 1 if `name` below dirfd is a directory with no entry, 0 if it has some or
 * is not a directory, < 0 on error. Follows no symlink. */
int vol_fs_is_empty_dir(int dirfd, const char *name);

/* True if s looks like a lower-case UUID (how volume directories are named). */
bool vol_fs_is_uuid(const char *s);
