/* base64url: RFC 4648 vectors, round trips at every length, and the strict decoder's refusals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64url.h"
#include "check.h"

static void check_vector(const char *plain, const char *text) {
        char out[64];
        size_t len = 0;
        uint8_t back[64];

        check(base64url_encode((const uint8_t *) plain, strlen(plain), out, sizeof(out), &len) == 0);
        check(len == strlen(text) && strcmp(out, text) == 0);
        check(base64url_encoded_length(strlen(plain)) == strlen(text));
        check(base64url_decode(text, strlen(text), back, sizeof(back), &len) == 0);
        check(len == strlen(plain) && memcmp(back, plain, len) == 0);
}

static void test_vectors(void) {
        check_vector("", "");
        check_vector("f", "Zg");
        check_vector("fo", "Zm8");
        check_vector("foo", "Zm9v");
        check_vector("foob", "Zm9vYg");
        check_vector("fooba", "Zm9vYmE");
        check_vector("foobar", "Zm9vYmFy");
        check_vector("\xfb\xff", "-_8");   /* "+/8=" in standard base64 */
        check_vector("\xfb\xff\xbf", "-_-_"); /* "+/+/" */
}

static void test_round_trips(void) {
        uint8_t data[300], back[300];
        char text[401];
        srand(1);
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) rand();

        for (size_t len = 0; len <= sizeof(data); len++) {
                size_t tlen = 0, blen = 0;
                check(base64url_encode(data, len, text, sizeof(text), &tlen) == 0);
                check(tlen == base64url_encoded_length(len) && strlen(text) == tlen);
                check(base64url_decoded_length_max(tlen) == len);
                check(base64url_decode(text, tlen, back, sizeof(back), &blen) == 0);
                check(blen == len && memcmp(back, data, len) == 0);

                /* Exactly enough room works; one byte less does not. */
                char exact[401];
                check(base64url_encode(data, len, exact, tlen + 1, NULL) == 0);
                check(base64url_encode(data, len, exact, tlen, NULL) == -ENOBUFS);
                if (len > 0) {
                        uint8_t small[300];
                        memset(small, 0xaa, sizeof(small));
                        check(base64url_decode(text, tlen, small, len - 1, &blen) == -ENOBUFS);
                        check(small[0] == 0xaa && blen == len); /* untouched */
                }
        }

        char *s = NULL;
        check(base64url_encode_alloc(data, 5, &s) == 0);
        check(strlen(s) == 7);
        free(s);
}

static void refused(const char *text, size_t len) {
        uint8_t out[64];
        size_t out_len = 12345;
        memset(out, 0x55, sizeof(out));
        check(base64url_decode(text, len, out, sizeof(out), &out_len) == -EINVAL);
        check(out_len == 12345 && out[0] == 0x55);
}

static void test_refusals(void) {
        refused("Zg==", 4); /* padding */
        refused("Zg=", 3);
        refused("Zm9vYg==", 8);
        refused("Z", 1); /* 6 bits: not a byte */
        refused("Zm9vY", 5);
        refused("Zm9v\n", 5); /* whitespace */
        refused(" Zm9v", 5);
        refused("Zm 9v", 5);
        refused("Zm+v", 4); /* standard base64's alphabet */
        refused("Zm/v", 4);
        refused("Zm9\0", 4); /* NUL inside the length */
        refused("Zh", 2);    /* 'h' leaves a non-zero bit below the byte */
        refused("Zm9", 3);   /* '9' likewise */
        refused("Zm9vYmF5", 7); /* "Zm9vYmF": 'F' has bits below the byte */

        /* Every byte value alone in a valid text: only the 64 characters pass. */
        int accepted = 0;
        for (int c = 0; c < 256; c++) {
                char text[4] = { 'A', 'A', 'A', (char) c };
                uint8_t out[3];
                if (base64url_decode(text, 4, out, sizeof(out), NULL) == 0)
                        accepted++;
        }
        check(accepted == 64);
}

int main(void) {
        test_vectors();
        test_round_trips();
        test_refusals();
        printf("ok\n");
        return 0;
}
