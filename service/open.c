/* Opening and closing the service: the root's lock, the boot id, the store,
 * the drivers, reconciliation and the background reaper; and the memory
 * budget of memory-backed volumes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/names.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "con.h"
#include "con_internal.h"
#include "cluster.h"
#include "internal.h"

#define MEMORY_VOLUME_DEFAULT (UINT64_C(8) << 30)

/* Takes the root's lock: one volmand per root. Returns the locked fd, or
 * < 0 with a message naming the holder. */
static int lock_root(const char *root, struct vol_error *err)
{
        if (mkdir(root, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating data root %s: %m", root);
        _cleanup_free_ char *path = xasprintf("%s/volmand.lock", root);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return vol_error_set(err, -errno, "opening %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                char pid[32] = "";
                ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
                close(fd);
                if (n > 0)
                        pid[n] = 0;
                pid[strcspn(pid, "\n")] = 0;
                if (e == EWOULDBLOCK)
                        return vol_error_set(err, -EBUSY,
                                             "another volmand (pid %s) is using the data root %s; stop it "
                                             "first, or give this one another --root",
                                             *pid ? pid : "unknown", root);
                return vol_error_set(err, -e, "locking %s: %s", path, strerror(e));
        }
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
                int r = vol_error_set(err, -errno, "writing %s: %m", path);
                close(fd);
                return r;
        }
        return fd;
}

static void read_boot_id(char out[64])
{
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        out[0] = 0;
        if (f) {
                if (fgets(out, 64, f))
                        out[strcspn(out, "\n")] = 0;
                fclose(f);
        }
        if (!out[0]) /* no procfs: every start counts as a new boot */
                snprintf(out, 64, "unknown-%d", (int)getpid());
}

static uint64_t host_memory(void)
{
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_C(1) << 32;
}

int vol_service_open(const struct vol_service_config *cfg, struct vol_service **ret,
                     struct vol_error *err)
{
        int r;
        if ((r = vol_validate_prefix(cfg->name_prefix, err)) < 0)
                return vol_error_wrap(err, "name prefix: ");
        int lock_fd = lock_root(cfg->root, err);
        if (lock_fd < 0)
                return lock_fd;
        _cleanup_free_ char *db = cfg->store_location ? xstrdup(cfg->store_location)
                                                      : xasprintf("%s/volman.db", cfg->root);
        struct vol_service *s = xcalloc(1, sizeof(*s));
        s->root_lock_fd = lock_fd;
        s->prefix = xstrdup(cfg->name_prefix);
        s->default_driver = xstrdup(cfg->default_driver);
        vol_name_locks_init(&s->locks);
        vol_name_locks_init(&s->app_locks);
        pthread_mutex_init(&s->memory_lock, NULL);
        s->memory_max_total = cfg->memory_max_total ? cfg->memory_max_total : host_memory() / 4;
        s->memory_max_volume = cfg->memory_max_volume ? cfg->memory_max_volume : MEMORY_VOLUME_DEFAULT;
        if (s->memory_max_volume > s->memory_max_total)
                s->memory_max_volume = s->memory_max_total;
        if (cfg->boot_id && *cfg->boot_id)
                snprintf(s->boot_id, sizeof(s->boot_id), "%s", cfg->boot_id);
        else
                read_boot_id(s->boot_id);
        s->engine_driver = xstrdup(cfg->engine_driver ? cfg->engine_driver : "volman");
        s->root = xstrdup(cfg->root);
        s->con_init = xstrdup(cfg->con_init ? cfg->con_init : VOLMAN_CON_INIT);
        s->seed_ttl = cfg->seed_ttl > 0 ? cfg->seed_ttl : 900;
        s->seed_url = cfg->seed_url ? xstrdup(cfg->seed_url) : NULL;
        if ((r = vol_secrets_open(s, cfg->root, cfg->secret_key_file, err)) < 0)
                goto fail;
        if (cfg->engine && (r = vol_engine_open(cfg->engine, &s->engine, err)) < 0)
                goto fail;
        struct vol_drivers_config dcfg = {.root = cfg->root, .btrfs_root = cfg->btrfs_root};
        if ((r = vol_drivers_open(&dcfg, &s->drivers, err)) < 0)
                goto fail;
        for (size_t i = 0; i < s->drivers.n; i++) {
                struct vol_driver *d = &s->drivers.items[i];
                if (!d->available)
                        vol_service_log("info", "driver %s is not available: %s", d->ops->name, d->unavailable);
                else if (d->ops->recover && (r = d->ops->recover(d, err)) < 0) {
                        vol_error_wrap(err, "driver %s recovering: ", d->ops->name);
                        goto fail;
                }
        }
        if (!vol_drivers_find(&s->drivers, s->default_driver)) {
                r = vol_error_set(err, -EINVAL, "default driver %s is not a known driver",
                                  s->default_driver);
                goto fail;
        }
        if ((r = vol_store_open(cfg->store_backend, db, &s->store, err)) < 0)
                goto fail;
        if (!cfg->node && s->store->ops->put_session_doc) {
                r = vol_error_set(err, -EINVAL, "a %s store is shared by the nodes of a cluster: give this "
                                  "one a name (--node)", s->store->ops->name);
                goto fail;
        }
        if ((r = vol_cluster_open(s, cfg, err)) < 0)
                goto fail;
        vol_sessions_open(s);
        if ((r = vol_events_open(s, err)) < 0)
                goto fail;
        if ((r = vol_snapshots_index_load(s, err)) < 0)
                goto fail;
        if ((r = vol_tokens_open(s, err)) < 0) {
                vol_error_wrap(err, "loading tokens: ");
                goto fail;
        }
        if ((r = vol_reaper_start(s, &s->reaper, err)) < 0)
                goto fail;
        struct vol_reconcile_report rep;
        if ((r = vol_service_reconcile(s, &rep, err)) < 0) {
                vol_error_wrap(err, "reconciling at start-up: ");
                goto fail;
        }
        s->reconciled = rep; /* what start-up found, for /metrics */
        if (s->engine)
                vol_con_sweep(s, NULL, NULL); /* /con tmpfs of containers that went while volmand was down */
        *ret = s;
        return 0;
fail:
        vol_service_close(s);
        return r;
}

void vol_service_close(struct vol_service *s)
{
        if (!s)
                return;
        vol_reaper_stop(s->reaper);
        vol_cluster_close(s);
        vol_tokens_close(s);
        vol_secrets_close(s);
        vol_sessions_close(s);
        vol_events_close(s);
        vol_store_close(s->store);
        vol_drivers_close(&s->drivers);
        vol_name_locks_destroy(&s->locks);
        vol_name_locks_destroy(&s->app_locks);
        pthread_mutex_destroy(&s->memory_lock);
        vol_engine_close(s->engine);
        if (s->root_lock_fd > 0)
                close(s->root_lock_fd); /* releases the root */
        free(s->engine_driver);
        free(s->root);
        free(s->con_init);
        free(s->seed_url);
        free(s->prefix);
        free(s->default_driver);
        free(s);
}

int vol_service_health(struct vol_service *s, struct vol_error *err)
{
        return vol_store_health(s->store, err);
}

size_t vol_service_removals_pending(struct vol_service *s)
{
        return vol_reaper_pending(s->reaper);
}

int vol_memory_reserve(struct vol_service *s, const struct vol_driver *d,
                       const struct vol_kvs *options, const char *name, struct vol_error *err)
{
        if (!d->ops->memory_bytes)
                return 0;
        uint64_t want = d->ops->memory_bytes(options);
        char a[32], b[32];
        if (want > s->memory_max_volume) {
                vol_format_size(want, a);
                vol_format_size(s->memory_max_volume, b);
                return vol_error_set(err, -ENOSPC,
                                     "volume %s would hold %s of memory (driver %s); one memory-backed "
                                     "volume may hold at most %s (volmand --memory-max-volume)",
                                     name, a, d->ops->name, b);
        }
        pthread_mutex_lock(&s->memory_lock);
        uint64_t used = s->memory_used;
        bool fits = used + want <= s->memory_max_total;
        if (fits)
                s->memory_used += want;
        pthread_mutex_unlock(&s->memory_lock);
        if (!fits) {
                char c[32];
                vol_format_size(want, a);
                vol_format_size(s->memory_max_total, b);
                vol_format_size(used, c);
                return vol_error_set(err, -ENOSPC,
                                     "volume %s would hold %s of memory (driver %s), and memory-backed "
                                     "volumes may hold %s in all, of which %s is taken (volmand "
                                     "--memory-max-total)",
                                     name, a, d->ops->name, b, c);
        }
        return 0;
}

void vol_memory_release(struct vol_service *s, const struct vol_driver *d,
                        const struct vol_kvs *options)
{
        if (!d->ops->memory_bytes)
                return;
        uint64_t n = d->ops->memory_bytes(options);
        pthread_mutex_lock(&s->memory_lock);
        s->memory_used = s->memory_used > n ? s->memory_used - n : 0;
        pthread_mutex_unlock(&s->memory_lock);
}
