/* decode_pool over arbitrary bodies: first byte picks create or update. */
#include "broker-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        PoolSpec p;
        ApiError e;
        if (decode_pool((const char *) data + 1, size - 1, data[0] & 1, &p, &e) < 0 && (!e.code || e.status < 400))
                __builtin_trap(); /* a refusal always says why */
        return 0;
}
