/* The etcd store's client: see etcd_client.h. */
#include "etcd_client.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "net/lazy_curl.h"

#define CURL_FN(f) vol_libcurl()->f
#define IDLE_HANDLES_MAX 32 /* kept with their connections: one per concurrent caller */
#define CURL_ERROR_MAX 256

struct handle {
        CURL *curl;
        struct handle *next;
};

struct vol_etcd {
        size_t n;
        char *urls[VOL_ETCD_ENDPOINTS_MAX];      /* "http://HOST:PORT" */
        char *endpoints[VOL_ETCD_ENDPOINTS_MAX]; /* "HOST:PORT", for messages */
        char *all;                               /* every endpoint, for messages */
        atomic_uint current;                     /* the endpoint that last answered */
        struct curl_slist *headers;              /* read-only once made: shared by handles */
        pthread_mutex_t lock;                    /* guards idle, n_idle */
        struct handle *idle;
        size_t n_idle;
};

int vol_etcd_client_new(const struct vol_etcd_location *loc, struct vol_etcd **ret,
                        struct vol_error *err)
{
        int r = vol_libcurl_load("the etcd metadata store", err);
        if (r < 0)
                return r;
        struct vol_etcd *c = xcalloc(1, sizeof(*c));
        struct vol_strbuf all;
        vol_strbuf_init(&all, 0);
        for (size_t i = 0; i < loc->n; i++) {
                c->endpoints[i] = xstrdup(loc->endpoints[i]);
                c->urls[i] = xasprintf("http://%s", loc->endpoints[i]);
                vol_strbuf_printf(&all, "%s%s", i ? "," : "", loc->endpoints[i]);
        }
        c->n = loc->n;
        c->all = vol_strbuf_take(&all, NULL);
        pthread_mutex_init(&c->lock, NULL);
        /* "Expect:" keeps curl from waiting for a 100 Continue before a large body */
        struct curl_slist *h = CURL_FN(curl_slist_append)(NULL, "Content-Type: application/json");
        struct curl_slist *h2 = h ? CURL_FN(curl_slist_append)(h, "Expect:") : NULL;
        if (!h2) {
                CURL_FN(curl_slist_free_all)(h);
                vol_etcd_client_free(c);
                return vol_error_set(err, -ENOMEM, "etcd store: out of memory");
        }
        c->headers = h2;
        *ret = c;
        return 0;
}

void vol_etcd_client_free(struct vol_etcd *c)
{
        if (!c)
                return;
        while (c->idle) {
                struct handle *h = c->idle;
                c->idle = h->next;
                CURL_FN(curl_easy_cleanup)(h->curl);
                free(h);
        }
        if (c->headers)
                CURL_FN(curl_slist_free_all)(c->headers);
        for (size_t i = 0; i < c->n; i++) {
                free(c->urls[i]);
                free(c->endpoints[i]);
        }
        free(c->all);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

const char *vol_etcd_endpoints(const struct vol_etcd *c)
{
        return c->all;
}

/* ---- the handle pool ---- */

static struct handle *handle_get(struct vol_etcd *c)
{
        pthread_mutex_lock(&c->lock);
        struct handle *h = c->idle;
        if (h) {
                c->idle = h->next;
                c->n_idle--;
        }
        pthread_mutex_unlock(&c->lock);
        if (h)
                return h;
        CURL *curl = CURL_FN(curl_easy_init)();
        if (!curl)
                return NULL;
        h = xcalloc(1, sizeof(*h));
        h->curl = curl;
        return h;
}

static void handle_put(struct vol_etcd *c, struct handle *h)
{
        /* options go, the live connection and the DNS cache stay */
        CURL_FN(curl_easy_reset)(h->curl);
        pthread_mutex_lock(&c->lock);
        if (c->n_idle < IDLE_HANDLES_MAX) {
                h->next = c->idle;
                c->idle = h;
                c->n_idle++;
                h = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        if (h) {
                CURL_FN(curl_easy_cleanup)(h->curl);
                free(h);
        }
}

/* ---- one request ---- */

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        struct vol_strbuf *b = userdata;
        return vol_strbuf_append(b, data, size * n) < 0 ? 0 : size * n; /* 0: curl stops */
}

/* What one attempt at one endpoint gave. */
struct attempt {
        CURLcode code;
        long status;
        bool connected; /* the request may have reached etcd */
        char error[CURL_ERROR_MAX];
};

static void perform(struct vol_etcd *c, CURL *curl, size_t ep, const char *path, const char *body,
                    struct vol_strbuf *answer, struct attempt *a)
{
        _cleanup_free_ char *url = xasprintf("%s%s", c->urls[ep], path);
        a->error[0] = 0;
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_URL, url);
        CURL_FN(curl_easy_setopt)
        (curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_HTTPHEADER, c->headers);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_POSTFIELDS, body);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_CONNECTTIMEOUT_MS, VOL_ETCD_CONNECT_TIMEOUT_MS);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_TIMEOUT_MS, VOL_ETCD_REQUEST_TIMEOUT_MS);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_WRITEFUNCTION, on_body);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_WRITEDATA, answer);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_ERRORBUFFER, a->error);
        CURL_FN(curl_easy_setopt)(curl, CURLOPT_NOPROXY, "*"); /* etcd is never behind http_proxy */
        a->code = CURL_FN(curl_easy_perform)(curl);
        a->status = 0;
        CURL_FN(curl_easy_getinfo)(curl, CURLINFO_RESPONSE_CODE, &a->status);
        curl_off_t connect_us = 0;
        CURL_FN(curl_easy_getinfo)(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
        a->connected = a->code != CURLE_COULDNT_CONNECT && a->code != CURLE_COULDNT_RESOLVE_HOST &&
                       !(a->code == CURLE_OPERATION_TIMEDOUT && connect_us == 0);
        if (!a->error[0])
                snprintf(a->error, sizeof(a->error), "%s", CURL_FN(curl_easy_strerror)(a->code));
        CURL_FN(curl_easy_setopt)
        (curl, CURLOPT_ERRORBUFFER, NULL); /* a->error does not outlive this */
}

/* An error of etcd's, from its gRPC code and message. */
static int etcd_error(struct vol_etcd *c, size_t ep, long status, int64_t code, const char *msg,
                      struct vol_error *err)
{
        int r = code == 14 || code == 4 ? -EAGAIN /* Unavailable, DeadlineExceeded */
                : code == 5             ? -ENOENT /* NotFound */
                                        : -EIO;
        return vol_error_set(err, r, "metadata store: etcd at %s answered %ld: %s",
                             c->endpoints[ep], status, msg ? msg : "(no message)");
}

/* The answer of a request etcd took: a unary error is {"error", "message",
 * "code"} with an HTTP error status; a streaming one (lease keepalive)
 * comes with 200 as {"error": {"grpc_code", "message"}}. */
static int parse_answer(struct vol_etcd *c, size_t ep, long status, const struct vol_strbuf *answer,
                        json_t **ret, struct vol_error *err)
{
        _cleanup_(json_decrefp) json_t *j =
            answer->len ? json_loadb(answer->data, answer->len, 0, NULL) : NULL;
        if (status != 200)
                return etcd_error(c, ep, status, vol_etcd_int(j, "code"),
                                  json_string_value(json_object_get(j, "message")), err);
        if (!json_is_object(j))
                return vol_error_set(
                    err, -EIO, "metadata store: etcd at %s answered what is not a JSON object",
                    c->endpoints[ep]);
        json_t *e = json_object_get(j, "error");
        if (json_is_object(e))
                return etcd_error(c, ep, status, vol_etcd_int(e, "grpc_code"),
                                  json_string_value(json_object_get(e, "message")), err);
        *ret = TAKE_PTR(j);
        return 0;
}

int vol_etcd_call(struct vol_etcd *c, const char *path, json_t *req, enum vol_etcd_retry retry,
                  json_t **ret, struct vol_error *err)
{
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        if (!body)
                return vol_error_set(err, -ENOMEM,
                                     "metadata store: encoding a request to etcd failed");
        struct handle *h = handle_get(c);
        if (!h)
                return vol_error_set(err, -ENOMEM,
                                     "metadata store: no libcurl handle (out of memory)");
        struct vol_strbuf answer, reasons;
        vol_strbuf_init(&answer, VOL_ETCD_ANSWER_MAX);
        vol_strbuf_init(&reasons, 4096);
        unsigned first = atomic_load_explicit(&c->current, memory_order_relaxed);
        int r = 1; /* no endpoint answered yet */
        for (size_t i = 0; i < c->n && r > 0; i++) {
                size_t ep = (first + i) % c->n;
                struct attempt a;
                answer.len = 0;
                answer.overflow = false;
                perform(c, h->curl, ep, path, body, &answer, &a);
                if (a.code == CURLE_OK) {
                        atomic_store_explicit(&c->current, (unsigned)ep, memory_order_relaxed);
                        r = parse_answer(c, ep, a.status, &answer, ret, err);
                } else if (answer.overflow) {
                        r = vol_error_set(err, -E2BIG,
                                          "metadata store: etcd at %s answered more than %u bytes",
                                          c->endpoints[ep], VOL_ETCD_ANSWER_MAX);
                } else if (a.connected && retry == VOL_ETCD_WRITE) {
                        /* it may have been applied: another endpoint would apply it twice */
                        r = vol_error_set(
                            err, -EAGAIN,
                            "metadata store: etcd at %s did not answer (%s): the write may or may "
                            "not have been applied",
                            c->endpoints[ep], a.error);
                } else {
                        if (c->n > 1)
                                vol_strbuf_printf(&reasons, "%s%s: ", reasons.len ? "; " : "",
                                                  c->endpoints[ep]);
                        vol_strbuf_puts(&reasons, a.error);
                }
        }
        if (r > 0)
                r = vol_error_set(err, -EAGAIN, "metadata store: etcd at %s cannot be reached: %s",
                                  c->all, reasons.data);
        vol_strbuf_free(&answer);
        vol_strbuf_free(&reasons);
        handle_put(c, h);
        return r;
}

/* ---- the gateway's encodings ---- */

json_t *vol_etcd_b64(const char *bytes, size_t n)
{
        size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
        char *text = xmalloc(len);
        sodium_bin2base64(text, len, (const unsigned char *)bytes, n,
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *j = json_string(text);
        free(text);
        return j;
}

/* The bytes of base64 text, NUL-terminated: 0, or -1 when it is not base64. */
static int unbase64(const char *text, char **ret, size_t *ret_len)
{
        size_t tn = strlen(text), max = tn / 4 * 3 + 3;
        char *out = xmalloc(max + 1);
        size_t n;
        if (sodium_base642bin((unsigned char *)out, max, text, tn, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
                free(out);
                return -1;
        }
        out[n] = 0;
        *ret = out;
        *ret_len = n;
        return 0;
}

int vol_etcd_kv_decode(json_t *j, struct vol_etcd_kv *ret, struct vol_error *err)
{
        const char *k = json_string_value(json_object_get(j, "key"));
        json_t *jv = json_object_get(j, "value");
        const char *v = jv ? json_string_value(jv) : ""; /* an empty value is omitted */
        struct vol_etcd_kv kv = {.mod_revision = vol_etcd_int(j, "mod_revision")};
        if (!k || !v || unbase64(k, &kv.key, &kv.key_len) < 0 ||
            unbase64(v, &kv.value, &kv.value_len) < 0 || kv.mod_revision <= 0) {
                vol_etcd_kv_clear(&kv);
                return vol_error_set(err, -EIO,
                                     "metadata store: etcd answered a key-value that is not one");
        }
        *ret = kv;
        return 0;
}

void vol_etcd_kv_clear(struct vol_etcd_kv *kv)
{
        free(kv->key);
        free(kv->value);
        kv->key = kv->value = NULL;
}

int64_t vol_etcd_int(json_t *obj, const char *field)
{
        json_t *j = json_object_get(obj, field);
        if (!j)
                return 0;
        if (json_is_integer(j))
                return json_integer_value(j);
        const char *s = json_string_value(j);
        if (!s || !*s)
                return -1;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        return *end || errno ? -1 : v;
}
