/* libcurl, loaded on first use (dlopen) rather than linked: a single-node
 * volmand on SQLite never speaks HTTP to anyone, and must not map libcurl
 * and what it brings (OpenSSL, nghttp2, libssh2, LDAP, Kerberos: some MiB
 * of resident pages). The etcd store (store/etcd_client.c) is its first
 * user; node-to-node calls are the next.
 *
 * Callers include this header, compiled against curl's headers only, call
 * vol_libcurl_load once before any use, and then call libcurl through the
 * table: vol_libcurl()->curl_easy_perform(h). */
#pragma once

/* With gcc, <curl/curl.h> makes curl_easy_setopt and curl_easy_getinfo
 * function-like macros (its type checks), which would also expand in
 * vol_libcurl()->curl_easy_setopt(h, ...): they are turned off, and undone
 * should curl.h have come in before this header. */
#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK
#endif
#include <curl/curl.h>
#undef curl_easy_setopt
#undef curl_easy_getinfo

#include "core/error.h"

/* Every libcurl function volmand calls, one X(name) each. */
#define VOL_LIBCURL_FUNCS(X)                                                                       \
        X(curl_global_init)                                                                        \
        X(curl_easy_init)                                                                          \
        X(curl_easy_setopt)                                                                        \
        X(curl_easy_perform)                                                                       \
        X(curl_easy_getinfo)                                                                       \
        X(curl_easy_cleanup)                                                                       \
        X(curl_easy_reset)                                                                         \
        X(curl_easy_strerror)                                                                      \
        X(curl_slist_append)                                                                       \
        X(curl_slist_free_all)

/* The functions, each typed as <curl/curl.h> declares it. */
struct vol_libcurl {
#define VOL_LIBCURL_MEMBER(f) __typeof__(f) *f;
        VOL_LIBCURL_FUNCS(VOL_LIBCURL_MEMBER)
#undef VOL_LIBCURL_MEMBER
};

/* Loads libcurl (libcurl.so.4, or the file the test hook VOLMAN_LIBCURL
 * names), resolves its functions and runs curl_global_init, once for the
 * whole process; thread-safe. Returns 0, or -ELIBACC with a message saying
 * that `what` ("the etcd store") needs libcurl, why it could not load, and
 * the Debian package to install. A failed load is tried again on the next
 * call, so installing the package is enough, without a restart. */
int vol_libcurl_load(const char *what, struct vol_error *err);

/* The loaded functions. Only after vol_libcurl_load returned 0 (in this
 * thread or one this thread synchronized with); aborts otherwise. */
const struct vol_libcurl *vol_libcurl(void);
