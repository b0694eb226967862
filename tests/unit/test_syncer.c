/* core/syncer.h: flushes are shared between threads, a caller is covered only
 * by a flush that began after it asked, and a failure is sticky. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/syncer.h"

struct counter {
        pthread_mutex_t lock;
        int calls;
        int fail_on; /* the call number that fails (1-based), 0: none */
        useconds_t delay;
};

static int flush(void *arg)
{
        struct counter *c = arg;
        pthread_mutex_lock(&c->lock);
        int n = ++c->calls;
        pthread_mutex_unlock(&c->lock);
        if (c->delay)
                usleep(c->delay);
        return n == c->fail_on ? -EIO : 0;
}

static void test_one_caller_one_flush(void **state)
{
        struct vol_syncer s;
        struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
        vol_syncer_init(&s);
        assert_int_equal(vol_syncer_sync(&s, flush, &c), 0);
        assert_int_equal(c.calls, 1);
        /* a second request needs a flush that begins after it */
        assert_int_equal(vol_syncer_sync(&s, flush, &c), 0);
        assert_int_equal(c.calls, 2);
        vol_syncer_destroy(&s);
}

struct worker {
        struct vol_syncer *s;
        struct counter *c;
        int result;
};

static void *run(void *arg)
{
        struct worker *w = arg;
        w->result = 0;
        for (int i = 0; i < 50 && w->result == 0; i++)
                w->result = vol_syncer_sync(w->s, flush, w->c);
        return NULL;
}

static void test_concurrent_callers_share_flushes(void **state)
{
        struct vol_syncer s;
        struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 200};
        vol_syncer_init(&s);
        enum { N = 16 };
        pthread_t t[N];
        struct worker w[N];
        for (int i = 0; i < N; i++) {
                w[i] = (struct worker){&s, &c, -1};
                pthread_create(&t[i], NULL, run, &w[i]);
        }
        for (int i = 0; i < N; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(w[i].result, 0);
        }
        /* 800 requests; with 16 threads waiting on 200 us flushes, far fewer flushes */
        assert_true(c.calls > 0);
        assert_true(c.calls < N * 50 / 2);
        vol_syncer_destroy(&s);
}

static void test_failure_is_sticky(void **state)
{
        struct vol_syncer s;
        struct counter c = {PTHREAD_MUTEX_INITIALIZER, 0, 2, 0};
        vol_syncer_init(&s);
        assert_int_equal(vol_syncer_sync(&s, flush, &c), 0);
        assert_int_equal(vol_syncer_sync(&s, flush, &c), -EIO);
        /* the third flush would succeed, but it cannot vouch for what the second lost */
        assert_int_equal(vol_syncer_sync(&s, flush, &c), -EIO);
        assert_int_equal(c.calls, 2);
        vol_syncer_destroy(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_caller_one_flush),
                cmocka_unit_test(test_concurrent_callers_share_flushes),
                cmocka_unit_test(test_failure_is_sticky),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
