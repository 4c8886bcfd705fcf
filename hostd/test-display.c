/* hostd's D-Bus display against a fake QEMU speaking org.qemu.Display1 on a socketpair: console
 * discovery, listener registration, Scanout/Update/Cursor handling, rejected and malformed calls
 * (the console is detached and re-attached, hostd carries on), DMABUF refusal, input, and the
 * display closing. The real QEMU path is covered by tests/ with libvirt. */
#include <assert.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-manager.h"
#include "log.h"

#define XRGB 0x20020888u

typedef struct FakeQemu {
        sd_bus *bus;
        sd_bus *listener;
        unsigned registrations;
        unsigned listener_closed;
        uint32_t last_key;
        unsigned key_presses;
        char last_mouse[64]; /* "Member args" of the last Display1.Mouse call */
        unsigned mouse_calls;
        int last_reply_error; /* errno-ish result of the last call we made to the listener */
        unsigned replies;
} FakeQemu;

static FakeQemu fake;
static bool display_closed;

static sd_bus *server_bus(int fd, sd_event *e) {
        sd_bus *b;
        sd_id128_t id;
        assert(sd_bus_new(&b) >= 0);
        assert(sd_bus_set_fd(b, fd, fd) >= 0);
        assert(sd_id128_randomize(&id) >= 0);
        assert(sd_bus_set_server(b, 1, id) >= 0);
        assert(sd_bus_negotiate_fds(b, 1) >= 0);
        assert(sd_bus_start(b) >= 0);
        assert(sd_bus_attach_event(b, e, 0) >= 0);
        return b;
}

static int prop_console_ids(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                            void *userdata, sd_bus_error *error) {
        static const uint32_t ids[] = { 0 };
        return sd_bus_message_append_array(reply, 'u', ids, sizeof(ids));
}

static int prop_type(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                     void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", "Graphic");
}

static int on_listener_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        fake.listener_closed++;
        return 0;
}

static int method_register_listener(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        int fd;
        assert(sd_bus_message_read(m, "h", &fd) >= 0);
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        assert(fd >= 0);
        if (fake.listener) {
                sd_bus_flush_close_unref(fake.listener);
                fake.listener = NULL;
        }
        fake.listener = server_bus(fd, sd_bus_get_event(fake.bus));
        assert(sd_bus_match_signal(fake.listener, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                   "Disconnected", on_listener_disconnected, NULL) >= 0);
        fake.registrations++;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_key(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        assert(sd_bus_message_read(m, "u", &fake.last_key) >= 0);
        if (strcmp(sd_bus_message_get_member(m), "Press") == 0)
                fake.key_presses++;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_mouse(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m);
        int32_t a = 0, b = 0;
        if (strcmp(member, "Press") == 0 || strcmp(member, "Release") == 0)
                assert(sd_bus_message_read(m, "u", &a) >= 0);
        else
                assert(sd_bus_message_read(m, strcmp(member, "RelMotion") == 0 ? "ii" : "uu", &a, &b) >= 0);
        snprintf(fake.last_mouse, sizeof(fake.last_mouse), "%s %d %d", member, a, b);
        fake.mouse_calls++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable mouse_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Press", "u", "", method_mouse, 0),
        SD_BUS_METHOD("Release", "u", "", method_mouse, 0),
        SD_BUS_METHOD("SetAbsPosition", "uu", "", method_mouse, 0),
        SD_BUS_METHOD("RelMotion", "ii", "", method_mouse, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ConsoleIDs", "au", prop_console_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable console_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Type", "s", prop_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("RegisterListener", "h", "", method_register_listener, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable keyboard_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Press", "u", "", method_key, 0),
        SD_BUS_METHOD("Release", "u", "", method_key, 0),
        SD_BUS_VTABLE_END,
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        const sd_bus_error *err = sd_bus_message_get_error(m);
        fake.last_reply_error = err ? 1 : 0;
        fake.replies++;
        return 0;
}

/* Calls a listener method; the arguments are appended by the caller-supplied builder. */
static sd_bus_message *listener_call(const char *member) {
        sd_bus_message *m;
        assert(fake.listener);
        assert(sd_bus_message_new_method_call(fake.listener, &m, NULL, "/org/qemu/Display1/Listener",
                                              "org.qemu.Display1.Listener", member) >= 0);
        return m;
}

static void send_call(sd_bus_message *m) {
        assert(sd_bus_call_async(fake.listener, NULL, m, on_reply, NULL, 0) >= 0);
        sd_bus_message_unref(m);
}

static void run_until(sd_event *e, bool (*done)(void *), void *arg) {
        /* Bounded: a hang fails the test instead of blocking the suite. */
        for (int i = 0; i < 20000 && !done(arg); i++)
                assert(sd_event_run(e, 100000) >= 0);
        assert(done(arg));
}

static unsigned expected_replies;
static bool replies_reached(void *arg) {
        return fake.replies >= expected_replies;
}
static bool registrations_reached(void *arg) {
        return fake.registrations >= *(unsigned *) arg && fake.listener && sd_bus_is_ready(fake.listener) > 0;
}
static bool key_reached(void *arg) {
        return fake.key_presses >= 1;
}
static bool closed_reached(void *arg) {
        return display_closed;
}
static bool listener_closed_reached(void *arg) {
        return fake.listener_closed >= 1;
}

static void on_closed(Display *d, int error, void *userdata) {
        display_closed = true;
}

static void scanout(uint32_t w, uint32_t h, uint32_t fill) {
        size_t len = (size_t) w * h * 4;
        uint32_t *px = malloc(len);
        for (size_t i = 0; i < (size_t) w * h; i++)
                px[i] = fill;
        sd_bus_message *m = listener_call("Scanout");
        assert(sd_bus_message_append(m, "uuuu", w, h, w * 4, XRGB) >= 0);
        assert(sd_bus_message_append_array(m, 'y', px, len) >= 0);
        send_call(m);
        free(px);
}

static void update(int32_t x, int32_t y, int32_t w, int32_t h, uint32_t fill) {
        size_t len = (size_t) (w > 0 ? w : 1) * (h > 0 ? h : 1) * 4;
        uint32_t *px = malloc(len);
        for (size_t i = 0; i < len / 4; i++)
                px[i] = fill;
        sd_bus_message *m = listener_call("Update");
        assert(sd_bus_message_append(m, "iiiiuu", x, y, w, h, (uint32_t) (w > 0 ? w : 1) * 4, XRGB) >= 0);
        assert(sd_bus_message_append_array(m, 'y', px, len) >= 0);
        send_call(m);
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
        fake.bus = server_bus(sv[1], m->event);
        assert(sd_bus_add_object_vtable(fake.bus, NULL, "/org/qemu/Display1/VM", "org.qemu.Display1.VM", vm_vtable,
                                        NULL) >= 0);
        assert(sd_bus_add_object_vtable(fake.bus, NULL, "/org/qemu/Display1/Console_0", "org.qemu.Display1.Console",
                                        console_vtable, NULL) >= 0);
        assert(sd_bus_add_object_vtable(fake.bus, NULL, "/org/qemu/Display1/Console_0", "org.qemu.Display1.Keyboard",
                                        keyboard_vtable, NULL) >= 0);
        assert(sd_bus_add_object_vtable(fake.bus, NULL, "/org/qemu/Display1/Console_0", "org.qemu.Display1.Mouse",
                                        mouse_vtable, NULL) >= 0);
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
        assert(fake.last_reply_error == 0);
        assert(c->fb->width == 64 && c->fb->height == 48 && c->have_frame);
        assert(pixel(c, 0, 0) == 0x112233 && pixel(c, 8, 4) == 0xabcdef && pixel(c, 23, 11) == 0xabcdef &&
               pixel(c, 24, 11) == 0x112233);

        /* Negative coordinates: rejected with an error reply, framebuffer unchanged, still attached. */
        update(-1, 0, 16, 16, 0xffffff);
        expected_replies = 3;
        run_until(m->event, replies_reached, NULL);
        assert(fake.last_reply_error == 1 && c->rejected == 1 && pixel(c, 0, 0) == 0x112233);
        assert(fake.registrations == 1);

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
        expected_replies = fake.replies + 1;
        run_until(m->event, replies_reached, NULL);
        assert(fake.last_reply_error == 1 && fake.registrations == 2);

        /* Malformed: Update with the wrong signature. The console is dropped and registered again. */
        msg = listener_call("Update");
        assert(sd_bus_message_append(msg, "s", "garbage") >= 0);
        send_call(msg);
        fake.listener_closed = 0;
        run_until(m->event, listener_closed_reached, NULL);
        want = 3;
        run_until(m->event, registrations_reached, &want);
        scanout(32, 16, 0x445566);
        expected_replies = fake.replies + 1;
        run_until(m->event, replies_reached, NULL);
        c = display_console(d, 0);
        assert(c && c->fb->width == 32 && pixel(c, 31, 15) == 0x445566);

        /* Input goes to Display1.Keyboard. */
        assert(display_key(d, 0, true, 0x1c) >= 0);
        run_until(m->event, key_reached, NULL);
        assert(fake.last_key == 0x1c);
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
                unsigned calls = fake.mouse_calls;
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
                while (fake.mouse_calls == calls)
                        assert(sd_event_run(m->event, 100000) >= 0);
                assert(strcmp(fake.last_mouse, moves[i].expect) == 0);
        }

        /* QEMU goes away: the owner hears about it once. */
        sd_bus_flush_close_unref(fake.listener);
        fake.listener = NULL;
        sd_bus_close(fake.bus);
        run_until(m->event, closed_reached, NULL);

        display_free(d);
        sd_bus_unref(fake.bus);
        manager_free(m);
        printf("ok\n");
        return 0;
}
