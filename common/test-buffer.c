/* Buffer: the limit is never exceeded (held or allocated), failures change nothing, and a random
 * mix of appends, reserves, consumes and truncations matches a plain model byte for byte. */
#include "check.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buffer.h"
#include "macro.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t) ((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void test_basics(void) {
        Buffer b = BUFFER_INIT(10);
        uint8_t *p = (uint8_t *) "unchanged";

        check(buffer_len(&b) == 0 && buffer_data(&b) == NULL && buffer_room(&b) == 10);
        check(buffer_reserve(&b, 0, &p) == 0 && p == NULL);
        check(buffer_append(&b, "0123456789", 10) == 0);
        check(buffer_room(&b) == 0 && b.cap <= 10);
        p = (uint8_t *) "unchanged";
        check(buffer_reserve(&b, 1, &p) == -ENOBUFS);
        check(strcmp((const char *) p, "unchanged") == 0);
        check(buffer_append(&b, "x", 1) == -ENOBUFS);
        check(buffer_len(&b) == 10 && memcmp(buffer_data(&b), "0123456789", 10) == 0);

        buffer_consume(&b, 4);
        check(buffer_len(&b) == 6 && memcmp(buffer_data(&b), "456789", 6) == 0);
        /* Room at the front is reused without growing past the limit. */
        check(buffer_append(&b, "abcd", 4) == 0);
        check(b.cap <= 10 && memcmp(buffer_data(&b), "456789abcd", 10) == 0);
        buffer_consume(&b, 100);
        check(buffer_len(&b) == 0);

        check(buffer_reserve(&b, 5, &p) == 0);
        memcpy(p, "hello", 5);
        buffer_commit(&b, 3);
        check(buffer_len(&b) == 3 && memcmp(buffer_data(&b), "hel", 3) == 0);
        buffer_clear(&b);
        check(buffer_len(&b) == 0 && buffer_room(&b) == 10);
        buffer_done(&b);
        check(b.data == NULL && b.limit == 10);

        Buffer *h = NULL;
        check(buffer_new(3, &h) == 0 && h);
        check(buffer_append(h, "abcd", 4) == -ENOBUFS);
        check(buffer_append(h, "abc", 3) == 0);
        h = buffer_free(h);
        check(!buffer_free(NULL));

        Buffer z = BUFFER_INIT(0);
        check(buffer_append(&z, "a", 1) == -ENOBUFS && buffer_append(&z, "a", 0) == 0);
        buffer_done(&z);
}

static void test_model(void) {
        enum { LIMIT = 5000 };
        static uint8_t model[LIMIT];
        size_t model_len = 0;
        uint8_t next = 0;
        Buffer b = BUFFER_INIT(LIMIT);

        for (int i = 0; i < 200000; i++) {
                uint32_t op = rng() % 4, n = rng() % (rng() % 4 == 0 ? 3000 : 64);
                uint8_t chunk[3000];
                for (uint32_t k = 0; k < n; k++)
                        chunk[k] = next++;
                if (op == 0) {
                        int r = buffer_append(&b, chunk, n);
                        if (model_len + n > LIMIT) {
                                check(r == -ENOBUFS);
                                next -= (uint8_t) n;
                        } else {
                                check(r == 0);
                                memcpy(model + model_len, chunk, n);
                                model_len += n;
                        }
                } else if (op == 1) {
                        uint8_t *p;
                        int r = buffer_reserve(&b, n, &p);
                        if (model_len + n > LIMIT) {
                                check(r == -ENOBUFS);
                                next -= (uint8_t) n;
                        } else {
                                check(r == 0);
                                uint32_t used = n ? rng() % (n + 1) : 0;
                                memcpy(p, chunk, used);
                                buffer_commit(&b, used);
                                memcpy(model + model_len, chunk, used);
                                model_len += used;
                                next -= (uint8_t) (n - used);
                        }
                } else if (op == 3) {
                        size_t k = rng() % (model_len + 2); /* model_len + 1: past the end, a no-op */
                        buffer_truncate(&b, k);
                        model_len = MIN(model_len, k);
                } else {
                        size_t k = n % (model_len + 1);
                        buffer_consume(&b, k);
                        memmove(model, model + k, model_len - k);
                        model_len -= k;
                }
                check(buffer_len(&b) == model_len && b.cap <= LIMIT);
                check(model_len == 0 || memcmp(buffer_data(&b), model, model_len) == 0);
        }
        buffer_done(&b);
}

int main(void) {
        test_basics();
        test_model();
        printf("buffer ok\n");
        return 0;
}
