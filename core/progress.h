/* How far a long operation is (an export, import, clone, snapshot copy), for
 * people watching it. The thread running an operation names its progress
 * record; the code doing the copying, several layers down, adds to it
 * without being handed it. Pure: no I/O. */
#pragma once

#include <stdint.h>

/* Read from other threads without a lock: figures for people, not for decisions. */
struct vol_transfer_progress {
        _Atomic uint64_t bytes;   /* data copied so far */
        _Atomic uint64_t entries; /* files, or archive entries, so far */
};

/* The calling thread's operation counts into p from now on (NULL: none). */
void vol_progress_set(struct vol_transfer_progress *p);
/* Adds to the calling thread's operation, if it has one. */
void vol_progress_add(uint64_t bytes, uint64_t entries);
