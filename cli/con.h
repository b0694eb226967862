/* `volman app file ...` and `volman app secret ...` (con.c): the files and
 * secrets of the /con interface, registered in app.c's command table. */
#pragma once

#include "cli.h"

/* `volman app file put|ls|get|rm`. */
int cli_app_file(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);

/* `volman app secret put|ls|rm`. */
int cli_app_secret(struct cli_context *ctx, int argc, char **argv, struct vol_error *err);
