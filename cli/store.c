/* `volman store backup`: a copy of the metadata store, made while volmand runs
 * (docs/operations.md, "Backups"). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "core/cleanup.h"
#include "core/xmalloc.h"

static const char backup_usage[] =
    "Usage: volman store backup -o FILE\n"
    "\n"
    "Writes a consistent copy of volmand's metadata store to FILE (-o - writes to\n"
    "stdout) while volmand goes on serving: every volume record, tombstone,\n"
    "config layer, app, token hash and sealed secret, as one SQLite database that\n"
    "volmand opens as its store (stop it, put FILE at ROOT/volman.db, remove\n"
    "ROOT/volman.db-wal, start it). The sealed secrets open only with the same\n"
    "ROOT/secret.key: keep it too, apart. FILE appears only once it is whole.\n"
    "volmand holds its database locked, so sqlite3(1) cannot read it while it\n"
    "runs: this is the way. Admin only. An etcd store is backed up with etcd's\n"
    "tools (etcdctl snapshot save).\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE   where to write (- for stdout)\n"
    "\n"
    "Example:\n"
    "  volman store backup -o /var/backups/volman-$(date +%F).db\n";

static int output_option(struct cli_context *ctx, void *state, int opt, const char *arg, struct vol_error *err)
{
        (void)ctx;
        (void)err;
        if (opt != 'o')
                return -EINVAL;
        *(const char **)state = arg;
        return 0;
}

static int store_backup(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        static const struct option options[] = {{"output", required_argument, NULL, 'o'}, CLI_COMMON_OPTIONS, {}};
        const char *cmd = "store backup", *file = NULL;
        int r = cli_parse_options(ctx, cmd, backup_usage, ":ho:", options, output_option, &file, argc, argv, err);
        if (r != 0)
                return r < 0 ? r : 0;
        if (argc - optind != 0)
                return cli_usage_error(ctx, cmd, err, "unexpected argument '%s'", argv[optind]);
        if (!file)
                return cli_usage_error(ctx, cmd, err, "give -o FILE (- for stdout)");
        bool to_stdout = !strcmp(file, "-");
        if (to_stdout && isatty(1))
                return cli_usage_error(ctx, cmd, err, "stdout is a terminal: give -o FILE, or redirect it");
        struct vol_client *client;
        if ((r = cli_client(ctx, &client, err)) < 0)
                return r;
        _cleanup_free_ char *tmp = to_stdout ? NULL : xasprintf("%s.part", file);
        FILE *out = stdout;
        if (!to_stdout) { /* token hashes and sealed secrets: the owner's alone */
                int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                out = fd < 0 ? NULL : fdopen(fd, "wb");
                if (!out) {
                        r = vol_error_set(err, -errno, "store backup: creating %s: %s", tmp, strerror(errno));
                        if (fd >= 0) {
                                close(fd);
                                unlink(tmp);
                        }
                        return r;
                }
        }
        r = vol_client_download(client, "/v1/store/backup", out, NULL, NULL, 0, err);
        if (!to_stdout) {
                if (fflush(out) != 0 || fsync(fileno(out)) < 0)
                        r = r < 0 ? r : vol_error_set(err, -errno, "store backup: writing %s: %s", tmp, strerror(errno));
                fclose(out);
                if (r == 0 && rename(tmp, file) < 0)
                        r = vol_error_set(err, -errno, "store backup: naming %s: %s", file, strerror(errno));
                if (r < 0)
                        unlink(tmp);
        } else if (r == 0 && fflush(stdout) != 0) {
                r = vol_error_set(err, -errno, "store backup: writing stdout: %s", strerror(errno));
        }
        if (r < 0)
                return r == -ECONNREFUSED ? r : vol_error_wrap(err, "store backup: ");
        if (!to_stdout && !ctx->json)
                fprintf(stderr, "the metadata store is copied to %s\n", file);
        return 0;
}

static const struct cli_command store_commands[] = {
    {"backup", NULL, store_backup, "Copy the metadata store to a file while volmand runs"},
};

int cli_store(struct cli_context *ctx, int argc, char **argv, struct vol_error *err)
{
        return cli_group_run(ctx, "store", store_commands, ARRAY_SIZE(store_commands), argc, argv, err);
}
