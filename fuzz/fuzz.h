/* What every libFuzzer target in fuzz/ shares: the entry points libFuzzer
 * calls, and the check that turns a broken contract into a crash libFuzzer
 * records (with the input that broke it). Header-only: each target is one
 * C file plus this. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Called by libFuzzer once per input; returns 0, or -1 for an input that
 * must not be added to the corpus. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Called by libFuzzer once, before the first input; returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Stops the run with a message naming the invariant when cond is false: a
 * finding, like a sanitizer report. Never compiled out. */
#define fuzz_check(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
                                #cond);                                                            \
                        __builtin_trap();                                                          \
                }                                                                                  \
        } while (0)

/* The contract of struct vol_error (core/error.h) after a call that returned
 * r: a failure is a negative errno, the same one in err, with a message; a
 * success leaves err as it was (empty, for the callers here). */
static inline void fuzz_check_error(int r, const struct vol_error *err)
{
        if (r < 0) {
                fuzz_check(err->code == r);
                fuzz_check(err->msg != NULL);
                fuzz_check(err->msg[0] != 0);
        } else {
                fuzz_check(err->code == 0);
                fuzz_check(err->msg == NULL);
        }
}


/* A NUL-terminated copy of n bytes at p, for the functions that take C strings. */
static inline char *fuzz_strndup(const void *p, size_t n)
{
        char *s = malloc(n + 1);
        if (!s)
                __builtin_trap();
        memcpy(s, p, n);
        s[n] = 0;
        return s;
}
