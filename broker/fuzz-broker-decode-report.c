/* decode_report (POST /v1/hosts/{name}/report) over arbitrary bodies; ASan checks that a refused
 * report frees every thumbnail it had decoded. */
#include "broker-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HostReport r;
        ApiError e = {};
        int k = decode_report((const char *) data, size, &r, &e);
        if (k == -EINVAL && (!e.code || e.status < 400))
                __builtin_trap();
        if (k >= 0) {
                for (size_t i = 0; i < r.n_domains; i++)
                        if (r.domains[i].thumbnail && r.domains[i].thumbnail_len > REPORT_THUMBNAIL_MAX)
                                __builtin_trap();
                host_report_done(&r);
        }
        return 0;
}
