#include "utf8.h"

size_t vol_utf8_seq_len(const unsigned char *p, size_t n, uint32_t *ret_cp)
{
        unsigned char c = p[0];
        size_t len;
        uint32_t cp;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                cp = c & 0x0f;
                if (c == 0xe0)
                        lo = 0xa0; /* no overlong forms */
                if (c == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                cp = c & 0x07;
                if (c == 0xf0)
                        lo = 0x90;
                if (c == 0xf4)
                        hi = 0x8f; /* nothing past U+10FFFF */
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        if (p[1] < lo || p[1] > hi)
                return 0;
        cp = (cp << 6) | (p[1] & 0x3f);
        for (size_t i = 2; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (ret_cp)
                *ret_cp = cp;
        return len;
}

size_t vol_utf8_invalid_at(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;
        while (i < n) {
                if (p[i] < 0x80) {
                        i++;
                        continue;
                }
                size_t len = vol_utf8_seq_len(p + i, n - i, NULL);
                if (!len)
                        return i;
                i += len;
        }
        return n;
}

bool vol_utf8_is_unsafe_for_terminal(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}
