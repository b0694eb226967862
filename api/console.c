/* The web console: its files, embedded in volmand, served on the TLS
 * listener without a credential (they hold no data; every data call the
 * console makes goes through the REST routes with its session). */
#include <string.h>

#include "api.h"
#include "api/console_assets.h"

static const struct vol_console_asset *find(const char *name)
{
        for (size_t i = 0; i < vol_console_n_assets; i++)
                if (!strcmp(vol_console_assets[i].name, name))
                        return &vol_console_assets[i];
        return NULL;
}

static void serve(const char *name, struct vol_http_response *resp)
{
        const struct vol_console_asset *a = find(name);
        if (!a) {
                vol_api_error(resp, -ENOENT, "no such console file");
                return;
        }
        resp->content_type = a->type;
        vol_strbuf_append(&resp->body, (const char *)a->data, a->len);
}

static void console_index(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        serve("index.html", resp);
}

static void console_asset(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (!strcmp(req->params[0], "index.html"))
                return console_index(ctx, req, resp);
        serve(req->params[0], resp);
}

const struct vol_route vol_console_routes[] = {
        {"GET", "/", console_index, NULL, VOL_ROUTE_PUBLIC | VOL_ROUTE_FAST},
        {"GET", "/console/{}", console_asset, NULL, VOL_ROUTE_PUBLIC | VOL_ROUTE_FAST},
};
const size_t vol_console_n_routes = sizeof(vol_console_routes) / sizeof(vol_console_routes[0]);
