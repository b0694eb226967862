#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "engine.h"
#include "net/http_client.h"

#define API "/v1.41"
#define RESPONSE_MAX (16u << 20)
#define TIMEOUT_MS 120000
#define ARCHIVE_TIMEOUT_MS 600000 /* an archive may be large */
#define LOG_LINES "200"
#define LOGS_STREAM_MAX (64u << 20) /* most bytes read of the logs' answer */

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

/* One exchange with the engine, counted. Returns the HTTP status, or the
 * client's negative errno (err set) when there was no valid answer. */
static int exchange(struct vol_engine *e, const struct vol_http_call *call, struct vol_strbuf *resp,
                    struct vol_error *err)
{
        int status = vol_http_call(call, resp, err);
        e->calls++;
        if (status >= 500)
                e->errors++;
        return status;
}

/* After a failed exchange: whatever went wrong, the engine is not there to
 * serve. Returns -ECONNREFUSED. */
static int unreachable(struct vol_engine *e, struct vol_error *err)
{
        e->errors++;
        vol_error_wrap(err, "container engine at %s: ", e->endpoint);
        if (err)
                err->code = -ECONNREFUSED;
        return -ECONNREFUSED;
}

static struct vol_http_call engine_call(struct vol_engine *e, const char *method, const char *path)
{
        return (struct vol_http_call){
                .socket_path = e->socket_path,
                .method = method,
                .target = path,
                .answer_max = RESPONSE_MAX,
                .timeout_ms = TIMEOUT_MS,
        };
}

/* The JSON in an answer's body, or NULL when it is empty or not JSON. */
static json_t *body_json(const struct vol_strbuf *resp)
{
        return resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
}

/* One request. Returns the HTTP status (>= 200) and the body in *ret_body
 * (parsed JSON, or NULL when empty or not JSON), or < 0 when the engine could
 * not be reached or gave no valid answer. */
static int request(struct vol_engine *e, const char *method, const char *path, json_t *body,
                   json_t **ret_body, struct vol_error *err)
{
        _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct vol_http_call call = engine_call(e, method, path);
        call.content_type = payload ? "application/json" : NULL;
        call.body = payload;
        call.body_len = payload ? strlen(payload) : 0;
        struct vol_strbuf resp;
        vol_strbuf_init(&resp, 0);
        int status = exchange(e, &call, &resp, err);
        if (status < 0) {
                vol_strbuf_free(&resp);
                return unreachable(e, err);
        }
        if (ret_body)
                *ret_body = body_json(&resp);
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

/* A JSON array of the n strings in v. */
static json_t *string_array(const char *const *v, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

/* The "Mounts" of a container spec: each an engine volume or a host path. */
static int mounts_json(const struct vol_container_spec *spec, json_t **ret, struct vol_error *err)
{
        json_auto_t *mounts = json_array();
        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct vol_engine_mount *m = &spec->mounts[i];
                if (!m->target || !m->volume == !m->bind)
                        return vol_error_set(err, -EINVAL,
                                             "creating container %s: mount %zu needs a target and either "
                                             "a volume or a host path",
                                             spec->name ? spec->name : "(unnamed)", i);
                json_t *j = json_pack("{s:s, s:s, s:s}", "Type", m->bind ? "bind" : "volume", "Source",
                                      m->bind ? m->bind : m->volume, "Target", m->target);
                if (m->read_only)
                        json_object_set_new(j, "ReadOnly", json_true());
                json_array_append_new(mounts, j);
        }
        *ret = TAKE_PTR(mounts);
        return 0;
}

int vol_engine_container_create(struct vol_engine *e, const struct vol_container_spec *spec,
                                char **ret_id, struct vol_error *err)
{
        _cleanup_free_ char *what = xasprintf("creating container %s", spec->name ? spec->name : "(unnamed)");
        if (!spec->image)
                return vol_error_set(err, -EINVAL, "%s: no image", what);
        json_auto_t *labels = json_object();
        for (size_t i = 0; spec->labels && i < spec->labels->n; i++)
                json_object_set_new(labels, spec->labels->items[i].key,
                                    json_string(spec->labels->items[i].value));
        json_auto_t *mounts = NULL;
        int r = mounts_json(spec, &mounts, err);
        if (r < 0)
                return r;
        json_auto_t *caps = string_array(spec->cap_add, spec->n_cap_add);
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
        if (spec->nano_cpus > 0)
                json_object_set_new(host, "NanoCpus", json_integer((json_int_t)spec->nano_cpus));
        json_auto_t *body = json_pack("{s:s, s:O, s:O}", "Image", spec->image, "Labels", labels,
                                      "HostConfig", host);
        if (spec->cmd)
                json_object_set_new(body, "Cmd", string_array(spec->cmd, spec->n_cmd));
        if (spec->entrypoint) {
                /* none at all is [""]: Podman takes [] for "the image's" */
                static const char *const none[] = {""};
                json_object_set_new(body, "Entrypoint",
                                    spec->n_entrypoint ? string_array(spec->entrypoint, spec->n_entrypoint)
                                                       : string_array(none, 1));
        }
        if (spec->user)
                json_object_set_new(body, "User", json_string(spec->user));
        if (spec->n_env)
                json_object_set_new(body, "Env", string_array(spec->env, spec->n_env));
        if (spec->working_dir)
                json_object_set_new(body, "WorkingDir", json_string(spec->working_dir));
        _cleanup_free_ char *q = spec->name ? escape(spec->name) : NULL;
        _cleanup_free_ char *path = q ? xasprintf(API "/containers/create?name=%s", q)
                                      : xstrdup(API "/containers/create");
        json_auto_t *resp = NULL;
        int st = request(e, "POST", path, body, &resp, err);
        if (st < 0)
                return st;
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

/* How much of a container reference to print: a 64-hex id as its short
 * form, a name whole. */
static int shown(const char *id)
{
        return strlen(id) == 64 ? 12 : INT_MAX;
}

/* ---- images ---- */

/* A string of an answer: NULL when null, absent or empty. -EBADMSG for
 * another type. */
static int string_from(json_t *v, char **ret)
{
        if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return -EBADMSG;
        *ret = xstrdup(json_string_value(v));
        return 0;
}

/* An array of strings of an answer: NULL and 0 when null or absent.
 * -EBADMSG for another type, or an element that is not a string. */
static int strings_from(json_t *v, char ***ret, size_t *ret_n)
{
        if (!v || json_is_null(v)) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!json_is_array(v))
                return -EBADMSG;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++)
                if (!json_is_string(json_array_get(v, i)))
                        return -EBADMSG;
        char **a = n ? xcalloc(n, sizeof(*a)) : NULL;
        for (size_t i = 0; i < n; i++)
                a[i] = xstrdup(json_string_value(json_array_get(v, i)));
        *ret = a;
        *ret_n = n;
        return 0;
}

static void strings_free(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void vol_image_info_free(struct vol_image_info *info)
{
        if (!info)
                return;
        free(info->id);
        strings_free(info->entrypoint, info->n_entrypoint);
        strings_free(info->cmd, info->n_cmd);
        free(info->user);
        free(info->working_dir);
        strings_free(info->env, info->n_env);
        *info = (struct vol_image_info){0};
}

DEFINE_CLEANUP_FUNC(struct vol_image_info, vol_image_info_free)

int vol_engine_image_inspect(struct vol_engine *e, const char *image, struct vol_image_info *ret,
                             struct vol_error *err)
{
        /* every byte outside the unreserved set escaped, ':' and '/'
         * included: dockerd and Podman both take that */
        _cleanup_free_ char *q = escape(image);
        _cleanup_free_ char *path = xasprintf(API "/images/%s/json", q);
        _cleanup_free_ char *what = xasprintf("inspecting image %s", image);
        json_auto_t *resp = NULL;
        int st = request(e, "GET", path, NULL, &resp, err);
        if (st < 0)
                return st;
        if (st == 404)
                return vol_error_set(err, -ENOENT, "%s: the engine has no such image (%s)", what,
                                     engine_message(resp));
        if (st / 100 != 2 || !json_is_object(resp))
                return status_error(st, resp, what, err);
        struct vol_image_info info = {0};
        _cleanup_(vol_image_info_freep) struct vol_image_info *owned = &info;
        json_t *config = json_object_get(resp, "Config");
        if (string_from(json_object_get(resp, "Id"), &info.id) < 0 || !info.id)
                return vol_error_set(err, -EIO, "%s: the engine's answer has no Id", what);
        if (config && !json_is_null(config) && !json_is_object(config))
                return vol_error_set(err, -EIO, "%s: the engine's answer has a malformed Config", what);
        static const char *const fields[] = {"Entrypoint", "Cmd", "User", "WorkingDir", "Env"};
        int bad[ARRAY_SIZE(fields)] = {
                strings_from(json_object_get(config, "Entrypoint"), &info.entrypoint, &info.n_entrypoint),
                strings_from(json_object_get(config, "Cmd"), &info.cmd, &info.n_cmd),
                string_from(json_object_get(config, "User"), &info.user),
                string_from(json_object_get(config, "WorkingDir"), &info.working_dir),
                strings_from(json_object_get(config, "Env"), &info.env, &info.n_env),
        };
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                if (bad[i] < 0)
                        return vol_error_set(err, -EIO, "%s: the engine's answer has a malformed Config.%s",
                                             what, fields[i]);
        owned = NULL;
        *ret = info;
        return 0;
}

/* ---- containers: wait, state ---- */

int vol_engine_container_wait(struct vol_engine *e, const char *id, int timeout_ms, int *ret_exit_code,
                              struct vol_error *err)
{
        _cleanup_free_ char *what = xasprintf("waiting for container %.*s", shown(id), id);
        if (timeout_ms <= 0)
                return vol_error_set(err, -EINVAL, "%s: the timeout must be positive", what);
        _cleanup_free_ char *q = escape(id);
        _cleanup_free_ char *path = xasprintf(API "/containers/%s/wait", q);
        /* the engine answers when the container is not running (at once when
         * it has exited already): the exchange's deadline is the wait's */
        struct vol_http_call call = engine_call(e, "POST", path);
        call.timeout_ms = timeout_ms;
        struct vol_strbuf raw;
        vol_strbuf_init(&raw, 0);
        int st = exchange(e, &call, &raw, err);
        json_auto_t *resp = st >= 0 ? body_json(&raw) : NULL;
        vol_strbuf_free(&raw);
        if (st == -ETIMEDOUT)
                return vol_error_set(err, -ETIMEDOUT, "%s: it did not end within %d ms", what, timeout_ms);
        if (st < 0)
                return unreachable(e, err);
        if (st / 100 != 2)
                return status_error(st, resp, what, err);
        json_t *code = json_object_get(resp, "StatusCode");
        json_t *failure = json_object_get(json_object_get(resp, "Error"), "Message");
        if (json_is_string(failure) && *json_string_value(failure))
                return vol_error_set(err, -EIO, "%s: %s", what, json_string_value(failure));
        if (!json_is_integer(code) || json_integer_value(code) < INT_MIN || json_integer_value(code) > INT_MAX)
                return vol_error_set(err, -EIO, "%s: the engine's answer has no StatusCode", what);
        *ret_exit_code = (int)json_integer_value(code);
        return 0;
}

int vol_engine_container_inspect_state(struct vol_engine *e, const char *id, char **ret_status,
                                       int *ret_exit_code, struct vol_error *err)
{
        _cleanup_free_ char *q = escape(id);
        _cleanup_free_ char *path = xasprintf(API "/containers/%s/json", q);
        _cleanup_free_ char *what = xasprintf("inspecting container %.*s", shown(id), id);
        json_auto_t *resp = NULL;
        int st = request(e, "GET", path, NULL, &resp, err);
        if (st < 0)
                return st;
        if (st / 100 != 2)
                return status_error(st, resp, what, err);
        json_t *state = json_object_get(resp, "State");
        json_t *status = json_object_get(state, "Status");
        json_t *code = json_object_get(state, "ExitCode");
        if (!json_is_string(status) || !json_is_integer(code) || json_integer_value(code) < INT_MIN ||
            json_integer_value(code) > INT_MAX)
                return vol_error_set(err, -EIO, "%s: the engine's answer has no State.Status and ExitCode",
                                     what);
        if (ret_status)
                *ret_status = xstrdup(json_string_value(status));
        if (ret_exit_code)
                *ret_exit_code = (int)json_integer_value(code);
        return 0;
}

/* ---- containers: logs ---- */

/* The end of a container's logs as they come: raw text, or the frames of a
 * container without a TTY (an 8-byte header: the stream, 0 (stdin), 1
 * (stdout) or 2 (stderr), three zero bytes, the payload's length as a
 * big-endian u32), demultiplexed in the order they come. */
struct log_tail {
        struct vol_strbuf text; /* the last max bytes, and at most as many again */
        size_t max;
        bool cut; /* bytes before text were dropped */
        enum { LOG_UNKNOWN, LOG_RAW, LOG_FRAMED } mode;
        unsigned char head[8];
        size_t head_len;
        uint32_t frame_left;
        bool failed; /* the sink refused the answer */
};

static void tail_add(struct log_tail *t, const char *p, size_t n)
{
        if (n > t->max) {
                t->cut = true;
                p += n - t->max;
                n = t->max;
        }
        vol_strbuf_append(&t->text, p, n);
        size_t slack = t->max > (64u << 10) ? t->max : (64u << 10);
        if (t->text.len > t->max && t->text.len - t->max > slack) {
                /* dropping the front now and then keeps the work linear */
                memmove(t->text.data, t->text.data + t->text.len - t->max, t->max);
                t->text.len = t->max;
                t->text.data[t->text.len] = 0;
                t->cut = true;
        }
}

/* Whether the first n bytes of h can start a frame. */
static bool frame_start(const unsigned char *h, size_t n)
{
        for (size_t i = 0; i < n && i < 4; i++)
                if (i == 0 ? h[0] > 2 : h[i] != 0)
                        return false;
        return true;
}

static int logs_sink(void *userdata, const char *data, size_t len, struct vol_error *err)
{
        struct log_tail *t = userdata;
        while (len) {
                if (t->mode == LOG_RAW) {
                        tail_add(t, data, len);
                        return 0;
                }
                if (t->frame_left) {
                        size_t take = len < t->frame_left ? len : t->frame_left;
                        tail_add(t, data, take);
                        data += take;
                        len -= take;
                        t->frame_left -= (uint32_t)take;
                        continue;
                }
                size_t take = len < 8 - t->head_len ? len : 8 - t->head_len;
                memcpy(t->head + t->head_len, data, take);
                t->head_len += take;
                data += take;
                len -= take;
                if (!frame_start(t->head, t->head_len)) {
                        if (t->mode == LOG_FRAMED) {
                                t->failed = true;
                                return vol_error_set(err, -EBADMSG, "a frame header of the logs is malformed");
                        }
                        /* a container with a TTY: its output as it is */
                        t->mode = LOG_RAW;
                        tail_add(t, (const char *)t->head, t->head_len);
                        t->head_len = 0;
                        continue;
                }
                if (t->head_len < 8)
                        continue;
                t->mode = LOG_FRAMED;
                t->frame_left = (uint32_t)t->head[4] << 24 | (uint32_t)t->head[5] << 16 |
                                (uint32_t)t->head[6] << 8 | t->head[7];
                t->head_len = 0;
        }
        return 0;
}

int vol_engine_container_logs(struct vol_engine *e, const char *id, size_t max_bytes, char **ret_text,
                              struct vol_error *err)
{
        _cleanup_free_ char *q = escape(id);
        _cleanup_free_ char *path = xasprintf(API "/containers/%s/logs?stdout=1&stderr=1&tail=" LOG_LINES, q);
        _cleanup_free_ char *what = xasprintf("reading the logs of container %.*s", shown(id), id);
        struct log_tail t = {.max = max_bytes};
        vol_strbuf_init(&t.text, 0);
        struct vol_http_call call = engine_call(e, "GET", path);
        call.answer_max = LOGS_STREAM_MAX;
        call.sink = logs_sink;
        call.sink_data = &t;
        struct vol_strbuf raw;
        vol_strbuf_init(&raw, 0);
        int st = exchange(e, &call, &raw, err);
        json_auto_t *resp = st >= 0 ? body_json(&raw) : NULL;
        vol_strbuf_free(&raw);
        int r = 0;
        if (st == -E2BIG)
                r = vol_error_set(err, -E2BIG, "%s: the last " LOG_LINES " lines are over %u bytes", what,
                                  LOGS_STREAM_MAX);
        else if (st < 0 && t.failed)
                r = vol_error_wrap(err, "%s: ", what);
        else if (st < 0)
                r = unreachable(e, err);
        else if (st / 100 != 2)
                r = status_error(st, resp, what, err);
        else if (t.head_len || t.frame_left)
                r = vol_error_set(err, -EBADMSG, "%s: the logs end inside a frame", what);
        if (r < 0) {
                vol_strbuf_free(&t.text);
                return r;
        }
        size_t from = t.text.len > max_bytes ? t.text.len - max_bytes : 0;
        if (from || t.cut)
                /* the cut may fall inside a character: start at the next one */
                for (size_t i = 0; i < 3 && from < t.text.len && ((unsigned char)t.text.data[from] & 0xc0) == 0x80;
                     i++)
                        from++;
        size_t len;
        char *text = vol_strbuf_take(&t.text, &len);
        memmove(text, text + from, len - from + 1); /* with the NUL */
        *ret_text = text;
        return 0;
}

/* ---- containers: archives ---- */

struct archive_out {
        int fd;
        bool failed; /* writing to fd failed */
};

static int archive_sink(void *userdata, const char *data, size_t len, struct vol_error *err)
{
        struct archive_out *out = userdata;
        while (len) {
                ssize_t w = write(out->fd, data, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        out->failed = true;
                        return vol_error_set(err, -errno, "writing the archive: %m");
                }
                data += w;
                len -= (size_t)w;
        }
        return 0;
}

int vol_engine_container_archive(struct vol_engine *e, const char *id, const char *path, int fd,
                                 uint64_t max_bytes, struct vol_error *err)
{
        _cleanup_free_ char *qid = escape(id);
        _cleanup_free_ char *qpath = escape(path);
        _cleanup_free_ char *target = xasprintf(API "/containers/%s/archive?path=%s", qid, qpath);
        _cleanup_free_ char *what = xasprintf("copying %s out of container %.*s", path, shown(id), id);
        struct archive_out out = {.fd = fd};
        struct vol_http_call call = engine_call(e, "GET", target);
        call.answer_max = max_bytes > SIZE_MAX ? SIZE_MAX : (size_t)max_bytes;
        call.timeout_ms = ARCHIVE_TIMEOUT_MS;
        call.sink = archive_sink;
        call.sink_data = &out;
        struct vol_strbuf raw;
        vol_strbuf_init(&raw, 0);
        int st = exchange(e, &call, &raw, err);
        json_auto_t *resp = st >= 0 ? body_json(&raw) : NULL;
        vol_strbuf_free(&raw);
        if (st == -E2BIG)
                return vol_error_set(err, -EFBIG, "%s: the archive is larger than %llu bytes", what,
                                     (unsigned long long)max_bytes);
        if (st < 0 && out.failed)
                return vol_error_wrap(err, "%s: ", what);
        if (st < 0)
                return unreachable(e, err);
        if (st == 404)
                return vol_error_set(err, -ENOENT, "%s: no such path or container (the engine says: %s)",
                                     what, engine_message(resp));
        if (st / 100 != 2)
                return status_error(st, resp, what, err);
        return 0;
}

void vol_engine_counts(struct vol_engine *e, uint64_t *ret_calls, uint64_t *ret_errors)
{
        *ret_calls = e->calls;
        *ret_errors = e->errors;
}
