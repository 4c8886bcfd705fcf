/* The user, token, desktop, connect and reboot decoders; the first byte picks one. */
#include "broker-decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        const char *body = (const char *) data + 1;
        size_t len = size - 1;
        ApiError e = {};
        int r;
        switch (data[0] % 5) {
        case 0: {
                UserSpec u;
                r = decode_user(body, len, &u, &e);
                break;
        }
        case 1: {
                TokenSpec t;
                r = decode_token(body, len, &t, &e);
                break;
        }
        case 2: {
                DesktopSpec d;
                r = decode_desktop(body, len, &d, &e);
                break;
        }
        case 3: {
                ConnectSpec c;
                r = decode_connect(body, len, &c, &e);
                break;
        }
        default: {
                RebootSpec s;
                r = decode_reboot(body, len, &s, &e);
                break;
        }
        }
        if (r == -EINVAL && (!e.code || e.status < 400))
                __builtin_trap();
        return 0;
}
