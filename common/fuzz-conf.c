/* Fuzzes the INI parser with a table covering every value parser. */
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"

typedef struct {
        char *s;
        unsigned u;
        bool b;
        int level;
} Target;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const ConfItem items[] = {
                { "A", "S", conf_parse_string, offsetof(Target, s), 0 },
                { "A", "U", conf_parse_unsigned, offsetof(Target, u), 1000 },
                { "B", "B", conf_parse_bool, offsetof(Target, b), 0 },
                { "B", "L", conf_parse_log_level, offsetof(Target, level), 0 },
                {},
        };
        Target t = {};
        char *error = NULL;
        (void) conf_parse_buffer(items, &t, "fuzz", (const char *) data, size, &error);
        free(error);
        free(t.s);
        return 0;
}
