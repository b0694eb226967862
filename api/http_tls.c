#include "http_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "lazy_tls.h"

/* GnuTLS is loaded on first use (lazy_tls.h): vol_tls_load and
 * vol_tls_self_signed load it first, everything else runs on what they made,
 * and each call goes through its table. A call missing here fails to link
 * (volmand does not link GnuTLS). gnutls_free is a variable there. */
#define GT(f) (vol_gnutls()->f)
#define gnutls_bye GT(gnutls_bye)
#define gnutls_certificate_allocate_credentials GT(gnutls_certificate_allocate_credentials)
#define gnutls_certificate_free_credentials GT(gnutls_certificate_free_credentials)
#define gnutls_certificate_server_set_request GT(gnutls_certificate_server_set_request)
#define gnutls_certificate_set_x509_key_file GT(gnutls_certificate_set_x509_key_file)
#define gnutls_credentials_set GT(gnutls_credentials_set)
#define gnutls_deinit GT(gnutls_deinit)
#define gnutls_error_is_fatal GT(gnutls_error_is_fatal)
#define gnutls_global_init GT(gnutls_global_init)
#define gnutls_handshake GT(gnutls_handshake)
#define gnutls_handshake_set_timeout GT(gnutls_handshake_set_timeout)
#define gnutls_init GT(gnutls_init)
#define gnutls_load_file GT(gnutls_load_file)
#define gnutls_memset GT(gnutls_memset)
#define gnutls_priority_deinit GT(gnutls_priority_deinit)
#define gnutls_priority_init GT(gnutls_priority_init)
#define gnutls_priority_set GT(gnutls_priority_set)
#define gnutls_record_check_pending GT(gnutls_record_check_pending)
#define gnutls_record_get_direction GT(gnutls_record_get_direction)
#define gnutls_record_recv GT(gnutls_record_recv)
#define gnutls_record_send GT(gnutls_record_send)
#define gnutls_session_ticket_enable_server GT(gnutls_session_ticket_enable_server)
#define gnutls_session_ticket_key_generate GT(gnutls_session_ticket_key_generate)
#define gnutls_strerror GT(gnutls_strerror)
#define gnutls_transport_set_int2 GT(gnutls_transport_set_int2)
#define gnutls_x509_crt_deinit GT(gnutls_x509_crt_deinit)
#define gnutls_x509_crt_export2 GT(gnutls_x509_crt_export2)
#define gnutls_x509_crt_get_fingerprint GT(gnutls_x509_crt_get_fingerprint)
#define gnutls_x509_crt_import GT(gnutls_x509_crt_import)
#define gnutls_x509_crt_init GT(gnutls_x509_crt_init)
#define gnutls_x509_crt_set_activation_time GT(gnutls_x509_crt_set_activation_time)
#define gnutls_x509_crt_set_basic_constraints GT(gnutls_x509_crt_set_basic_constraints)
#define gnutls_x509_crt_set_dn_by_oid GT(gnutls_x509_crt_set_dn_by_oid)
#define gnutls_x509_crt_set_expiration_time GT(gnutls_x509_crt_set_expiration_time)
#define gnutls_x509_crt_set_key GT(gnutls_x509_crt_set_key)
#define gnutls_x509_crt_set_key_purpose_oid GT(gnutls_x509_crt_set_key_purpose_oid)
#define gnutls_x509_crt_set_key_usage GT(gnutls_x509_crt_set_key_usage)
#define gnutls_x509_crt_set_serial GT(gnutls_x509_crt_set_serial)
#define gnutls_x509_crt_set_subject_alt_name GT(gnutls_x509_crt_set_subject_alt_name)
#define gnutls_x509_crt_set_version GT(gnutls_x509_crt_set_version)
#define gnutls_x509_crt_sign2 GT(gnutls_x509_crt_sign2)
#define gnutls_x509_privkey_deinit GT(gnutls_x509_privkey_deinit)
#define gnutls_x509_privkey_export2 GT(gnutls_x509_privkey_export2)
#define gnutls_x509_privkey_generate GT(gnutls_x509_privkey_generate)
#define gnutls_x509_privkey_init GT(gnutls_x509_privkey_init)
#undef gnutls_free
#define gnutls_free(p) ((*GT(gnutls_free))((void *)(p)), (p) = NULL)

static int gerr(struct vol_error *err, int code, const char *what, int g)
{
        return vol_error_set(err, code, "%s: %s", what, gnutls_strerror(g));
}

/* GnuTLS sets itself up when it is loaded (its tables, the system's
 * priority file) unless the program defines this function returning 1,
 * which its constructor calls: volmand does, and sets GnuTLS up itself, once
 * it is loaded, to report a failure. dlopen'ed, the library finds the
 * function only in volmand's dynamic symbol table: meson.build exports it
 * (--export-dynamic-symbol). */
GNUTLS_SKIP_GLOBAL_INIT

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_result;

static void tls_init(void)
{
        tls_init_result = gnutls_global_init();
}

/* Loads GnuTLS and sets it up, once. */
static int tls_setup(struct vol_error *err)
{
        int r = vol_gnutls_load("the HTTPS listener", err);
        if (r < 0)
                return r;
        pthread_once(&tls_once, tls_init);
        return tls_init_result < 0 ? gerr(err, -EIO, "setting up GnuTLS", tls_init_result) : 0;
}

/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL suites within them. */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define VALID_YEARS 10

struct vol_tls {
        gnutls_certificate_credentials_t creds;
        gnutls_priority_t prio;
        gnutls_datum_t ticket_key; /* TLS session resumption */
};

struct vol_tls_conn {
        gnutls_session_t s;
};

static int finish(struct vol_tls *t, struct vol_tls **ret, struct vol_error *err)
{
        int g = gnutls_priority_init(&t->prio, PRIORITY, NULL);
        if (g < 0) {
                vol_tls_free(t);
                return gerr(err, -EINVAL, "TLS priority", g);
        }
        if ((g = gnutls_session_ticket_key_generate(&t->ticket_key)) < 0) {
                vol_tls_free(t);
                return gerr(err, -EIO, "TLS session ticket key", g);
        }
        *ret = t;
        return 0;
}

static int fingerprint_of(gnutls_x509_crt_t crt, char out[VOL_TLS_FINGERPRINT_MAX])
{
        unsigned char d[32];
        size_t n = sizeof(d);
        if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, d, &n) < 0 || n != 32)
                return -EIO;
        int o = snprintf(out, VOL_TLS_FINGERPRINT_MAX, "SHA256");
        for (size_t i = 0; i < n; i++)
                o += snprintf(out + o, (size_t)(VOL_TLS_FINGERPRINT_MAX - o), "%c%02X", i ? ':' : ' ', d[i]);
        return 0;
}

/* The fingerprint of the first certificate in the PEM file. */
static int file_fingerprint(const char *cert_file, char out[VOL_TLS_FINGERPRINT_MAX], struct vol_error *err)
{
        gnutls_datum_t data = {0};
        int g = gnutls_load_file(cert_file, &data);
        if (g < 0)
                return gerr(err, -ENOENT, cert_file, g);
        gnutls_x509_crt_t crt;
        gnutls_x509_crt_init(&crt);
        g = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
        gnutls_free(data.data);
        int r = 0;
        if (g < 0)
                r = gerr(err, -EINVAL, cert_file, g);
        else if (fingerprint_of(crt, out) < 0)
                r = vol_error_set(err, -EINVAL, "%s: cannot compute its fingerprint", cert_file);
        gnutls_x509_crt_deinit(crt);
        return r;
}

int vol_tls_load(const char *cert_file, const char *key_file, struct vol_tls **ret,
                 char fingerprint[VOL_TLS_FINGERPRINT_MAX], struct vol_error *err)
{
        int r = tls_setup(err);
        if (r < 0 || (r = file_fingerprint(cert_file, fingerprint, err)) < 0)
                return r;
        struct vol_tls *t = xcalloc(1, sizeof(*t));
        gnutls_certificate_allocate_credentials(&t->creds);
        int g = gnutls_certificate_set_x509_key_file(t->creds, cert_file, key_file, GNUTLS_X509_FMT_PEM);
        if (g < 0) {
                vol_tls_free(t);
                return vol_error_set(err, -EINVAL, "loading TLS certificate %s with key %s: %s", cert_file,
                                     key_file, gnutls_strerror(g));
        }
        return finish(t, ret, err);
}

/* Writes data to path through a temporary file, synced, with mode. */
static int write_file(const char *path, const gnutls_datum_t *data, mode_t mode, struct vol_error *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return vol_error_set(err, -errno, "writing %s: %m", tmp);
        ssize_t w = write(fd, data->data, data->size);
        if (w != (ssize_t)data->size || fsync(fd) < 0) {
                int r = vol_error_set(err, w < 0 ? -errno : -EIO, "writing %s: %m", tmp);
                close(fd);
                unlink(tmp);
                return r;
        }
        close(fd);
        if (rename(tmp, path) < 0) {
                int r = vol_error_set(err, -errno, "renaming %s: %m", tmp);
                unlink(tmp);
                return r;
        }
        return 0;
}

static void add_host_san(gnutls_x509_crt_t crt, const char *host)
{
        unsigned char a[16];
        if (inet_pton(AF_INET, host, a) == 1) {
                if (memcmp(a, "\0\0\0\0", 4) && memcmp(a, "\x7f\0\0\1", 4))
                        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 4, GNUTLS_FSAN_APPEND);
        } else if (inet_pton(AF_INET6, host, a) == 1) {
                static const unsigned char any[16], loop[16] = {[15] = 1};
                if (memcmp(a, any, 16) && memcmp(a, loop, 16))
                        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 16, GNUTLS_FSAN_APPEND);
        } else if (*host && strcmp(host, "localhost")) {
                gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, host, (unsigned)strlen(host),
                                                     GNUTLS_FSAN_APPEND);
        }
}

static int make_self_signed(const char *cert_file, const char *key_file, const char *host,
                            struct vol_error *err)
{
        int r = tls_setup(err), g;
        if (r < 0)
                return r;
        gnutls_x509_privkey_t key = NULL;
        gnutls_x509_crt_t crt = NULL;
        gnutls_datum_t kpem = {0}, cpem = {0};
        gnutls_x509_privkey_init(&key);
        gnutls_x509_crt_init(&crt);
        if ((g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                              GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0) {
                r = gerr(err, -EIO, "making a TLS key", g);
                goto out;
        }
        unsigned char serial[16];
        if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial)) {
                r = vol_error_set(err, -EIO, "reading random bytes: %m");
                goto out;
        }
        serial[0] &= 0x7f; /* a positive serial */
        time_t now = time(NULL);
        static const unsigned char v4loop[4] = {127, 0, 0, 1}, v6loop[16] = {[15] = 1};
        gnutls_x509_crt_set_version(crt, 3);
        gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
        gnutls_x509_crt_set_activation_time(crt, now - 3600);
        gnutls_x509_crt_set_expiration_time(crt, now + (time_t)VALID_YEARS * 365 * 86400);
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "volmand", 7);
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "volman (self-signed)", 20);
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9, GNUTLS_FSAN_APPEND);
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v4loop, 4, GNUTLS_FSAN_APPEND);
        gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, v6loop, 16, GNUTLS_FSAN_APPEND);
        add_host_san(crt, host);
        gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
        if ((g = gnutls_x509_crt_set_key(crt, key)) < 0 ||
            (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
            (g = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem)) < 0 ||
            (g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem)) < 0) {
                r = gerr(err, -EIO, "making a self-signed certificate", g);
                goto out;
        }
        /* the key first: a certificate on disk always has its key */
        if ((r = write_file(key_file, &kpem, 0600, err)) < 0 || (r = write_file(cert_file, &cpem, 0644, err)) < 0)
                goto out;
out:
        gnutls_free(kpem.data);
        gnutls_free(cpem.data);
        gnutls_x509_crt_deinit(crt);
        gnutls_x509_privkey_deinit(key);
        return r;
}

int vol_tls_self_signed(const char *dir, const char *host, struct vol_tls **ret,
                        char fingerprint[VOL_TLS_FINGERPRINT_MAX], bool *ret_made,
                        struct vol_error *err)
{
        _cleanup_free_ char *cert = xasprintf("%s/cert.pem", dir);
        _cleanup_free_ char *key = xasprintf("%s/key.pem", dir);
        *ret_made = false;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating %s: %m", dir);
        if (access(cert, F_OK) < 0 || access(key, F_OK) < 0) {
                int r = make_self_signed(cert, key, host, err);
                if (r < 0)
                        return r;
                int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                        fsync(dfd);
                        close(dfd);
                }
                *ret_made = true;
        }
        return vol_tls_load(cert, key, ret, fingerprint, err);
}

void vol_tls_free(struct vol_tls *t)
{
        if (!t)
                return;
        if (t->creds)
                gnutls_certificate_free_credentials(t->creds);
        if (t->prio)
                gnutls_priority_deinit(t->prio);
        if (t->ticket_key.data) {
                gnutls_memset(t->ticket_key.data, 0, t->ticket_key.size);
                gnutls_free(t->ticket_key.data);
        }
        free(t);
}

struct vol_tls_conn *vol_tls_conn_new(struct vol_tls *t, int fd)
{
        struct vol_tls_conn *c = xcalloc(1, sizeof(*c));
        if (gnutls_init(&c->s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
                free(c);
                return NULL;
        }
        if (gnutls_priority_set(c->s, t->prio) < 0 ||
            gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, t->creds) < 0 ||
            gnutls_session_ticket_enable_server(c->s, &t->ticket_key) < 0) {
                gnutls_deinit(c->s);
                free(c);
                return NULL;
        }
        gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_IGNORE);
        gnutls_handshake_set_timeout(c->s, 0); /* the server's own deadlines apply */
        gnutls_transport_set_int(c->s, fd);
        return c;
}

void vol_tls_conn_free(struct vol_tls_conn *c)
{
        if (!c)
                return;
        (void)gnutls_bye(c->s, GNUTLS_SHUT_WR); /* non-blocking: only if it fits now */
        gnutls_deinit(c->s);
        free(c);
}

void vol_tls_end_writes(struct vol_tls_conn *c)
{
        (void)gnutls_bye(c->s, GNUTLS_SHUT_WR);
}

int vol_tls_handshake(struct vol_tls_conn *c)
{
        for (;;) {
                int g = gnutls_handshake(c->s);
                if (g == GNUTLS_E_SUCCESS)
                        return 1;
                if (g == GNUTLS_E_AGAIN)
                        return 0;
                if (g == GNUTLS_E_INTERRUPTED || (g < 0 && !gnutls_error_is_fatal(g)))
                        continue;
                return -1;
        }
}

bool vol_tls_wants_write(struct vol_tls_conn *c)
{
        return gnutls_record_get_direction(c->s) == 1;
}

ssize_t vol_tls_recv(struct vol_tls_conn *c, void *buf, size_t n)
{
        for (;;) {
                ssize_t r = gnutls_record_recv(c->s, buf, n);
                if (r >= 0)
                        return r;
                if (r == GNUTLS_E_AGAIN)
                        return -EAGAIN;
                if (r == GNUTLS_E_INTERRUPTED)
                        continue;
                if (r == GNUTLS_E_PREMATURE_TERMINATION)
                        return 0; /* closed without a close_notify: an end all the same */
                if (!gnutls_error_is_fatal((int)r))
                        continue; /* an alert of no consequence */
                return -EIO;
        }
}

ssize_t vol_tls_send(struct vol_tls_conn *c, const void *buf, size_t n)
{
        for (;;) {
                ssize_t r = gnutls_record_send(c->s, buf, n);
                if (r >= 0)
                        return r;
                if (r == GNUTLS_E_AGAIN)
                        return -EAGAIN;
                if (r == GNUTLS_E_INTERRUPTED)
                        continue;
                return -EIO;
        }
}

bool vol_tls_pending(struct vol_tls_conn *c)
{
        return gnutls_record_check_pending(c->s) > 0;
}
