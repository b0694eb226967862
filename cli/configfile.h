/* A container config file (docs/apps.md) as the CLI reads it for `config set`
 * and `app config set`: YAML or JSON (JSON is YAML), turned into the JSON
 * object the daemon takes. Prints nothing. */
#pragma once

#include <jansson.h>

#include "core/error.h"

/* Hard maximum of a config file, like the daemon's request body limit. */
#define CLI_CONFIG_FILE_MAX ((size_t)1024 * 1024)

/* Reads path ("-": stdin), at most CLI_CONFIG_FILE_MAX bytes, as one YAML
 * document whose top level is a mapping, and returns it as a JSON object in
 * *ret_obj (the caller decrefs). Plain scalars null, Null, NULL, ~ and the
 * empty one become JSON null; true/True/TRUE and false/False/FALSE become JSON
 * booleans; every other scalar (numbers included, and anything quoted or
 * tagged !!str) becomes a JSON string. Anchors, aliases and other tags are
 * refused. Every failure is -EBADMSG with a message naming the file and,
 * where known, the line and column. */
int cli_config_file_read(const char *path, json_t **ret_obj, struct vol_error *err);

/* The conversion cli_config_file_read does, on len bytes of text at data
 * (need not be NUL-terminated; not read past len) that came from the source
 * called name in messages ("config.yaml", "stdin"). Same rules and errors as
 * above, without the size limit, which is the reader's. Returns 0 and a JSON
 * object in *ret_obj (the caller decrefs), or -EBADMSG (-ENOMEM when the
 * parser cannot be set up) with a message; *ret_obj is untouched on failure. */
int cli_config_text_to_json(const char *name, const char *data, size_t len, json_t **ret_obj,
                            struct vol_error *err);

/* cli_config_text_to_json run in a child process, as cli_config_file_read
 * does: libfyaml 0.7.12 crashes on some malformed input (in its parse, or
 * destroying the parser after an error: fuzz/fuzz_configfile.c), and a file
 * from outside must never crash volman. A child that dies is -EBADMSG "NAME:
 * the YAML parser failed on it (...)"; one past 20 s of CPU is killed. Same
 * results and errors as cli_config_text_to_json otherwise. */
int cli_config_text_to_json_isolated(const char *name, const char *data, size_t len, json_t **ret_obj,
                                     struct vol_error *err);
