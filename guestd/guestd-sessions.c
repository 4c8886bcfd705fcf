#include "guestd-sessions.h"

#include <errno.h>
#include <string.h>

void guestd_copy_field(char *dst, size_t size, const char *s, size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n && s[i] && k + 1 < size; i++)
                dst[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        dst[k] = 0;
}

GuestdSession *guestd_sessions_find(GuestdSessions *t, const char *id) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->items[i].id, id) == 0)
                        return &t->items[i];
        return NULL;
}

int guestd_sessions_add(GuestdSessions *t, const GuestdSession *s) {
        GuestdSession *old = guestd_sessions_find(t, s->id);
        if (old) {
                *old = *s;
                return 0;
        }
        if (t->n == GUESTD_SESSIONS_MAX)
                return -ENOSPC;
        t->items[t->n++] = *s;
        return 0;
}

int guestd_sessions_remove(GuestdSessions *t, const char *id, GuestdSession *ret) {
        GuestdSession *s = guestd_sessions_find(t, id);
        if (!s)
                return -ENOENT;
        if (ret)
                *ret = *s;
        size_t i = (size_t) (s - t->items);
        memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof(t->items[0]));
        t->n--;
        return 0;
}

int guestd_encode_logon(Buffer *out, const GuestdSession *s) {
        AgentLogon m = {
                .session = s->id,
                .session_len = strlen(s->id),
                .user = s->user,
                .user_len = strlen(s->user),
                .uid = s->uid,
                .tty = s->tty,
                .tty_len = strlen(s->tty),
                .display = s->display,
                .display_len = strlen(s->display),
                .source = s->source,
                .time_us = s->time_us,
        };
        return agent_encode_logon(out, &m);
}

int guestd_encode_logoff(Buffer *out, const GuestdSession *s, uint64_t time_us) {
        AgentLogoff m = {
                .session = s->id,
                .session_len = strlen(s->id),
                .user = s->user,
                .user_len = strlen(s->user),
                .time_us = time_us,
        };
        return agent_encode_logoff(out, &m);
}

static bool same_session(const GuestdSession *a, const GuestdSession *b) {
        return strcmp(a->id, b->id) == 0 && strcmp(a->user, b->user) == 0 && a->time_us == b->time_us &&
               a->source == b->source;
}

void guestd_sessions_sync(GuestdSessions *t, uint8_t source, const GuestdSessions *now,
                          GuestdSessionsChanged changed, void *userdata) {
        for (size_t i = 0; i < t->n;) {
                GuestdSession *s = &t->items[i];
                bool keep = s->source != source;
                for (size_t k = 0; !keep && k < now->n; k++)
                        keep = same_session(s, &now->items[k]);
                if (keep) {
                        i++;
                        continue;
                }
                GuestdSession gone;
                guestd_sessions_remove(t, s->id, &gone);
                if (changed)
                        changed(userdata, &gone, false);
        }
        for (size_t k = 0; k < now->n; k++) {
                const GuestdSession *s = &now->items[k];
                if (s->source != source || guestd_sessions_find(t, s->id))
                        continue;
                if (guestd_sessions_add(t, s) < 0)
                        break; /* at the cap: the rest are ignored */
                if (changed)
                        changed(userdata, s, true);
        }
}
