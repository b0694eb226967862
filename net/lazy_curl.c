/* libcurl, loaded on first use: see lazy_curl.h. */
#include "lazy_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define SONAME "libcurl.so.4"
#define PACKAGE "libcurl4" /* Debian's */
#define ENV_HOOK "VOLMAN_LIBCURL"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vol_libcurl table; /* written under lock, before loaded */
static atomic_bool loaded;

static int load(const char *what, struct vol_error *err)
{
        const char *file = getenv(ENV_HOOK); /* tests: a library that is not there */
        if (!file || !*file)
                file = SONAME;
        void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return vol_error_set(err, -ELIBACC,
                                     "%s needs libcurl (%s); install the Debian package %s", what,
                                     dlerror(), PACKAGE);
#define RESOLVE(f)                                                                                 \
        if (!(table.f = (__typeof__(table.f))dlsym(h, #f))) {                                      \
                dlclose(h);                                                                        \
                return vol_error_set(err, -ELIBACC,                                                \
                                     "%s needs libcurl 7.74 or later (%s has no %s); install the " \
                                     "Debian package %s",                                          \
                                     what, file, #f, PACKAGE);                                     \
        }
        VOL_LIBCURL_FUNCS(RESOLVE)
#undef RESOLVE
        /* Once per process, before any handle: curl_global_init is only
         * thread-safe from libcurl 7.84 on, so it runs here, under the lock. */
        CURLcode c = table.curl_global_init(CURL_GLOBAL_DEFAULT);
        if (c != CURLE_OK) {
                /* the message is libcurl's own memory: copied before it goes */
                int r = vol_error_set(err, -ELIBACC, "%s: libcurl could not be initialized: %s",
                                      what, table.curl_easy_strerror(c));
                dlclose(h);
                return r;
        }
        atomic_store_explicit(&loaded, true, memory_order_release);
        return 0;
}

int vol_libcurl_load(const char *what, struct vol_error *err)
{
        if (atomic_load_explicit(&loaded, memory_order_acquire))
                return 0;
        pthread_mutex_lock(&lock);
        int r = atomic_load_explicit(&loaded, memory_order_relaxed) ? 0 : load(what, err);
        pthread_mutex_unlock(&lock);
        return r;
}

const struct vol_libcurl *vol_libcurl(void)
{
        if (!atomic_load_explicit(&loaded, memory_order_acquire))
                abort(); /* a caller skipped vol_libcurl_load */
        return &table;
}
