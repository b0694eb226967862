/* sd_notify(3) spoken directly (daemon/notify.h). */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/cleanup.h"

int volmand_notify(const char *state)
{
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path || !*path)
                return 0;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        size_t n = strlen(path);
        if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, n);
        if (path[0] == '@')
                sa.sun_path[0] = 0; /* abstract: the name is every byte of the length given */
        socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
                return -errno;
        return 1;
}

int volmand_notifyf(const char *fmt, ...)
{
        char buf[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return volmand_notify(buf);
}

uint64_t volmand_watchdog_usec(void)
{
        const char *pid = getenv("WATCHDOG_PID");
        if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
                return 0;
        const char *usec = getenv("WATCHDOG_USEC");
        char *end;
        if (!usec || !*usec)
                return 0;
        errno = 0;
        unsigned long long u = strtoull(usec, &end, 10);
        return errno || *end || usec[0] == '-' ? 0 : (uint64_t)u;
}
