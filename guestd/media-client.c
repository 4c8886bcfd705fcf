/* libtandem-media (tandem-media.h): org.tandem.Media1's client side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem-media.h"

#define NAME "org.tandem.Media1"
#define PATH "/org/tandem/Media1"
#define INTERFACE "org.tandem.Media1"

struct TandemMedia {
        sd_bus *bus;
        sd_bus_slot *match;
        TandemMediaCallbacks cb;
        void *userdata;
        char error[256];
};

static int set_error(TandemMedia *tm, const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e))
                snprintf(tm->error, sizeof(tm->error), "%s: %s", e->name, e->message ?: "");
        else
                snprintf(tm->error, sizeof(tm->error), "%s", strerror(r < 0 ? -r : r));
        return r;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        TandemMedia *tm = userdata;
        const char *member = sd_bus_message_get_member(m);
        uint32_t id;
        (void) error;
        if (!member)
                return 0;
        if (strcmp(member, "Closed") == 0) {
                const char *reason;
                if (tm->cb.closed && sd_bus_message_read(m, "us", &id, &reason) >= 0)
                        tm->cb.closed(tm->userdata, id, reason);
        } else if (strcmp(member, "KeyframeRequested") == 0) {
                if (tm->cb.keyframe_requested && sd_bus_message_read(m, "u", &id) >= 0)
                        tm->cb.keyframe_requested(tm->userdata, id);
        } else if (strcmp(member, "ViewersChanged") == 0 && tm->cb.viewers_changed) {
                char **codecs = NULL;
                if (sd_bus_message_read_strv(m, &codecs) >= 0) {
                        size_t n = 0;
                        while (codecs && codecs[n])
                                n++;
                        tm->cb.viewers_changed(tm->userdata, (const char *const *) codecs, n);
                }
                for (size_t i = 0; codecs && codecs[i]; i++)
                        free(codecs[i]);
                free(codecs);
        }
        return 0;
}

int tandem_media_new(sd_bus *bus, const TandemMediaCallbacks *callbacks, void *userdata, TandemMedia **ret) {
        TandemMedia *tm = calloc(1, sizeof(*tm));
        int r;
        if (!tm)
                return -ENOMEM;
        if (callbacks)
                tm->cb = *callbacks;
        tm->userdata = userdata;
        if (bus)
                tm->bus = sd_bus_ref(bus);
        else if ((r = sd_bus_open_system(&tm->bus)) < 0) {
                free(tm);
                return r;
        }
        /* Path and interface, any sender: unicast Closed/KeyframeRequested come from guestd. */
        r = sd_bus_match_signal(tm->bus, &tm->match, NULL, PATH, INTERFACE, NULL, on_signal, tm);
        if (r < 0) {
                tandem_media_free(tm);
                return r;
        }
        *ret = tm;
        return 0;
}

TandemMedia *tandem_media_free(TandemMedia *tm) {
        if (!tm)
                return NULL;
        sd_bus_slot_unref(tm->match);
        sd_bus_flush_close_unref(tm->bus);
        free(tm);
        return NULL;
}

sd_bus *tandem_media_bus(TandemMedia *tm) {
        return tm->bus;
}

const char *tandem_media_error(TandemMedia *tm) {
        return tm->error;
}

int tandem_media_open(TandemMedia *tm, const TandemMediaOpen *o, uint32_t *ret_stream, char *reason, size_t size) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const TandemMediaRect *rc = &o->rect;
        /* Opens go through guestd to hostd and back: up to its 2 s, and some slack. */
        int r = sd_bus_call_method(tm->bus, NAME, PATH, INTERFACE, "Open", &e, &reply, "ssu(iiuu)buy", o->kind, o->codec,
                                   o->window, rc->x, rc->y, rc->width, rc->height, (int) o->visible, o->sample_rate,
                                   o->channels);
        if (r < 0) {
                set_error(tm, &e, r);
                sd_bus_error_free(&e);
                return r;
        }
        uint32_t id;
        int redirect;
        const char *why;
        r = sd_bus_message_read(reply, "ubs", &id, &redirect, &why);
        if (r >= 0) {
                if (reason && size)
                        snprintf(reason, size, "%s", why);
                *ret_stream = id;
                r = redirect ? 1 : 0;
        } else
                set_error(tm, NULL, r);
        sd_bus_message_unref(reply);
        return r;
}

static int call_simple(TandemMedia *tm, sd_bus_message *m) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(tm->bus, m, 0, &e, NULL);
        if (r < 0)
                set_error(tm, &e, r);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

int tandem_media_push(TandemMedia *tm, uint32_t stream, uint64_t pts_us, bool keyframe, const void *data, size_t len) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(tm->bus, &m, NAME, PATH, INTERFACE, "Push");
        if (r >= 0)
                r = sd_bus_message_append(m, "utb", stream, pts_us, (int) keyframe);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', data, len);
        if (r < 0) {
                sd_bus_message_unref(m);
                return set_error(tm, NULL, r);
        }
        return call_simple(tm, m);
}

int tandem_media_set_geometry(TandemMedia *tm, uint32_t stream, uint32_t window, const TandemMediaRect *rc,
                              bool visible) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(tm->bus, &m, NAME, PATH, INTERFACE, "SetGeometry");
        if (r >= 0)
                r = sd_bus_message_append(m, "uu(iiuu)b", stream, window, rc->x, rc->y, rc->width, rc->height,
                                          (int) visible);
        if (r < 0) {
                sd_bus_message_unref(m);
                return set_error(tm, NULL, r);
        }
        return call_simple(tm, m);
}

int tandem_media_close(TandemMedia *tm, uint32_t stream) {
        sd_bus_message *m = NULL;
        int r = sd_bus_message_new_method_call(tm->bus, &m, NAME, PATH, INTERFACE, "Close");
        if (r >= 0)
                r = sd_bus_message_append(m, "u", stream);
        if (r < 0) {
                sd_bus_message_unref(m);
                return set_error(tm, NULL, r);
        }
        return call_simple(tm, m);
}

int tandem_media_process(TandemMedia *tm, uint64_t timeout_us) {
        int r;
        while ((r = sd_bus_process(tm->bus, NULL)) > 0)
                ;
        if (r < 0)
                return set_error(tm, NULL, r);
        if (timeout_us == 0)
                return 0;
        r = sd_bus_wait(tm->bus, timeout_us);
        if (r < 0)
                return set_error(tm, NULL, r);
        while ((r = sd_bus_process(tm->bus, NULL)) > 0)
                ;
        return r < 0 ? set_error(tm, NULL, r) : 0;
}
