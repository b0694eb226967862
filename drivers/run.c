#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/progress.h"

extern char **environ;

bool vol_find_program(const char *name, char out[4096])
{
        if (strchr(name, '/')) {
                snprintf(out, 4096, "%s", name);
                return access(out, X_OK) == 0;
        }
        const char *path = getenv("PATH");
        char dirs[8192];
        snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path && *path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                snprintf(out, 4096, "%s/%s", d, name);
                if (access(out, X_OK) == 0)
                        return true;
        }
        return false;
}

int vol_run(const char *const argv[], unsigned ok_mask, struct vol_error *err)
{
        char prog[4096];
        if (!vol_find_program(argv[0], prog))
                return vol_error_set(err, -ENOENT, "%s is not installed on this host", argv[0]);
        char tmpl[] = "/tmp/volman-run-XXXXXX";
        _cleanup_close_ int out = mkostemp(tmpl, O_CLOEXEC);
        if (out < 0)
                return vol_error_set(err, -errno, "running %s: a file for its output: %m", argv[0]);
        unlink(tmpl);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out, 1);
        posix_spawn_file_actions_adddup2(&fa, out, 2);
        pid_t pid;
        int e = posix_spawn(&pid, prog, &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e)
                return vol_error_set(err, -e, "running %s: %s", prog, strerror(e));
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return vol_error_set(err, -errno, "waiting for %s: %m", argv[0]);
        if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || (WEXITSTATUS(st) < 32 && (ok_mask >> WEXITSTATUS(st)) & 1)))
                return 0;
        /* the last line it wrote says why */
        char buf[4096];
        ssize_t n = pread(out, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                n = 0;
        off_t size = lseek(out, 0, SEEK_END);
        if (size > (off_t)sizeof(buf) - 1)
                n = pread(out, buf, sizeof(buf) - 1, size - (off_t)sizeof(buf) + 1);
        buf[n > 0 ? n : 0] = 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = 0;
        char *last = strrchr(buf, '\n');
        last = last ? last + 1 : buf;
        if (WIFEXITED(st))
                return vol_error_set(err, -EIO, "%s failed (exit %d): %s", argv[0], WEXITSTATUS(st),
                                     *last ? last : "no message");
        return vol_error_set(err, -EIO, "%s was killed by signal %d", argv[0], WTERMSIG(st));
}

int vol_copy_file(int src_fd, int dst_fd, bool *ret_reflinked, struct vol_error *err)
{
        int r = vol_copy_file_nosync(src_fd, dst_fd, ret_reflinked, err);
        if (r == 0 && fsync(dst_fd) < 0)
                return vol_error_set(err, -errno, "copying: fsync: %m");
        return r;
}

int vol_copy_file_nosync(int src_fd, int dst_fd, bool *ret_reflinked, struct vol_error *err)
{
        *ret_reflinked = false;
        if (ioctl(dst_fd, FICLONE, src_fd) == 0) {
                *ret_reflinked = true;
                struct stat st;
                if (fstat(src_fd, &st) == 0)
                        vol_progress_add((uint64_t)st.st_size, 0);
        } else {
                struct stat st;
                if (fstat(src_fd, &st) < 0)
                        return vol_error_set(err, -errno, "copying: stat: %m");
                off_t pos = 0;
                while (pos < st.st_size) {
                        off_t data = lseek(src_fd, pos, SEEK_DATA);
                        if (data < 0) {
                                if (errno == ENXIO)
                                        break; /* a hole to the end */
                                return vol_error_set(err, -errno, "copying: SEEK_DATA: %m");
                        }
                        off_t hole = lseek(src_fd, data, SEEK_HOLE);
                        if (hole < 0)
                                return vol_error_set(err, -errno, "copying: SEEK_HOLE: %m");
                        loff_t in = data, o = data;
                        while (in < hole) {
                                /* in pieces, so that the progress moves */
                                size_t want = (size_t)(hole - in) < (64u << 20) ? (size_t)(hole - in) : (64u << 20);
                                ssize_t w = copy_file_range(src_fd, &in, dst_fd, &o, want, 0);
                                if (w < 0)
                                        return vol_error_set(err, -errno, "copying: %m");
                                if (w == 0)
                                        break;
                                vol_progress_add((uint64_t)w, 0);
                        }
                        pos = hole;
                }
                if (ftruncate(dst_fd, st.st_size) < 0)
                        return vol_error_set(err, -errno, "copying: sizing the copy: %m");
        }
        return 0;
}
