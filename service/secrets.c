/* Secrets of apps and envs (docs/con.md), sealed at rest with libsodium's
 * crypto_secretbox (XSalsa20-Poly1305) under one key per volmand root.
 *
 * Each secret is a record (size and dates) in DOC_SECRET under
 * {tenant}/{env}/{app or *}/{name}, and its sealed box in DOC_SECRET_DATA,
 * in two slots like a file's bytes (con_files.c: a put switches versions in
 * one write). The box seals the document's key followed by a NUL and
 * the value, and opening checks that key: a box copied under another key
 * (another tenant's, another name) does not open. The plaintext lives only
 * in sodium_malloc'd memory, wiped when freed; it is never logged, never
 * stored and never written to a disk (deploys write it to a tmpfs). */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "con.h"
#include "con_internal.h"
#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DOC_SECRET "secret"
#define DOC_SECRET_DATA "secret-data"
#define KEY_FILE "secret.key"

static int read_key(int fd, const char *path, unsigned char *key, struct vol_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return vol_error_set(err, -errno, "secret key %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return vol_error_set(err, -EINVAL, "secret key %s is not a regular file", path);
        if (st.st_uid != geteuid() || (st.st_mode & 077))
                return vol_error_set(err, -EPERM,
                                     "secret key %s must belong to volmand's user and be readable by it alone "
                                     "(chown root %s; chmod 400 %s)",
                                     path, path, path);
        if (st.st_size != crypto_secretbox_KEYBYTES)
                return vol_error_set(err, -EINVAL, "secret key %s has %lld bytes; a key has %d", path,
                                     (long long)st.st_size, crypto_secretbox_KEYBYTES);
        ssize_t n = pread(fd, key, crypto_secretbox_KEYBYTES, 0);
        if (n != crypto_secretbox_KEYBYTES)
                return vol_error_set(err, n < 0 ? -errno : -EIO, "reading secret key %s: %s", path,
                                     n < 0 ? strerror(errno) : "short read");
        return 0;
}

/* Makes {root}/secret.key: written whole to a temporary file, synced, then
 * renamed into place and the directory synced, so a crash leaves either no
 * key or a whole one. */
static int make_key(const char *root, const char *path, unsigned char *key, struct vol_error *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s/%s.new", root, KEY_FILE);
        unlink(tmp);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
        if (fd < 0)
                return vol_error_set(err, -errno, "creating secret key %s: %m", tmp);
        crypto_secretbox_keygen(key);
        if (write(fd, key, crypto_secretbox_KEYBYTES) != crypto_secretbox_KEYBYTES || fsync(fd) < 0) {
                int e = errno ? errno : EIO;
                unlink(tmp);
                return vol_error_set(err, -e, "writing secret key %s: %s", tmp, strerror(e));
        }
        if (rename(tmp, path) < 0)
                return vol_error_set(err, -errno, "creating secret key %s: %m", path);
        _cleanup_close_ int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return vol_error_set(err, -errno, "syncing %s: %m", root);
        return 0;
}

int vol_secrets_open(struct vol_service *s, const char *root, const char *key_file, struct vol_error *err)
{
        if (sodium_init() < 0)
                return vol_error_set(err, -EIO, "libsodium could not start");
        unsigned char *key = sodium_malloc(crypto_secretbox_KEYBYTES);
        if (!key)
                return vol_error_set(err, -ENOMEM, "no memory for the secret key");
        _cleanup_free_ char *path = key_file ? xstrdup(key_file) : xasprintf("%s/%s", root, KEY_FILE);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int r;
        if (fd >= 0)
                r = read_key(fd, path, key, err);
        else if (errno == ENOENT && !key_file) {
                r = make_key(root, path, key, err);
                if (r == 0)
                        vol_service_log("info", "made the secret key %s: back it up with the store, or "
                                        "secrets cannot be read after a restore", path);
        } else
                r = vol_error_set(err, -errno, "secret key %s: %m%s", path,
                                  errno == ENOENT ? " (--secret-key-file names a file that must exist)" : "");
        if (r < 0) {
                sodium_free(key);
                return r;
        }
        sodium_mprotect_readonly(key);
        s->secret_key = key;
        return 0;
}

void vol_secrets_close(struct vol_service *s)
{
        if (s->secret_key)
                sodium_free(s->secret_key);
        s->secret_key = NULL;
}

void vol_secret_value_free(unsigned char *value)
{
        if (value)
                sodium_free(value);
}

static int check_secret_args(const struct vol_caller *caller, const struct vol_app_ref *ref, const char *name,
                             bool write, struct vol_error *err)
{
        int r = vol_con_check_level(caller, ref, write, err);
        if (r < 0)
                return r;
        return name ? vol_con_validate_name("secret", name, err) : 0;
}

/* The sealed box of value under key, as the JSON of its data document. */
static char *seal(struct vol_service *s, const char *key, const void *value, size_t len)
{
        size_t klen = strlen(key) + 1, plen = klen + len;
        unsigned char *plain = sodium_malloc(plen ? plen : 1);
        if (!plain)
                abort();
        memcpy(plain, key, klen);
        memcpy(plain + klen, value, len);
        unsigned char nonce[crypto_secretbox_NONCEBYTES];
        randombytes_buf(nonce, sizeof(nonce));
        _cleanup_free_ unsigned char *box = xmalloc(plen + crypto_secretbox_MACBYTES);
        crypto_secretbox_easy(box, plain, plen, nonce, s->secret_key);
        sodium_free(plain);
        _cleanup_free_ char *n64 = vol_con_base64(nonce, sizeof(nonce));
        _cleanup_free_ char *b64 = vol_con_base64(box, plen + crypto_secretbox_MACBYTES);
        return xasprintf("{\"v\":1,\"nonce\":\"%s\",\"box\":\"%s\"}", n64, b64);
}

/* Opens the box stored under key: the value in sodium_malloc'd memory. */
static int unseal(struct vol_service *s, const char *key, const char *json, unsigned char **ret_value,
                  size_t *ret_len, struct vol_error *err)
{
        json_auto_t *o = json_loads(json, 0, NULL);
        const char *n64 = json_string_value(json_object_get(o, "nonce"));
        const char *b64 = json_string_value(json_object_get(o, "box"));
        unsigned char nonce[crypto_secretbox_NONCEBYTES];
        size_t nlen = 0, blen = 0, max = b64 ? strlen(b64) / 4 * 3 + 3 : 0;
        _cleanup_free_ unsigned char *box = xmalloc(max + 1);
        if (!n64 || !b64 || vol_con_unbase64(n64, nonce, sizeof(nonce), &nlen) < 0 || nlen != sizeof(nonce) ||
            vol_con_unbase64(b64, box, max, &blen) < 0 || blen < crypto_secretbox_MACBYTES)
                return vol_error_set(err, -EIO, "secret %s: its stored box is unreadable", key);
        size_t plen = blen - crypto_secretbox_MACBYTES, klen = strlen(key) + 1;
        unsigned char *plain = sodium_malloc(plen ? plen : 1);
        if (!plain)
                return vol_error_set(err, -ENOMEM, "no memory for secret %s", key);
        if (crypto_secretbox_open_easy(plain, box, blen, nonce, s->secret_key) < 0 || plen < klen ||
            memcmp(plain, key, klen)) {
                sodium_free(plain);
                return vol_error_set(err, -EIO,
                                     "secret %s does not open with this volmand's key (another root's key, or "
                                     "a box moved from another secret)",
                                     key);
        }
        unsigned char *value = sodium_malloc(plen - klen + 1);
        if (!value) {
                sodium_free(plain);
                return vol_error_set(err, -ENOMEM, "no memory for secret %s", key);
        }
        memcpy(value, plain + klen, plen - klen);
        value[plen - klen] = 0;
        sodium_free(plain);
        *ret_value = value;
        *ret_len = plen - klen;
        return 0;
}

struct level_sum {
        const char *skip;
        uint64_t bytes;
        size_t n;
        int64_t created; /* of the one replaced */
};

static int sum_one(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct level_sum *sum = userdata;
        const char *name = strrchr(key, '/');
        json_auto_t *o = json_loads(json, 0, NULL);
        if (name && !strcmp(name + 1, sum->skip)) {
                sum->created = json_integer_value(json_object_get(o, "created"));
                return 0;
        }
        sum->bytes += (uint64_t)json_integer_value(json_object_get(o, "size"));
        sum->n++;
        return 0;
}

int vol_secret_put(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                   const char *name, const void *data, size_t len, struct vol_secret_info *ret,
                   struct vol_error *err)
{
        int r = check_secret_args(caller, ref, name, true, err);
        if (r < 0)
                return r;
        if (len > VOL_CON_FILE_MAX)
                return vol_error_set(err, -E2BIG, "secret %s has %zu bytes; the most is %u (1 MiB)", name, len,
                                     VOL_CON_FILE_MAX);
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *key = xasprintf("%s%s", level, name);
        _cleanup_free_ char *lock_key = xasprintf("secrets/%s", level);
        pthread_mutex_t *lock = vol_name_lock(&s->app_locks, lock_key);
        struct level_sum sum = {name, 0, 0, 0};
        r = vol_store_list_docs(s->store, DOC_SECRET, level, sum_one, &sum, err);
        if (r >= 0 && sum.n + 1 > VOL_CON_AREA_FILES_MAX)
                r = vol_error_set(err, -E2BIG, "%s already has %zu secrets; the most is %d", level, sum.n,
                                  VOL_CON_AREA_FILES_MAX);
        else if (r >= 0 && sum.bytes + len > VOL_CON_AREA_BYTES_MAX)
                r = vol_error_set(err, -E2BIG, "the secrets of %s would hold %llu bytes; the most is %u (16 MiB)",
                                  level, (unsigned long long)(sum.bytes + len), VOL_CON_AREA_BYTES_MAX);
        struct vol_secret_info info;
        memset(&info, 0, sizeof(info));
        snprintf(info.name, sizeof(info.name), "%s", name);
        info.size = len;
        info.updated = (int64_t)time(NULL);
        info.created = sum.created ? sum.created : info.updated;
        if (r >= 0) {
                _cleanup_free_ char *box = seal(s, key, data, len);
                _cleanup_free_ char *fields = xasprintf("\"size\":%zu,\"created\":%lld,\"updated\":%lld", len,
                                                        (long long)info.created, (long long)info.updated);
                r = vol_con_pair_put(s, DOC_SECRET, DOC_SECRET_DATA, key, box, fields, "secret-put-between", err);
        }
        vol_name_unlock(lock);
        _cleanup_free_ char *what = xasprintf("put secret %s (%zu bytes)", key, len);
        vol_service_audit(caller, what, r, err);
        if (r < 0)
                return r;
        vol_event_simple(s, caller, "secret", "put", key, ref->tenant);
        if (ret)
                *ret = info;
        return 0;
}

int vol_secret_remove(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                      const char *name, struct vol_error *err)
{
        int r = check_secret_args(caller, ref, name, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *level = vol_con_level_key(ref);
        _cleanup_free_ char *key = xasprintf("%s%s", level, name);
        r = vol_con_pair_remove(s, DOC_SECRET, DOC_SECRET_DATA, key, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                return vol_error_set(err, -ENOENT, "secret %s not found at %s", name, level);
        }
        _cleanup_free_ char *what = xasprintf("remove secret %s", key);
        vol_service_audit(caller, what, r, err);
        if (r == 0)
                vol_event_simple(s, caller, "secret", "remove", key, ref->tenant);
        return r;
}

struct list_ctx {
        size_t prefix_len;
        vol_secret_cb cb;
        void *userdata;
};

static int list_one(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct list_ctx *l = userdata;
        const char *name = key + l->prefix_len;
        if (strchr(name, '/'))
                return 0;
        struct vol_secret_info info;
        memset(&info, 0, sizeof(info));
        snprintf(info.name, sizeof(info.name), "%s", name);
        json_auto_t *o = json_loads(json, 0, NULL);
        info.size = (uint64_t)json_integer_value(json_object_get(o, "size"));
        info.created = json_integer_value(json_object_get(o, "created"));
        info.updated = json_integer_value(json_object_get(o, "updated"));
        return l->cb(&info, l->userdata);
}

int vol_secret_list(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    vol_secret_cb cb, void *userdata, struct vol_error *err)
{
        int r = check_secret_args(caller, ref, NULL, false, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *level = vol_con_level_key(ref);
        struct list_ctx l = {strlen(level), cb, userdata};
        return vol_store_list_docs(s->store, DOC_SECRET, level, list_one, &l, err);
}

/* The value of name at one level: -ENOENT when it has none. */
static int read_at(struct vol_service *s, const struct vol_app_ref *level_ref, const char *name,
                   unsigned char **ret_value, size_t *ret_len, struct vol_error *err)
{
        _cleanup_free_ char *level = vol_con_level_key(level_ref);
        _cleanup_free_ char *key = xasprintf("%s%s", level, name);
        _cleanup_free_ char *box = NULL;
        int r = vol_con_pair_get(s, DOC_SECRET, DOC_SECRET_DATA, key, NULL, &box, err);
        if (r < 0)
                return r;
        return unseal(s, key, box, ret_value, ret_len, err);
}

int vol_secret_read(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    const char *name, unsigned char **ret_value, size_t *ret_len, struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_con_validate_name("secret", name, err)) < 0)
                return r;
        _cleanup_free_ char *app = xasprintf("%s/%s/%s", ref->tenant, ref->env, ref->app);
        /* another tenant's app does not exist for a tenant, as on every route */
        if (!caller->seed && (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, false, err)) < 0)
                return r;
        if (!caller->seed || strcmp(caller->seed, app))
                return vol_error_set(err, -EPERM,
                                     "a secret's value is given to its app's containers alone (their seed token "
                                     "in /con/seed), not to %s",
                                     caller->seed ? "another app's seed token" : "an API caller");
        r = read_at(s, ref, name, ret_value, ret_len, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                struct vol_app_ref env = {ref->tenant, ref->env, NULL};
                r = read_at(s, &env, name, ret_value, ret_len, err);
        }
        if (r == -ENOENT) {
                vol_error_clear(err);
                r = vol_error_set(err, -ENOENT, "secret %s not found for app %s", name, app);
        }
        _cleanup_free_ char *what = xasprintf("read secret %s of app %s", name, app);
        vol_service_audit(caller, what, r, err);
        return r;
}

struct each_ctx {
        struct vol_service *s;
        const char *level;
        const char *other_level; /* the app's, when walking the env's: its names win */
        vol_secret_value_cb cb;
        void *userdata;
        struct vol_error *err;
};

static int each_one(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct each_ctx *c = userdata;
        const char *name = key + strlen(c->level);
        if (strchr(name, '/'))
                return 0;
        if (c->other_level) {
                _cleanup_free_ char *okey = xasprintf("%s%s", c->other_level, name);
                _cleanup_free_ char *have = NULL;
                if (vol_store_get_doc(c->s->store, DOC_SECRET, okey, &have, NULL, NULL) == 0)
                        return 0;
        }
        _cleanup_free_ char *box = NULL;
        int r = vol_con_pair_get(c->s, DOC_SECRET, DOC_SECRET_DATA, key, NULL, &box, c->err);
        if (r < 0)
                return r;
        unsigned char *value = NULL;
        size_t len = 0;
        if ((r = unseal(c->s, key, box, &value, &len, c->err)) < 0)
                return r;
        r = c->cb(name, value, len, c->userdata);
        sodium_free(value);
        return r;
}

int vol_secrets_each(struct vol_service *s, const struct vol_app_ref *ref, vol_secret_value_cb cb,
                     void *userdata, struct vol_error *err)
{
        struct vol_app_ref env = {ref->tenant, ref->env, NULL};
        _cleanup_free_ char *env_level = vol_con_level_key(&env);
        _cleanup_free_ char *app_level = vol_con_level_key(ref);
        struct each_ctx c = {s, env_level, app_level, cb, userdata, err};
        int r = vol_store_list_docs(s->store, DOC_SECRET, env_level, each_one, &c, err);
        if (r < 0)
                return r;
        c.level = app_level;
        c.other_level = NULL;
        return vol_store_list_docs(s->store, DOC_SECRET, app_level, each_one, &c, err);
}

int vol_secrets_drop_app(struct vol_service *s, const struct vol_app_ref *ref, struct vol_error *err)
{
        _cleanup_free_ char *level = vol_con_level_key(ref);
        return vol_con_drop_docs(s, DOC_SECRET, DOC_SECRET_DATA, level, err);
}
