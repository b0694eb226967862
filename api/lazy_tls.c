/* GnuTLS, loaded on first use: see lazy_tls.h. */
#include "lazy_tls.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define SONAME "libgnutls.so.30"
#define PACKAGE "libgnutls30" /* Debian's */
#define ENV_HOOK "VOLMAN_LIBGNUTLS"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vol_gnutls table; /* written under lock, before loaded */
static atomic_bool loaded;

static int load(const char *what, struct vol_error *err)
{
        const char *file = getenv(ENV_HOOK); /* tests: a library that is not there */
        if (!file || !*file)
                file = SONAME;
        void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return vol_error_set(err, -ELIBACC,
                                     "%s needs GnuTLS (%s); install the Debian package %s", what,
                                     dlerror(), PACKAGE);
#define RESOLVE(f)                                                                                 \
        if (!(table.f = (__typeof__(table.f))dlsym(h, #f))) {                                      \
                dlclose(h);                                                                        \
                return vol_error_set(                                                              \
                    err, -ELIBACC,                                                                 \
                    "%s needs GnuTLS 3.7 or later (%s has no %s); install the Debian "             \
                    "package %s",                                                                  \
                    what, file, #f, PACKAGE);                                                      \
        }
        VOL_GNUTLS_SYMBOLS(RESOLVE)
#undef RESOLVE
        atomic_store_explicit(&loaded, true, memory_order_release);
        return 0;
}

int vol_gnutls_load(const char *what, struct vol_error *err)
{
        if (atomic_load_explicit(&loaded, memory_order_acquire))
                return 0;
        pthread_mutex_lock(&lock);
        int r = atomic_load_explicit(&loaded, memory_order_relaxed) ? 0 : load(what, err);
        pthread_mutex_unlock(&lock);
        return r;
}

const struct vol_gnutls *vol_gnutls(void)
{
        if (!atomic_load_explicit(&loaded, memory_order_acquire))
                abort(); /* a caller skipped vol_gnutls_load */
        return &table;
}
