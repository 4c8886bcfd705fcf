/* Fuzzes the script parser and walks what it returns, so ASan sees any bad pointer in it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "viewer-script.h"

volatile size_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Script *s = NULL;
        char *error = NULL;

        if (script_parse("fuzz", (const char *) data, size, &s, &error) < 0) {
                if (error)
                        fuzz_sink += strlen(error);
                free(error);
                return 0;
        }
        for (size_t i = 0; i < s->n_commands; i++) {
                const ScriptCommand *c = &s->commands[i];
                fuzz_sink += c->line + strlen(script_command_name(c->type));
                if (script_command_has_text(c->type))
                        fuzz_sink += strlen(c->text);
        }
        script_free(s);
        return 0;
}
