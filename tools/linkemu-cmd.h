/* tandem-linkemu's subcommands that need a file of their own. Each takes its own argv (argv[0]
 * is the subcommand) and returns the exit status: 0, 1 for a failure, 2 for bad arguments. */
#pragma once

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
