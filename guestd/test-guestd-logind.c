/* The logind backend against a logind-like service on a private bus: this test starts
 * `dbus-daemon --session --print-address` and exports org.freedesktop.login1 itself (Manager
 * with ListSessions, Reboot, PowerOff and the SessionNew/SessionRemoved signals; Session objects
 * with Id, Name, User, TTY, Display, Timestamp), so no booted systemd is needed. Checks: no
 * logind on the bus -> `unavailable'; the sessions open at start reported; sessions appearing and
 * disappearing reported as logons and logoffs with their properties; a SessionNew whose object
 * is gone ignored; Reboot and PowerOff called. Skips without dbus-daemon. */
#include "check.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestd-logind.h"
#include "macro.h"

typedef struct FakeSession {
        char *id, *name, *tty, *display, *path;
        uint32_t uid;
        uint64_t timestamp;
        sd_bus_slot *slot;
} FakeSession;

typedef struct Fake {
        sd_bus *bus;
        FakeSession sessions[8];
        size_t n;
        int reboots, poweroffs;
} Fake;

typedef struct Seen {
        char lines[16][400];
        size_t n;
        int unavailable;
} Seen;

static int get_user(sd_bus *bus _unused_, const char *path _unused_, const char *iface _unused_,
                    const char *prop _unused_, sd_bus_message *reply, void *userdata, sd_bus_error *err _unused_) {
        FakeSession *s = userdata;
        char p[64];
        snprintf(p, sizeof(p), "/org/freedesktop/login1/user/_%u", s->uid);
        return sd_bus_message_append(reply, "(uo)", s->uid, p);
}

static const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", NULL, offsetof(FakeSession, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(FakeSession, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("User", "(uo)", get_user, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TTY", "s", NULL, offsetof(FakeSession, tty), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Display", "s", NULL, offsetof(FakeSession, display), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Timestamp", "t", NULL, offsetof(FakeSession, timestamp), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Remote", "b", NULL, offsetof(FakeSession, uid), SD_BUS_VTABLE_PROPERTY_CONST), /* skipped */
        SD_BUS_VTABLE_END,
};

static int list_sessions(sd_bus_message *m, void *userdata, sd_bus_error *err _unused_) {
        Fake *f = userdata;
        sd_bus_message *reply;
        check(sd_bus_message_new_method_return(m, &reply) >= 0);
        check(sd_bus_message_open_container(reply, 'a', "(susso)") >= 0);
        for (size_t i = 0; i < f->n; i++)
                if (f->sessions[i].slot)
                        check(sd_bus_message_append(reply, "(susso)", f->sessions[i].id, f->sessions[i].uid,
                                                    f->sessions[i].name, "seat0", f->sessions[i].path) >= 0);
        check(sd_bus_message_close_container(reply) >= 0);
        int r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int power(sd_bus_message *m, void *userdata, sd_bus_error *err _unused_) {
        Fake *f = userdata;
        int interactive;
        check(sd_bus_message_read(m, "b", &interactive) >= 0 && !interactive);
        if (strcmp(sd_bus_message_get_member(m), "Reboot") == 0)
                f->reboots++;
        else
                f->poweroffs++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("ListSessions", NULL, "a(susso)", list_sessions, 0),
        SD_BUS_METHOD("Reboot", "b", NULL, power, 0),
        SD_BUS_METHOD("PowerOff", "b", NULL, power, 0),
        SD_BUS_SIGNAL("SessionNew", "so", 0),
        SD_BUS_SIGNAL("SessionRemoved", "so", 0),
        SD_BUS_VTABLE_END,
};

/* Adds a session object; announce: emit SessionNew too. export false: the signal only (a
 * session gone before anyone asked). */
static FakeSession *fake_add(Fake *f, const char *id, const char *name, uint32_t uid, const char *tty,
                             const char *display, uint64_t ts, bool export, bool announce) {
        check(f->n < 8);
        FakeSession *s = &f->sessions[f->n++];
        char path[128];
        snprintf(path, sizeof(path), "/org/freedesktop/login1/session/_%s", id);
        *s = (FakeSession) { strdup(id), strdup(name), strdup(tty), strdup(display), strdup(path), uid, ts, NULL };
        if (export)
                check(sd_bus_add_object_vtable(f->bus, &s->slot, path, "org.freedesktop.login1.Session", session_vtable,
                                               s) >= 0);
        if (announce)
                check(sd_bus_emit_signal(f->bus, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "SessionNew",
                                         "so", id, path) >= 0);
        return s;
}

static void fake_remove(Fake *f, FakeSession *s) {
        s->slot = sd_bus_slot_unref(s->slot);
        check(sd_bus_emit_signal(f->bus, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "SessionRemoved",
                                 "so", s->id, s->path) >= 0);
}

static void changed(void *userdata, const GuestdSession *s, bool logon) {
        Seen *seen = userdata;
        check(seen->n < 16);
        snprintf(seen->lines[seen->n++], sizeof(seen->lines[0]), "%s %s %s %u %s %s %d %llu", logon ? "logon" : "logoff",
                 s->id, s->user, s->uid, s->tty, s->display, s->source, (unsigned long long) s->time_us);
}

static void unavailable(void *userdata, int error) {
        Seen *seen = userdata;
        check(error < 0);
        seen->unavailable++;
}

static sd_bus *connect_bus(sd_event *e, const char *address) {
        sd_bus *bus;
        check(sd_bus_new(&bus) >= 0);
        check(sd_bus_set_address(bus, address) >= 0);
        check(sd_bus_set_bus_client(bus, 1) >= 0);
        check(sd_bus_start(bus) >= 0);
        check(sd_bus_attach_event(bus, e, 0) >= 0);
        return bus;
}

static void run_until(sd_event *e, bool (*done)(void *), void *userdata) {
        for (int i = 0; i < 1000 && !done(userdata); i++)
                check(sd_event_run(e, 10000) >= 0);
        check(done(userdata));
}

static size_t want_n;
static bool seen_n(void *userdata) {
        return ((Seen *) userdata)->n >= want_n;
}
static bool seen_unavailable(void *userdata) {
        return ((Seen *) userdata)->unavailable > 0;
}
static bool fake_powered(void *userdata) {
        Fake *f = userdata;
        return f->reboots + f->poweroffs >= (int) want_n;
}

/* Starts dbus-daemon; returns its pid and the bus address in addr. */
static pid_t start_dbus(char *addr, size_t size) {
        int p[2];
        check(pipe(p) == 0);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                dup2(p[1], 1);
                close(p[0]);
                execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1",
                       (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        size_t n = 0;
        while (n + 1 < size) {
                ssize_t k = read(p[0], addr + n, size - n - 1);
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (memchr(addr, '\n', n))
                        break;
        }
        close(p[0]);
        addr[n] = 0;
        addr[strcspn(addr, "\n")] = 0;
        check(addr[0]);
        return pid;
}

int main(void) {
        if (system("command -v dbus-daemon >/dev/null") != 0) {
                printf("skip: no dbus-daemon (package dbus-daemon)\n");
                return 77;
        }
        char addr[1024];
        pid_t dbus = start_dbus(addr, sizeof(addr));
        sd_event *e;
        check(sd_event_new(&e) >= 0);
        Fake fake = { .bus = connect_bus(e, addr) };
        sd_bus *client = connect_bus(e, addr);
        static GuestdSessions table;
        Seen seen = {};
        GuestdLogind *l;

        /* Nobody owns org.freedesktop.login1 yet: the owner hears `unavailable'. */
        check(guestd_logind_new(client, &table, changed, unavailable, &seen, &l) == 0);
        run_until(e, seen_unavailable, &seen);
        check(seen.n == 0);
        l = guestd_logind_free(l);

        check(sd_bus_add_object_vtable(fake.bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                       manager_vtable, &fake) >= 0);
        check(sd_bus_request_name(fake.bus, "org.freedesktop.login1", 0) >= 0);
        FakeSession *console = fake_add(&fake, "1", "root", 0, "tty1", "", 1700000000000001, true, false);

        /* The session open at start. */
        seen.unavailable = 0;
        check(guestd_logind_new(client, &table, changed, unavailable, &seen, &l) == 0);
        want_n = 1;
        run_until(e, seen_n, &seen);
        check(strcmp(seen.lines[0], "logon 1 root 0 tty1  0 1700000000000001") == 0);

        /* A graphical logon appears. */
        fake_add(&fake, "c2", "alice", 1000, "", ":0", 1700000000000002, true, true);
        want_n = 2;
        run_until(e, seen_n, &seen);
        check(strcmp(seen.lines[1], "logon c2 alice 1000  :0 0 1700000000000002") == 0);
        check(table.n == 2 && strcmp(guestd_sessions_find(&table, "c2")->display, ":0") == 0);

        /* A session announced but gone before its properties were read: nothing; then the
         * console session ends. */
        fake_add(&fake, "c3", "bob", 1001, "", ":1", 1, false, true);
        fake_remove(&fake, console);
        want_n = 3;
        run_until(e, seen_n, &seen);
        check(strncmp(seen.lines[2], "logoff 1 root", 13) == 0);
        for (int i = 0; i < 50; i++)
                check(sd_event_run(e, 1000) >= 0);
        check(seen.n == 3 && table.n == 1 && !guestd_sessions_find(&table, "c3"));
        /* A removal of something never seen is nothing. */
        fake_remove(&fake, &fake.sessions[2]);
        for (int i = 0; i < 50; i++)
                check(sd_event_run(e, 1000) >= 0);
        check(seen.n == 3 && seen.unavailable == 0);

        /* Power through logind. */
        check(guestd_logind_power(l, true) >= 0);
        want_n = 1;
        run_until(e, fake_powered, &fake);
        check(guestd_logind_power(l, false) >= 0);
        want_n = 2;
        run_until(e, fake_powered, &fake);
        check(fake.reboots == 1 && fake.poweroffs == 1);

        guestd_logind_free(l);
        sd_bus_flush_close_unref(client);
        for (size_t i = 0; i < fake.n; i++) {
                FakeSession *s = &fake.sessions[i];
                sd_bus_slot_unref(s->slot);
                free(s->id), free(s->name), free(s->tty), free(s->display), free(s->path);
        }
        sd_bus_flush_close_unref(fake.bus);
        sd_event_unref(e);
        kill(dbus, SIGTERM);
        waitpid(dbus, NULL, 0);
        printf("ok\n");
        return 0;
}
