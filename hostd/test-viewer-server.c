/* hostd's viewer server against real client sessions over TLS on loopback, with a fake QEMU as
 * the display (test-harness.h), all in one process: what the VM tests cannot easily reach. The
 * cursor from CursorDefine/MouseSet; a mode change with the right pixels; the interactive role
 * handed over (whose keys reach QEMU); malformed and oversized frames closing that viewer only;
 * a stalled viewer not holding up another, its queue within VIEWER_OUT_LIMIT, and caught up with
 * the latest screen once it reads again; a slow lossless viewer of full-screen noise kept
 * (frames larger than the output bound are sent in parts); MaxViewers= counted right. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hostd-console.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"
#include "test-harness.h"
#include "wire.h"

#define SECOND 1000000ULL
#define WAIT (10 * SECOND)

/* ---- content ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t) rng_state;
}

/* Noise: every pixel differs, nothing compresses, JPEG does badly. */
static uint32_t *noise(uint32_t w, uint32_t h) {
        uint32_t *px = malloc((size_t) w * h * 4);
        check(px);
        for (size_t i = 0; i < (size_t) w * h; i++)
                px[i] = rng() & 0xffffff;
        return px;
}

/* Whether the viewer's framebuffer holds exactly px (w x h) at (x, y). */
static bool fb_has(HarnessViewer *v, uint32_t x, uint32_t y, uint32_t w, uint32_t h, const uint32_t *px) {
        const ClientFramebuffer *fb = client_session_framebuffer(v->session);
        if (!fb->pixels || x + w > fb->width || y + h > fb->height)
                return false;
        for (uint32_t row = 0; row < h; row++) {
                const uint32_t *line = (const uint32_t *) (fb->pixels + (size_t) (y + row) * fb->stride) + x;
                for (uint32_t col = 0; col < w; col++)
                        if ((line[col] & 0xffffff) != (px[(size_t) row * w + col] & 0xffffff))
                                return false;
        }
        return true;
}

/* ---- waiting ---- */

typedef struct Want {
        HarnessViewer *viewer;
        uint32_t x, y, w, h;
        const uint32_t *px;
        uint32_t width, height; /* the mode, 0: any */
} Want;

static bool viewer_has(void *userdata) {
        Want *want = userdata;
        const ClientFramebuffer *fb = client_session_framebuffer(want->viewer->session);
        check(!want->viewer->closed);
        if (want->width && (fb->width != want->width || fb->height != want->height))
                return false;
        return want->viewer->frames > 0 && fb_has(want->viewer, want->x, want->y, want->w, want->h, want->px);
}

static void wait_pixels(Harness *h, HarnessViewer *v, uint32_t x, uint32_t y, uint32_t w, uint32_t ht,
                        const uint32_t *px) {
        Want want = { .viewer = v, .x = x, .y = y, .w = w, .h = ht, .px = px };
        check(harness_run_until(h, viewer_has, &want, WAIT) == 0);
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->welcomed;
}

static bool has_frame(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->frames > 0;
}

static unsigned target_replies;
static Harness *current;

static bool replies_reached(void *userdata) {
        return current->qemu->replies >= target_replies;
}

static void update(Harness *h, uint32_t x, uint32_t y, uint32_t w, uint32_t ht, const uint32_t *px) {
        check(fake_qemu_update(h->qemu, (int32_t) x, (int32_t) y, (int32_t) w, (int32_t) ht, w * 4, FAKE_QEMU_XRGB, px,
                               (size_t) w * ht * 4) >= 0);
}

static Harness *setup(const HarnessOptions *o, uint32_t w, uint32_t ht, uint32_t **ret_screen) {
        Harness *h;
        check(harness_new(o, &h) >= 0);
        uint32_t *screen = noise(w, ht);
        check(harness_scanout(h, w, ht, screen) >= 0);
        if (ret_screen)
                *ret_screen = screen;
        else
                free(screen);
        return h;
}

static const ClientOptions lossless = { .lossless = true };

/* hostd's own view of a viewer, by user. */
typedef struct Lookup {
        const char *user;
        ViewerInfo info;
        unsigned found, total;
} Lookup;

static void lookup_fn(void *userdata, const ViewerInfo *info, bool first) {
        Lookup *l = userdata;
        l->total++;
        if (strcmp(info->user, l->user) == 0) {
                l->info = *info;
                l->found++;
        }
}

static Lookup lookup(Harness *h, const char *user) {
        Lookup l = { .user = user };
        viewer_server_describe(h->manager->viewers, lookup_fn, &l);
        return l;
}

/* ---- tests ---- */

/* The whole screen, exactly, as the first frame of a lossless viewer. */
static void test_first_frame(void) {
        uint32_t *screen;
        Harness *h = setup(NULL, 320, 200, &screen);
        HarnessViewer *v;

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, &lossless, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, has_frame, v, WAIT) == 0);
        const ClientFramebuffer *fb = client_session_framebuffer(v->session);
        check(fb->width == 320 && fb->height == 200);
        /* The first frame already, not a refinement 250 ms later: lossless means never lossy. */
        check(v->frames == 1 && fb_has(v, 0, 0, 320, 200, screen));
        check(v->role == 0);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        printf("first frame: ok\n");
}

static bool cursor_is(void *userdata) {
        HarnessViewer *v = ((Want *) userdata)->viewer;
        const Want *want = userdata;
        const ClientCursor *c = client_session_cursor(v->session);
        return c->argb && c->width == want->w && c->height == want->h && c->x == (int32_t) want->x &&
               c->y == (int32_t) want->y && c->visible;
}

static bool cursor_hidden(void *userdata) {
        HarnessViewer *v = userdata;
        return !client_session_cursor(v->session)->visible;
}

/* CursorDefine and MouseSet from QEMU reach client_session_cursor(): the shape a viewer finds
 * when it connects, and changes after. */
static void test_cursor(void) {
        Harness *h = setup(NULL, 320, 200, NULL);
        HarnessViewer *v;
        uint32_t *shape = noise(32, 24);

        check(fake_qemu_cursor_define(h->qemu, 32, 24, 3, 5, shape, 32 * 24 * 4) >= 0);
        check(fake_qemu_mouse_set(h->qemu, 100, 50, true) >= 0);
        check(harness_viewer_new(h, "alice", TICKET_ROLE_VIEW_ONLY, NULL, NULL, NULL, &v) >= 0);
        Want want = { .viewer = v, .x = 100, .y = 50, .w = 32, .h = 24 };
        check(harness_run_until(h, cursor_is, &want, WAIT) == 0);
        const ClientCursor *c = client_session_cursor(v->session);
        check(c->hot_x == 3 && c->hot_y == 5 && memcmp(c->argb, shape, 32 * 24 * 4) == 0);
        uint64_t serial = c->shape_serial;

        /* A move alone sends no shape. */
        check(fake_qemu_mouse_set(h->qemu, 7, 9, true) >= 0);
        want = (Want) { .viewer = v, .x = 7, .y = 9, .w = 32, .h = 24 };
        check(harness_run_until(h, cursor_is, &want, WAIT) == 0);
        check(client_session_cursor(v->session)->shape_serial == serial);

        /* A new shape replaces the old one; hidden is hidden. */
        free(shape);
        shape = noise(16, 16);
        check(fake_qemu_cursor_define(h->qemu, 16, 16, 15, 0, shape, 16 * 16 * 4) >= 0);
        want = (Want) { .viewer = v, .x = 7, .y = 9, .w = 16, .h = 16 };
        check(harness_run_until(h, cursor_is, &want, WAIT) == 0);
        c = client_session_cursor(v->session);
        check(c->shape_serial > serial && c->hot_x == 15 && memcmp(c->argb, shape, 16 * 16 * 4) == 0);
        check(fake_qemu_mouse_set(h->qemu, 7, 9, false) >= 0);
        check(harness_run_until(h, cursor_hidden, v, WAIT) == 0);

        harness_viewer_free(v);
        harness_free(h);
        free(shape);
        printf("cursor: ok\n");
}

static unsigned modes_seen;
static void count_mode(ClientSession *s, uint32_t width, uint32_t height, void *userdata) {
        if (width == 200 && height == 120)
                modes_seen++;
}

/* A Scanout of another size: the viewer gets the new mode, then its pixels, exactly. */
static void test_mode_change(void) {
        Harness *h = setup(NULL, 320, 200, NULL);
        HarnessViewer *v;
        ClientCallbacks cb = { .on_mode = count_mode };

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, &lossless, &cb, NULL, &v) >= 0);
        check(harness_run_until(h, has_frame, v, WAIT) == 0);

        uint32_t *next = noise(200, 120);
        check(fake_qemu_scanout(h->qemu, 200, 120, 200 * 4, FAKE_QEMU_XRGB, next, 200 * 120 * 4) >= 0);
        Want want = { .viewer = v, .w = 200, .h = 120, .px = next, .width = 200, .height = 120 };
        check(harness_run_until(h, viewer_has, &want, WAIT) == 0);
        check(modes_seen == 1);

        /* And an update inside the new mode. */
        uint32_t *patch = noise(50, 10);
        update(h, 150, 110, 50, 10, patch);
        wait_pixels(h, v, 150, 110, 50, 10, patch);
        check(fb_has(v, 0, 0, 150, 1, next));

        harness_viewer_free(v);
        harness_free(h);
        free(next);
        free(patch);
        printf("mode change: ok\n");
}

static bool qemu_key_calls(void *userdata) {
        return current->qemu->key_calls >= *(unsigned *) userdata;
}

static bool roles_swapped(void *userdata) {
        HarnessViewer **v = userdata;
        check(!v[0]->closed && !v[1]->closed);
        return v[0]->role == 1 && v[1]->role == 0;
}

static bool got_notice(void *userdata) {
        HarnessViewer *v = userdata;
        return v->notices > 0;
}

static bool key_logged(Harness *h, uint32_t keycode) {
        for (unsigned i = 0; i < MIN(h->qemu->key_calls, (unsigned) FAKE_QEMU_KEY_LOG); i++)
                if (h->qemu->keys[i].keycode == keycode)
                        return true;
        return false;
}

static bool interactive_again(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->role == 0;
}

static bool raw_welcomed(void *userdata) {
        HarnessRaw *raw = userdata;
        check(raw->error == 0);
        return raw->received > 0;
}

static bool raw_ended(void *userdata) {
        HarnessRaw *raw = userdata;
        return raw->error < 0;
}

/* The interactive viewer hands over to a second one: the second's keys reach QEMU's Keyboard,
 * the first's no longer do (and it is told so). */
static void test_handover(void) {
        Harness *h = setup(NULL, 320, 200, NULL);
        HarnessViewer *v[2];
        unsigned want;

        current = h;
        check(harness_viewer_new(h, "first", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v[0]) >= 0);
        check(harness_run_until(h, welcomed, v[0], WAIT) == 0);
        check(harness_viewer_new(h, "second", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v[1]) >= 0);
        check(harness_run_until(h, welcomed, v[1], WAIT) == 0);
        check(v[0]->role == 0 && v[1]->role == 1); /* one interactive viewer per desktop */

        check(client_session_key(v[0]->session, 0x1e, true) >= 0);
        harness_viewer_kick(v[0]);
        want = 1;
        check(harness_run_until(h, qemu_key_calls, &want, WAIT) == 0);
        check(h->qemu->last_key == 0x1e && h->qemu->keys[0].press);

        /* The second's keys are ignored while it is view-only. */
        check(client_session_key(v[1]->session, 0x1f, true) >= 0);
        harness_viewer_kick(v[1]);
        check(harness_run_until(h, got_notice, v[1], WAIT) == 0);

        check(client_session_handover(v[0]->session, client_session_id(v[1]->session)) >= 0);
        harness_viewer_kick(v[0]);
        check(harness_run_until(h, roles_swapped, v, WAIT) == 0);

        /* The first's key is refused with a notice: once it arrived, hostd had its say. */
        check(client_session_key(v[0]->session, 0x2e, true) >= 0);
        harness_viewer_kick(v[0]);
        check(harness_run_until(h, got_notice, v[0], WAIT) == 0);
        check(client_session_key(v[1]->session, 0x30, true) >= 0);
        check(client_session_key(v[1]->session, 0x30, false) >= 0);
        harness_viewer_kick(v[1]);
        want = 3;
        check(harness_run_until(h, qemu_key_calls, &want, WAIT) == 0);
        check(h->qemu->key_calls == 3 && h->qemu->keys[1].keycode == 0x30 && h->qemu->keys[1].press &&
              h->qemu->keys[2].keycode == 0x30 && !h->qemu->keys[2].press);
        check(!key_logged(h, 0x2e) && !key_logged(h, 0x1f));

        /* When the interactive viewer leaves, the role returns to the one left. */
        harness_viewer_free(v[1]);
        check(harness_run_until(h, interactive_again, v[0], WAIT) == 0);

        harness_viewer_free(v[0]);
        harness_free(h);
        printf("handover: ok\n");
}

/* Frames a viewer must not send, each on its own raw connection after a good hello: hostd says
 * bye (protocol-error) to that one and closes it; the other viewer goes on. */
static void test_malformed(void) {
        Harness *h = setup(NULL, 320, 200, NULL);
        HarnessViewer *good;
        static const struct {
                const char *what;
                uint32_t size;
                uint16_t type;
                uint8_t channel;
                size_t payload; /* bytes of payload actually sent (zeros) */
        } bad[] = {
                { "key over its maximum", 1000, 0x30, 3, 1000 },
                { "tile from a viewer", 100, 0x11, 1, 100 },
                { "unknown type over 1 MiB", 0xffffffffu, 0x7fff, 9, 0 },
                { "known type on another channel", 5, 0x30, 1, 5 },
                { "hello twice", 18, 0x01, 0, 18 },
                { "frame-ack too short", 2, 0x13, 1, 2 },
        };

        check(harness_viewer_new(h, "good", TICKET_ROLE_VIEW_ONLY, &lossless, NULL, NULL, &good) >= 0);
        check(harness_run_until(h, has_frame, good, WAIT) == 0);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                HarnessRaw *raw;
                uint8_t frame[WIRE_HEADER_SIZE + 1000] = {};
                check(harness_raw_new(h, NULL, &raw) >= 0);
                check(harness_run_until(h, raw_welcomed, raw, WAIT) == 0);
                wire_header_put(frame, &(WireHeader) { .size = bad[i].size, .type = bad[i].type, .channel = bad[i].channel });
                check(harness_raw_send(raw, frame, WIRE_HEADER_SIZE + bad[i].payload) >= 0);
                check(harness_run_until(h, raw_ended, raw, WAIT) == 0);
                if (raw->bye_code != WIRE_CODE_PROTOCOL_ERROR)
                        fprintf(stderr, "%s: bye %d, error %d\n", bad[i].what, raw->bye_code, raw->error);
                check(raw->bye_code == WIRE_CODE_PROTOCOL_ERROR);
                harness_raw_free(raw);

                uint32_t *patch = noise(40, 30);
                update(h, (uint32_t) i * 40, 10, 40, 30, patch);
                wait_pixels(h, good, (uint32_t) i * 40, 10, 40, 30, patch);
                free(patch);
        }
        check(lookup(h, "good").total == 1);

        harness_viewer_free(good);
        harness_free(h);
        printf("malformed frames: ok\n");
}

static bool never(void *userdata) {
        return false;
}

/* A viewer that repeats its ack of the first frame must not open its own window: hostd keeps at
 * most FramesInFlight frames beyond the last frame acknowledged, however often that ack comes. */
static void test_repeated_acks(void) {
        Harness *h = setup(NULL, 320, 200, NULL);
        HarnessRaw *raw;
        Buffer acks;

        check(harness_raw_new(h, NULL, &raw) >= 0);
        check(harness_run_until(h, raw_welcomed, raw, WAIT) == 0);
        buffer_init(&acks, 64 * 1024);
        for (int i = 0; i < 100; i++)
                check(wire_encode_frame_ack(&acks, &(WireFrameAck) { .frame = 0 }) >= 0);
        for (uint32_t i = 0; i < 20; i++) {
                uint32_t *patch = noise(40, 30);
                update(h, (i % 8) * 40, 10, 40, 30, patch);
                free(patch);
                check(harness_raw_send(raw, buffer_data(&acks), buffer_len(&acks)) >= 0);
                (void) harness_run_until(h, never, NULL, 20 * 1000); /* let hostd send what it will */
        }
        Lookup l = lookup(h, "raw");
        check(l.found == 1);
        if (l.info.frames_sent > 3)
                fprintf(stderr, "repeated acks: %llu frames sent, in flight %u\n",
                        (unsigned long long) l.info.frames_sent, l.info.in_flight);
        /* frame 0 acknowledged, then at most two more before any other ack */
        check(l.info.frames_sent <= 3 && l.info.in_flight <= 2);
        buffer_done(&acks);
        harness_raw_free(raw);
        harness_free(h);
        printf("repeated acks: ok\n");
}

/* One viewer stops reading (never processed: no reads, no acks) while the screen changes in full
 * and the cursor keeps changing shape. The other viewer gets every change; hostd keeps the
 * stalled one connected, its queue within VIEWER_OUT_LIMIT, and skips what it cannot take. Once
 * it reads again, it catches up with the screen as it is now (latest wins). */
static void test_stalled(void) {
        const uint32_t W = 1024, H = 768;
        HarnessOptions o = { .frames_in_flight = 2 };
        Harness *h = setup(&o, W, H, NULL);
        HarnessViewer *stalled, *live;
        uint32_t *screen = NULL, *shape = NULL;
        size_t max_queued = 0;
        int small = 4096, large = 4 << 20;

        current = h;
        check(harness_viewer_new(h, "stalled", TICKET_ROLE_VIEW_ONLY, &lossless, NULL, NULL, &stalled) >= 0);
        check(harness_run_until(h, has_frame, stalled, WAIT) == 0);
        /* From now on the kernel holds little for it: what it does not read stays in hostd. */
        check(setsockopt(client_session_fd(stalled->session), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
        harness_viewer_pause(stalled, true);
        check(harness_viewer_new(h, "live", TICKET_ROLE_VIEW_ONLY, &lossless, NULL, NULL, &live) >= 0);
        check(harness_run_until(h, has_frame, live, WAIT) == 0);

        for (unsigned i = 0; i < 12; i++) {
                free(screen);
                screen = noise(W, H);
                update(h, 0, 0, W, H, screen);
                /* An animated cursor: each shape reaches hostd, and would be queued for every viewer. */
                for (unsigned k = 0; k < 50; k++) {
                        free(shape);
                        shape = noise(64, 64);
                        check(fake_qemu_cursor_define(h->qemu, 64, 64, 0, 0, shape, 64 * 64 * 4) >= 0);
                        check(fake_qemu_mouse_set(h->qemu, (int32_t) k, (int32_t) i, true) >= 0);
                        target_replies = h->qemu->replies + 2;
                        check(harness_run_until(h, replies_reached, NULL, WAIT) == 0);
                        Lookup l = lookup(h, "stalled");
                        check(l.found == 1);
                        max_queued = MAX(max_queued, l.info.queued);
                        check(l.info.queued <= VIEWER_OUT_LIMIT);
                }
                wait_pixels(h, live, 0, 0, W, H, screen);
        }
        Lookup l = lookup(h, "stalled");
        check(l.found == 1 && l.info.in_flight <= 2 && l.info.frames_skipped > 0);
        printf("stalled viewer: %zu bytes queued at most (bound %u), %u frames in flight, %llu skipped\n", max_queued,
               VIEWER_OUT_LIMIT, l.info.in_flight, (unsigned long long) l.info.frames_skipped);

        /* Reading again, it gets the screen as it is now, and the cursor's last shape. */
        check(setsockopt(client_session_fd(stalled->session), SOL_SOCKET, SO_RCVBUF, &large, sizeof(large)) == 0);
        harness_viewer_pause(stalled, false);
        harness_viewer_kick(stalled);
        wait_pixels(h, stalled, 0, 0, W, H, screen);
        const ClientCursor *c = client_session_cursor(stalled->session);
        Want want = { .viewer = stalled, .x = 49, .y = 11, .w = 64, .h = 64 };
        check(harness_run_until(h, cursor_is, &want, WAIT) == 0);
        check(memcmp(c->argb, shape, 64 * 64 * 4) == 0);

        harness_viewer_free(stalled);
        harness_viewer_free(live);
        harness_free(h);
        free(screen);
        free(shape);
        printf("stalled viewer: ok\n");
}

static Viewer *hostd_viewer(Harness *h, const char *user) {
        for (Viewer *v = h->manager->viewers->viewers; v; v = v->next)
                if (strcmp(v->ticket.user, user) == 0)
                        return v;
        return NULL;
}

static bool viewer_in(void *userdata) {
        return hostd_viewer(current, userdata) != NULL;
}

/* Frames larger than the output bound. A lossless viewer of a 2560x1600 screen of noise: its
 * first frame (12 MB of lossless tiles) is larger than VIEWER_OUT_LIMIT; it must arrive whole,
 * in parts, not end the viewer. Then a lossless viewer that reads slowly, on a 1920x1080 screen
 * of noise (6 MB a frame): a change arrives as its queue drains below the soft bound, and the
 * new frame does not fit in what is left. */
static void test_large_frames(void) {
        uint32_t *screen = NULL;
        Harness *h = setup(NULL, 2560, 1600, &screen);
        HarnessViewer *v;
        int small = 64 << 10, large = 4 << 20;

        current = h;
        check(harness_viewer_new(h, "big", TICKET_ROLE_VIEW_ONLY, &lossless, NULL, NULL, &v) >= 0);
        wait_pixels(h, v, 0, 0, 2560, 1600, screen);
        check(v->frames >= 2 && hostd_viewer(h, "big"));
        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        screen = NULL;

        const uint32_t W = 1920, H = 1080;
        h = setup(NULL, W, H, NULL);
        current = h;
        check(harness_viewer_new(h, "slow", TICKET_ROLE_VIEW_ONLY, &lossless, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, has_frame, v, WAIT) == 0);
        /* Little room in the kernel on either side: what the viewer has not read stays in hostd. */
        check(setsockopt(client_session_fd(v->session), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
        check(harness_run_until(h, viewer_in, (void *) "slow", WAIT) == 0);
        int fd = wire_conn_fd(hostd_viewer(h, "slow")->conn);
        check(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
        harness_viewer_pause(v, true);
        for (unsigned i = 0; i < 3; i++) {
                free(screen);
                screen = noise(W, H);
                update(h, 0, 0, W, H, screen);
                /* Read a little at a time, so the queue drains slowly through the soft bound. */
                uint64_t sent = hostd_viewer(h, "slow")->frames_sent;
                for (unsigned k = 0; k < 2000 && hostd_viewer(h, "slow")->frames_sent == sent; k++) {
                        harness_viewer_pause(v, false);
                        harness_viewer_kick(v);
                        harness_viewer_pause(v, true);
                        check(harness_run_until(h, NULL, NULL, 1000) == 0);
                        check(!v->closed && hostd_viewer(h, "slow"));
                        check(wire_conn_queued(hostd_viewer(h, "slow")->conn) <= VIEWER_OUT_LIMIT);
                }
        }
        check(setsockopt(client_session_fd(v->session), SOL_SOCKET, SO_RCVBUF, &large, sizeof(large)) == 0);
        check(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &large, sizeof(large)) == 0);
        harness_viewer_pause(v, false);
        harness_viewer_kick(v);
        wait_pixels(h, v, 0, 0, W, H, screen);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        printf("large frames: ok\n");
}

static bool rejected(void *userdata) {
        HarnessViewer *v = userdata;
        return v->rejected != 0 || v->welcomed;
}

/* MaxViewers=2: two viewers in, the third refused with too-many-viewers. */
static void test_max_viewers(void) {
        HarnessOptions o = { .max_viewers = 2 };
        Harness *h = setup(&o, 64, 64, NULL);
        HarnessViewer *v[3];

        for (unsigned i = 0; i < 3; i++) {
                char user[16];
                snprintf(user, sizeof(user), "user%u", i);
                check(harness_viewer_new(h, user, TICKET_ROLE_VIEW_ONLY, NULL, NULL, NULL, &v[i]) >= 0);
                check(harness_run_until(h, rejected, v[i], WAIT) == 0);
        }
        check(v[0]->welcomed && v[1]->welcomed);
        check(!v[2]->welcomed && v[2]->rejected == WIRE_CODE_TOO_MANY_VIEWERS);
        for (unsigned i = 0; i < 3; i++)
                harness_viewer_free(v[i]);
        harness_free(h);
        printf("max viewers: ok\n");
}

int main(int argc, char **argv) {
        log_open("test-viewer-server");
        test_first_frame();
        test_cursor();
        test_mode_change();
        test_handover();
        test_malformed();
        test_repeated_acks();
        test_max_viewers();
        test_stalled();
        test_large_frames();
        return 0;
}
