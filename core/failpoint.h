/* Failpoints: named places where a test can make the daemon die as if killed
 * with SIGKILL, or fail as if the disk had, to prove that every state on disk
 * is recoverable and every error path honest. Pure: the program says what
 * dying means (the daemon raises SIGKILL; see daemon/main.c).
 *
 * A spec is NAME[:N][=ACTION]: the N-th time NAME is reached (default 1) and
 * every time after, ACTION happens: `kill` (the default), `eio` (the call
 * returns -EIO) or `stall` (the calling thread sleeps
 * VOL_FAILPOINT_STALL_SECONDS, then goes on: a slow disk, held still).
 * volmand reads it from VOLMAN_FAILPOINT (docs/api.md). */
#pragma once

#include "error.h"

#define VOL_FAILPOINT_STALL_SECONDS 2

/* Sets the one failpoint (NULL or "": none). Returns 0, or -EINVAL with a
 * message for a malformed spec. Call before any thread reaches a failpoint. */
int vol_failpoint_configure(const char *spec, struct vol_error *err);

/* What a reached `kill` failpoint calls; it must not return. */
void vol_failpoint_set_killer(void (*killer)(void));

/* Called at a named place: returns 0 (one comparison when no failpoint is
 * set; after the sleep of a `stall` failpoint), or -EIO when an `eio`
 * failpoint is reached; a `kill` failpoint calls the killer. */
int vol_failpoint(const char *name);
