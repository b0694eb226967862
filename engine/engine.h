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

struct vol_engine_mount {
        const char *volume; /* engine volume name */
        const char *target; /* path in the container */
};

struct vol_container_spec {
        const char *name;
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

/* How many requests went to the engine, and how many of them failed (it
 * could not be reached, or answered 5xx). */
void vol_engine_counts(struct vol_engine *e, uint64_t *ret_calls, uint64_t *ret_errors);
