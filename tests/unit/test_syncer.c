/* core/syncer.h: flushes are shared between threads, a caller is covered only
 * by a flush that began after it asked, and a failure is sticky. */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
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

/* A flush that waits at a gate the test opens. */
struct gated {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool open;
        int calls;
};

static int gated_flush(void *arg)
{
        struct gated *g = arg;
        pthread_mutex_lock(&g->lock);
        g->calls++;
        while (!g->open)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
        return 0;
}

struct gated_worker {
        struct vol_syncer *s;
        struct gated *g;
        int result;
};

static void *run_gated(void *arg)
{
        struct gated_worker *w = arg;
        w->result = vol_syncer_sync(w->s, gated_flush, w->g);
        return NULL;
}

static unsigned callers_inside(struct vol_syncer *s)
{
        pthread_mutex_lock(&s->lock);
        unsigned n = s->callers;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* One caller's flush is under way when fifteen more ask: they cannot ride on
 * it (it began before they asked), and they need exactly one more between
 * them: two flushes for sixteen callers, whatever the timing. */
static void test_concurrent_callers_share_flushes(void **state)
{
        struct vol_syncer s;
        struct gated g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
        vol_syncer_init(&s);
        enum { N = 16 };
        pthread_t t[N];
        struct gated_worker w[N];
        w[0] = (struct gated_worker){&s, &g, -1};
        pthread_create(&t[0], NULL, run_gated, &w[0]);
        /* the first flush has begun (and waits at the gate) */
        for (;;) {
                pthread_mutex_lock(&g.lock);
                int calls = g.calls;
                pthread_mutex_unlock(&g.lock);
                if (calls == 1)
                        break;
                sched_yield();
        }
        for (int i = 1; i < N; i++) {
                w[i] = (struct gated_worker){&s, &g, -1};
                pthread_create(&t[i], NULL, run_gated, &w[i]);
        }
        while (callers_inside(&s) < N)
                sched_yield();
        /* nobody may be done while the only flush began before they asked */
        for (int i = 1; i < N; i++)
                assert_int_equal(w[i].result, -1);
        pthread_mutex_lock(&g.lock);
        g.open = true;
        pthread_cond_broadcast(&g.cond);
        pthread_mutex_unlock(&g.lock);
        for (int i = 0; i < N; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(w[i].result, 0);
        }
        assert_int_equal(g.calls, 2);
        assert_int_equal(callers_inside(&s), 0);
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
