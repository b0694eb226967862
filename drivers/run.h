/* Running the host's tools a driver needs (mkfs.ext4, e2fsck, resize2fs),
 * and copying files. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Runs argv (argv[0] a path or a name looked up in PATH, /sbin and
 * /usr/sbin), with no stdin and its output captured. Returns its exit status
 * (0..255), or < 0 when it could not run or was killed, with a message naming
 * the program and the last line of its output. A status in ok_mask (bit n for
 * status n) counts as success: 0 is returned. */
int vol_run(const char *const argv[], unsigned ok_mask, struct vol_error *err);

/* The path of program name (in PATH, /sbin or /usr/sbin) in out (4096
 * bytes); false when there is none. */
bool vol_find_program(const char *name, char out[4096]);

/* Copies all of src_fd to dst_fd (an empty regular file): a reflink
 * (FICLONE) where the filesystem shares extents, else the data ranges only
 * (SEEK_DATA/SEEK_HOLE with copy_file_range), so a sparse image stays sparse.
 * Sets *ret_reflinked. Then fsyncs dst_fd. */
int vol_copy_file(int src_fd, int dst_fd, bool *ret_reflinked, struct vol_error *err);
/* vol_copy_file without the fsync (many files: one syncfs at the end). */
int vol_copy_file_nosync(int src_fd, int dst_fd, bool *ret_reflinked, struct vol_error *err);
