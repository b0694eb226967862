#include "kv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* Index of key, or -(insertion point) - 1. */
static long find(const struct vol_kvs *m, const char *key)
{
        size_t lo = 0, hi = m->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(m->items[mid].key, key);
                if (c == 0)
                        return (long)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -(long)lo - 1;
}

void vol_kvs_set(struct vol_kvs *m, const char *key, const char *value)
{
        long i = find(m, key);
        if (i >= 0) {
                free(m->items[i].value);
                m->items[i].value = xstrdup(value);
                return;
        }
        size_t at = (size_t)(-i - 1);
        m->items = xrealloc(m->items, (m->n + 1) * sizeof(*m->items));
        memmove(&m->items[at + 1], &m->items[at], (m->n - at) * sizeof(*m->items));
        m->items[at].key = xstrdup(key);
        m->items[at].value = xstrdup(value);
        m->n++;
}

const char *vol_kvs_get(const struct vol_kvs *m, const char *key)
{
        long i = find(m, key);
        return i >= 0 ? m->items[i].value : NULL;
}

bool vol_kvs_equal(const struct vol_kvs *a, const struct vol_kvs *b)
{
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->items[i].key, b->items[i].key) ||
                    strcmp(a->items[i].value, b->items[i].value))
                        return false;
        return true;
}

void vol_kvs_copy(struct vol_kvs *dst, const struct vol_kvs *src)
{
        dst->n = src->n;
        dst->items = src->n ? xcalloc(src->n, sizeof(*dst->items)) : NULL;
        for (size_t i = 0; i < src->n; i++) {
                dst->items[i].key = xstrdup(src->items[i].key);
                dst->items[i].value = xstrdup(src->items[i].value);
        }
}

void vol_kvs_free(struct vol_kvs *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->items[i].key);
                free(m->items[i].value);
        }
        free(m->items);
        m->items = NULL;
        m->n = 0;
}

int vol_kvs_set_pair(struct vol_kvs *m, const char *text)
{
        const char *eq = strchr(text, '=');
        if (!*text || eq == text)
                return -EINVAL;
        if (!eq) {
                vol_kvs_set(m, text, "");
                return 0;
        }
        char *key = xstrndup(text, (size_t)(eq - text));
        vol_kvs_set(m, key, eq + 1);
        free(key);
        return 0;
}
