/* The listening sockets of the HTTP server: a unix socket or a TCP port. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "http_internal.h"

/* ---- the socket ---- */

/* mkdir -p of dir, each new folder mode 0755 (as dockerd makes /run/docker/plugins). */
static int make_parents(const char *dir, struct vol_error *err)
{
        _cleanup_free_ char *p = xstrdup(dir);
        for (char *s = p + 1; ; s++) {
                if (*s != '/' && *s)
                        continue;
                char saved = *s;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return vol_error_set(err, -errno, "creating %s: %m", p);
                *s = saved;
                if (!saved)
                        break;
        }
        return 0;
}

int http_bind_unix(const char *path, unsigned mode, unsigned group, struct vol_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return vol_error_set(err, -ENAMETOOLONG, "socket path %s is longer than %zu bytes", path,
                                     sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);

        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                int r = make_parents(dir, err);
                if (r < 0)
                        return r;
        }

        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return vol_error_set(err, -EEXIST, "%s exists and is not a socket; not replacing it",
                                             path);
                int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                        close(probe);
                        return vol_error_set(err, -EADDRINUSE,
                                             "another server is listening on %s (is volmand already running?)",
                                             path);
                }
                if (probe >= 0)
                        close(probe);
                unlink(path); /* stale */
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return vol_error_set(err, -errno, "socket: %m");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (group && chown(path, (uid_t)-1, group) < 0) ||
            chmod(path, mode) < 0 || listen(fd, 512) < 0) {
                int r = vol_error_set(err, -errno, "listening on %s: %m", path);
                close(fd);
                return r;
        }
        return fd;
}

int http_listen_tcp(const char *host, const char *port, int *ret_port, struct vol_error *err)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
                        *res = NULL;
        int g = getaddrinfo(*host ? host : NULL, port, &hints, &res);
        if (g != 0)
                return vol_error_set(err, -EINVAL, "listen address %s:%s: %s", host, port, gai_strerror(g));
        int r = -EADDRNOTAVAIL, fd = -1;
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                int one = 1;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 512) == 0) {
                        struct sockaddr_storage sa;
                        socklen_t sl = sizeof(sa);
                        getsockname(fd, (struct sockaddr *)&sa, &sl);
                        *ret_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                                   : ((struct sockaddr_in *)&sa)->sin_port);
                        freeaddrinfo(res);
                        return fd;
                }
                r = -errno;
                close(fd);
        }
        freeaddrinfo(res);
        errno = -r;
        return vol_error_set(err, r, "listening on %s:%s: %m", host, port);
}
