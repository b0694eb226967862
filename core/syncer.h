/* Shares an expensive flush (fsync of a directory, fdatasync of a WAL) between
 * threads: a caller whose change must be durable waits for one flush that
 * began after it asked, which may be another thread's. Sixteen concurrent
 * writers then cost a few flushes, not sixteen. The flush itself is passed
 * in, so this holds no I/O of its own. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vol_syncer {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        uint64_t started; /* flushes begun */
        uint64_t done;    /* the highest begun flush that succeeded */
        bool running;
        unsigned callers; /* inside vol_syncer_sync now */
        int error; /* the first failure, kept: a later flush cannot vouch for
                      pages the kernel already dropped (fsync after EIO) */
};

/* Returns 0 or a negative errno. */
typedef int (*vol_flush_fn)(void *arg);

void vol_syncer_init(struct vol_syncer *s);
void vol_syncer_destroy(struct vol_syncer *s);
/* Returns 0 once a flush(arg) that began after this call has succeeded. Once
 * any flush has failed, returns that error to every caller from then on: data
 * whose write-back failed is gone from the page cache, and a later successful
 * flush would not mean it reached the disk. */
int vol_syncer_sync(struct vol_syncer *s, vol_flush_fn flush, void *arg);
