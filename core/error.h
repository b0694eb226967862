/* Errors as values: functions return negative errno and, where a message helps,
 * fill a struct vol_error passed last. Only the outermost layer prints. */
#pragma once

#include <errno.h>

struct vol_error {
        int code;  /* negative errno, 0 when unset */
        char *msg; /* heap message, NULL when unset */
};

#define VOL_ERROR_INIT {0, NULL}

/* Sets *err (if err is not NULL) to code and a formatted message, replacing any
 * previous one. Returns code (a negative errno) so callers can
 * `return vol_error_set(err, -EINVAL, "...")`. */
int vol_error_set(struct vol_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Prefixes the message in err with a formatted context ("creating volume x: ");
 * keeps the code. If err has no message, the errno text is used. Returns err->code. */
int vol_error_wrap(struct vol_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the message and resets err to VOL_ERROR_INIT. Accepts NULL. */
void vol_error_clear(struct vol_error *err);

/* The message of err, or strerror of its code, or "unknown error". Never NULL. */
const char *vol_error_message(const struct vol_error *err);

/* A stable machine-readable name for a negative errno, used in API errors:
 * invalid_argument, not_found, conflict, in_use, too_large, not_supported,
 * forbidden (-EPERM), unauthorized (-EACCES: no or a bad credential, 401),
 * too_many_requests (-EUSERS: a client past its rate, 429), no_space,
 * unavailable, internal. */
const char *vol_error_code_name(int code);

/* The HTTP status an API response uses for a negative errno. */
int vol_error_http_status(int code);
