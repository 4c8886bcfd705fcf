/* Fuzzes the search for the agent channel's socket path in a domain's XML. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hostd-agent-channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[108];
        if (agent_channel_path((const char *) data, size, path, sizeof(path)) == 0)
                check(strlen(path) > 0 && strlen(path) < sizeof(path));
        return 0;
}
