/* store-contract: the contract of store/store.h, checked through the ops
 * table on a real backend, so that every backend is held to the same rules
 * (tests/cluster/test_store_contract.py runs it on sqlite and on etcd).
 *
 *   store-contract BACKEND LOCATION
 *       every op on a fresh store: put/get/view and the revision rules
 *       (-EEXIST, -ESTALE, -ENOENT), list order, after, limit and filters,
 *       list_json, count, retire and tombstones, documents, and session
 *       documents where the backend has them (NULL where it must not).
 *   store-contract race BACKEND LOCATION N
 *       N threads, each with its own store handle: all create one name with
 *       expect_rev 0 (exactly one wins, the rest get -EEXIST), then each
 *       adds 1 to a counter document 200 times by compare-and-swap (read,
 *       put with expect_rev, again on -ESTALE): the count must be N*200.
 *       Prints "retries=K" (how many -ESTALE were met).
 *   store-contract down BACKEND LOCATION
 *       for a test that stops and starts the backend (etcd): writes, prints
 *       "written N"; after "stopped" on stdin, every op must fail with
 *       -EAGAIN naming the endpoint ("down-ok MS MESSAGE"); after "started",
 *       the same handle must work again and hold every acknowledged write
 *       ("up-ok").
 *   store-contract hung BACKEND LOCATION
 *       the same with the backend frozen (SIGSTOP) instead: requests time
 *       out, and a write that did may or may not be there afterwards.
 *   store-contract session BACKEND LOCATION TTL
 *       a session document stays while renewals go on, vanishes within
 *       TTL+2 s once they stop ("vanished-after-ms=MS"), and a lapsed
 *       session is reported and started anew.
 *   store-contract bigdocs BACKEND LOCATION
 *       40 documents of 1.4 MB listed whole and in order: more than one
 *       answer of etcd's may hold (64 MiB).
 *
 * Exit status 0 when every check held; 1 with the first failed check (its
 * line, the condition and the store's last error) on stderr; 64 for bad
 * usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static int usage(void)
{
        fprintf(stderr, "usage: store-contract BACKEND LOCATION\n"
                        "       store-contract race BACKEND LOCATION N\n"
                        "       store-contract down|hung BACKEND LOCATION\n"
                        "       store-contract session BACKEND LOCATION TTL\n"
                        "       store-contract bigdocs BACKEND LOCATION\n");
        return 64;
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 3)
                return contract(argv[1], argv[2]);
        if (argc == 5 && !strcmp(argv[1], "race") && atoi(argv[4]) > 0)
                return race(argv[2], argv[3], (unsigned)atoi(argv[4]));
        if (argc == 4 && (!strcmp(argv[1], "down") || !strcmp(argv[1], "hung")))
                return down(argv[2], argv[3], !strcmp(argv[1], "hung"));
        if (argc == 4 && !strcmp(argv[1], "bigdocs"))
                return bigdocs(argv[2], argv[3]);
        if (argc == 5 && !strcmp(argv[1], "session") && atoi(argv[4]) > 0)
                return session(argv[2], argv[3], atoi(argv[4]));
        return usage();
}
