#include "volume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct vol_volume *vol_volume_new(void)
{
        return xcalloc(1, sizeof(struct vol_volume));
}

void vol_scope_free(struct vol_scope *s)
{
        if (!s)
                return;
        free(s->tenant);
        free(s->env);
        free(s->app);
        free(s->path);
        free(s);
}

struct vol_scope *vol_scope_dup(const struct vol_scope *s)
{
        if (!s)
                return NULL;
        struct vol_scope *d = xcalloc(1, sizeof(*d));
        d->tenant = xstrdup(s->tenant);
        d->env = xstrdup(s->env);
        d->app = xstrdup(s->app);
        d->path = xstrdup(s->path);
        return d;
}

bool vol_scope_equal(const struct vol_scope *a, const struct vol_scope *b)
{
        if (!a || !b)
                return a == b;
        return !strcmp(a->tenant, b->tenant) && !strcmp(a->env, b->env) &&
               !strcmp(a->app, b->app) && !strcmp(a->path, b->path);
}

void vol_volume_free(struct vol_volume *v)
{
        if (!v)
                return;
        free(v->name);
        free(v->driver);
        vol_kvs_free(&v->options);
        vol_kvs_free(&v->labels);
        vol_scope_free(v->scope);
        for (size_t i = 0; i < v->n_mounts; i++) {
                free(v->mounts[i].id);
                free(v->mounts[i].owner);
                free(v->mounts[i].boot);
        }
        free(v->mounts);
        free(v->mountpoint);
        free(v->node);
        free(v);
}

struct vol_volume *vol_volume_dup(const struct vol_volume *v)
{
        struct vol_volume *d = vol_volume_new();
        memcpy(d->id, v->id, sizeof(d->id));
        d->name = v->name ? xstrdup(v->name) : NULL;
        d->driver = v->driver ? xstrdup(v->driver) : NULL;
        vol_kvs_copy(&d->options, &v->options);
        vol_kvs_copy(&d->labels, &v->labels);
        d->scope = vol_scope_dup(v->scope);
        d->status = v->status;
        d->created_at = v->created_at;
        d->n_mounts = v->n_mounts;
        d->mounts = v->n_mounts ? xcalloc(v->n_mounts, sizeof(*d->mounts)) : NULL;
        for (size_t i = 0; i < v->n_mounts; i++) {
                d->mounts[i].id = xstrdup(v->mounts[i].id);
                d->mounts[i].since = v->mounts[i].since;
                d->mounts[i].owner = xstrdup(v->mounts[i].owner ? v->mounts[i].owner : "");
                d->mounts[i].boot = xstrdup(v->mounts[i].boot ? v->mounts[i].boot : "");
        }
        d->mountpoint = v->mountpoint ? xstrdup(v->mountpoint) : NULL;
        d->node = v->node ? xstrdup(v->node) : NULL;
        d->revision = v->revision;
        return d;
}

static const char *const status_names[] = {
        [VOL_STATUS_CREATING] = "creating",
        [VOL_STATUS_READY] = "ready",
        [VOL_STATUS_DELETING] = "deleting",
};

const char *vol_status_name(enum vol_status s)
{
        if ((size_t)s < sizeof(status_names) / sizeof(status_names[0]))
                return status_names[s];
        return "unknown";
}

int vol_status_parse(const char *s, enum vol_status *ret)
{
        for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
                if (!strcmp(s, status_names[i])) {
                        *ret = (enum vol_status)i;
                        return 0;
                }
        return -EINVAL;
}

long vol_volume_find_mount(const struct vol_volume *v, const char *owner, const char *id)
{
        for (size_t i = 0; i < v->n_mounts; i++) {
                const char *o = v->mounts[i].owner;
                if (!strcmp(v->mounts[i].id, id) && (!o || !*o || !strcmp(o, owner)))
                        return (long)i;
        }
        return -1;
}

int vol_volume_add_mount(struct vol_volume *v, const char *owner, const char *id, int64_t since,
                         const char *boot, struct vol_error *err)
{
        if (vol_volume_find_mount(v, owner, id) >= 0)
                return -EEXIST;
        if (v->n_mounts >= VOL_MOUNTS_MAX)
                return vol_error_set(err, -E2BIG, "volume %s has %d mount references, the most allowed",
                                     v->name, VOL_MOUNTS_MAX);
        v->mounts = xrealloc(v->mounts, (v->n_mounts + 1) * sizeof(*v->mounts));
        v->mounts[v->n_mounts] = (struct vol_mount_ref){xstrdup(id), since, xstrdup(owner),
                                                        xstrdup(boot ? boot : "")};
        v->n_mounts++;
        return 0;
}

void vol_volume_remove_mount_at(struct vol_volume *v, size_t i)
{
        free(v->mounts[i].id);
        free(v->mounts[i].owner);
        free(v->mounts[i].boot);
        memmove(&v->mounts[i], &v->mounts[i + 1], (v->n_mounts - i - 1) * sizeof(*v->mounts));
        v->n_mounts--;
}

int vol_volume_remove_mount(struct vol_volume *v, const char *owner, const char *id)
{
        long i = vol_volume_find_mount(v, owner, id);
        if (i < 0)
                return -ENOENT;
        vol_volume_remove_mount_at(v, (size_t)i);
        return 0;
}

/* ---- validation ---- */

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* True when s holds no byte below 0x20 and no DEL: printable text, UTF-8 allowed. */
static bool no_controls(const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

/* True when s is well-formed UTF-8 (no overlongs, no surrogates). */
static bool valid_utf8(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                unsigned c = *p;
                int n;
                unsigned min;
                if (c < 0x80) {
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 1;
                        min = 0x80;
                        c &= 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 2;
                        min = 0x800;
                        c &= 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 3;
                        min = 0x10000;
                        c &= 0x07;
                } else
                        return false;
                p++;
                for (int i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (*p & 0x3f);
                }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                        return false;
        }
        return true;
}

int vol_validate_name(const char *name, struct vol_error *err)
{
        if (!name || !*name)
                return vol_error_set(err, -EINVAL, "volume name is empty");
        size_t n = strlen(name);
        if (n > VOL_NAME_MAX)
                return vol_error_set(err, -EINVAL, "volume name is %zu bytes long; the most is %d", n,
                                     VOL_NAME_MAX);
        if (!is_alnum(name[0]))
                return vol_error_set(err, -EINVAL,
                                     "volume name must start with a letter or digit "
                                     "([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-')
                        return vol_error_set(err, -EINVAL,
                                             "volume name has a character that is not allowed at "
                                             "offset %zu; names match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
                                             i);
        return 0;
}

int vol_validate_driver_name(const char *name, struct vol_error *err)
{
        if (!name || !*name)
                return vol_error_set(err, -EINVAL, "driver name is empty");
        size_t n = strlen(name);
        if (n > VOL_DRIVER_NAME_MAX)
                return vol_error_set(err, -EINVAL, "driver name is longer than %d bytes",
                                     VOL_DRIVER_NAME_MAX);
        if (!is_lower_alnum(name[0]))
                return vol_error_set(err, -EINVAL, "driver name must start with [a-z0-9]");
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(name[i]) && name[i] != '_' && name[i] != '-')
                        return vol_error_set(err, -EINVAL, "driver name must match [a-z0-9][a-z0-9_-]*");
        return 0;
}

int vol_validate_labels(const struct vol_kvs *labels, struct vol_error *err)
{
        if (labels->n > VOL_LABELS_MAX)
                return vol_error_set(err, -E2BIG, "%zu labels given; the most is %d", labels->n,
                                     VOL_LABELS_MAX);
        for (size_t i = 0; i < labels->n; i++) {
                const char *k = labels->items[i].key, *v = labels->items[i].value;
                if (!*k)
                        return vol_error_set(err, -EINVAL, "label key is empty");
                if (strlen(k) > VOL_LABEL_KEY_MAX)
                        return vol_error_set(err, -EINVAL, "label key is longer than %d bytes",
                                             VOL_LABEL_KEY_MAX);
                if (!no_controls(k) || !valid_utf8(k) || strchr(k, '=') || strchr(k, ' '))
                        return vol_error_set(err, -EINVAL,
                                             "label key \"%s\" has a space, '=', a control character "
                                             "or bytes that are not UTF-8",
                                             no_controls(k) && valid_utf8(k) ? k : "?");
                if (strlen(v) > VOL_LABEL_VALUE_MAX)
                        return vol_error_set(err, -EINVAL, "value of label %s is longer than %d bytes",
                                             k, VOL_LABEL_VALUE_MAX);
                if (!no_controls(v) || !valid_utf8(v))
                        return vol_error_set(err, -EINVAL,
                                             "value of label %s has a control character or bytes "
                                             "that are not UTF-8",
                                             k);
        }
        return 0;
}

int vol_validate_options(const struct vol_kvs *options, struct vol_error *err)
{
        if (options->n > VOL_OPTIONS_MAX)
                return vol_error_set(err, -E2BIG, "%zu options given; the most is %d", options->n,
                                     VOL_OPTIONS_MAX);
        for (size_t i = 0; i < options->n; i++) {
                const char *k = options->items[i].key, *v = options->items[i].value;
                size_t kn = strlen(k);
                if (!kn || kn > VOL_OPTION_KEY_MAX)
                        return vol_error_set(err, -EINVAL, "option key must be 1 to %d bytes",
                                             VOL_OPTION_KEY_MAX);
                for (size_t j = 0; j < kn; j++)
                        if (!is_lower_alnum(k[j]) && k[j] != '_' && k[j] != '.' && k[j] != '-')
                                return vol_error_set(err, -EINVAL,
                                                     "option key must match [a-z0-9_.-]+");
                if (strlen(v) > VOL_OPTION_VALUE_MAX)
                        return vol_error_set(err, -EINVAL, "value of option %s is longer than %d bytes",
                                             k, VOL_OPTION_VALUE_MAX);
                if (!no_controls(v) || !valid_utf8(v))
                        return vol_error_set(err, -EINVAL,
                                             "value of option %s has a control character or bytes "
                                             "that are not UTF-8",
                                             k);
        }
        return 0;
}

int vol_validate_scope_part(const char *what, const char *value, struct vol_error *err)
{
        if (!value || !*value)
                return vol_error_set(err, -EINVAL, "%s is empty", what);
        size_t n = strlen(value);
        if (n > VOL_SCOPE_PART_MAX)
                return vol_error_set(err, -EINVAL, "%s is %zu bytes long; the most is %d", what, n,
                                     VOL_SCOPE_PART_MAX);
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(value[i]) && value[i] != '-')
                        return vol_error_set(err, -EINVAL,
                                             "%s may hold only lower-case letters, digits and '-' "
                                             "(a DNS label)",
                                             what);
        if (value[0] == '-' || value[n - 1] == '-')
                return vol_error_set(err, -EINVAL, "%s must start and end with a letter or digit", what);
        return 0;
}

int vol_validate_path(const char *path, struct vol_error *err)
{
        if (!path || !*path)
                return vol_error_set(err, -EINVAL, "path is empty");
        size_t n = strlen(path);
        if (n > VOL_PATH_MAX)
                return vol_error_set(err, -EINVAL, "path is %zu bytes long; the most is %d", n,
                                     VOL_PATH_MAX);
        if (!no_controls(path) || !valid_utf8(path))
                return vol_error_set(err, -EINVAL,
                                     "path has a control character or bytes that are not UTF-8");
        if (path[0] != '/')
                return vol_error_set(err, -EINVAL, "path %s is not absolute", path);
        if (n == 1)
                return vol_error_set(err, -EINVAL, "path / (the root itself) cannot be a volume");
        if (path[n - 1] == '/')
                return vol_error_set(err, -EINVAL, "path %s ends with '/'; write it without", path);
        const char *p = path;
        while (*p) {
                p++; /* past '/' */
                const char *e = strchrnul(p, '/');
                size_t len = (size_t)(e - p);
                if (len == 0)
                        return vol_error_set(err, -EINVAL, "path %s has an empty component ('//')",
                                             path);
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return vol_error_set(err, -EINVAL,
                                             "path %s has a '.' or '..' component; give it normalized",
                                             path);
                if (len > VOL_PATH_COMPONENT_MAX)
                        return vol_error_set(err, -EINVAL, "path %s has a component longer than %d bytes",
                                             path, VOL_PATH_COMPONENT_MAX);
                p = e;
        }
        return 0;
}

int vol_validate_scope(const struct vol_scope *s, struct vol_error *err)
{
        int r;
        if ((r = vol_validate_scope_part("tenant", s->tenant, err)) < 0 ||
            (r = vol_validate_scope_part("env", s->env, err)) < 0 ||
            (r = vol_validate_scope_part("app", s->app, err)) < 0)
                return r;
        r = vol_validate_path(s->path, err);
        if (r < 0)
                return vol_error_wrap(err, "scope ");
        return 0;
}

int vol_validate_mount_id(const char *id, struct vol_error *err)
{
        if (!id || !*id)
                return vol_error_set(err, -EINVAL, "mount id is empty");
        size_t n = strlen(id);
        if (n > VOL_MOUNT_ID_MAX)
                return vol_error_set(err, -EINVAL, "mount id is longer than %d bytes", VOL_MOUNT_ID_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
                        return vol_error_set(err, -EINVAL,
                                             "mount id must be printable ASCII without spaces");
        return 0;
}

int vol_validate_snapshot_name(const char *name, struct vol_error *err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > VOL_SNAPSHOT_NAME_MAX)
                return vol_error_set(err, -EINVAL, "a snapshot name is 1 to %d characters", VOL_SNAPSHOT_NAME_MAX);
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          (i > 0 && (c == '.' || c == '_' || c == '-'));
                if (!ok)
                        return vol_error_set(err, -EINVAL,
                                             "snapshot name %s: use letters, digits and . _ - (not first)", name);
        }
        return 0;
}
