/* The mount table as the drivers see it (/proc/self/mountinfo): each mount
 * point in turn, and the check a removal makes before it touches anything.
 *
 * The check is on every removal's request path, and reading the table costs
 * the kernel a line of text per mount: 46 us for 20 mounts, 350 us for 320
 * (a host running a few dozen containers). So the mount points are kept,
 * and read again only when the kernel says the table changed: an open
 * mountinfo reports POLLPRI once after each mount or unmount in the
 * namespace (proc(5)), and a poll that waits for nothing costs one system
 * call. The table a check sees is never older than the last change made
 * before the check began. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"

/* Decodes the octal escapes (\040) of a mountinfo field in place. */
static void unescape_mountinfo(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = 0;
}

/* The mount point of a mountinfo line (ID PARENT MAJ:MIN ROOT MOUNTPOINT
 * ...), decoded in place; NULL for a line without one. Cuts line. */
static char *mountpoint_of(char *line)
{
        char *save = NULL, *field = strtok_r(line, " \n", &save);
        for (int i = 0; field && i < 4; i++)
                field = strtok_r(NULL, " \n", &save);
        if (field)
                unescape_mountinfo(field);
        return field;
}

int vol_fs_each_mount(vol_fs_mount_cb cb, void *userdata, struct vol_error *err)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return vol_error_set(err, -errno, "reading /proc/self/mountinfo: %m");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *mp = mountpoint_of(line);
                if (!mp)
                        continue;
                int r = cb(mp, userdata);
                if (r)
                        return r;
        }
        return 0;
}

/* The kept mount points: NUL-terminated, back to back, in the table's
 * order, cut from the text read into buf (cap bytes, kept for the next
 * read). fd stays open for the kernel's change reports. */
static struct {
        pthread_mutex_t lock;
        int fd;
        bool valid;
        char *buf;
        size_t cap, len;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* A table past this is refused, not read: 64 MiB is some 400,000 mounts. */
#define TABLE_MAX (64u << 20)

/* Reads the whole table again from table.fd (lock held). */
static int reread(struct vol_error *err)
{
        table.valid = false;
        size_t len = 0;
        if (lseek(table.fd, 0, SEEK_SET) < 0)
                return vol_error_set(err, -errno, "reading /proc/self/mountinfo: %m");
        for (;;) {
                if (table.cap - len < 4096) {
                        if (table.cap >= TABLE_MAX)
                                return vol_error_set(err, -EFBIG, "/proc/self/mountinfo is over %u MiB",
                                                     TABLE_MAX >> 20);
                        table.cap = table.cap ? table.cap * 2 : 16384;
                        table.buf = xrealloc(table.buf, table.cap);
                }
                ssize_t n = read(table.fd, table.buf + len, table.cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vol_error_set(err, -errno, "reading /proc/self/mountinfo: %m");
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        table.buf[len] = 0;
        /* the mount points, written over the text they are cut from */
        size_t out = 0;
        char *end = table.buf + len;
        for (char *line = table.buf, *next; line < end; line = next) {
                next = memchr(line, '\n', (size_t)(end - line));
                if (next)
                        *next++ = 0;
                else
                        next = end;
                char *mp = mountpoint_of(line);
                if (!mp)
                        continue;
                size_t n = strlen(mp) + 1;
                memmove(table.buf + out, mp, n);
                out += n;
        }
        table.len = out;
        table.valid = true;
        return 0;
}

/* Makes the kept mount points current (lock held): read again if the kernel reported
 * a change since the last read, or if nothing was read yet. */
static int refresh(struct vol_error *err)
{
        if (table.fd < 0) {
                table.fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
                if (table.fd < 0)
                        return vol_error_set(err, -errno, "reading /proc/self/mountinfo: %m");
                table.valid = false;
        }
        struct pollfd p = {.fd = table.fd, .events = POLLPRI};
        if (poll(&p, 1, 0) != 0 || !table.valid) /* a change, or a poll that failed: read */
                return reread(err);
        return 0;
}

struct no_mounts {
        const char *path;
        size_t plen;
        unsigned own_at_top, at_top;
        const char *what;
        struct vol_error *err;
};

static int check_one_mount(const char *mp, void *userdata)
{
        struct no_mounts *c = userdata;
        if (strncmp(mp, c->path, c->plen))
                return 0;
        if (mp[c->plen] == 0) {
                if (++c->at_top > c->own_at_top)
                        return vol_error_set(c->err, -EBUSY,
                                             "a filesystem is mounted on the directory of volume %s (%s); "
                                             "unmount it first",
                                             c->what, c->path);
        } else if (mp[c->plen] == '/') {
                return vol_error_set(c->err, -EBUSY,
                                     "a filesystem is mounted inside volume %s, at %s; unmount it first", c->what,
                                     mp);
        }
        return 0;
}

int vol_fs_check_no_mounts(const char *path, unsigned own_at_top, const char *what, struct vol_error *err)
{
        struct no_mounts c = {path, strlen(path), own_at_top, 0, what, err};
        pthread_mutex_lock(&table.lock);
        int r = refresh(err);
        for (size_t off = 0; r == 0 && off < table.len; off += strlen(table.buf + off) + 1)
                r = check_one_mount(table.buf + off, &c);
        pthread_mutex_unlock(&table.lock);
        return r;
}
