/* Node-to-node calls (api/forward.c), for the API's files that make them:
 * a call passed on (api.h: vol_api_forward) and the calls a move makes
 * (api/move.c). Needs libcurl loaded (net/lazy_curl.h). */
#pragma once

#include "api.h"
#include "core/caller.h"
#include "net/lazy_curl.h"

/* The headers of a signed call to method path on behalf of me (NULL: the
 * admin, for a call a node makes on its own): Authorization, the identity,
 * Content-Type (NULL: JSON), no Expect. NULL when out of memory. */
struct curl_slist *vol_api_node_headers(void *ctx, const struct vol_identity *me, const char *method,
                                       const char *path, const char *content_type);

/* The options every node call shares: url, headers, connect timeout, a cut
 * after stall_seconds without a byte (0: none), HTTPS only. */
void vol_api_node_curl(CURL *h, const char *url, struct curl_slist *headers, long stall_seconds);

/* vol_api_forward with its own stall limit (0: none), for a call whose
 * answer comes only when long work is done (a move). */
void vol_api_forward_stall(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp,
                           const char *node, const char *address, const char *body, size_t body_len,
                           long stall_seconds);
