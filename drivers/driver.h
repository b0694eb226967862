/* The volume driver interface: drivers own the bytes.
 *
 * A driver is a `static const struct vol_driver_ops` in its own file
 * (drivers/local.c, drivers/tmpfs.c). Every operation is idempotent: create of
 * an existing volume, remove of a missing one, both succeed, so the service can
 * drive a half-done operation forward after a crash. Drivers work on file
 * descriptors below their own directory and never follow a symlink a container
 * may have planted (drivers/fsutil.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/volume.h"
#include "core/volume_json.h"
#include "drivers/fsutil.h"

/* Capabilities are declared, never guessed from a driver's name. */
enum {
        VOL_CAP_SIZE_LIMIT = 1u << 0, /* the `size` option is a hard limit */
        VOL_CAP_OWNERSHIP = 1u << 1,  /* the uid, gid and mode options work */
        VOL_CAP_USAGE = 1u << 2,      /* usage() can tell */
        VOL_CAP_EPHEMERAL = 1u << 3,  /* content is lost when the host reboots */
        /* create writes no content and syncs nothing: storage a power loss
         * took before anything inside it was synced is made again, empty
         * (with the recorded options), for a ready volume at start-up */
        VOL_CAP_REMAKE_EMPTY = 1u << 4,
        VOL_CAP_SNAPSHOT = 1u << 5, /* snapshot, snapshot_remove, snapshot_restore, clone */
        VOL_CAP_RESIZE = 1u << 6,   /* resize: the size limit can change */
        VOL_CAP_USAGE_CHEAP = 1u << 7, /* info's usage costs no walk (the filesystem or a qgroup counts it) */
        VOL_CAP_MOUNT_CHEAP = 1u << 8, /* mount and unmount are a check at most: no mount(2), no mount table read */
};

/* What the drivers are given about the host. */
struct vol_drivers_config {
        const char *root;       /* the data root: {root}/{driver name} for each */
        const char *btrfs_root; /* a directory on a btrfs filesystem, or NULL */
};

struct vol_driver;

/* Called once per volume's storage found, with the id it is named by and
 * whether it holds nothing at all. */
typedef void (*vol_driver_id_cb)(const char *id, bool empty, void *userdata);

struct vol_driver_ops {
        const char *name;
        unsigned caps;
        /* Option keys the driver accepts, NULL-terminated. */
        const char *const *options;
        /* Checks option values (keys are already known to be in .options). */
        int (*validate)(const struct vol_kvs *options, struct vol_error *err);
        /* Where v's data is seen on the host: a heap path (caller frees). */
        char *(*path)(const struct vol_driver *d, const struct vol_volume *v);
        /* Makes v's storage. Idempotent. */
        int (*create)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Says whether v's storage can be destroyed, touching nothing: -EBUSY
         * with a message naming the obstacle (a filesystem mounted inside it)
         * or 0. Called before a removal is recorded. */
        int (*check_remove)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Destroys v's storage and data. Idempotent: a missing volume is success.
         * Runs in the background, after the record is gone (v may be a stub
         * with only id, name, driver, mountpoint and options). Not durable
         * until sync() returns. */
        int (*remove)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Makes the removals done so far durable (one fsync of the driver's
         * directory for a whole batch of them). */
        int (*sync)(struct vol_driver *d, struct vol_error *err);
        /* Makes v usable at its path. Returns 0 when the storage was there, 1 when
         * it had to be made again, empty (a tmpfs lost at host reboot), < 0 on error. */
        int (*mount)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Optional. At start-up, for each ready volume whose storage exists:
         * makes it usable at its path again where a reboot or crash undid
         * that (attaches and mounts a loop image). Idempotent. 0, or < 0 with
         * why it cannot (the volume is reported; the others are served). */
        int (*reattach)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Called when the last mount reference goes. */
        int (*unmount)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* 1 if v's storage exists, 0 if not, < 0 on error. */
        int (*exists)(struct vol_driver *d, const struct vol_volume *v, struct vol_error *err);
        /* Fills persistent/note and, if VOL_CAP_USAGE, the usage figures. */
        int (*info)(struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                    struct vol_volume_info *ret, struct vol_error *err);
        /* Calls cb for each volume id that has storage, for reconciliation. */
        int (*scan)(struct vol_driver *d, vol_driver_id_cb cb, void *userdata,
                    struct vol_error *err);
        /* Bytes of the host's memory a volume with these (valid) options may
         * hold, for the daemon's memory budget; NULL: none (disk-backed). */
        uint64_t (*memory_bytes)(const struct vol_kvs *options);

        /* Optional. Sets d up on this host, after the registry made and opened
         * {root}/{name} as d->dir_fd (a driver keeping its data elsewhere
         * replaces it). -ENOTSUP with the reason: the driver is listed as
         * unavailable and nothing can be made on it; another error stops
         * volmand. */
        int (*setup)(struct vol_driver *d, const struct vol_drivers_config *cfg, struct vol_error *err);
        /* Optional. Frees what setup made (d->priv). */
        void (*teardown)(struct vol_driver *d);
        /* Optional. At start-up, before reconciliation: finishes or undoes the
         * driver's own half-done work (a restore's or clone's temporary
         * storage), so each volume is as it was or as asked, never half. */
        int (*recover)(struct vol_driver *d, struct vol_error *err);

        /* VOL_CAP_SNAPSHOT: snapshot snap (a UUID) of v: a read-only copy of
         * its content now, consistent (a mounted filesystem is frozen for
         * it). Idempotent. Durable when it returns. */
        int (*snapshot)(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                        struct vol_error *err);
        /* Destroys snapshot snap of v. Idempotent. */
        int (*snapshot_remove)(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                               struct vol_error *err);
        /* Makes v's content snapshot snap's (v has no mount reference). Atomic:
         * a crash leaves the old content or the new one (recover cleans up). */
        int (*snapshot_restore)(struct vol_driver *d, const struct vol_volume *v, const char *snap,
                                struct vol_error *err);
        /* Makes dst's storage (instead of create) with src's content, from
         * then on independent of src. Idempotent for a dst half made. */
        int (*clone)(struct vol_driver *d, const struct vol_volume *src, const struct vol_volume *dst,
                     struct vol_error *err);
        /* VOL_CAP_RESIZE: makes v's size limit size bytes (v's options still
         * hold the old one). in_use: v has mount references (a driver that
         * can only resize unmounted says so). -ENOSPC when size is below what
         * v holds. */
        int (*resize)(struct vol_driver *d, const struct vol_volume *v, uint64_t size, bool in_use,
                      struct vol_error *err);
};

/* One driver instance: its ops and the directory it owns under the data root. */
struct vol_driver {
        const struct vol_driver_ops *ops;
        int dir_fd;     /* {root}/{driver name} (or where setup says), opened O_DIRECTORY */
        char *dir_path; /* its path, for mountpoints */
        struct vol_syncer *syncer; /* shared fsyncs of dir_fd */
        bool available;     /* setup found what the driver needs on this host */
        char *unavailable;  /* else why not (a sentence) */
        void *priv;         /* the driver's own state */
};

/* A set of drivers opened below one data root. */
struct vol_drivers {
        size_t n;
        struct vol_driver *items;
};

/* Opens every registered driver below cfg->root, creating {root}/{name}
 * directories (mode 0700), and sets each up: one that cannot work on this
 * host is kept, unavailable, with the reason. Returns 0 or < 0 with a message. */
int vol_drivers_open(const struct vol_drivers_config *cfg, struct vol_drivers *ret, struct vol_error *err);
/* Closes every driver. Accepts a zeroed set. */
void vol_drivers_close(struct vol_drivers *set);
/* The available driver called name, or NULL. */
struct vol_driver *vol_drivers_find(struct vol_drivers *set, const char *name);
/* The driver called name, available or not, or NULL. */
struct vol_driver *vol_drivers_find_any(struct vol_drivers *set, const char *name);

/* Checks options against d: unknown keys are named in the error, then
 * d->ops->validate judges the values. */
int vol_driver_check_options(const struct vol_driver *d, const struct vol_kvs *options,
                             struct vol_error *err);

/* For drivers whose volumes are entries of their directory: fsyncs it
 * (shared between threads). Usable as .sync. */
int vol_driver_sync_dir(struct vol_driver *d, struct vol_error *err);

/* For drivers whose volume is a directory {dir}/{id} that nothing may be
 * mounted on or in: usable as .check_remove. */
int vol_driver_check_remove_dir(struct vol_driver *d, const struct vol_volume *v,
                                struct vol_error *err);

/* Calls cb for each entry of d's directory (not "." and ".."), in the
 * directory's order. */
typedef void (*vol_driver_entry_cb)(struct vol_driver *d, const char *name, void *userdata);
int vol_driver_each_entry(struct vol_driver *d, vol_driver_entry_cb cb, void *userdata, struct vol_error *err);

/* Whether name is "{uuid}{suffix}" (a volume's entry with that suffix). */
bool vol_driver_is_uuid_with(const char *name, const char *suffix);

/* For drivers that keep one UUID-named entry per volume in their directory:
 * calls cb for each such entry. Usable as .scan. */
int vol_driver_scan_uuid_dirs(struct vol_driver *d, vol_driver_id_cb cb, void *userdata,
                              struct vol_error *err);
