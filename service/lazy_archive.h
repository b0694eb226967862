/* libarchive, loaded on first use (dlopen) rather than at start: it brings
 * libxml2, ICU and libstdc++ with it (some MiB of resident pages), and most
 * volmands export, import or seed a volume from an image rarely or never.
 * Not a public header: service/transfer.c calls libarchive through the
 * table below. */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "core/error.h"

/* Every libarchive function volmand calls, one X(name) each. */
#define VOL_LIBARCHIVE_FUNCS(X)                                                                    \
        X(archive_entry_atime)                                                                     \
        X(archive_entry_atime_is_set)                                                              \
        X(archive_entry_atime_nsec)                                                                \
        X(archive_entry_filetype)                                                                  \
        X(archive_entry_free)                                                                      \
        X(archive_entry_gid)                                                                       \
        X(archive_entry_hardlink)                                                                  \
        X(archive_entry_mode)                                                                      \
        X(archive_entry_mtime)                                                                     \
        X(archive_entry_mtime_nsec)                                                                \
        X(archive_entry_new)                                                                       \
        X(archive_entry_pathname)                                                                  \
        X(archive_entry_perm)                                                                      \
        X(archive_entry_set_atime)                                                                 \
        X(archive_entry_set_gid)                                                                   \
        X(archive_entry_set_hardlink)                                                              \
        X(archive_entry_set_mode)                                                                  \
        X(archive_entry_set_mtime)                                                                 \
        X(archive_entry_set_pathname)                                                              \
        X(archive_entry_set_size)                                                                  \
        X(archive_entry_set_symlink)                                                               \
        X(archive_entry_set_uid)                                                                   \
        X(archive_entry_size)                                                                      \
        X(archive_entry_sparse_add_entry)                                                          \
        X(archive_entry_symlink)                                                                   \
        X(archive_entry_uid)                                                                       \
        X(archive_entry_xattr_add_entry)                                                           \
        X(archive_entry_xattr_next)                                                                \
        X(archive_entry_xattr_reset)                                                               \
        X(archive_error_string)                                                                    \
        X(archive_read_data)                                                                       \
        X(archive_read_data_block)                                                                 \
        X(archive_read_free)                                                                       \
        X(archive_read_new)                                                                        \
        X(archive_read_next_header)                                                                \
        X(archive_read_open)                                                                       \
        X(archive_read_open_fd)                                                                    \
        X(archive_read_support_filter_all)                                                         \
        X(archive_read_support_format_tar)                                                         \
        X(archive_set_error)                                                                       \
        X(archive_write_add_filter_zstd)                                                           \
        X(archive_write_close)                                                                     \
        X(archive_write_data)                                                                      \
        X(archive_write_free)                                                                      \
        X(archive_write_header)                                                                    \
        X(archive_write_new)                                                                       \
        X(archive_write_open2)                                                                     \
        X(archive_write_set_bytes_in_last_block)                                                   \
        X(archive_write_set_bytes_per_block)                                                       \
        X(archive_write_set_format_pax)

/* The functions, each typed as <archive.h> declares it. */
struct vol_libarchive {
#define VOL_LIBARCHIVE_MEMBER(f) __typeof__(f) *f;
        VOL_LIBARCHIVE_FUNCS(VOL_LIBARCHIVE_MEMBER)
#undef VOL_LIBARCHIVE_MEMBER
};

/* Loads libarchive (libarchive.so.13, or the file the test hook
 * VOLMAN_LIBARCHIVE names) and resolves its functions, once for the whole
 * process; thread-safe. Returns 0, or -ELIBACC with a message saying that
 * `what` ("volume export") needs libarchive, why it could not load, and the
 * Debian package to install. A failed load is tried again on the next call,
 * so installing the package is enough, without a restart. */
int vol_libarchive_load(const char *what, struct vol_error *err);

/* The loaded functions. Only after vol_libarchive_load returned 0 (in this
 * thread or one this thread synchronized with); aborts otherwise. */
const struct vol_libarchive *vol_libarchive(void);
