#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "engine.h"
#include "net/http_client.h"

#define API "/v1.41"
#define RESPONSE_MAX (16u << 20)
#define TIMEOUT_MS 120000

struct vol_engine {
        char *endpoint;
        char *socket_path;
        _Atomic uint64_t calls, errors;
};

int vol_engine_open(const char *endpoint, struct vol_engine **ret, struct vol_error *err)
{
        static const char scheme[] = "unix://";
        if (strncmp(endpoint, scheme, strlen(scheme)) || endpoint[strlen(scheme)] != '/')
                return vol_error_set(err, -EINVAL,
                                     "engine endpoint \"%s\" must look like unix:///path/to/docker.sock",
                                     endpoint);
        struct vol_engine *e = xcalloc(1, sizeof(*e));
        e->endpoint = xstrdup(endpoint);
        e->socket_path = xstrdup(endpoint + strlen(scheme));
        *ret = e;
        return 0;
}

void vol_engine_close(struct vol_engine *e)
{
        if (!e)
                return;
        free(e->endpoint);
        free(e->socket_path);
        free(e);
}

/* One request. Returns the HTTP status (>= 200) and the body in *ret_body
 * (parsed JSON, or NULL when empty or not JSON), or < 0 when the engine could
 * not be reached or gave no valid answer. */
static int request(struct vol_engine *e, const char *method, const char *path, json_t *body,
                   json_t **ret_body, struct vol_error *err)
{
        _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct vol_http_call call = {
                .socket_path = e->socket_path,
                .method = method,
                .target = path,
                .content_type = payload ? "application/json" : NULL,
                .body = payload,
                .body_len = payload ? strlen(payload) : 0,
                .answer_max = RESPONSE_MAX,
                .timeout_ms = TIMEOUT_MS,
        };
        struct vol_strbuf resp;
        vol_strbuf_init(&resp, 0);
        int status = vol_http_call(&call, &resp, err);
        e->calls++;
        if (status < 0 || status >= 500)
                e->errors++;
        if (status < 0) {
                vol_strbuf_free(&resp);
                /* whatever went wrong, the engine is not there to serve */
                vol_error_wrap(err, "container engine at %s: ", e->endpoint);
                if (err)
                        err->code = -ECONNREFUSED;
                return -ECONNREFUSED;
        }
        if (ret_body)
                *ret_body = resp.len ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
        vol_strbuf_free(&resp);
        return status;
}

/* The engine's error message from a body, or a fallback. */
static const char *engine_message(json_t *body)
{
        json_t *m = json_object_get(body, "message");
        if (!json_is_string(m))
                m = json_object_get(body, "cause");
        return json_is_string(m) ? json_string_value(m) : "no message";
}

static int status_error(int status, json_t *body, const char *what, struct vol_error *err)
{
        int code = status == 404 ? -ENOENT : status == 409 ? -EEXIST : status == 400 ? -EINVAL : -EIO;
        return vol_error_set(err, code, "%s: the engine answered %d: %s", what, status,
                             engine_message(body));
}

static char *escape(const char *s)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_http_escape(&b, s);
        vol_strbuf_append(&b, "", 0);
        size_t len;
        return vol_strbuf_take(&b, &len);
}

/* A request whose answer only matters as success or failure (what names it). */
static int simple_call(struct vol_engine *e, const char *method, const char *path, const char *what,
                       struct vol_error *err)
{
        json_auto_t *resp = NULL;
        int st = request(e, method, path, NULL, &resp, err);
        if (st < 0)
                return st;
        if (st / 100 == 2)
                return 0;
        return status_error(st, resp, what, err);
}

int vol_engine_volume_ensure(struct vol_engine *e, const char *name, const char *driver,
                             const struct vol_kvs *opts, struct vol_error *err)
{
        json_auto_t *dopts = json_object();
        for (size_t i = 0; i < opts->n; i++)
                json_object_set_new(dopts, opts->items[i].key, json_string(opts->items[i].value));
        json_auto_t *body = json_pack("{s:s, s:s, s:O}", "Name", name, "Driver", driver, "DriverOpts", dopts);
        json_auto_t *resp = NULL;
        _cleanup_free_ char *what = xasprintf("creating volume %s in the engine", name);
        int st = request(e, "POST", API "/volumes/create", body, &resp, err);
        if (st < 0)
                return st;
        if (st / 100 == 2)
                return 0;
        /* Podman refuses to create an existing volume: accept it if it is ours. */
        _cleanup_free_ char *q = escape(name);
        _cleanup_free_ char *path = xasprintf(API "/volumes/%s", q);
        json_auto_t *have = NULL;
        struct vol_error ignored = VOL_ERROR_INIT;
        int st2 = request(e, "GET", path, NULL, &have, &ignored);
        vol_error_clear(&ignored);
        if (st2 == 200) {
                json_t *d = json_object_get(have, "Driver");
                if (json_is_string(d) && !strcmp(json_string_value(d), driver))
                        return 0;
                return vol_error_set(err, -EEXIST,
                                     "%s: the engine has a volume of that name from driver %s, not %s",
                                     what, json_is_string(d) ? json_string_value(d) : "?", driver);
        }
        return status_error(st, resp, what, err);
}

int vol_engine_volume_remove(struct vol_engine *e, const char *name, struct vol_error *err)
{
        _cleanup_free_ char *q = escape(name);
        _cleanup_free_ char *path = xasprintf(API "/volumes/%s", q);
        _cleanup_free_ char *what = xasprintf("removing volume %s from the engine", name);
        return simple_call(e, "DELETE", path, what, err);
}

int vol_engine_container_create(struct vol_engine *e, const struct vol_container_spec *spec,
                                char **ret_id, struct vol_error *err)
{
        json_auto_t *labels = json_object();
        for (size_t i = 0; spec->labels && i < spec->labels->n; i++)
                json_object_set_new(labels, spec->labels->items[i].key,
                                    json_string(spec->labels->items[i].value));
        json_auto_t *mounts = json_array();
        for (size_t i = 0; i < spec->n_mounts; i++)
                json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "Type", "volume", "Source",
                                                        spec->mounts[i].volume, "Target",
                                                        spec->mounts[i].target));
        json_auto_t *caps = json_array();
        for (size_t i = 0; i < spec->n_cap_add; i++)
                json_array_append_new(caps, json_string(spec->cap_add[i]));
        json_auto_t *host = json_pack("{s:b, s:O, s:[s], s:O, s:[s]}", "ReadonlyRootfs",
                                      spec->read_only_rootfs, "Mounts", mounts, "CapDrop", "ALL", "CapAdd",
                                      caps, "SecurityOpt", "no-new-privileges");
        if (spec->pids_limit > 0)
                json_object_set_new(host, "PidsLimit", json_integer(spec->pids_limit));
        if (spec->memory_bytes > 0)
                json_object_set_new(host, "Memory", json_integer((json_int_t)spec->memory_bytes));
        if (spec->tmp_bytes) {
                /* in bytes: what the kernel's tmpfs takes, whatever the config's spelling */
                _cleanup_free_ char *opt = xasprintf("rw,nosuid,nodev,size=%llu",
                                                     (unsigned long long)spec->tmp_bytes);
                json_object_set_new(host, "Tmpfs", json_pack("{s:s}", "/tmp", opt));
        }
        if (spec->network_mode)
                json_object_set_new(host, "NetworkMode", json_string(spec->network_mode));
        json_auto_t *body = json_pack("{s:s, s:O, s:O}", "Image", spec->image, "Labels", labels,
                                      "HostConfig", host);
        if (spec->cmd) {
                json_t *cmd = json_array();
                for (size_t i = 0; i < spec->n_cmd; i++)
                        json_array_append_new(cmd, json_string(spec->cmd[i]));
                json_object_set_new(body, "Cmd", cmd);
        }
        _cleanup_free_ char *q = escape(spec->name);
        _cleanup_free_ char *path = xasprintf(API "/containers/create?name=%s", q);
        json_auto_t *resp = NULL;
        int st = request(e, "POST", path, body, &resp, err);
        if (st < 0)
                return st;
        _cleanup_free_ char *what = xasprintf("creating container %s", spec->name);
        if (st / 100 != 2)
                return status_error(st, resp, what, err);
        json_t *id = json_object_get(resp, "Id");
        if (!json_is_string(id))
                return vol_error_set(err, -EIO, "%s: the engine's answer has no Id", what);
        *ret_id = xstrdup(json_string_value(id));
        return 0;
}

int vol_engine_container_start(struct vol_engine *e, const char *id, struct vol_error *err)
{
        _cleanup_free_ char *path = xasprintf(API "/containers/%s/start", id);
        _cleanup_free_ char *what = xasprintf("starting container %.12s", id);
        return simple_call(e, "POST", path, what, err);
}

int vol_engine_container_remove(struct vol_engine *e, const char *id, struct vol_error *err)
{
        _cleanup_free_ char *path = xasprintf(API "/containers/%s?force=1&v=0", id);
        _cleanup_free_ char *what = xasprintf("removing container %.12s", id);
        return simple_call(e, "DELETE", path, what, err);
}

int vol_engine_container_list(struct vol_engine *e, const struct vol_kvs *match,
                              vol_engine_container_cb cb, void *userdata, struct vol_error *err)
{
        json_auto_t *labels = json_array();
        for (size_t i = 0; i < match->n; i++) {
                _cleanup_free_ char *l = xasprintf("%s=%s", match->items[i].key, match->items[i].value);
                json_array_append_new(labels, json_string(l));
        }
        json_auto_t *filters = json_pack("{s:O}", "label", labels);
        _cleanup_free_ char *ftext = json_dumps(filters, JSON_COMPACT);
        _cleanup_free_ char *q = escape(ftext);
        _cleanup_free_ char *path = xasprintf(API "/containers/json?all=1&filters=%s", q);
        json_auto_t *resp = NULL;
        int st = request(e, "GET", path, NULL, &resp, err);
        if (st < 0)
                return st;
        if (st / 100 != 2 || !json_is_array(resp))
                return status_error(st, resp, "listing containers", err);
        size_t i;
        json_t *c;
        int n = 0;
        json_array_foreach(resp, i, c)
        {
                json_t *id = json_object_get(c, "Id");
                json_t *names = json_object_get(c, "Names");
                json_t *state = json_object_get(c, "State");
                json_t *gen = json_object_get(json_object_get(c, "Labels"), "volman.generation");
                const char *name = json_is_array(names) && json_is_string(json_array_get(names, 0))
                                           ? json_string_value(json_array_get(names, 0))
                                           : "";
                if (*name == '/')
                        name++;
                if (!json_is_string(id))
                        continue;
                cb(json_string_value(id), name, json_is_string(state) ? json_string_value(state) : "",
                   json_is_string(gen) ? json_string_value(gen) : "", userdata);
                n++;
        }
        return n;
}

void vol_engine_counts(struct vol_engine *e, uint64_t *ret_calls, uint64_t *ret_errors)
{
        *ret_calls = e->calls;
        *ret_errors = e->errors;
}
