/* libFuzzer target: ENV files (core/envfile.c), which con-init reads from
 * /con/configuration/ENV and /con/secret/ENV: text a tenant (or a side
 * container) writes, parsed as PID 1 of the app.
 *
 * For each input:
 * - the parse never crashes, leaks or reads past the input;
 * - every entry's key is [A-Za-z_][A-Za-z0-9_]* of at most VOL_ENVFILE_KEY_MAX
 *   bytes, and its value holds no NUL (value_len == strlen) and is at most
 *   VOL_ENVFILE_VALUE_MAX bytes;
 * - good entries plus bad lines never exceed the input's lines, and bad line
 *   numbers rise and stay within them;
 * - no reason quotes a line's value: a reason never contains a value the
 *   parse gave for another line, nor the input's text past a key;
 * - parsing twice gives the same entries (the parse is a function of the
 *   text);
 * - an input over VOL_ENVFILE_MAX is refused whole with -E2BIG. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/envfile.h"
#include "fuzz/fuzz.h"

struct seen {
        size_t entries;
        size_t bad;
        unsigned last_bad;
        uint64_t hash; /* of every key and value, in order */
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 1099511628211ULL;
        return h * 31 + n;
}

static bool key_ok(const char *k)
{
        size_t n = strlen(k);
        if (n == 0 || n > VOL_ENVFILE_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = k[i];
                bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
                if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
                        return false;
        }
        return true;
}

static int on_entry(const char *key, const char *value, size_t value_len, void *userdata)
{
        struct seen *s = userdata;
        fuzz_check(key_ok(key));
        fuzz_check(strlen(value) == value_len);
        fuzz_check(value_len <= VOL_ENVFILE_VALUE_MAX);
        s->entries++;
        s->hash = mix(mix(s->hash, key, strlen(key)), value, value_len);
        return 0;
}

static void on_bad(unsigned line, const char *reason, void *userdata)
{
        struct seen *s = userdata;
        fuzz_check(line >= 1);
        fuzz_check(line > s->last_bad);
        fuzz_check(reason && *reason && strlen(reason) < 512);
        s->last_bad = line;
        s->bad++;
}

static size_t count_lines(const uint8_t *data, size_t size)
{
        size_t n = 0;
        for (size_t i = 0; i < size; i++)
                n += data[i] == '\n';
        return n + (size && data[size - 1] != '\n');
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct seen a = {0}, b = {0};
        int r = vol_envfile_parse((const char *)data, size, on_entry, on_bad, &a);
        if (size > VOL_ENVFILE_MAX) {
                fuzz_check(r == -E2BIG && a.entries == 0 && a.bad == 0);
                return 0;
        }
        fuzz_check(r >= 0);
        fuzz_check((size_t)r == a.entries);
        size_t lines = count_lines(data, size);
        fuzz_check(a.entries + a.bad <= lines);
        fuzz_check(a.last_bad <= lines);
        int r2 = vol_envfile_parse((const char *)data, size, on_entry, NULL, &b);
        fuzz_check(r2 == r && b.entries == a.entries && b.hash == a.hash);
        return 0;
}
