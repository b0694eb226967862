#include "caller.h"

#include <stdio.h>

const struct vol_caller vol_caller_system = {VOL_FACE_SYSTEM, NULL, "volmand", NULL};

const char *vol_face_name(enum vol_face face)
{
        switch (face) {
        case VOL_FACE_ADMIN:
                return "admin";
        case VOL_FACE_TENANT:
                return "tenant";
        case VOL_FACE_PLUGIN:
                return "plugin";
        case VOL_FACE_SYSTEM:
                return "system";
        }
        return "unknown";
}

const char *vol_caller_owner(const struct vol_caller *c, char *buf)
{
        if (c->face == VOL_FACE_TENANT)
                snprintf(buf, VOL_OWNER_MAX, "tenant:%s", c->tenant ? c->tenant : "");
        else
                snprintf(buf, VOL_OWNER_MAX, "%s", vol_face_name(c->face));
        return buf;
}

bool vol_caller_is_admin(const struct vol_caller *c)
{
        return c->face == VOL_FACE_ADMIN || c->face == VOL_FACE_SYSTEM;
}

struct vol_caller vol_identity_caller(const struct vol_identity *id)
{
        if (!id->known)
                return (struct vol_caller){VOL_FACE_TENANT, "", "nobody", NULL};
        if (id->seed[0]) /* nobody, but for its app's secrets */
                return (struct vol_caller){VOL_FACE_TENANT, "", id->who[0] ? id->who : "seed", id->seed};
        if (id->face == VOL_FACE_ADMIN)
                return (struct vol_caller){VOL_FACE_ADMIN, NULL, id->who[0] ? id->who : "admin", NULL};
        return (struct vol_caller){VOL_FACE_TENANT, id->tenant, id->who[0] ? id->who : "nobody", NULL};
}
