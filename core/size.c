#include "size.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int vol_parse_size(const char *what, const char *text, uint64_t *ret, struct vol_error *err)
{
        const char *p = text;
        uint64_t n = 0;
        if (!isdigit((unsigned char)*p))
                goto bad;
        while (isdigit((unsigned char)*p)) {
                if (n > (UINT64_C(1) << 50))
                        goto bad;
                n = n * 10 + (uint64_t)(*p++ - '0');
        }
        unsigned shift = 0;
        switch (*p) {
        case 'k': case 'K': shift = 10; p++; break;
        case 'm': case 'M': shift = 20; p++; break;
        case 'g': case 'G': shift = 30; p++; break;
        case 't': case 'T': shift = 40; p++; break;
        default: break;
        }
        if (shift && (*p == 'i' || *p == 'I'))
                p++;
        if (*p == 'b' || *p == 'B')
                p++;
        if (*p || n == 0 || n > ((UINT64_C(1) << 50) >> shift))
                goto bad;
        *ret = n << shift;
        return 0;
bad:
        return vol_error_set(err, -EINVAL,
                             "%s \"%s\" is not a size; write bytes or a number with k, m, g or t "
                             "(for example 64m), greater than 0",
                             what, text);
}

void vol_format_size(uint64_t n, char out[32])
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        uint64_t v = n;
        while (v >= 1024 && u < 6) {
                if (v % 1024) { /* not a whole number of the next unit: one decimal */
                        double d = (double)n;
                        int k = 0;
                        while (d >= 1024 && k < 6) {
                                d /= 1024;
                                k++;
                        }
                        snprintf(out, 32, "%.1f %s", d, units[k]);
                        return;
                }
                v /= 1024;
                u++;
        }
        snprintf(out, 32, "%llu %s", (unsigned long long)v, units[u]);
}
