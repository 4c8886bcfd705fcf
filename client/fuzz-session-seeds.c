/* Writes the seed corpora of the session fuzzers: client/fuzz-client-session (what hostd sends:
 * whole sessions with real tiles from hostd's encoder, rejects, mode changes, protocol errors)
 * and hostd/fuzz-viewer (what a viewer sends: sessions after the hello the fuzzer mints, input,
 * acks, settings, and protocol errors).
 *
 *     fuzz-session-seeds CLIENT_CORPUS_DIR HOSTD_CORPUS_DIR
 *
 * Run by hand after a change to either fuzzer's input format or to wire.def; the files are
 * committed. Deterministic: the same build writes the same bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "hostd-encoder.h"
#include "hostd-framebuffer.h"
#include "wire.h"

#define XRGB 0x20020888u
#define STREAM_MAX (1u << 20)

static unsigned written;

static void write_seed(const char *dir, const char *name, const uint8_t head[3], const Buffer *b) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        if (!f || fwrite(head, 1, 3, f) != 3 ||
            (buffer_len(b) > 0 && fwrite(buffer_data(b), 1, buffer_len(b), f) != buffer_len(b)) || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
                exit(EXIT_FAILURE);
        }
        written++;
}

static void ok(int r) {
        if (r < 0) {
                fprintf(stderr, "fuzz-session-seeds: encoding failed: %s\n", strerror(-r));
                exit(EXIT_FAILURE);
        }
}

static void header(Buffer *b, uint32_t size, uint16_t type, uint8_t channel) {
        uint8_t h[WIRE_HEADER_SIZE];
        wire_header_put(h, &(WireHeader) { .size = size, .type = type, .channel = channel });
        ok(buffer_append(b, h, sizeof(h)));
}

/* ---- server to client ---- */

typedef struct Frame {
        Buffer *out;
        uint32_t frame, tiles;
} Frame;

static int sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, uint8_t quality,
                const uint8_t *data, size_t len) {
        Frame *f = userdata;
        WireTile t = { .frame = f->frame, .x = x, .y = y, .w = w, .h = h, .codec = codec, .quality = quality,
                       .data = data, .data_len = len };
        f->tiles++;
        return wire_encode_tile(f->out, &t);
}

/* A w x h screen: a flat desktop with a few windows of text-like stripes (lossless), and with
 * photo true, a noisy gradient (JPEG). */
static Framebuffer *screen(uint32_t w, uint32_t h, bool photo, uint32_t seed) {
        Framebuffer *fb = framebuffer_new();
        uint32_t *px = malloc((size_t) w * h * 4);
        if (!fb || !px)
                exit(EXIT_FAILURE);
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint32_t v;
                        if (photo) {
                                seed = seed * 1103515245u + 12345u;
                                uint32_t n = (seed >> 16) & 15;
                                v = ((x * 255 / w + n) & 0xff) << 16 | ((y * 255 / h + n) & 0xff) << 8 | ((x + y) & 0xff);
                        } else
                                v = (x / 8 + y / 4 + seed) % 5 == 0 ? 0x202020u : 0x3465a4u;
                        px[(size_t) y * w + x] = v;
                }
        ok(framebuffer_scanout(fb, w, h, w * 4, XRGB, (const uint8_t *) px, (size_t) w * h * 4));
        free(px);
        return fb;
}

static void frame(Buffer *b, Encoder *e, const Framebuffer *fb, Rect r, bool lossless, uint32_t number) {
        EncoderSettings s = encoder_settings_default();
        Region region = {};
        Frame f = { .out = b, .frame = number };
        s.lossless_only = lossless;
        ok(region_add(&region, r));
        ok(encoder_encode(e, fb, &region, &s, sink, &f));
        region_done(&region);
        ok(wire_encode_frame_end(b, &(WireFrameEnd) { .frame = number, .tiles = f.tiles }));
}

static void welcome(Buffer *b, uint8_t role) {
        ok(wire_encode_welcome(b, &(WireWelcome) { .version = 1, .caps = 0x1f, .session = 0x1234, .role = role,
                                                   .desktop = "desk", .desktop_len = 4, .frames_in_flight = 2 }));
}

static void mode(Buffer *b, uint32_t w, uint32_t h) {
        ok(wire_encode_display_mode(b, &(WireDisplayMode) { .width = w, .height = h }));
}

static void cursor(Buffer *b) {
        uint8_t argb[8 * 8 * 4];
        for (size_t i = 0; i < sizeof(argb); i++)
                argb[i] = (uint8_t) (i * 7);
        ok(wire_encode_cursor_shape(b, &(WireCursorShape) { .width = 8, .height = 8, .hot_x = 1, .hot_y = 2,
                                                             .argb = argb, .argb_len = sizeof(argb) }));
        ok(wire_encode_cursor_position(b, &(WireCursorPosition) { .x = 10, .y = -3, .visible = 1 }));
}

static void agent(Buffer *b) {
        static uint8_t text[70000];
        for (size_t i = 0; i < sizeof(text); i++)
                text[i] = (uint8_t) ('a' + i % 26);
        uint8_t argb[4 * 4 * 4] = { 0xff };
        uint8_t ids[8] = { 2, 0, 0, 0, 1, 0, 0, 0 };
        ok(wire_encode_agent_status(b, &(WireAgentStatus) { .mode = 1, .features = 0x3d, .cause = 1 }));
        ok(wire_encode_clipboard_grab(b, &(WireClipboardGrab) { .serial = 4, .formats = 1 }));
        ok(wire_encode_clipboard_request(b, &(WireClipboardRequest) { .serial = 9, .format = 0 }));
        ok(wire_encode_clipboard_data(b, &(WireClipboardData) { .serial = 4, .format = 0, .total = sizeof(text),
                                                                 .chunk = text, .chunk_len = 65536 }));
        ok(wire_encode_clipboard_data(b, &(WireClipboardData) { .serial = 3, .format = 0, .total = 3,
                                                                 .chunk = text, .chunk_len = 3 }));
        ok(wire_encode_clipboard_data(b, &(WireClipboardData) { .serial = 4, .format = 0, .total = sizeof(text),
                                                                 .offset = 65536, .chunk = text + 65536,
                                                                 .chunk_len = sizeof(text) - 65536 }));
        ok(wire_encode_clipboard_release(b, &(WireClipboardRelease) { .serial = 4 }));
        ok(wire_encode_window_update(b, &(WireWindowUpdate) { .id = 1, .state = 3, .x = -4, .y = 5, .width = 30,
                                                               .height = 20, .title = "xterm", .title_len = 5 }));
        ok(wire_encode_window_update(b, &(WireWindowUpdate) { .id = 2, .state = 1, .x = 10, .y = 10, .width = 40,
                                                               .height = 30, .title = "editor", .title_len = 6 }));
        ok(wire_encode_window_stack(b, &(WireWindowStack) { .ids = ids, .ids_len = sizeof(ids) }));
        ok(wire_encode_window_icon(b, &(WireWindowIcon) { .id = 1, .width = 4, .height = 4, .argb = argb,
                                                           .argb_len = sizeof(argb) }));
        ok(wire_encode_window_remove(b, &(WireWindowRemove) { .id = 2 }));
        ok(wire_encode_windows_reset(b));
        ok(wire_encode_agent_status(b, &(WireAgentStatus) { .mode = 0, .cause = 3 }));
}

static void client_seeds(const char *dir) {
        Encoder *e = encoder_new();
        Framebuffer *ui = screen(64, 48, false, 0), *photo = screen(128, 96, true, 1), *other = screen(40, 30, false, 3);
        Buffer b = BUFFER_INIT(STREAM_MAX);
        if (!e)
                exit(EXIT_FAILURE);

        /* A whole session: everything hostd sends, ending with bye. */
        welcome(&b, 0);
        mode(&b, 64, 48);
        frame(&b, e, ui, (Rect) { 0, 0, 64, 48 }, true, 0);
        cursor(&b);
        ok(wire_encode_ping(&b, &(WirePing) { .nonce = 1, .time_us = 2 }));
        ok(wire_encode_role(&b, &(WireRole) { .role = 1, .interactive_session = 7 }));
        ok(wire_encode_notice(&b, &(WireNotice) { .code = 1, .text = "input ignored", .text_len = 13 }));
        frame(&b, e, ui, (Rect) { 8, 8, 20, 10 }, true, 1);
        size_t open_len = buffer_len(&b);
        ok(wire_encode_bye(&b, &(WireBye) { .code = 11, .reason = "shutting down", .reason_len = 13 }));
        write_seed(dir, "session", (const uint8_t[]) { 0, 0, 0 }, &b);
        write_seed(dir, "session-split", (const uint8_t[]) { 7, 13, 0 }, &b);
        buffer_truncate(&b, open_len);
        write_seed(dir, "session-open", (const uint8_t[]) { 0, 0, 1 }, &b);
        write_seed(dir, "session-eof", (const uint8_t[]) { 3, 0, 0 }, &b);
        buffer_clear(&b);

        /* JPEG tiles, then a mode change with lossless ones. */
        encoder_reset(e);
        welcome(&b, 1);
        mode(&b, 128, 96);
        frame(&b, e, photo, (Rect) { 0, 0, 128, 96 }, false, 0);
        mode(&b, 40, 30);
        encoder_reset(e);
        frame(&b, e, other, (Rect) { 0, 0, 40, 30 }, true, 1);
        write_seed(dir, "jpeg-then-mode", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);

        /* Session resumption: a token, an ack; a token of the wrong length, a `resumed' out of
         * place (both protocol errors). */
        static const uint8_t token[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
        welcome(&b, 0);
        ok(wire_encode_session_token(&b, &(WireSessionToken) { .token = token, .token_len = 32, .resume_seconds = 180 }));
        mode(&b, 64, 48);
        frame(&b, e, ui, (Rect) { 0, 0, 64, 48 }, true, 0);
        ok(wire_encode_role(&b, &(WireRole) { .role = 0, .interactive_session = 7 }));
        ok(wire_encode_session_ack(&b, &(WireSessionAck) { .received = 0 }));
        size_t resume_ok = buffer_len(&b);
        ok(wire_encode_session_ack(&b, &(WireSessionAck) { .received = 5 })); /* more than we sent */
        write_seed(dir, "resume-token", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_truncate(&b, resume_ok);
        ok(wire_encode_resumed(&b, &(WireResumed) { .session = 1, .received = 0, .role = 0 }));
        write_seed(dir, "resumed-out-of-place", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);
        welcome(&b, 0);
        ok(wire_encode_session_token(&b, &(WireSessionToken) { .token = token, .token_len = 31, .resume_seconds = 1 }));
        write_seed(dir, "resume-token-short", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);

        /* Rejected. */
        ok(wire_encode_reject(&b, &(WireReject) { .code = 4, .reason = "ticket expired", .reason_len = 14 }));
        write_seed(dir, "reject", (const uint8_t[]) { 0, 0, 0 }, &b);
        buffer_clear(&b);

        /* Errors: a tile before any mode, a tile outside it, a type only viewers send, a type that
         * does not exist yet (skipped) and a frame too large for any type. */
        welcome(&b, 0);
        size_t after_welcome = buffer_len(&b);
        frame(&b, e, ui, (Rect) { 0, 0, 16, 16 }, true, 0);
        write_seed(dir, "tile-before-mode", (const uint8_t[]) { 0, 0, 0 }, &b);
        buffer_truncate(&b, after_welcome);
        mode(&b, 16, 16);
        frame(&b, e, ui, (Rect) { 0, 0, 64, 48 }, true, 0);
        write_seed(dir, "tile-outside", (const uint8_t[]) { 0, 0, 0 }, &b);
        buffer_truncate(&b, after_welcome);
        ok(wire_encode_key(&b, &(WireKey) { .keycode = 0x1c, .down = 1 }));
        write_seed(dir, "c2s-type", (const uint8_t[]) { 0, 0, 0 }, &b);
        buffer_truncate(&b, after_welcome);
        header(&b, 4, 0x7001, 9);
        ok(buffer_append(&b, "abcd", 4));
        ok(wire_encode_ping(&b, &(WirePing) { .nonce = 9 }));
        write_seed(dir, "unknown-type", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_truncate(&b, after_welcome);
        header(&b, 0x7fffffff, WIRE_TYPE_TILE, 1);
        write_seed(dir, "oversized", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);

        /* The agent: status, the clipboard (grab, chunks, a stale serial, a release), windows
         * (updates, stack, icon, remove, reset), the agent lost; then one with an oversized total
         * and out-of-order chunks (the transfer dropped, the session not), and one with a type
         * only viewers send (window-action: a protocol error). */
        welcome(&b, 0);
        mode(&b, 64, 48);
        frame(&b, e, ui, (Rect) { 0, 0, 64, 48 }, true, 0);
        agent(&b);
        write_seed(dir, "agent", (const uint8_t[]) { 0, 0, 1 }, &b);
        write_seed(dir, "agent-split", (const uint8_t[]) { 5, 3, 1 }, &b);
        buffer_clear(&b);
        welcome(&b, 0);
        ok(wire_encode_agent_status(&b, &(WireAgentStatus) { .mode = 1, .features = 0x3c, .cause = 1 }));
        ok(wire_encode_clipboard_grab(&b, &(WireClipboardGrab) { .serial = 1, .formats = 3 }));
        ok(wire_encode_clipboard_data(&b, &(WireClipboardData) { .serial = 1, .format = 0, .total = 0xffffffff,
                                                                  .chunk = (const uint8_t *) "x", .chunk_len = 1 }));
        ok(wire_encode_clipboard_data(&b, &(WireClipboardData) { .serial = 1, .format = 0, .total = 10, .offset = 5,
                                                                  .chunk = (const uint8_t *) "abc", .chunk_len = 3 }));
        ok(wire_encode_window_stack(&b, &(WireWindowStack) { .ids = (const uint8_t *) "abc", .ids_len = 3 }));
        ok(wire_encode_window_icon(&b, &(WireWindowIcon) { .id = 5, .width = 100, .height = 100 }));
        ok(wire_encode_ping(&b, &(WirePing) { .nonce = 3 }));
        write_seed(dir, "agent-hostile", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);
        welcome(&b, 0);
        ok(wire_encode_agent_status(&b, &(WireAgentStatus) { .mode = 1, .features = 0x10 }));
        ok(wire_encode_window_action(&b, &(WireWindowAction) { .id = 1, .op = 1 }));
        write_seed(dir, "agent-c2s-type", (const uint8_t[]) { 0, 0, 1 }, &b);
        buffer_clear(&b);

        buffer_done(&b);
        framebuffer_free(ui);
        framebuffer_free(photo);
        framebuffer_free(other);
        encoder_free(e);
}

/* ---- client to server (fuzz-viewer: byte 0 bit 0 prepends a valid hello, bit 1 makes its ticket
 * view-only, bit 2 keeps the stream open; byte 1 seeds the split points, byte 2 caps a piece) ---- */

static void input(Buffer *b) {
        ok(wire_encode_key(b, &(WireKey) { .keycode = 0x1e, .down = 1 }));
        ok(wire_encode_key(b, &(WireKey) { .keycode = 0x1e, .down = 0 }));
        ok(wire_encode_mouse_button(b, &(WireMouseButton) { .button = 2, .down = 1 }));
        ok(wire_encode_mouse_absolute(b, &(WireMouseAbsolute) { .x = 5, .y = 6 }));
        ok(wire_encode_mouse_relative(b, &(WireMouseRelative) { .dx = -3, .dy = 4 }));
}

static void viewer_seeds(const char *dir) {
        Buffer b = BUFFER_INIT(STREAM_MAX);

        ok(wire_encode_display_settings(&b, &(WireDisplaySettings) { .quality = 60, .subsampling = 0, .lossless = 1 }));
        ok(wire_encode_frame_ack(&b, &(WireFrameAck) { .frame = 0 }));
        input(&b);
        ok(wire_encode_ping(&b, &(WirePing) { .nonce = 1, .time_us = 2 }));
        ok(wire_encode_pong(&b, &(WirePong) { .nonce = 3 }));
        ok(wire_encode_refresh(&b));
        ok(wire_encode_frame_ack(&b, &(WireFrameAck) { .frame = 1 }));
        ok(wire_encode_handover(&b, &(WireHandover) { .to_session = 42 }));
        size_t open_len = buffer_len(&b);
        ok(wire_encode_bye(&b, &(WireBye) { .code = 0, .reason = "bye", .reason_len = 3 }));
        write_seed(dir, "session", (const uint8_t[]) { 1, 0, 0 }, &b);
        write_seed(dir, "session-split", (const uint8_t[]) { 1, 5, 7 }, &b);
        write_seed(dir, "view-only", (const uint8_t[]) { 3, 0, 0 }, &b);
        buffer_truncate(&b, open_len);
        write_seed(dir, "session-open", (const uint8_t[]) { 5, 0, 0 }, &b);
        write_seed(dir, "session-eof", (const uint8_t[]) { 1, 9, 0 }, &b);
        buffer_clear(&b);

        /* Settings out of range, acks of frames never sent. */
        ok(wire_encode_display_settings(&b, &(WireDisplaySettings) { .quality = 0, .subsampling = 200, .lossless = 0 }));
        ok(wire_encode_frame_ack(&b, &(WireFrameAck) { .frame = 0xffffffff }));
        ok(wire_encode_display_settings(&b, &(WireDisplaySettings) { .quality = 255, .subsampling = 3, .lossless = 7 }));
        ok(wire_encode_refresh(&b));
        write_seed(dir, "settings-extremes", (const uint8_t[]) { 5, 0, 0 }, &b);
        buffer_clear(&b);

        /* Without the fuzzer's hello: input first, a hello with garbage for a ticket, a bad magic. */
        input(&b);
        write_seed(dir, "no-hello", (const uint8_t[]) { 4, 0, 0 }, &b);
        buffer_clear(&b);
        ok(wire_encode_hello(&b, &(WireHello) { .magic = WIRE_MAGIC, .version = 1, .caps = 0x1f,
                                                .ticket = (const uint8_t *) "not a ticket", .ticket_len = 12 }));
        input(&b);
        write_seed(dir, "bad-ticket", (const uint8_t[]) { 4, 0, 0 }, &b);
        buffer_clear(&b);
        ok(wire_encode_hello(&b, &(WireHello) { .magic = 0x12345678, .version = 1 }));
        write_seed(dir, "bad-magic", (const uint8_t[]) { 0, 0, 0 }, &b);
        buffer_clear(&b);
        /* Resumption: a forged resume instead of a hello, a resume after the hello, acks of
         * nothing and of more than was sent. */
        static const uint8_t token[32] = { 0x41 };
        ok(wire_encode_resume(&b, &(WireResume) { .magic = WIRE_MAGIC, .version = 1, .caps = 0x3f, .session = 42,
                                                  .token = token, .token_len = 32, .received = 3 }));
        input(&b);
        write_seed(dir, "resume-forged", (const uint8_t[]) { 4, 0, 0 }, &b);
        write_seed(dir, "resume-after-hello", (const uint8_t[]) { 13, 0, 0 }, &b);
        buffer_clear(&b);
        ok(wire_encode_session_ack(&b, &(WireSessionAck) { .received = 0 }));
        input(&b);
        ok(wire_encode_session_ack(&b, &(WireSessionAck) { .received = 1000 }));
        write_seed(dir, "session-ack", (const uint8_t[]) { 13, 0, 0 }, &b);
        write_seed(dir, "session-ack-eof", (const uint8_t[]) { 9, 3, 5 }, &b);
        buffer_clear(&b);

        /* After a good hello: a frame over its type's maximum, a type only hostd sends, unknown
         * types (skipped), a second hello. */
        header(&b, 1000, WIRE_TYPE_KEY, 3);
        write_seed(dir, "oversized", (const uint8_t[]) { 5, 0, 0 }, &b);
        buffer_clear(&b);
        ok(wire_encode_frame_end(&b, &(WireFrameEnd) { .frame = 1 }));
        write_seed(dir, "s2c-type", (const uint8_t[]) { 5, 0, 0 }, &b);
        buffer_clear(&b);
        header(&b, 3, 0x7fff, 7);
        ok(buffer_append(&b, "xyz", 3));
        ok(wire_encode_ping(&b, &(WirePing) { .nonce = 5 }));
        write_seed(dir, "unknown-type", (const uint8_t[]) { 5, 0, 0 }, &b);
        buffer_clear(&b);
        ok(wire_encode_hello(&b, &(WireHello) { .magic = WIRE_MAGIC, .version = 1 }));
        write_seed(dir, "hello-twice", (const uint8_t[]) { 5, 0, 0 }, &b);
        buffer_done(&b);
}

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: fuzz-session-seeds CLIENT_CORPUS_DIR HOSTD_CORPUS_DIR\n");
                return EXIT_FAILURE;
        }
        client_seeds(argv[1]);
        viewer_seeds(argv[2]);
        printf("wrote %u seeds\n", written);
        return EXIT_SUCCESS;
}
