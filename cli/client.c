#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "core/strbuf.h"
#include "core/xmalloc.h"

#define CONNECT_TIMEOUT_SECONDS 10L

struct vol_client {
        char *socket_path;
        char *header; /* sent with every request, or NULL */
        CURL *curl; /* kept across requests so the connection is reused */
        char curl_error[CURL_ERROR_SIZE];
};

int vol_client_new(const char *socket_path, struct vol_client **ret_client, struct vol_error *err)
{
        if (!socket_path || !*socket_path)
                return vol_error_set(err, -EINVAL, "empty socket path");
        if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                return vol_error_set(err, -EINVAL, "socket path %s is too long (at most %zu bytes)",
                                     socket_path,
                                     sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);

        struct vol_client *c = xcalloc(1, sizeof(*c));
        c->socket_path = xstrdup(socket_path);
        *ret_client = c;
        return 0;
}

void vol_client_set_header(struct vol_client *c, const char *header)
{
        free(c->header);
        c->header = header ? xstrdup(header) : NULL;
}

void vol_client_free(struct vol_client *c)
{
        if (!c)
                return;
        free(c->header);
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->socket_path);
        free(c);
}

char *vol_client_escape(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = xmalloc(3 * n + 1), *p = out;

        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
                        *p++ = (char)ch;
                } else {
                        *p++ = '%';
                        *p++ = hex[ch >> 4];
                        *p++ = hex[ch & 0xf];
                }
        }
        *p = 0;
        return out;
}

static int unreachable(const struct vol_client *c, int errnum, struct vol_error *err)
{
        const char *why;

        switch (errnum) {
        case ENOENT:
        case ENOTDIR:
                why = "no such file (is volmand running? set --socket or VOLMAN_SOCKET)";
                break;
        case EACCES:
        case EPERM:
                why = "permission denied (run as root or as a member of the socket's group)";
                break;
        case ECONNREFUSED:
                why = "connection refused (is volmand running? set --socket or VOLMAN_SOCKET)";
                break;
        case ENOTSOCK:
                why = "not a socket (set --socket or VOLMAN_SOCKET)";
                break;
        default:
                why = errnum > 0 ? strerror(errnum) : "cannot connect";
                break;
        }
        return vol_error_set(err, -ECONNREFUSED, "cannot reach volmand at %s: %s", c->socket_path,
                             why);
}

/* Tells a missing socket, a forbidden one and a file that is no socket apart
 * before curl folds them all into "couldn't connect". */
static int check_socket(const struct vol_client *c, struct vol_error *err)
{
        struct stat st;

        if (stat(c->socket_path, &st) < 0)
                return unreachable(c, errno, err);
        if (!S_ISSOCK(st.st_mode))
                return unreachable(c, ENOTSOCK, err);
        return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct vol_strbuf *b = userdata;
        size_t n = size * nmemb;

        if (vol_strbuf_append(b, data, n) < 0)
                return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
        return n;
}

static int setup_handle(struct vol_client *c, const char *method, const char *url, const char *body,
                        size_t body_len, struct curl_slist *headers, struct vol_strbuf *response,
                        struct vol_error *err)
{
        if (!c->curl) {
                c->curl = curl_easy_init();
                if (!c->curl)
                        return vol_error_set(err, -ENOMEM, "cannot initialize libcurl");
        } else {
                curl_easy_reset(c->curl); /* keeps the open connection */
        }

        CURL *h = c->curl;
        c->curl_error[0] = 0;
        CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
        if (rc == CURLE_OK)                                                                        \
        rc = curl_easy_setopt(h, opt, val)
        SET(CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
        SET(CURLOPT_URL, url);
        /* A volume named ".." must reach the daemon as such, not be squashed
         * into another route by dot-segment removal. */
        SET(CURLOPT_PATH_AS_IS, 1L);
        SET(CURLOPT_PROTOCOLS_STR, "http");
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SECONDS);
        SET(CURLOPT_ERRORBUFFER, c->curl_error);
        SET(CURLOPT_WRITEFUNCTION, on_body);
        SET(CURLOPT_WRITEDATA, response);
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)VOL_CLIENT_RESPONSE_MAX);
        SET(CURLOPT_HTTPHEADER, headers);
        SET(CURLOPT_USERAGENT, "volman/" VOLMAN_VERSION);
        if (strcmp(method, "GET") == 0) {
                SET(CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "POST") == 0) {
                SET(CURLOPT_POST, 1L);
                SET(CURLOPT_POSTFIELDS, body ? body : "");
                SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        } else {
                SET(CURLOPT_CUSTOMREQUEST, method);
                if (body) {
                        SET(CURLOPT_POSTFIELDS, body); /* not copied: body outlives the call */
                        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
                }
        }
#undef SET
        if (rc != CURLE_OK)
                return vol_error_set(err, -EINVAL, "configuring libcurl: %s",
                                     curl_easy_strerror(rc));
        return 0;
}

/* vol_client_request with a body of body_len bytes of content_type. */
static int request(struct vol_client *c, const char *method, const char *path, const char *content_type,
                   const char *body, size_t body_len, long *ret_status, char **ret_body, size_t *ret_len,
                   struct vol_error *err)
{
        int r = check_socket(c, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *url = xasprintf("http://localhost%s", path);
        struct curl_slist *headers = NULL, *h;
        h = curl_slist_append(headers, "Accept: application/json");
        if (h)
                headers = h;
        if (body) {
                _cleanup_free_ char *ct = xasprintf("Content-Type: %s", content_type);
                h = curl_slist_append(headers, ct);
                if (h)
                        headers = h;
        }
        h = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
        if (h)
                headers = h;
        if (c->header && (h = curl_slist_append(headers, c->header)))
                headers = h;

        struct vol_strbuf response;
        vol_strbuf_init(&response, VOL_CLIENT_RESPONSE_MAX);

        r = setup_handle(c, method, url, body, body_len, headers, &response, err);
        if (r < 0)
                goto out;

        CURLcode rc = curl_easy_perform(c->curl);
        const char *detail = c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_OK:
                break;
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT: {
                long os_errno = 0;
                curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
                if (rc == CURLE_OPERATION_TIMEDOUT && os_errno == 0)
                        os_errno = ETIMEDOUT;
                r = unreachable(c, (int)os_errno, err);
                goto out;
        }
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                if (response.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
                        r = vol_error_set(err, -EFBIG, "volmand's answer is larger than %zu MiB",
                                          VOL_CLIENT_RESPONSE_MAX >> 20);
                        goto out;
                }
                r = vol_error_set(err, -EIO, "reading volmand's answer: %s", detail);
                goto out;
        case CURLE_GOT_NOTHING:
                r = vol_error_set(err, -EIO, "volmand closed the connection without answering");
                goto out;
        default:
                r = vol_error_set(err, -EIO, "talking to volmand at %s: %s", c->socket_path,
                                  detail);
                goto out;
        }

        long status = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        *ret_status = status;
        *ret_body = vol_strbuf_take(&response, ret_len);
        r = 0;
out:
        vol_strbuf_free(&response);
        curl_slist_free_all(headers);
        return r;
}

int vol_client_request(struct vol_client *c, const char *method, const char *path, const char *body,
                       long *ret_status, char **ret_body, size_t *ret_len, struct vol_error *err)
{
        return request(c, method, path, "application/json", body, body ? strlen(body) : 0, ret_status, ret_body,
                       ret_len, err);
}

/* The errno for an error answer: status first, the body's code to split what
 * shares a status. */
static int errno_for_answer(long status, const char *code)
{
        switch (status) {
        case 400:
                return code && strcmp(code, "not_supported") == 0 ? -ENOTSUP : -EBADMSG;
        case 403:
                return -EPERM;
        case 404:
                return -ENOENT;
        case 409:
                return code && strcmp(code, "in_use") == 0 ? -EBUSY : -EEXIST;
        case 413:
                return -EMSGSIZE;
        case 500:
                return -EIO;
        case 503:
                return -EAGAIN;
        case 507:
                return -ENOSPC;
        default:
                return -EPROTO;
        }
}

/* The daemon's {"error":{"code","message"}} as a struct vol_error; falls back to
 * the status line when the body is not that shape. */
static int error_from_answer(long status, const char *body, size_t len, struct vol_error *err)
{
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *j = json_loadb(body, len, 0, &jerr);
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *message = json_string_value(json_object_get(e, "message"));
        int r = errno_for_answer(status, code);

        if (message && *message)
                return vol_error_set(err, r, "%s", message);
        if (code)
                return vol_error_set(err, r, "%s (HTTP %ld)", code, status);
        return vol_error_set(err, r, "volmand answered HTTP %ld", status);
}

static int answer_json(long status, const char *answer, size_t len, json_t **ret_json, struct vol_error *err);

int vol_client_call(struct vol_client *c, const char *method, const char *path, json_t *body,
                    json_t **ret_json, struct vol_error *err)
{
        _cleanup_free_ char *body_text = NULL;
        if (body) {
                body_text = json_dumps(body, JSON_COMPACT);
                if (!body_text)
                        return vol_error_set(err, -ENOMEM, "serializing the request");
        }

        long status = 0;
        _cleanup_free_ char *answer = NULL;
        size_t len = 0;
        int r = vol_client_request(c, method, path, body_text, &status, &answer, &len, err);
        if (r < 0)
                return r;
        return answer_json(status, answer, len, ret_json, err);
}

int vol_client_send_bytes(struct vol_client *c, const char *method, const char *path, const void *data,
                          size_t len, json_t **ret_json, struct vol_error *err)
{
        long status = 0;
        _cleanup_free_ char *answer = NULL;
        size_t alen = 0;
        int r = request(c, method, path, "application/octet-stream", data ? data : "", len, &status, &answer,
                        &alen, err);
        if (r < 0)
                return r;
        return answer_json(status, answer, alen, ret_json, err);
}

/* A 2xx answer parsed into *ret_json (NULL when empty; ret_json may be
 * NULL), an error answer as a negative errno with the daemon's message. */
static int answer_json(long status, const char *answer, size_t len, json_t **ret_json, struct vol_error *err)
{
        if (status < 200 || status > 299)
                return error_from_answer(status, answer, len, err);

        json_t *j = NULL;
        if (len > 0) {
                json_error_t jerr;
                j = json_loadb(answer, len, 0, &jerr);
                if (!j)
                        return vol_error_set(err, -EPROTO,
                                             "volmand's answer is not JSON: %s (line %d)",
                                             jerr.text, jerr.line);
        }
        if (ret_json)
                *ret_json = j;
        else if (j)
                json_decref(j);
        return 0;
}

/* ---- streamed transfers ---- */

struct xfer {
        struct vol_client *c;
        FILE *file;
        bool error_answer; /* a non-2xx status: its body is kept for the message */
        struct vol_strbuf err_body;
        vol_client_progress_fn progress;
        void *userdata;
        unsigned long long total;
        int write_errno;
};

static size_t on_download(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        size_t n = size * nmemb;
        long status = 0;
        curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) {
                x->error_answer = true;
                vol_strbuf_append(&x->err_body, data, n); /* bounded: the rest is dropped */
                return n;
        }
        if (fwrite(data, 1, n, x->file) != n) {
                x->write_errno = errno ? errno : EIO;
                return 0;
        }
        return n;
}

/* What the input has now, not a full buffer: fread would wait for 2 MiB (or
 * the end) of a pipe before the first byte went out, and volmand drops an
 * upload that sends nothing for 10 s, so `export | import` from a slow
 * producer failed half-way. */
static size_t on_upload(char *buf, size_t size, size_t nmemb, void *userdata)
{
        struct xfer *x = userdata;
        for (;;) {
                ssize_t n = read(fileno(x->file), buf, size * nmemb);
                if (n >= 0)
                        return (size_t)n;
                if (errno != EINTR)
                        return CURL_READFUNC_ABORT;
        }
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        struct xfer *x = userdata;
        if (x->progress)
                x->progress(x->userdata, (unsigned long long)(ulnow ? ulnow : dlnow),
                            x->total ? x->total : (unsigned long long)(ultotal ? ultotal : 0));
        return 0;
}

static int transfer(struct xfer *x, const char *method, const char *path, long long size, long *ret_status,
                    struct vol_error *err)
{
        struct vol_client *c = x->c;
        int r = check_socket(c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *url = xasprintf("http://localhost%s", path);
        struct curl_slist *headers = NULL, *h;
        if ((h = curl_slist_append(headers, "Expect:")))
                headers = h;
        if (!strcmp(method, "POST") && (h = curl_slist_append(headers, "Content-Type: application/x-tar")))
                headers = h;
        struct vol_strbuf unused;
        vol_strbuf_init(&unused, 1);
        if ((r = setup_handle(c, !strcmp(method, "POST") ? "PUT" : method, url, NULL, 0, headers, &unused, err)) < 0)
                goto out;
        CURL *hd = c->curl;
        if (!strcmp(method, "POST")) {
                curl_easy_setopt(hd, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(hd, CURLOPT_CUSTOMREQUEST, "POST");
                curl_easy_setopt(hd, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
                curl_easy_setopt(hd, CURLOPT_READFUNCTION, on_upload);
                curl_easy_setopt(hd, CURLOPT_READDATA, x);
                if (size >= 0)
                        curl_easy_setopt(hd, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
                curl_easy_setopt(hd, CURLOPT_WRITEFUNCTION, on_body);
                curl_easy_setopt(hd, CURLOPT_WRITEDATA, &x->err_body);
        } else {
                curl_easy_setopt(hd, CURLOPT_BUFFERSIZE, 512L << 10); /* fewer, larger writes */
                curl_easy_setopt(hd, CURLOPT_WRITEFUNCTION, on_download);
                curl_easy_setopt(hd, CURLOPT_WRITEDATA, x);
                curl_easy_setopt(hd, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0); /* an export has no bound */
        }
        curl_easy_setopt(hd, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(hd, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(hd, CURLOPT_XFERINFODATA, x);
        CURLcode rc = curl_easy_perform(hd);
        curl_easy_getinfo(hd, CURLINFO_RESPONSE_CODE, ret_status);
        if (x->write_errno)
                r = vol_error_set(err, -x->write_errno, "writing the export: %s", strerror(x->write_errno));
        else if (rc == CURLE_COULDNT_CONNECT)
                r = unreachable(c, ECONNREFUSED, err);
        else if (rc != CURLE_OK && !x->error_answer)
                r = vol_error_set(err, -EIO, "the transfer with volmand failed: %s",
                                  c->curl_error[0] ? c->curl_error : curl_easy_strerror(rc));
out:
        vol_strbuf_free(&unused);
        curl_slist_free_all(headers);
        curl_easy_reset(c->curl);
        return r;
}

int vol_client_download(struct vol_client *c, const char *path, FILE *out, vol_client_progress_fn progress,
                        void *userdata, unsigned long long total, struct vol_error *err)
{
        struct xfer x = {.c = c, .file = out, .progress = progress, .userdata = userdata, .total = total};
        vol_strbuf_init(&x.err_body, 64 << 10);
        long status = 0;
        int r = transfer(&x, "GET", path, -1, &status, err);
        if (r == 0 && (status < 200 || status > 299))
                r = error_from_answer(status, x.err_body.data ? x.err_body.data : "", x.err_body.len, err);
        vol_strbuf_free(&x.err_body);
        return r;
}

int vol_client_upload(struct vol_client *c, const char *path, FILE *in, long long size,
                      vol_client_progress_fn progress, void *userdata, json_t **ret_json, struct vol_error *err)
{
        struct xfer x = {.c = c, .file = in, .progress = progress, .userdata = userdata,
                         .total = size > 0 ? (unsigned long long)size : 0};
        vol_strbuf_init(&x.err_body, VOL_CLIENT_RESPONSE_MAX);
        long status = 0;
        int r = transfer(&x, "POST", path, size, &status, err);
        if (r == 0 && (status < 200 || status > 299))
                r = error_from_answer(status, x.err_body.data ? x.err_body.data : "", x.err_body.len, err);
        if (r == 0 && ret_json) {
                json_error_t je;
                *ret_json = json_loadb(x.err_body.data ? x.err_body.data : "", x.err_body.len, 0, &je);
                if (!*ret_json)
                        r = vol_error_set(err, -EPROTO, "volmand's answer is not JSON: %s", je.text);
        }
        vol_strbuf_free(&x.err_body);
        return r;
}
