#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xmalloc.h"
#include "driver.h"

extern const struct vol_driver_ops vol_driver_local_ops;
extern const struct vol_driver_ops vol_driver_tmpfs_ops;
extern const struct vol_driver_ops vol_driver_loop_ops;
extern const struct vol_driver_ops vol_driver_btrfs_ops;

static const struct vol_driver_ops *const registered[] = {
        &vol_driver_local_ops,
        &vol_driver_tmpfs_ops,
        &vol_driver_loop_ops,
        &vol_driver_btrfs_ops,
};

int vol_drivers_open(const struct vol_drivers_config *cfg, struct vol_drivers *ret, struct vol_error *err)
{
        const char *root_path = cfg->root;
        if (mkdir(root_path, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating data root %s: %m", root_path);
        int root = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return vol_error_set(err, -errno, "opening data root %s: %m", root_path);
        struct vol_drivers set = {0, xcalloc((sizeof(registered) / sizeof(registered[0])), sizeof(struct vol_driver))};
        int r = 0;
        for (size_t i = 0; i < (sizeof(registered) / sizeof(registered[0])); i++) {
                const struct vol_driver_ops *ops = registered[i];
                if (mkdirat(root, ops->name, 0700) < 0 && errno != EEXIST) {
                        r = vol_error_set(err, -errno, "creating %s/%s: %m", root_path, ops->name);
                        break;
                }
                int fd = openat(root, ops->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        r = vol_error_set(err, -errno, "opening %s/%s: %m", root_path, ops->name);
                        break;
                }
                (void)vol_fs_mark_top(fd); /* each volume is a hierarchy of its own */
                struct vol_syncer *syncer = xcalloc(1, sizeof(*syncer));
                vol_syncer_init(syncer);
                struct vol_driver *d = &set.items[set.n++];
                *d = (struct vol_driver){ops, fd, xasprintf("%s/%s", root_path, ops->name), syncer, true, NULL,
                                         NULL};
                if (ops->setup && (r = ops->setup(d, cfg, err)) < 0) {
                        if (r != -ENOTSUP)
                                break;
                        d->available = false;
                        d->unavailable = xstrdup(vol_error_message(err));
                        vol_error_clear(err);
                        r = 0;
                }
        }
        close(root);
        if (r < 0) {
                vol_drivers_close(&set);
                return r;
        }
        *ret = set;
        return 0;
}

void vol_drivers_close(struct vol_drivers *set)
{
        for (size_t i = 0; i < set->n; i++) {
                if (set->items[i].ops->teardown)
                        set->items[i].ops->teardown(&set->items[i]);
                free(set->items[i].unavailable);
                if (set->items[i].dir_fd >= 0)
                        close(set->items[i].dir_fd);
                free(set->items[i].dir_path);
                vol_syncer_destroy(set->items[i].syncer);
                free(set->items[i].syncer);
        }
        free(set->items);
        set->items = NULL;
        set->n = 0;
}

struct vol_driver *vol_drivers_find_any(struct vol_drivers *set, const char *name)
{
        for (size_t i = 0; i < set->n; i++)
                if (!strcmp(set->items[i].ops->name, name))
                        return &set->items[i];
        return NULL;
}

struct vol_driver *vol_drivers_find(struct vol_drivers *set, const char *name)
{
        struct vol_driver *d = vol_drivers_find_any(set, name);
        return d && d->available ? d : NULL;
}

int vol_driver_check_options(const struct vol_driver *d, const struct vol_kvs *options,
                             struct vol_error *err)
{
        for (size_t i = 0; i < options->n; i++) {
                bool known = false;
                for (const char *const *k = d->ops->options; *k; k++)
                        if (!strcmp(*k, options->items[i].key))
                                known = true;
                if (!known) {
                        char list[256] = "";
                        for (const char *const *k = d->ops->options; *k; k++) {
                                if (*list)
                                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                                strncat(list, *k, sizeof(list) - strlen(list) - 1);
                        }
                        return vol_error_set(err, -EINVAL,
                                             "driver %s does not know option \"%s\" (it knows: %s)",
                                             d->ops->name, options->items[i].key, list);
                }
        }
        return d->ops->validate(options, err);
}

int vol_driver_each_entry(struct vol_driver *d, vol_driver_entry_cb cb, void *userdata, struct vol_error *err)
{
        int dfd = dup(d->dir_fd);
        if (dfd < 0)
                return vol_error_set(err, -errno, "dup: %m");
        DIR *dir = fdopendir(dfd);
        if (!dir) {
                close(dfd);
                return vol_error_set(err, -errno, "reading %s: %m", d->dir_path);
        }
        rewinddir(dir);
        struct dirent *de;
        while ((de = readdir(dir)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        cb(d, de->d_name, userdata);
        closedir(dir);
        return 0;
}

bool vol_driver_is_uuid_with(const char *name, const char *suffix)
{
        size_t n = strlen(name), k = strlen(suffix);
        if (n != 36 + k || strcmp(name + 36, suffix))
                return false;
        char id[37];
        memcpy(id, name, 36);
        id[36] = 0;
        return vol_fs_is_uuid(id);
}
