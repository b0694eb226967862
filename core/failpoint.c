#include "failpoint.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char fp_name[128];
static long fp_count = 1;
static bool fp_eio;
static bool fp_stall;
static atomic_long fp_hits;
static void (*fp_killer)(void);

int vol_failpoint_configure(const char *spec, struct vol_error *err)
{
        fp_name[0] = 0;
        fp_count = 1;
        fp_eio = false;
        fp_stall = false;
        atomic_store(&fp_hits, 0);
        if (!spec || !*spec)
                return 0;
        char buf[sizeof(fp_name)];
        if (strlen(spec) >= sizeof(buf))
                return vol_error_set(err, -EINVAL, "failpoint spec is longer than %zu bytes", sizeof(buf) - 1);
        strcpy(buf, spec);
        char *eq = strchr(buf, '=');
        if (eq) {
                *eq++ = 0;
                if (!strcmp(eq, "eio"))
                        fp_eio = true;
                else if (!strcmp(eq, "stall"))
                        fp_stall = true;
                else if (strcmp(eq, "kill"))
                        return vol_error_set(err, -EINVAL, "failpoint action \"%s\" is not kill, eio or stall",
                                             eq);
        }
        char *colon = strchr(buf, ':');
        long count = 1;
        if (colon) {
                *colon++ = 0;
                char *end;
                count = strtol(colon, &end, 10);
                if (!*colon || *end)
                        return vol_error_set(err, -EINVAL, "failpoint count \"%s\" is not a number", colon);
                if (count < 1)
                        count = 1;
        }
        if (!*buf)
                return vol_error_set(err, -EINVAL, "failpoint spec has no name");
        strcpy(fp_name, buf);
        fp_count = count;
        return 0;
}

void vol_failpoint_set_killer(void (*killer)(void))
{
        fp_killer = killer;
}

int vol_failpoint(const char *name)
{
        if (!fp_name[0] || strcmp(fp_name, name))
                return 0;
        if (atomic_fetch_add(&fp_hits, 1) + 1 < fp_count)
                return 0;
        if (fp_eio)
                return -EIO;
        if (fp_stall) {
                struct timespec ts = {VOL_FAILPOINT_STALL_SECONDS, 0};
                while (nanosleep(&ts, &ts) < 0)
                        ;
                return 0;
        }
        if (fp_killer)
                fp_killer();
        abort(); /* a kill failpoint with no killer: die all the same */
}
