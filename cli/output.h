/* The CLI's output: column-aligned tables for people, JSON for programs.
 * Writes only to the FILE it is given. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/cleanup.h"

struct cli_table;

/* A table with n_columns columns whose titles are headers (copied). Never NULL. */
struct cli_table *cli_table_new(size_t n_columns, const char *const *headers);
/* Frees t. Accepts NULL. */
void cli_table_free(struct cli_table *t);
DEFINE_CLEANUP_FUNC(struct cli_table, cli_table_free)

/* s made safe for a terminal (a heap copy; NULL gives "-"): control
 * characters (C0, DEL, C1), bidirectional overrides and isolates, and bytes
 * that are not UTF-8 become '?', so a name or label cannot drive the
 * terminal or make text read other than it is. */
char *cli_printable(const char *s);

/* Writes cli_printable(s) and a newline to f. Returns 0 or -EIO. */
int cli_print_line(FILE *f, const char *s);

/* Appends a row of n_columns cells (copied; NULL prints as "-"), each made
 * safe by cli_printable. */
void cli_table_add_row(struct cli_table *t, const char *const *cells);

/* Writes t to f: a header line and one line per row, columns padded to their
 * widest cell and separated by three spaces, no trailing blanks. Returns 0
 * or -EIO when f fails. */
int cli_table_print(const struct cli_table *t, FILE *f);

/* JSON text with every code point cli_printable would hide (C1, DEL, bidi
 * overrides and isolates) written as a \uXXXX escape: the same value, safe
 * for a terminal. Heap copy. */
char *cli_json_text_safe(const char *text);

/* bytes as people read them: "512 B", "1.5 KiB", ... up to PiB. */
void cli_human_bytes(double bytes, char out[32]);

/* Draws a progress line on f, over the last one ('\r'): what, the bytes
 * done, of total with a percentage and the time left when total > 0 and
 * done <= total, the rate over secs; else the bytes, rate and seconds. */
void cli_progress_draw(FILE *f, const char *what, double done, double total, double secs);

/* Writes j to f indented by four spaces, keys in the daemon's order, and a
 * newline, through cli_json_text_safe. Returns 0 or -EIO. */
int cli_json_print(const json_t *j, FILE *f);
