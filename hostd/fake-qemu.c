#include "fake-qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>

#define LISTENER_PATH "/org/qemu/Display1/Listener"
#define LISTENER_INTERFACE "org.qemu.Display1.Listener"
#define CONSOLE_PATH "/org/qemu/Display1/Console_0"

/* QEMU is the authenticating side on both connections: hostd runs sd-bus as a client there. */
static int server_bus(int fd, sd_event *e, sd_bus **ret) {
        sd_bus *b = NULL;
        sd_id128_t id;
        int r;

        r = sd_bus_new(&b);
        if (r < 0) {
                close(fd);
                return r;
        }
        r = sd_bus_set_fd(b, fd, fd);
        if (r < 0) {
                close(fd);
                sd_bus_unref(b);
                return r;
        }
        if ((r = sd_id128_randomize(&id)) < 0 || (r = sd_bus_set_server(b, 1, id)) < 0 ||
            (r = sd_bus_negotiate_fds(b, 1)) < 0 || (r = sd_bus_start(b)) < 0 ||
            (r = sd_bus_attach_event(b, e, 0)) < 0) {
                sd_bus_flush_close_unref(b);
                return r;
        }
        *ret = b;
        return 0;
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
        FakeQemu *q = userdata;
        q->listener_closed++;
        return 0;
}

static int method_register_listener(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeQemu *q = userdata;
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        /* Like QEMU, one listener per console: a new one replaces the old. */
        q->listener = sd_bus_flush_close_unref(q->listener);
        r = server_bus(fd, sd_bus_get_event(q->bus), &q->listener);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(q->listener, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_listener_disconnected, q);
        if (r < 0)
                return r;
        q->registrations++;
        r = sd_bus_reply_method_return(m, NULL);
        if (r < 0)
                return r;
        if (q->auto_scanout && q->surface)
                r = fake_qemu_scanout(q, q->width, q->height, q->width * 4, FAKE_QEMU_XRGB, q->surface,
                                      (size_t) q->width * q->height * 4);
        return r;
}

static int method_key(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeQemu *q = userdata;
        bool press = strcmp(sd_bus_message_get_member(m), "Press") == 0;
        int r = sd_bus_message_read(m, "u", &q->last_key);
        if (r < 0)
                return r;
        q->keys[q->key_calls++ % FAKE_QEMU_KEY_LOG] = (FakeQemuKey) { .keycode = q->last_key, .press = press };
        if (press)
                q->key_presses++;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_mouse(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeQemu *q = userdata;
        const char *member = sd_bus_message_get_member(m);
        int32_t a = 0, b = 0;
        int r;

        if (strcmp(member, "Press") == 0 || strcmp(member, "Release") == 0)
                r = sd_bus_message_read(m, "u", &a);
        else
                r = sd_bus_message_read(m, strcmp(member, "RelMotion") == 0 ? "ii" : "uu", &a, &b);
        if (r < 0)
                return r;
        snprintf(q->last_mouse, sizeof(q->last_mouse), "%s %d %d", member, a, b);
        q->mouse_calls++;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_ui_info(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeQemu *q = userdata;
        uint16_t width_mm, height_mm;
        int32_t xoff, yoff;
        int r = sd_bus_message_read(m, "qqiiuu", &width_mm, &height_mm, &xoff, &yoff, &q->ui_info_width,
                                    &q->ui_info_height);
        if (r < 0)
                return r;
        q->ui_info_calls++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ConsoleIDs", "au", prop_console_ids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable console_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Type", "s", prop_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("RegisterListener", "h", "", method_register_listener, 0),
        SD_BUS_METHOD("SetUIInfo", "qqiiuu", "", method_set_ui_info, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable keyboard_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Press", "u", "", method_key, 0),
        SD_BUS_METHOD("Release", "u", "", method_key, 0),
        SD_BUS_VTABLE_END,
};
static const sd_bus_vtable mouse_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Press", "u", "", method_mouse, 0),
        SD_BUS_METHOD("Release", "u", "", method_mouse, 0),
        SD_BUS_METHOD("SetAbsPosition", "uu", "", method_mouse, 0),
        SD_BUS_METHOD("RelMotion", "ii", "", method_mouse, 0),
        SD_BUS_VTABLE_END,
};

int fake_qemu_new(sd_event *e, int fd, FakeQemu **ret) {
        _cleanup_(fake_qemu_freep) FakeQemu *q = calloc(1, sizeof(FakeQemu));
        int r;

        if (!q) {
                close(fd);
                return -ENOMEM;
        }
        r = server_bus(fd, e, &q->bus);
        if (r < 0)
                return r;
        if ((r = sd_bus_add_object_vtable(q->bus, NULL, "/org/qemu/Display1/VM", "org.qemu.Display1.VM", vm_vtable,
                                          q)) < 0 ||
            (r = sd_bus_add_object_vtable(q->bus, NULL, CONSOLE_PATH, "org.qemu.Display1.Console", console_vtable,
                                          q)) < 0 ||
            (r = sd_bus_add_object_vtable(q->bus, NULL, CONSOLE_PATH, "org.qemu.Display1.Keyboard", keyboard_vtable,
                                          q)) < 0 ||
            (r = sd_bus_add_object_vtable(q->bus, NULL, CONSOLE_PATH, "org.qemu.Display1.Mouse", mouse_vtable, q)) < 0)
                return r;
        *ret = TAKE_PTR(q);
        return 0;
}

FakeQemu *fake_qemu_free(FakeQemu *q) {
        if (!q)
                return NULL;
        sd_bus_flush_close_unref(q->listener);
        sd_bus_flush_close_unref(q->bus);
        free(q->surface);
        free(q);
        return NULL;
}

void fake_qemu_close(FakeQemu *q) {
        q->listener = sd_bus_flush_close_unref(q->listener);
        sd_bus_close(q->bus);
}

bool fake_qemu_listener_ready(FakeQemu *q) {
        return q->listener && sd_bus_is_ready(q->listener) > 0;
}

int fake_qemu_listener_call(FakeQemu *q, const char *member, sd_bus_message **ret) {
        if (!q->listener)
                return -ENOTCONN;
        return sd_bus_message_new_method_call(q->listener, ret, NULL, LISTENER_PATH, LISTENER_INTERFACE, member);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        FakeQemu *q = userdata;
        q->last_reply_error = sd_bus_message_get_error(m) ? 1 : 0;
        q->replies++;
        return 0;
}

int fake_qemu_send(FakeQemu *q, sd_bus_message *m) {
        int r = q->listener ? sd_bus_call_async(q->listener, NULL, m, on_reply, q, 0) : -ENOTCONN;
        sd_bus_message_unref(m);
        return r;
}

/* Keeps the surface that auto_scanout answers new listeners with. */
static int fake_qemu_keep_surface(FakeQemu *q, uint32_t w, uint32_t h, uint32_t stride, const uint8_t *data,
                                  size_t len) {
        if (stride < (uint64_t) w * 4 || len < (uint64_t) stride * (h ? h - 1 : 0) + (uint64_t) w * 4)
                return 0; /* a malformed Scanout the test sends on purpose: nothing to keep */
        uint8_t *s = malloc((size_t) w * h * 4 + 1);
        if (!s)
                return -ENOMEM;
        for (uint32_t y = 0; y < h; y++)
                memcpy(s + (size_t) y * w * 4, data + (size_t) y * stride, (size_t) w * 4);
        free(q->surface);
        q->surface = s;
        q->width = w;
        q->height = h;
        return 0;
}

static void fake_qemu_apply_update(FakeQemu *q, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride,
                                   const uint8_t *data, size_t len) {
        if (!q->surface || x < 0 || y < 0 || w <= 0 || h <= 0 || (uint64_t) x + (uint64_t) w > q->width ||
            (uint64_t) y + (uint64_t) h > q->height || stride < (uint64_t) w * 4 ||
            len < (uint64_t) stride * (uint64_t) (h - 1) + (uint64_t) w * 4)
                return;
        for (int32_t row = 0; row < h; row++)
                memcpy(q->surface + ((size_t) (y + row) * q->width + (size_t) x) * 4, data + (size_t) row * stride,
                       (size_t) w * 4);
}

int fake_qemu_scanout(FakeQemu *q, uint32_t w, uint32_t h, uint32_t stride, uint32_t format, const void *data,
                      size_t len) {
        sd_bus_message *m;
        int r;

        if (q->auto_scanout && data != q->surface && format == FAKE_QEMU_XRGB) {
                r = fake_qemu_keep_surface(q, w, h, stride, data, len);
                if (r < 0)
                        return r;
        }
        r = fake_qemu_listener_call(q, "Scanout", &m);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_append(m, "uuuu", w, h, stride, format)) < 0 ||
            (r = sd_bus_message_append_array(m, 'y', data, len)) < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        return fake_qemu_send(q, m);
}

int fake_qemu_update(FakeQemu *q, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride, uint32_t format,
                     const void *data, size_t len) {
        sd_bus_message *m;
        int r;

        r = fake_qemu_listener_call(q, "Update", &m);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_append(m, "iiiiuu", x, y, w, h, stride, format)) < 0 ||
            (r = sd_bus_message_append_array(m, 'y', data, len)) < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        if (q->auto_scanout && format == FAKE_QEMU_XRGB)
                fake_qemu_apply_update(q, x, y, w, h, stride, data, len);
        return fake_qemu_send(q, m);
}

int fake_qemu_cursor_define(FakeQemu *q, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const void *argb,
                            size_t len) {
        sd_bus_message *m;
        int r;

        r = fake_qemu_listener_call(q, "CursorDefine", &m);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_append(m, "iiii", w, h, hot_x, hot_y)) < 0 ||
            (r = sd_bus_message_append_array(m, 'y', argb, len)) < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        return fake_qemu_send(q, m);
}

int fake_qemu_mouse_set(FakeQemu *q, int32_t x, int32_t y, bool on) {
        sd_bus_message *m;
        int r;

        r = fake_qemu_listener_call(q, "MouseSet", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "iii", x, y, (int32_t) on);
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        return fake_qemu_send(q, m);
}
