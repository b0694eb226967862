/* volmand's configuration file (/etc/volman/volmand.conf), parsed. Pure: the
 * caller reads the file and says which keys exist; this checks the syntax,
 * the keys and the type of each value, and names the file and line of the
 * first thing wrong.
 *
 * The format (docs/operations.md):
 *   # a comment: a line whose first non-blank character is #
 *   key = value            blanks around = and at either end are ignored
 *   key = value  # note    a # after a blank ends an unquoted value
 *   key = "a # b"          double quotes keep everything; \" and \\ inside
 * Each key at most once; no value may be empty (leave the line out for the
 * default); UTF-8 only, no control characters but tab. */
#pragma once

#include <stddef.h>

#include "error.h"

#define VOL_CONF_FILE_MAX (64u << 10) /* bytes a configuration file may have */
#define VOL_CONF_LINE_MAX 4096        /* bytes one line may have */

enum vol_conf_type {
        VOL_CONF_STRING,       /* any text */
        VOL_CONF_PATH,         /* an absolute path */
        VOL_CONF_PATH_OR_NONE, /* an absolute path, or "none" */
        VOL_CONF_SIZE,         /* a size as core/size.h reads it: 64m, 8g */
        VOL_CONF_CHOICE,       /* one of choices */
};

/* One key a file may set. */
struct vol_conf_key {
        const char *name; /* "memory-max-total": the flag's name without -- */
        enum vol_conf_type type;
        const char *const *choices; /* VOL_CONF_CHOICE: NULL-terminated; else NULL */
};

/* One line that set a key. */
struct vol_conf_entry {
        size_t key;    /* index in the key table */
        unsigned line; /* 1-based */
        char *value;   /* unquoted, owned */
};

struct vol_conf {
        struct vol_conf_entry *entries; /* in file order */
        size_t n;
};

/* Parses text[0..len) (a file's whole content; NULs are refused) against the
 * n_keys keys. file names the file in messages ("FILE:LINE: ..."). Returns 0
 * and *ret (the caller frees it with vol_conf_free), or -EINVAL with the
 * first error (bad syntax, unknown or repeated key, empty or ill-typed value,
 * invalid UTF-8, a control character) or -EFBIG for a file over
 * VOL_CONF_FILE_MAX; *ret is untouched on failure. */
int vol_conf_parse(const char *text, size_t len, const char *file, const struct vol_conf_key *keys,
                   size_t n_keys, struct vol_conf *ret, struct vol_error *err);

/* Frees what c holds and empties it. Accepts an empty one. */
void vol_conf_free(struct vol_conf *c);

/* Checks value against key k's type. Returns 0, or -EINVAL with a message
 * that starts with the key's name. */
int vol_conf_check_value(const struct vol_conf_key *k, const char *value, struct vol_error *err);

/* value as it would be written in a file: as is when it reads back the
 * same, else double-quoted with " and \ escaped. NULL when the value cannot
 * be written at all (a control character but tab, or a newline). The caller
 * frees. */
char *vol_conf_quote(const char *value);

/* The key of the n_keys called name, or NULL. */
const struct vol_conf_key *vol_conf_key_find(const struct vol_conf_key *keys, size_t n_keys,
                                             const char *name);
