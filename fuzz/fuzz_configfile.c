/* libFuzzer target: the CLI's YAML-to-JSON converter (cli/configfile.c,
 * cli_config_text_to_json), which reads the config files of `volman config
 * set -f` and `volman app config set -f`.
 *
 * An input is the text of one file, passed in a buffer of exactly its size
 * (the converter must not read past it). Checks, from cli/configfile.h:
 * - a success is a JSON object holding only objects, arrays, strings, true,
 *   false and null (every other scalar becomes a string), no string or key
 *   with a NUL in it, and it survives json_dumps and json_loads unchanged;
 * - a failure is -EBADMSG (or -ENOMEM when the parser cannot be set up) with
 *   a message that starts with the file's name, and *ret_obj untouched.
 * What it converts is then read as a config layer, as volmand will
 * (vol_app_config_from_json), so YAML reaches core/appconfig.c too.
 *
 * Inputs with a NUL byte are fed too: the converter refuses them before
 * libfyaml sees them (libfyaml 0.7.12 crashes on some, e.g. 3f 20 61 3a 09 00). */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/configfile.h"
#include "core/appconfig.h"
#include "fuzz/fuzz.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        /* The same hash layout for every run, so that a crash replays. */
        json_object_seed(1);
        return 0;
}

/* Only what the converter makes: no numbers, no strings with NUL. */
static void check_value(json_t *j)
{
        switch (json_typeof(j)) {
        case JSON_OBJECT: {
                const char *key;
                json_t *val;
                json_object_foreach(j, key, val)
                {
                        check_value(val);
                }
                break;
        }
        case JSON_ARRAY: {
                size_t i;
                json_t *val;
                json_array_foreach(j, i, val)
                {
                        check_value(val);
                }
                break;
        }
        case JSON_STRING:
                fuzz_check(strlen(json_string_value(j)) == json_string_length(j));
                break;
        case JSON_TRUE:
        case JSON_FALSE:
        case JSON_NULL:
                break;
        default:
                fuzz_check(!"a number in the converted config");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!data) /* an empty input may come without a buffer */
                data = (const uint8_t *)"";
        struct vol_error err = VOL_ERROR_INIT;
        json_t *const untouched = (json_t *)&err;
        json_t *obj = untouched;
        int r = cli_config_text_to_json(NAME, (const char *)data, size, &obj, &err);
        fuzz_check_error(r, &err);
        if (r < 0) {
                fuzz_check(r == -EBADMSG || r == -ENOMEM);
                fuzz_check(!strncmp(err.msg, NAME ":", strlen(NAME ":")));
                fuzz_check(obj == untouched);
                vol_error_clear(&err);
                return 0;
        }
        fuzz_check(obj != untouched);
        fuzz_check(json_is_object(obj));
        check_value(obj);

        /* What the CLI sends is what the daemon reads. */
        char *text = json_dumps(obj, JSON_COMPACT);
        fuzz_check(text != NULL);
        json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        fuzz_check(back != NULL);
        fuzz_check(json_equal(obj, back));
        json_decref(back);
        free(text);

        struct vol_app_config c;
        if (vol_app_config_from_json(obj, &c, &err) == 0)
                vol_app_config_free(&c);
        vol_error_clear(&err);
        json_decref(obj);
        return 0;
}
