/* ENV files (/con/configuration/ENV, /con/secret/ENV), parsed. Pure: no I/O,
 * and no other core file, so that con-init can compile it into its static
 * binary. The text is read as data, never run: no shell, no $VAR, no $(...).
 *
 * The format, one entry a line:
 *   # a comment: a line whose first non-blank character is #
 *   KEY=raw value          everything after = to the end of the line, as is
 *   export KEY=value       a leading `export ` is accepted and ignored
 *   KEY="a \"b\"\n"        escapes \" \\ \n \t \$; blanks or a # comment may follow
 *   KEY='lit$eral'         no escapes at all
 * KEY is [A-Za-z_][A-Za-z0-9_]*, at most VOL_ENVFILE_KEY_MAX bytes, directly
 * followed by = (blanks may come before the key, not around =). Lines end at
 * \n, one \r before it is dropped, the last line needs no \n. A bad line is
 * reported and skipped; the others still count. */
#pragma once

#include <stddef.h>

#define VOL_ENVFILE_MAX (1u << 20)        /* bytes of one file */
#define VOL_ENVFILE_KEY_MAX 256           /* bytes of one key */
#define VOL_ENVFILE_VALUE_MAX (64u << 10) /* bytes of one value, after unquoting */

/* Called for each good entry, in file order (a key set twice comes twice).
 * key and value are NUL-terminated and valid during the call only; value
 * holds no NUL, so value_len == strlen(value). A negative return stops the
 * parse, which then returns it. */
typedef int (*vol_envfile_entry_fn)(const char *key, const char *value, size_t value_len,
                                    void *userdata);

/* Called for each bad line, with its 1-based number and why it is bad. The
 * reason never holds the line's text or value (the file may hold secrets),
 * only the key's name when the key itself was valid. */
typedef void (*vol_envfile_bad_fn)(unsigned line, const char *reason, void *userdata);

/* Parses text[0..len) (a file's whole content), calling on_entry for each
 * good entry and on_bad (when not NULL) for each bad line; either may be
 * NULL. Returns the number of good entries, -E2BIG (and calls nothing) when
 * len is over VOL_ENVFILE_MAX, -ENOMEM, or on_entry's negative return. */
int vol_envfile_parse(const char *text, size_t len, vol_envfile_entry_fn on_entry,
                      vol_envfile_bad_fn on_bad, void *userdata);
