/* GnuTLS, loaded on first use (dlopen) rather than at start: it brings
 * p11-kit, nettle, hogweed, GMP, libtasn1, libidn2 and libunistring with it
 * (some MiB of resident pages), and only a volmand with --listen serves TLS.
 * Not a public header: api/http_tls.c calls GnuTLS through the table below. */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/error.h"

/* Every GnuTLS symbol volmand uses, one X(name) each: functions, and
 * gnutls_free, a variable holding the function that frees what GnuTLS
 * allocated. gnutls_transport_set_int is a macro for
 * gnutls_transport_set_int2. */
#define VOL_GNUTLS_SYMBOLS(X)                                                                      \
        X(gnutls_bye)                                                                              \
        X(gnutls_certificate_allocate_credentials)                                                 \
        X(gnutls_certificate_free_credentials)                                                     \
        X(gnutls_certificate_server_set_request)                                                   \
        X(gnutls_certificate_set_x509_key_file)                                                    \
        X(gnutls_credentials_set)                                                                  \
        X(gnutls_deinit)                                                                           \
        X(gnutls_error_is_fatal)                                                                   \
        X(gnutls_free)                                                                             \
        X(gnutls_global_init)                                                                      \
        X(gnutls_handshake)                                                                        \
        X(gnutls_handshake_set_timeout)                                                            \
        X(gnutls_init)                                                                             \
        X(gnutls_load_file)                                                                        \
        X(gnutls_memset)                                                                           \
        X(gnutls_priority_deinit)                                                                  \
        X(gnutls_priority_init)                                                                    \
        X(gnutls_priority_set)                                                                     \
        X(gnutls_record_check_pending)                                                             \
        X(gnutls_record_get_direction)                                                             \
        X(gnutls_record_recv)                                                                      \
        X(gnutls_record_send)                                                                      \
        X(gnutls_session_ticket_enable_server)                                                     \
        X(gnutls_session_ticket_key_generate)                                                      \
        X(gnutls_strerror)                                                                         \
        X(gnutls_transport_set_int2)                                                               \
        X(gnutls_x509_crt_deinit)                                                                  \
        X(gnutls_x509_crt_export2)                                                                 \
        X(gnutls_x509_crt_get_fingerprint)                                                         \
        X(gnutls_x509_crt_import)                                                                  \
        X(gnutls_x509_crt_init)                                                                    \
        X(gnutls_x509_crt_set_activation_time)                                                     \
        X(gnutls_x509_crt_set_basic_constraints)                                                   \
        X(gnutls_x509_crt_set_dn_by_oid)                                                           \
        X(gnutls_x509_crt_set_expiration_time)                                                     \
        X(gnutls_x509_crt_set_key)                                                                 \
        X(gnutls_x509_crt_set_key_purpose_oid)                                                     \
        X(gnutls_x509_crt_set_key_usage)                                                           \
        X(gnutls_x509_crt_set_serial)                                                              \
        X(gnutls_x509_crt_set_subject_alt_name)                                                    \
        X(gnutls_x509_crt_set_version)                                                             \
        X(gnutls_x509_crt_sign2)                                                                   \
        X(gnutls_x509_privkey_deinit)                                                              \
        X(gnutls_x509_privkey_export2)                                                             \
        X(gnutls_x509_privkey_generate)                                                            \
        X(gnutls_x509_privkey_init)

/* The symbols' addresses, each typed as <gnutls/gnutls.h> declares it: a
 * function's, or for gnutls_free the variable's. */
struct vol_gnutls {
#define VOL_GNUTLS_MEMBER(f) __typeof__(f) *f;
        VOL_GNUTLS_SYMBOLS(VOL_GNUTLS_MEMBER)
#undef VOL_GNUTLS_MEMBER
};

/* Loads GnuTLS (libgnutls.so.30, or the file the test hook VOLMAN_LIBGNUTLS
 * names) and resolves its symbols, once for the whole process; thread-safe.
 * Does not call gnutls_global_init (api/http_tls.c does). Returns 0, or
 * -ELIBACC with a message saying that `what` ("the HTTPS listener") needs
 * GnuTLS, why it could not load, and the Debian package to install. A failed
 * load is tried again on the next call. */
int vol_gnutls_load(const char *what, struct vol_error *err);

/* The loaded symbols. Only after vol_gnutls_load returned 0 (in this thread
 * or one this thread synchronized with); aborts otherwise. */
const struct vol_gnutls *vol_gnutls(void);
