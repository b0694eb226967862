#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

int vol_error_set(struct vol_error *err, int code, const char *fmt, ...)
{
        if (!err)
                return code;
        free(err->msg);
        va_list ap;
        va_start(ap, fmt);
        char *m;
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        err->code = code;
        err->msg = m;
        return code;
}

int vol_error_wrap(struct vol_error *err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        va_list ap;
        va_start(ap, fmt);
        char *ctx;
        if (vasprintf(&ctx, fmt, ap) < 0)
                ctx = NULL;
        va_end(ap);
        char *m = xasprintf("%s%s", ctx ? ctx : "", vol_error_message(err));
        free(ctx);
        free(err->msg);
        err->msg = m;
        if (err->code == 0)
                err->code = -EIO;
        return err->code;
}

void vol_error_clear(struct vol_error *err)
{
        if (!err)
                return;
        free(err->msg);
        err->msg = NULL;
        err->code = 0;
}

const char *vol_error_message(const struct vol_error *err)
{
        if (err && err->msg)
                return err->msg;
        if (err && err->code < 0)
                return strerror(-err->code);
        return "unknown error";
}

const char *vol_error_code_name(int code)
{
        switch (code) {
        case -EINVAL:
        case -ENAMETOOLONG:
                return "invalid_argument";
        case -ENOENT:
                return "not_found";
        case -EEXIST:
        case -ESTALE:
                return "conflict";
        case -EBUSY:
                return "in_use";
        case -EREMOTE:
                return "wrong_node";
        case -E2BIG:
        case -EMSGSIZE:
                return "too_large";
        case -ENOTSUP:
                return "not_supported";
        case -EPERM:
                return "forbidden";
        case -EACCES:
                return "unauthorized";
        case -EUSERS:
                return "too_many_requests";
        case -ENOSPC:
        case -EDQUOT:
                return "no_space";
        case -EAGAIN:
        case -ECONNREFUSED:
        case -ESHUTDOWN:
                return "unavailable";
        default:
                return "internal";
        }
}

int vol_error_http_status(int code)
{
        switch (code) {
        case -EINVAL:
        case -ENAMETOOLONG:
        case -ENOTSUP:
                return 400;
        case -ENOENT:
                return 404;
        case -EEXIST:
        case -ESTALE:
        case -EBUSY:
        case -EREMOTE:
                return 409;
        case -EPERM:
                return 403;
        case -EACCES:
                return 401;
        case -EUSERS:
                return 429;
        case -E2BIG:
        case -EMSGSIZE:
                return 413;
        case -ENOSPC:
        case -EDQUOT:
                return 507;
        case -EAGAIN:
        case -ECONNREFUSED:
        case -ESHUTDOWN:
                return 503;
        default:
                return 500;
        }
}
