#include "guestd-utmp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <utmp.h>

#include "log.h"
#include "macro.h"

/* Largest utmp file read: far more records than sessions (dead entries stay until reused). */
#define UTMP_READ_MAX ((size_t) 4 << 20)

static bool is_x_display(const char *s, size_t n) {
        return n >= 2 && s[0] == ':' && s[1] >= '0' && s[1] <= '9';
}

void guestd_utmp_parse(const uint8_t *p, size_t n, GuestdSessions *ret) {
        ret->n = 0;
        for (size_t off = 0; n - off >= sizeof(struct utmp); off += sizeof(struct utmp)) {
                struct utmp u;
                memcpy(&u, p + off, sizeof(u)); /* the bytes may be unaligned */
                if (u.ut_type != USER_PROCESS)
                        continue;
                GuestdSession s = { .uid = UINT32_MAX, .source = AGENT_SOURCE_UTMP };
                size_t line_len = strnlen(u.ut_line, sizeof(u.ut_line));
                size_t user_len = strnlen(u.ut_user, sizeof(u.ut_user));
                size_t host_len = strnlen(u.ut_host, sizeof(u.ut_host));
                if (line_len == 0)
                        continue;
                guestd_copy_field(s.id, sizeof(s.id), u.ut_line, line_len);
                guestd_copy_field(s.user, sizeof(s.user), u.ut_user, user_len);
                if (is_x_display(u.ut_host, host_len))
                        guestd_copy_field(s.display, sizeof(s.display), u.ut_host, host_len);
                else if (is_x_display(u.ut_line, line_len))
                        guestd_copy_field(s.display, sizeof(s.display), u.ut_line, line_len);
                else
                        guestd_copy_field(s.tty, sizeof(s.tty), u.ut_line, line_len);
                int64_t sec = u.ut_tv.tv_sec, usec = u.ut_tv.tv_usec;
                s.time_us = sec > 0 && usec >= 0 && usec < 1000000 && sec < INT64_MAX / 1000000 - 1
                                    ? (uint64_t) sec * 1000000u + (uint64_t) usec
                                    : 0;
                GuestdSession *old = guestd_sessions_find(ret, s.id);
                if (old)
                        *old = s;
                else if (ret->n < GUESTD_SESSIONS_MAX)
                        ret->items[ret->n++] = s;
        }
}

struct GuestdUtmp {
        sd_event_source *inotify, *timer;
        char *path;
        const char *name; /* inside path: the file name inotify events carry */
        GuestdSessions *table;
        GuestdSessionsChanged changed;
        void *userdata;
        GuestdSessions now; /* scratch: the last scan */
};

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t cap = 16384, len = 0;
        _cleanup_(freep) uint8_t *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= UTMP_READ_MAX)
                                break;
                        uint8_t *b = realloc(buf, cap * 2);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap *= 2;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

void guestd_utmp_rescan(GuestdUtmp *u) {
        _cleanup_(freep) uint8_t *data = NULL;
        size_t len = 0;
        int r = read_file(u->path, &data, &len);
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Cannot read %s: %m", u->path);
        guestd_utmp_parse(data, r < 0 ? 0 : len, &u->now);
        for (size_t i = 0; i < u->now.n; i++) {
                GuestdSession *s = &u->now.items[i];
                struct passwd *pw = s->user[0] ? getpwnam(s->user) : NULL;
                s->uid = pw ? (uint32_t) pw->pw_uid : UINT32_MAX;
        }
        guestd_sessions_sync(u->table, AGENT_SOURCE_UTMP, &u->now, u->changed, u->userdata);
}

static int on_inotify(sd_event_source *s _unused_, const struct inotify_event *ev, void *userdata) {
        GuestdUtmp *u = userdata;
        if (ev->len == 0 || strcmp(ev->name, u->name) == 0)
                guestd_utmp_rescan(u);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        GuestdUtmp *u = userdata;
        guestd_utmp_rescan(u);
        sd_event_source_set_time(s, usec + 1000000);
        return 0;
}

int guestd_utmp_new(sd_event *e, const char *path, GuestdSessions *table, GuestdSessionsChanged changed,
                    void *userdata, GuestdUtmp **ret) {
        _cleanup_(freep) char *dir = NULL;
        GuestdUtmp *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *u = (GuestdUtmp) { .table = table, .changed = changed, .userdata = userdata };
        u->path = strdup(path);
        const char *slash = u->path ? strrchr(u->path, '/') : NULL;
        if (u->path && slash)
                dir = slash == u->path ? strdup("/") : strndup(u->path, (size_t) (slash - u->path));
        else if (u->path)
                dir = strdup(".");
        if (!u->path || !dir) {
                guestd_utmp_free(u);
                return -ENOMEM;
        }
        u->name = slash ? slash + 1 : u->path;
        int r = sd_event_add_inotify(e, &u->inotify, dir,
                                     IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE, on_inotify, u);
        if (r < 0) {
                log_debug_errno(r, "No inotify on %s (%m): polling %s every second", dir, u->path);
                uint64_t now;
                sd_event_now(e, CLOCK_MONOTONIC, &now);
                r = sd_event_add_time(e, &u->timer, CLOCK_MONOTONIC, now + 1000000, 0, on_timer, u);
                if (r >= 0)
                        sd_event_source_set_enabled(u->timer, SD_EVENT_ON);
        }
        if (r < 0) {
                guestd_utmp_free(u);
                return r;
        }
        guestd_utmp_rescan(u);
        *ret = u;
        return 0;
}

GuestdUtmp *guestd_utmp_free(GuestdUtmp *u) {
        if (!u)
                return NULL;
        sd_event_source_disable_unref(u->inotify);
        sd_event_source_disable_unref(u->timer);
        free(u->path);
        free(u);
        return NULL;
}
