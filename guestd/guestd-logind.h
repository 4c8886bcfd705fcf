/* Sessions from systemd-logind over sd-bus (org.freedesktop.login1): ListSessions at start,
 * then SessionNew and SessionRemoved, each new session's properties (Id, Name, User, TTY,
 * Display, Timestamp) read with GetAll. Every call is asynchronous: the loop never waits on the
 * bus. */
#pragma once

#include <systemd/sd-bus.h>

#include "guestd-sessions.h"

typedef struct GuestdLogind GuestdLogind;

/* Called once when ListSessions fails (no logind on this bus): the owner falls back to utmp. */
typedef void (*GuestdLogindUnavailable)(void *userdata, int error);

/* Starts watching on bus (attached to the loop by the caller); takes a reference to it. */
int guestd_logind_new(sd_bus *bus, GuestdSessions *table, GuestdSessionsChanged changed,
                      GuestdLogindUnavailable unavailable, void *userdata, GuestdLogind **ret);
GuestdLogind *guestd_logind_free(GuestdLogind *l);

/* org.freedesktop.login1.Manager.Reboot or PowerOff (interactive false), asynchronously. */
int guestd_logind_power(GuestdLogind *l, bool reboot);
