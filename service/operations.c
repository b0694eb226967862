/* Long operations under way (export, import, clone, snapshot), for
 * GET /v1/operations: what, on which volume, since when, how far (bytes and
 * entries so far, and the total when known), and how it ended. The caller
 * names an operation (a request header) so that it can ask while the
 * request runs. Kept in memory: a finished one stays listed for ten minutes;
 * a restart forgets them all (the volumes say how things ended). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"
#include "internal.h"

#define OPS_MAX 256
#define KEEP_S 600

struct op {
        bool used;
        char id[VOL_OPERATION_ID_MAX + 1];
        char kind[16];
        char volume[VOL_NAME_MAX + 1];
        char owner[VOL_OWNER_MAX];
        int64_t started, finished; /* unix seconds; finished 0: running */
        int result;                /* 0 or < 0 once finished */
        char message[256];
        struct vol_transfer_progress *progress; /* while running */
        uint64_t bytes, entries, total;
};

static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static struct op ops[OPS_MAX];

int vol_validate_operation_id(const char *id, struct vol_error *err)
{
        size_t n = id ? strlen(id) : 0;
        if (n < 8 || n > VOL_OPERATION_ID_MAX)
                return vol_error_set(err, -EINVAL, "an operation id is 8 to %d characters", VOL_OPERATION_ID_MAX);
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
                        return vol_error_set(err, -EINVAL, "an operation id holds a-z, 0-9 and - only");
        return 0;
}

struct op *vol_operation_begin(const struct vol_caller *caller, const char *id, const char *kind, const char *volume,
                               struct vol_transfer_progress *progress, uint64_t total)
{
        if (!id || vol_validate_operation_id(id, NULL) < 0)
                return NULL;
        int64_t now = (int64_t)time(NULL);
        pthread_mutex_lock(&ops_lock);
        struct op *slot = NULL, *oldest = NULL;
        for (size_t i = 0; i < OPS_MAX; i++) {
                struct op *o = &ops[i];
                if (o->used && o->finished && now - o->finished > KEEP_S)
                        o->used = false;
                if (o->used && !strcmp(o->id, id)) {
                        slot = o; /* an id used again: the newer wins */
                        break;
                }
                if (!o->used && !slot)
                        slot = o;
                if (o->used && o->finished && (!oldest || o->finished < oldest->finished))
                        oldest = o;
        }
        if (!slot)
                slot = oldest; /* full: the oldest finished one goes */
        if (slot) {
                memset(slot, 0, sizeof(*slot));
                slot->used = true;
                snprintf(slot->id, sizeof(slot->id), "%s", id);
                snprintf(slot->kind, sizeof(slot->kind), "%s", kind);
                snprintf(slot->volume, sizeof(slot->volume), "%s", volume ? volume : "");
                vol_caller_owner(caller, slot->owner);
                slot->started = now;
                slot->progress = progress;
                slot->total = total;
        }
        pthread_mutex_unlock(&ops_lock);
        return slot;
}

void vol_operation_end(struct op *o, const char *volume, int r, const struct vol_error *err)
{
        if (!o)
                return;
        pthread_mutex_lock(&ops_lock);
        if (o->progress) {
                o->bytes = o->progress->bytes;
                o->entries = o->progress->entries;
        }
        o->progress = NULL;
        if (volume)
                snprintf(o->volume, sizeof(o->volume), "%s", volume);
        o->finished = (int64_t)time(NULL);
        o->result = r;
        if (r < 0)
                snprintf(o->message, sizeof(o->message), "%s", vol_error_message(err));
        pthread_mutex_unlock(&ops_lock);
}

static void fill(const struct op *o, struct vol_operation *ret)
{
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->id, sizeof(ret->id), "%s", o->id);
        snprintf(ret->kind, sizeof(ret->kind), "%s", o->kind);
        snprintf(ret->volume, sizeof(ret->volume), "%s", o->volume);
        ret->started = o->started;
        ret->finished = o->finished;
        ret->result = o->result;
        snprintf(ret->message, sizeof(ret->message), "%s", o->message);
        ret->bytes = o->progress ? o->progress->bytes : o->bytes;
        ret->entries = o->progress ? o->progress->entries : o->entries;
        ret->total = o->total;
}

static bool may_see(const struct vol_caller *caller, const struct op *o)
{
        if (vol_caller_is_admin(caller))
                return true;
        char owner[VOL_OWNER_MAX];
        return !strcmp(vol_caller_owner(caller, owner), o->owner);
}

int vol_service_operation_get(struct vol_service *s, const struct vol_caller *caller, const char *id,
                              struct vol_operation *ret, struct vol_error *err)
{
        int r = vol_validate_operation_id(id, err);
        if (r < 0)
                return r;
        r = -ENOENT;
        pthread_mutex_lock(&ops_lock);
        for (size_t i = 0; i < OPS_MAX; i++)
                if (ops[i].used && !strcmp(ops[i].id, id) && may_see(caller, &ops[i])) {
                        fill(&ops[i], ret);
                        r = 0;
                        break;
                }
        pthread_mutex_unlock(&ops_lock);
        return r < 0 ? vol_error_set(err, r, "operation %s not found", id) : 0;
}

int vol_service_operation_list(struct vol_service *s, const struct vol_caller *caller, vol_operation_cb cb,
                               void *userdata)
{
        struct vol_operation *list = xcalloc(OPS_MAX, sizeof(*list));
        size_t n = 0;
        pthread_mutex_lock(&ops_lock);
        for (size_t i = 0; i < OPS_MAX; i++)
                if (ops[i].used && may_see(caller, &ops[i]))
                        fill(&ops[i], &list[n++]);
        pthread_mutex_unlock(&ops_lock);
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++)
                r = cb(&list[i], userdata);
        free(list);
        return r;
}
