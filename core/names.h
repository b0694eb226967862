/* Deterministic, injective volume names for scoped volumes. Pure: no I/O.
 * The algorithm is documented in docs/names.md. */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "volume.h"

#define VOL_PREFIX_MAX 32 /* bytes in a name prefix */

/* Validates a name prefix: a DNS label, [a-z0-9]([a-z0-9-]*[a-z0-9])?,
 * 1..VOL_PREFIX_MAX bytes. Returns 0 or -EINVAL with a message. */
int vol_validate_prefix(const char *prefix, struct vol_error *err);

/* Computes the name of the volume for (prefix, scope):
 *   {prefix}-{tenant}-{env}-{app}-{slug-of-path}
 * Two different (prefix, tenant, env, app, path) tuples never give the same
 * name while the result fits VOL_NAME_MAX; longer results are cut and end in a
 * hash of the whole tuple, in a form no short name can take. The result is
 * always a valid volume name (vol_validate_name).
 * Validates prefix and scope first. Returns 0 and a heap string in *ret_name
 * (caller frees), or -EINVAL with a message; *ret_name is untouched on failure. */
int vol_name_for_scope(const char *prefix, const struct vol_scope *scope, char **ret_name,
                       struct vol_error *err);

/* True when name has the form of a scoped name under prefix: it starts with
 * the prefix as scoped names write it (each '-' doubled) and a '-'. Such
 * names belong to scopes alone (an unscoped volume may not take one, or it
 * could squat a tenant's name). */
bool vol_name_is_scoped_form(const char *prefix, const char *name);

/* The name of generation `generation` of an app's container:
 * {prefix}-{tenant}-{env}-{app}-{generation}, with the same hyphen doubling
 * as scoped names so that two apps never share a name. Returns 0 and a heap
 * string, or -EINVAL with a message. */
int vol_app_container_name(const char *prefix, const char *tenant, const char *env, const char *app,
                           unsigned long generation, char **ret_name, struct vol_error *err);
