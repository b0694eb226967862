/* Who asks: the caller model every face hands to the service. Pure: no I/O.
 *
 * `api/` only says who the caller is (which socket, which credentials or
 * token); `service/` decides, once for every face, what that caller may see
 * and do (DESIGN invariant 4). */
#pragma once

#include <stdbool.h>

enum vol_face {
        VOL_FACE_ADMIN,  /* the REST API on the unix socket (or an admin token) */
        VOL_FACE_TENANT, /* a tenant's token: sees and touches only its own things */
        VOL_FACE_PLUGIN, /* an engine on the volume plugin socket */
        VOL_FACE_SYSTEM, /* volmand itself: reconciliation, app deploys */
};

struct vol_caller {
        enum vol_face face;
        const char *tenant; /* VOL_FACE_TENANT: the tenant; else NULL */
        const char *who;    /* for the audit log: "uid 0 pid 812", "token ci"; never NULL */
        /* A seed token's app, "tenant/env/app": such a caller is otherwise
         * nobody (tenant ""), and may read that app's secrets alone. */
        const char *seed;
};

/* Who a credential (an admin's or a tenant's token, a session) stands for:
 * what `service/` answers when `api/` presents one. Plain data, so it can be
 * copied into a request and outlive the credential's table entry. A zeroed
 * identity is nobody. */
struct vol_identity {
        bool known;           /* false (a zeroed identity): nobody */
        enum vol_face face;   /* VOL_FACE_ADMIN or VOL_FACE_TENANT */
        char tenant[64];      /* VOL_FACE_TENANT: the tenant (a DNS label) */
        char who[96];         /* for the audit log: "token ci (3f2a9c01b7de) from 10.0.0.7" */
        char seed[200];       /* a seed token's app, "tenant/env/app"; else empty */
        char via[64];         /* cluster mode: the node that passed this call on; else empty */
};

/* The caller an identity makes; it points into id. Nobody (an identity never
 * filled in) sees nothing: a tenant caller with the empty tenant, which no
 * tenant name equals. */
struct vol_caller vol_identity_caller(const struct vol_identity *id);

/* "admin", "tenant", "plugin" or "system". */
const char *vol_face_name(enum vol_face face);

/* The owner a mount reference made by c records, in buf (at least
 * VOL_OWNER_MAX bytes): "admin", "plugin", "system" or "tenant:NAME". Only a
 * caller with the same owner may drop the reference. Returns buf. */
#define VOL_OWNER_MAX 80
const char *vol_caller_owner(const struct vol_caller *c, char *buf);

/* True when c is the admin or volmand itself: may see every tenant's things. */
bool vol_caller_is_admin(const struct vol_caller *c);

/* The caller volmand's own work runs as. */
extern const struct vol_caller vol_caller_system;
