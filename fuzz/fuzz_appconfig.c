/* libFuzzer target: the app container config of core/appconfig.c, checked
 * against the contracts in core/appconfig.h.
 *
 * An input is up to three layers, global, env and app, separated by the byte
 * 0x1e (the record separator of RFC 7464 JSON text sequences). Each layer is
 * JSON text, read as the daemon reads a PUT body (any JSON value reaches
 * vol_app_config_from_json, which must refuse what is not an object); an
 * empty or unreadable layer is a layer never set.
 *
 * The target never names a field of struct vol_app_config: it compares
 * configs through what vol_app_config_to_json writes, so it keeps compiling,
 * and keeps checking, when fields are added. It checks:
 * - every failure is a negative errno with a message, and leaves ret empty;
 * - a layer read and written again holds exactly the input's non-null fields
 *   (values may be normalized: capability names are);
 * - what to_json writes is JSON that from_json reads back to a config that
 *   writes the same bytes (the daemon stores layers that way);
 * - vol_app_config_check_layer accepts anything in the global layer, and
 *   the merge refuses (-EPERM) whatever it refuses in the env or app layer;
 * - the merge: absent layers given as NULL or as empty configs merge alike;
 *   a merge the layers may do stays allowed without the env or the app
 *   layer (tenant layers only ever tighten); every field is set; each field
 *   comes from the most specific layer that sets it, else from the merge of
 *   no layers (the defaults); and the merge, read back as the global layer
 *   (which may set anything), merges to itself. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/appconfig.h"
#include "core/strbuf.h"
#include "fuzz/fuzz.h"

#define SEPARATOR 0x1e
#define N_LAYERS 3

struct layer {
        bool set;                /* read and accepted */
        struct vol_app_config c; /* when set */
        json_t *json;            /* when set: c as to_json writes it, read back */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        /* The same hash layout for every run, so that a crash replays. */
        json_object_seed(1);
        return 0;
}

static bool all_zero(const void *p, size_t n)
{
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

/* c as vol_app_config_to_json writes it: a heap string (caller frees) that
 * must be one JSON object, returned read back in *ret_json (caller decrefs). */
static char *config_text(const struct vol_app_config *c, json_t **ret_json)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        fuzz_check(vol_app_config_to_json(c, &b) == 0);
        size_t len;
        char *text = vol_strbuf_take(&b, &len);
        json_error_t je;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                fprintf(stderr, "to_json wrote what is not JSON (%s): %s\n", je.text, text);
        fuzz_check(json_is_object(j));
        *ret_json = j;
        return text;
}

/* vol_app_config_from_json with the checks of its contract. */
static int from_json(json_t *j, struct vol_app_config *ret)
{
        struct vol_error err = VOL_ERROR_INIT;
        memset(ret, 0, sizeof(*ret));
        int r = vol_app_config_from_json(j, ret, &err);
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        if (r < 0)
                fuzz_check(all_zero(ret, sizeof(*ret)));
        if (!json_is_object(j))
                fuzz_check(r < 0);
        return r;
}

static void read_layer(struct layer *l, const uint8_t *data, size_t len)
{
        memset(l, 0, sizeof(*l));
        if (len == 0)
                return;
        json_t *in =
            json_loadb((const char *)data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (!in)
                return;
        if (from_json(in, &l->c) < 0) {
                json_decref(in);
                return;
        }
        l->set = true;
        char *text = config_text(&l->c, &l->json);

        /* Written back: the input's fields that are not null. */
        const char *key;
        json_t *val;
        json_object_foreach(l->json, key, val)
        {
                json_t *given = json_object_get(in, key);
                fuzz_check(given && !json_is_null(given));
        }
        json_object_foreach(in, key, val)
        {
                if (!json_is_null(val))
                        fuzz_check(json_object_get(l->json, key) != NULL);
        }

        /* Read back, the same config: the same bytes written. */
        struct vol_app_config again;
        fuzz_check(from_json(l->json, &again) == 0);
        json_t *j2;
        char *text2 = config_text(&again, &j2);
        fuzz_check(!strcmp(text, text2));
        json_decref(j2);
        free(text2);
        vol_app_config_free(&again);
        free(text);
        json_decref(in);
}

/* What layer i (enum vol_layer) may set on its own. */
static int check_layer(const struct layer *l, int i)
{
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_app_config_check_layer(&l->c, (enum vol_layer)i, &err);
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        fuzz_check(r == 0 || r == -EPERM);
        if (i == VOL_LAYER_GLOBAL)
                fuzz_check(r == 0);
        return r;
}

static void free_layer(struct layer *l)
{
        if (l->set)
                vol_app_config_free(&l->c);
        json_decref(l->json);
}

/* vol_app_config_merge with the checks of its error contract. */
static int merge(const struct vol_app_config *g, const struct vol_app_config *e,
                 const struct vol_app_config *a, struct vol_app_config *ret)
{
        struct vol_error err = VOL_ERROR_INIT;
        memset(ret, 0, sizeof(*ret));
        int r = vol_app_config_merge(g, e, a, ret, &err);
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        if (r < 0) {
                fuzz_check(r == -EPERM);
                fuzz_check(all_zero(ret, sizeof(*ret)));
        }
        return r;
}

static void check_merge(struct layer *layers)
{
        const struct vol_app_config *given[N_LAYERS];
        struct vol_app_config empty[N_LAYERS];
        const struct vol_app_config *or_empty[N_LAYERS];
        for (int i = 0; i < N_LAYERS; i++) {
                memset(&empty[i], 0, sizeof(empty[i]));
                given[i] = layers[i].set ? &layers[i].c : NULL;
                or_empty[i] = layers[i].set ? &layers[i].c : &empty[i];
        }

        struct vol_app_config m, m_empty;
        int r = merge(given[0], given[1], given[2], &m);
        int r_empty = merge(or_empty[0], or_empty[1], or_empty[2], &m_empty);
        fuzz_check(r == r_empty);
        for (int i = 0; i < N_LAYERS; i++)
                if (layers[i].set && check_layer(&layers[i], i) < 0)
                        fuzz_check(r < 0);
        if (r < 0)
                return;
        for (int drop = VOL_LAYER_ENV; drop <= VOL_LAYER_APP; drop++) {
                struct vol_app_config fewer;
                const struct vol_app_config *l[N_LAYERS] = {given[0], given[1], given[2]};
                l[drop] = NULL;
                fuzz_check(merge(l[0], l[1], l[2], &fewer) == 0);
                vol_app_config_free(&fewer);
        }
        json_t *mj, *mj_empty;
        char *text = config_text(&m, &mj);
        char *text_empty = config_text(&m_empty, &mj_empty);
        fuzz_check(!strcmp(text, text_empty));
        free(text_empty);
        json_decref(mj_empty);
        vol_app_config_free(&m_empty);

        /* The defaults: the merge of no layers. */
        struct vol_app_config d;
        fuzz_check(merge(NULL, NULL, NULL, &d) == 0);
        json_t *dj;
        free(config_text(&d, &dj));
        vol_app_config_free(&d);

        /* Every field set; each from the most specific layer that sets it. */
        fuzz_check(json_object_size(mj) == json_object_size(dj));
        const char *key;
        json_t *val;
        json_object_foreach(mj, key, val)
        {
                json_t *want = json_object_get(dj, key);
                fuzz_check(want != NULL);
                for (int i = 0; i < N_LAYERS; i++) {
                        json_t *set = layers[i].set ? json_object_get(layers[i].json, key) : NULL;
                        if (set)
                                want = set;
                }
                fuzz_check(json_equal(want, val));
        }
        for (int i = 0; i < N_LAYERS; i++) {
                if (!layers[i].set)
                        continue;
                json_object_foreach(layers[i].json, key, val)
                {
                        fuzz_check(json_object_get(mj, key) != NULL);
                }
        }
        json_decref(dj);

        /* The merge, as the global layer, merges to itself. */
        struct vol_app_config as_layer, m2;
        fuzz_check(from_json(mj, &as_layer) == 0);
        fuzz_check(merge(&as_layer, NULL, NULL, &m2) == 0);
        json_t *mj2;
        char *text2 = config_text(&m2, &mj2);
        fuzz_check(!strcmp(text, text2));
        free(text2);
        json_decref(mj2);
        vol_app_config_free(&m2);
        vol_app_config_free(&as_layer);

        free(text);
        json_decref(mj);
        vol_app_config_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!data) /* an empty input may come without a buffer */
                data = (const uint8_t *)"";
        struct layer layers[N_LAYERS];
        size_t at = 0;
        for (int i = 0; i < N_LAYERS; i++) {
                /* The last layer takes the rest, separators and all. */
                size_t len = 0;
                if (at < size) {
                        const uint8_t *sep =
                            i < N_LAYERS - 1 ? memchr(data + at, SEPARATOR, size - at) : NULL;
                        len = sep ? (size_t)(sep - (data + at)) : size - at;
                }
                read_layer(&layers[i], data + (at < size ? at : size), len);
                at += len + 1;
        }
        check_merge(layers);
        for (int i = 0; i < N_LAYERS; i++)
                free_layer(&layers[i]);
        return 0;
}
