/* The session helper's parts without X: UTF-8 clean-up and conversions, the reassembly of the
 * peer's clipboard chunks (order, caps, totals), and the choice and scaling of icons from
 * _NET_WM_ICON data, hostile sizes included. */
#include "check.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session-text.h"
#include "session-transfer.h"
#include "x11-icon.h"

static void test_text(void) {
        char out[64];
        /* Valid UTF-8 passes; invalid bytes, NULs, surrogates and overlong forms become '?'. */
        const char *ok = "héllo ✓ 😀";
        check(utf8_sanitize((const uint8_t *) ok, strlen(ok), out, sizeof(out)) == strlen(ok));
        check(memcmp(out, ok, strlen(ok)) == 0);
        const uint8_t bad[] = { 'a', 0xff, 'b', 0, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xe2, 0x9c };
        size_t n = utf8_sanitize(bad, sizeof(bad), out, sizeof(out));
        check(n == 11 && memcmp(out, "a?b????????", 11) == 0); /* one per bad byte */
        /* A character that would cross the limit is left out whole. */
        check(utf8_sanitize((const uint8_t *) "ab✓", 5, out, 4) == 2);

        uint8_t u[16], l[16];
        size_t len;
        check(latin1_to_utf8((const uint8_t *) "\xc4x\xff", 3, u, sizeof(u), &len) == 0);
        check(len == 5 && memcmp(u, "Äxÿ", 5) == 0);
        check(latin1_to_utf8((const uint8_t *) "\xc4\xc4", 2, u, 3, &len) == -ENOBUFS);
        check(utf8_to_latin1((const uint8_t *) "Äx✓\xff", 7, l) == 4);
        check(memcmp(l, "\xc4x??", 4) == 0);
}

static void test_transfer(void) {
        ClipTransfer t;
        clip_transfer_init(&t, 100);
        size_t len;

        /* In order, in three chunks. */
        check(clip_transfer_feed(&t, 10, 0, (const uint8_t *) "abc", 3) == 0);
        check(clip_transfer_feed(&t, 10, 3, (const uint8_t *) "defg", 4) == 0);
        check(clip_transfer_feed(&t, 10, 7, (const uint8_t *) "hij", 3) == 1);
        uint8_t *p = clip_transfer_steal(&t, &len);
        check(len == 10 && memcmp(p, "abcdefghij", 10) == 0);
        free(p);
        check(!t.started && !t.data);

        /* Nothing to give. */
        check(clip_transfer_feed(&t, 0, 0, NULL, 0) == 1);
        clip_transfer_reset(&t);

        /* Not starting at 0, a gap, a repeat, a changed total, past the total, over the cap. */
        check(clip_transfer_feed(&t, 10, 3, (const uint8_t *) "abc", 3) == -EPROTO);
        check(clip_transfer_feed(&t, 10, 0, (const uint8_t *) "abc", 3) == 0);
        check(clip_transfer_feed(&t, 10, 4, (const uint8_t *) "x", 1) == -EPROTO);
        check(!t.started);
        check(clip_transfer_feed(&t, 10, 0, (const uint8_t *) "abc", 3) == 0);
        check(clip_transfer_feed(&t, 10, 0, (const uint8_t *) "abc", 3) == -EPROTO);
        check(clip_transfer_feed(&t, 10, 0, (const uint8_t *) "abc", 3) == 0);
        check(clip_transfer_feed(&t, 11, 3, (const uint8_t *) "d", 1) == -EPROTO);
        check(clip_transfer_feed(&t, 4, 0, (const uint8_t *) "abcde", 5) == -EPROTO);
        check(clip_transfer_feed(&t, 101, 0, (const uint8_t *) "a", 1) == -EMSGSIZE);
        check(clip_transfer_feed(&t, 100, 0, (const uint8_t *) "a", 1) == 0);
        /* Memory follows what arrived, not the announced total. */
        check(t.allocated <= 100);
        clip_transfer_reset(&t);

        ClipTransfer big;
        clip_transfer_init(&big, 16u << 20);
        check(clip_transfer_feed(&big, 16u << 20, 0, (const uint8_t *) "a", 1) == 0);
        check(big.allocated == 65536);
        clip_transfer_reset(&big);
}

static void test_icon(void) {
        static uint8_t argb[X11_ICON_MAX * X11_ICON_MAX * 4];
        unsigned w, h;
        unsigned long *d = calloc(2 + 16 * 16 + 2 + 32 * 32 + 2 + 128 * 128, sizeof(unsigned long));
        size_t n = 0;
        d[n++] = 16, d[n++] = 16;
        for (int i = 0; i < 16 * 16; i++)
                d[n++] = 0xff000001;
        d[n++] = 32, d[n++] = 32;
        for (int i = 0; i < 32 * 32; i++)
                d[n++] = 0xff000002;
        d[n++] = 128, d[n++] = 128;
        for (int i = 0; i < 128 * 128; i++)
                d[n++] = 0xff000003;
        /* The largest that fits, as little-endian ARGB. */
        check(x11_icon_pick(d, n, argb, &w, &h) == 0 && w == 32 && h == 32);
        check(argb[0] == 2 && argb[3] == 0xff);
        /* Only a large one: scaled, aspect kept. */
        size_t at = 2 + 16 * 16 + 2 + 32 * 32;
        d[at] = 128, d[at + 1] = 64;
        check(x11_icon_pick(d + at, 2 + 128 * 64, argb, &w, &h) == 0 && w == 64 && h == 32);
        check(argb[0] == 3);
        /* Truncated: the first icon claims more pixels than there are; nothing usable. */
        check(x11_icon_pick(d, 2 + 100, argb, &w, &h) == -ENOENT);
        /* Sizes that overflow or are zero. */
        unsigned long huge[] = { 0xffffffffUL, 0xffffffffUL, 1, 2, 3 };
        check(x11_icon_pick(huge, 5, argb, &w, &h) == -ENOENT);
        unsigned long zero[] = { 0, 5, 1 };
        check(x11_icon_pick(zero, 3, argb, &w, &h) == -ENOENT);
        check(x11_icon_pick(d, 1, argb, &w, &h) == -ENOENT);
        /* A tall thin one scales to at least a pixel wide. */
        unsigned long *thin = calloc(2 + 1000, sizeof(unsigned long));
        thin[0] = 1, thin[1] = 1000;
        check(x11_icon_pick(thin, 1002, argb, &w, &h) == 0 && w == 1 && h == 64);
        free(thin);
        free(d);
}

int main(void) {
        test_text();
        test_transfer();
        test_icon();
        return 0;
}
