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
};

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
