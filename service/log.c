/* The service's log and audit trail, through the callback the daemon sets. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static vol_log_fn log_fn;
static int log_min = VOL_LOG_INFO;

void vol_service_set_log(vol_log_fn fn)
{
        log_fn = fn;
}

int vol_log_level_from_name(const char *name)
{
        static const char *const names[] = {"debug", "info", "warning", "error"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

void vol_service_set_log_level(enum vol_log_level min)
{
        __atomic_store_n(&log_min, (int)min, __ATOMIC_RELAXED);
}

bool vol_service_log_enabled(const char *level)
{
        int l = vol_log_level_from_name(level);
        return (l < 0 ? VOL_LOG_INFO : l) >= __atomic_load_n(&log_min, __ATOMIC_RELAXED);
}

void vol_service_log(const char *level, const char *fmt, ...)
{
        if (!log_fn || !vol_service_log_enabled(level))
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
