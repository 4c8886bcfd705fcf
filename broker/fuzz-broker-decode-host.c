/* decode_host (POST /v1/hosts) over arbitrary bodies. */
#include "broker-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HostSpec h;
        ApiError e = {};
        if (decode_host((const char *) data, size, &h, &e) < 0 && (!e.code || e.status < 400))
                __builtin_trap();
        return 0;
}
