#include "progress.h"

#include <stddef.h>

static _Thread_local struct vol_transfer_progress *current;

void vol_progress_set(struct vol_transfer_progress *p)
{
        current = p;
}

void vol_progress_add(uint64_t bytes, uint64_t entries)
{
        if (current) {
                current->bytes += bytes;
                current->entries += entries;
        }
}
