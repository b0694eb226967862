#include "output.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/xmalloc.h"

#define COLUMN_GAP 3

struct cli_table {
        size_t n_columns;
        size_t n_rows; /* header row included */
        size_t cap_rows;
        char **cells;  /* n_rows * n_columns */
        size_t *width; /* per column, in characters */
};

/* Characters in a UTF-8 string: continuation bytes take no room. */
static size_t display_width(const char *s)
{
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

char *cli_printable(const char *s)
{
        if (!s)
                s = "-";
        size_t n = strlen(s);
        char *out = xmalloc(n + 1);
        size_t w = 0;
        const unsigned char *p = (const unsigned char *)s;
        for (size_t i = 0; i < n;) {
                uint32_t cp = p[i];
                size_t len = 1;
                if (p[i] >= 0x80 && !(len = vol_utf8_seq_len(p + i, n - i, &cp))) {
                        out[w++] = '?'; /* not UTF-8 */
                        i++;
                        continue;
                }
                if (vol_utf8_is_unsafe_for_terminal(cp)) {
                        out[w++] = '?';
                } else {
                        memcpy(out + w, p + i, len);
                        w += len;
                }
                i += len;
        }
        out[w] = 0;
        return out;
}

int cli_print_line(FILE *f, const char *s)
{
        _cleanup_free_ char *safe = cli_printable(s);
        fputs(safe, f);
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}

static void add_row(struct cli_table *t, const char *const *cells)
{
        if (t->n_rows == t->cap_rows) {
                t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
                t->cells = xrealloc(t->cells, t->cap_rows * t->n_columns * sizeof(char *));
        }
        char **row = t->cells + t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                row[i] = cli_printable(cells[i]);
                size_t w = display_width(row[i]);
                if (w > t->width[i])
                        t->width[i] = w;
        }
        t->n_rows++;
}

struct cli_table *cli_table_new(size_t n_columns, const char *const *headers)
{
        struct cli_table *t = xcalloc(1, sizeof(*t));
        t->n_columns = n_columns;
        t->width = xcalloc(n_columns, sizeof(size_t));
        add_row(t, headers);
        return t;
}

void cli_table_free(struct cli_table *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->width);
        free(t);
}

void cli_table_add_row(struct cli_table *t, const char *const *cells)
{
        add_row(t, cells);
}

int cli_table_print(const struct cli_table *t, FILE *f)
{
        for (size_t r = 0; r < t->n_rows; r++) {
                char *const *row = t->cells + r * t->n_columns;
                for (size_t i = 0; i < t->n_columns; i++) {
                        fputs(row[i], f);
                        if (i + 1 == t->n_columns)
                                break;
                        size_t pad = t->width[i] - display_width(row[i]) + COLUMN_GAP;
                        fprintf(f, "%*s", (int)pad, "");
                }
                fputc('\n', f);
        }
        return ferror(f) ? -EIO : 0;
}

char *cli_json_text_safe(const char *text)
{
        size_t n = strlen(text);
        char *out = xmalloc(n * 6 + 1);
        size_t w = 0;
        const unsigned char *p = (const unsigned char *)text;
        for (size_t i = 0; i < n;) {
                uint32_t cp = p[i];
                size_t len = 1;
                if (p[i] >= 0x80 && !(len = vol_utf8_seq_len(p + i, n - i, &cp)))
                        len = 1, cp = 0xfffd; /* jansson writes UTF-8 only; never here */
                /* C0 controls inside strings are escaped by jansson already;
                 * outside them they are the layout (newlines, indents) */
                if (cp >= 0x7f && (vol_utf8_is_unsafe_for_terminal(cp) || cp == 0xfffd)) {
                        w += (size_t)snprintf(out + w, 7, "\\u%04x", (unsigned)cp);
                } else {
                        memcpy(out + w, p + i, len);
                        w += len;
                }
                i += len;
        }
        out[w] = 0;
        return out;
}

int cli_json_print(const json_t *j, FILE *f)
{
        _cleanup_free_ char *text = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (!text)
                return -EIO;
        _cleanup_free_ char *safe = cli_json_text_safe(text);
        fputs(safe, f);
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}

void cli_human_bytes(double bytes, char out[32])
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        size_t u = 0;
        while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
                bytes /= 1024;
                u++;
        }
        snprintf(out, 32, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void cli_progress_draw(FILE *f, const char *what, double done, double total, double secs)
{
        char d[32], tot[32], rate[32];
        cli_human_bytes(done, d);
        cli_human_bytes(secs > 0 ? done / secs : 0, rate);
        if (total > 0 && done <= total) {
                cli_human_bytes(total, tot);
                double eta = done > 0 ? secs * (total - done) / done : 0;
                fprintf(f, "\r%s: %s of %s (%3.0f%%), %s/s, ETA %d:%02d   ", what, d, tot, 100 * done / total,
                        rate, (int)eta / 60, (int)eta % 60);
        } else {
                fprintf(f, "\r%s: %s, %s/s, %.0f s   ", what, d, rate, secs);
        }
        fflush(f);
}
