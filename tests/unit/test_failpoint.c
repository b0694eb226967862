/* core/failpoint.h: each case runs in a child, since a reached failpoint kills
 * the process. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/failpoint.h"

static void die(void)
{
        kill(getpid(), SIGKILL);
}

/* Makes `calls` calls of vol_failpoint(name) in a child with VOLMAN_FAILPOINT=env
 * (NULL: unset). Returns `calls` when the child lived, or -k when the k-th call
 * killed it with SIGKILL. */
static int run_child(const char *env, const char *name, int calls)
{
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                if (vol_failpoint_configure(env, NULL) < 0)
                        _exit(3);
                vol_failpoint_set_killer(die);
                for (int i = 0; i < calls; i++) {
                        char c = 1;
                        if (write(fds[1], &c, 1) != 1)
                                _exit(2);
                        vol_failpoint(name);
                        vol_failpoint("some-other-place");
                }
                _exit(0);
        }
        close(fds[1]);
        int reached = 0;
        char c;
        while (read(fds[0], &c, 1) == 1)
                reached++;
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status)) {
                assert_int_equal(WTERMSIG(status), SIGKILL);
                return -reached;
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        return reached;
}

static void test_unset(void **state)
{
        assert_int_equal(run_child(NULL, "store.commit", 5), 5);
        assert_int_equal(run_child("", "store.commit", 5), 5);
}

static void test_other_name(void **state)
{
        assert_int_equal(run_child("store.commit", "store.commi", 5), 5);
        assert_int_equal(run_child("store.commit", "store.commit.after", 5), 5);
}

static void test_first_hit(void **state)
{
        /* Dies during the first call. */
        assert_int_equal(run_child("store.commit", "store.commit", 5), -1);
}

static void test_nth_hit(void **state)
{
        assert_int_equal(run_child("store.commit:3", "store.commit", 5), -3);
        assert_int_equal(run_child("store.commit:1", "store.commit", 5), -1);
        assert_int_equal(run_child("store.commit:0", "store.commit", 5), -1); /* at least 1 */
        assert_int_equal(run_child("store.commit:9", "store.commit", 5), 5);
}

static void test_eio(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_failpoint_configure("store-fdatasync:2=eio", &err), 0);
        assert_int_equal(vol_failpoint("store-fdatasync"), 0);
        assert_int_equal(vol_failpoint("other"), 0);
        assert_int_equal(vol_failpoint("store-fdatasync"), -EIO);
        assert_int_equal(vol_failpoint("store-fdatasync"), -EIO); /* and every time after */
        assert_int_equal(vol_failpoint_configure(NULL, &err), 0);
        assert_int_equal(vol_failpoint("store-fdatasync"), 0);
}

static double seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_stall(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_failpoint_configure("store-fdatasync:2=stall", &err), 0);
        double t0 = seconds();
        assert_int_equal(vol_failpoint("store-fdatasync"), 0); /* the first: no stall */
        double t1 = seconds();
        assert_true(t1 - t0 < 1.0);
        assert_int_equal(vol_failpoint("store-fdatasync"), 0); /* the second: held, then goes on */
        double t2 = seconds();
        assert_true(t2 - t1 >= VOL_FAILPOINT_STALL_SECONDS - 0.01);
        assert_int_equal(vol_failpoint_configure(NULL, &err), 0);
}

static void test_bad_specs(void **state)
{
        struct vol_error err = VOL_ERROR_INIT;
        assert_int_equal(vol_failpoint_configure("x=explode", &err), -EINVAL);
        assert_non_null(strstr(vol_error_message(&err), "explode"));
        assert_int_equal(vol_failpoint_configure("x:abc", &err), -EINVAL);
        assert_int_equal(vol_failpoint_configure(":3", &err), -EINVAL);
        assert_int_equal(vol_failpoint_configure("=eio", &err), -EINVAL);
        vol_error_clear(&err);
        /* a refused spec leaves no failpoint set */
        assert_int_equal(vol_failpoint("x"), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_unset),
            cmocka_unit_test(test_other_name),
            cmocka_unit_test(test_first_hit),
            cmocka_unit_test(test_nth_hit),
            cmocka_unit_test(test_eio),
            cmocka_unit_test(test_stall),
            cmocka_unit_test(test_bad_specs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
