/* The /con interface (docs/con.md): its areas and their modes, the `con` and
 * `sides` fields of the app config with their merge, the names of the files
 * and secrets put for the areas, and the files volmand generates for
 * /con/proc. Pure: no I/O.
 *
 * An app opts in with `con: true` in any config layer. Every area is then
 * mounted in its containers: real content when the area is on and has some,
 * else a DEFAULT area holding a file named DEFAULT (con-init warns about it). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strbuf.h"

enum vol_con_area {
        VOL_CON_CONFIGURATION, /* ro: files put for the app, per deploy */
        VOL_CON_CONTEXT,       /* ro: files put for the app, per deploy */
        VOL_CON_SECRET,        /* ro, memory: the app's secrets, decrypted per deploy */
        VOL_CON_SEED,          /* ro, memory: a short-lived token for the app's own secrets */
        VOL_CON_PROC,          /* ro: the container's limits in /proc's formats */
        VOL_CON_DATA,          /* rw: a persistent volume of the app */
        VOL_CON_LOG,           /* rw: a persistent volume of the app */
        VOL_CON_VAR,           /* rw: a persistent volume of the app */
        VOL_CON_AREAS,
};

#define VOL_CON_ROOT "/con"
#define VOL_CON_INIT_PATH "/con/.init" /* where con-init is mounted */
#define VOL_CON_DEFAULT_FILE "DEFAULT"

/* "configuration", "data", ... */
const char *vol_con_area_name(enum vol_con_area a);
/* The area named name, or -EINVAL (with err naming the areas). */
int vol_con_area_from_name(const char *name, struct vol_error *err);
/* data, log and var: persistent volumes, writable by the app. */
bool vol_con_area_persistent(enum vol_con_area a);
/* configuration and context: files put through the API. */
bool vol_con_area_has_files(enum vol_con_area a);
/* What a side container may be given to write: every area but seed and proc. */
bool vol_con_area_side_writable(enum vol_con_area a);

/* One area's setting in one layer. */
struct vol_con_area_config {
        bool set; /* this layer says something about the area */
        bool on;
        char *from; /* persistent areas: "IMAGE:/path" whose content a new volume starts with */
};

/* The `con` field of one layer, or the merge of the layers. */
struct vol_con_config {
        bool set;     /* the layer has a `con` field */
        bool enabled; /* the layout is on (true, or an object) */
        struct vol_con_area_config areas[VOL_CON_AREAS];
};

/* Reads the value of `con`: true (the layout with every area on), false (no
 * layout), or an object of areas, each true, false or {"from": "IMAGE:/path"}
 * (persistent areas only), which turns the layout on. Refuses anything else
 * with a message naming it. *ret is zeroed first; on failure it holds nothing. */
int vol_con_config_from_json(json_t *v, struct vol_con_config *ret, struct vol_error *err);
/* Writes the value of `con` for c (which must be set) as JSON. */
int vol_con_config_to_json(const struct vol_con_config *c, struct vol_strbuf *out);
/* Frees what c owns and zeroes it. */
void vol_con_config_free(struct vol_con_config *c);
/* Folds the layers (any may be NULL or unset) from global to app: false
 * turns the layout off and forgets the areas' settings above; true turns it
 * on with every area on; an object turns it on and sets the areas it names.
 * Unnamed areas are on. *ret is owned by the caller. */
void vol_con_config_merge(const struct vol_con_config *global, const struct vol_con_config *env,
                          const struct vol_con_config *app, struct vol_con_config *ret);
/* Splits "IMAGE:/path" at the last ":/" into image and path (both malloc'd).
 * -EINVAL when there is no image, or the path is not absolute and normal. */
int vol_con_parse_from(const char *from, char **ret_image, char **ret_path, struct vol_error *err);

/* ---- sides: containers deployed with the app ---- */

#define VOL_CON_SIDES_MAX 8
#define VOL_CON_SIDE_TIMEOUT_DEFAULT 300 /* seconds a `before` side may run */
#define VOL_CON_SIDE_TIMEOUT_MAX 3600

struct vol_con_side {
        char *name; /* a DNS label, unique among the sides */
        char *image;
        char **cmd; /* NULL: the image's */
        size_t n_cmd;
        bool before;       /* runs to completion before the app starts; else along it */
        unsigned writes;   /* bit (1 << area) for each area it may write */
        unsigned timeout;  /* seconds, for `before` */
};

struct vol_con_sides {
        bool set;
        size_t n;
        struct vol_con_side *items;
};

/* Reads the value of `sides`: a list of {name, image, cmd?, when:
 * "before"|"along", writes?: [areas], timeout?: seconds}. */
int vol_con_sides_from_json(json_t *v, struct vol_con_sides *ret, struct vol_error *err);
int vol_con_sides_to_json(const struct vol_con_sides *s, struct vol_strbuf *out);
void vol_con_sides_free(struct vol_con_sides *s);
/* A deep copy of src into *ret. */
void vol_con_sides_copy(const struct vol_con_sides *src, struct vol_con_sides *ret);

/* ---- files and secrets ---- */

#define VOL_CON_FILE_MAX (1u << 20)        /* bytes in one file or secret */
#define VOL_CON_AREA_BYTES_MAX (16u << 20) /* bytes of one area's files at one level */
#define VOL_CON_AREA_FILES_MAX 256         /* files of one area at one level */
#define VOL_CON_NAME_MAX 128

/* A plain file name: 1 to 128 of [A-Za-z0-9._-], not starting with a dot,
 * and not DEFAULT (the marker of a DEFAULT area). what is "file" or
 * "secret", for the message. */
int vol_con_validate_name(const char *what, const char *name, struct vol_error *err);

/* ---- /con/proc ---- */

/* /proc/meminfo's format for a container limited to memory_bytes. */
int vol_con_proc_meminfo(uint64_t memory_bytes, struct vol_strbuf *out);
/* /proc/cpuinfo's format with cpus processors. */
int vol_con_proc_cpuinfo(unsigned cpus, struct vol_strbuf *out);
