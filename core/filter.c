#include "filter.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

void vol_filter_init(struct vol_filter *f)
{
        memset(f, 0, sizeof(*f));
        f->dangling = -1;
}

static char *dup_or_null(const char *s)
{
        return s ? xstrdup(s) : NULL;
}

void vol_filter_copy(struct vol_filter *dst, const struct vol_filter *src)
{
        dst->driver = dup_or_null(src->driver);
        dst->tenant = dup_or_null(src->tenant);
        dst->env = dup_or_null(src->env);
        dst->app = dup_or_null(src->app);
        dst->name = dup_or_null(src->name);
        dst->dangling = src->dangling;
        dst->n_labels = src->n_labels;
        dst->labels = src->n_labels ? xcalloc(src->n_labels, sizeof(*dst->labels)) : NULL;
        for (size_t i = 0; i < src->n_labels; i++) {
                dst->labels[i].key = xstrdup(src->labels[i].key);
                dst->labels[i].value = dup_or_null(src->labels[i].value);
        }
}

void vol_filter_free(struct vol_filter *f)
{
        free(f->driver);
        free(f->tenant);
        free(f->env);
        free(f->app);
        free(f->name);
        for (size_t i = 0; i < f->n_labels; i++) {
                free(f->labels[i].key);
                free(f->labels[i].value);
        }
        free(f->labels);
        vol_filter_init(f);
}

static int set_once(char **slot, const char *key, const char *value, struct vol_error *err)
{
        if (*slot)
                return vol_error_set(err, -EINVAL, "filter %s is given twice", key);
        if (!*value)
                return vol_error_set(err, -EINVAL, "filter %s has an empty value", key);
        *slot = xstrdup(value);
        return 0;
}

int vol_filter_add(struct vol_filter *f, const char *text, struct vol_error *err)
{
        const char *eq = strchr(text, '=');
        if (!eq || eq == text)
                return vol_error_set(err, -EINVAL, "filter \"%.64s\" is not key=value", text);
        size_t kn = (size_t)(eq - text);
        const char *value = eq + 1;
        size_t used = f->n_labels + !!f->driver + !!f->tenant + !!f->env + !!f->app + !!f->name +
                      (f->dangling >= 0);
        if (used >= VOL_FILTERS_MAX)
                return vol_error_set(err, -E2BIG, "more than %d filters", VOL_FILTERS_MAX);
#define KEY(s) (kn == strlen(s) && !strncmp(text, s, kn))
        if (KEY("driver"))
                return set_once(&f->driver, "driver", value, err);
        if (KEY("tenant"))
                return set_once(&f->tenant, "tenant", value, err);
        if (KEY("env"))
                return set_once(&f->env, "env", value, err);
        if (KEY("app"))
                return set_once(&f->app, "app", value, err);
        if (KEY("name"))
                return set_once(&f->name, "name", value, err);
        if (KEY("dangling")) {
                if (f->dangling >= 0)
                        return vol_error_set(err, -EINVAL, "filter dangling is given twice");
                if (!strcmp(value, "true") || !strcmp(value, "1"))
                        f->dangling = 1;
                else if (!strcmp(value, "false") || !strcmp(value, "0"))
                        f->dangling = 0;
                else
                        return vol_error_set(err, -EINVAL, "filter dangling must be true or false");
                return 0;
        }
        if (KEY("label")) {
                if (!*value || *value == '=')
                        return vol_error_set(err, -EINVAL, "filter label needs a key");
                const char *veq = strchr(value, '=');
                f->labels = xrealloc(f->labels, (f->n_labels + 1) * sizeof(*f->labels));
                struct vol_label_match *m = &f->labels[f->n_labels++];
                m->key = veq ? xstrndup(value, (size_t)(veq - value)) : xstrdup(value);
                m->value = veq ? xstrdup(veq + 1) : NULL;
                return 0;
        }
#undef KEY
        return vol_error_set(err, -EINVAL,
                             "unknown filter \"%.*s\"; known: label, driver, tenant, env, app, name, "
                             "dangling",
                             (int)(kn > 64 ? 64 : kn), text);
}

bool vol_filter_is_empty(const struct vol_filter *f)
{
        return !f->driver && !f->tenant && !f->env && !f->app && !f->name && f->dangling < 0 &&
               f->n_labels == 0;
}

bool vol_filter_match(const struct vol_filter *f, const struct vol_volume *v)
{
        if (f->driver && strcmp(f->driver, v->driver))
                return false;
        if (f->tenant && (!v->scope || strcmp(f->tenant, v->scope->tenant)))
                return false;
        if (f->env && (!v->scope || strcmp(f->env, v->scope->env)))
                return false;
        if (f->app && (!v->scope || strcmp(f->app, v->scope->app)))
                return false;
        if (f->name && !strstr(v->name, f->name))
                return false;
        if (f->dangling == 1 && v->n_mounts > 0)
                return false;
        if (f->dangling == 0 && v->n_mounts == 0)
                return false;
        for (size_t i = 0; i < f->n_labels; i++) {
                const char *have = vol_kvs_get(&v->labels, f->labels[i].key);
                if (!have)
                        return false;
                if (f->labels[i].value && strcmp(have, f->labels[i].value))
                        return false;
        }
        return true;
}
