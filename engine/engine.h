/* A client of the Docker Engine API (v1.41), for dockerd and Podman's
 * compatible service alike: what volman needs to deploy app containers on
 * volman volumes. Each call is one HTTP request over the engine's unix socket. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/kv.h"

struct vol_engine;

/* One mount: an engine volume, or a host path when bind is set (volume is
 * NULL then). A single file may be bound. The host path must exist: dockerd
 * refuses one that does not, where Podman makes a directory there. */
struct vol_engine_mount {
        const char *volume; /* engine volume name */
        const char *target; /* path in the container */
        const char *bind;   /* host path: a bind mount instead of a volume */
        bool read_only;     /* read-only in the container */
};

struct vol_container_spec {
        const char *name; /* NULL: the engine names it */
        const char *image;
        const char *const *cmd; /* NULL: the image's command */
        size_t n_cmd;
        const struct vol_kvs *labels;
        bool read_only_rootfs;
        uint64_t tmp_bytes;       /* size of the "/tmp" tmpfs; 0: no /tmp tmpfs */
        const char *network_mode; /* NULL: the engine's default */
        const struct vol_engine_mount *mounts;
        size_t n_mounts;
        /* Hardening: every capability is dropped but these, no process may
         * gain privileges (no-new-privileges), and these limits hold. */
        const char *const *cap_add;
        size_t n_cap_add;
        int64_t pids_limit;    /* 0: none */
        uint64_t memory_bytes; /* 0: none */
        uint64_t nano_cpus;    /* CPU time in 1e-9 CPUs (1e9: one CPU); 0: none */
        /* NULL: the image's. Else exactly these (none when n_entrypoint is
         * 0), and then the image's Cmd is dropped too on both engines: cmd
         * NULL means no arguments. */
        const char *const *entrypoint;
        size_t n_entrypoint;
        const char *user;        /* "uid[:gid]" or a name; NULL: the image's */
        const char *const *env;  /* "KEY=VALUE", added to the image's */
        size_t n_env;
        const char *working_dir; /* NULL: the image's */
};

/* What an image says about the process it runs (its config). Every field
 * may be empty: NULL arrays with n = 0, NULL strings. */
struct vol_image_info {
        char *id; /* "sha256:..." */
        char **entrypoint;
        size_t n_entrypoint;
        char **cmd;
        size_t n_cmd;
        char *user;
        char *working_dir;
        char **env; /* "KEY=VALUE" */
        size_t n_env;
};

/* Called once per container found: its id, name and state ("running", ...). */
typedef void (*vol_engine_container_cb)(const char *id, const char *name, const char *state,
                                        const char *generation, void *userdata);

/* Opens a client of the engine at endpoint "unix:///path/to/docker.sock".
 * Nothing is sent yet. Returns 0 or -EINVAL for another form. */
int vol_engine_open(const char *endpoint, struct vol_engine **ret, struct vol_error *err);
/* Frees the client. Accepts NULL. */
void vol_engine_close(struct vol_engine *e);

/* Makes sure the engine has volume `name` from volume driver `driver` with
 * options opts: creates it (the engine then asks the driver), or accepts an
 * existing one of that driver. -EEXIST if it exists from another driver. */
int vol_engine_volume_ensure(struct vol_engine *e, const char *name, const char *driver,
                             const struct vol_kvs *opts, struct vol_error *err);
/* Removes volume name from the engine (and so from its driver). -ENOENT when
 * the engine does not know it. */
int vol_engine_volume_remove(struct vol_engine *e, const char *name, struct vol_error *err);

/* Creates a container; returns its id in *ret_id (caller frees). */
int vol_engine_container_create(struct vol_engine *e, const struct vol_container_spec *spec,
                                char **ret_id, struct vol_error *err);
/* Starts container id. */
int vol_engine_container_start(struct vol_engine *e, const char *id, struct vol_error *err);
/* Removes container id, stopping it first (force). -ENOENT when gone already. */
int vol_engine_container_remove(struct vol_engine *e, const char *id, struct vol_error *err);
/* Lists every container (running or not) carrying all the labels in match. */
int vol_engine_container_list(struct vol_engine *e, const struct vol_kvs *match,
                              vol_engine_container_cb cb, void *userdata, struct vol_error *err);

/* Reads what image (a name such as "localhost/app:1", or an id) runs, into
 * *ret (the caller frees it with vol_image_info_free). -ENOENT when the
 * engine has no such image. */
int vol_engine_image_inspect(struct vol_engine *e, const char *image, struct vol_image_info *ret,
                             struct vol_error *err);
/* Frees what info holds and zeroes it. Accepts NULL. */
void vol_image_info_free(struct vol_image_info *info);

/* Waits until container id is not running and returns its exit code in
 * *ret_exit_code (at once if it has exited already). -ETIMEDOUT when it
 * still runs after timeout_ms (> 0), the whole call's deadline; -ENOENT
 * when there is no such container. */
int vol_engine_container_wait(struct vol_engine *e, const char *id, int timeout_ms, int *ret_exit_code,
                              struct vol_error *err);
/* The last 200 lines the container wrote, stdout and stderr together in the
 * order the engine gives, cut to their last max_bytes bytes (from the start
 * of a UTF-8 character), in *ret_text (NUL-terminated; the caller frees).
 * -EBADMSG when the engine's framing of the streams is malformed or cut. */
int vol_engine_container_logs(struct vol_engine *e, const char *id, size_t max_bytes, char **ret_text,
                              struct vol_error *err);
/* Writes the tar archive of path (a directory and what is below it, or a
 * single file) in container id to fd as it arrives; the container need not
 * have run. -ENOENT when the path (or the container) does not exist,
 * -EFBIG when the archive passes max_bytes, or what writing to fd failed
 * with. On failure fd may hold part of the archive. */
int vol_engine_container_archive(struct vol_engine *e, const char *id, const char *path, int fd,
                                 uint64_t max_bytes, struct vol_error *err);
/* The state of container id: its status ("created", "running", "exited",
 * ...; the caller frees) and its last exit code (0 until it has exited);
 * either output may be NULL. -ENOENT when there is no such container. */
int vol_engine_container_inspect_state(struct vol_engine *e, const char *id, char **ret_status,
                                       int *ret_exit_code, struct vol_error *err);

/* How many requests went to the engine, and how many of them failed (it
 * could not be reached, or answered 5xx). */
void vol_engine_counts(struct vol_engine *e, uint64_t *ret_calls, uint64_t *ret_errors);
