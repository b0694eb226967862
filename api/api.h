/* The REST API (docs/api.md): routes over the service, nothing more. */
#pragma once

#include "api/http.h"
#include "core/caller.h"
#include "service/service.h"

/* Serves the REST API for svc on socket_path (mode 0660, group gid unless
 * 0): every caller on it is the admin. */
int vol_api_start(const char *socket_path, unsigned gid, struct vol_service *svc, struct vol_http_server **ret,
                  struct vol_error *err);

/* How the TLS listener is set up (daemon flags). */
struct vol_api_listen {
        const char *host, *port;  /* --listen HOST:PORT */
        struct vol_tls *tls;      /* its certificate (api/http_tls.h); freed by the caller after stop */
};

/* Serves the REST API, /metrics, the console sessions and the console's
 * files on l's address over TLS. Every route but a login and the console's
 * files needs a bearer token or a console session (api/auth.c). */
int vol_api_start_tls(const struct vol_api_listen *l, struct vol_service *svc, struct vol_http_server **ret,
                      struct vol_error *err);

/* Serves the Docker/Podman volume plugin protocol for svc on socket_path
 * (api/plugin.c; docs/engines.md). */
int vol_plugin_start(const char *socket_path, struct vol_service *svc, struct vol_http_server **ret,
                     struct vol_error *err);

/* Handlers, one per route (api/volumes.c). ctx is the struct vol_service. */
void vol_api_health(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_metrics(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_inspect(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_mount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_unmount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_prune(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Storage handlers (api/volume_ops.c). */
void vol_api_drivers(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_snapshot_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_snapshot_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_snapshot_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_snapshot_restore(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_clone(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_resize(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_export(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_import(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
/* GET /v1/store/backup: the metadata store, copied while it runs (admin). */
void vol_api_store_backup(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_operation_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_events(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_operation_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* App handlers (api/apps.c). */
void vol_api_config_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_config_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_resolve(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_deploy(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_delete(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_check(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_apps_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Token and session handlers, and the servers' authenticate hooks (api/auth.c). */
void vol_api_token_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_token_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_token_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_session_open(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_session_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_session_close(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
/* The unix socket's peer is the admin. */
bool vol_api_auth_unix(void *ctx, const struct vol_http_request *req, void *auth, struct vol_http_response *resp);
/* A bearer token, or a console session cookie (with its CSRF token for a
 * change); 401 with WWW-Authenticate otherwise, 429 past the rate of failures. */
bool vol_api_auth_tls(void *ctx, const struct vol_http_request *req, void *auth, struct vol_http_response *resp);

/* The console's files (api/console.c), public routes of the TLS listener. */
extern const struct vol_route vol_console_routes[];
extern const size_t vol_console_n_routes;

/* The /con interface's files and secrets (api/con.c). */
void vol_api_file_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_file_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_file_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_file_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_secret_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_secret_read(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_secret_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_secret_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Fills resp with the API's error body for a negative errno and message. */
void vol_api_error(struct vol_http_response *resp, int code, const char *message);

/* Cluster mode: moves (api/move.c): POST /v1/volumes/{}/move, POST
 * /v1/nodes/{}/reap (a node asks another to destroy what a move left), and
 * GET /v1/operations/{}?node=NAME (a move's progress, where it runs). */
void vol_api_volume_move(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_node_reap(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_operation_at_node(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Cluster mode (api/forward.c). */
struct vol_identity;
/* Checks a node-to-node call (Authorization: Volman-Node NODE TIME MAC and
 * X-Volman-Identity): true with id set to who asked on the first node (via:
 * that node), or false with why in err. */
bool vol_api_auth_node(void *ctx, const struct vol_http_request *req, const char *authz, struct vol_identity *id,
                       struct vol_error *err);
/* Whether req was passed on by another node (it is never passed on again). */
bool vol_api_forwarded(const struct vol_http_request *req);
/* Passes req on to node at address (https://ADDR:PORT) with body, signed,
 * and answers with what that node answered (streamed past 1 MiB). */
void vol_api_forward(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp, const char *node,
                     const char *address, const char *body, size_t body_len);
/* For a route whose first {} is a volume's name: when another node holds
 * that volume, passes req on to it (or answers why it cannot) and returns
 * true; false when the handler should go on here. */
bool vol_api_forward_to_owner(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_nodes(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_node_drain(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Who is calling, as the server's authenticate hook found (api/auth.c):
 * the admin on the unix socket, a token's or a session's admin or tenant on
 * the TLS listener; nobody (who sees nothing) when no hook ran. Points into
 * req: valid for the handler's time. */
struct vol_caller vol_api_caller(const struct vol_http_request *req);
