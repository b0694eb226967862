/* The REST API's route table. Order matters where patterns overlap:
 * POST /v1/volumes/prune comes before POST /v1/volumes/{}/... */
#include "api.h"

#include <stdio.h>
#include <string.h>

static const char *const q_list[] = {"filter", "limit", "after", "usage", NULL};
static const char *const q_inspect[] = {"usage", NULL};
static const char *const q_remove[] = {"force", NULL};
static const char *const q_apps[] = {"tenant", NULL};
static const char *const q_import[] = {"name", "driver", "opt", "label", "tenant", "env", "app", "path", NULL};
static const char *const q_export[] = {"compression", NULL};
static const char *const q_events[] = {"since", "until", "filter", NULL};
static const char *const q_files[] = {"area", NULL};
static const char *const q_operation[] = {"node", NULL};

static const struct vol_route routes[] = {
        {"GET", "/v1/health", vol_api_health, NULL, VOL_ROUTE_FAST},
        {"GET", "/metrics", vol_api_metrics, NULL, 0},
        {"POST", "/v1/volumes/prune", vol_api_prune, NULL, 0},
        {"POST", "/v1/volumes/import", vol_api_import, q_import, VOL_ROUTE_STREAM_BODY},
        {"POST", "/v1/volumes", vol_api_create, NULL, 0},
        {"GET", "/v1/volumes", vol_api_list, q_list, 0},
        {"GET", "/v1/volumes/{}", vol_api_inspect, q_inspect, VOL_ROUTE_FAST},
        {"DELETE", "/v1/volumes/{}", vol_api_remove, q_remove, 0},
        {"POST", "/v1/volumes/{}/mount", vol_api_mount, NULL, 0},
        {"POST", "/v1/volumes/{}/unmount", vol_api_unmount, NULL, 0},
        {"POST", "/v1/volumes/{}/snapshots", vol_api_snapshot_create, NULL, 0},
        {"GET", "/v1/volumes/{}/snapshots", vol_api_snapshot_list, NULL, 0},
        {"DELETE", "/v1/volumes/{}/snapshots/{}", vol_api_snapshot_remove, NULL, 0},
        {"POST", "/v1/volumes/{}/snapshots/{}/restore", vol_api_snapshot_restore, NULL, 0},
        {"POST", "/v1/volumes/{}/clone", vol_api_clone, NULL, 0},
        {"POST", "/v1/volumes/{}/resize", vol_api_resize, NULL, 0},
        {"GET", "/v1/volumes/{}/export", vol_api_export, q_export, 0},
        {"POST", "/v1/volumes/{}/move", vol_api_volume_move, NULL, 0},
        {"GET", "/v1/drivers", vol_api_drivers, NULL, VOL_ROUTE_FAST},
        {"GET", "/v1/operations", vol_api_operation_list, NULL, VOL_ROUTE_FAST},
        {"GET", "/v1/events", vol_api_events, q_events, 0},
        {"GET", "/v1/operations/{}", vol_api_operation_at_node, q_operation, 0},
        {"GET", "/v1/config", vol_api_config_get, NULL, 0},
        {"PUT", "/v1/config", vol_api_config_put, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/config", vol_api_config_get, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/config", vol_api_config_put, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/config", vol_api_config_get, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/apps/{}/config", vol_api_config_put, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/resolved", vol_api_app_resolve, NULL, 0},
        {"POST", "/v1/tenants/{}/envs/{}/apps/{}/config/check", vol_api_app_check, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}", vol_api_app_get, NULL, 0},
        {"POST", "/v1/tenants/{}/envs/{}/apps/{}/deploy", vol_api_app_deploy, NULL, 0},
        {"DELETE", "/v1/tenants/{}/envs/{}/apps/{}", vol_api_app_delete, NULL, 0},
        {"GET", "/v1/apps", vol_api_apps_list, q_apps, 0},
        /* the /con interface's files and secrets, at an env's level and an app's */
        {"GET", "/v1/tenants/{}/envs/{}/files", vol_api_file_list, q_files, 0},
        {"GET", "/v1/tenants/{}/envs/{}/files/{}/{}", vol_api_file_get, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/files/{}/{}", vol_api_file_put, NULL, 0},
        {"DELETE", "/v1/tenants/{}/envs/{}/files/{}/{}", vol_api_file_remove, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/files", vol_api_file_list, q_files, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/files/{}/{}", vol_api_file_get, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/apps/{}/files/{}/{}", vol_api_file_put, NULL, 0},
        {"DELETE", "/v1/tenants/{}/envs/{}/apps/{}/files/{}/{}", vol_api_file_remove, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/secrets", vol_api_secret_list, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/secrets/{}", vol_api_secret_put, NULL, 0},
        {"DELETE", "/v1/tenants/{}/envs/{}/secrets/{}", vol_api_secret_remove, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/secrets", vol_api_secret_list, NULL, 0},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/secrets/{}", vol_api_secret_read, NULL, 0},
        {"PUT", "/v1/tenants/{}/envs/{}/apps/{}/secrets/{}", vol_api_secret_put, NULL, 0},
        {"DELETE", "/v1/tenants/{}/envs/{}/apps/{}/secrets/{}", vol_api_secret_remove, NULL, 0},
        {"GET", "/v1/nodes", vol_api_nodes, NULL, 0},
        {"POST", "/v1/nodes/{}/drain", vol_api_node_drain, NULL, 0},
        {"POST", "/v1/nodes/{}/reap", vol_api_node_reap, NULL, 0},
        {"POST", "/v1/tokens", vol_api_token_create, NULL, 0},
        {"GET", "/v1/tokens", vol_api_token_list, NULL, 0},
        {"GET", "/v1/store/backup", vol_api_store_backup, NULL, 0},
        {"DELETE", "/v1/tokens/{}", vol_api_token_remove, NULL, 0},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* The TLS listener's own: console sessions. */
static const struct vol_route session_routes[] = {
        {"POST", "/v1/session", vol_api_session_open, NULL, VOL_ROUTE_PUBLIC},
        {"GET", "/v1/session", vol_api_session_get, NULL, 0},
        {"DELETE", "/v1/session", vol_api_session_close, NULL, 0},
};
#define N_SESSION_ROUTES (sizeof(session_routes) / sizeof(session_routes[0]))

/* Sent with every answer of the TLS listener: the console runs no inline
 * script or style and loads nothing from elsewhere, is never framed, and no
 * answer is cached or sniffed. */
#define SECURITY_HEADERS                                                                                     \
        "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n"              \
        "X-Frame-Options: DENY\r\n"                                                                         \
        "X-Content-Type-Options: nosniff\r\n"                                                               \
        "Referrer-Policy: no-referrer\r\n"                                                                  \
        "Strict-Transport-Security: max-age=31536000\r\n"                                                   \
        "Cache-Control: no-store\r\n"

static void http_error(struct vol_http_response *resp, int status, const char *code,
                       const char *message)
{
        vol_strbuf_free(&resp->body);
        resp->status = status;
        resp->content_type = NULL;
        vol_strbuf_puts(&resp->body, "{\"error\":{\"code\":");
        vol_strbuf_json_string(&resp->body, code);
        vol_strbuf_puts(&resp->body, ",\"message\":");
        vol_strbuf_json_string(&resp->body, message);
        vol_strbuf_puts(&resp->body, "}}");
}

void vol_api_error(struct vol_http_response *resp, int code, const char *message)
{
        http_error(resp, vol_error_http_status(code), vol_error_code_name(code), message);
}

/* Every 5xx is logged, at error, with who asked what and the answer's
 * message; at debug, every answer is, with who asked and how long it took. */
static void done(void *ctx, const struct vol_http_request *req, const struct vol_http_response *resp,
                 double seconds)
{
        if (resp->status < 500) {
                if (!vol_service_log_enabled("debug"))
                        return;
                char query[512];
                size_t n = 0;
                query[0] = 0;
                for (size_t i = 0; i < req->n_query && n < sizeof(query); i++)
                        n += (size_t)snprintf(query + n, sizeof(query) - n, "%c%s=%s", i ? '&' : '?',
                                              req->query[i].key, req->query[i].value);
                struct vol_caller caller = vol_api_caller(req);
                const char *peer = req->peer ? req->peer->desc : "unknown";
                bool who = req->auth && strcmp(caller.who, peer) != 0;
                vol_service_log("debug", "%s %s%s from %s (%s%s%s) answered %d in %.3f s", req->method, req->path,
                                query, peer, req->auth ? vol_face_name(caller.face) : "unauthenticated",
                                who ? ", " : "", who ? caller.who : "", resp->status, seconds);
                return;
        }
        vol_service_log("error", "%s %s from %s answered %d in %.3f s: %.*s", req->method, req->path,
                        req->peer ? req->peer->desc : "unknown", resp->status, seconds,
                        (int)(resp->body.len < 512 ? resp->body.len : 512),
                        resp->body.data ? resp->body.data : "");
}

int vol_api_start(const char *socket_path, unsigned gid, struct vol_service *svc, struct vol_http_server **ret,
                  struct vol_error *err)
{
        struct vol_http_options opts = {.mode = 0660,
                                        .group = gid,
                                        .on_error = http_error,
                                        .on_done = done,
                                        .authenticate = vol_api_auth_unix};
        return vol_http_start(socket_path, &opts, routes, N_ROUTES, svc, ret, err);
}

int vol_api_start_tls(const struct vol_api_listen *l, struct vol_service *svc, struct vol_http_server **ret,
                      struct vol_error *err)
{
        /* one table for the server's life: sessions, the REST routes, the console */
        static struct vol_route all[N_SESSION_ROUTES + N_ROUTES + 16];
        static size_t n_all;
        if (!n_all) {
                if (vol_console_n_routes > 16)
                        return vol_error_set(err, -E2BIG, "the console has too many routes");
                memcpy(all, session_routes, sizeof(session_routes));
                memcpy(all + N_SESSION_ROUTES, routes, sizeof(routes));
                memcpy(all + N_SESSION_ROUTES + N_ROUTES, vol_console_routes,
                       vol_console_n_routes * sizeof(*vol_console_routes));
                n_all = N_SESSION_ROUTES + N_ROUTES + vol_console_n_routes;
        }
        struct vol_http_options opts = {.on_error = http_error,
                                        .on_done = done,
                                        .authenticate = vol_api_auth_tls,
                                        .extra_headers = SECURITY_HEADERS,
                                        .tls = l->tls,
                                        .max_per_client = 32};
        return vol_http_start_tcp(l->host, l->port, &opts, all, n_all, svc, ret, err);
}
