#include "hostd-display.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "hostd-audio.h"
#include "hostd-console.h"
#include "hostd-input-queue.h"
#include "hostd-manager.h"
#include "log.h"

#define DISPLAY_PATH_PREFIX "/org/qemu/Display1/Console_"
#define LISTENER_PATH "/org/qemu/Display1/Listener"
#define LISTENER_INTERFACE "org.qemu.Display1.Listener"
/* QEMU offers a handful of consoles; a peer claiming more is not one we trust. */
#define DISPLAY_MAX_CONSOLES 16
#define REATTACH_MAX_DELAY_USEC (10 * 1000000ULL)

typedef struct DisplayConsole {
        Display *display;
        unsigned id;
        bool graphic;
        Console *console;
        sd_bus *listener;
        sd_bus_slot *register_slot;
        sd_event_source *reattach_timer;
        sd_event_source *drain_source;
        unsigned reattaches;
        uint64_t last_resync; /* CLOCK_MONOTONIC */
        uint64_t resyncs;
        bool dmabuf_logged;
} DisplayConsole;

struct Display {
        Manager *manager;
        char *domain;
        sd_bus *bus;
        sd_bus_slot *ids_slot;
        sd_bus_slot *disconnect_slot;
        DisplayConsole *consoles;
        size_t n_consoles;
        DisplayClosedFn on_closed;
        void *userdata;
        bool closed;
        InputQueue *input;
        uint64_t input_usec; /* CLOCK_MONOTONIC of the last input sent on, 0: none (the broker's hang signal) */
        Audio *audio; /* the VM's sound on this connection (hostd-audio.h), NULL with [Audio] Enabled=no */
};

static void display_console_detach(DisplayConsole *dc) {
        dc->drain_source = sd_event_source_disable_unref(dc->drain_source);
        dc->register_slot = sd_bus_slot_unref(dc->register_slot);
        if (dc->listener) {
                sd_bus_detach_event(dc->listener);
                sd_bus_close(dc->listener);
                dc->listener = sd_bus_unref(dc->listener);
        }
}

Display *display_free(Display *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_consoles; i++) {
                DisplayConsole *dc = &d->consoles[i];
                display_console_detach(dc);
                sd_event_source_disable_unref(dc->reattach_timer);
                console_free(dc->console);
        }
        free(d->consoles);
        audio_free(d->audio); /* before the bus it registered on */
        input_queue_free(d->input);
        sd_bus_slot_unref(d->ids_slot);
        sd_bus_slot_unref(d->disconnect_slot);
        if (d->bus) {
                sd_bus_detach_event(d->bus);
                sd_bus_close(d->bus);
                sd_bus_unref(d->bus);
        }
        free(d->domain);
        free(d);
        return NULL;
}

static void display_closed(Display *d, int error) {
        if (d->closed)
                return;
        d->closed = true;
        d->on_closed(d, error, d->userdata);
}

static void display_console_schedule_reattach(DisplayConsole *dc);
static void display_console_resync(DisplayConsole *dc);

/* ---- Listener: QEMU calls these; reply at once, QEMU waits for the answers. ---- */

static int listener_scanout(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        uint32_t w, h, stride, format;
        const void *data;
        size_t len;
        int r;

        r = sd_bus_message_read(m, "uuuu", &w, &h, &stride, &format);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return r;
        r = console_scanout(dc->console, w, h, stride, format, data, len);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Invalid Scanout: %s", strerror(-r));
        dc->reattaches = 0;
        return sd_bus_reply_method_return(m, NULL);
}

static int listener_update(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        int32_t x, y, w, h;
        uint32_t stride, format;
        const void *data;
        size_t len;
        int r;

        r = sd_bus_message_read(m, "iiiiuu", &x, &y, &w, &h, &stride, &format);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return r;
        if (x >= 0 && y >= 0 && w > 0 && h > 0 &&
            ((uint64_t) x + (uint64_t) w > dc->console->fb->width ||
             (uint64_t) y + (uint64_t) h > dc->console->fb->height)) {
                /* QEMU switches surfaces silently and sends a Scanout only for an update covering
                 * the whole new surface, which VGA text mode never does (it updates by rows). A
                 * rectangle beyond our mode is how a mode change shows: register again, and QEMU
                 * answers a new listener with a Scanout of the current surface. */
                display_console_resync(dc);
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Update outside the current mode");
        }
        r = console_update(dc->console, x, y, w, h, stride, format, data, len);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Invalid Update: %s", strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static int listener_dmabuf(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        /* Only sent with GL, which Tandem's domains do not enable. */
        if (!dc->dmabuf_logged) {
                dc->dmabuf_logged = true;
                log_warning("%s: QEMU sent %s, but hostd takes no DMABUF (enable no GL on the domain), ignoring",
                            dc->console->name, sd_bus_message_get_member(m));
        }
        return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "tandem-hostd does not accept DMABUF scanouts");
}

static int listener_disable(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        console_disable(dc->console);
        return sd_bus_reply_method_return(m, NULL);
}

static int listener_mouse_set(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        int32_t x, y, on;
        int r = sd_bus_message_read(m, "iii", &x, &y, &on);
        if (r < 0)
                return r;
        console_mouse_set(dc->console, x, y, on != 0);
        return sd_bus_reply_method_return(m, NULL);
}

static int listener_cursor_define(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        DisplayConsole *dc = userdata;
        int32_t w, h, hot_x, hot_y;
        const void *data;
        size_t len;
        int r;

        r = sd_bus_message_read(m, "iiii", &w, &h, &hot_x, &hot_y);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return r;
        r = console_cursor_define(dc->console, w, h, hot_x, hot_y, data, len);
        if (r < 0)
                return sd_bus_error_set_errnof(error, -r, "Invalid CursorDefine: %s", strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable listener_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Scanout", "uuuuay", "", listener_scanout, 0),
        SD_BUS_METHOD("Update", "iiiiuuay", "", listener_update, 0),
        SD_BUS_METHOD("ScanoutDMABUF", "huuuutb", "", listener_dmabuf, 0),
        SD_BUS_METHOD("UpdateDMABUF", "iiii", "", listener_dmabuf, 0),
        SD_BUS_METHOD("Disable", "", "", listener_disable, 0),
        SD_BUS_METHOD("MouseSet", "iii", "", listener_mouse_set, 0),
        SD_BUS_METHOD("CursorDefine", "iiiiay", "", listener_cursor_define, 0),
        SD_BUS_VTABLE_END,
};

/* Runs before the vtable: a call on our interface that is not one of our methods with its exact
 * signature means the peer does not speak the protocol we know. Drop the listener and register a
 * new one, rather than guess. */
static int listener_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        DisplayConsole *dc = userdata;
        const char *iface = sd_bus_message_get_interface(m);
        const char *member = sd_bus_message_get_member(m);
        const char *signature = sd_bus_message_get_signature(m, true);

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) {
                log_info("%s: QEMU closed the listener connection", dc->console->name);
                display_console_schedule_reattach(dc);
                return 1;
        }
        if (!sd_bus_message_is_method_call(m, NULL, NULL) || !iface || strcmp(iface, LISTENER_INTERFACE) != 0)
                return 0;
        for (const sd_bus_vtable *v = listener_vtable + 1; v->type == _SD_BUS_VTABLE_METHOD; v++)
                if (strcmp(v->x.method.member, member) == 0 && strcmp(v->x.method.signature, signature) == 0)
                        return 0;

        log_warning("%s: malformed call %s(%s) from QEMU, re-attaching the console", dc->console->name,
                    member ? member : "?", signature);
        sd_bus_reply_method_errorf(m, SD_BUS_ERROR_INVALID_ARGS, "Unexpected call %s(%s)", member, signature);
        display_console_schedule_reattach(dc);
        return 1;
}

static void display_console_register(DisplayConsole *dc);

static int on_reattach_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        display_console_register(userdata);
        return 0;
}

/* Drops the listener now (QEMU sees the socket close and forgets it; sd-bus keeps a bus alive
 * while it dispatches, so this is safe from the bus's own callbacks) and registers a new one after
 * delay. */
static void display_console_reregister(DisplayConsole *dc, uint64_t delay) {
        Display *d = dc->display;
        uint64_t now;

        display_console_detach(dc);
        if (dc->reattach_timer) {
                int enabled = SD_EVENT_OFF;
                sd_event_source_get_enabled(dc->reattach_timer, &enabled);
                if (enabled != SD_EVENT_OFF)
                        return;
        }
        sd_event_now(d->manager->event, CLOCK_MONOTONIC, &now);
        if (!dc->reattach_timer) {
                if (sd_event_add_time(d->manager->event, &dc->reattach_timer, CLOCK_MONOTONIC, now + delay, 0,
                                      on_reattach_timer, dc) < 0) {
                        log_error("%s: cannot schedule re-attachment", dc->console->name);
                        return;
                }
        } else
                sd_event_source_set_time(dc->reattach_timer, now + delay);
        sd_event_source_set_enabled(dc->reattach_timer, SD_EVENT_ONESHOT);
}

/* After a failure: the delay grows with repeated failures, up to REATTACH_MAX_DELAY_USEC. */
static void display_console_schedule_reattach(DisplayConsole *dc) {
        uint64_t delay = 100000ULL << MIN(dc->reattaches, 7u);
        dc->reattaches++;
        manager_emit(dc->display->manager, "detach-console %s %u", dc->display->domain, dc->id);
        display_console_reregister(dc, MIN(delay, REATTACH_MAX_DELAY_USEC));
}

/* After a mode change: at once, unless the last resync was less than a second ago (a peer that
 * keeps sending rectangles outside every mode must not make us spin). */
static void display_console_resync(DisplayConsole *dc) {
        uint64_t now;
        sd_event_now(dc->display->manager->event, CLOCK_MONOTONIC, &now);
        uint64_t delay = dc->last_resync && now < dc->last_resync + 1000000ULL ? 1000000ULL : 0;
        dc->last_resync = now + delay;
        dc->resyncs++;
        log_debug("%s: update outside the %ux%u mode, registering again for a Scanout", dc->console->name,
                  dc->console->fb->width, dc->console->fb->height);
        display_console_reregister(dc, delay);
}

static int on_registered(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DisplayConsole *dc = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        dc->register_slot = sd_bus_slot_unref(dc->register_slot);
        if (e) {
                log_warning("%s: RegisterListener failed: %s", dc->console->name, e->message ? e->message : e->name);
                display_console_schedule_reattach(dc);
                return 0;
        }
        log_debug("%s: listener registered", dc->console->name);
        manager_emit(dc->display->manager, "attach-console %s %u", dc->display->domain, dc->id);
        return 0;
}

/* sd-bus reads greedily while authenticating: when QEMU's OK and its first call (GetAll, then
 * Scanout) arrive in one read, the call sits in sd-bus's buffer with nothing left on the socket
 * to wake the loop, and QEMU, blocked on it, stalls until its 25 s D-Bus timeout. So until the
 * connection is up, process the bus after every loop iteration. */
static int on_listener_drain(sd_event_source *s, void *userdata) {
        DisplayConsole *dc = userdata;
        while (dc->listener && sd_bus_process(dc->listener, NULL) > 0)
                ;
        if (dc->listener && sd_bus_is_ready(dc->listener) > 0)
                dc->drain_source = sd_event_source_disable_unref(dc->drain_source);
        return 0;
}

static void display_console_register(DisplayConsole *dc) {
        Display *d = dc->display;
        _cleanup_(closep) int peer = -EBADF;
        int sv[2], r;

        display_console_detach(dc);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
                r = -errno;
                goto fail;
        }
        peer = sv[1];
        r = sd_bus_new(&dc->listener);
        if (r < 0) {
                close(sv[0]);
                goto fail;
        }
        r = sd_bus_set_fd(dc->listener, sv[0], sv[0]);
        if (r < 0) {
                close(sv[0]);
                goto fail;
        }
        sd_bus_set_description(dc->listener, dc->console->name);
        if ((r = sd_bus_add_filter(dc->listener, NULL, listener_filter, dc)) < 0 ||
            (r = sd_bus_add_object_vtable(dc->listener, NULL, LISTENER_PATH, LISTENER_INTERFACE, listener_vtable, dc)) < 0 ||
            (r = sd_bus_start(dc->listener)) < 0 || (r = sd_bus_attach_event(dc->listener, d->manager->event, 0)) < 0 ||
            (r = sd_event_add_post(d->manager->event, &dc->drain_source, on_listener_drain, dc)) < 0)
                goto fail;

        char path[64];
        snprintf(path, sizeof(path), DISPLAY_PATH_PREFIX "%u", dc->id);
        r = sd_bus_call_method_async(d->bus, &dc->register_slot, NULL, path, "org.qemu.Display1.Console",
                                     "RegisterListener", on_registered, dc, "h", peer);
        if (r < 0)
                goto fail;
        return;
fail:
        log_warning_errno(r, "%s: failed to set up a listener: %m", dc->console->name);
        display_console_detach(dc);
        display_console_schedule_reattach(dc);
}

/* ---- Console discovery: VM.ConsoleIDs, then each console's Type. ---- */

static int on_console_properties(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        DisplayConsole *dc = userdata;
        Display *d = dc->display;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        if (e) {
                log_warning("%s: cannot read console %u: %s", d->domain, dc->id, e->message ? e->message : e->name);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'v', "s");
        if (r >= 0) {
                const char *type;
                r = sd_bus_message_read(reply, "s", &type);
                if (r >= 0)
                        dc->graphic = strcmp(type, "Graphic") == 0;
        }
        if (r < 0) {
                log_warning_errno(r, "%s: bad Type of console %u: %m", d->domain, dc->id);
                return 0;
        }
        if (!dc->graphic) {
                log_debug("%s: console %u is not graphic, skipping", d->domain, dc->id);
                return 0;
        }
        r = console_new(d->manager, d->domain, dc->id, &dc->console);
        if (r < 0) {
                log_error_errno(r, "%s: cannot allocate console %u: %m", d->domain, dc->id);
                return 0;
        }
        display_console_register(dc);
        return 0;
}

static int on_console_ids(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Display *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const void *ids;
        size_t size;
        int r;

        d->ids_slot = sd_bus_slot_unref(d->ids_slot);
        if (e) {
                log_warning("%s: cannot list consoles: %s", d->domain, e->message ? e->message : e->name);
                display_closed(d, -EPROTO);
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'v', "au");
        if (r >= 0)
                r = sd_bus_message_read_array(reply, 'u', &ids, &size);
        if (r < 0 || size / sizeof(uint32_t) > DISPLAY_MAX_CONSOLES) {
                log_warning("%s: bad ConsoleIDs from QEMU", d->domain);
                display_closed(d, -EBADMSG);
                return 0;
        }
        d->n_consoles = size / sizeof(uint32_t);
        d->consoles = calloc(d->n_consoles ? d->n_consoles : 1, sizeof(DisplayConsole));
        if (!d->consoles) {
                display_closed(d, -ENOMEM);
                return 0;
        }
        log_info("%s: display attached, %zu console(s)", d->domain, d->n_consoles);
        manager_emit(d->manager, "attached %s %zu", d->domain, d->n_consoles);
        for (size_t i = 0; i < d->n_consoles; i++) {
                DisplayConsole *dc = &d->consoles[i];
                char path[64];
                memcpy(&dc->id, (const uint8_t *) ids + i * sizeof(uint32_t), sizeof(uint32_t));
                dc->display = d;
                snprintf(path, sizeof(path), DISPLAY_PATH_PREFIX "%u", dc->id);
                r = sd_bus_call_method_async(d->bus, NULL, NULL, path, "org.freedesktop.DBus.Properties", "Get",
                                             on_console_properties, dc, "ss", "org.qemu.Display1.Console", "Type");
                if (r < 0)
                        log_warning_errno(r, "%s: cannot query console %u: %m", d->domain, dc->id);
        }
        return 0;
}

static int on_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Display *d = userdata;
        log_info("%s: display connection closed", d->domain);
        display_closed(d, -ECONNRESET);
        return 0;
}

static int send_input(void *userdata, const InputCall *c);

int display_new(Manager *m, const char *domain, int fd, DisplayClosedFn on_closed, void *userdata, Display **ret) {
        _cleanup_(closep) int owned = fd;
        _cleanup_(display_freep) Display *d = calloc(1, sizeof(Display));
        int r;

        if (!d)
                return -ENOMEM;
        d->manager = m;
        d->on_closed = on_closed;
        d->userdata = userdata;
        d->domain = strdup(domain);
        if (!d->domain)
                return -ENOMEM;
        r = input_queue_new(m->event, send_input, d, &d->input);
        if (r < 0)
                return r;

        r = sd_bus_new(&d->bus);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(d->bus, owned, owned);
        if (r < 0)
                return r;
        TAKE_FD(owned);
        sd_bus_set_description(d->bus, domain);
        r = sd_bus_match_signal(d->bus, &d->disconnect_slot, NULL, "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, d);
        if (r < 0)
                return r;
        r = sd_bus_start(d->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(d->bus, m->event, 0);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(d->bus, &d->ids_slot, NULL, "/org/qemu/Display1/VM",
                                     "org.freedesktop.DBus.Properties", "Get", on_console_ids, d, "ss",
                                     "org.qemu.Display1.VM", "ConsoleIDs");
        if (r < 0)
                return r;
        if (m->config.audio.enabled) {
                r = audio_new(m, domain, d->bus, &d->audio);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

size_t display_n_consoles(Display *d) {
        size_t n = 0;
        for (size_t i = 0; i < d->n_consoles; i++)
                n += d->consoles[i].console != NULL;
        return n;
}

Console *display_console(Display *d, size_t idx) {
        for (size_t i = 0; i < d->n_consoles; i++)
                if (d->consoles[i].console && idx-- == 0)
                        return d->consoles[i].console;
        return NULL;
}

/* ---- Input ---- */

static int on_input_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e)
                log_debug("input call failed: %s", e->message ? e->message : e->name);
        return 0;
}

static int send_input(void *userdata, const InputCall *c) {
        Display *d = userdata;
        char path[64];

        if (d->closed)
                return -ENOTCONN;
        snprintf(path, sizeof(path), DISPLAY_PATH_PREFIX "%u", c->console);
        if (strlen(c->signature) == 1)
                return sd_bus_call_method_async(d->bus, NULL, NULL, path, c->iface, c->member, on_input_reply, NULL,
                                                c->signature, c->a);
        return sd_bus_call_method_async(d->bus, NULL, NULL, path, c->iface, c->member, on_input_reply, NULL,
                                        c->signature, c->a, c->b);
}

static int display_input_call(Display *d, unsigned console_id, const char *iface, const char *member,
                              const char *signature, uint32_t a, uint32_t b) {
        bool found = false;

        for (size_t i = 0; i < d->n_consoles; i++)
                found |= d->consoles[i].id == console_id && d->consoles[i].console;
        if (!found)
                return -ENOENT;
        InputCall call = { .console = console_id, .iface = iface, .member = member, .signature = signature,
                           .a = a, .b = b, .key = strcmp(iface, "org.qemu.Display1.Keyboard") == 0 };
        sd_event_now(d->manager->event, CLOCK_MONOTONIC, &d->input_usec);
        return input_queue_push(d->input, &call);
}

int display_key(Display *d, unsigned console_id, bool press, uint32_t keycode) {
        return display_input_call(d, console_id, "org.qemu.Display1.Keyboard", press ? "Press" : "Release", "u",
                                  keycode, 0);
}

int display_mouse_button(Display *d, unsigned console_id, bool press, uint32_t button) {
        return display_input_call(d, console_id, "org.qemu.Display1.Mouse", press ? "Press" : "Release", "u", button,
                                  0);
}

int display_mouse_move_abs(Display *d, unsigned console_id, uint32_t x, uint32_t y) {
        return display_input_call(d, console_id, "org.qemu.Display1.Mouse", "SetAbsPosition", "uu", x, y);
}

int display_mouse_move_rel(Display *d, unsigned console_id, int32_t dx, int32_t dy) {
        return display_input_call(d, console_id, "org.qemu.Display1.Mouse", "RelMotion", "ii", (uint32_t) dx,
                                  (uint32_t) dy);
}

Audio *display_audio(Display *d) {
        return d ? d->audio : NULL;
}

uint64_t display_input_usec(Display *d) {
        return d ? d->input_usec : 0;
}

size_t display_input_pending(Display *d) {
        return input_queue_length(d->input);
}

static int on_ui_info_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e)
                log_debug("SetUIInfo failed: %s", e->message ? e->message : e->name);
        return 0;
}

int display_set_ui_info(Display *d, unsigned console_id, uint32_t width, uint32_t height) {
        char path[64];
        bool found = false;

        if (d->closed)
                return -ENOTCONN;
        for (size_t i = 0; i < d->n_consoles; i++)
                found |= d->consoles[i].id == console_id && d->consoles[i].console;
        if (!found)
                return -ENOENT;
        snprintf(path, sizeof(path), DISPLAY_PATH_PREFIX "%u", console_id);
        /* Physical size unknown (0 mm), no offset: one monitor of the viewer's size. */
        return sd_bus_call_method_async(d->bus, NULL, NULL, path, "org.qemu.Display1.Console", "SetUIInfo",
                                        on_ui_info_reply, NULL, "qqiiuu", (uint16_t) 0, (uint16_t) 0, (int32_t) 0,
                                        (int32_t) 0, width, height);
}
