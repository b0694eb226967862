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

/* Appends a row of n_columns cells (copied; NULL prints as "-"). Control
 * characters are shown as '?' so a value cannot drive the terminal. */
void cli_table_add_row(struct cli_table *t, const char *const *cells);

/* Writes t to f: a header line and one line per row, columns padded to their
 * widest cell and separated by three spaces, no trailing blanks. Returns 0
 * or -EIO when f fails. */
int cli_table_print(const struct cli_table *t, FILE *f);

/* Writes j to f indented by four spaces, keys in the daemon's order, and a
 * newline. Returns 0 or -EIO. */
int cli_json_print(const json_t *j, FILE *f);
