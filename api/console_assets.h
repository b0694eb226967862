/* The console's files, embedded at build time (scripts/embed.py, from web/). */
#pragma once

#include <stddef.h>

struct vol_console_asset {
        const char *name; /* the file's name in web/ */
        const char *type; /* its Content-Type */
        const unsigned char *data;
        size_t len;
};

extern const struct vol_console_asset vol_console_assets[];
extern const size_t vol_console_n_assets;
