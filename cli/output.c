#include "output.h"

#include <errno.h>
#include <string.h>

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

static char *printable_copy(const char *s)
{
        char *copy = xstrdup(s ? s : "-");
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return copy;
}

static void add_row(struct cli_table *t, const char *const *cells)
{
        if (t->n_rows == t->cap_rows) {
                t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
                t->cells = xrealloc(t->cells, t->cap_rows * t->n_columns * sizeof(char *));
        }
        char **row = t->cells + t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                row[i] = printable_copy(cells[i]);
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

int cli_json_print(const json_t *j, FILE *f)
{
        if (json_dumpf(j, f, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) < 0)
                return -EIO;
        fputc('\n', f);
        return ferror(f) ? -EIO : 0;
}
