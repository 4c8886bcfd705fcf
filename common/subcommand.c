#include "subcommand.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f, const char *program, const Subcommand *table, size_t n, const char *footer) {
        fprintf(f, "Usage: %s COMMAND [ARGS...]\n\nCommands:\n", program);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "  %-9s %s\n", table[i].name, table[i].summary);
        if (footer)
                fprintf(f, "\n%s\n", footer);
}

int subcommand_dispatch(const char *program, const Subcommand *table, size_t n, const char *footer, int usage_exit,
                        int argc, char **argv) {
        if (argc < 2) {
                usage(stderr, program, table, n, footer);
                return usage_exit;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout, program, table, n, footer);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (strcmp(argv[1], table[i].name) == 0)
                        return table[i].run(argc - 1, argv + 1);
        fprintf(stderr, "Invalid command `%s' (", argv[1]);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, "%s%s", table[i].name, i + 2 < n ? ", " : i + 1 < n ? " or " : ")\n");
        return usage_exit;
}
