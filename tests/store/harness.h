/* store-contract's harness: checks that end the run at the first failure,
 * and the volumes the checks store. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/cleanup.h"
#include "core/volume.h"
#include "store/store.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* The last store call's error (see E). */
extern struct vol_error last_err;

#define HERE_STR(x) #x
#define HERE_AT(file, line) file ":" HERE_STR(line)
/* Where a check is: "FILE:LINE". */
#define HERE HERE_AT(__FILE__, __LINE__)

/* Prints the failed check (where it is, condition, message and the store's
 * last error) and exits 1. */
void fail(const char *where, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        fail(HERE, #cond, __VA_ARGS__);                                            \
        } while (0)

/* A store call's result, with its message kept for failures. */
#define E (vol_error_clear(&last_err), &last_err)

/* Monotonic milliseconds. */
int64_t now_ms(void);
/* Opens backend at location, or fails the run. */
struct vol_store *open_store(const char *backend, const char *location);
/* A volume id made from n (a UUID's shape). */
void make_id(char out[37], unsigned n);
/* A ready volume of driver with id make_id(n), a mountpoint, no labels. */
struct vol_volume *volume(const char *name, const char *driver, unsigned n);
void set_scope(struct vol_volume *v, const char *tenant, const char *env, const char *app,
               const char *path);
/* A volume with every field set: labels, options, scope, two mounts. */
struct vol_volume *full_volume(const char *name, unsigned n);
bool str_eq(const char *a, const char *b);
/* Fails the run (at where) unless every field of want and got is equal,
 * the revision included. */
void same_volume(const struct vol_volume *want, const struct vol_volume *got, const char *where);
/* The stored record of want->name is want. */
void check_stored(struct vol_store *s, const struct vol_volume *want, const char *where);
/* A backend shared by several daemons (it has session documents). */
bool is_shared(struct vol_store *s);

/* bury and relocate (tests/store/relocate.c), part of contract. */
void contract_relocate(struct vol_store *s);

/* The modes: each returns 0, or fails the run. */
int contract(const char *backend, const char *location);
int race(const char *backend, const char *location, unsigned n);
int down(const char *backend, const char *location, bool hung);
int session(const char *backend, const char *location, int ttl);
int bigdocs(const char *backend, const char *location);
