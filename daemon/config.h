/* volmand's settings: defaults, the configuration file, the environment and
 * the flags, in that order of precedence (the later wins), with where each
 * value came from (docs/operations.md). The flags and the file's keys are
 * one table: every flag has a key of the same name. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "core/conffile.h"
#include "core/error.h"

enum volmand_key {
        VOLMAND_ROOT,
        VOLMAND_SOCKET,
        VOLMAND_PLUGIN_SOCKET,
        VOLMAND_PREFIX,
        VOLMAND_DEFAULT_DRIVER,
        VOLMAND_ENGINE,
        VOLMAND_ENGINE_DRIVER,
        VOLMAND_MEMORY_MAX_TOTAL,
        VOLMAND_MEMORY_MAX_VOLUME,
        VOLMAND_SOCKET_GROUP,
        VOLMAND_BTRFS_ROOT,
        VOLMAND_LISTEN,
        VOLMAND_TLS_CERT,
        VOLMAND_TLS_KEY,
        VOLMAND_SECRET_KEY_FILE,
        VOLMAND_CON_INIT,
        VOLMAND_SEED_TTL,
        VOLMAND_SEED_URL,
        VOLMAND_STORE,
        VOLMAND_NODE,
        VOLMAND_ADVERTISE,
        VOLMAND_CLUSTER_SECRET_FILE,
        VOLMAND_LOG_LEVEL,
        VOLMAND_LOG_FORMAT,
        VOLMAND_N_KEYS
};

/* What the command line asked for besides settings. */
enum volmand_action { VOLMAND_RUN, VOLMAND_HELP, VOLMAND_VERSION, VOLMAND_PRINT_CONFIG };

struct volmand_config {
        const char *value[VOLMAND_N_KEYS]; /* NULL: not set (the daemon's default applies) */
        char *origin[VOLMAND_N_KEYS];      /* "default", "FILE:LINE", "flag --KEY", "environment VAR" */
        char *file;                        /* the configuration file looked for */
        bool file_named;                   /* given with --config (so it must exist) */
        bool file_read;                    /* it existed and was read */
        enum volmand_action action;
        struct vol_conf conf; /* owns the file's values */
};

/* Reads the flags in argv, then the configuration file (--config FILE, else
 * the default, which may be missing), then the environment, and settles
 * each value. Returns 0 and fills *ret (free it with volmand_config_free),
 * or -EINVAL with a message naming the flag, or the file and line, of the
 * first thing wrong (a usage error: exit 2); a file that cannot be read, or
 * that others than root may write, is an error too. */
int volmand_config_load(int argc, char **argv, struct volmand_config *ret, struct vol_error *err);

/* Frees what c holds. */
void volmand_config_free(struct volmand_config *c);

/* Writes the effective configuration as a configuration file: every key,
 * its value (commented out when not set) and where it came from. */
void volmand_config_print(const struct volmand_config *c, FILE *f);

/* Names where key's value came from, for a message, in buf: "--listen",
 * "/etc/volman/volmand.conf:7: listen", "VOLMAN_ENGINE", or the key's name
 * for a default. Returns buf. */
const char *volmand_config_where(const struct volmand_config *c, enum volmand_key key, char buf[static 512]);

/* Writes volmand --help. */
void volmand_usage(FILE *f);
