/* A command line tool as a table of subcommands (WireGuard tools' shape): `PROGRAM COMMAND ...`. */
#pragma once

#include <stddef.h>

typedef struct Subcommand {
        const char *name;
        int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
        const char *summary;
} Subcommand;

/* Runs the subcommand argv[1] names, or prints the usage (to stdout for --help/-h/help, exit 0;
 * to stderr otherwise, or one message quoting an unknown command, exit usage_exit). footer is a
 * line printed after the list. */
int subcommand_dispatch(const char *program, const Subcommand *table, size_t n, const char *footer, int usage_exit,
                        int argc, char **argv);
