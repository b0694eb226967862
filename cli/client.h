/* The CLI's HTTP client of volmand's REST API (docs/api.md): one request
 * function over the daemon's unix socket, and the translation of HTTP answers
 * into negative errno + struct vol_error. Prints nothing. */
#pragma once

#include <jansson.h> /* also json_decrefp() for _cleanup_ */
#include <stdio.h>

#include "core/cleanup.h"
#include "core/error.h"

/* Hard maximum of one response body. */
#define VOL_CLIENT_RESPONSE_MAX ((size_t)512 * 1024 * 1024)

/* How a failed call is reported (the code of the struct vol_error):
 *   -ECONNREFUSED  the daemon cannot be reached (socket missing, refused,
 *                  permission denied); the message says which socket and why
 *   -EBADMSG       400 invalid_argument      -ENOTSUP   400 not_supported
 *   -EMSGSIZE      413 too_large             -ENOENT    404 not_found
 *   -EBUSY         409 in_use                -EEXIST    409 conflict
 *   -EPERM         403 forbidden             -ENOSPC    507 no_space
 *   -EAGAIN        503 unavailable (degraded, busy or shutting down)
 *   -EIO           500, or the daemon hung up without answering
 *   -EPROTO        any other status, or an answer that is not the JSON expected
 *   -EFBIG         an answer over VOL_CLIENT_RESPONSE_MAX */

struct vol_client;

/* A client of the daemon listening on socket_path (copied). Nothing is
 * connected yet. Returns 0 and *ret_client, or -EINVAL when the path does
 * not fit a unix socket address. The caller frees with vol_client_free(). */
int vol_client_new(const char *socket_path, struct vol_client **ret_client, struct vol_error *err);

/* Sends header ("Name: value", copied; NULL: none) with every request of c. */
void vol_client_set_header(struct vol_client *c, const char *header);

/* Closes any connection and frees c. Accepts NULL. */
void vol_client_free(struct vol_client *c);
DEFINE_CLEANUP_FUNC(struct vol_client, vol_client_free)

/* Sends one request: method ("GET", "POST", "DELETE"), path (already
 * percent-encoded, starting with '/') and an optional JSON body (NULL: none).
 * Any HTTP status is a success here: returns 0 with *ret_status and
 * *ret_body (NUL-terminated heap string, "" when empty, the caller frees) and
 * *ret_len. Fails with -ECONNREFUSED, -EIO, -EFBIG (see above). */
int vol_client_request(struct vol_client *c, const char *method, const char *path, const char *body,
                       long *ret_status, char **ret_body, size_t *ret_len, struct vol_error *err);

/* vol_client_request with JSON in and out: body (may be NULL) is serialized,
 * a 2xx answer is parsed into *ret_json (NULL for an empty answer such as
 * 204; the caller decrefs), an error answer becomes a negative errno (see
 * above) with the daemon's message. ret_json may be NULL. */
int vol_client_call(struct vol_client *c, const char *method, const char *path, json_t *body,
                    json_t **ret_json, struct vol_error *err);

/* vol_client_call with a raw body: the len bytes at data as
 * application/octet-stream (a /con file, a secret). */
int vol_client_send_bytes(struct vol_client *c, const char *method, const char *path, const void *data,
                          size_t len, json_t **ret_json, struct vol_error *err);

/* s percent-encoded for a URL path segment or query value: every byte but
 * the unreserved ones (A-Z a-z 0-9 - . _ ~) becomes %XX. Never NULL; the
 * caller frees. */
char *vol_client_escape(const char *s);

/* Called during a transfer about every tenth of a second: bytes moved so far
 * and the total when known (else 0). */
typedef void (*vol_client_progress_fn)(void *userdata, unsigned long long done, unsigned long long total);

/* GETs path and writes a 2xx answer's body to out as it comes (an export),
 * with progress (may be NULL); total is the caller's estimate (0: none). An
 * error answer becomes a negative errno with the daemon's message, and out
 * gets nothing. A body the daemon cut short (it failed half-way) is -EIO. */
int vol_client_download(struct vol_client *c, const char *path, FILE *out, vol_client_progress_fn progress,
                        void *userdata, unsigned long long total, struct vol_error *err);

/* POSTs in's content (size bytes, or -1: unknown, sent chunked) to path as
 * it reads it (an import), with progress, and parses the JSON answer into
 * *ret_json as vol_client_call does. */
int vol_client_upload(struct vol_client *c, const char *path, FILE *in, long long size,
                      vol_client_progress_fn progress, void *userdata, json_t **ret_json, struct vol_error *err);
