/* One thread waking one other, by a word both can see: cheaper than a
 * condition variable where a thread switch is dear (virtual machines): no
 * mutex to take again on waking, and only the thread meant is woken. */
#pragma once

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sleeps while *word == seen (or until a spurious wake-up: callers check
 * their condition again). */
static inline void vol_futex_wait(uint32_t *word, uint32_t seen)
{
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

/* Wakes one thread sleeping on word. word is used only as a key: it may be
 * gone already (a wake-up at a stale address is at most a spurious one). */
static inline void vol_futex_wake(uint32_t *word)
{
        syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
