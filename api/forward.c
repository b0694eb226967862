/* Cluster mode at the edge (docs/cluster.md): calls that touch a volume's
 * bytes are passed on to the node holding it, over that node's HTTPS
 * listener, signed with the cluster secret and carrying who asked; and the
 * node routes. A call passed on once is never passed on again: the node that
 * gets it answers, or refuses with the reason. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "api/json_in.h"
#include "core/cleanup.h"
#include "core/names.h"
#include "core/xmalloc.h"
#include "api/node_call.h"
#include "net/lazy_curl.h"

#define SCHEME "Volman-Node "
#define BUFFERED_MAX (1u << 20)    /* an answer past this goes out as a stream */
#define CONNECT_TIMEOUT_MS 2000
#define STALL_SECONDS 30           /* an answer that stops for this long is cut */

/* --- who asked, as one header line ------------------------------------------- */

/* "admin" or "tenant:NAME", then " seed=T/E/A" and " who=TEXT" (printable
 * ASCII only; it ends the line). */
static void identity_text(const struct vol_identity *id, char *out, size_t n)
{
        size_t k = (size_t)snprintf(out, n, "%s%s%s", id->face == VOL_FACE_ADMIN ? "admin" : "tenant:",
                                    id->face == VOL_FACE_ADMIN ? "" : id->tenant, id->seed[0] ? " seed=" : "");
        if (id->seed[0] && k < n)
                k += (size_t)snprintf(out + k, n - k, "%s", id->seed);
        if (k < n)
                k += (size_t)snprintf(out + k, n - k, " who=");
        for (const char *p = id->who; *p && k + 1 < n; p++)
                out[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        if (k < n)
                out[k] = 0;
}

static int identity_parse(const char *text, struct vol_identity *id, struct vol_error *err)
{
        memset(id, 0, sizeof(*id));
        const char *who = strstr(text, " who=");
        size_t head = who ? (size_t)(who - text) : strlen(text);
        char buf[300];
        if (head >= sizeof(buf))
                return vol_error_set(err, -EACCES, "node call: the identity is too long");
        memcpy(buf, text, head);
        buf[head] = 0;
        char *seed = strstr(buf, " seed=");
        if (seed) {
                *seed = 0;
                seed += 6;
                if (strlen(seed) >= sizeof(id->seed) || strspn(seed, "abcdefghijklmnopqrstuvwxyz0123456789-/") !=
                                                            strlen(seed))
                        return vol_error_set(err, -EACCES, "node call: a malformed seed in the identity");
                snprintf(id->seed, sizeof(id->seed), "%s", seed);
        }
        if (!strcmp(buf, "admin")) {
                id->face = VOL_FACE_ADMIN;
        } else if (!strncmp(buf, "tenant:", 7)) {
                id->face = VOL_FACE_TENANT;
                struct vol_error ignored = VOL_ERROR_INIT;
                /* "" is nobody (a seed token's caller): no tenant equals it */
                if (buf[7] && vol_validate_scope_part("tenant", buf + 7, &ignored) < 0) {
                        vol_error_clear(&ignored);
                        return vol_error_set(err, -EACCES, "node call: a malformed tenant in the identity");
                }
                size_t tl = strlen(buf + 7);
                if (tl >= sizeof(id->tenant))
                        return vol_error_set(err, -EACCES, "node call: a malformed tenant in the identity");
                memcpy(id->tenant, buf + 7, tl + 1);
        } else {
                return vol_error_set(err, -EACCES, "node call: an identity of neither an admin nor a tenant");
        }
        id->known = true;
        snprintf(id->who, sizeof(id->who), "%s", who ? who + 5 : "unknown");
        return 0;
}

bool vol_api_auth_node(void *ctx, const struct vol_http_request *req, const char *authz, struct vol_identity *id,
                       struct vol_error *err)
{
        /* "Volman-Node NODE TIME MAC" */
        char node[64], mac[VOL_CLUSTER_MAC_HEX + 1];
        long long t;
        if (sscanf(authz + strlen(SCHEME), "%63s %lld %65s", node, &t, mac) != 3) {
                vol_error_set(err, -EACCES, "node call: the Authorization header must read \"Volman-Node NODE TIME MAC\"");
                return false;
        }
        const char *who = vol_http_header(req, "X-Volman-Identity");
        if (!who) {
                vol_error_set(err, -EACCES, "node call without X-Volman-Identity");
                return false;
        }
        if (vol_service_cluster_verify(ctx, t, req->method, req->path, who, mac, err) < 0 ||
            identity_parse(who, id, err) < 0)
                return false;
        snprintf(id->via, sizeof(id->via), "%s", node);
        return true;
}

bool vol_api_forwarded(const struct vol_http_request *req)
{
        return req->auth && ((const struct vol_identity *)req->auth)->via[0];
}

/* --- passing a call on ------------------------------------------------------- */

struct relay {
        const struct vol_libcurl *c;
        CURL *h;
        const struct vol_http_request *req;
        struct vol_http_response *resp;
        struct vol_http_stream *st; /* once the answer outgrew the buffer */
        bool failed;
};

static size_t relay_body(char *data, size_t size, size_t n, void *userdata)
{
        struct relay *r = userdata;
        size_t len = size * n;
        if (!r->st && r->resp->body.len + len <= BUFFERED_MAX) {
                vol_strbuf_append(&r->resp->body, data, len);
                return len;
        }
        if (!r->st) {
                long status = 0;
                char *ct = NULL;
                r->c->curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
                r->c->curl_easy_getinfo(r->h, CURLINFO_CONTENT_TYPE, &ct);
                r->st = vol_http_stream_start(r->req, (int)status, ct ? ct : "application/octet-stream");
                if (!r->st || (r->resp->body.len &&
                               vol_http_stream_write(r->st, r->resp->body.data, r->resp->body.len) < 0)) {
                        r->failed = true;
                        return 0;
                }
                r->resp->body.len = 0;
        }
        if (vol_http_stream_write(r->st, data, len) < 0) {
                r->failed = true;
                return 0;
        }
        return len;
}

static void append_encoded(struct vol_strbuf *b, const char *s)
{
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
                        vol_strbuf_putc(b, (char)ch);
                else
                        vol_strbuf_printf(b, "%%%02X", ch);
        }
}

struct curl_slist *vol_api_node_headers(void *ctx, const struct vol_identity *me, const char *method,
                                       const char *path, const char *content_type)
{
        const struct vol_libcurl *c = vol_libcurl();
        char who[400], mac[VOL_CLUSTER_MAC_HEX];
        struct vol_identity admin = {.known = true, .face = VOL_FACE_ADMIN};
        identity_text(me ? me : &admin, who, sizeof(who));
        int64_t now = time(NULL);
        vol_service_cluster_sign(ctx, now, method, path, who, mac);
        _cleanup_free_ char *h_auth = xasprintf("Authorization: " SCHEME "%s %lld %s", vol_service_node(ctx),
                                                (long long)now, mac);
        _cleanup_free_ char *h_who = xasprintf("X-Volman-Identity: %s", who);
        _cleanup_free_ char *h_ct = xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
        struct curl_slist *headers = NULL, *next;
        const char *lines[] = {h_auth, h_who, h_ct, "Expect:"};
        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
                if (!(next = c->curl_slist_append(headers, lines[i]))) {
                        c->curl_slist_free_all(headers);
                        return NULL;
                }
                headers = next;
        }
        return headers;
}

void vol_api_node_curl(CURL *h, const char *url, struct curl_slist *headers, long stall_seconds)
{
        const struct vol_libcurl *c = vol_libcurl();
        c->curl_easy_setopt(h, CURLOPT_URL, url);
        c->curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        c->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        c->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        if (stall_seconds > 0) {
                c->curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
                c->curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_seconds);
        }
        c->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        /* The nodes' certificates are self-signed until certificates for
         * the cluster come: the call is authenticated by its signature, and
         * TLS keeps it private against a passive listener. */
        c->curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        c->curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
}

void vol_api_forward(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp, const char *node,
                     const char *address, const char *body, size_t body_len)
{
        vol_api_forward_stall(ctx, req, resp, node, address, body, body_len, STALL_SECONDS);
}

void vol_api_forward_stall(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp,
                           const char *node, const char *address, const char *body, size_t body_len,
                           long stall_seconds)
{
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_libcurl_load("a call to another cluster node", &err) < 0) {
                vol_api_error(resp, err.code, vol_error_message(&err));
                vol_error_clear(&err);
                return;
        }
        const struct vol_libcurl *c = vol_libcurl();
        _cleanup_(vol_strbuf_free) struct vol_strbuf url = {0};
        vol_strbuf_puts(&url, address);
        vol_strbuf_puts(&url, req->path);
        for (size_t i = 0; i < req->n_query; i++) {
                vol_strbuf_putc(&url, i ? '&' : '?');
                append_encoded(&url, req->query[i].key);
                vol_strbuf_putc(&url, '=');
                append_encoded(&url, req->query[i].value);
        }
        struct vol_identity me = {0};
        if (req->auth)
                memcpy(&me, req->auth, sizeof(me));
        struct curl_slist *headers =
            vol_api_node_headers(ctx, &me, req->method, req->path, vol_http_header(req, "Content-Type"));
        const char *op = vol_http_header(req, "X-Volman-Operation");
        _cleanup_free_ char *h_op = op && strlen(op) <= 64 && !strpbrk(op, "\r\n") ? xasprintf("X-Volman-Operation: %s", op)
                                                                                  : NULL;
        struct curl_slist *more = headers && h_op ? c->curl_slist_append(headers, h_op) : headers;
        CURL *h = c->curl_easy_init();
        if (!h || !more) {
                vol_api_error(resp, -ENOMEM, "no memory for a call to another node");
                c->curl_slist_free_all(headers);
                if (h)
                        c->curl_easy_cleanup(h);
                return;
        }
        headers = more;
        struct relay r = {c, h, req, resp, NULL, false};
        vol_strbuf_free(&resp->body);
        vol_api_node_curl(h, url.data, headers, stall_seconds);
        c->curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        if (body_len || strcmp(req->method, "GET") != 0) {
                c->curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
                c->curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        if (!strcmp(req->method, "GET"))
                c->curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        c->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, relay_body);
        c->curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        CURLcode cr = c->curl_easy_perform(h);
        long status = 0;
        char *rct = NULL;
        c->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        c->curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &rct);
        if (r.st) {
                vol_http_stream_end(r.st, cr == CURLE_OK && !r.failed);
        } else if (cr != CURLE_OK) {
                _cleanup_free_ char *msg = xasprintf("node %s (%s) cannot be reached: %s", node, address,
                                                     c->curl_easy_strerror(cr));
                vol_api_error(resp, -EAGAIN, msg);
        } else {
                resp->status = (int)status;
                if (rct && strncmp(rct, "application/json", 16) != 0)
                        resp->content_type = strcmp(rct, "text/plain") == 0 ? "text/plain" : "application/octet-stream";
        }
        c->curl_slist_free_all(headers);
        c->curl_easy_cleanup(h);
}

bool vol_api_forward_to_owner(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (!vol_service_node(ctx) || vol_api_forwarded(req) || !req->n_params)
                return false;
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_free_ char *node = NULL, *address = NULL;
        int r = vol_service_owner(ctx, &caller, req->params[0], &node, &address, &err);
        if (r == -ENOENT) { /* the handler says so in its own words */
                vol_error_clear(&err);
                return false;
        }
        if (r < 0) {
                vol_api_error(resp, r, vol_error_message(&err));
                vol_error_clear(&err);
                return true;
        }
        if (!address)
                return false;
        vol_api_forward(ctx, req, resp, node, address, req->body, req->body_len);
        return true;
}

/* --- the node routes ------------------------------------------------------------ */

static int node_json(const struct vol_node_info *n, void *userdata)
{
        struct vol_strbuf *b = userdata;
        if (b->data && b->data[b->len - 1] == '}')
                vol_strbuf_putc(b, ',');
        char hb[32];
        vol_format_time(n->heartbeat, hb);
        vol_strbuf_puts(b, "{\"name\":");
        vol_strbuf_json_string(b, n->name);
        vol_strbuf_puts(b, ",\"address\":");
        vol_strbuf_json_string(b, n->address);
        vol_strbuf_printf(b, ",\"state\":\"%s\",\"self\":%s,\"volumes\":%llu,\"free_bytes\":%llu,\"heartbeat\":",
                          n->state, n->self ? "true" : "false", (unsigned long long)n->volumes,
                          (unsigned long long)n->free_bytes);
        if (n->heartbeat)
                vol_strbuf_printf(b, "\"%s\"}", hb);
        else
                vol_strbuf_puts(b, "null}");
        return 0;
}

void vol_api_nodes(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        vol_strbuf_puts(&resp->body, "{\"nodes\":[");
        int r = vol_service_nodes(ctx, &caller, node_json, &resp->body, &err);
        if (r < 0) {
                vol_api_error(resp, r, vol_error_message(&err));
                vol_error_clear(&err);
                return;
        }
        vol_strbuf_puts(&resp->body, "]}");
        resp->status = 200;
}

void vol_api_node_drain(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        static const char *const fields[] = {"draining", NULL};
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        bool draining = true;
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, true, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, fields, &err)) < 0)
                goto out;
        if (json_object_get(body, "draining") && (r = vol_json_bool(body, "draining", &draining, &err)) < 0)
                goto out;
        if ((r = vol_service_node_drain(ctx, &caller, req->params[0], draining, &err)) < 0)
                goto out;
        vol_strbuf_puts(&resp->body, "{\"name\":");
        vol_strbuf_json_string(&resp->body, req->params[0]);
        vol_strbuf_printf(&resp->body, ",\"draining\":%s}", draining ? "true" : "false");
        resp->status = 200;
out:
        if (r < 0)
                vol_api_error(resp, r, vol_error_message(&err));
        vol_error_clear(&err);
}
