/* Fuzzes the base64url decoder: whatever it accepts re-encodes to the very same text (one text
 * per byte string), and any bytes encode and decode back. */
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t cap = base64url_decoded_length_max(size);
        uint8_t *bytes = malloc(cap ? cap : 1);
        char *text = malloc(base64url_encoded_length(size) + 1);
        size_t len = 0, text_len = 0;
        check(bytes && text);

        if (base64url_decode((const char *) data, size, bytes, cap, &len) == 0) {
                check(len == cap);
                check(base64url_encode(bytes, len, text, size + 1, &text_len) == 0);
                check(text_len == size && memcmp(text, data, size) == 0);
        }
        free(bytes);

        /* The other way: the input as bytes. */
        check(base64url_encode(data, size, text, base64url_encoded_length(size) + 1, &text_len) == 0);
        bytes = malloc(size ? size : 1);
        check(bytes);
        check(base64url_decode(text, text_len, bytes, size, &len) == 0);
        check(len == size && memcmp(bytes, data, size) == 0);
        free(bytes);
        free(text);
        return 0;
}
