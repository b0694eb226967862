/* What the /con files (con_files.c), secrets (secrets.c), seed tokens
 * (tokens.c) and deploys (con.c, con_deploy.c) share inside service/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "con.h"
#include "core/kv.h"
#include "engine/engine.h"

/* "{tenant}/{env}/{app or *}/": the key prefix of one level's files and
 * secrets (caller frees). */
char *vol_con_level_key(const struct vol_app_ref *ref);
/* Checks ref (an env's level when ref->app is NULL, else an app's) and
 * whether caller may read it (or, with write, change it). */
int vol_con_check_level(const struct vol_caller *caller, const struct vol_app_ref *ref, bool write,
                        struct vol_error *err);
/* Base64 of data (caller frees), and back into out (at most max bytes):
 * 0, or -EIO for text that is not base64 or does not fit. */
char *vol_con_base64(const void *data, size_t len);
int vol_con_unbase64(const char *text, unsigned char *out, size_t max, size_t *ret_len);
/* A record (kind/key, small JSON) and its bytes (data_kind, in two slots
 * {key}@a and {key}@b; the record's "slot" names the current one): see the
 * top of con_files.c. put writes data_json to the other slot, passes
 * failpoint, then the record {record_fields,"slot":...} (the switch), then
 * drops the old slot. get gives the record (ret_record may be NULL) and the
 * current bytes' JSON. remove takes the record, then both slots. -ENOENT
 * when there is no record. */
int vol_con_pair_put(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                     const char *data_json, const char *record_fields, const char *failpoint, struct vol_error *err);
int vol_con_pair_get(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                     char **ret_record, char **ret_data_json, struct vol_error *err);
int vol_con_pair_remove(struct vol_service *s, const char *kind, const char *data_kind, const char *key,
                        struct vol_error *err);
/* Removes every record of kind whose key starts with prefix, with its bytes. */
int vol_con_drop_docs(struct vol_service *s, const char *kind, const char *data_kind, const char *prefix,
                      struct vol_error *err);

/* Calls cb with each file of area the app ref sees (the env's, then the
 * app's; for one name the app's alone). */
typedef int (*vol_con_file_data_cb)(const char *name, const unsigned char *data, size_t len, void *userdata);
int vol_con_files_each(struct vol_service *s, const struct vol_app_ref *ref, enum vol_con_area area,
                       vol_con_file_data_cb cb, void *userdata, struct vol_error *err);

/* ---- archives (service/transfer.c) ---- */

/* Extracts the tar archive read from src_fd into the directory top, its
 * first path part stripped (the Engine API's archive of /a/b holds b/...),
 * with an import's refusals of hostile entries (docs/storage.md); name is
 * for messages. */
int vol_tar_extract_fd(int top, int src_fd, const char *name, struct vol_error *err);
/* The content of the first regular file of the tar archive read from fd,
 * NUL-terminated in *ret_text (caller frees); -EFBIG past max bytes,
 * -ENOENT when it has none. */
int vol_tar_first_file(int fd, size_t max, char **ret_text, struct vol_error *err);

/* ---- deploys (service/con_deploy.c) ---- */

/* What one generation's containers get for /con. */
struct vol_con_plan {
        bool enabled;
        char *dir;                         /* {root}/con/{container} */
        char *area_dir[VOL_CON_AREAS];     /* a tmpfs bound into the container; NULL: a volume */
        bool is_default[VOL_CON_AREAS];    /* holds DEFAULT */
        char **entrypoint;                 /* con-init, "--", what it runs */
        size_t n_entrypoint;
        unsigned uid, gid;                 /* the container's user, owner of secret and seed */
        char *seed_id;                     /* the seed token minted, or NULL */
        bool sealed[VOL_CON_AREAS];        /* its tmpfs is read-only (vol_con_seal) */
        unsigned side_areas;               /* 1 << area: nothing put, a side fills it */
};

/* What a deploy needs from its image: its config and the uid and gid it
 * runs as (a user name is looked up in the image's /etc/passwd). */
struct vol_app_image {
        struct vol_image_info info;
        unsigned uid, gid;
};
/* Reads image through the engine; a short-lived container named
 * {container}-probe (with labels) reads a user name's entry. */
int vol_app_image_read(struct vol_service *s, const char *container, const char *image, const struct vol_kvs *labels,
                       struct vol_app_image *ret, struct vol_error *err);
void vol_app_image_free(struct vol_app_image *img);

/* Materialises /con for generation of ref (whose merged config is res) in
 * {root}/con/{container}: every area that is not a persistent volume (see
 * the top of con_deploy.c), a seed token, and the entrypoint through
 * con-init. Nothing when con is off (ret->enabled false). On failure what
 * was made is undone. labels mark the short-lived container that reads the
 * image's own /con. */
int vol_con_prepare(struct vol_service *s, const struct vol_app_ref *ref, const struct vol_app_resolved *res,
                    const struct vol_deploy_request *req, const struct vol_app_image *img, unsigned long generation,
                    const char *container, const struct vol_kvs *labels, struct vol_con_plan *ret,
                    struct vol_error *err);
/* Makes the tmpfs of p's read-only areas read-only (and nosuid, nodev;
 * noexec too for secret and seed) but those in keep_writable (bit 1 <<
 * area: an `along` side writes them), marking them in ret_sealed (p
 * itself, usually). Done once the `before` sides have run: an area of
 * p->side_areas they left empty first gets DEFAULT (marked in ret_sealed). */
int vol_con_seal(const struct vol_con_plan *p, unsigned keep_writable, struct vol_con_plan *ret_sealed,
                 struct vol_error *err);
/* Fills out (room for VOL_CON_AREAS + 1) with the mounts of p for one
 * container: con-init (with_init), then each area, read-only as the table
 * says unless writes (bit 1 << area) lets this container write it. paths
 * (VOL_CON_AREAS) gets the targets; the caller frees them. Returns how many. */
size_t vol_con_mounts(struct vol_service *s, const struct vol_con_plan *p, const struct vol_app_resolved *res,
                      unsigned writes, bool with_init, struct vol_engine_mount *out, char **paths);
/* Frees what p holds (unmounts nothing). */
void vol_con_plan_free(struct vol_con_plan *p);
/* Unmounts and removes {root}/con/{container}. */
void vol_con_release(struct vol_service *s, const char *container);
/* Releases the directories under {root}/con of an app's generations (names
 * stem followed by digits) but keep; with stem NULL (at start), those whose
 * container the engine no longer has. */
void vol_con_sweep(struct vol_service *s, const char *stem, const char *keep);
