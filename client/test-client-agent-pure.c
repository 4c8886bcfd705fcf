/* The agent features' pure pieces, driven directly: the status line, clipboard assembly (caps,
 * order, memory that follows what arrived), the window table (deltas, stacking, icons, caps,
 * hostile values), resize coalescing on a clock the test owns, and seamless windows' geometry
 * (cut, clip, offsets, extreme coordinates). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client-agent.h"
#include "viewer-seamless-geometry.h"

static void test_status_text(void) {
        char b[160];
        ClientAgentStatus st = {};

        client_agent_status_format(&st, b, sizeof(b));
        check(strcmp(b, "none (hypervisor path: no agent reported)") == 0);
        st = (ClientAgentStatus) { .known = true, .mode = WIRE_MODE_HYPERVISOR, .cause = WIRE_CAUSE_GUEST_REBOOT };
        client_agent_status_format(&st, b, sizeof(b));
        check(strcmp(b, "none (hypervisor path: guest reboot)") == 0);
        st = (ClientAgentStatus) { .known = true, .mode = WIRE_MODE_AGENT, .features = CLIENT_FEATURE_CLIPBOARD |
                                                                                         CLIENT_FEATURE_RESIZE |
                                                                                         CLIENT_FEATURE_POWER };
        client_agent_status_format(&st, b, sizeof(b));
        check(strcmp(b, "active (clipboard, resize, power)") == 0);
        st.features = 0;
        client_agent_status_format(&st, b, sizeof(b));
        check(strcmp(b, "active (no features)") == 0);
        st.features = CLIENT_FEATURE_CLIPBOARD_IMAGE | CLIENT_FEATURE_WINDOWS | CLIENT_FEATURE_HEARTBEAT |
                      CLIENT_FEATURE_SESSIONS;
        client_agent_status_format(&st, b, 20); /* cut short, still a string */
        check(strlen(b) == 19);
        check(strcmp(client_agent_cause_name(200), "unknown") == 0);
        check(client_agent_feature_from_name("clipboard") == CLIENT_FEATURE_CLIPBOARD);
        check(client_agent_feature_from_name("windows") == CLIENT_FEATURE_WINDOWS);
        check(client_agent_feature_from_name("active") == 0 && client_agent_feature_from_name("") == 0);
}

static int chunk(ClipboardInbound *in, uint32_t serial, uint8_t format, uint32_t total, uint32_t offset,
                 const void *data, size_t len) {
        WireClipboardData d = { .serial = serial, .format = format, .total = total, .offset = offset, .chunk = data,
                                .chunk_len = len };
        return clipboard_inbound_chunk(in, &d);
}

static void test_inbound(void) {
        ClipboardInbound in = {};
        static uint8_t big[CLIENT_CLIPBOARD_CHUNK_MAX + 1];

        check(chunk(&in, 1, 0, 3, 0, "abc", 3) == -ESTALE); /* nothing asked */
        clipboard_inbound_start(&in, 5, WIRE_FORMAT_TEXT);
        check(chunk(&in, 4, 0, 3, 0, "abc", 3) == -ESTALE);
        check(chunk(&in, 5, WIRE_FORMAT_PNG, 3, 0, "abc", 3) == -ESTALE);
        check(in.active); /* stale chunks leave it alone */
        check(chunk(&in, 5, 0, 6, 0, "abc", 3) == 0);
        /* A lying total costs only what arrived. */
        check(in.cap <= 7);
        check(chunk(&in, 5, 0, 6, 3, "def", 3) == 1);
        check(in.len == 6 && memcmp(in.data, "abcdef", 7) == 0);
        check(!in.active);
        check(chunk(&in, 5, 0, 6, 0, "abc", 3) == -ESTALE); /* done */
        clipboard_inbound_reset(&in);

        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, CLIENT_CLIPBOARD_TOTAL_MAX + 1, 0, "a", 1) == -EFBIG && !in.active && !in.data);
        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, CLIENT_CLIPBOARD_TOTAL_MAX, 0, "a", 1) == 0 && in.cap < 1024);
        check(chunk(&in, 6, 0, CLIENT_CLIPBOARD_TOTAL_MAX, 2, "a", 1) == -EPROTO && !in.active); /* a gap */
        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, 10, 0, "", 0) == -EPROTO); /* empty chunk of a non-empty transfer */
        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, 2, 0, "abc", 3) == -EPROTO); /* past the total */
        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, sizeof(big), 0, big, sizeof(big)) == -EPROTO); /* a chunk over 64 KiB */
        clipboard_inbound_start(&in, 6, WIRE_FORMAT_TEXT);
        check(chunk(&in, 6, 0, 4, 0, "ab", 2) == 0);
        check(chunk(&in, 6, 0, 5, 2, "cd", 2) == -EPROTO); /* the total changed */
        clipboard_inbound_start(&in, 7, WIRE_FORMAT_PNG);
        check(chunk(&in, 7, 1, 0, 0, NULL, 0) == 1 && in.len == 0 && in.data && in.data[0] == 0); /* nothing */
        /* Restarting drops what was there. */
        clipboard_inbound_start(&in, 8, WIRE_FORMAT_TEXT);
        check(chunk(&in, 8, 0, 4, 0, "ab", 2) == 0);
        clipboard_inbound_start(&in, 9, WIRE_FORMAT_TEXT);
        check(in.len == 0 && !in.data);
        clipboard_inbound_reset(&in);
}

static int update(ClientWindows *w, uint32_t id, int32_t x, int32_t y, uint32_t width, uint32_t height,
                  const char *title, size_t title_len) {
        WireWindowUpdate u = { .id = id, .state = 1, .x = x, .y = y, .width = width, .height = height, .title = title,
                               .title_len = title_len };
        return client_windows_update(w, &u);
}

static void ids(uint8_t *b, const uint32_t *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 4; k++)
                        b[4 * i + k] = (uint8_t) (v[i] >> (8 * k));
}

static void check_order(const ClientWindows *w, const uint32_t *want, size_t n) {
        check(w->n == n);
        for (size_t i = 0; i < n; i++)
                check(w->windows[i].id == want[i]);
}

static void test_windows(void) {
        ClientWindows w = {};
        uint8_t b[64];

        check(update(&w, 1, 0, 0, 10, 10, "a\0b", 3) == 1);
        check(memcmp(w.windows[0].title, "a?b", 4) == 0); /* a NUL cannot cut a title short */
        check(update(&w, 2, 0, 0, 10, 10, "", 0) == 1 && w.windows[1].title[0] == 0);
        check(update(&w, 3, 0, 0, 10, 10, "c", 1) == 1);
        check_order(&w, (const uint32_t[]) { 1, 2, 3 }, 3);
        uint64_t serial = w.serial;

        /* Hostile values: ignored and counted, the table unchanged. */
        check(update(&w, 4, 0, 0, 0, 10, "", 0) == 0);
        check(update(&w, 4, INT32_MIN, 0, 10, 10, "", 0) == 0);
        check(update(&w, 4, 0, INT32_MAX, 10, 10, "", 0) == 0);
        check(update(&w, 4, 0, 0, 10, UINT32_MAX, "", 0) == 0);
        check(client_windows_remove(&w, 99) == 0);
        check(client_windows_stack(&w, b, 3) == 0); /* not whole ids */
        check(w.ignored == 6 && w.serial == serial && w.n == 3);

        /* Stacking: a duplicate id counts once; an unknown one not at all. */
        ids(b, (const uint32_t[]) { 1, 1, 42, 2 }, 4);
        check(client_windows_stack(&w, b, 16) == 1);
        check_order(&w, (const uint32_t[]) { 3, 1, 2 }, 3);
        ids(b, (const uint32_t[]) { 3, 1, 2 }, 3);
        check(client_windows_stack(&w, b, 12) == 0); /* already so */
        check(client_windows_stack(&w, b, 0) == 0);
        ids(b, (const uint32_t[]) { 3 }, 1);
        check(client_windows_stack(&w, b, 4) == 1);
        check_order(&w, (const uint32_t[]) { 1, 2, 3 }, 3);

        /* Icons: the size must be what width and height say, at most 64 x 64. */
        uint8_t argb[64 * 64 * 4 + 4] = { 1, 2, 3, 4 };
        WireWindowIcon icon = { .id = 2, .width = 2, .height = 2, .argb = argb, .argb_len = 16 };
        check(client_windows_icon(&w, &icon) == 1);
        const ClientWindow *win = client_windows_find(&w, 2);
        check(win->icon_width == 2 && win->icon_height == 2 && win->icon_argb[3] == 4);
        icon.argb_len = 15;
        check(client_windows_icon(&w, &icon) == 0);
        icon = (WireWindowIcon) { .id = 2, .width = 65, .height = 1, .argb = argb, .argb_len = 65 * 4 };
        check(client_windows_icon(&w, &icon) == 0);
        icon = (WireWindowIcon) { .id = 77, .width = 1, .height = 1, .argb = argb, .argb_len = 4 };
        check(client_windows_icon(&w, &icon) == 0);
        icon = (WireWindowIcon) { .id = 2, .width = 0, .height = 0, .argb = argb, .argb_len = 0 };
        check(client_windows_icon(&w, &icon) == 1 && !client_windows_find(&w, 2)->icon_argb); /* icon cleared */

        /* Removing keeps the others' order. */
        check(client_windows_remove(&w, 2) == 1);
        check_order(&w, (const uint32_t[]) { 1, 3 }, 2);

        /* At most CLIENT_WINDOWS_MAX windows; updates of known ones still go through. */
        client_windows_reset(&w);
        check(w.n == 0);
        for (uint32_t i = 0; i < CLIENT_WINDOWS_MAX; i++)
                check(update(&w, i, 0, 0, 1, 1, "x", 1) == 1);
        check(update(&w, 5000, 0, 0, 1, 1, "x", 1) == 0 && w.n == CLIENT_WINDOWS_MAX);
        check(update(&w, 7, 1, 1, 2, 2, "y", 1) == 1 && client_windows_find(&w, 7)->width == 2);
        client_windows_done(&w);
        check(w.n == 0 && !w.windows);
}

static void test_resize(void) {
        ResizeCoalescer c = {};
        uint32_t w, h;
        const uint64_t T = CLIENT_RESIZE_INTERVAL_USEC;

        check(resize_coalescer_next(&c) == UINT64_MAX);
        check(!resize_coalescer_take(&c, 1000, &w, &h));
        resize_coalescer_want(&c, 0, 600); /* ignored */
        check(resize_coalescer_next(&c) == UINT64_MAX);
        /* The first goes at once. */
        resize_coalescer_want(&c, 800, 600);
        check(resize_coalescer_next(&c) == 0);
        check(resize_coalescer_take(&c, 1000, &w, &h) && w == 800 && h == 600);
        check(!resize_coalescer_take(&c, 1000, &w, &h));
        /* A drag: many sizes within the interval, the last one wins, when the interval ends. */
        resize_coalescer_want(&c, 801, 600);
        resize_coalescer_want(&c, 900, 650);
        resize_coalescer_want(&c, 1024, 768);
        check(resize_coalescer_next(&c) == 1000 + T);
        check(!resize_coalescer_take(&c, 1000 + T - 1, &w, &h));
        check(resize_coalescer_take(&c, 1000 + T, &w, &h) && w == 1024 && h == 768);
        /* Back to the size sent: nothing to send. */
        resize_coalescer_want(&c, 640, 480);
        resize_coalescer_want(&c, 1024, 768);
        check(resize_coalescer_next(&c) == UINT64_MAX);
        /* Long after: at once. */
        resize_coalescer_want(&c, 640, 480);
        check(resize_coalescer_take(&c, 1000 + 10 * T, &w, &h) && w == 640 && h == 480);
}

static void test_geometry(void) {
        SeamlessRect src, dst;
        uint32_t x, y;

        /* Inside: all of it, at the window's origin. */
        SeamlessRect win = { 10, 20, 100, 50 };
        check(seamless_cut(&win, 640, 480, &src, &dst));
        check(src.x == 10 && src.y == 20 && src.w == 100 && src.h == 50);
        check(dst.x == 0 && dst.y == 0 && dst.w == 100 && dst.h == 50);
        /* Hanging off the top-left: the visible part, drawn where it belongs in the window. */
        win = (SeamlessRect) { -30, -5, 100, 50 };
        check(seamless_cut(&win, 640, 480, &src, &dst));
        check(src.x == 0 && src.y == 0 && src.w == 70 && src.h == 45);
        check(dst.x == 30 && dst.y == 5 && dst.w == 70 && dst.h == 45);
        /* Off the bottom-right. */
        win = (SeamlessRect) { 600, 470, 100, 50 };
        check(seamless_cut(&win, 640, 480, &src, &dst));
        check(src.x == 600 && src.y == 470 && src.w == 40 && src.h == 10 && dst.x == 0 && dst.y == 0);
        /* Larger than the screen on every side. */
        win = (SeamlessRect) { -10, -10, 700, 500 };
        check(seamless_cut(&win, 640, 480, &src, &dst));
        check(src.x == 0 && src.y == 0 && src.w == 640 && src.h == 480 && dst.x == 10 && dst.y == 10);
        /* Entirely off, empty, or no framebuffer. */
        win = (SeamlessRect) { 640, 0, 10, 10 };
        check(!seamless_cut(&win, 640, 480, &src, &dst));
        win = (SeamlessRect) { -10, 0, 10, 10 };
        check(!seamless_cut(&win, 640, 480, &src, &dst));
        win = (SeamlessRect) { 0, 0, 0, 10 };
        check(!seamless_cut(&win, 640, 480, &src, &dst));
        win = (SeamlessRect) { 0, 0, 10, 10 };
        check(!seamless_cut(&win, 0, 480, &src, &dst));
        /* Extremes do not wrap. */
        win = (SeamlessRect) { INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX };
        check(!seamless_cut(&win, 640, 480, &src, &dst));
        win = (SeamlessRect) { INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX };
        check(!seamless_cut(&win, 640, 480, &src, &dst));

        /* Points: offset by the window, clamped to the framebuffer. */
        win = (SeamlessRect) { 10, 20, 100, 50 };
        seamless_point_to_guest(&win, 5, 6, 640, 480, &x, &y);
        check(x == 15 && y == 26);
        seamless_point_to_guest(&win, -50, -50, 640, 480, &x, &y);
        check(x == 0 && y == 0);
        seamless_point_to_guest(&win, 5000, 5000, 640, 480, &x, &y);
        check(x == 639 && y == 479);
        win = (SeamlessRect) { INT32_MAX, INT32_MIN, 1, 1 };
        seamless_point_to_guest(&win, INT32_MAX, INT32_MIN, 640, 480, &x, &y);
        check(x == 639 && y == 0);

        /* Local screen <-> guest. */
        int32_t lx, ly, gx, gy;
        seamless_to_local(100, 50, 10, 20, &lx, &ly);
        check(lx == 110 && ly == 70);
        seamless_from_local(100, 50, lx, ly, &gx, &gy);
        check(gx == 10 && gy == 20);
        seamless_to_local(INT32_MAX, 0, 10, 0, &lx, &ly);
        check(lx == INT32_MAX);
        win = (SeamlessRect) { 10, 20, 100, 50 };
        check(seamless_same_geometry(&win, 100, 50, 110, 70, 100, 50));
        check(!seamless_same_geometry(&win, 100, 50, 111, 70, 100, 50));
        check(!seamless_same_geometry(&win, 100, 50, 110, 70, 101, 50));
}

int main(void) {
        test_status_text();
        test_inbound();
        test_windows();
        test_resize();
        test_geometry();
        printf("test-client-agent-pure: ok\n");
        return 0;
}
