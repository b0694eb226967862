/* The service manager's notification protocol (sd_notify(3)), without
 * libsystemd: readiness, status lines and watchdog pings for systemd's
 * Type=notify (dist/volmand.service). */
#pragma once

#include <stdint.h>

/* Sends state ("READY=1", "STATUS=...", "WATCHDOG=1", several joined by
 * newlines) as one datagram to $NOTIFY_SOCKET: a path, or an abstract
 * socket when it starts with @. Returns 1 when sent, 0 when there is no
 * NOTIFY_SOCKET (not run by a service manager), or a negative errno. */
int volmand_notify(const char *state);

/* Formats state like printf and sends it (as volmand_notify). */
int volmand_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog timeout the service manager asks for (WATCHDOG_USEC), in
 * microseconds, or 0 when there is none or WATCHDOG_PID names another
 * process. Ping at half of it. */
uint64_t volmand_watchdog_usec(void);
