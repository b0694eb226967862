/* API tokens: made, listed and revoked by the admin; checked for every
 * request that presents one, with failed attempts rate-limited per client.
 *
 * Tokens are documents of kind "token" keyed by their ID, holding the tenant
 * (null for an admin token), the name, SHA-256 of the secret and the times.
 * Every token is also held in memory, so that checking one costs a hash and
 * a lookup, never a store read; a revocation takes the token out of memory
 * before it answers, so the next request with it fails. When a token was
 * last used is kept in memory and written back (without a sync of its own)
 * at most once a minute per token, when tokens are listed, and at close. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/token.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DOC_TOKEN "token"
#define TOKENS_MAX 10000
#define LAST_USED_STEP 60     /* seconds between write-backs of last_used */
#define RATE_WINDOW 60        /* seconds */
#define RATE_FAILS_MAX 10     /* failed attempts per client address and window */
#define RATE_CLIENTS 256      /* addresses remembered */

struct tok {
        char id[VOL_TOKEN_ID_LEN + 1];
        char hash[VOL_TOKEN_HASH_LEN + 1];
        char *tenant; /* NULL: admin */
        char *name;
        int64_t created;
        int64_t last_used; /* in memory; guarded by last_lock */
        int64_t saved_last_used;
        /* a seed token (docs/con.md): minted by a deploy for one app's
         * generation; it reads that app's secrets alone, until it expires */
        char *seed; /* "tenant/env/app", or NULL */
        unsigned long generation;
        int64_t expires; /* unix seconds; 0: never */
};

struct rate {
        char client[48];
        int64_t window_start;
        unsigned fails;
        bool told; /* the refusal of this window is logged */
};

struct vol_tokens {
        pthread_rwlock_t lock; /* the table */
        struct tok *items;
        size_t n, cap;
        pthread_mutex_t last_lock; /* last_used of every token */
        pthread_mutex_t rate_lock;
        struct rate rates[RATE_CLIENTS];
};

static int64_t now_s(void)
{
        return (int64_t)time(NULL);
}

static void tok_free(struct tok *t)
{
        free(t->tenant);
        free(t->name);
        free(t->seed);
}

static char *tok_json(const struct tok *t, int64_t last_used)
{
        json_t *o = json_pack("{s:o,s:s,s:s,s:I,s:I}", "tenant", t->tenant ? json_string(t->tenant) : json_null(),
                              "name", t->name, "hash", t->hash, "created", (json_int_t)t->created,
                              "last_used", (json_int_t)last_used);
        if (t->seed) {
                json_object_set_new(o, "seed", json_string(t->seed));
                json_object_set_new(o, "generation", json_integer((json_int_t)t->generation));
                json_object_set_new(o, "expires", json_integer((json_int_t)t->expires));
        }
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

static int load_one(const char *key, const char *json, int64_t revision, void *userdata)
{
        struct vol_tokens *ts = userdata;
        json_error_t je;
        _cleanup_(json_decrefp) json_t *o = json_loads(json, 0, &je);
        const char *tenant = NULL, *name = NULL, *hash = NULL, *seed = NULL;
        json_int_t created = 0, last = 0, generation = 0, expires = 0;
        if (!o ||
            json_unpack(o, "{s?s,s:s,s:s,s:I,s?I,s?s,s?I,s?I}", "tenant", &tenant, "name", &name, "hash", &hash,
                        "created", &created, "last_used", &last, "seed", &seed, "generation", &generation,
                        "expires", &expires) < 0 ||
            !vol_token_id_valid(key) || strlen(hash) != VOL_TOKEN_HASH_LEN) {
                vol_service_log("warning", "token %s: its stored record is unreadable; ignoring it", key);
                return 0;
        }
        if (ts->n == ts->cap) {
                ts->cap = ts->cap ? ts->cap * 2 : 16;
                ts->items = xrealloc(ts->items, ts->cap * sizeof(*ts->items));
        }
        struct tok *t = &ts->items[ts->n++];
        memset(t, 0, sizeof(*t));
        snprintf(t->id, sizeof(t->id), "%s", key);
        memcpy(t->hash, hash, sizeof(t->hash));
        t->tenant = tenant ? xstrdup(tenant) : NULL;
        t->name = xstrdup(name);
        t->created = created;
        t->last_used = t->saved_last_used = last;
        t->seed = seed ? xstrdup(seed) : NULL;
        t->generation = (unsigned long)generation;
        t->expires = expires;
        return 0;
}

int vol_tokens_open(struct vol_service *s, struct vol_error *err)
{
        struct vol_tokens *ts = xcalloc(1, sizeof(*ts));
        pthread_rwlock_init(&ts->lock, NULL);
        pthread_mutex_init(&ts->last_lock, NULL);
        pthread_mutex_init(&ts->rate_lock, NULL);
        s->tokens = ts;
        return vol_store_list_docs(s->store, DOC_TOKEN, "", load_one, ts, err);
}

/* Writes back every last_used that moved since it was saved. */
static void save_last_used(struct vol_service *s, bool all)
{
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_rdlock(&ts->lock);
        for (size_t i = 0; i < ts->n; i++) {
                struct tok *t = &ts->items[i];
                pthread_mutex_lock(&ts->last_lock);
                int64_t last = t->last_used;
                bool due = last != t->saved_last_used && (all || last - t->saved_last_used >= LAST_USED_STEP);
                if (due)
                        t->saved_last_used = last;
                pthread_mutex_unlock(&ts->last_lock);
                if (!due)
                        continue;
                _cleanup_free_ char *json = tok_json(t, last);
                struct vol_error e = {0};
                if (vol_store_put_doc(s->store, DOC_TOKEN, t->id, json, VOL_REV_ANY, VOL_SYNC_ORDERED, NULL,
                                      &e) < 0)
                        vol_service_log("warning", "token %s: saving when it was last used: %s", t->id,
                                        vol_error_message(&e));
                vol_error_clear(&e);
        }
        pthread_rwlock_unlock(&ts->lock);
}

void vol_tokens_close(struct vol_service *s)
{
        struct vol_tokens *ts = s->tokens;
        if (!ts)
                return;
        if (s->store)
                save_last_used(s, true);
        for (size_t i = 0; i < ts->n; i++)
                tok_free(&ts->items[i]);
        free(ts->items);
        pthread_rwlock_destroy(&ts->lock);
        pthread_mutex_destroy(&ts->last_lock);
        pthread_mutex_destroy(&ts->rate_lock);
        free(ts);
        s->tokens = NULL;
}

/* Cluster mode: every node mints and revokes tokens in the shared store, so
 * the table is read again from it where it must be current (a list, a
 * revocation; one token at each authentication). When the store cannot be
 * read the table stays as it was. */
static void reload_all(struct vol_service *s)
{
        if (!vol_service_node(s))
                return;
        struct vol_tokens *ts = s->tokens, fresh = {0};
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_store_list_docs(s->store, DOC_TOKEN, "", load_one, &fresh, &err) < 0) {
                vol_error_clear(&err);
                for (size_t i = 0; i < fresh.n; i++)
                        tok_free(&fresh.items[i]);
                free(fresh.items);
                return;
        }
        pthread_rwlock_wrlock(&ts->lock);
        pthread_mutex_lock(&ts->last_lock);
        for (size_t i = 0; i < fresh.n; i++)
                for (size_t k = 0; k < ts->n; k++)
                        if (!strcmp(fresh.items[i].id, ts->items[k].id) && ts->items[k].last_used > fresh.items[i].last_used)
                                fresh.items[i].last_used = ts->items[k].last_used;
        pthread_mutex_unlock(&ts->last_lock);
        for (size_t k = 0; k < ts->n; k++)
                tok_free(&ts->items[k]);
        free(ts->items);
        ts->items = fresh.items;
        ts->n = fresh.n;
        ts->cap = fresh.cap;
        pthread_rwlock_unlock(&ts->lock);
}

/* Cluster mode: token id as the store has it now (added, kept or dropped). */
static void sync_one(struct vol_service *s, const char *id)
{
        if (!vol_service_node(s))
                return;
        _cleanup_free_ char *json = NULL;
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_store_get_doc(s->store, DOC_TOKEN, id, &json, NULL, &err);
        vol_error_clear(&err);
        if (r < 0 && r != -ENOENT)
                return;
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_wrlock(&ts->lock);
        int64_t last = 0;
        for (size_t i = 0; i < ts->n; i++)
                if (!strcmp(ts->items[i].id, id)) {
                        last = ts->items[i].last_used;
                        tok_free(&ts->items[i]);
                        ts->items[i] = ts->items[--ts->n];
                        break;
                }
        size_t before = ts->n;
        if (r == 0 && load_one(id, json, 0, ts) == 0 && ts->n > before && last > ts->items[ts->n - 1].last_used)
                ts->items[ts->n - 1].last_used = last;
        pthread_rwlock_unlock(&ts->lock);
}

static int admin_only(const struct vol_caller *caller, struct vol_error *err)
{
        if (vol_caller_is_admin(caller))
                return 0;
        return vol_error_set(err, -EPERM, "tokens are the operator's: only an admin may list, make or revoke them");
}

/* Draws t's id and secret (the token's text in token), stores t (its
 * secret's hash only) and adds it to the table, which then owns what t
 * holds. On failure t is freed and token wiped. */
static int add_token(struct vol_service *s, struct tok *t, char token[VOL_TOKEN_LEN + 1], struct vol_error *err)
{
        struct vol_tokens *ts = s->tokens;
        uint8_t rnd[38];
        int r = 0;
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
                tok_free(t);
                return vol_error_set(err, -EIO, "reading random bytes for a token: %m");
        }
        char secret[VOL_TOKEN_SECRET_LEN + 1];
        vol_token_format(rnd, rnd + 6, token);
        (void)vol_token_parse(token, t->id, secret);
        vol_token_hash(secret, t->hash);
        explicit_bzero(secret, sizeof(secret));
        explicit_bzero(rnd, sizeof(rnd));
        _cleanup_free_ char *json = tok_json(t, 0);
        pthread_rwlock_wrlock(&ts->lock);
        if (ts->n >= TOKENS_MAX)
                r = vol_error_set(err, -E2BIG, "there are %d tokens already; revoke some first", TOKENS_MAX);
        else /* expect_rev 0: an ID drawn twice (48 random bits) is refused, not overwritten */
                r = vol_store_put_doc(s->store, DOC_TOKEN, t->id, json, 0, VOL_SYNC_FULL, NULL, err);
        if (r >= 0) {
                if (ts->n == ts->cap) {
                        ts->cap = ts->cap ? ts->cap * 2 : 16;
                        ts->items = xrealloc(ts->items, ts->cap * sizeof(*ts->items));
                }
                ts->items[ts->n++] = *t;
        }
        pthread_rwlock_unlock(&ts->lock);
        if (r < 0) {
                explicit_bzero(token, VOL_TOKEN_LEN + 1);
                tok_free(t);
        }
        return r < 0 ? r : 0;
}

int vol_service_token_create(struct vol_service *s, const struct vol_caller *caller, const char *tenant,
                             const char *name, char token[VOL_TOKEN_LEN + 1], struct vol_token_info *ret,
                             struct vol_error *err)
{
        int r;
        if ((r = admin_only(caller, err)) < 0)
                return r;
        if (tenant && (r = vol_validate_scope_part("tenant", tenant, err)) < 0)
                return r;
        if (!name)
                name = "";
        if (*name && !vol_token_name_valid(name))
                return vol_error_set(err, -EINVAL,
                                     "token name must be 1 to %d of the characters A-Z a-z 0-9 . _ -",
                                     VOL_TOKEN_NAME_MAX);
        struct tok t = {.created = now_s(), .tenant = tenant ? xstrdup(tenant) : NULL, .name = xstrdup(name)};
        if ((r = add_token(s, &t, token, err)) < 0)
                return r;
        if (ret)
                *ret = (struct vol_token_info){.tenant = tenant, .name = name, .created = t.created};
        if (ret)
                memcpy(ret->id, t.id, sizeof(ret->id));
        _cleanup_free_ char *what = xasprintf("token create %s (%s%s)", t.id, tenant ? "tenant " : "admin",
                                              tenant ? tenant : "");
        vol_service_audit(caller, what, 0, NULL);
        return 0;
}

int vol_service_token_list(struct vol_service *s, const struct vol_caller *caller, vol_token_cb cb,
                           void *userdata, struct vol_error *err)
{
        int r;
        if ((r = admin_only(caller, err)) < 0)
                return r;
        save_last_used(s, true);
        reload_all(s);
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_rdlock(&ts->lock);
        for (size_t i = 0; r >= 0 && i < ts->n; i++) {
                const struct tok *t = &ts->items[i];
                if (t->seed)
                        continue; /* a deploy's, revoked with its generation */
                struct vol_token_info info = {.tenant = t->tenant, .name = t->name, .created = t->created};
                memcpy(info.id, t->id, sizeof(info.id));
                pthread_mutex_lock(&ts->last_lock);
                info.last_used = t->last_used;
                pthread_mutex_unlock(&ts->last_lock);
                int c = cb(&info, userdata);
                if (c < 0)
                        r = c;
                else if (c > 0)
                        break;
        }
        pthread_rwlock_unlock(&ts->lock);
        return r;
}

int vol_service_token_remove(struct vol_service *s, const struct vol_caller *caller, const char *id,
                             struct vol_error *err)
{
        int r;
        if ((r = admin_only(caller, err)) < 0)
                return r;
        if (!vol_token_id_valid(id))
                return vol_error_set(err, -EINVAL, "a token ID is 12 hex digits (as `volman token ls` shows)");
        sync_one(s, id);
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_wrlock(&ts->lock);
        size_t i = 0;
        while (i < ts->n && strcmp(ts->items[i].id, id))
                i++;
        if (i == ts->n) {
                r = vol_error_set(err, -ENOENT, "token %s not found", id);
        } else {
                r = vol_store_remove_doc(s->store, DOC_TOKEN, id, VOL_REV_ANY, VOL_SYNC_FULL, err);
                if (r >= 0 || r == -ENOENT) {
                        r = 0;
                        tok_free(&ts->items[i]);
                        ts->items[i] = ts->items[--ts->n];
                }
        }
        pthread_rwlock_unlock(&ts->lock);
        if (r == 0)
                vol_sessions_drop_token(s, id); /* its console sessions end with it */
        _cleanup_free_ char *what = xasprintf("token rm %s", id);
        vol_service_audit(caller, what, r, err);
        return r;
}

bool vol_tokens_exists(struct vol_service *s, const char *id)
{
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_rdlock(&ts->lock);
        bool found = false;
        for (size_t i = 0; i < ts->n && !found; i++)
                found = !strcmp(ts->items[i].id, id);
        pthread_rwlock_unlock(&ts->lock);
        return found;
}

/* ---- the rate of failed attempts, per client address ---- */

static struct rate *rate_slot(struct vol_tokens *ts, const char *client, int64_t now)
{
        struct rate *oldest = &ts->rates[0];
        for (size_t i = 0; i < RATE_CLIENTS; i++) {
                struct rate *r = &ts->rates[i];
                if (r->client[0] && !strcmp(r->client, client))
                        return r;
                if (!r->client[0] || r->window_start < oldest->window_start)
                        oldest = r;
        }
        memset(oldest, 0, sizeof(*oldest));
        snprintf(oldest->client, sizeof(oldest->client), "%s", client);
        oldest->window_start = now;
        return oldest;
}

int vol_auth_rate_check(struct vol_service *s, const char *client, struct vol_error *err)
{
        struct vol_tokens *ts = s->tokens;
        int64_t now = now_s();
        int r = 0;
        pthread_mutex_lock(&ts->rate_lock);
        for (size_t i = 0; i < RATE_CLIENTS; i++) {
                struct rate *rt = &ts->rates[i];
                if (!rt->client[0] || strcmp(rt->client, client))
                        continue;
                if (now - rt->window_start >= RATE_WINDOW)
                        memset(rt, 0, sizeof(*rt));
                else if (rt->fails >= RATE_FAILS_MAX) {
                        long wait = (long)(RATE_WINDOW - (now - rt->window_start));
                        if (!rt->told)
                                vol_service_log("warning", "auth: %s made %u failed attempts within %d s; refusing "
                                                "its credentials for %ld s",
                                                client, rt->fails, RATE_WINDOW, wait);
                        rt->told = true;
                        r = vol_error_set(err, -EUSERS,
                                          "too many failed attempts from %s; retry in %ld s", client, wait);
                }
                break;
        }
        pthread_mutex_unlock(&ts->rate_lock);
        return r;
}

int vol_auth_failed(struct vol_service *s, const char *client, const char *why, struct vol_error *err)
{
        struct vol_tokens *ts = s->tokens;
        int64_t now = now_s();
        pthread_mutex_lock(&ts->rate_lock);
        struct rate *rt = rate_slot(ts, client, now);
        if (now - rt->window_start >= RATE_WINDOW) {
                rt->window_start = now;
                rt->fails = 0;
                rt->told = false;
        }
        unsigned n = ++rt->fails;
        pthread_mutex_unlock(&ts->rate_lock);
        vol_service_log("warning", "auth: %s from %s (%u of %d failed attempts allowed per %d s)", why, client, n,
                        RATE_FAILS_MAX, RATE_WINDOW);
        return vol_error_set(err, -EACCES, "%s", why);
}

int vol_service_authenticate(struct vol_service *s, const char *token, const char *client,
                             struct vol_identity *ret, struct vol_error *err)
{
        int r;
        memset(ret, 0, sizeof(*ret));
        if ((r = vol_auth_rate_check(s, client, err)) < 0)
                return r;
        char id[VOL_TOKEN_ID_LEN + 1], secret[VOL_TOKEN_SECRET_LEN + 1], hash[VOL_TOKEN_HASH_LEN + 1];
        if (!token || vol_token_parse(token, id, secret) < 0)
                return vol_auth_failed(s, client, "the token is malformed (a volman token reads vmt_...)", err);
        vol_token_hash(secret, hash);
        explicit_bzero(secret, sizeof(secret));
        sync_one(s, id);
        struct vol_tokens *ts = s->tokens;
        bool ok = false, expired = false;
        pthread_rwlock_rdlock(&ts->lock);
        for (size_t i = 0; i < ts->n; i++) {
                struct tok *t = &ts->items[i];
                if (strcmp(t->id, id))
                        continue;
                if (!vol_token_equal(t->hash, hash, VOL_TOKEN_HASH_LEN))
                        break;
                if (t->expires && now_s() >= t->expires) {
                        expired = true;
                        break;
                }
                ok = true;
                ret->known = true;
                ret->face = t->tenant || t->seed ? VOL_FACE_TENANT : VOL_FACE_ADMIN;
                if (t->tenant)
                        snprintf(ret->tenant, sizeof(ret->tenant), "%s", t->tenant);
                if (t->seed)
                        snprintf(ret->seed, sizeof(ret->seed), "%s", t->seed);
                snprintf(ret->who, sizeof(ret->who), "token %s%s(%s) from %s", t->name, *t->name ? " " : "", t->id,
                         client);
                pthread_mutex_lock(&ts->last_lock);
                t->last_used = now_s();
                pthread_mutex_unlock(&ts->last_lock);
                break;
        }
        pthread_rwlock_unlock(&ts->lock);
        if (expired)
                return vol_auth_failed(s, client, "the token has expired", err);
        if (!ok)
                return vol_auth_failed(s, client, "the token is unknown or revoked", err);
        return 0;
}

/* ---- seed tokens ---- */

int vol_tokens_mint_seed(struct vol_service *s, const char *app_key, unsigned long generation, int64_t ttl,
                         char token[VOL_TOKEN_LEN + 1], int64_t *ret_expires, struct vol_error *err)
{
        struct tok t = {.created = now_s(), .name = xstrdup("seed"), .seed = xstrdup(app_key),
                        .generation = generation};
        t.expires = t.created + ttl;
        int r = add_token(s, &t, token, err);
        if (r < 0)
                return r;
        *ret_expires = t.expires;
        return 0;
}

/* Drops the seed tokens for which drop(t) holds, from the table and the store. */
static void drop_seeds(struct vol_service *s, bool (*drop)(const struct tok *t, const void *arg), const void *arg)
{
        struct vol_tokens *ts = s->tokens;
        pthread_rwlock_wrlock(&ts->lock);
        for (size_t i = 0; i < ts->n;) {
                struct tok *t = &ts->items[i];
                if (!t->seed || !drop(t, arg)) {
                        i++;
                        continue;
                }
                struct vol_error e = VOL_ERROR_INIT;
                int r = vol_store_remove_doc(s->store, DOC_TOKEN, t->id, VOL_REV_ANY, VOL_SYNC_ORDERED, &e);
                if (r < 0 && r != -ENOENT) {
                        /* kept in the table too: it is revoked on the next try */
                        vol_service_log("warning", "seed token %s: revoking: %s", t->id, vol_error_message(&e));
                        vol_error_clear(&e);
                        i++;
                        continue;
                }
                vol_error_clear(&e);
                tok_free(t);
                ts->items[i] = ts->items[--ts->n];
        }
        pthread_rwlock_unlock(&ts->lock);
}

struct seed_match {
        const char *app_key;
        unsigned long generation;
        bool only;
};

static bool seed_matches(const struct tok *t, const void *arg)
{
        const struct seed_match *m = arg;
        if (strcmp(t->seed, m->app_key))
                return false;
        return m->only ? t->generation == m->generation : !m->generation || t->generation != m->generation;
}

static bool expired(const struct tok *t, const void *arg)
{
        return t->expires && *(const int64_t *)arg >= t->expires;
}

void vol_tokens_drop_seeds(struct vol_service *s, const char *app_key, unsigned long generation, bool only)
{
        struct seed_match m = {app_key, generation, only};
        drop_seeds(s, seed_matches, &m);
}

void vol_service_tick(struct vol_service *s)
{
        save_last_used(s, false);
        int64_t now = now_s();
        drop_seeds(s, expired, &now);
        struct vol_error err = VOL_ERROR_INIT;
        if (vol_move_reap(s, &err) < 0)
                vol_service_log("warning", "reaping what moves left: %s", vol_error_message(&err));
        vol_error_clear(&err);
}
