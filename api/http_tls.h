/* TLS for the HTTP server's network listener (GnuTLS), on non-blocking
 * sockets: the server drives handshakes and records from its event loop and
 * workers, one thread at a time per connection. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

struct vol_tls;      /* a server's certificate, key and protocol settings */
struct vol_tls_conn; /* one connection's session */

#define VOL_TLS_FINGERPRINT_MAX 112 /* "SHA256 " and 32 hex pairs joined by ":" */

/* Loads a PEM certificate (chain) and its key. Returns 0 and *ret with the
 * certificate's SHA-256 fingerprint in fingerprint, or < 0 with a message
 * naming the file at fault. */
int vol_tls_load(const char *cert_file, const char *key_file, struct vol_tls **ret,
                 char fingerprint[VOL_TLS_FINGERPRINT_MAX], struct vol_error *err);

/* The self-signed certificate kept in dir (cert.pem, key.pem mode 0600):
 * loaded when both files are there, else made (ECDSA P-256, ten years, names
 * "localhost", 127.0.0.1, ::1 and host when it is an address or a name) and
 * written durably first. *ret_made tells which. */
int vol_tls_self_signed(const char *dir, const char *host, struct vol_tls **ret,
                        char fingerprint[VOL_TLS_FINGERPRINT_MAX], bool *ret_made,
                        struct vol_error *err);

/* Frees t. Accepts NULL. Every connection made with it must be gone. */
void vol_tls_free(struct vol_tls *t);

/* A server session on the connected, non-blocking fd (not owned). NULL when
 * GnuTLS cannot make one. */
struct vol_tls_conn *vol_tls_conn_new(struct vol_tls *t, int fd);

/* Ends the session (a close_notify, if the socket takes it at once) and frees
 * it. Accepts NULL. The caller closes the fd. */
void vol_tls_conn_free(struct vol_tls_conn *c);

/* Sends close_notify (if the socket takes it now), ending what c writes;
 * c may still read. */
void vol_tls_end_writes(struct vol_tls_conn *c);

/* One step of the handshake: 1 done, 0 waiting on the socket (see
 * vol_tls_wants_write), -1 failed (the connection must close). */
int vol_tls_handshake(struct vol_tls_conn *c);

/* Whether the session's last step waits for room to write (else for bytes
 * to read). */
bool vol_tls_wants_write(struct vol_tls_conn *c);

/* Reads up to n bytes of plaintext: > 0 bytes, 0 at the end of the stream,
 * -EAGAIN when none are there yet, -EIO when the session failed. */
ssize_t vol_tls_recv(struct vol_tls_conn *c, void *buf, size_t n);

/* Writes up to n bytes of plaintext: > 0 bytes taken, -EAGAIN when the
 * socket is full (call again with the same bytes), -EIO when the session
 * failed. */
ssize_t vol_tls_send(struct vol_tls_conn *c, const void *buf, size_t n);

/* Whether decrypted bytes wait in the session, which the socket's readiness
 * does not show. */
bool vol_tls_pending(struct vol_tls_conn *c);
