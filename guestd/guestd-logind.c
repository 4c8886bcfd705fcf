#include "guestd-logind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

#define LOGIN1 "org.freedesktop.login1"
#define LOGIN1_PATH "/org/freedesktop/login1"
#define LOGIN1_MANAGER "org.freedesktop.login1.Manager"
#define LOGIN1_SESSION "org.freedesktop.login1.Session"

struct GuestdLogind {
        sd_bus *bus;
        sd_bus_slot *new_slot, *removed_slot, *list_slot;
        GuestdSessions *table;
        GuestdSessionsChanged changed;
        GuestdLogindUnavailable unavailable;
        void *userdata;
};

/* One GetAll in flight: its slot is floating, the request owns itself. */
typedef struct SessionQuery {
        GuestdLogind *logind;
        char id[AGENT_LOGON_SESSION_MAX + 1];
} SessionQuery;

static int read_string(sd_bus_message *m, char *dst, size_t size) {
        const char *s;
        int r = sd_bus_message_read(m, "v", "s", &s);
        if (r >= 0)
                guestd_copy_field(dst, size, s, strlen(s));
        return r;
}

/* a{sv} of org.freedesktop.login1.Session into s. */
static int parse_properties(sd_bus_message *m, GuestdSession *s) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (strcmp(key, "Id") == 0)
                        r = read_string(m, s->id, sizeof(s->id));
                else if (strcmp(key, "Name") == 0)
                        r = read_string(m, s->user, sizeof(s->user));
                else if (strcmp(key, "TTY") == 0)
                        r = read_string(m, s->tty, sizeof(s->tty));
                else if (strcmp(key, "Display") == 0)
                        r = read_string(m, s->display, sizeof(s->display));
                else if (strcmp(key, "User") == 0) {
                        const char *path;
                        r = sd_bus_message_read(m, "v", "(uo)", &s->uid, &path);
                } else if (strcmp(key, "Timestamp") == 0) {
                        uint64_t t;
                        r = sd_bus_message_read(m, "v", "t", &t);
                        s->time_us = t;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        SessionQuery *q = userdata; /* freed by the slot's destroy callback */
        GuestdLogind *l = q->logind;
        GuestdSession s = { .source = AGENT_SOURCE_LOGIND };

        if (sd_bus_message_is_method_error(m, NULL)) {
                /* Gone before we asked: its SessionRemoved follows or came already. */
                log_debug("Session %s: %s", q->id, sd_bus_message_get_error(m)->message);
                return 0;
        }
        int r = parse_properties(m, &s);
        if (r < 0 || !s.id[0]) {
                log_debug_errno(r, "Session %s: bad properties, ignoring: %m", q->id);
                return 0;
        }
        if (guestd_sessions_find(l->table, s.id))
                return 0;
        if (guestd_sessions_add(l->table, &s) < 0) {
                log_debug("Session %s over the cap of %d, ignoring", s.id, GUESTD_SESSIONS_MAX);
                return 0;
        }
        if (l->changed)
                l->changed(l->userdata, &s, true);
        return 0;
}

static int query_session(GuestdLogind *l, const char *id, const char *path) {
        SessionQuery *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->logind = l;
        guestd_copy_field(q->id, sizeof(q->id), id, strlen(id));
        sd_bus_slot *slot;
        int r = sd_bus_call_method_async(l->bus, &slot, LOGIN1, path, "org.freedesktop.DBus.Properties", "GetAll",
                                         on_properties, q, "s", LOGIN1_SESSION);
        if (r < 0) {
                free(q);
                return r;
        }
        /* The bus owns the call; q goes with it, answered or not. */
        sd_bus_slot_set_destroy_callback(slot, free);
        sd_bus_slot_set_floating(slot, 1);
        sd_bus_slot_unref(slot);
        return 0;
}

static int on_session_new(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        GuestdLogind *l = userdata;
        const char *id, *path;
        int r = sd_bus_message_read(m, "so", &id, &path);
        if (r < 0)
                return 0;
        r = query_session(l, id, path);
        if (r < 0)
                log_debug_errno(r, "Cannot query session %s: %m", id);
        return 0;
}

static int on_session_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        GuestdLogind *l = userdata;
        const char *id, *path;
        char key[AGENT_LOGON_SESSION_MAX + 1];
        GuestdSession gone;

        if (sd_bus_message_read(m, "so", &id, &path) < 0)
                return 0;
        guestd_copy_field(key, sizeof(key), id, strlen(id));
        if (guestd_sessions_remove(l->table, key, &gone) == 0 && l->changed)
                l->changed(l->userdata, &gone, false);
        return 0;
}

static int on_list(sd_bus_message *m, void *userdata, sd_bus_error *ret_error _unused_) {
        GuestdLogind *l = userdata;
        l->list_slot = sd_bus_slot_unref(l->list_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                int e = sd_bus_message_get_errno(m);
                log_debug("ListSessions: %s", sd_bus_message_get_error(m)->message);
                if (l->unavailable)
                        l->unavailable(l->userdata, e > 0 ? -e : -EHOSTUNREACH);
                return 0;
        }
        int r = sd_bus_message_enter_container(m, 'a', "(susso)");
        if (r < 0)
                return 0;
        const char *id, *user, *seat, *path;
        uint32_t uid;
        while ((r = sd_bus_message_read(m, "(susso)", &id, &uid, &user, &seat, &path)) > 0)
                if (query_session(l, id, path) < 0)
                        break;
        return 0;
}

int guestd_logind_new(sd_bus *bus, GuestdSessions *table, GuestdSessionsChanged changed,
                      GuestdLogindUnavailable unavailable, void *userdata, GuestdLogind **ret) {
        GuestdLogind *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (GuestdLogind) {
                .bus = sd_bus_ref(bus),
                .table = table,
                .changed = changed,
                .unavailable = unavailable,
                .userdata = userdata,
        };
        /* Signals first, then the list: a session that appears in between is in one or both, and
         * a second report of the same id is ignored. */
        int r = sd_bus_match_signal_async(bus, &l->new_slot, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "SessionNew",
                                          on_session_new, NULL, l);
        if (r >= 0)
                r = sd_bus_match_signal_async(bus, &l->removed_slot, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER,
                                              "SessionRemoved", on_session_removed, NULL, l);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, &l->list_slot, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER, "ListSessions",
                                             on_list, l, NULL);
        if (r < 0) {
                guestd_logind_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

GuestdLogind *guestd_logind_free(GuestdLogind *l) {
        if (!l)
                return NULL;
        sd_bus_slot_unref(l->new_slot);
        sd_bus_slot_unref(l->removed_slot);
        sd_bus_slot_unref(l->list_slot);
        sd_bus_unref(l->bus);
        free(l);
        return NULL;
}

static int on_power_reply(sd_bus_message *m, void *userdata _unused_, sd_bus_error *ret_error _unused_) {
        if (sd_bus_message_is_method_error(m, NULL))
                log_error("logind refused the power request: %s", sd_bus_message_get_error(m)->message);
        return 0;
}

int guestd_logind_power(GuestdLogind *l, bool reboot) {
        return sd_bus_call_method_async(l->bus, NULL, LOGIN1, LOGIN1_PATH, LOGIN1_MANAGER,
                                        reboot ? "Reboot" : "PowerOff", on_power_reply, NULL, "b", 0);
}
