/* The sessions fallback for guests without logind: utmp. A parser of the file's bytes (pointer
 * + length, fuzzed by fuzz-guestd-utmp) and a watcher that rescans the file when it changes. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "guestd-sessions.h"

/* The sessions in a utmp file's bytes: one per USER_PROCESS record, id and tty its line
 * ("tty1"), user its user, display its host or line when that is an X display (":0"), time its
 * ut_tv; uid UINT32_MAX (the watcher resolves it). Records past GUESTD_SESSIONS_MAX and a
 * trailing partial record are ignored; a later record of the same line replaces an earlier one.
 * Always succeeds (a file of garbage has no USER_PROCESS records, or odd ones). */
void guestd_utmp_parse(const uint8_t *p, size_t n, GuestdSessions *ret);

typedef struct GuestdUtmp GuestdUtmp;

/* Watches path (inotify on its directory; a 1 s poll when that fails) and syncs the table's
 * utmp sessions with it at once and on every change, calling changed for each. */
int guestd_utmp_new(sd_event *e, const char *path, GuestdSessions *table, GuestdSessionsChanged changed,
                    void *userdata, GuestdUtmp **ret);
GuestdUtmp *guestd_utmp_free(GuestdUtmp *u);
/* Rescans now (tests; the watcher does it by itself). */
void guestd_utmp_rescan(GuestdUtmp *u);
