/* UTF-8 checks shared by every place that hands text on: JSON rendering, the
 * CLI's config reader and its terminal output. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length of the valid UTF-8 sequence of two or more bytes starting at p
 * (2 to 4), or 0: a lone continuation byte, an overlong form, a surrogate, a
 * code point past U+10FFFF, or a sequence cut short (by a NUL or by the end
 * of the n bytes available). *ret_cp (may be NULL) gets the code point. */
size_t vol_utf8_seq_len(const unsigned char *p, size_t n, uint32_t *ret_cp);

/* The offset of the first byte of s[0..n) that does not start valid UTF-8
 * (an ASCII byte always does), or n when all of it is valid. */
size_t vol_utf8_invalid_at(const char *s, size_t n);

/* True when code point cp must never reach a terminal as is: C0 and C1
 * controls, DEL, and the bidirectional overrides and isolates (U+202A..E,
 * U+2066..9) that can make text read other than it is. */
bool vol_utf8_is_unsafe_for_terminal(uint32_t cp);
