/* Who may do what: decided here, once, for every face (DESIGN invariant 4).
 * Another tenant's things are "not found", never "forbidden". */
#include <string.h>

#include "internal.h"

bool vol_auth_may_see(const struct vol_caller *caller, const struct vol_volume *v)
{
        if (caller->face != VOL_FACE_TENANT)
                return true;
        return v->scope && caller->tenant && !strcmp(v->scope->tenant, caller->tenant);
}
