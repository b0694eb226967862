/* con-init: warnings for DEFAULT areas, and the ENV files (areas.h). */
#include "areas.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/envfile.h"

#define AREA_LINES_MAX 3

/* An area's warning. In its lines @ stands for the area's path. */
struct area_warning {
        const char *name;
        const char *lines[AREA_LINES_MAX + 1]; /* NULL-terminated */
};

/* In the order the /con specification prints them: the read-only areas
 * first, then the writable ones whose content a restart loses. */
static const struct area_warning area_warnings[] = {
    {"configuration",
     {"Default configuration directory in use.", "Configurations can be provided via volume at @.",
      "ENVs will be read from @/ENV.", NULL}},
    {"context",
     {"Default context directory in use.",
      "Build-time scripts (entrypoints and the like) can be provided via volume at @.", NULL}},
    {"secret",
     {"Default secret directory in use.", "Keys/secrets can be provided via volume at @.",
      "Secure ENVs will be read from @/ENV.", NULL}},
    {"seed",
     {"Default seed directory in use.",
      "A short-lived token for reading secrets can be provided via volume at @.", NULL}},
    {"proc",
     {"Default proc directory in use.",
      "The container's limits, in /proc's formats, can be provided via volume at @.", NULL}},
    {"data",
     {"WARNING: Non persistent data directory in use! Data loss on restart!",
      "Please substitute @ with a volume.", NULL}},
    {"log",
     {"WARNING: Non persistent log directory in use! Logs are lost on restart!",
      "Please substitute @ with a volume.", NULL}},
    {"var",
     {"WARNING: Non persistent var directory in use! Data loss on restart!",
      "Please substitute @ with a volume.", NULL}},
};

#define DELIMITER ">>>"

/* Prints line with each @ replaced by con/area. */
static void print_line(const char *line, const char *con, const char *area)
{
        for (const char *at; (at = strchr(line, '@')); line = at + 1)
                fprintf(stderr, "%.*s%s/%s", (int)(at - line), line, con, area);
        fprintf(stderr, "%s\n", line);
}

/* The directory con_fd/name, never through a symbolic link; -1 when absent. */
static int open_area(int con_fd, const char *name)
{
        return openat(con_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void con_warn_default_areas(int con_fd, const char *con)
{
        for (size_t i = 0; i < ARRAY_SIZE(area_warnings); i++) {
                const struct area_warning *w = &area_warnings[i];
                _cleanup_close_ int fd = open_area(con_fd, w->name);
                struct stat st;
                if (fd < 0 || fstatat(fd, "DEFAULT", &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                for (size_t j = 0; w->lines[j]; j++)
                        print_line(w->lines[j], con, w->name);
                fprintf(stderr, "%s\n", DELIMITER);
        }
}

/* What the envfile callbacks need. */
struct env_load {
        const char *path; /* for messages: /con/secret/ENV */
};

static int set_entry(const char *key, const char *value, size_t value_len, void *userdata)
{
        struct env_load *load = userdata;
        if (setenv(key, value, 1) < 0)
                fprintf(stderr, "con-init: %s: cannot set %s: %s\n", load->path, key,
                        strerror(errno));
        return 0;
}

static void report_bad_line(unsigned line, const char *reason, void *userdata)
{
        struct env_load *load = userdata;
        fprintf(stderr, "con-init: %s line %u: %s (skipped)\n", load->path, line, reason);
}

/* Reads all of fd into a new buffer of at most VOL_ENVFILE_MAX + 1 bytes.
 * Returns 0 with *ret_text and *ret_len, -EFBIG for a longer file, or a
 * negative errno. */
static int read_bounded(int fd, char **ret_text, size_t *ret_len)
{
        const size_t cap = VOL_ENVFILE_MAX + 1;
        _cleanup_free_ char *text = malloc(cap);
        if (!text)
                return -ENOMEM;
        size_t n = 0;
        while (n < cap) {
                ssize_t r = read(fd, text + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        if (n > VOL_ENVFILE_MAX)
                return -EFBIG;
        *ret_text = TAKE_PTR(text);
        *ret_len = n;
        return 0;
}

/* Loads con_fd/area/ENV. Says why when the file is there but not loaded. */
static void load_env_file(int con_fd, const char *con, const char *area)
{
        char path[PATH_MAX + 32]; /* con is shorter than PATH_MAX */
        snprintf(path, sizeof(path), "%s/%s/ENV", con, area);
        _cleanup_close_ int area_fd = open_area(con_fd, area);
        if (area_fd < 0)
                return;
        /* O_NONBLOCK: a FIFO named ENV must not hang the start. */
        _cleanup_close_ int fd =
            openat(area_fd, "ENV", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ELOOP)
                        fprintf(stderr, "con-init: %s: a symbolic link, not loaded\n", path);
                else if (errno != ENOENT)
                        fprintf(stderr, "con-init: %s: %s, not loaded\n", path, strerror(errno));
                return;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                fprintf(stderr, "con-init: %s: %s, not loaded\n", path, strerror(errno));
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                fprintf(stderr, "con-init: %s: not a regular file, not loaded\n", path);
                return;
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = st.st_size > (off_t)VOL_ENVFILE_MAX ? -EFBIG : read_bounded(fd, &text, &len);
        if (r == -EFBIG) {
                fprintf(stderr, "con-init: %s: larger than %u bytes, not loaded\n", path,
                        VOL_ENVFILE_MAX);
                return;
        }
        if (r < 0) {
                fprintf(stderr, "con-init: %s: %s, not loaded\n", path, strerror(-r));
                return;
        }
        struct env_load load = {.path = path};
        r = vol_envfile_parse(text, len, set_entry, report_bad_line, &load);
        if (r < 0)
                fprintf(stderr, "con-init: %s: %s, not loaded\n", path, strerror(-r));
}

void con_load_env_files(int con_fd, const char *con)
{
        /* The secret's file last: its keys win. */
        load_env_file(con_fd, con, "configuration");
        load_env_file(con_fd, con, "secret");
}
