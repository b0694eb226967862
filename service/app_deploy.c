/* Deploys of tenant apps (docs/apps.md), with the /con interface and side
 * containers when the merged config turns them on (docs/con.md).
 *
 * A deploy, under the app's lock: resolve the config; make sure each volume
 * exists and is the one the config asks for (a new /con volume with `from`
 * starts as a copy of an image's content); materialise /con for the new
 * generation; run the `before` sides to completion (a failure stops here,
 * the old generation untouched); replace the containers (recreate: old ones
 * first; blue-green: new ones first); start the `along` sides; record the
 * deploy; and release what older generations held (their /con tmpfs, their
 * seed tokens). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "con_internal.h"
#include "core/cleanup.h"
#include "core/names.h"
#include "core/size.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "internal.h"

#define SIDE_LOG_MAX 4096 /* bytes of a failed side's output in the error */
#define SEED_ARCHIVE_MAX (UINT64_C(8) << 30) /* an image's content for a volume without a size */

/* The size a volume's options set, as text for messages ("no size"). */
static const char *size_text(const struct vol_kvs *options)
{
        const char *s = vol_kvs_get(options, "size");
        return s ? s : "no size";
}

/* A deploy uses a volume only if it is exactly what the config asks for:
 * this app's scope, the driver and the size. Whatever holds the name
 * otherwise (a volume made before the config changed, or anything else) is
 * refused, never used and never changed: converting it would lose its data. */
static int check_volume(struct vol_service *s, const struct vol_app_ref *ref,
                        const struct vol_app_config *cfg, const char *path, const char *name,
                        struct vol_error *err)
{
        struct vol_volume *v = NULL;
        int r = vol_service_get(s, &vol_caller_system, name, false, &v, NULL, err);
        if (r < 0)
                return vol_error_wrap(err, "volume for %s: ", path);
        struct vol_scope want = {(char *)ref->tenant, (char *)ref->env, (char *)ref->app, (char *)path};
        uint64_t have_size = 0, want_size = 0;
        const char *hs = vol_kvs_get(&v->options, "size");
        if (hs)
                vol_parse_size("size", hs, &have_size, NULL);
        if (cfg->volume_size)
                vol_parse_size("volumeSize", cfg->volume_size, &want_size, NULL);
        bool other_options = false;
        /* uid and gid (the owner of a new volume's top, the image's user) are
         * not compared: an image whose user changed keeps its volumes */
        for (size_t i = 0; i < v->options.n; i++)
                if (strcmp(v->options.items[i].key, "size") && strcmp(v->options.items[i].key, "uid") &&
                    strcmp(v->options.items[i].key, "gid"))
                        other_options = true;
        if (!vol_scope_equal(v->scope, &want))
                r = vol_error_set(err, -EEXIST,
                                  "volume %s for %s exists but is not this app's volume (its scope is %s%s%s); "
                                  "volmand will not use it",
                                  name, path, v->scope ? v->scope->tenant : "none", v->scope ? "/" : "",
                                  v->scope ? v->scope->app : "");
        else if (strcmp(v->driver, cfg->volume_driver) || have_size != want_size || other_options)
                r = vol_error_set(err, -EEXIST,
                                  "volume %s for %s was made with driver %s and %s, but the config now asks "
                                  "for driver %s and %s; volmand does not convert a volume in place (its data "
                                  "would be lost): restore the config, or remove the volume (volman volume rm "
                                  "%s) to have it made anew",
                                  name, path, v->driver, size_text(&v->options), cfg->volume_driver,
                                  cfg->volume_size ? cfg->volume_size : "no size", name);
        vol_volume_free(v);
        return r;
}

/* The volume in volman and in the engine, with the options the plugin maps
 * back to this exact scope (so the create is idempotent). */
/* The options of an app's new volume: its size, and its top's owner when
 * the image runs as another user than root. */
static void volume_options(const struct vol_app_config *cfg, const struct vol_app_image *img, struct vol_kvs *opts)
{
        if (cfg->volume_size)
                vol_kvs_set(opts, "size", cfg->volume_size);
        if (img->uid || img->gid) {
                char id[16];
                snprintf(id, sizeof(id), "%u", img->uid);
                vol_kvs_set(opts, "uid", id);
                snprintf(id, sizeof(id), "%u", img->gid);
                vol_kvs_set(opts, "gid", id);
        }
}

static int ensure_volume(struct vol_service *s, const struct vol_app_ref *ref,
                         const struct vol_app_config *cfg, const struct vol_app_image *img, const char *path,
                         const char *name, struct vol_error *err)
{
        struct vol_kvs opts = VOL_KVS_INIT;
        vol_kvs_set(&opts, "driver", cfg->volume_driver);
        vol_kvs_set(&opts, "tenant", ref->tenant);
        vol_kvs_set(&opts, "env", ref->env);
        vol_kvs_set(&opts, "app", ref->app);
        vol_kvs_set(&opts, "path", path);
        volume_options(cfg, img, &opts);
        int r = vol_engine_volume_ensure(s->engine, name, s->engine_driver, &opts, err);
        vol_kvs_free(&opts);
        if (r < 0)
                return vol_error_wrap(err, "volume for %s: ", path);
        return check_volume(s, ref, cfg, path, name, err);
}

static int save_state(struct vol_service *s, const struct vol_app_ref *ref,
                      const struct vol_deploy_request *req, const struct vol_deploy_result *res,
                      struct vol_error *err)
{
        json_auto_t *st = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "tenant", ref->tenant,
                                    "env", ref->env, "app", ref->app, "generation",
                                    (json_int_t)res->generation, "container", res->container_id,
                                    "container_name", res->container_name, "image", req->image,
                                    "deployed_at", (json_int_t)time(NULL), "strategy",
                                    req->blue_green ? "blue-green" : "recreate");
        if (vol_service_node(s)) /* cluster mode: the node whose engine runs it */
                json_object_set_new(st, "node", json_string(vol_service_node(s)));
        _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *key = vol_app_state_key(ref);
        return vol_store_put_doc(s->store, DOC_APP, key, text, VOL_REV_ANY, VOL_SYNC_FULL, NULL, err);
}

void vol_deploy_result_free(struct vol_deploy_result *r)
{
        free(r->container_id);
        free(r->container_name);
        vol_app_resolved_free(&r->resolved);
        memset(r, 0, sizeof(*r));
}

static int check_deploy_request(const struct vol_deploy_request *req, struct vol_error *err)
{
        if (!req->image || !*req->image)
                return vol_error_set(err, -EINVAL, "a deploy needs an image");
        if (strlen(req->image) > VOL_APP_IMAGE_MAX)
                return vol_error_set(err, -EINVAL, "image is longer than %d bytes", VOL_APP_IMAGE_MAX);
        for (const char *p = req->image; *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return vol_error_set(err, -EINVAL, "image has a space or a control character");
        if (req->n_cmd > VOL_APP_CMD_MAX)
                return vol_error_set(err, -E2BIG, "the command has %zu arguments; the most is %d",
                                     req->n_cmd, VOL_APP_CMD_MAX);
        for (size_t i = 0; i < req->n_cmd; i++)
                if (strlen(req->cmd[i]) > 4096)
                        return vol_error_set(err, -EINVAL, "command argument %zu is longer than 4096 bytes", i);
        return 0;
}


/* ---- /con volumes that start from an image's content ---- */

struct seed_fill {
        int fd; /* the archive */
        const char *what;
};

static int fill_from_image(struct vol_service *s, const struct vol_volume *v, void *userdata, struct vol_error *err)
{
        struct seed_fill *f = userdata;
        _cleanup_close_ int top = open(v->mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return vol_error_set(err, -errno, "opening the new volume %s: %m", v->name);
        return vol_tar_extract_fd(top, f->fd, f->what, err);
}

/* The most an image's content for a new volume may take as an archive: the
 * volume's size and a tenth more for the archive's headers, or
 * SEED_ARCHIVE_MAX for a volume without one. The archive is spooled to the
 * root's disk first: a tenant's image must not fill it. */
static uint64_t seed_archive_max(const struct vol_app_config *cfg)
{
        uint64_t size = 0;
        if (cfg->volume_size && vol_parse_size("volumeSize", cfg->volume_size, &size, NULL) == 0 && size)
                return size + size / 10 + (1u << 20);
        return SEED_ARCHIVE_MAX;
}

/* A persistent /con area whose config says `from: IMAGE:/path` and whose
 * volume does not exist yet: the volume is made here, filled with that
 * content before it is ready (an import's create: a crash leaves no
 * half-filled volume, and the next deploy tries again). An existing volume
 * is never touched: `from` is its first content only. */
static int seed_volume(struct vol_service *s, const struct vol_app_ref *ref, const struct vol_app_config *cfg,
                       const struct vol_app_image *img, const char *path, const char *name, const char *from,
                       struct vol_error *err)
{
        struct vol_volume *have = NULL;
        int r = vol_service_get(s, &vol_caller_system, name, false, &have, NULL, err);
        vol_volume_free(have);
        if (r == 0 || r != -ENOENT)
                return r;
        vol_error_clear(err);
        _cleanup_free_ char *image = NULL, *src = NULL;
        if ((r = vol_con_parse_from(from, &image, &src, err)) < 0)
                return r;
        _cleanup_free_ char *probe = xasprintf("%s-seed", name);
        static const char *const entry[] = {"/con/.probe"};
        struct vol_container_spec spec = {.name = probe, .image = image, .read_only_rootfs = true,
                                          .network_mode = "none", .entrypoint = entry, .n_entrypoint = 1};
        struct vol_error ignored = VOL_ERROR_INIT;
        vol_engine_container_remove(s->engine, probe, &ignored);
        vol_error_clear(&ignored);
        _cleanup_free_ char *id = NULL;
        if ((r = vol_engine_container_create(s->engine, &spec, &id, err)) < 0)
                return vol_error_wrap(err, "%s from %s: ", path, from);
        _cleanup_close_ int fd = open(s->root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                r = vol_error_set(err, -errno, "a temporary file under %s: %m", s->root);
        else
                r = vol_engine_container_archive(s->engine, id, src, fd, seed_archive_max(cfg), err);
        vol_engine_container_remove(s->engine, id, &ignored);
        vol_error_clear(&ignored);
        if (r < 0)
                return vol_error_wrap(err, "%s from %s: ", path, from);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return vol_error_set(err, -errno, "reading back the archive of %s: %m", from);
        struct vol_scope scope = {(char *)ref->tenant, (char *)ref->env, (char *)ref->app, (char *)path};
        struct vol_create_request cr = {.name = name, .driver = cfg->volume_driver, .options = VOL_KVS_INIT,
                                        .labels = VOL_KVS_INIT, .scope = &scope};
        volume_options(cfg, img, &cr.options);
        struct seed_fill f = {fd, from};
        cr.fill = fill_from_image;
        cr.fill_userdata = &f;
        struct vol_volume *v = NULL;
        bool created;
        r = vol_service_create(s, &vol_caller_system, &cr, &v, &created, err);
        vol_kvs_free(&cr.options);
        vol_volume_free(v);
        if (r < 0)
                return vol_error_wrap(err, "%s from %s: ", path, from);
        return 0;
}

/* ---- side containers ---- */

/* The hardened spec every container of the app shares (app and sides). */
static void base_spec(const struct vol_app_config *cfg, struct vol_container_spec *spec, uint64_t *tmp_bytes,
                      uint64_t *memory_bytes)
{
        vol_parse_size("tmpSize", cfg->tmp_size, tmp_bytes, NULL);
        vol_parse_size("memory", cfg->memory, memory_bytes, NULL);
        spec->read_only_rootfs = cfg->read_only_rootfs;
        spec->tmp_bytes = *tmp_bytes;
        spec->network_mode = cfg->network_mode;
        spec->cap_add = (const char *const *)cfg->caps;
        spec->n_cap_add = cfg->n_caps;
        spec->pids_limit = cfg->pids_limit;
        spec->memory_bytes = *memory_bytes;
}

static void free_paths(char **paths)
{
        for (int a = 0; a < VOL_CON_AREAS; a++)
                free(paths[a]);
}

/* Creates (and starts) side d of the new generation: the app's /con areas,
 * writable where d says. Its id in *ret_id. */
static int start_side(struct vol_service *s, const struct vol_app_ref *ref, struct vol_deploy_result *res,
                      const struct vol_con_plan *plan, const struct vol_con_side *d, struct vol_kvs *labels,
                      char **ret_id, struct vol_error *err)
{
        const struct vol_app_config *cfg = &res->resolved.config;
        struct vol_engine_mount mounts[VOL_CON_AREAS + 1];
        char *paths[VOL_CON_AREAS] = {0};
        size_t n = vol_con_mounts(s, plan, &res->resolved, d->writes, false, mounts, paths);
        _cleanup_free_ char *name = xasprintf("%s-%s", res->container_name, d->name);
        struct vol_kvs side_labels = VOL_KVS_INIT;
        vol_kvs_copy(&side_labels, labels);
        vol_kvs_set(&side_labels, LABEL_SIDE, d->name);
        uint64_t tmp_bytes, memory_bytes;
        struct vol_container_spec spec = {.name = name, .image = d->image, .cmd = (const char *const *)d->cmd,
                                          .n_cmd = d->n_cmd, .labels = &side_labels, .mounts = mounts, .n_mounts = n};
        base_spec(cfg, &spec, &tmp_bytes, &memory_bytes);
        struct vol_error ignored = VOL_ERROR_INIT;
        vol_engine_container_remove(s->engine, name, &ignored); /* one a crash left */
        vol_error_clear(&ignored);
        int r = vol_engine_container_create(s->engine, &spec, ret_id, err);
        vol_kvs_free(&side_labels);
        free_paths(paths);
        if (r == 0 && (r = vol_engine_container_start(s->engine, *ret_id, err)) < 0) {
                vol_engine_container_remove(s->engine, *ret_id, &ignored);
                vol_error_clear(&ignored);
                free(*ret_id);
                *ret_id = NULL;
        }
        if (r < 0)
                return vol_error_wrap(err, "side %s: ", d->name);
        return 0;
}

/* Runs each `before` side to completion, one after the other. A side that
 * fails or runs past its timeout fails the deploy with its last output. */
static int run_before_sides(struct vol_service *s, const struct vol_app_ref *ref, struct vol_deploy_result *res,
                            const struct vol_con_plan *plan, struct vol_kvs *labels, struct vol_error *err)
{
        const struct vol_con_sides *sides = &res->resolved.config.sides;
        for (size_t i = 0; i < sides->n; i++) {
                const struct vol_con_side *d = &sides->items[i];
                if (!d->before)
                        continue;
                _cleanup_free_ char *id = NULL;
                int r = start_side(s, ref, res, plan, d, labels, &id, err);
                if (r < 0)
                        return r;
                int code = 0;
                r = vol_engine_container_wait(s->engine, id, (int)d->timeout * 1000, &code, err);
                _cleanup_free_ char *logs = NULL;
                struct vol_error lerr = VOL_ERROR_INIT;
                if (r == -ETIMEDOUT || (r == 0 && code != 0))
                        vol_engine_container_logs(s->engine, id, SIDE_LOG_MAX, &logs, &lerr);
                vol_error_clear(&lerr);
                struct vol_error ignored = VOL_ERROR_INIT;
                vol_engine_container_remove(s->engine, id, &ignored);
                vol_error_clear(&ignored);
                if (r == -ETIMEDOUT) {
                        vol_error_clear(err);
                        return vol_error_set(err, -ETIMEDOUT,
                                             "side %s (before) did not finish within %u s; the app was not "
                                             "started and the running generation is untouched; its last output:\n%s",
                                             d->name, d->timeout, logs ? logs : "");
                }
                if (r < 0)
                        return vol_error_wrap(err, "side %s: ", d->name);
                if (code != 0)
                        return vol_error_set(err, -ECANCELED,
                                             "side %s (before) exited with code %d; the app was not started and "
                                             "the running generation is untouched; its last output:\n%s",
                                             d->name, code, logs ? logs : "");
        }
        return 0;
}

static int start_along_sides(struct vol_service *s, const struct vol_app_ref *ref, struct vol_deploy_result *res,
                             const struct vol_con_plan *plan, struct vol_kvs *labels, struct vol_error *err)
{
        const struct vol_con_sides *sides = &res->resolved.config.sides;
        for (size_t i = 0; i < sides->n; i++) {
                if (sides->items[i].before)
                        continue;
                _cleanup_free_ char *id = NULL;
                int r = start_side(s, ref, res, plan, &sides->items[i], labels, &id, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- the deploy ---- */

/* The generation after every one the engine and the last record know. */
static unsigned long next_generation(struct vol_service *s, const struct vol_app_ref *ref, struct vol_app_found *old)
{
        _cleanup_free_ char *state_text = NULL;
        _cleanup_free_ char *skey = vol_app_state_key(ref);
        if (vol_store_get_doc(s->store, DOC_APP, skey, &state_text, NULL, NULL) == 0) {
                json_auto_t *st = json_loads(state_text, 0, NULL);
                json_t *g = json_object_get(st, "generation");
                if (json_is_integer(g) && (unsigned long)json_integer_value(g) > old->max_generation)
                        old->max_generation = (unsigned long)json_integer_value(g);
        }
        return old->max_generation + 1;
}

/* Removes what a failed deploy made for its new generation: its containers
 * (sides that started, the app), its /con directory and its seed token. */
static void undo_generation(struct vol_service *s, const struct vol_app_ref *ref, struct vol_deploy_result *res,
                            bool con)
{
        struct vol_app_found mine = {0};
        struct vol_error ignored = VOL_ERROR_INIT;
        if (vol_app_find_containers(s, ref, res->generation, &mine, &ignored) >= 0)
                vol_app_remove_containers(s, &mine, NULL, &ignored);
        vol_error_clear(&ignored);
        vol_app_found_free(&mine);
        if (con && res->container_name) {
                vol_con_release(s, res->container_name);
                _cleanup_free_ char *app = xasprintf("%s/%s/%s", ref->tenant, ref->env, ref->app);
                vol_tokens_drop_seeds(s, app, res->generation, true);
        }
}

static int deploy_locked(struct vol_service *s, const struct vol_caller *caller,
                         const struct vol_app_ref *ref, const struct vol_deploy_request *req,
                         struct vol_deploy_result *res, struct vol_error *err)
{
        int r = vol_apps_resolve(s, caller, ref, &res->resolved, err);
        if (r < 0)
                return r;
        const struct vol_app_config *cfg = &res->resolved.config;
        struct vol_app_found old = {0};
        if ((r = vol_app_find_containers(s, ref, 0, &old, err)) < 0)
                return r;
        res->generation = next_generation(s, ref, &old);
        char gen[32];
        snprintf(gen, sizeof(gen), "%lu", res->generation);
        struct vol_con_plan plan = {0};
        struct vol_app_image img = {0};
        struct vol_kvs labels = VOL_KVS_INIT;
        struct vol_engine_mount *mounts = NULL;
        char *paths[VOL_CON_AREAS] = {0};
        if ((r = vol_app_container_name(s->prefix, ref->tenant, ref->env, ref->app, res->generation,
                                        &res->container_name, err)) < 0)
                goto out;
        vol_app_labels(ref, &labels);
        vol_kvs_set(&labels, LABEL_GENERATION, gen);
        vol_kvs_set(&labels, LABEL_MANAGED, "volmand");
        if ((r = vol_app_image_read(s, res->container_name, req->image, &labels, &img, err)) < 0)
                goto out;

        for (size_t i = 0; i < res->resolved.n_volumes; i++) {
                const char *path = res->resolved.volume_paths[i], *name = res->resolved.volume_names[i];
                int a = strncmp(path, VOL_CON_ROOT "/", strlen(VOL_CON_ROOT) + 1)
                                ? -1
                                : vol_con_area_from_name(path + strlen(VOL_CON_ROOT) + 1, NULL);
                if (i >= cfg->n_paths && a >= 0 && cfg->con.areas[a].from &&
                    (r = seed_volume(s, ref, cfg, &img, path, name, cfg->con.areas[a].from, err)) < 0)
                        goto out;
                if ((r = ensure_volume(s, ref, cfg, &img, path, name, err)) < 0)
                        goto out;
        }

        if ((r = vol_con_prepare(s, ref, &res->resolved, req, &img, res->generation, res->container_name, &labels,
                                 &plan, err)) < 0)
                goto out;
        if (plan.enabled) {
                unsigned along_writes = 0;
                for (size_t i = 0; i < cfg->sides.n; i++)
                        if (!cfg->sides.items[i].before)
                                along_writes |= cfg->sides.items[i].writes;
                if ((r = run_before_sides(s, ref, res, &plan, &labels, err)) < 0 ||
                    (r = vol_con_seal(&plan, along_writes, &plan, err)) < 0)
                        goto out;
        }
        if (!req->blue_green && (r = vol_app_remove_containers(s, &old, &res->replaced, err)) < 0)
                goto out;

        mounts = xcalloc(res->resolved.n_volumes + VOL_CON_AREAS + 1, sizeof(*mounts));
        size_t n_mounts = 0;
        for (size_t i = 0; i < cfg->n_paths; i++)
                mounts[n_mounts++] = (struct vol_engine_mount){.volume = res->resolved.volume_names[i],
                                                               .target = res->resolved.volume_paths[i]};
        if (plan.enabled)
                n_mounts += vol_con_mounts(s, &plan, &res->resolved, 0, true, mounts + n_mounts, paths);
        uint64_t tmp_bytes = 0, memory_bytes = 0;
        /* with /con, the image's command runs through con-init (the entrypoint): none after it */
        static const char *const no_cmd[1] = {NULL};
        struct vol_container_spec spec = {
                .name = res->container_name,
                .image = req->image,
                .cmd = plan.enabled ? no_cmd : req->cmd,
                .n_cmd = plan.enabled ? 0 : req->n_cmd,
                .labels = &labels,
                .mounts = mounts,
                .n_mounts = n_mounts,
                .entrypoint = plan.enabled ? (const char *const *)plan.entrypoint : NULL,
                .n_entrypoint = plan.n_entrypoint,
        };
        base_spec(cfg, &spec, &tmp_bytes, &memory_bytes);
        if ((r = vol_engine_container_create(s->engine, &spec, &res->container_id, err)) < 0)
                goto out;
        if ((r = vol_engine_container_start(s->engine, res->container_id, err)) < 0)
                goto out;
        if (plan.enabled && (r = start_along_sides(s, ref, res, &plan, &labels, err)) < 0)
                goto out;
        /* blue-green: the new one runs; now the old ones go */
        if (req->blue_green && (r = vol_app_remove_containers(s, &old, &res->replaced, err)) < 0)
                goto out;
        r = save_state(s, ref, req, res, err);
out:
        if (r < 0 && res->container_name)
                undo_generation(s, ref, res, plan.enabled);
        if (r == 0) {
                /* older generations' /con tmpfs and seed tokens go with their containers */
                _cleanup_free_ char *stem = xstrndup(res->container_name, strlen(res->container_name) - strlen(gen));
                vol_con_sweep(s, stem, res->container_name);
                _cleanup_free_ char *app = xasprintf("%s/%s/%s", ref->tenant, ref->env, ref->app);
                vol_tokens_drop_seeds(s, app, res->generation, false);
        }
        free_paths(paths);
        free(mounts);
        vol_kvs_free(&labels);
        vol_con_plan_free(&plan);
        vol_app_image_free(&img);
        vol_app_found_free(&old);
        return r;
}

int vol_apps_deploy(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    const struct vol_deploy_request *req, struct vol_deploy_result *ret,
                    struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, true, err)) < 0 ||
            (r = check_deploy_request(req, err)) < 0)
                return r;
        if (!s->engine)
                return vol_error_set(err, -ENOTSUP,
                                     "volmand was started without --engine; deploys need a container "
                                     "engine (dockerd or Podman's service)");
        struct vol_deploy_result res;
        memset(&res, 0, sizeof(res));
        uint64_t start = vol_now_us();
        pthread_mutex_t *lock = vol_app_lock(s, ref);
        r = deploy_locked(s, caller, ref, req, &res, err);
        vol_name_unlock(lock);
        if (r == 0) {
                struct vol_event e;
                memset(&e, 0, sizeof(e));
                snprintf(e.type, sizeof(e.type), "app");
                snprintf(e.action, sizeof(e.action), "deploy");
                snprintf(e.name, sizeof(e.name), "%s/%s/%s", ref->tenant, ref->env, ref->app);
                snprintf(e.tenant, sizeof(e.tenant), "%s", ref->tenant);
                char gen[32];
                snprintf(gen, sizeof(gen), "%lu", res.generation);
                vol_event_attr(&e, "generation", gen);
                vol_event_attr(&e, "image", req->image);
                vol_event_attr(&e, "container", res.container_name);
                vol_event_emit(s, caller, &e);
        }
        vol_metrics_record(&s->metrics, VOL_OP_DEPLOY, start, r);
        _cleanup_free_ char *what = xasprintf("deploy app %s/%s/%s (image %s)", ref->tenant, ref->env,
                                              ref->app, req->image);
        if (r < 0) {
                vol_deploy_result_free(&res);
                vol_error_wrap(err, "deploying %s/%s/%s: ", ref->tenant, ref->env, ref->app);
                vol_service_audit(caller, what, r, err);
                return r;
        }
        vol_service_audit(caller, what, 0, NULL);
        *ret = res;
        return 0;
}

