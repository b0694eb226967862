/* volmand's log lines (daemon/log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/utf8.h"
#include "service/service.h"

#define LINE_MAX_BYTES 4096

static bool json_format;
static bool with_prefix;
static bool with_time = true;

bool volmand_log_to_journal(void)
{
        /* "DEV:INO" of the stream systemd connected; a child whose stderr
         * went elsewhere inherits the variable, hence the comparison. */
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void volmand_log_setup(const char *format)
{
        bool journal = volmand_log_to_journal();
        json_format = format && strcmp(format, "json") == 0;
        with_prefix = journal || (!json_format && !isatty(STDERR_FILENO));
        with_time = !journal;
}

/* syslog(3)'s priorities for the levels. */
static int priority(const char *level)
{
        switch (vol_log_level_from_name(level)) {
        case VOL_LOG_DEBUG: return 7;
        case VOL_LOG_WARNING: return 4;
        case VOL_LOG_ERROR: return 3;
        default: return 6;
        }
}

struct line {
        char buf[LINE_MAX_BYTES + 128];
        size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
        if (n > sizeof(l->buf) - 2 - l->n) /* room for the closing "}\n" */
                n = sizeof(l->buf) - 2 - l->n;
        memcpy(l->buf + l->n, s, n);
        l->n += n;
}

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...)
{
        char tmp[64];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* msg with every control character escaped: \xNN (C0, DEL), \uNNNN (C1),
 * \\ in text; JSON's own escapes, \uNNNN for C1 and U+FFFD for bytes that
 * are not UTF-8 in JSON. Stops short of LINE_MAX_BYTES. */
static void put_escaped(struct line *l, const char *msg, bool json)
{
        size_t start = l->n;
        for (const unsigned char *p = (const unsigned char *)msg; *p && l->n - start < LINE_MAX_BYTES; p++) {
                unsigned c = *p;
                if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) { /* C1 control in UTF-8 */
                        putf(l, "\\u%04x", p[1]);
                        p++;
                } else if (c < 0x20 || c == 0x7f) {
                        putf(l, json ? "\\u%04x" : "\\x%02x", c);
                } else if (c == '\\' || (json && c == '"')) {
                        char e[2] = {'\\', (char)c};
                        put(l, e, 2);
                } else if (json && c >= 0x80) {
                        size_t n = vol_utf8_seq_len(p, 4, NULL);
                        if (n) {
                                put(l, (const char *)p, n);
                                p += n - 1;
                        } else {
                                put(l, "\\ufffd", 6);
                        }
                } else {
                        char ch = (char)c;
                        put(l, &ch, 1);
                }
        }
}

void volmand_log(const char *level, const char *msg)
{
        if (!vol_service_log_enabled(level))
                return;
        char ts[32];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        struct line l = {.n = 0};
        if (with_prefix)
                putf(&l, "<%d>", priority(level));
        if (json_format) {
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
                putf(&l, "{\"time\":\"%s.%03ldZ\",\"level\":\"", ts, now.tv_nsec / 1000000);
                put_escaped(&l, level, true);
                put(&l, "\",\"message\":\"", 13);
                put_escaped(&l, msg, true);
                put(&l, "\"}", 2);
        } else {
                if (with_time) {
                        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ ", &tm);
                        put(&l, ts, strlen(ts));
                }
                put(&l, "volmand ", 8);
                put_escaped(&l, level, false);
                put(&l, ": ", 2);
                put_escaped(&l, msg, false);
        }
        l.buf[l.n++] = '\n';
        for (size_t off = 0; off < l.n;) {
                ssize_t w = write(STDERR_FILENO, l.buf + off, l.n - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break; /* nowhere to say so */
                off += (size_t)w;
        }
}
