#include "appconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "size.h"
#include "volume.h"
#include "xmalloc.h"

const char *vol_layer_name(enum vol_layer layer)
{
        switch (layer) {
        case VOL_LAYER_GLOBAL:
                return "global";
        case VOL_LAYER_ENV:
                return "env";
        case VOL_LAYER_APP:
                return "app";
        }
        return "unknown";
}

static void free_list(char **items, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(items[i]);
        free(items);
}

void vol_app_config_free(struct vol_app_config *c)
{
        free_list(c->paths, c->n_paths);
        free_list(c->caps, c->n_caps);
        free(c->tmp_size);
        free(c->volume_driver);
        free(c->volume_size);
        free(c->network_mode);
        free(c->memory);
        vol_con_config_free(&c->con);
        vol_con_sides_free(&c->sides);
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

#define KNOWN_FIELDS                                                                               \
        "writeableVolumes, readOnlyRootfs, tmpSize, volumeDriver, volumeSize, networkMode, "        \
        "capAdd, pidsLimit, memory, con, sides"

static const char *const fields[] = {"writeableVolumes", "readOnlyRootfs", "tmpSize",   "volumeDriver",
                                     "volumeSize",       "networkMode",    "capAdd",    "pidsLimit",
                                     "memory",           "con",            "sides",     NULL};

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

static int parse_paths(json_t *wv, struct vol_app_config *c, struct vol_error *err)
{
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
                                return vol_error_set(err, -EINVAL, "writeableVolumes lists %s twice", path);
                c->paths[c->n_paths++] = xstrdup(path);
        }
        return 0;
}

/* The capabilities Linux knows (linux/capability.h, up to CAP_CHECKPOINT_RESTORE). */
static const char *const capabilities[] = {
        "CHOWN",           "DAC_OVERRIDE",  "DAC_READ_SEARCH", "FOWNER",     "FSETID",
        "KILL",            "SETGID",        "SETUID",          "SETPCAP",    "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",      "NET_RAW",    "IPC_LOCK",
        "IPC_OWNER",       "SYS_MODULE",    "SYS_RAWIO",       "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT",       "SYS_ADMIN",     "SYS_BOOT",        "SYS_NICE",   "SYS_RESOURCE",
        "SYS_TIME",        "SYS_TTY_CONFIG", "MKNOD",          "LEASE",      "AUDIT_WRITE",
        "AUDIT_CONTROL",   "SETFCAP",       "MAC_OVERRIDE",    "MAC_ADMIN",  "SYSLOG",
        "WAKE_ALARM",      "BLOCK_SUSPEND", "AUDIT_READ",      "PERFMON",    "BPF",
        "CHECKPOINT_RESTORE",
};

/* The capability named s (with or without "CAP_", any case), as Linux
 * spells it without the prefix (static), or NULL when Linux has none so named. */
static const char *capability_named(const char *s)
{
        if (!strncasecmp(s, "CAP_", 4))
                s += 4;
        for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++)
                if (!strcasecmp(s, capabilities[i]))
                        return capabilities[i];
        return NULL;
}

static int parse_caps(json_t *ca, struct vol_app_config *c, struct vol_error *err)
{
        if (!json_is_array(ca))
                return vol_error_set(err, -EINVAL, "capAdd must be a list of capability names");
        if (json_array_size(ca) > VOL_APP_CAPS_MAX)
                return vol_error_set(err, -E2BIG, "capAdd has %zu entries; the most is %d",
                                     json_array_size(ca), VOL_APP_CAPS_MAX);
        c->has_cap_add = true;
        c->caps = xcalloc(json_array_size(ca) ? json_array_size(ca) : 1, sizeof(char *));
        size_t i;
        json_t *v;
        json_array_foreach(ca, i, v)
        {
                const char *s = json_is_string(v) ? json_string_value(v) : NULL;
                if (!s || strlen(s) != json_string_length(v))
                        return vol_error_set(err, -EINVAL, "capAdd[%zu] must be a string", i);
                if (!strcasecmp(s, "ALL") || !strcasecmp(s, "CAP_ALL"))
                        return vol_error_set(err, -EINVAL,
                                             "capAdd may not hold ALL; name each capability the apps need");
                const char *cap = capability_named(s);
                if (!cap)
                        return vol_error_set(err, -EINVAL,
                                             "capAdd[%zu] \"%.40s\" is not a capability Linux knows (like "
                                             "NET_BIND_SERVICE or CAP_CHOWN)",
                                             i, s);
                for (size_t j = 0; j < c->n_caps; j++)
                        if (!strcmp(c->caps[j], cap))
                                return vol_error_set(err, -EINVAL, "capAdd lists %s twice", cap);
                c->caps[c->n_caps++] = xstrdup(cap);
        }
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
                                             "unknown field \"%.64s\" in the container config (known: " KNOWN_FIELDS
                                             ")",
                                             key);
        }
        int r;
        json_t *wv = json_object_get(obj, "writeableVolumes");
        if (wv && !json_is_null(wv) && (r = parse_paths(wv, c, err)) < 0)
                return r;
        json_t *ca = json_object_get(obj, "capAdd");
        if (ca && !json_is_null(ca) && (r = parse_caps(ca, c, err)) < 0)
                return r;
        json_t *con = json_object_get(obj, "con");
        if (con && !json_is_null(con)) {
                if ((r = vol_con_config_from_json(con, &c->con, err)) < 0)
                        return r;
                c->has_con = true;
        }
        json_t *sides = json_object_get(obj, "sides");
        if (sides && !json_is_null(sides)) {
                if ((r = vol_con_sides_from_json(sides, &c->sides, err)) < 0)
                        return r;
                c->has_sides = true;
        }
        json_t *ro = json_object_get(obj, "readOnlyRootfs");
        if (ro && !json_is_null(ro)) {
                if (!json_is_boolean(ro))
                        return vol_error_set(err, -EINVAL, "readOnlyRootfs must be true or false");
                c->has_read_only_rootfs = true;
                c->read_only_rootfs = json_is_true(ro);
        }
        json_t *pl = json_object_get(obj, "pidsLimit");
        if (pl && !json_is_null(pl)) {
                if (!json_is_integer(pl) || json_integer_value(pl) < 1 ||
                    json_integer_value(pl) > VOL_APP_PIDS_MAX)
                        return vol_error_set(err, -EINVAL, "pidsLimit must be a whole number from 1 to %d",
                                             VOL_APP_PIDS_MAX);
                c->has_pids_limit = true;
                c->pids_limit = json_integer_value(pl);
        }
        if ((r = string_field(obj, "tmpSize", 32, &c->has_tmp_size, &c->tmp_size, err)) < 0 ||
            (r = string_field(obj, "volumeDriver", VOL_DRIVER_NAME_MAX, &c->has_volume_driver,
                              &c->volume_driver, err)) < 0 ||
            (r = string_field(obj, "volumeSize", 32, &c->has_volume_size, &c->volume_size, err)) < 0 ||
            (r = string_field(obj, "networkMode", 64, &c->has_network_mode, &c->network_mode, err)) < 0 ||
            (r = string_field(obj, "memory", 32, &c->has_memory, &c->memory, err)) < 0)
                return r;
        uint64_t size;
        if (c->tmp_size && (r = vol_parse_size("tmpSize", c->tmp_size, &size, err)) < 0)
                return r;
        if (c->volume_size && (r = vol_parse_size("volumeSize", c->volume_size, &size, err)) < 0)
                return r;
        if (c->memory && (r = vol_parse_size("memory", c->memory, &size, err)) < 0)
                return r;
        if (c->memory && size < (UINT64_C(6) << 20))
                return vol_error_set(err, -EINVAL, "memory must be at least 6m (the engines' minimum)");
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

int vol_app_config_check_layer(const struct vol_app_config *c, enum vol_layer layer,
                               struct vol_error *err)
{
        if (layer == VOL_LAYER_GLOBAL)
                return 0;
        const char *l = vol_layer_name(layer);
        if (c->has_read_only_rootfs && !c->read_only_rootfs)
                return vol_error_set(err, -EPERM,
                                     "readOnlyRootfs false in the %s layer: only the platform's global "
                                     "layer may give containers a writable root filesystem; declare "
                                     "writeableVolumes instead",
                                     l);
        if (c->has_network_mode &&
            (!strcmp(c->network_mode, "host") || strchr(c->network_mode, ':')))
                return vol_error_set(err, -EPERM,
                                     "networkMode %s in the %s layer: only the platform's global layer may "
                                     "share the host's or another container's network namespace",
                                     c->network_mode, l);
        return 0;
}

static int string_list_json(struct vol_strbuf *out, const char *key, char **items, size_t n)
{
        int r = vol_strbuf_printf(out, "\"%s\":[", key);
        for (size_t i = 0; i < n; i++) {
                if (i)
                        r |= vol_strbuf_putc(out, ',');
                r |= vol_strbuf_json_string(out, items[i]);
        }
        return r | vol_strbuf_putc(out, ']');
}

int vol_app_config_to_json(const struct vol_app_config *c, struct vol_strbuf *out)
{
        int r = vol_strbuf_putc(out, '{');
        bool first = true;
#define SEP() (first ? (first = false, 0) : vol_strbuf_putc(out, ','))
        if (c->has_writeable_volumes) {
                r |= SEP();
                r |= string_list_json(out, "writeableVolumes", c->paths, c->n_paths);
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
                {c->has_memory, "memory", c->memory},
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
        if (c->has_cap_add) {
                r |= SEP();
                r |= string_list_json(out, "capAdd", c->caps, c->n_caps);
        }
        if (c->has_pids_limit) {
                r |= SEP();
                r |= vol_strbuf_printf(out, "\"pidsLimit\":%lld", (long long)c->pids_limit);
        }
        if (c->has_con) {
                r |= SEP();
                r |= vol_strbuf_puts(out, "\"con\":");
                r |= vol_con_config_to_json(&c->con, out);
        }
        if (c->has_sides) {
                r |= SEP();
                r |= vol_strbuf_puts(out, "\"sides\":");
                r |= vol_con_sides_to_json(&c->sides, out);
        }
#undef SEP
        r |= vol_strbuf_putc(out, '}');
        return r ? -E2BIG : 0;
}

static char **dup_list(char **items, size_t n)
{
        char **d = xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                d[i] = xstrdup(items[i]);
        return d;
}

static bool list_has(char **items, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(items[i], s))
                        return true;
        return false;
}

/* Limits may only go down from the layers above: each tenant layer that sets
 * one is checked against what is in force above it. */
static int check_limits(const struct vol_app_config *global, const struct vol_app_config *env,
                        const struct vol_app_config *app, struct vol_error *err)
{
        const struct vol_app_config *tenant_layers[2] = {env, app};
        int64_t pids = global && global->has_pids_limit ? global->pids_limit : VOL_APP_DEFAULT_PIDS_LIMIT;
        uint64_t mem = 0;
        const char *mem_text = global && global->has_memory ? global->memory : VOL_APP_DEFAULT_MEMORY;
        vol_parse_size("memory", mem_text, &mem, NULL);
        for (int i = 0; i < 2; i++) {
                const struct vol_app_config *c = tenant_layers[i];
                const char *l = vol_layer_name(i == 0 ? VOL_LAYER_ENV : VOL_LAYER_APP);
                if (!c)
                        continue;
                if (c->has_pids_limit) {
                        if (c->pids_limit > pids)
                                return vol_error_set(err, -EPERM,
                                                     "pidsLimit %lld in the %s layer is above the %lld the "
                                                     "layers above allow; a tenant layer may only lower it",
                                                     (long long)c->pids_limit, l, (long long)pids);
                        pids = c->pids_limit;
                }
                if (c->has_memory) {
                        uint64_t m = 0;
                        vol_parse_size("memory", c->memory, &m, NULL);
                        if (m > mem)
                                return vol_error_set(err, -EPERM,
                                                     "memory %s in the %s layer is above the %s the layers "
                                                     "above allow; a tenant layer may only lower it",
                                                     c->memory, l, mem_text);
                        mem = m;
                        mem_text = c->memory;
                }
                for (size_t k = 0; c->has_cap_add && k < c->n_caps; k++)
                        if (!global || !list_has(global->caps, global->n_caps, c->caps[k]))
                                return vol_error_set(err, -EPERM,
                                                     "capAdd %s in the %s layer: the platform's global layer "
                                                     "does not grant it (a tenant layer may only name "
                                                     "capabilities the global capAdd lists)",
                                                     c->caps[k], l);
        }
        return 0;
}

/* The most specific layer that sets a field. */
#define PICK(field) (app && app->has_##field ? app : env && env->has_##field ? env : global && global->has_##field ? global : NULL)

/* With con on, /con belongs to the interface: a writeable volume at or under
 * it would hide an area (or be hidden by one). */
static int check_con_paths(const struct vol_app_config *m, struct vol_error *err)
{
        size_t n = strlen(VOL_CON_ROOT);
        for (size_t i = 0; m->con.enabled && i < m->n_paths; i++)
                if (!strncmp(m->paths[i], VOL_CON_ROOT, n) && (!m->paths[i][n] || m->paths[i][n] == '/'))
                        return vol_error_set(err, -EINVAL,
                                             "writeableVolumes lists %s, but with con on /con belongs to the "
                                             "/con interface (its data, log and var areas are the app's volumes)",
                                             m->paths[i]);
        return 0;
}

int vol_app_config_merge(const struct vol_app_config *global, const struct vol_app_config *env,
                         const struct vol_app_config *app, struct vol_app_config *ret,
                         struct vol_error *err)
{
        int r;
        if ((env && (r = vol_app_config_check_layer(env, VOL_LAYER_ENV, err)) < 0) ||
            (app && (r = vol_app_config_check_layer(app, VOL_LAYER_APP, err)) < 0) ||
            (r = check_limits(global, env, app, err)) < 0)
                return r;
        struct vol_app_config m;
        memset(&m, 0, sizeof(m));
        const struct vol_app_config *src;

        m.has_writeable_volumes = true;
        if ((src = PICK(writeable_volumes))) {
                m.n_paths = src->n_paths;
                m.paths = dup_list(src->paths, src->n_paths);
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
        m.has_cap_add = true;
        if ((src = PICK(cap_add))) {
                m.n_caps = src->n_caps;
                m.caps = dup_list(src->caps, src->n_caps);
        }
        m.has_pids_limit = true;
        m.pids_limit = (src = PICK(pids_limit)) ? src->pids_limit : VOL_APP_DEFAULT_PIDS_LIMIT;
        m.has_memory = true;
        m.memory = xstrdup((src = PICK(memory)) ? src->memory : VOL_APP_DEFAULT_MEMORY);
        m.has_con = true;
        vol_con_config_merge(global && global->has_con ? &global->con : NULL, env && env->has_con ? &env->con : NULL,
                             app && app->has_con ? &app->con : NULL, &m.con);
        m.con.set = true;
        m.has_sides = true;
        if ((src = PICK(sides)))
                vol_con_sides_copy(&src->sides, &m.sides);
        m.sides.set = true;
        if ((r = check_con_paths(&m, err)) < 0) {
                vol_app_config_free(&m);
                return r;
        }
        *ret = m;
        return 0;
}
#undef PICK

const char *const vol_app_config_fields[VOL_APP_FIELDS] = {
        "writeableVolumes", "readOnlyRootfs", "tmpSize",  "volumeDriver", "volumeSize",
        "networkMode",      "capAdd",         "pidsLimit", "memory",       "con",
        "sides",
};

/* Whether c sets field i of vol_app_config_fields. */
static bool sets(const struct vol_app_config *c, int i)
{
        if (!c)
                return false;
        const bool has[VOL_APP_FIELDS] = {c->has_writeable_volumes, c->has_read_only_rootfs, c->has_tmp_size,
                                          c->has_volume_driver,     c->has_volume_size,     c->has_network_mode,
                                          c->has_cap_add,           c->has_pids_limit,      c->has_memory,
                                          c->has_con,               c->has_sides};
        return has[i];
}

void vol_app_config_sources(const struct vol_app_config *global, const struct vol_app_config *env,
                            const struct vol_app_config *app, const char *out[VOL_APP_FIELDS])
{
        for (int i = 0; i < VOL_APP_FIELDS; i++)
                out[i] = sets(app, i) ? "app" : sets(env, i) ? "env" : sets(global, i) ? "global" : "default";
}
