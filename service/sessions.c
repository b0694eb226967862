/* Console sessions: a token exchanged for a session ID (which the console
 * keeps in a cookie) and a CSRF token (which it sends with every change).
 *
 * Sessions live in memory only: a restart of volmand logs every console out,
 * which costs a login and keeps no credential on disk. A session ends when
 * its token is revoked, after an hour unused, or twelve hours after login. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/token.h"
#include "internal.h"

#define SESSIONS_MAX 4096
#define IDLE_S 3600
#define LIFE_S (12 * 3600)

struct sess {
        char sid[VOL_SESSION_LEN + 1];
        char csrf[VOL_SESSION_LEN + 1];
        char token_id[VOL_TOKEN_ID_LEN + 1];
        struct vol_identity id;
        int64_t created, last_seen;
};

struct vol_sessions {
        pthread_mutex_t lock;
        struct sess items[SESSIONS_MAX];
        size_t n;
};

static int64_t now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec;
}

void vol_sessions_open(struct vol_service *s)
{
        s->sessions = calloc(1, sizeof(*s->sessions));
        if (!s->sessions)
                abort();
        pthread_mutex_init(&s->sessions->lock, NULL);
}

void vol_sessions_close(struct vol_service *s)
{
        if (!s->sessions)
                return;
        explicit_bzero(s->sessions->items, sizeof(s->sessions->items));
        pthread_mutex_destroy(&s->sessions->lock);
        free(s->sessions);
        s->sessions = NULL;
}

static int random_hex(char out[VOL_SESSION_LEN + 1])
{
        static const char dig[] = "0123456789abcdef";
        uint8_t b[VOL_SESSION_LEN / 2];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                return -EIO;
        for (size_t i = 0; i < sizeof(b); i++) {
                out[2 * i] = dig[b[i] >> 4];
                out[2 * i + 1] = dig[b[i] & 15];
        }
        out[VOL_SESSION_LEN] = 0;
        explicit_bzero(b, sizeof(b));
        return 0;
}

static void drop_at(struct vol_sessions *ss, size_t i)
{
        ss->items[i] = ss->items[--ss->n];
        explicit_bzero(&ss->items[ss->n], sizeof(ss->items[ss->n]));
}

static bool expired(const struct sess *x, int64_t now)
{
        return now - x->last_seen >= IDLE_S || now - x->created >= LIFE_S;
}

int vol_service_session_open(struct vol_service *s, const char *token, const char *client,
                             char sid[VOL_SESSION_LEN + 1], char csrf[VOL_SESSION_LEN + 1],
                             struct vol_identity *ret, struct vol_error *err)
{
        int r = vol_service_authenticate(s, token, client, ret, err);
        if (r < 0)
                return r;
        struct sess x = {.id = *ret};
        char secret[VOL_TOKEN_SECRET_LEN + 1];
        (void)vol_token_parse(token, x.token_id, secret);
        explicit_bzero(secret, sizeof(secret));
        if (random_hex(x.sid) < 0 || random_hex(x.csrf) < 0)
                return vol_error_set(err, -EIO, "reading random bytes for a session: %m");
        x.created = x.last_seen = now_s();
        struct vol_sessions *ss = s->sessions;
        pthread_mutex_lock(&ss->lock);
        for (size_t i = 0; i < ss->n;)
                if (expired(&ss->items[i], x.created))
                        drop_at(ss, i);
                else
                        i++;
        if (ss->n == SESSIONS_MAX) { /* full: the least recently seen goes */
                size_t old = 0;
                for (size_t i = 1; i < ss->n; i++)
                        if (ss->items[i].last_seen < ss->items[old].last_seen)
                                old = i;
                drop_at(ss, old);
        }
        ss->items[ss->n++] = x;
        pthread_mutex_unlock(&ss->lock);
        memcpy(sid, x.sid, sizeof(x.sid));
        memcpy(csrf, x.csrf, sizeof(x.csrf));
        explicit_bzero(&x, sizeof(x));
        return 0;
}

int vol_service_session_check(struct vol_service *s, const char *sid, bool change, const char *csrf,
                              const char *client, char ret_csrf[VOL_SESSION_LEN + 1],
                              struct vol_identity *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        int r = vol_auth_rate_check(s, client, err);
        if (r < 0)
                return r;
        if (!sid || strnlen(sid, VOL_SESSION_LEN + 1) != VOL_SESSION_LEN)
                return vol_auth_failed(s, client, "the session cookie is malformed", err);
        struct vol_sessions *ss = s->sessions;
        int64_t now = now_s();
        const char *why = "the session is unknown or has ended; log in again";
        bool found = false, token_gone = false;
        char token_id[VOL_TOKEN_ID_LEN + 1] = "";
        pthread_mutex_lock(&ss->lock);
        for (size_t i = 0; i < ss->n; i++) {
                struct sess *x = &ss->items[i];
                if (!vol_token_equal(x->sid, sid, VOL_SESSION_LEN))
                        continue;
                if (expired(x, now)) {
                        drop_at(ss, i);
                        why = "the session has expired; log in again";
                        break;
                }
                found = true;
                x->last_seen = now;
                *ret = x->id;
                memcpy(token_id, x->token_id, sizeof(token_id));
                if (ret_csrf)
                        memcpy(ret_csrf, x->csrf, sizeof(x->csrf));
                if (change && (!csrf || strnlen(csrf, VOL_SESSION_LEN + 1) != VOL_SESSION_LEN ||
                               !vol_token_equal(x->csrf, csrf, VOL_SESSION_LEN)))
                        r = vol_error_set(err, -EPERM,
                                          "a change through a console session needs the session's CSRF token in "
                                          "the X-CSRF-Token header");
                break;
        }
        pthread_mutex_unlock(&ss->lock);
        if (found && !vol_tokens_exists(s, token_id)) {
                vol_sessions_drop_token(s, token_id);
                token_gone = true;
        }
        if (!found || token_gone) {
                memset(ret, 0, sizeof(*ret));
                return vol_auth_failed(s, client, token_gone ? "the session's token was revoked" : why, err);
        }
        if (r < 0)
                memset(ret, 0, sizeof(*ret));
        return r;
}

void vol_service_session_close(struct vol_service *s, const char *sid)
{
        struct vol_sessions *ss = s->sessions;
        if (!sid || strnlen(sid, VOL_SESSION_LEN + 1) != VOL_SESSION_LEN)
                return;
        pthread_mutex_lock(&ss->lock);
        for (size_t i = 0; i < ss->n; i++)
                if (vol_token_equal(ss->items[i].sid, sid, VOL_SESSION_LEN)) {
                        drop_at(ss, i);
                        break;
                }
        pthread_mutex_unlock(&ss->lock);
}

void vol_sessions_drop_token(struct vol_service *s, const char *token_id)
{
        struct vol_sessions *ss = s->sessions;
        pthread_mutex_lock(&ss->lock);
        for (size_t i = 0; i < ss->n;)
                if (!strcmp(ss->items[i].token_id, token_id))
                        drop_at(ss, i);
                else
                        i++;
        pthread_mutex_unlock(&ss->lock);
}
