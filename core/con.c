#include "con.h"

#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "volume.h"
#include "xmalloc.h"

static const char *const area_names[VOL_CON_AREAS] = {
        "configuration", "context", "secret", "seed", "proc", "data", "log", "var",
};

#define AREA_LIST "configuration, context, secret, seed, proc, data, log, var"

/* vol_error_wrap that keeps the code r when err is NULL. */
#define WRAP(r, err, ...) ((err) ? vol_error_wrap((err), __VA_ARGS__) : (r))

const char *vol_con_area_name(enum vol_con_area a)
{
        return a < VOL_CON_AREAS ? area_names[a] : "unknown";
}

int vol_con_area_from_name(const char *name, struct vol_error *err)
{
        for (int i = 0; i < VOL_CON_AREAS; i++)
                if (name && !strcmp(name, area_names[i]))
                        return i;
        return vol_error_set(err, -EINVAL, "\"%.40s\" is not a /con area (the areas: " AREA_LIST ")",
                             name ? name : "");
}

bool vol_con_area_persistent(enum vol_con_area a)
{
        return a == VOL_CON_DATA || a == VOL_CON_LOG || a == VOL_CON_VAR;
}

bool vol_con_area_has_files(enum vol_con_area a)
{
        return a == VOL_CON_CONFIGURATION || a == VOL_CON_CONTEXT;
}

bool vol_con_area_side_writable(enum vol_con_area a)
{
        return a != VOL_CON_SEED && a != VOL_CON_PROC && a < VOL_CON_AREAS;
}

void vol_con_config_free(struct vol_con_config *c)
{
        for (int i = 0; i < VOL_CON_AREAS; i++)
                free(c->areas[i].from);
        memset(c, 0, sizeof(*c));
}

int vol_con_parse_from(const char *from, char **ret_image, char **ret_path, struct vol_error *err)
{
        const char *sep = NULL;
        for (const char *p = strstr(from, ":/"); p; p = strstr(p + 1, ":/"))
                sep = p;
        if (!sep || sep == from)
                return vol_error_set(err, -EINVAL, "from \"%.80s\" must read IMAGE:/path", from);
        if (sep - from > 512)
                return vol_error_set(err, -EINVAL, "from: the image name is longer than 512 bytes");
        for (const char *p = from; p < sep; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return vol_error_set(err, -EINVAL, "from: the image name has a space or a control character");
        int r = vol_validate_path(sep + 1, err);
        if (r < 0)
                return WRAP(r, err, "from: ");
        *ret_image = xstrndup(from, (size_t)(sep - from));
        *ret_path = xstrdup(sep + 1);
        return 0;
}

static int area_value(const char *name, enum vol_con_area a, json_t *v, struct vol_con_area_config *ret,
                      struct vol_error *err)
{
        if (json_is_boolean(v)) {
                *ret = (struct vol_con_area_config){true, json_is_true(v), NULL};
                return 0;
        }
        if (!json_is_object(v))
                return vol_error_set(err, -EINVAL, "con.%s must be true, false or {\"from\": \"IMAGE:/path\"}", name);
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) if (strcmp(key, "from")) return vol_error_set(
                err, -EINVAL, "unknown field \"%.40s\" in con.%s (known: from)", key, name);
        json_t *from = json_object_get(v, "from");
        if (!json_is_string(from) || strlen(json_string_value(from)) != json_string_length(from))
                return vol_error_set(err, -EINVAL, "con.%s.from must be a string IMAGE:/path", name);
        if (!vol_con_area_persistent(a))
                return vol_error_set(err, -EINVAL,
                                     "con.%s.from: only the persistent areas (data, log, var) start from an "
                                     "image's content",
                                     name);
        char *image, *path;
        int r = vol_con_parse_from(json_string_value(from), &image, &path, err);
        if (r < 0)
                return WRAP(r, err, "con.%s.", name);
        free(image);
        free(path);
        *ret = (struct vol_con_area_config){true, true, xstrdup(json_string_value(from))};
        return 0;
}

int vol_con_config_from_json(json_t *v, struct vol_con_config *ret, struct vol_error *err)
{
        struct vol_con_config c;
        memset(&c, 0, sizeof(c));
        c.set = true;
        if (json_is_boolean(v)) {
                c.enabled = json_is_true(v);
                for (int i = 0; c.enabled && i < VOL_CON_AREAS; i++)
                        c.areas[i] = (struct vol_con_area_config){true, true, NULL};
                *ret = c;
                return 0;
        }
        if (!json_is_object(v))
                return vol_error_set(err, -EINVAL,
                                     "con must be true, false or an object of areas (" AREA_LIST ")");
        c.enabled = true;
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val)
        {
                int a = vol_con_area_from_name(key, err);
                int r = a < 0 ? a : area_value(key, (enum vol_con_area)a, val, &c.areas[a], err);
                if (r < 0) {
                        if (a < 0)
                                WRAP(r, err, "con: ");
                        vol_con_config_free(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

int vol_con_config_to_json(const struct vol_con_config *c, struct vol_strbuf *out)
{
        bool all = c->enabled;
        for (int i = 0; i < VOL_CON_AREAS; i++)
                if (!c->areas[i].set || !c->areas[i].on || c->areas[i].from)
                        all = false;
        if (!c->enabled || all)
                return vol_strbuf_puts(out, c->enabled ? "true" : "false") ? -E2BIG : 0;
        int r = vol_strbuf_putc(out, '{');
        bool first = true;
        for (int i = 0; i < VOL_CON_AREAS; i++) {
                const struct vol_con_area_config *a = &c->areas[i];
                if (!a->set)
                        continue;
                r |= vol_strbuf_printf(out, "%s\"%s\":", first ? "" : ",", area_names[i]);
                first = false;
                if (a->from) {
                        r |= vol_strbuf_puts(out, "{\"from\":");
                        r |= vol_strbuf_json_string(out, a->from);
                        r |= vol_strbuf_putc(out, '}');
                } else
                        r |= vol_strbuf_puts(out, a->on ? "true" : "false");
        }
        r |= vol_strbuf_putc(out, '}');
        return r ? -E2BIG : 0;
}

void vol_con_config_merge(const struct vol_con_config *global, const struct vol_con_config *env,
                          const struct vol_con_config *app, struct vol_con_config *ret)
{
        const struct vol_con_config *layers[3] = {global, env, app};
        struct vol_con_config m;
        memset(&m, 0, sizeof(m));
        for (int l = 0; l < 3; l++) {
                const struct vol_con_config *c = layers[l];
                if (!c || !c->set)
                        continue;
                m.set = true;
                if (!c->enabled) {
                        vol_con_config_free(&m);
                        m.set = true;
                        continue;
                }
                m.enabled = true;
                for (int i = 0; i < VOL_CON_AREAS; i++) {
                        if (!c->areas[i].set)
                                continue;
                        free(m.areas[i].from);
                        m.areas[i] = (struct vol_con_area_config){true, c->areas[i].on,
                                                                  c->areas[i].from ? xstrdup(c->areas[i].from) : NULL};
                }
        }
        for (int i = 0; m.enabled && i < VOL_CON_AREAS; i++)
                if (!m.areas[i].set)
                        m.areas[i] = (struct vol_con_area_config){true, true, NULL};
        *ret = m;
}

/* ---- sides ---- */

static void side_free(struct vol_con_side *s)
{
        free(s->name);
        free(s->image);
        for (size_t i = 0; i < s->n_cmd; i++)
                free(s->cmd[i]);
        free(s->cmd);
}

void vol_con_sides_free(struct vol_con_sides *s)
{
        for (size_t i = 0; i < s->n; i++)
                side_free(&s->items[i]);
        free(s->items);
        memset(s, 0, sizeof(*s));
}

static bool plain_string(json_t *v)
{
        return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int side_from_json(size_t idx, json_t *o, struct vol_con_side *s, struct vol_error *err)
{
        static const char *const known[] = {"name", "image", "cmd", "when", "writes", "timeout", NULL};
        if (!json_is_object(o))
                return vol_error_set(err, -EINVAL, "sides[%zu] must be an object", idx);
        const char *key;
        json_t *val;
        json_object_foreach(o, key, val)
        {
                bool ok = false;
                for (const char *const *k = known; *k; k++)
                        ok |= !strcmp(*k, key);
                if (!ok)
                        return vol_error_set(err, -EINVAL,
                                             "unknown field \"%.40s\" in sides[%zu] (known: name, image, cmd, "
                                             "when, writes, timeout)",
                                             key, idx);
        }
        json_t *name = json_object_get(o, "name"), *image = json_object_get(o, "image");
        if (!plain_string(name))
                return vol_error_set(err, -EINVAL, "sides[%zu] needs a name (a string without NUL)", idx);
        int vr = vol_validate_scope_part("side name", json_string_value(name), err);
        if (vr < 0)
                return WRAP(vr, err, "sides[%zu]: ", idx);
        if (json_string_length(name) > 32)
                return vol_error_set(err, -EINVAL, "sides[%zu]: the name is longer than 32 bytes", idx);
        s->name = xstrdup(json_string_value(name));
        if (!plain_string(image) || json_string_length(image) == 0 || json_string_length(image) > 512)
                return vol_error_set(err, -EINVAL, "side %s needs an image (a string of at most 512 bytes)", s->name);
        for (const char *p = json_string_value(image); *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return vol_error_set(err, -EINVAL, "side %s: the image has a space or a control character",
                                             s->name);
        s->image = xstrdup(json_string_value(image));
        json_t *when = json_object_get(o, "when");
        if (!plain_string(when) ||
            (strcmp(json_string_value(when), "before") && strcmp(json_string_value(when), "along")))
                return vol_error_set(err, -EINVAL, "side %s: when must be \"before\" or \"along\"", s->name);
        s->before = !strcmp(json_string_value(when), "before");
        json_t *cmd = json_object_get(o, "cmd");
        if (cmd && !json_is_null(cmd)) {
                if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 64)
                        return vol_error_set(err, -EINVAL, "side %s: cmd must be a list of 1 to 64 strings", s->name);
                s->cmd = xcalloc(json_array_size(cmd), sizeof(char *));
                size_t i;
                json_t *a;
                json_array_foreach(cmd, i, a)
                {
                        if (!plain_string(a) || json_string_length(a) > 4096)
                                return vol_error_set(err, -EINVAL,
                                                     "side %s: cmd[%zu] must be a string of at most 4096 bytes",
                                                     s->name, i);
                        s->cmd[s->n_cmd++] = xstrdup(json_string_value(a));
                }
        }
        json_t *writes = json_object_get(o, "writes");
        if (writes && !json_is_null(writes)) {
                if (!json_is_array(writes))
                        return vol_error_set(err, -EINVAL, "side %s: writes must be a list of areas", s->name);
                size_t i;
                json_t *a;
                json_array_foreach(writes, i, a)
                {
                        int area = vol_con_area_from_name(json_is_string(a) ? json_string_value(a) : NULL, err);
                        if (area < 0)
                                return WRAP(area, err, "side %s: writes[%zu]: ", s->name, i);
                        if (!vol_con_area_side_writable((enum vol_con_area)area))
                                return vol_error_set(err, -EINVAL,
                                                     "side %s: the %s area is volmand's to write, not a side's",
                                                     s->name, area_names[area]);
                        s->writes |= 1u << area;
                }
        }
        s->timeout = VOL_CON_SIDE_TIMEOUT_DEFAULT;
        json_t *t = json_object_get(o, "timeout");
        if (t && !json_is_null(t)) {
                if (!json_is_integer(t) || json_integer_value(t) < 1 ||
                    json_integer_value(t) > VOL_CON_SIDE_TIMEOUT_MAX)
                        return vol_error_set(err, -EINVAL, "side %s: timeout must be whole seconds from 1 to %d",
                                             s->name, VOL_CON_SIDE_TIMEOUT_MAX);
                if (!s->before)
                        return vol_error_set(err, -EINVAL, "side %s: only a `before` side has a timeout", s->name);
                s->timeout = (unsigned)json_integer_value(t);
        }
        return 0;
}

int vol_con_sides_from_json(json_t *v, struct vol_con_sides *ret, struct vol_error *err)
{
        if (!json_is_array(v))
                return vol_error_set(err, -EINVAL, "sides must be a list of side containers");
        if (json_array_size(v) > VOL_CON_SIDES_MAX)
                return vol_error_set(err, -E2BIG, "sides has %zu containers; the most is %d", json_array_size(v),
                                     VOL_CON_SIDES_MAX);
        struct vol_con_sides s = {true, 0, xcalloc(json_array_size(v) ? json_array_size(v) : 1, sizeof(*s.items))};
        size_t i;
        json_t *o;
        json_array_foreach(v, i, o)
        {
                int r = side_from_json(i, o, &s.items[s.n], err);
                s.n++;
                for (size_t j = 0; r == 0 && j + 1 < s.n; j++)
                        if (!strcmp(s.items[j].name, s.items[s.n - 1].name))
                                r = vol_error_set(err, -EINVAL, "sides names %s twice", s.items[j].name);
                if (r < 0) {
                        vol_con_sides_free(&s);
                        return r;
                }
        }
        *ret = s;
        return 0;
}

int vol_con_sides_to_json(const struct vol_con_sides *s, struct vol_strbuf *out)
{
        int r = vol_strbuf_putc(out, '[');
        for (size_t i = 0; i < s->n; i++) {
                const struct vol_con_side *d = &s->items[i];
                r |= vol_strbuf_puts(out, i ? ",{\"name\":" : "{\"name\":");
                r |= vol_strbuf_json_string(out, d->name);
                r |= vol_strbuf_puts(out, ",\"image\":");
                r |= vol_strbuf_json_string(out, d->image);
                if (d->cmd) {
                        r |= vol_strbuf_puts(out, ",\"cmd\":[");
                        for (size_t k = 0; k < d->n_cmd; k++) {
                                r |= k ? vol_strbuf_putc(out, ',') : 0;
                                r |= vol_strbuf_json_string(out, d->cmd[k]);
                        }
                        r |= vol_strbuf_putc(out, ']');
                }
                r |= vol_strbuf_printf(out, ",\"when\":\"%s\",\"writes\":[", d->before ? "before" : "along");
                bool first = true;
                for (int a = 0; a < VOL_CON_AREAS; a++)
                        if (d->writes & (1u << a)) {
                                r |= vol_strbuf_printf(out, "%s\"%s\"", first ? "" : ",", area_names[a]);
                                first = false;
                        }
                r |= vol_strbuf_putc(out, ']');
                if (d->before)
                        r |= vol_strbuf_printf(out, ",\"timeout\":%u", d->timeout);
                r |= vol_strbuf_putc(out, '}');
        }
        r |= vol_strbuf_putc(out, ']');
        return r ? -E2BIG : 0;
}

void vol_con_sides_copy(const struct vol_con_sides *src, struct vol_con_sides *ret)
{
        struct vol_con_sides s = {src->set, src->n, xcalloc(src->n ? src->n : 1, sizeof(*s.items))};
        for (size_t i = 0; i < src->n; i++) {
                const struct vol_con_side *a = &src->items[i];
                struct vol_con_side *b = &s.items[i];
                *b = *a;
                b->name = xstrdup(a->name);
                b->image = xstrdup(a->image);
                b->cmd = a->cmd ? xcalloc(a->n_cmd, sizeof(char *)) : NULL;
                for (size_t k = 0; k < a->n_cmd; k++)
                        b->cmd[k] = xstrdup(a->cmd[k]);
        }
        *ret = s;
}

/* ---- names ---- */

int vol_con_validate_name(const char *what, const char *name, struct vol_error *err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > VOL_CON_NAME_MAX)
                return vol_error_set(err, -EINVAL, "a %s name has 1 to %d characters", what, VOL_CON_NAME_MAX);
        if (name[0] == '.')
                return vol_error_set(err, -EINVAL, "%s name \"%.40s\" starts with a dot", what, name);
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '.' || *p == '_' || *p == '-'))
                        return vol_error_set(err, -EINVAL,
                                             "%s name \"%.40s\" may hold only letters, digits, '.', '_' and '-' "
                                             "(a plain file name)",
                                             what, name);
        if (!strcmp(name, VOL_CON_DEFAULT_FILE))
                return vol_error_set(err, -EINVAL,
                                     "%s name DEFAULT is reserved: it marks an area without content", what);
        return 0;
}

/* ---- /con/proc ---- */

int vol_con_proc_meminfo(uint64_t memory_bytes, struct vol_strbuf *out)
{
        unsigned long long kib = (unsigned long long)(memory_bytes / 1024);
        return vol_strbuf_printf(out,
                                 "MemTotal:       %8llu kB\n"
                                 "MemFree:        %8llu kB\n"
                                 "MemAvailable:   %8llu kB\n"
                                 "Buffers:        %8llu kB\n"
                                 "Cached:         %8llu kB\n"
                                 "SwapTotal:      %8llu kB\n"
                                 "SwapFree:       %8llu kB\n",
                                 kib, kib, kib, 0ULL, 0ULL, 0ULL, 0ULL) < 0
                       ? -E2BIG
                       : 0;
}

int vol_con_proc_cpuinfo(unsigned cpus, struct vol_strbuf *out)
{
        int r = 0;
        for (unsigned i = 0; i < cpus; i++)
                r |= vol_strbuf_printf(out, "processor\t: %u\n\n", i) < 0;
        return r ? -E2BIG : 0;
}
