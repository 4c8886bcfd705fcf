#include "fake-qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
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

/* ---- Audio (vmaudio): like QEMU on a peer-to-peer display, one listener of each kind at a time;
 * a second registration while the first is connected is refused. ---- */

static int method_register_audio(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeQemu *q = userdata;
        bool out = strcmp(sd_bus_message_get_member(m), "RegisterOutListener") == 0;
        sd_bus **slot = out ? &q->audio_out : &q->audio_in;
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        if (*slot && sd_bus_is_open(*slot) > 0) {
                q->audio_refused++;
                return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "`p2p' is already registered!");
        }
        *slot = sd_bus_flush_close_unref(*slot);
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        r = server_bus(fd, sd_bus_get_event(q->bus), slot);
        if (r < 0)
                return r;
        if (out)
                q->audio_out_registrations++;
        else
                q->audio_in_registrations++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable audio_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("RegisterOutListener", "h", "", method_register_audio, 0),
        SD_BUS_METHOD("RegisterInListener", "h", "", method_register_audio, 0),
        SD_BUS_VTABLE_END,
};

bool fake_qemu_audio_ready(FakeQemu *q, bool out) {
        sd_bus *b = out ? q->audio_out : q->audio_in;
        return b && sd_bus_is_ready(b) > 0;
}

static int audio_call(FakeQemu *q, bool out, const char *member, sd_bus_message **ret) {
        sd_bus *b = out ? q->audio_out : q->audio_in;
        if (!b)
                return -ENOTCONN;
        return sd_bus_message_new_method_call(b, ret, NULL,
                                              out ? "/org/qemu/Display1/AudioOutListener"
                                                  : "/org/qemu/Display1/AudioInListener",
                                              out ? "org.qemu.Display1.AudioOutListener"
                                                  : "org.qemu.Display1.AudioInListener",
                                              member);
}

static int on_audio_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        FakeQemu *q = userdata;
        q->audio_replies++;
        if (sd_bus_message_get_error(m))
                q->audio_errors++;
        return 0;
}

static int audio_send(FakeQemu *q, bool out, sd_bus_message *m, int r) {
        if (r >= 0)
                r = sd_bus_call_async(out ? q->audio_out : q->audio_in, NULL, m, on_audio_reply, q, 0);
        if (r >= 0)
                q->audio_calls++;
        sd_bus_message_unref(m);
        return r;
}

int fake_qemu_audio_init_raw(FakeQemu *q, bool out, uint64_t id, uint8_t bits, bool is_signed, bool is_float,
                             uint32_t freq, uint8_t nchannels, uint32_t bytes_per_frame, uint32_t bytes_per_second,
                             bool be) {
        sd_bus_message *m;
        int r = audio_call(q, out, "Init", &m);
        if (r < 0)
                return r;
        return audio_send(q, out, m,
                          sd_bus_message_append(m, "tybbuyuub", id, bits, (int) is_signed, (int) is_float, freq,
                                                nchannels, bytes_per_frame, bytes_per_second, (int) be));
}

int fake_qemu_audio_init(FakeQemu *q, bool out, uint64_t id, uint8_t bits, bool is_float, uint32_t freq,
                         uint8_t nchannels) {
        uint32_t frame = (uint32_t) bits / 8 * nchannels;
        return fake_qemu_audio_init_raw(q, out, id, bits, true, is_float, freq, nchannels, frame, frame * freq, false);
}

int fake_qemu_audio_set_enabled(FakeQemu *q, bool out, uint64_t id, bool enabled) {
        sd_bus_message *m;
        int r = audio_call(q, out, "SetEnabled", &m);
        if (r < 0)
                return r;
        return audio_send(q, out, m, sd_bus_message_append(m, "tb", id, (int) enabled));
}

int fake_qemu_audio_set_volume(FakeQemu *q, bool out, uint64_t id, bool mute, const uint8_t *volume, size_t n) {
        sd_bus_message *m;
        int r = audio_call(q, out, "SetVolume", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tb", id, (int) mute);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', volume, n);
        return audio_send(q, out, m, r);
}

int fake_qemu_audio_fini(FakeQemu *q, bool out, uint64_t id) {
        sd_bus_message *m;
        int r = audio_call(q, out, "Fini", &m);
        if (r < 0)
                return r;
        return audio_send(q, out, m, sd_bus_message_append(m, "t", id));
}

int fake_qemu_audio_write(FakeQemu *q, uint64_t id, const void *data, size_t len) {
        sd_bus_message *m;
        int r = audio_call(q, true, "Write", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "t", id);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', data, len);
        return audio_send(q, true, m, r);
}

int fake_qemu_audio_write_sine(FakeQemu *q, uint64_t id, double hz, double amplitude, uint32_t rate,
                               uint8_t channels, size_t frames, double *phase) {
        uint8_t *pcm = malloc(frames * channels * 2 + 1);
        if (!pcm)
                return -ENOMEM;
        for (size_t i = 0; i < frames; i++) {
                int16_t s = (int16_t) lrint(sin(*phase) * amplitude * 32767.0);
                for (uint8_t c = 0; c < channels; c++) {
                        pcm[(i * channels + c) * 2] = (uint8_t) ((uint16_t) s & 0xff);
                        pcm[(i * channels + c) * 2 + 1] = (uint8_t) ((uint16_t) s >> 8);
                }
                *phase = fmod(*phase + 2.0 * M_PI * hz / rate, 2.0 * M_PI);
        }
        int r = fake_qemu_audio_write(q, id, pcm, frames * channels * 2);
        free(pcm);
        return r;
}

static int on_read_reply(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        FakeQemu *q = userdata;
        const void *data;
        size_t len;

        q->audio_replies++;
        if (sd_bus_message_get_error(m) || sd_bus_message_read_array(m, 'y', &data, &len) < 0) {
                q->audio_errors++;
                return 0;
        }
        uint8_t *p = realloc(q->audio_read, q->audio_read_len + len + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p + q->audio_read_len, data, len);
        q->audio_read = p;
        q->audio_read_len += len;
        q->audio_reads++;
        return 0;
}

int fake_qemu_audio_read(FakeQemu *q, uint64_t id, uint64_t size) {
        sd_bus_message *m;
        int r = audio_call(q, false, "Read", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "tt", id, size);
        if (r >= 0)
                r = sd_bus_call_async(q->audio_in, NULL, m, on_read_reply, q, 0);
        if (r >= 0)
                q->audio_calls++;
        sd_bus_message_unref(m);
        return r;
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
            (r = sd_bus_add_object_vtable(q->bus, NULL, CONSOLE_PATH, "org.qemu.Display1.Mouse", mouse_vtable, q)) < 0 ||
            (r = sd_bus_add_object_vtable(q->bus, NULL, "/org/qemu/Display1/Audio", "org.qemu.Display1.Audio",
                                          audio_vtable, q)) < 0)
                return r;
        *ret = TAKE_PTR(q);
        return 0;
}

FakeQemu *fake_qemu_free(FakeQemu *q) {
        if (!q)
                return NULL;
        sd_bus_flush_close_unref(q->listener);
        sd_bus_flush_close_unref(q->audio_out);
        sd_bus_flush_close_unref(q->audio_in);
        sd_bus_flush_close_unref(q->bus);
        free(q->surface);
        free(q->audio_read);
        free(q);
        return NULL;
}

void fake_qemu_close(FakeQemu *q) {
        q->listener = sd_bus_flush_close_unref(q->listener);
        q->audio_out = sd_bus_flush_close_unref(q->audio_out);
        q->audio_in = sd_bus_flush_close_unref(q->audio_in);
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
