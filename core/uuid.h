/* Random (version 4) UUIDs: the ids of volumes, snapshots and moves. */
#pragma once

#define VOL_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", without the NUL */

/* Writes a fresh random UUID, lower case, NUL-terminated, into out. One
 * getrandom(2) call: the kernel's CSPRNG, which never blocks once it is
 * seeded at boot. Aborts if the kernel cannot give random bytes (a daemon
 * without them cannot make ids that never collide). */
void vol_uuid_random(char out[VOL_UUID_LEN + 1]);
