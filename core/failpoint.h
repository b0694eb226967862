/* Failpoints: named places where a test can make the daemon die as if killed
 * with SIGKILL, to prove that every state on disk is recoverable.
 *
 * VOLMAN_FAILPOINT=name      dies the first time `name` is reached;
 * VOLMAN_FAILPOINT=name:N    dies the N-th time. Read once, at the first call. */
#pragma once

/* Dies by SIGKILL if the configured failpoint is `name` and its count is reached;
 * otherwise returns at once (one comparison when no failpoint is set). */
void vol_failpoint(const char *name);
