/* volmand's log: one line per message on stderr, as text or JSON, with the
 * <N> priority prefixes journald reads (docs/operations.md). */
#pragma once

#include <stdbool.h>

/* Sets the format ("text" or "json") and decides the prefixes: text lines
 * get them when stderr is not a terminal or is the journal; JSON lines only
 * when stderr is the journal (JOURNAL_STREAM names it), which strips them,
 * so a JSON log written to a file or a pipe stays one JSON object per line.
 * On the journal, text lines leave out the time (the journal keeps its own).
 * Call it once, before any thread logs. The threshold is the service's
 * (vol_service_set_log_level). */
void volmand_log_setup(const char *format);

/* Writes one line of level ("debug", "info", "warning", "error") if the
 * threshold lets it through. Every control character of msg (C0, DEL, C1)
 * is escaped, so no request can forge a line or drive an operator's
 * terminal. Thread-safe: a line is one write(2). The vol_log_fn of
 * vol_service_set_log. */
void volmand_log(const char *level, const char *msg);

/* Whether stderr is the journal (JOURNAL_STREAM matches its device and inode). */
bool volmand_log_to_journal(void);
