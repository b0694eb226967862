/* Allocation that aborts on out-of-memory: the one place where OOM is fatal. */
#pragma once

#include <stddef.h>

/* malloc/calloc/realloc/strdup that never return NULL (abort on OOM). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* strndup that never returns NULL. */
char *xstrndup(const char *s, size_t n);
/* asprintf that never fails; returns a heap string the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
