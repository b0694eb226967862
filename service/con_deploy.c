/* What a deploy materialises for the /con interface (docs/con.md).
 *
 * Each container generation of an app with `con` on gets a directory
 * {root}/con/{container}/ (0700, root's), holding one tmpfs per area that is
 * not a persistent volume: configuration and context (the files put for the
 * app), secret (its decrypted secrets) and seed (its seed token), proc (its
 * limits), and the DEFAULT areas (the image's own content at that path plus a
 * file DEFAULT; a small writable tmpfs for data, log and var). The engine
 * binds each into the container, read-only where the table of docs/con.md
 * says so; the persistent areas are the app's volumes. The plaintext of
 * secrets is written to memory alone (a tmpfs, mounted noexec, nosuid and
 * nodev) and goes when the generation goes: its directory is unmounted when
 * its container is replaced or removed, and at start for containers that no
 * longer exist. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "con_internal.h"
#include "core/cleanup.h"
#include "core/names.h"
#include "core/size.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DEFAULT_RW_BYTES (64u << 20)   /* a DEFAULT data, log or var area */
#define SIDE_WRITABLE_BYTES (64u << 20) /* an area a side may write */
#define IMAGE_CONTENT_MAX (64u << 20)  /* an image's /con, read at a deploy */
#define CON_DIR "con"

static const char default_text[] =
        "This area has no content from volman: it is a DEFAULT area (see docs/con.md).\n";

void vol_con_plan_free(struct vol_con_plan *p)
{
        for (int i = 0; i < VOL_CON_AREAS; i++)
                free(p->area_dir[i]);
        for (size_t i = 0; i < p->n_entrypoint; i++)
                free(p->entrypoint[i]);
        free(p->entrypoint);
        free(p->dir);
        free(p->seed_id);
        memset(p, 0, sizeof(*p));
}

/* ---- the container's user ---- */

/* uid[:gid] from an image's User: empty is root; a name is looked up in the
 * image's /etc/passwd (and a group name in /etc/group) as read by probe. */
static int parse_id(const char *s, unsigned *ret)
{
        if (!*s)
                return -EINVAL;
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || v > 0x7fffffff)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int find_in_db(const char *text, const char *name, int field, unsigned *ret)
{
        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                size_t n = strlen(name);
                if (strncmp(line, name, n) || line[n] != ':')
                        continue;
                const char *p = line;
                for (int f = 0; f < field && p; f++)
                        p = strchr(p, ':'), p = p ? p + 1 : NULL;
                if (!p)
                        return -ENOENT;
                char buf[16];
                size_t k = strcspn(p, ":\n");
                if (k == 0 || k >= sizeof(buf))
                        return -ENOENT;
                memcpy(buf, p, k);
                buf[k] = 0;
                return parse_id(buf, ret);
        }
        return -ENOENT;
}

/* ---- tmpfs areas ---- */

/* Whether the kernel's tmpfs takes noswap (Linux 6.4 and later): probed at
 * the first secret area, then known. */
static _Atomic int noswap_known; /* 0: not yet, 1: it does, -1: it does not */

/* Mounts a tmpfs on path. A secret one (secret, seed) is noexec, and noswap
 * where the kernel has it: its pages then never reach a swap device. */
static int mount_area(const char *path, uint64_t bytes, unsigned mode, unsigned uid, unsigned gid, bool secret,
                      struct vol_error *err)
{
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return vol_error_set(err, -errno, "creating %s: %m", path);
        _cleanup_free_ char *opts = xasprintf("size=%llu,mode=%o,uid=%u,gid=%u", (unsigned long long)bytes, mode,
                                              uid, gid);
        unsigned long flags = MS_NOSUID | MS_NODEV | (secret ? MS_NOEXEC : 0);
        if (secret && noswap_known >= 0) {
                _cleanup_free_ char *more = xasprintf("%s,noswap", opts);
                if (mount("tmpfs", path, "tmpfs", flags, more) == 0) {
                        noswap_known = 1;
                        return 0;
                }
                if (errno != EINVAL)
                        return vol_error_set(err, -errno, "mounting a tmpfs on %s: %m", path);
                noswap_known = -1;
                vol_service_log("warning", "this kernel's tmpfs has no noswap (Linux 6.4 and later have it): "
                                "secrets in /con/secret may reach a swap device under memory pressure");
        }
        if (mount("tmpfs", path, "tmpfs", flags, opts) < 0)
                return vol_error_set(err, -errno, "mounting a tmpfs on %s: %m", path);
        return 0;
}

/* Writes data as name in the directory dfd, with mode and owner. */
static int write_file(int dfd, const char *name, const void *data, size_t len, unsigned mode, unsigned uid,
                      unsigned gid, struct vol_error *err)
{
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return vol_error_set(err, -errno, "writing %s: %m", name);
        const char *p = data;
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vol_error_set(err, -errno, "writing %s: %m", name);
                p += n;
                len -= (size_t)n;
        }
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                return vol_error_set(err, -errno, "setting the owner of %s: %m", name);
        return 0;
}

struct write_ctx {
        int dfd;
        unsigned mode, uid, gid;
        size_t n;
        struct vol_error *err;
};

static int write_one(const char *name, const unsigned char *data, size_t len, void *userdata)
{
        struct write_ctx *w = userdata;
        w->n++;
        return write_file(w->dfd, name, data, len, w->mode, w->uid, w->gid, w->err);
}

/* ---- the image's own /con (for DEFAULT areas) ---- */

struct probe {
        struct vol_service *s;
        char *id;      /* a never-started container of the app's image */
        bool has_con;  /* the image has /con */
};

static int probe_start(struct vol_service *s, const char *container, const char *image,
                       const struct vol_kvs *labels, struct probe *ret, struct vol_error *err)
{
        _cleanup_free_ char *name = xasprintf("%s-probe", container);
        static const char *const entry[] = {"/con/.probe"};
        struct vol_container_spec spec = {
                .name = name,
                .image = image,
                .labels = labels,
                .read_only_rootfs = true,
                .network_mode = "none",
                .entrypoint = entry,
                .n_entrypoint = 1,
        };
        /* one left by a crash is in the way: it goes */
        struct vol_error ignored = VOL_ERROR_INIT;
        vol_engine_container_remove(s->engine, name, &ignored);
        vol_error_clear(&ignored);
        memset(ret, 0, sizeof(*ret));
        ret->s = s;
        int r = vol_engine_container_create(s->engine, &spec, &ret->id, err);
        if (r < 0)
                return vol_error_wrap(err, "reading image %s: ", image);
        return 0;
}

static void probe_end(struct probe *p)
{
        if (!p->id)
                return;
        struct vol_error ignored = VOL_ERROR_INIT;
        vol_engine_container_remove(p->s->engine, p->id, &ignored);
        vol_error_clear(&ignored);
        free(p->id);
        p->id = NULL;
}

/* A temporary file under the root (never on a tmpfs: image content is no
 * secret), for an archive the engine streams. */
static int temp_fd(struct vol_service *s, struct vol_error *err)
{
        int fd = open(s->root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return vol_error_set(err, -errno, "a temporary file under %s: %m", s->root);
        return fd;
}

/* Copies the image's content at path into the directory dfd (nothing when
 * the image has none there). */
static int copy_from_probe(struct probe *p, const char *path, int dfd, struct vol_error *err)
{
        _cleanup_close_ int fd = temp_fd(p->s, err);
        if (fd < 0)
                return fd;
        int r = vol_engine_container_archive(p->s->engine, p->id, path, fd, IMAGE_CONTENT_MAX, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                return 0;
        }
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return vol_error_set(err, -errno, "reading back the archive of %s: %m", path);
        return vol_tar_extract_fd(dfd, fd, path, err);
}

/* The text of a small file of the image (its /etc/passwd), or NULL. */
static char *probe_text(struct probe *p, const char *path, struct vol_error *err)
{
        _cleanup_close_ int fd = temp_fd(p->s, err);
        if (fd < 0 || vol_engine_container_archive(p->s->engine, p->id, path, fd, 1u << 20, err) < 0 ||
            lseek(fd, 0, SEEK_SET) < 0)
                return NULL;
        char *text = NULL;
        return vol_tar_first_file(fd, 1u << 20, &text, err) < 0 ? NULL : text;
}

static int resolve_user(const char *user, struct probe *probe, struct vol_app_image *p, struct vol_error *err)
{
        p->uid = p->gid = 0;
        if (!user || !*user)
                return 0;
        _cleanup_free_ char *u = xstrdup(user);
        char *g = strchr(u, ':');
        if (g)
                *g++ = 0;
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        if (parse_id(u, &p->uid) < 0) {
                passwd = probe_text(probe, "/etc/passwd", err);
                if (!passwd && err && err->code == -ELIBACC) /* libarchive is not installed */
                        return err->code;
                if (!passwd || find_in_db(passwd, u, 2, &p->uid) < 0)
                        return vol_error_set(err, -EINVAL,
                                             "the image runs as user %s, which its /etc/passwd does not name; "
                                             "give the image a numeric USER (uid[:gid])",
                                             u);
                if (!g)
                        find_in_db(passwd, u, 3, &p->gid);
        } else if (!g)
                p->gid = p->uid;
        if (g && parse_id(g, &p->gid) < 0) {
                group = probe_text(probe, "/etc/group", err);
                if (!group && err && err->code == -ELIBACC)
                        return err->code;
                if (!group || find_in_db(group, g, 2, &p->gid) < 0)
                        return vol_error_set(err, -EINVAL,
                                             "the image runs as group %s, which its /etc/group does not name", g);
        }
        vol_error_clear(err);
        return 0;
}

/* ---- the areas ---- */

struct build {
        struct vol_service *s;
        const struct vol_app_ref *ref;
        const struct vol_app_resolved *res;
        struct vol_con_plan *p;
        struct probe probe;
        unsigned side_writes; /* areas some side may write */
};

static bool area_on(const struct build *b, enum vol_con_area a)
{
        return b->res->config.con.areas[a].on;
}

/* Mounts area a's tmpfs and opens it. */
static int open_area(struct build *b, enum vol_con_area a, uint64_t bytes, unsigned mode, bool owned,
                     bool noexec, int *ret_fd, struct vol_error *err)
{
        struct vol_con_plan *p = b->p;
        p->area_dir[a] = xasprintf("%s/%s", p->dir, vol_con_area_name(a));
        if (b->side_writes & (1u << a)) {
                /* a side writes it, as whatever user its image runs as: open to
                 * all (sticky, like /tmp) until it is sealed read-only */
                if (bytes < SIDE_WRITABLE_BYTES)
                        bytes = SIDE_WRITABLE_BYTES;
                mode = 01777;
        }
        int r = mount_area(p->area_dir[a], bytes, mode, owned ? p->uid : 0, owned ? p->gid : 0, noexec, err);
        if (r < 0)
                return r;
        int fd = open(p->area_dir[a], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vol_error_set(err, -errno, "opening %s: %m", p->area_dir[a]);
        *ret_fd = fd;
        return 0;
}

/* A DEFAULT area: the image's content at /con/AREA (read-only areas), and
 * the DEFAULT file. */
static int default_area(struct build *b, enum vol_con_area a, int dfd, struct vol_error *err)
{
        b->p->is_default[a] = true;
        if (!vol_con_area_persistent(a) && b->probe.has_con) {
                _cleanup_free_ char *path = xasprintf(VOL_CON_ROOT "/%s", vol_con_area_name(a));
                int r = copy_from_probe(&b->probe, path, dfd, err);
                if (r < 0)
                        return vol_error_wrap(err, "the image's %s: ", path);
        }
        return write_file(dfd, VOL_CON_DEFAULT_FILE, default_text, sizeof(default_text) - 1, 0444, 0, 0, err);
}

/* Whether a side fills area a, which is on and has nothing put: then it is
 * neither DEFAULT nor filled from the image here. An area only `before`
 * sides write is judged once they ran (vol_con_seal: DEFAULT if still
 * empty); one an `along` side writes is the side's while the app runs. */
static bool side_fills(struct build *b, enum vol_con_area a)
{
        if (!area_on(b, a) || !(b->side_writes & (1u << a)))
                return false;
        b->p->side_areas |= 1u << a;
        return true;
}

/* What the files (or secrets) of an area take on a tmpfs at most: the limits
 * hold per level, so twice a level's bytes, each file rounded up to whole
 * pages. */
static uint64_t two_levels_bytes(void)
{
        long page = sysconf(_SC_PAGESIZE);
        return 2 * ((uint64_t)VOL_CON_AREA_BYTES_MAX + (uint64_t)VOL_CON_AREA_FILES_MAX * (page > 0 ? page : 4096));
}

static int files_area(struct build *b, enum vol_con_area a, struct vol_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r = open_area(b, a, two_levels_bytes() + IMAGE_CONTENT_MAX, 0555, false, false, &dfd, err);
        if (r < 0)
                return r;
        struct write_ctx w = {dfd, 0444, 0, 0, 0, err};
        if (area_on(b, a) && (r = vol_con_files_each(b->s, b->ref, a, write_one, &w, err)) < 0)
                return r;
        return w.n || side_fills(b, a) ? 0 : default_area(b, a, dfd, err);
}

static int secret_area(struct build *b, struct vol_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r = open_area(b, VOL_CON_SECRET, two_levels_bytes() + (1u << 20), 0500, true, true, &dfd, err);
        if (r < 0)
                return r;
        struct write_ctx w = {dfd, 0400, b->p->uid, b->p->gid, 0, err};
        if (area_on(b, VOL_CON_SECRET) && (r = vol_secrets_each(b->s, b->ref, write_one, &w, err)) < 0)
                return r;
        return w.n || side_fills(b, VOL_CON_SECRET) ? 0 : default_area(b, VOL_CON_SECRET, dfd, err);
}

static int seed_area(struct build *b, unsigned long generation, struct vol_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r = open_area(b, VOL_CON_SEED, 1u << 20, 0500, true, true, &dfd, err);
        if (r < 0)
                return r;
        if (!area_on(b, VOL_CON_SEED))
                return default_area(b, VOL_CON_SEED, dfd, err);
        _cleanup_free_ char *app = xasprintf("%s/%s/%s", b->ref->tenant, b->ref->env, b->ref->app);
        char token[VOL_TOKEN_LEN + 1];
        int64_t expires;
        if ((r = vol_tokens_mint_seed(b->s, app, generation, b->s->seed_ttl, token, &expires, err)) < 0)
                return r;
        b->p->seed_id = xstrndup(token + 4, VOL_TOKEN_ID_LEN);
        r = write_file(dfd, "token", token, strlen(token), 0400, b->p->uid, b->p->gid, err);
        explicit_bzero(token, sizeof(token));
        _cleanup_free_ char *exp = xasprintf("%lld\n", (long long)expires);
        _cleanup_free_ char *appline = xasprintf("%s\n", app);
        if (r == 0)
                r = write_file(dfd, "expires", exp, strlen(exp), 0400, b->p->uid, b->p->gid, err);
        if (r == 0)
                r = write_file(dfd, "app", appline, strlen(appline), 0400, b->p->uid, b->p->gid, err);
        if (r == 0 && b->s->seed_url) {
                _cleanup_free_ char *url = xasprintf("%s\n", b->s->seed_url);
                r = write_file(dfd, "url", url, strlen(url), 0400, b->p->uid, b->p->gid, err);
        }
        return r;
}

static int proc_area(struct build *b, struct vol_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r = open_area(b, VOL_CON_PROC, 1u << 20, 0555, false, false, &dfd, err);
        if (r < 0)
                return r;
        if (!area_on(b, VOL_CON_PROC))
                return default_area(b, VOL_CON_PROC, dfd, err);
        uint64_t memory = 0;
        vol_parse_size("memory", b->res->config.memory, &memory, NULL);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        struct vol_strbuf m, c;
        vol_strbuf_init(&m, 0);
        vol_strbuf_init(&c, 0);
        vol_con_proc_meminfo(memory, &m);
        vol_con_proc_cpuinfo(cpus > 0 ? (unsigned)cpus : 1, &c);
        r = write_file(dfd, "meminfo", m.data, m.len, 0444, 0, 0, err);
        if (r == 0)
                r = write_file(dfd, "cpuinfo", c.data, c.len, 0444, 0, 0, err);
        vol_strbuf_free(&m);
        vol_strbuf_free(&c);
        return r;
}

/* A persistent area that is off: a small writable tmpfs with DEFAULT. */
static int rw_default_area(struct build *b, enum vol_con_area a, struct vol_error *err)
{
        _cleanup_close_ int dfd = -1;
        int r = open_area(b, a, DEFAULT_RW_BYTES, 0755, true, false, &dfd, err);
        if (r < 0)
                return r;
        return default_area(b, a, dfd, err);
}

/* The command con-init runs: the deploy's, else the image's entrypoint and
 * command. */
static int plan_entrypoint(struct vol_con_plan *p, const struct vol_image_info *img,
                           const struct vol_deploy_request *req, struct vol_error *err)
{
        size_t n = 2 + img->n_entrypoint + (req->cmd ? req->n_cmd : img->n_cmd);
        p->entrypoint = xcalloc(n, sizeof(char *));
        p->entrypoint[p->n_entrypoint++] = xstrdup(VOL_CON_INIT_PATH);
        p->entrypoint[p->n_entrypoint++] = xstrdup("--");
        for (size_t i = 0; i < img->n_entrypoint; i++)
                p->entrypoint[p->n_entrypoint++] = xstrdup(img->entrypoint[i]);
        const char *const *cmd = req->cmd ? req->cmd : (const char *const *)img->cmd;
        size_t n_cmd = req->cmd ? req->n_cmd : img->n_cmd;
        for (size_t i = 0; i < n_cmd; i++)
                p->entrypoint[p->n_entrypoint++] = xstrdup(cmd[i]);
        if (p->n_entrypoint == 2)
                return vol_error_set(err, -EINVAL,
                                     "image %s has no entrypoint or command, and the deploy gives no command: "
                                     "con-init has nothing to run",
                                     req->image);
        return 0;
}

int vol_app_image_read(struct vol_service *s, const char *container, const char *image, const struct vol_kvs *labels,
                       struct vol_app_image *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        int r = vol_engine_image_inspect(s->engine, image, &ret->info, err);
        if (r < 0)
                return r;
        const char *user = ret->info.user;
        if (user && *user && strspn(user, "0123456789:") != strlen(user)) {
                /* a name: the image's /etc/passwd says who it is */
                struct probe probe;
                if ((r = probe_start(s, container, image, labels, &probe, err)) == 0) {
                        r = resolve_user(user, &probe, ret, err);
                        probe_end(&probe);
                }
        } else
                r = resolve_user(user, NULL, ret, err);
        if (r < 0)
                vol_app_image_free(ret);
        return r;
}

void vol_app_image_free(struct vol_app_image *img)
{
        vol_image_info_free(&img->info);
        memset(img, 0, sizeof(*img));
}

int vol_con_prepare(struct vol_service *s, const struct vol_app_ref *ref, const struct vol_app_resolved *res,
                    const struct vol_deploy_request *req, const struct vol_app_image *img, unsigned long generation,
                    const char *container, const struct vol_kvs *labels, struct vol_con_plan *ret,
                    struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        if (!res->config.con.enabled)
                return 0;
        if (access(s->con_init, X_OK) < 0)
                return vol_error_set(err, -ENOENT,
                                     "con-init is not at %s (%m): volmand mounts it into /con containers; "
                                     "install it or give its path with --con-init",
                                     s->con_init);
        struct vol_con_plan *p = ret;
        p->enabled = true;
        p->uid = img->uid;
        p->gid = img->gid;
        struct build b = {s, ref, res, p, {0}, 0};
        for (size_t i = 0; i < res->config.sides.n; i++)
                b.side_writes |= res->config.sides.items[i].writes;
        _cleanup_free_ char *top = xasprintf("%s/%s", s->root, CON_DIR);
        int r;
        if ((r = plan_entrypoint(p, &img->info, req, err)) < 0)
                goto out;
        if ((r = probe_start(s, container, req->image, labels, &b.probe, err)) < 0)
                goto out;
        {
                /* whether the image has a /con of its own at all: one call */
                _cleanup_close_ int fd = temp_fd(s, err);
                r = fd < 0 ? fd : vol_engine_container_archive(s->engine, b.probe.id, VOL_CON_ROOT, fd, IMAGE_CONTENT_MAX, err);
                if (r == -ENOENT) {
                        vol_error_clear(err);
                        r = 0;
                } else if (r == 0)
                        b.probe.has_con = true;
                if (r < 0)
                        goto out;
        }
        if (mkdir(top, 0700) < 0 && errno != EEXIST) {
                r = vol_error_set(err, -errno, "creating %s: %m", top);
                goto out;
        }
        p->dir = xasprintf("%s/%s", top, container);
        if (mkdir(p->dir, 0700) < 0 && errno != EEXIST) {
                r = vol_error_set(err, -errno, "creating %s: %m", p->dir);
                goto out;
        }
        if ((r = files_area(&b, VOL_CON_CONFIGURATION, err)) < 0 || (r = files_area(&b, VOL_CON_CONTEXT, err)) < 0 ||
            (r = secret_area(&b, err)) < 0 || (r = seed_area(&b, generation, err)) < 0 || (r = proc_area(&b, err)) < 0)
                goto out;
        for (int a = VOL_CON_DATA; a <= VOL_CON_VAR; a++)
                if (!area_on(&b, (enum vol_con_area)a) && (r = rw_default_area(&b, (enum vol_con_area)a, err)) < 0)
                        goto out;
out:
        probe_end(&b.probe);
        if (r < 0) {
                vol_con_release(s, container);
                vol_con_plan_free(p);
        }
        return r;
}

/* Whether the directory path holds nothing: 1, 0, or a negative errno. */
static int dir_empty(const char *path, struct vol_error *err)
{
        DIR *d = opendir(path);
        if (!d)
                return vol_error_set(err, -errno, "reading %s: %m", path);
        struct dirent *de;
        int empty = 1;
        while (empty && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        empty = 0;
        closedir(d);
        return empty;
}

/* An area only `before` sides write, which they left empty: DEFAULT. */
static int settle_side_area(const struct vol_con_plan *p, enum vol_con_area a, struct vol_con_plan *ret,
                            struct vol_error *err)
{
        int r = dir_empty(p->area_dir[a], err);
        if (r <= 0)
                return r;
        _cleanup_close_ int dfd = open(p->area_dir[a], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return vol_error_set(err, -errno, "opening %s: %m", p->area_dir[a]);
        ret->is_default[a] = true;
        return write_file(dfd, VOL_CON_DEFAULT_FILE, default_text, sizeof(default_text) - 1, 0444, 0, 0, err);
}

int vol_con_seal(const struct vol_con_plan *p, unsigned keep_writable, struct vol_con_plan *ret_sealed,
                 struct vol_error *err)
{
        for (int a = 0; a < VOL_CON_AREAS; a++) {
                enum vol_con_area area = (enum vol_con_area)a;
                if (!p->area_dir[a] || vol_con_area_persistent(area) || (keep_writable & (1u << a)))
                        continue;
                int r;
                if ((p->side_areas & (1u << a)) && (r = settle_side_area(p, area, ret_sealed, err)) < 0)
                        return r;
                unsigned long flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
                if (area == VOL_CON_SECRET || area == VOL_CON_SEED)
                        flags |= MS_NOEXEC;
                if (mount(NULL, p->area_dir[a], NULL, flags, NULL) < 0)
                        return vol_error_set(err, -errno, "making %s read-only: %m", p->area_dir[a]);
                ret_sealed->sealed[a] = true;
        }
        return 0;
}

size_t vol_con_mounts(struct vol_service *s, const struct vol_con_plan *p, const struct vol_app_resolved *res,
                      unsigned writes, bool with_init, struct vol_engine_mount *out, char **paths)
{
        size_t n = 0;
        if (with_init)
                out[n++] = (struct vol_engine_mount){.bind = s->con_init, .target = VOL_CON_INIT_PATH, .read_only = true};
        for (int a = 0; a < VOL_CON_AREAS; a++) {
                paths[a] = xasprintf(VOL_CON_ROOT "/%s", vol_con_area_name((enum vol_con_area)a));
                bool rw = vol_con_area_persistent((enum vol_con_area)a) || (writes & (1u << a));
                if (p->area_dir[a]) {
                        /* A sealed area is read-only at its tmpfs: bound as it is, the
                         * container's view keeps the tmpfs's nosuid, nodev and noexec
                         * (an engine's read-only bind remounts and drops them). */
                        out[n++] = (struct vol_engine_mount){.bind = p->area_dir[a], .target = paths[a],
                                                             .read_only = !rw && !p->sealed[a]};
                        continue;
                }
                for (size_t i = 0; i < res->n_volumes; i++)
                        if (!strcmp(res->volume_paths[i], paths[a]))
                                out[n++] = (struct vol_engine_mount){.volume = res->volume_names[i], .target = paths[a]};
        }
        return n;
}

void vol_con_release(struct vol_service *s, const char *container)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s/%s", s->root, CON_DIR, container);
        for (int a = 0; a < VOL_CON_AREAS; a++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, vol_con_area_name((enum vol_con_area)a));
                /* detached: a container that still has it keeps its own view until it goes */
                while (umount2(path, MNT_DETACH) == 0)
                        ;
                rmdir(path);
        }
        rmdir(dir);
}

void vol_con_sweep(struct vol_service *s, const char *stem, const char *keep)
{
        _cleanup_free_ char *top = xasprintf("%s/%s", s->root, CON_DIR);
        DIR *d = opendir(top);
        if (!d)
                return;
        struct dirent *de;
        size_t n = 0, cap = 0;
        char **names = NULL;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (stem && (strncmp(de->d_name, stem, strlen(stem)) || !de->d_name[strlen(stem)] ||
                             strspn(de->d_name + strlen(stem), "0123456789") != strlen(de->d_name + strlen(stem))))
                        continue; /* another app's (names past the stem are the generation's digits) */
                if (keep && !strcmp(de->d_name, keep))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        names = xrealloc(names, cap * sizeof(char *));
                }
                names[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        for (size_t i = 0; i < n; i++) {
                bool gone = true;
                if (!stem && s->engine) {
                        /* at start: only the generations whose container is gone */
                        struct vol_error e = VOL_ERROR_INIT;
                        int r = vol_engine_container_inspect_state(s->engine, names[i], NULL, NULL, &e);
                        gone = r == -ENOENT;
                        vol_error_clear(&e);
                }
                if (gone)
                        vol_con_release(s, names[i]);
                free(names[i]);
        }
        free(names);
}
