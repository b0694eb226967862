#include "uuid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

void vol_uuid_random(char out[VOL_UUID_LEN + 1])
{
        uint8_t b[16];
        size_t got = 0;
        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        fprintf(stderr, "volman: getrandom failed: no random ids can be made\n");
                        abort();
                }
                got += (size_t)n;
        }
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* the RFC 4122 variant */
        static const char hex[] = "0123456789abcdef";
        char *p = out;
        for (size_t i = 0; i < sizeof(b); i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *p++ = '-';
                *p++ = hex[b[i] >> 4];
                *p++ = hex[b[i] & 15];
        }
        *p = 0;
}
