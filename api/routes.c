/* The REST API's route table. Order matters where patterns overlap:
 * POST /v1/volumes/prune comes before POST /v1/volumes/{}/... */
#include "api.h"

#include <stdio.h>

static const struct vol_route routes[] = {
        {"GET", "/v1/health", vol_api_health},
        {"GET", "/metrics", vol_api_metrics},
        {"POST", "/v1/volumes/prune", vol_api_prune},
        {"POST", "/v1/volumes", vol_api_create},
        {"GET", "/v1/volumes", vol_api_list},
        {"GET", "/v1/volumes/{}", vol_api_inspect},
        {"DELETE", "/v1/volumes/{}", vol_api_remove},
        {"POST", "/v1/volumes/{}/mount", vol_api_mount},
        {"POST", "/v1/volumes/{}/unmount", vol_api_unmount},
        {"GET", "/v1/config", vol_api_config_get},
        {"PUT", "/v1/config", vol_api_config_put},
        {"GET", "/v1/tenants/{}/envs/{}/config", vol_api_config_get},
        {"PUT", "/v1/tenants/{}/envs/{}/config", vol_api_config_put},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/config", vol_api_config_get},
        {"PUT", "/v1/tenants/{}/envs/{}/apps/{}/config", vol_api_config_put},
        {"GET", "/v1/tenants/{}/envs/{}/apps/{}/resolved", vol_api_app_resolve},
        {"POST", "/v1/tenants/{}/envs/{}/apps/{}/deploy", vol_api_app_deploy},
        {"DELETE", "/v1/tenants/{}/envs/{}/apps/{}", vol_api_app_delete},
        {"GET", "/v1/apps", vol_api_apps_list},
};

static void http_error(struct vol_http_response *resp, int status, const char *code,
                       const char *message)
{
        resp->status = status;
        vol_strbuf_puts(&resp->body, "{\"error\":{\"code\":");
        vol_strbuf_json_string(&resp->body, code);
        vol_strbuf_puts(&resp->body, ",\"message\":");
        vol_strbuf_json_string(&resp->body, message);
        vol_strbuf_puts(&resp->body, "}}");
}

void vol_api_error(struct vol_http_response *resp, int code, const char *message)
{
        vol_strbuf_free(&resp->body);
        http_error(resp, vol_error_http_status(code), vol_error_code_name(code), message);
}

int vol_api_start(const char *socket_path, struct vol_service *svc, struct vol_http_server **ret,
                  struct vol_error *err)
{
        return vol_http_start(socket_path, 0660, routes, sizeof(routes) / sizeof(routes[0]),
                              http_error, svc, ret, err);
}
