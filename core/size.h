/* Byte sizes as people write them ("10M", "512k", "1g", "4096"). Pure. */
#pragma once

#include <stdint.h>

#include "error.h"

/* Parses a size: decimal digits with an optional suffix k/K, m/M, g/G, t/T
 * (powers of 1024), optionally followed by "b"/"B" or "i"/"iB". Returns 0 and
 * *ret, or -EINVAL naming what (the option name) when malformed, zero or over 2^50. */
int vol_parse_size(const char *what, const char *text, uint64_t *ret, struct vol_error *err);

/* Formats n bytes for people: "8 GiB", "1.5 GiB", "64 MiB", "512 B". out
 * holds at least 32 bytes. */
void vol_format_size(uint64_t n, char out[32]);
