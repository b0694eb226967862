/* con-init's look at the /con areas before the app starts: the warnings for
 * DEFAULT areas and the ENV files. They print to stderr (con-init is the
 * outermost layer) and never fail the start: the app runs either way. */
#pragma once

/* Prints to stderr, for each area (configuration, context, secret, seed,
 * proc, data, log, var) whose directory con_fd/AREA holds an entry named
 * DEFAULT, its warning block, ending with a line ">>>". con names con_fd in
 * the messages ("/con"). Areas that do not exist are passed over. */
void con_warn_default_areas(int con_fd, const char *con);

/* Loads con_fd/configuration/ENV and then con_fd/secret/ENV (core/envfile.h)
 * into the environment with setenv, so that a key in both takes the secret's
 * value. A missing file is no error; a file that is not regular, is a
 * symbolic link or is larger than VOL_ENVFILE_MAX is not loaded, with a
 * message; a bad line is skipped with a message naming its number and never
 * its value. */
void con_load_env_files(int con_fd, const char *con);
