/* Fuzzes the control socket's command parser. */
#include <stdint.h>
#include <string.h>

#include "hostd-control-command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ControlCommand c;
        const char *error = NULL;
        if (control_command_parse((const char *) data, size, &c, &error) == 0)
                (void) strlen(c.domain); /* a parsed name is always terminated */
        return 0;
}
