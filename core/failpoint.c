#include "failpoint.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char fp_name[128];
static long fp_count = 1;
static atomic_long fp_hits;

static void load(void)
{
        const char *e = getenv("VOLMAN_FAILPOINT");
        if (!e || !*e)
                return;
        strncpy(fp_name, e, sizeof(fp_name) - 1);
        char *c = strchr(fp_name, ':');
        if (c) {
                *c = 0;
                fp_count = strtol(c + 1, NULL, 10);
                if (fp_count < 1)
                        fp_count = 1;
        }
}

void vol_failpoint(const char *name)
{
        pthread_once(&once, load);
        if (!fp_name[0] || strcmp(fp_name, name))
                return;
        if (atomic_fetch_add(&fp_hits, 1) + 1 >= fp_count)
                kill(getpid(), SIGKILL);
}
