/* con-init: the first process of an app container that uses the /con
 * interface. volmand bind-mounts this static binary read-only at /con/.init
 * and makes it the entrypoint: ["/con/.init", "--", ENTRYPOINT..., CMD...].
 *
 * It warns about DEFAULT areas, loads the ENV files of /con/configuration
 * and /con/secret (parsed, never run), starts the app, forwards the signals
 * a container receives to it, reaps every child that ends up with it (it is
 * a subreaper when not PID 1), and exits with the app's status: its exit
 * code, or 128 + the signal that killed it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "areas.h"
#include "core/cleanup.h"

#define EXIT_USAGE 2
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* What a container's engine or its user sends that the app should get. */
static const int forwarded_signals[] = {SIGTERM, SIGINT,  SIGHUP,   SIGQUIT,
                                        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static int usage(FILE *f)
{
        fputs("Usage: con-init [--con DIR] -- PROGRAM [ARGS...]\n"
              "\n"
              "Warns about DEFAULT areas of DIR (default /con), loads DIR/configuration/ENV\n"
              "and DIR/secret/ENV into the environment, runs PROGRAM with ARGS, forwards\n"
              "signals to it, reaps orphans, and exits with PROGRAM's status.\n",
              f);
        return EXIT_USAGE;
}

static int usage_error(const char *what)
{
        fprintf(stderr, "con-init: %s\n", what);
        return usage(stderr);
}

/* Reads the options. Returns 0 and sets *ret_con and *ret_prog (the index
 * of PROGRAM in argv), or the exit code of a usage error (or of --help). */
static int parse_args(int argc, char **argv, const char **ret_con, int *ret_prog)
{
        const char *con = "/con";
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0)
                        break;
                if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
                        return usage(stdout);
                if (strcmp(a, "--con") == 0) {
                        if (++i == argc)
                                return usage_error("--con needs a directory");
                        con = argv[i];
                } else if (strncmp(a, "--con=", 6) == 0) {
                        con = a + 6;
                } else if (a[0] == '-') {
                        return usage_error("unknown option");
                } else {
                        return usage_error("missing -- before the program");
                }
                if (con[0] == '\0')
                        return usage_error("--con needs a directory");
        }
        if (i == argc)
                return usage_error("missing -- before the program");
        if (i + 1 == argc)
                return usage_error("no program to run");
        *ret_con = con;
        *ret_prog = i + 1;
        return 0;
}

/* In the child: the app, with the signal mask con-init was started with, and
 * the signals con-init forwards at their default action, whatever it was
 * started with: one it inherited ignored (a shell's background job ignores
 * SIGINT, nohup SIGHUP) would be passed on to a program that cannot take it. */
static _Noreturn void run_program(char **argv, const sigset_t *orig_mask)
{
        for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
                signal(forwarded_signals[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, orig_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "con-init: cannot run %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/* Reaps every child that has ended. Returns true, with *ret_status, when
 * main was among them. */
static bool reap_children(pid_t main_pid, int *ret_status)
{
        bool main_done = false;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid <= 0) /* 0: the others still run; ECHILD: none left */
                        return main_done;
                if (pid == main_pid) {
                        *ret_status = status;
                        main_done = true;
                }
        }
}

/* Waits for signals (blocked in set) until main_pid ends: forwards the
 * forwarded ones to it, reaps on SIGCHLD. Returns the exit code for main's
 * status. */
static int supervise(pid_t main_pid, const sigset_t *set)
{
        for (;;) {
                siginfo_t info;
                int sig = sigwaitinfo(set, &info);
                if (sig < 0)
                        continue; /* EINTR: after a stop and SIGCONT */
                if (sig != SIGCHLD) {
                        if (kill(main_pid, sig) < 0 && errno != ESRCH)
                                fprintf(stderr, "con-init: cannot forward signal %d: %s\n", sig,
                                        strerror(errno));
                        continue;
                }
                int status;
                if (!reap_children(main_pid, &status))
                        continue;
                if (WIFSIGNALED(status))
                        return 128 + WTERMSIG(status);
                return WEXITSTATUS(status);
        }
}

int main(int argc, char **argv)
{
        const char *con_arg = NULL;
        int prog = 0;
        int r = parse_args(argc, argv, &con_arg, &prog);
        if (r != 0)
                return r;

        /* "/con/" and "/con" name the same directory in messages. */
        char con[PATH_MAX];
        if (strlen(con_arg) >= sizeof(con))
                return usage_error("--con: the path is too long");
        snprintf(con, sizeof(con), "%s", con_arg);
        for (size_t n = strlen(con); n > 1 && con[n - 1] == '/';)
                con[--n] = '\0';

        _cleanup_close_ int con_fd = open(con, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (con_fd >= 0) {
                con_warn_default_areas(con_fd, con);
                con_load_env_files(con_fd, con);
        }

        /* Blocked before the fork, so that nothing sent in between is lost:
         * it stays pending until supervise() takes it. */
        sigset_t set, orig_mask;
        sigemptyset(&set);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
                sigaddset(&set, forwarded_signals[i]);
        sigaddset(&set, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &set, &orig_mask) < 0) {
                fprintf(stderr, "con-init: cannot block signals: %s\n", strerror(errno));
                return EXIT_FAILURE;
        }
        /* Orphans of the app come to us even when we are not PID 1. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                fprintf(stderr, "con-init: cannot become a subreaper: %s\n", strerror(errno));

        pid_t pid = fork();
        if (pid < 0) {
                fprintf(stderr, "con-init: cannot fork: %s\n", strerror(errno));
                return EXIT_FAILURE;
        }
        if (pid == 0)
                run_program(argv + prog, &orig_mask); /* con_fd is O_CLOEXEC */
        return supervise(pid, &set);
}
