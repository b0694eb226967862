/* Copying a volume's directory tree safely (drivers/treecopy.c). */
#pragma once

#include <stdint.h>

#include "core/error.h"

struct vol_copy_stats {
        uint64_t bytes;   /* of regular files */
        uint64_t files;   /* files, links and fifos copied */
        uint64_t dirs;
        uint64_t skipped; /* device nodes, sockets, other filesystems' mounts: not copied */
};

/* Copies everything below the directory src_fd into the empty directory
 * dst_fd (and src's own owner, mode, xattrs and times onto dst), never
 * following a symlink or entering another filesystem, then syncs dst's
 * filesystem. stats may be NULL. */
int vol_copy_tree(int src_fd, int dst_fd, struct vol_copy_stats *stats, struct vol_error *err);
