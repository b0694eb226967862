/* Who is calling: the unix socket's peer is the admin; on the TLS listener a
 * bearer token or a console session says who. The service decides what each
 * may do; this file only names the caller. Also the routes that manage
 * tokens and console sessions. */
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api/json_in.h"
#include "core/xmalloc.h"

#define COOKIE "volman_session"
#define COOKIE_ATTRS "Path=/; Secure; HttpOnly; SameSite=Strict"

_Static_assert(sizeof(struct vol_identity) <= VOL_HTTP_AUTH_MAX, "an identity fits the server's auth buffer");

struct vol_caller vol_api_caller(const struct vol_http_request *req)
{
        static const struct vol_identity nobody = {0};
        return vol_identity_caller(req->auth ? (const struct vol_identity *)req->auth : &nobody);
}

bool vol_api_auth_unix(void *ctx, const struct vol_http_request *req, void *auth, struct vol_http_response *resp)
{
        struct vol_identity *id = auth;
        id->known = true;
        id->face = VOL_FACE_ADMIN;
        snprintf(id->who, sizeof(id->who), "%s", req->peer ? req->peer->desc : "unknown");
        return true;
}

/* The value of cookie name in req's Cookie header, copied into out, or NULL. */
static const char *find_cookie(const struct vol_http_request *req, const char *name, char *out, size_t outsz)
{
        const char *h = vol_http_header(req, "Cookie");
        size_t nl = strlen(name);
        while (h && *h) {
                while (*h == ' ' || *h == ';')
                        h++;
                const char *end = strchr(h, ';');
                size_t len = end ? (size_t)(end - h) : strlen(h);
                if (len > nl && !strncmp(h, name, nl) && h[nl] == '=') {
                        size_t vl = len - nl - 1;
                        if (vl >= outsz)
                                return NULL;
                        memcpy(out, h + nl + 1, vl);
                        out[vl] = 0;
                        return out;
                }
                h = end;
        }
        return NULL;
}

static bool refuse(struct vol_http_response *resp, struct vol_error *err)
{
        int code = err->code ? err->code : -EACCES;
        vol_api_error(resp, code, vol_error_message(err));
        if (code == -EACCES)
                resp->headers = xstrdup("WWW-Authenticate: Bearer realm=\"volman\"\r\n");
        else if (code == -EUSERS)
                resp->headers = xstrdup("Retry-After: 60\r\n");
        vol_error_clear(err);
        return false;
}

static bool is_read(const char *method)
{
        return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

bool vol_api_auth_tls(void *ctx, const struct vol_http_request *req, void *auth, struct vol_http_response *resp)
{
        struct vol_identity *id = auth;
        struct vol_error err = VOL_ERROR_INIT;
        const char *client = req->peer ? req->peer->addr : "unknown";
        const char *authz = vol_http_header(req, "Authorization");
        char sid[VOL_SESSION_LEN + 2];
        int r;
        if (authz && !strncmp(authz, "Volman-Node ", 12)) {
                if (!vol_api_auth_node(ctx, req, authz, id, &err))
                        return refuse(resp, &err);
                return true;
        }
        if (authz) {
                if (strncasecmp(authz, "Bearer ", 7)) {
                        vol_error_set(&err, -EACCES, "the Authorization header must read \"Bearer vmt_...\"");
                        return refuse(resp, &err);
                }
                const char *token = authz + 7;
                while (*token == ' ')
                        token++;
                r = vol_service_authenticate(ctx, token, client, id, &err);
        } else if (find_cookie(req, COOKIE, sid, sizeof(sid))) {
                r = vol_service_session_check(ctx, sid, !is_read(req->method), vol_http_header(req, "X-CSRF-Token"),
                                              client, NULL, id, &err);
        } else {
                r = vol_error_set(&err, -EACCES,
                                  "this listener needs a credential: send \"Authorization: Bearer <token>\" "
                                  "(volman token create), or log in to the console");
        }
        if (r < 0)
                return refuse(resp, &err);
        return true;
}

/* ---- tokens (admin) ---- */

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

static void token_json(struct vol_strbuf *b, const struct vol_token_info *t)
{
        vol_strbuf_puts(b, "{\"id\":");
        vol_strbuf_json_string(b, t->id);
        vol_strbuf_puts(b, ",\"tenant\":");
        if (t->tenant)
                vol_strbuf_json_string(b, t->tenant);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_puts(b, ",\"admin\":");
        vol_strbuf_puts(b, t->tenant ? "false" : "true");
        vol_strbuf_puts(b, ",\"name\":");
        vol_strbuf_json_string(b, t->name);
        vol_strbuf_printf(b, ",\"created\":%lld,\"last_used\":", (long long)t->created);
        if (t->last_used)
                vol_strbuf_printf(b, "%lld", (long long)t->last_used);
        else
                vol_strbuf_puts(b, "null");
}

static const char *const token_fields[] = {"tenant", "admin", "name", NULL};
void vol_api_token_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        struct vol_caller caller = vol_api_caller(req);
        const char *tenant = NULL, *name = NULL;
        bool admin = false;
        char token[VOL_TOKEN_LEN + 1];
        struct vol_token_info info;
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, false, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, token_fields, &err)) < 0 ||
            (r = vol_json_string(body, "tenant", &tenant, &err)) < 0 ||
            (r = vol_json_string(body, "name", &name, &err)) < 0 ||
            (r = vol_json_bool(body, "admin", &admin, &err)) < 0)
                return fail(resp, &err);
        if (!tenant == !admin) {
                vol_error_set(&err, -EINVAL,
                              tenant ? "a token is a tenant's (\"tenant\") or an admin's (\"admin\": true), not both"
                                     : "give \"tenant\" for a tenant's token, or \"admin\": true for an admin's");
                return fail(resp, &err);
        }
        if ((r = vol_service_token_create(ctx, &caller, tenant, name, token, &info, &err)) < 0)
                return fail(resp, &err);
        resp->status = 201;
        token_json(&resp->body, &info);
        vol_strbuf_puts(&resp->body, ",\"token\":");
        vol_strbuf_json_string(&resp->body, token);
        vol_strbuf_putc(&resp->body, '}');
        explicit_bzero(token, sizeof(token));
}

static int list_one(const struct vol_token_info *t, void *userdata)
{
        struct vol_strbuf *b = userdata;
        if (b->data[b->len - 1] == '}')
                vol_strbuf_putc(b, ',');
        token_json(b, t);
        vol_strbuf_putc(b, '}');
        return 0;
}

void vol_api_token_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        vol_strbuf_puts(&resp->body, "{\"tokens\":[");
        if (vol_service_token_list(ctx, &caller, list_one, &resp->body, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "]}");
}

void vol_api_token_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_token_remove(ctx, &caller, req->params[0], &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "{\"revoked\":");
        vol_strbuf_json_string(&resp->body, req->params[0]);
        vol_strbuf_putc(&resp->body, '}');
}

/* ---- console sessions (TLS listener) ---- */

static void whoami(struct vol_strbuf *b, const struct vol_identity *id, const char *csrf)
{
        vol_strbuf_puts(b, "{\"admin\":");
        vol_strbuf_puts(b, id->face == VOL_FACE_ADMIN ? "true" : "false");
        vol_strbuf_puts(b, ",\"tenant\":");
        if (id->face == VOL_FACE_TENANT)
                vol_strbuf_json_string(b, id->tenant);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_puts(b, ",\"who\":");
        vol_strbuf_json_string(b, id->who);
        vol_strbuf_puts(b, ",\"csrf\":");
        if (csrf)
                vol_strbuf_json_string(b, csrf);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_putc(b, '}');
}

static const char *const login_fields[] = {"token", NULL};
void vol_api_session_open(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        const char *token = NULL;
        char sid[VOL_SESSION_LEN + 1], csrf[VOL_SESSION_LEN + 1];
        struct vol_identity id;
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, false, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, login_fields, &err)) < 0 ||
            (r = vol_json_string(body, "token", &token, &err)) < 0)
                return fail(resp, &err);
        if (!token) {
                vol_error_set(&err, -EINVAL, "give \"token\": the token to log in with");
                return fail(resp, &err);
        }
        if (vol_service_session_open(ctx, token, req->peer ? req->peer->addr : "unknown", sid, csrf, &id, &err) < 0) {
                refuse(resp, &err);
                return;
        }
        resp->headers = xasprintf("Set-Cookie: " COOKIE "=%s; " COOKIE_ATTRS "; Max-Age=43200\r\n", sid);
        whoami(&resp->body, &id, csrf);
        explicit_bzero(sid, sizeof(sid));
}

void vol_api_session_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        const struct vol_identity *id = req->auth;
        char sid[VOL_SESSION_LEN + 2], csrf[VOL_SESSION_LEN + 1];
        struct vol_identity again;
        struct vol_error err = VOL_ERROR_INIT;
        /* a session caller gets its CSRF token back (a reload of the console) */
        bool has = !vol_http_header(req, "Authorization") && find_cookie(req, COOKIE, sid, sizeof(sid)) &&
                   vol_service_session_check(ctx, sid, false, NULL, req->peer ? req->peer->addr : "unknown", csrf,
                                             &again, &err) == 0;
        vol_error_clear(&err);
        whoami(&resp->body, id, has ? csrf : NULL);
}

void vol_api_session_close(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        char sid[VOL_SESSION_LEN + 2];
        if (find_cookie(req, COOKIE, sid, sizeof(sid)))
                vol_service_session_close(ctx, sid);
        resp->headers = xstrdup("Set-Cookie: " COOKIE "=; " COOKIE_ATTRS "; Max-Age=0\r\n");
        vol_strbuf_puts(&resp->body, "{\"logged_out\":true}");
}
