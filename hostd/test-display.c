/* hostd's D-Bus display against a fake QEMU speaking org.qemu.Display1 on a socketpair: console
 * discovery, listener registration, Scanout/Update/Cursor handling, rejected and malformed calls
 * (the console is detached and re-attached, hostd carries on), DMABUF refusal, input, and the
 * display closing. The real QEMU path is covered by tests/ with libvirt. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fake-qemu.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-manager.h"
#include "log.h"

#define XRGB FAKE_QEMU_XRGB

static FakeQemu *fake;
static bool display_closed;

/* Calls a listener method; the arguments are appended by the caller. */
static sd_bus_message *listener_call(const char *member) {
        sd_bus_message *m;
        assert(fake->listener);
        assert(fake_qemu_listener_call(fake, member, &m) >= 0);
        return m;
}

static void send_call(sd_bus_message *m) {
        assert(fake_qemu_send(fake, m) >= 0);
}

static void run_until(sd_event *e, bool (*done)(void *), void *arg) {
        /* Bounded: a hang fails the test instead of blocking the suite. */
        for (int i = 0; i < 20000 && !done(arg); i++)
                assert(sd_event_run(e, 100000) >= 0);
        assert(done(arg));
}

static unsigned expected_replies;
static bool replies_reached(void *arg) {
        return fake->replies >= expected_replies;
}
static bool registrations_reached(void *arg) {
        return fake->registrations >= *(unsigned *) arg && fake->listener && sd_bus_is_ready(fake->listener) > 0;
}
static bool key_reached(void *arg) {
        return fake->key_presses >= 1;
}
static bool closed_reached(void *arg) {
        return display_closed;
}
static bool listener_closed_reached(void *arg) {
        return fake->listener_closed >= 1;
}

static void on_closed(Display *d, int error, void *userdata) {
        display_closed = true;
}

static void scanout(uint32_t w, uint32_t h, uint32_t fill) {
        size_t len = (size_t) w * h * 4;
        uint32_t *px = malloc(len);
        for (size_t i = 0; i < (size_t) w * h; i++)
                px[i] = fill;
        assert(fake_qemu_scanout(fake, w, h, w * 4, XRGB, px, len) >= 0);
        free(px);
}

static void update(int32_t x, int32_t y, int32_t w, int32_t h, uint32_t fill) {
        size_t len = (size_t) (w > 0 ? w : 1) * (h > 0 ? h : 1) * 4;
        uint32_t *px = malloc(len);
        for (size_t i = 0; i < len / 4; i++)
                px[i] = fill;
        assert(fake_qemu_update(fake, x, y, w, h, (uint32_t) (w > 0 ? w : 1) * 4, XRGB, px, len) >= 0);
        free(px);
}

static uint32_t pixel(Console *c, uint32_t x, uint32_t y) {
        uint32_t v;
        memcpy(&v, c->fb->pixels + (size_t) y * c->fb->stride + x * 4, 4);
        return v & 0xffffff;
}

int main(void) {
        char dir[] = "/tmp/test-display-XXXXXX";
        HostdConfig config;
        Manager *m = NULL;
        Display *d = NULL;
        int sv[2];

        log_open("test-display");
        assert(mkdtemp(dir));
        hostd_config_init(&config);
        free(config.state_directory);
        config.state_directory = strdup(dir);
        assert(asprintf(&config.control_socket, "%s/control.sock", dir) > 0);
        assert(manager_new(&config, &m) >= 0);

        assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        assert(fake_qemu_new(m->event, sv[1], &fake) >= 0);
        assert(display_new(m, "fake", sv[0], on_closed, NULL, &d) >= 0);

        unsigned want = 1;
        run_until(m->event, registrations_reached, &want);
        assert(display_n_consoles(d) == 1);
        Console *c = display_console(d, 0);
        assert(c && c->id == 0);

        /* A first frame, then an update inside it. */
        scanout(64, 48, 0x112233);
        update(8, 4, 16, 8, 0xabcdef);
        expected_replies = 2;
        run_until(m->event, replies_reached, NULL);
        assert(fake->last_reply_error == 0);
        assert(c->fb->width == 64 && c->fb->height == 48 && c->have_frame);
        assert(pixel(c, 0, 0) == 0x112233 && pixel(c, 8, 4) == 0xabcdef && pixel(c, 23, 11) == 0xabcdef &&
               pixel(c, 24, 11) == 0x112233);

        /* Negative coordinates: rejected with an error reply, framebuffer unchanged, still attached. */
        update(-1, 0, 16, 16, 0xffffff);
        expected_replies = 3;
        run_until(m->event, replies_reached, NULL);
        assert(fake->last_reply_error == 1 && c->rejected == 1 && pixel(c, 0, 0) == 0x112233);
        assert(fake->registrations == 1);

        /* Beyond the mode: how QEMU shows a silent surface switch. hostd registers again to get a
         * Scanout of the new surface, and applies nothing of the stray rectangle. */
        update(60, 40, 16, 16, 0xffffff);
        want = 2;
        run_until(m->event, registrations_reached, &want);
        assert(c->rejected == 1 && pixel(c, 63, 47) == 0x112233);

        /* DMABUF needs GL, which we refuse. */
        sd_bus_message *msg = listener_call("UpdateDMABUF");
        assert(sd_bus_message_append(msg, "iiii", 0, 0, 1, 1) >= 0);
        send_call(msg);
        expected_replies = fake->replies + 1;
        run_until(m->event, replies_reached, NULL);
        assert(fake->last_reply_error == 1 && fake->registrations == 2);

        /* Malformed: Update with the wrong signature. The console is dropped and registered again. */
        msg = listener_call("Update");
        assert(sd_bus_message_append(msg, "s", "garbage") >= 0);
        send_call(msg);
        fake->listener_closed = 0;
        run_until(m->event, listener_closed_reached, NULL);
        want = 3;
        run_until(m->event, registrations_reached, &want);
        scanout(32, 16, 0x445566);
        expected_replies = fake->replies + 1;
        run_until(m->event, replies_reached, NULL);
        c = display_console(d, 0);
        assert(c && c->fb->width == 32 && pixel(c, 31, 15) == 0x445566);

        /* Input goes to Display1.Keyboard. */
        assert(display_key(d, 0, true, 0x1c) >= 0);
        run_until(m->event, key_reached, NULL);
        assert(fake->last_key == 0x1c);
        assert(display_key(d, 7, true, 0x1c) == -ENOENT);

        /* And the mouse to Display1.Mouse, each call with its own arguments. */
        static const struct {
                int kind;
                int32_t a, b;
                const char *expect;
        } moves[] = {
                { 0, 2, 0, "Press 2 0" }, { 1, 2, 0, "Release 2 0" },
                { 2, 100, 200, "SetAbsPosition 100 200" }, { 3, -5, 7, "RelMotion -5 7" },
        };
        for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
                unsigned calls = fake->mouse_calls;
                switch (moves[i].kind) {
                case 0:
                case 1:
                        assert(display_mouse_button(d, 0, moves[i].kind == 0, (uint32_t) moves[i].a) >= 0);
                        break;
                case 2:
                        assert(display_mouse_move_abs(d, 0, (uint32_t) moves[i].a, (uint32_t) moves[i].b) >= 0);
                        break;
                default:
                        assert(display_mouse_move_rel(d, 0, moves[i].a, moves[i].b) >= 0);
                }
                while (fake->mouse_calls == calls)
                        assert(sd_event_run(m->event, 100000) >= 0);
                assert(strcmp(fake->last_mouse, moves[i].expect) == 0);
        }

        /* QEMU goes away: the owner hears about it once. */
        fake_qemu_close(fake);
        run_until(m->event, closed_reached, NULL);

        display_free(d);
        fake_qemu_free(fake);
        manager_free(m);
        printf("ok\n");
        return 0;
}
