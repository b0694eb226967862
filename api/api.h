/* The REST API (docs/api.md): routes over the service, nothing more. */
#pragma once

#include "api/http.h"
#include "core/caller.h"
#include "service/service.h"

/* Serves the REST API for svc on socket_path (mode 0660). */
int vol_api_start(const char *socket_path, struct vol_service *svc, struct vol_http_server **ret,
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

/* App handlers (api/apps.c). */
void vol_api_config_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_config_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_resolve(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_deploy(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_app_delete(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);
void vol_api_apps_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp);

/* Fills resp with the API's error body for a negative errno and message. */
void vol_api_error(struct vol_http_response *resp, int code, const char *message);

/* Who is calling through the REST socket: the admin, with the peer's
 * credentials for the audit log. */
struct vol_caller vol_api_caller(const struct vol_http_request *req);
