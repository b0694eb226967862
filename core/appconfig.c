#include "appconfig.h"

#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "volume.h"
#include "xmalloc.h"

void vol_app_config_free(struct vol_app_config *c)
{
        for (size_t i = 0; i < c->n_paths; i++)
                free(c->paths[i]);
        free(c->paths);
        free(c->tmp_size);
        free(c->volume_driver);
        free(c->volume_size);
        free(c->network_mode);
        memset(c, 0, sizeof(*c));
}

int vol_validate_app_path(const char *path, struct vol_error *err)
{
        int r = vol_validate_path(path, err);
        if (r < 0)
                return r;
        if (!strcmp(path, "/tmp"))
                return vol_error_set(err, -EINVAL,
                                     "path /tmp is the container's tmpfs; choose a directory below it "
                                     "or elsewhere");
        static const char *const forbidden[] = {"/proc", "/sys", "/dev"};
        for (size_t i = 0; i < 3; i++) {
                size_t n = strlen(forbidden[i]);
                if (!strncmp(path, forbidden[i], n) && (path[n] == 0 || path[n] == '/'))
                        return vol_error_set(err, -EINVAL,
                                             "path %s is under %s, which the kernel provides; it cannot "
                                             "be a volume",
                                             path, forbidden[i]);
        }
        return 0;
}

static const char *const fields[] = {"writeableVolumes", "readOnlyRootfs", "tmpSize",
                                     "volumeDriver",     "volumeSize",     "networkMode", NULL};

/* A string field: 0 and *slot set (or left NULL when absent/null). */
static int string_field(json_t *obj, const char *key, size_t max, bool *has, char **slot,
                        struct vol_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
            strlen(json_string_value(v)) != json_string_length(v))
                return vol_error_set(err, -EINVAL, "%s must be a non-empty string of at most %zu bytes",
                                     key, max);
        *has = true;
        *slot = xstrdup(json_string_value(v));
        return 0;
}

static int parse(json_t *obj, struct vol_app_config *c, struct vol_error *err)
{
        if (!json_is_object(obj))
                return vol_error_set(err, -EINVAL, "a container config must be a JSON object");
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val)
        {
                bool known = false;
                for (const char *const *f = fields; *f; f++)
                        if (!strcmp(*f, key))
                                known = true;
                if (!known)
                        return vol_error_set(err, -EINVAL,
                                             "unknown field \"%.64s\" in the container config (known: "
                                             "writeableVolumes, readOnlyRootfs, tmpSize, volumeDriver, "
                                             "volumeSize, networkMode)",
                                             key);
        }
        json_t *wv = json_object_get(obj, "writeableVolumes");
        if (wv && !json_is_null(wv)) {
                if (!json_is_array(wv))
                        return vol_error_set(err, -EINVAL, "writeableVolumes must be a list of paths");
                if (json_array_size(wv) > VOL_APP_PATHS_MAX)
                        return vol_error_set(err, -E2BIG, "writeableVolumes has %zu paths; the most is %d",
                                             json_array_size(wv), VOL_APP_PATHS_MAX);
                c->has_writeable_volumes = true;
                c->paths = xcalloc(json_array_size(wv) ? json_array_size(wv) : 1, sizeof(char *));
                size_t i;
                json_t *p;
                json_array_foreach(wv, i, p)
                {
                        if (!json_is_string(p) || strlen(json_string_value(p)) != json_string_length(p))
                                return vol_error_set(err, -EINVAL, "writeableVolumes[%zu] must be a string", i);
                        const char *path = json_string_value(p);
                        int r = vol_validate_app_path(path, err);
                        if (r < 0)
                                return vol_error_wrap(err, "writeableVolumes[%zu]: ", i);
                        for (size_t j = 0; j < c->n_paths; j++)
                                if (!strcmp(c->paths[j], path))
                                        return vol_error_set(err, -EINVAL,
                                                             "writeableVolumes lists %s twice", path);
                        c->paths[c->n_paths++] = xstrdup(path);
                }
        }
        json_t *ro = json_object_get(obj, "readOnlyRootfs");
        if (ro && !json_is_null(ro)) {
                if (!json_is_boolean(ro))
                        return vol_error_set(err, -EINVAL, "readOnlyRootfs must be true or false");
                c->has_read_only_rootfs = true;
                c->read_only_rootfs = json_is_true(ro);
        }
        int r;
        if ((r = string_field(obj, "tmpSize", 32, &c->has_tmp_size, &c->tmp_size, err)) < 0 ||
            (r = string_field(obj, "volumeDriver", VOL_DRIVER_NAME_MAX, &c->has_volume_driver,
                              &c->volume_driver, err)) < 0 ||
            (r = string_field(obj, "volumeSize", 32, &c->has_volume_size, &c->volume_size, err)) < 0 ||
            (r = string_field(obj, "networkMode", 64, &c->has_network_mode, &c->network_mode, err)) < 0)
                return r;
        uint64_t size;
        if (c->tmp_size && (r = vol_parse_size("tmpSize", c->tmp_size, &size, err)) < 0)
                return r;
        if (c->volume_size && (r = vol_parse_size("volumeSize", c->volume_size, &size, err)) < 0)
                return r;
        if (c->volume_driver && (r = vol_validate_driver_name(c->volume_driver, err)) < 0)
                return vol_error_wrap(err, "volumeDriver: ");
        if (c->network_mode) {
                for (const char *p = c->network_mode; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                              *p == '_' || *p == '.' || *p == ':'))
                                return vol_error_set(err, -EINVAL,
                                                     "networkMode may hold only [a-z0-9_.:-]");
        }
        return 0;
}

int vol_app_config_from_json(json_t *obj, struct vol_app_config *ret, struct vol_error *err)
{
        struct vol_app_config c;
        memset(&c, 0, sizeof(c));
        int r = parse(obj, &c, err);
        if (r < 0) {
                vol_app_config_free(&c);
                return r;
        }
        *ret = c;
        return 0;
}

int vol_app_config_to_json(const struct vol_app_config *c, struct vol_strbuf *out)
{
        int r = vol_strbuf_putc(out, '{');
        bool first = true;
#define SEP() (first ? (first = false, 0) : vol_strbuf_putc(out, ','))
        if (c->has_writeable_volumes) {
                r |= SEP();
                r |= vol_strbuf_puts(out, "\"writeableVolumes\":[");
                for (size_t i = 0; i < c->n_paths; i++) {
                        if (i)
                                r |= vol_strbuf_putc(out, ',');
                        r |= vol_strbuf_json_string(out, c->paths[i]);
                }
                r |= vol_strbuf_putc(out, ']');
        }
        if (c->has_read_only_rootfs) {
                r |= SEP();
                r |= vol_strbuf_puts(out, c->read_only_rootfs ? "\"readOnlyRootfs\":true"
                                                              : "\"readOnlyRootfs\":false");
        }
        const struct {
                bool has;
                const char *key;
                const char *value;
        } strs[] = {
                {c->has_tmp_size, "tmpSize", c->tmp_size},
                {c->has_volume_driver, "volumeDriver", c->volume_driver},
                {c->has_volume_size, "volumeSize", c->volume_size},
                {c->has_network_mode, "networkMode", c->network_mode},
        };
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
                if (!strs[i].has)
                        continue;
                r |= SEP();
                r |= vol_strbuf_printf(out, "\"%s\":", strs[i].key);
                if (strs[i].value)
                        r |= vol_strbuf_json_string(out, strs[i].value);
                else
                        r |= vol_strbuf_puts(out, "null");
        }
#undef SEP
        r |= vol_strbuf_putc(out, '}');
        return r ? -E2BIG : 0;
}

/* The most specific layer that sets a field. */
#define PICK(field) (app && app->has_##field ? app : env && env->has_##field ? env : global && global->has_##field ? global : NULL)

int vol_app_config_merge(const struct vol_app_config *global, const struct vol_app_config *env,
                         const struct vol_app_config *app, struct vol_app_config *ret,
                         struct vol_error *err)
{
        struct vol_app_config m;
        memset(&m, 0, sizeof(m));
        const struct vol_app_config *src;

        m.has_writeable_volumes = true;
        if ((src = PICK(writeable_volumes))) {
                m.n_paths = src->n_paths;
                m.paths = xcalloc(src->n_paths ? src->n_paths : 1, sizeof(char *));
                for (size_t i = 0; i < src->n_paths; i++)
                        m.paths[i] = xstrdup(src->paths[i]);
        }
        m.has_read_only_rootfs = true;
        m.read_only_rootfs = (src = PICK(read_only_rootfs)) ? src->read_only_rootfs : true;
        m.has_tmp_size = true;
        m.tmp_size = xstrdup((src = PICK(tmp_size)) ? src->tmp_size : VOL_APP_DEFAULT_TMP_SIZE);
        m.has_volume_driver = true;
        m.volume_driver = xstrdup((src = PICK(volume_driver)) ? src->volume_driver
                                                               : VOL_APP_DEFAULT_VOLUME_DRIVER);
        m.has_volume_size = true;
        m.volume_size = (src = PICK(volume_size)) && src->volume_size ? xstrdup(src->volume_size) : NULL;
        m.has_network_mode = true;
        m.network_mode = (src = PICK(network_mode)) && src->network_mode ? xstrdup(src->network_mode) : NULL;
        *ret = m;
        (void)err;
        return 0;
}
#undef PICK
