/* The service's log and audit trail, through the callback the daemon sets. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static vol_log_fn log_fn;

void vol_service_set_log(vol_log_fn fn)
{
        log_fn = fn;
}

void vol_service_log(const char *level, const char *fmt, ...)
{
        if (!log_fn)
                return;
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_fn(level, msg);
}

void vol_service_audit(const struct vol_caller *caller, const char *what, int r,
                       const struct vol_error *err)
{
        const char *face = vol_face_name(caller->face);
        if (r >= 0)
                vol_service_log("info", "audit: %s (%s%s%s) %s: ok", face, caller->who,
                                caller->tenant ? ", tenant " : "", caller->tenant ? caller->tenant : "",
                                what);
        else
                vol_service_log(vol_error_http_status(r) >= 500 ? "error" : "warning",
                                "audit: %s (%s%s%s) %s: failed (%s): %s", face, caller->who,
                                caller->tenant ? ", tenant " : "", caller->tenant ? caller->tenant : "",
                                what, vol_error_code_name(r), vol_error_message(err));
}
