/* The logged-on sessions guestd reports (schema/agent-protocol.md, channel session): one table,
 * filled by the logind backend or the utmp fallback, read for every sessions-reset. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

/* Sessions tracked; logons past it are ignored (hostd's own cap is the same). */
#define GUESTD_SESSIONS_MAX 256

typedef struct GuestdSession {
        char id[AGENT_LOGON_SESSION_MAX + 1];
        char user[AGENT_LOGON_USER_MAX + 1];
        uint32_t uid;
        char tty[AGENT_LOGON_TTY_MAX + 1];
        char display[AGENT_LOGON_DISPLAY_MAX + 1];
        uint8_t source; /* AGENT_SOURCE_* */
        uint64_t time_us;
} GuestdSession;

typedef struct GuestdSessions {
        GuestdSession items[GUESTD_SESSIONS_MAX];
        size_t n;
} GuestdSessions;

/* Copies at most size-1 bytes of s[0..n) into dst as printable ASCII (others become '?'), NUL
 * terminated: what the peer gets is a bounded, harmless string. */
void guestd_copy_field(char *dst, size_t size, const char *s, size_t n);

GuestdSession *guestd_sessions_find(GuestdSessions *t, const char *id);
/* Adds s (by id; an existing entry is replaced). -ENOSPC at the cap. */
int guestd_sessions_add(GuestdSessions *t, const GuestdSession *s);
/* Removes id into *ret (if ret). -ENOENT when absent. */
int guestd_sessions_remove(GuestdSessions *t, const char *id, GuestdSession *ret);

/* Encoders of the session channel's messages into out. */
int guestd_encode_logon(Buffer *out, const GuestdSession *s);
int guestd_encode_logoff(Buffer *out, const GuestdSession *s, uint64_t time_us);

/* Called for each change guestd_sessions_sync() makes: logon true for a session added, false
 * for one removed (s is the removed entry). */
typedef void (*GuestdSessionsChanged)(void *userdata, const GuestdSession *s, bool logon);

/* Makes the table's sessions of source equal to now (a backend's full view, e.g. a utmp scan):
 * removes those not in now or changed (another user or logon time), then adds the new ones,
 * calling changed for each. Other sources' sessions are left alone. */
void guestd_sessions_sync(GuestdSessions *t, uint8_t source, const GuestdSessions *now,
                          GuestdSessionsChanged changed, void *userdata);
