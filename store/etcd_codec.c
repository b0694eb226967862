/* The etcd store's record codec: see etcd_codec.h. */
#include "etcd_codec.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"

#define MOUNTPOINT_MAX 4096
#define MOUNT_FIELD_MAX 256 /* a mount reference's owner and boot id */

/* ---- encoding ---- */

/* Sets obj[field] to the string s; false when s is not UTF-8. */
static bool set_str(json_t *obj, const char *field, const char *s)
{
        json_t *j = json_string(s);
        return j && json_object_set_new(obj, field, j) == 0;
}

static json_t *kvs_object(const struct vol_kvs *m)
{
        json_t *o = json_object();
        for (size_t i = 0; i < m->n; i++)
                if (!m->items[i].key || !set_str(o, m->items[i].key, m->items[i].value)) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

/* Moves j into obj[field]; false when j is NULL (a part failed to encode). */
static bool set_new(json_t *obj, const char *field, json_t *j)
{
        return j && json_object_set_new(obj, field, j) == 0;
}

static int dump(json_t *o, const char *what, const char *name, char **ret, struct vol_error *err)
{
        char *text = json_dumps(o, JSON_COMPACT);
        if (!text)
                return vol_error_set(err, -ENOMEM, "encoding %s %s: out of memory", what, name);
        *ret = text;
        return 0;
}

static json_t *scope_object(const struct vol_scope *s)
{
        json_t *o = json_object();
        const char *parts[][2] = {
            {"tenant", s->tenant}, {"env", s->env}, {"app", s->app}, {"path", s->path}};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                if (!set_str(o, parts[i][0], parts[i][1] ? parts[i][1] : "")) {
                        json_decref(o);
                        return NULL;
                }
        return o;
}

static json_t *mounts_array(const struct vol_volume *v)
{
        json_t *a = json_array();
        for (size_t i = 0; i < v->n_mounts; i++) {
                const struct vol_mount_ref *m = &v->mounts[i];
                json_t *o = json_object();
                bool ok = set_str(o, "id", m->id) && set_new(o, "since", json_integer(m->since)) &&
                          set_str(o, "owner", m->owner ? m->owner : "") &&
                          set_str(o, "boot", m->boot ? m->boot : "");
                if (!ok || json_array_append_new(a, o) < 0) {
                        if (!ok)
                                json_decref(o);
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

int vol_etcd_volume_encode(const struct vol_volume *v, char **ret, struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *o = json_object();
        bool ok =
            set_new(o, "v", json_integer(VOL_ETCD_RECORD_FORMAT)) && set_str(o, "id", v->id) &&
            set_str(o, "name", v->name) && set_str(o, "driver", v->driver) &&
            set_str(o, "status", vol_status_name(v->status)) &&
            set_new(o, "created_at", json_integer(v->created_at)) &&
            set_new(o, "options", kvs_object(&v->options)) &&
            set_new(o, "labels", kvs_object(&v->labels)) && set_new(o, "mounts", mounts_array(v)) &&
            (!v->scope || set_new(o, "scope", scope_object(v->scope))) &&
            (!v->mountpoint || set_str(o, "mountpoint", v->mountpoint)) &&
            (!v->node || set_str(o, "node", v->node));
        if (!ok)
                return vol_error_set(err, -EINVAL,
                                     "volume %s: a field holds text that is not UTF-8 (or no text)",
                                     v->name ? v->name : "(no name)");
        return dump(o, "volume", v->name, ret, err);
}

int vol_etcd_tombstone_encode(const struct vol_tombstone *t, char **ret, struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *o = json_object();
        bool ok = set_new(o, "v", json_integer(VOL_ETCD_RECORD_FORMAT)) &&
                  set_str(o, "id", t->id) && set_str(o, "name", t->name ? t->name : "") &&
                  set_str(o, "driver", t->driver) &&
                  set_str(o, "mountpoint", t->mountpoint ? t->mountpoint : "") &&
                  set_new(o, "options", kvs_object(&t->options)) &&
                  set_new(o, "retired_at", json_integer(t->retired_at)) &&
                  (!t->node || set_str(o, "node", t->node));
        if (!ok)
                return vol_error_set(
                    err, -EINVAL, "tombstone %s: a field holds text that is not UTF-8 (or no text)",
                    t->id);
        return dump(o, "tombstone", t->id, ret, err);
}

/* ---- decoding ---- */

/* Where a decode is: the key, for every message. */
struct reader {
        const char *key;
        struct vol_error *err;
};

/* -EBADMSG: "the record at KEY is damaged: FIELD PROBLEM". */
static int bad(const struct reader *rd, const char *field, const char *problem)
{
        return vol_error_set(rd->err, -EBADMSG,
                             "metadata store: the record at %s is damaged: %s %s", rd->key, field,
                             problem);
}

/* obj[field] as a string of at most max bytes (min 1 when nonempty):
 * 0 and *ret (borrowed from obj), 1 when absent or null and optional. */
static int get_str(const struct reader *rd, json_t *obj, const char *field, size_t max,
                   bool nonempty, bool optional, const char **ret)
{
        json_t *j = json_object_get(obj, field);
        if (!j || json_is_null(j)) {
                if (optional)
                        return 1;
                return bad(rd, field, "is missing");
        }
        if (!json_is_string(j))
                return bad(rd, field, "is not a string");
        size_t n = json_string_length(j);
        if (n > max)
                return bad(rd, field, "is too long");
        if (nonempty && n == 0)
                return bad(rd, field, "is empty");
        *ret = json_string_value(j);
        return 0;
}

static int get_int(const struct reader *rd, json_t *obj, const char *field, int64_t *ret)
{
        json_t *j = json_object_get(obj, field);
        if (!json_is_integer(j))
                return bad(rd, field, j ? "is not an integer" : "is missing");
        *ret = json_integer_value(j);
        return 0;
}

/* The record's object, of a format this volmand knows. */
static int load(const struct reader *rd, const char *text, size_t len, json_t **ret)
{
        if (len > VOL_ETCD_RECORD_MAX)
                return vol_error_set(rd->err, -EBADMSG,
                                     "metadata store: the record at %s is larger than %u bytes",
                                     rd->key, VOL_ETCD_RECORD_MAX);
        json_error_t je;
        json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!o)
                return vol_error_set(rd->err, -EBADMSG,
                                     "metadata store: the record at %s is not JSON: %s", rd->key,
                                     je.text);
        int64_t format = 0;
        int r = json_is_object(o) ? get_int(rd, o, "v", &format)
                                  : bad(rd, "the record", "is not an object");
        if (r == 0 && format > VOL_ETCD_RECORD_FORMAT)
                r = vol_error_set(
                    rd->err, -EPROTO,
                    "metadata store: the record at %s has format %lld; this volmand knows up "
                    "to %d (a newer volmand wrote it)",
                    rd->key, (long long)format, VOL_ETCD_RECORD_FORMAT);
        else if (r == 0 && format < 1)
                r = bad(rd, "its format (v)", "is not a positive number");
        if (r < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* A volume id: 36 characters of lower-case hex digits and '-'. */
static int get_id(const struct reader *rd, json_t *o, char out[37])
{
        const char *id = NULL;
        int r = get_str(rd, o, "id", 36, true, false, &id);
        if (r < 0)
                return r;
        if (strlen(id) != 36 || strspn(id, "0123456789abcdef-") != 36)
                return bad(rd, "id", "is not a UUID");
        memcpy(out, id, 37);
        return 0;
}

static int get_kvs(const struct reader *rd, json_t *o, const char *field, size_t max_n,
                   size_t key_max, size_t value_max, struct vol_kvs *ret)
{
        json_t *m = json_object_get(o, field);
        if (!json_is_object(m))
                return bad(rd, field, m ? "is not an object" : "is missing");
        if (json_object_size(m) > max_n)
                return bad(rd, field, "has too many entries");
        const char *k;
        json_t *val;
        json_object_foreach(m, k, val)
        {
                if (!*k || strlen(k) > key_max)
                        return bad(rd, field, "has an empty or too long key");
                if (!json_is_string(val) || json_string_length(val) > value_max)
                        return bad(rd, field, "has a value that is not a string, or too long");
                vol_kvs_set(ret, k, json_string_value(val));
        }
        return 0;
}

static int get_scope(const struct reader *rd, json_t *o, struct vol_scope **ret)
{
        json_t *s = json_object_get(o, "scope");
        if (!s || json_is_null(s))
                return 0;
        if (!json_is_object(s))
                return bad(rd, "scope", "is not an object");
        const char *t = NULL, *e = NULL, *a = NULL, *p = NULL;
        int r;
        if ((r = get_str(rd, s, "tenant", VOL_SCOPE_PART_MAX, true, false, &t)) < 0 ||
            (r = get_str(rd, s, "env", VOL_SCOPE_PART_MAX, true, false, &e)) < 0 ||
            (r = get_str(rd, s, "app", VOL_SCOPE_PART_MAX, true, false, &a)) < 0 ||
            (r = get_str(rd, s, "path", VOL_PATH_MAX, false, false, &p)) < 0)
                return r;
        struct vol_scope *sc = xcalloc(1, sizeof(*sc));
        sc->tenant = xstrdup(t);
        sc->env = xstrdup(e);
        sc->app = xstrdup(a);
        sc->path = xstrdup(p);
        *ret = sc;
        return 0;
}

static int get_mounts(const struct reader *rd, json_t *o, struct vol_volume *v)
{
        json_t *a = json_object_get(o, "mounts");
        if (!json_is_array(a))
                return bad(rd, "mounts", a ? "is not an array" : "is missing");
        size_t n = json_array_size(a);
        if (n > VOL_MOUNTS_MAX)
                return bad(rd, "mounts", "has too many entries");
        v->mounts = n ? xcalloc(n, sizeof(*v->mounts)) : NULL;
        size_t i;
        json_t *m;
        json_array_foreach(a, i, m)
        {
                const char *id = NULL, *owner = NULL, *boot = NULL;
                int64_t since = 0;
                int r;
                if (!json_is_object(m))
                        return bad(rd, "mounts", "has an entry that is not an object");
                if ((r = get_str(rd, m, "id", VOL_MOUNT_ID_MAX, true, false, &id)) < 0 ||
                    (r = get_int(rd, m, "since", &since)) < 0 ||
                    (r = get_str(rd, m, "owner", MOUNT_FIELD_MAX, false, false, &owner)) < 0 ||
                    (r = get_str(rd, m, "boot", MOUNT_FIELD_MAX, false, false, &boot)) < 0)
                        return r;
                v->mounts[i] =
                    (struct vol_mount_ref){xstrdup(id), since, xstrdup(owner), xstrdup(boot)};
                v->n_mounts = i + 1;
        }
        return 0;
}

static int decode_volume(const struct reader *rd, json_t *o, const char *expect_name,
                         struct vol_volume *v)
{
        const char *name = NULL, *driver = NULL, *status = NULL, *mountpoint = NULL, *node = NULL;
        int r;
        if ((r = get_id(rd, o, v->id)) < 0 ||
            (r = get_str(rd, o, "name", VOL_NAME_MAX, true, false, &name)) < 0 ||
            (r = get_str(rd, o, "driver", VOL_DRIVER_NAME_MAX, true, false, &driver)) < 0 ||
            (r = get_str(rd, o, "status", 16, true, false, &status)) < 0 ||
            (r = get_int(rd, o, "created_at", &v->created_at)) < 0 ||
            (r = get_str(rd, o, "mountpoint", MOUNTPOINT_MAX, false, true, &mountpoint)) < 0 ||
            (r = get_str(rd, o, "node", VOL_NODE_NAME_MAX, true, true, &node)) < 0)
                return r;
        if (expect_name && strcmp(name, expect_name) != 0)
                return bad(rd, "name", "is not the one in its key");
        if (vol_status_parse(status, &v->status) < 0)
                return bad(rd, "status", "is not creating, ready or deleting");
        v->name = xstrdup(name);
        v->driver = xstrdup(driver);
        v->mountpoint = mountpoint ? xstrdup(mountpoint) : NULL;
        v->node = node ? xstrdup(node) : NULL;
        if ((r = get_kvs(rd, o, "options", VOL_OPTIONS_MAX, VOL_OPTION_KEY_MAX,
                         VOL_OPTION_VALUE_MAX, &v->options)) < 0 ||
            (r = get_kvs(rd, o, "labels", VOL_LABELS_MAX, VOL_LABEL_KEY_MAX, VOL_LABEL_VALUE_MAX,
                         &v->labels)) < 0 ||
            (r = get_scope(rd, o, &v->scope)) < 0)
                return r;
        return get_mounts(rd, o, v);
}

int vol_etcd_volume_decode(const char *key, const char *text, size_t len, const char *expect_name,
                           struct vol_volume **ret, struct vol_error *err)
{
        struct reader rd = {key, err};
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r = load(&rd, text, len, &o);
        if (r < 0)
                return r;
        struct vol_volume *v = vol_volume_new();
        r = decode_volume(&rd, o, expect_name, v);
        if (r < 0) {
                vol_volume_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

void vol_etcd_tombstone_free(struct vol_etcd_tombstone *t)
{
        if (!t)
                return;
        free((char *)t->t.name);
        free((char *)t->t.driver);
        free((char *)t->t.mountpoint);
        free((char *)t->t.node);
        vol_kvs_free(&t->options);
        free(t);
}

static int decode_tombstone(const struct reader *rd, json_t *o, struct vol_etcd_tombstone *t)
{
        const char *name = NULL, *driver = NULL, *mountpoint = NULL, *node = NULL;
        int r;
        if ((r = get_id(rd, o, t->t.id)) < 0 ||
            (r = get_str(rd, o, "name", VOL_NAME_MAX, false, false, &name)) < 0 ||
            (r = get_str(rd, o, "driver", VOL_DRIVER_NAME_MAX, true, false, &driver)) < 0 ||
            (r = get_str(rd, o, "mountpoint", MOUNTPOINT_MAX, false, false, &mountpoint)) < 0 ||
            (r = get_int(rd, o, "retired_at", &t->t.retired_at)) < 0 ||
            (r = get_str(rd, o, "node", VOL_NODE_NAME_MAX, true, true, &node)) < 0 ||
            (r = get_kvs(rd, o, "options", VOL_OPTIONS_MAX, VOL_OPTION_KEY_MAX,
                         VOL_OPTION_VALUE_MAX, &t->options)) < 0)
                return r;
        t->t.name = xstrdup(name);
        t->t.driver = xstrdup(driver);
        t->t.mountpoint = xstrdup(mountpoint);
        t->t.node = node ? xstrdup(node) : NULL;
        t->t.options = t->options;
        return 0;
}

int vol_etcd_tombstone_decode(const char *key, const char *text, size_t len,
                              struct vol_etcd_tombstone **ret, struct vol_error *err)
{
        struct reader rd = {key, err};
        _cleanup_(json_decrefp) json_t *o = NULL;
        int r = load(&rd, text, len, &o);
        if (r < 0)
                return r;
        struct vol_etcd_tombstone *t = xcalloc(1, sizeof(*t));
        r = decode_tombstone(&rd, o, t);
        if (r < 0) {
                vol_etcd_tombstone_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

/* ---- the location ---- */

void vol_etcd_location_free(struct vol_etcd_location *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->endpoints[i]);
        free(l->prefix);
        memset(l, 0, sizeof(*l));
}

/* Checks one "HOST:PORT" of text[0..n). */
static int check_endpoint(const char *text, size_t n, struct vol_error *err)
{
        _cleanup_free_ char *ep = xstrndup(text, n);
        char *colon = strrchr(ep, ':');
        if (!n)
                return vol_error_set(err, -EINVAL, "etcd store location: an endpoint is empty");
        if (!colon)
                return vol_error_set(err, -EINVAL,
                                     "etcd store location: endpoint \"%s\" has no :PORT", ep);
        *colon = 0;
        const char *host = ep, *port = colon + 1;
        size_t hn = strlen(host);
        bool v6 = hn >= 2 && host[0] == '[' && host[hn - 1] == ']';
        if (!hn || hn > 255 ||
            (v6 ? strspn(host + 1, "0123456789abcdefABCDEF:.") != hn - 2 || hn == 2
                : strspn(host,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hn))
                return vol_error_set(
                    err, -EINVAL,
                    "etcd store location: endpoint \"%.*s\" has a bad host \"%s\" (a name, an "
                    "IPv4 address or an [IPv6] address)",
                    (int)n, text, host);
        size_t pn = strlen(port);
        long p = pn && pn <= 5 && strspn(port, "0123456789") == pn ? strtol(port, NULL, 10) : 0;
        if (p < 1 || p > 65535)
                return vol_error_set(
                    err, -EINVAL,
                    "etcd store location: endpoint \"%.*s\" has a bad port \"%s\" (1 to 65535)",
                    (int)n, text, port);
        return 0;
}

int vol_etcd_location_parse(const char *location, struct vol_etcd_location *ret,
                            struct vol_error *err)
{
        if (strstr(location, "://"))
                return vol_error_set(
                    err, -EINVAL,
                    "etcd store location \"%s\": give HOST:PORT[,HOST:PORT...][/PREFIX], without "
                    "a scheme",
                    location);
        struct vol_etcd_location l = {0};
        const char *slash = strchr(location, '/');
        const char *prefix = slash ? slash + 1 : VOL_ETCD_PREFIX_DEFAULT;
        size_t plen = strlen(prefix);
        if (!plen || plen > VOL_ETCD_PREFIX_MAX ||
            strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != plen)
                return vol_error_set(
                    err, -EINVAL,
                    "etcd store location \"%s\": the prefix \"%s\" must be 1 to %d of a-z, 0-9 "
                    "and '-'",
                    location, prefix, VOL_ETCD_PREFIX_MAX);
        const char *end = slash ? slash : location + strlen(location);
        for (const char *p = location;;) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t n = (size_t)((comma ? comma : end) - p);
                int r =
                    l.n == VOL_ETCD_ENDPOINTS_MAX
                        ? vol_error_set(err, -EINVAL, "etcd store location: more than %d endpoints",
                                        VOL_ETCD_ENDPOINTS_MAX)
                        : check_endpoint(p, n, err);
                if (r < 0) {
                        vol_etcd_location_free(&l);
                        return r;
                }
                l.endpoints[l.n++] = xstrndup(p, n);
                if (!comma)
                        break;
                p = comma + 1;
        }
        l.prefix = xstrdup(prefix);
        *ret = l;
        return 0;
}
