/* libFuzzer target: the CLI's YAML-to-JSON converter (cli/configfile.c,
 * cli_config_text_to_json), which reads the config files of `volman config
 * set -f` and `volman app config set -f`.
 *
 * An input is the text of one file, passed in a buffer of exactly its size
 * (the converter must not read past it). Checks, from cli/configfile.h:
 * - a success is a JSON object holding only objects, arrays, strings, true,
 *   false and null (every other scalar becomes a string), no string or key
 *   with a NUL in it, and it survives json_dumps and json_loads unchanged;
 * - a failure is -EBADMSG (or -ENOMEM when the parser cannot be set up) with
 *   a message that starts with the file's name, and *ret_obj untouched.
 * What it converts is then read as a config layer, as volmand will
 * (vol_app_config_from_json), so YAML reaches core/appconfig.c too.
 *
 * Inputs with a NUL byte are fed too: the converter refuses them before
 * libfyaml sees them (libfyaml 0.7.12 crashes on some, e.g. 3f 20 61 3a 09 00).
 *
 * libfyaml crashes on other malformed input too (a tab and a run of colons
 * after a complex key, "? [a, b]~: \t:::...": a SEGV in fy_parser_destroy
 * after the parse error), so the CLI converts a file in a child process
 * (cli_config_text_to_json_isolated; tests/integration/test_cli_apps.py
 * feeds it this input). Each input is converted in a child process first,
 * as the CLI does (this program executed again, see child_start); only one
 * the child survives is converted here, for the checks and libFuzzer's
 * coverage. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sanitizer/common_interface_defs.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/configfile.h"
#include "core/appconfig.h"
#include "fuzz/fuzz.h"

#define NAME "fuzz.yaml"

/* Only what the converter makes: no numbers, no strings with NUL. */
static void check_value(json_t *j)
{
        switch (json_typeof(j)) {
        case JSON_OBJECT: {
                const char *key;
                json_t *val;
                json_object_foreach(j, key, val)
                {
                        check_value(val);
                }
                break;
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *val;
                json_array_foreach(j, i, val)
                {
                        check_value(val);
                }
                break;
        }
        case JSON_STRING:
                fuzz_check(strlen(json_string_value(j)) == json_string_length(j));
                break;
        case JSON_TRUE:
        case JSON_FALSE:
        case JSON_NULL:
                break;
        default:
                fuzz_check(!"a number in the converted config");
        }
}

/* A child process that converts the inputs it is sent, as the CLI's child
 * converts a file: started once (a process per input would cost more than
 * the conversion), and again when an input ends it.
 *
 * It is this program executed afresh (CHILD_ENV set), not a plain fork: the
 * fuzzer is multithreaded (libFuzzer's RSS thread), and a fork copies ASan's
 * allocator locks as another thread held them; a child forked in such a
 * moment waits on them for ever (seen: the parent's read timed out after
 * 10 s on an input that takes 2 ms). The CLI itself has one thread, so its
 * fork cannot meet this. The child reads from fd 0 and answers on fd 3. */
#define CHILD_ENV "VOLMAN_FUZZ_CONFIGFILE_CHILD"
#define CHILD_OUT 3

static pid_t child = -1;
static int to_child = -1, from_child = -1;

static bool full_io(bool out, int fd, void *buf, size_t n)
{
        char *p = buf;
        while (n) {
                ssize_t k = out ? write(fd, p, n) : read(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                p += k;
                n -= (size_t)k;
        }
        return true;
}

static void __attribute__((noreturn)) child_main(int in, int out)
{
        __sanitizer_set_death_callback(NULL); /* libFuzzer's, were it set: it would save the input */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
                signal(fatal[i], SIG_DFL);
        uint64_t len;
        while (full_io(false, in, &len, sizeof(len))) {
                char *text = malloc(len ? len : 1);
                if (!text || !full_io(false, in, text, len))
                        _exit(2);
                struct vol_error e = VOL_ERROR_INIT;
                json_t *obj = NULL;
                if (cli_config_text_to_json(NAME, text, len, &obj, &e) == 0)
                        json_decref(obj);
                vol_error_clear(&e);
                free(text);
                char ok = 1;
                if (!full_io(true, out, &ok, 1))
                        _exit(2);
        }
        _exit(0); /* the fuzzer closed its end: it is done or gone */
}

static void child_start(void)
{
        int a[2], b[2];
        fuzz_check(pipe2(a, O_CLOEXEC) == 0 && pipe2(b, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t fa;
        fuzz_check(posix_spawn_file_actions_init(&fa) == 0);
        fuzz_check(posix_spawn_file_actions_adddup2(&fa, a[0], 0) == 0);
        fuzz_check(posix_spawn_file_actions_adddup2(&fa, b[1], CHILD_OUT) == 0);
        char *argv[] = {(char *)"fuzz_configfile-child", NULL};
        fuzz_check(setenv(CHILD_ENV, "1", 1) == 0);
        int r = posix_spawn(&child, "/proc/self/exe", &fa, NULL, argv, environ);
        unsetenv(CHILD_ENV);
        posix_spawn_file_actions_destroy(&fa);
        fuzz_check(r == 0);
        close(a[0]);
        close(b[1]);
        to_child = a[1];
        from_child = b[0];
}

static void child_gone(void)
{
        close(to_child);
        close(from_child);
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        child = -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        if (getenv(CHILD_ENV)) /* before libFuzzer starts a thread */
                child_main(0, CHILD_OUT);
        /* The same hash layout for every run, so that a crash replays. */
        json_object_seed(1);
        signal(SIGPIPE, SIG_IGN); /* a write to a child that died fails instead */
        return 0;
}

/* Whether libfyaml gets through data, as the child finds: a crash there (a
 * signal, or a sanitizer's report) is not this process's and leaves no crash
 * input behind. */
static bool survives(const uint8_t *data, size_t size)
{
        if (child < 0)
                child_start();
        uint64_t len = size;
        char ok = 0;
        if (full_io(true, to_child, &len, sizeof(len)) && full_io(true, to_child, (void *)data, size) &&
            full_io(false, from_child, &ok, 1))
                return true;
        child_gone();
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!data) /* an empty input may come without a buffer */
                data = (const uint8_t *)"";
        if (!survives(data, size))
                return 0; /* libfyaml's own crash: the CLI's child process takes it */
        struct vol_error err = VOL_ERROR_INIT;
        json_t *const untouched = (json_t *)&err;
        json_t *obj = untouched;
        int r = cli_config_text_to_json(NAME, (const char *)data, size, &obj, &err);
        fuzz_check_error(r, &err);
        if (r < 0) {
                fuzz_check(r == -EBADMSG || r == -ENOMEM);
                fuzz_check(!strncmp(err.msg, NAME ":", strlen(NAME ":")));
                fuzz_check(obj == untouched);
                vol_error_clear(&err);
                return 0;
        }
        fuzz_check(obj != untouched);
        fuzz_check(json_is_object(obj));
        check_value(obj);

        /* What the CLI sends is what the daemon reads. */
        char *text = json_dumps(obj, JSON_COMPACT);
        fuzz_check(text != NULL);
        json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        fuzz_check(back != NULL);
        fuzz_check(json_equal(obj, back));
        json_decref(back);
        free(text);

        struct vol_app_config c;
        if (vol_app_config_from_json(obj, &c, &err) == 0)
                vol_app_config_free(&c);
        vol_error_clear(&err);
        json_decref(obj);
        return 0;
}
