/* The etcd store's client: requests to etcd's v3 JSON gateway (POST
 * /v3/kv/range, /v3/kv/txn, /v3/lease/grant, ...) over libcurl, loaded on
 * first use (net/lazy_curl.h). Not a public header: only store/etcd*.c
 * include it.
 *
 * One client serves many threads at once: each request takes a CURL easy
 * handle from a small mutex-protected pool (a handle keeps its connection
 * alive between requests) and gives it back. Requests go to the endpoint
 * that last answered; when one cannot be connected to, the next is tried.
 * Every answer is bounded (VOL_ETCD_ANSWER_MAX). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "etcd_codec.h"

#define VOL_ETCD_ANSWER_MAX (64u << 20)
#define VOL_ETCD_CONNECT_TIMEOUT_MS 1000L
#define VOL_ETCD_REQUEST_TIMEOUT_MS 5000L

struct vol_etcd;

/* A client for the endpoints of loc (its strings are copied). Loads libcurl
 * and sends nothing. Returns 0 and *ret, or -ELIBACC without libcurl. */
int vol_etcd_client_new(const struct vol_etcd_location *loc, struct vol_etcd **ret,
                        struct vol_error *err);

/* Frees c and its handles (closing their connections). Accepts NULL. */
void vol_etcd_client_free(struct vol_etcd *c);

/* The endpoints, comma-separated, for messages. */
const char *vol_etcd_endpoints(const struct vol_etcd *c);

/* Whether a request may be sent again after it may have reached etcd. */
enum vol_etcd_retry {
        VOL_ETCD_READ,  /* a read: any failure moves on to the next endpoint */
        VOL_ETCD_WRITE, /* a write: only a failure to connect does (it was never sent) */
};

/* POSTs req (borrowed) to path ("/v3/kv/range") and parses the answer into
 * *ret (caller decrefs). Returns 0, or:
 *   -EAGAIN: no endpoint could be reached or answered in time, or etcd says
 *            it cannot serve now (no leader, a timeout inside the cluster);
 *            the message names the endpoints and curl's or etcd's reason;
 *   -ENOENT: etcd says what was asked for is not found (a lease);
 *   -E2BIG:  the answer was larger than VOL_ETCD_ANSWER_MAX;
 *   -EIO:    any other error etcd answers, with its message, or an answer
 *            that is not JSON. */
int vol_etcd_call(struct vol_etcd *c, const char *path, json_t *req, enum vol_etcd_retry retry,
                  json_t **ret, struct vol_error *err);

/* bytes[0..n) as the JSON string of their base64 (new reference). */
json_t *vol_etcd_b64(const char *bytes, size_t n);

/* A key-value of an answer ("kvs" entries, base64 decoded). */
struct vol_etcd_kv {
        char *key; /* NUL-terminated heap copy */
        size_t key_len;
        char *value; /* NUL-terminated heap copy */
        size_t value_len;
        int64_t mod_revision;
};

/* Decodes one entry of a range answer's "kvs" into *ret (free with
 * vol_etcd_kv_clear). Returns 0 or -EIO for an entry that is not one. */
int vol_etcd_kv_decode(json_t *j, struct vol_etcd_kv *ret, struct vol_error *err);

/* Frees what kv holds. */
void vol_etcd_kv_clear(struct vol_etcd_kv *kv);

/* An int64 field of an answer: the gateway writes them as strings, and omits
 * them when 0. Returns the value, 0 when absent, or -1 when it is neither a
 * number nor a string of one. */
int64_t vol_etcd_int(json_t *obj, const char *field);
