/* store-contract: bury and relocate, a volume's move to another node
 * (store.h). A shared backend has both; a backend for one process neither. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xmalloc.h"
#include "harness.h"

struct seen {
        size_t n;
        char ids[8][37];
        char nodes[8][64];
};

static int take(const struct vol_tombstone *t, void *userdata)
{
        struct seen *s = userdata;
        CHECK(s->n < 8, "too many tombstones");
        memcpy(s->ids[s->n], t->id, 37);
        snprintf(s->nodes[s->n], 64, "%s", t->node ? t->node : "");
        s->n++;
        return 0;
}

static size_t buried(struct vol_store *s, const char *id, char node[64])
{
        struct seen seen = {0};
        CHECK(vol_store_list_tombstones(s, take, &seen, E) >= 0, "list tombstones");
        size_t found = 0;
        for (size_t i = 0; i < seen.n; i++)
                if (!strcmp(seen.ids[i], id)) {
                        found++;
                        snprintf(node, 64, "%s", seen.nodes[i]);
                }
        return found;
}

static void tomb_of(const struct vol_volume *v, struct vol_tombstone *t)
{
        memset(t, 0, sizeof(*t));
        memcpy(t->id, v->id, 37);
        t->name = v->name;
        t->driver = v->driver;
        t->mountpoint = v->mountpoint;
        t->options = v->options;
        t->retired_at = time(NULL);
        t->node = v->node;
}

void contract_relocate(struct vol_store *s)
{
        if (!is_shared(s)) {
                CHECK(!s->ops->bury && !s->ops->relocate, "a backend for one process has bury or relocate");
                return;
        }
        _cleanup_(vol_volume_freep) struct vol_volume *v = volume("moving", "local", 0x7001);
        v->node = xstrdup("n1");
        CHECK(vol_store_put(s, v, 0, VOL_SYNC_FULL, E) == 0, "create");
        /* the destination's new storage, buried first */
        _cleanup_(vol_volume_freep) struct vol_volume *nv = vol_volume_dup(v);
        make_id(nv->id, 0x7002);
        free(nv->node);
        nv->node = xstrdup("n3");
        free(nv->mountpoint);
        nv->mountpoint = xstrdup("/srv/n3/local/new");
        struct vol_tombstone t;
        tomb_of(nv, &t);
        char node[64];
        CHECK(vol_store_bury(s, &t, E) == 0, "bury");
        CHECK(buried(s, nv->id, node) == 1 && !strcmp(node, "n3"), "the buried storage, on n3");
        CHECK(vol_store_bury(s, &t, E) == 0 && buried(s, nv->id, node) == 1, "bury twice: one tombstone");

        /* a relocation on a stale revision changes nothing */
        struct vol_tombstone old;
        tomb_of(v, &old);
        int64_t rev = v->revision;
        CHECK(vol_store_relocate(s, nv, rev + 1000, &old, E) == -ESTALE, "relocate on a stale revision");
        CHECK(buried(s, v->id, node) == 0 && buried(s, nv->id, node) == 1, "a failed relocation buried nothing");
        check_stored(s, v, HERE);
        CHECK(vol_store_relocate(s, nv, 0, &old, E) == -EINVAL, "relocate without a revision");

        /* the flip: record, old storage buried, new one unburied, at once */
        CHECK(vol_store_relocate(s, nv, rev, &old, E) == 0, "relocate");
        CHECK(nv->revision > rev, "relocate sets the revision");
        check_stored(s, nv, HERE);
        CHECK(buried(s, v->id, node) == 1 && !strcmp(node, "n1"), "the old storage buried, on n1");
        CHECK(buried(s, nv->id, node) == 0, "the new storage no longer buried");
        /* the old revision is gone: a second flip from it fails */
        CHECK(vol_store_relocate(s, nv, rev, &old, E) == -ESTALE, "relocate twice");
        _cleanup_(vol_volume_freep) struct vol_volume *ghost = volume("ghost", "local", 0x7003);
        CHECK(vol_store_relocate(s, ghost, 5, &old, E) == -ENOENT, "relocate a volume that is not there");

        const char *ids[] = {v->id};
        CHECK(vol_store_drop_tombstones(s, ids, 1, VOL_SYNC_FULL, E) == 0, "drop");
        CHECK(vol_store_remove(s, nv->name, nv->revision, VOL_SYNC_FULL, E) == 0, "remove");
}
