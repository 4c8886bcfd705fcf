/* The utmp fallback: a private utmp file written with glibc's own pututline() (utmpname()), parsed
 * into sessions; the watcher reports logons and logoffs as the file changes (inotify, on a real
 * sd-event loop), and the table sync keeps other sources' sessions. */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <utmp.h>

#include "guestd-utmp.h"

static char path[] = "/tmp/test-guestd-utmp-XXXXXX";

static void put(short type, pid_t pid, const char *line, const char *user, const char *host, int32_t sec) {
        struct utmp u = { .ut_type = type, .ut_pid = pid };
        strncpy(u.ut_line, line, sizeof(u.ut_line));
        strncpy(u.ut_id, line + (strlen(line) > 4 ? strlen(line) - 4 : 0), sizeof(u.ut_id));
        strncpy(u.ut_user, user, sizeof(u.ut_user));
        strncpy(u.ut_host, host, sizeof(u.ut_host));
        u.ut_tv.tv_sec = sec;
        u.ut_tv.tv_usec = 250;
        check(utmpname(path) == 0);
        setutent();
        check(pututline(&u) != NULL);
        endutent();
}

static size_t read_all(uint8_t *buf, size_t size) {
        int fd = open(path, O_RDONLY);
        check(fd >= 0);
        ssize_t n = read(fd, buf, size);
        check(n >= 0);
        close(fd);
        return (size_t) n;
}

typedef struct Log {
        char lines[16][320];
        size_t n;
} Log;

static void changed(void *userdata, const GuestdSession *s, bool logon) {
        Log *l = userdata;
        check(l->n < 16);
        snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s %s %s %u %s %s %llu", logon ? "logon" : "logoff", s->id,
                 s->user, s->uid, s->tty, s->display, (unsigned long long) s->time_us);
}

static void test_parse(void) {
        static uint8_t buf[1 << 16];
        static GuestdSessions got;
        put(LOGIN_PROCESS, 100, "tty1", "LOGIN", "", 1000);
        put(USER_PROCESS, 100, "tty1", "root", "", 1001);
        put(USER_PROCESS, 101, ":0", "alice", ":0", 1002);
        put(USER_PROCESS, 102, "pts/3", "bob\x01x", "10.0.0.1", 1003);
        size_t n = read_all(buf, sizeof(buf));
        check(n == 3 * sizeof(struct utmp)); /* pututline replaced tty1's LOGIN record */
        guestd_utmp_parse(buf, n, &got);
        check(got.n == 3);
        check(strcmp(got.items[0].id, "tty1") == 0 && strcmp(got.items[0].user, "root") == 0);
        check(strcmp(got.items[0].tty, "tty1") == 0 && got.items[0].display[0] == 0);
        check(got.items[0].time_us == 1001000250u && got.items[0].source == AGENT_SOURCE_UTMP);
        check(strcmp(got.items[1].display, ":0") == 0 && got.items[1].tty[0] == 0);
        check(strcmp(got.items[2].user, "bob?x") == 0); /* control bytes never reach hostd */
        /* A trailing partial record is ignored, a cut one too. */
        guestd_utmp_parse(buf, n - 1, &got);
        check(got.n == 2);
        guestd_utmp_parse(buf, 0, &got);
        check(got.n == 0);
        put(DEAD_PROCESS, 102, "pts/3", "", "", 1004);
        n = read_all(buf, sizeof(buf));
        guestd_utmp_parse(buf, n, &got);
        check(got.n == 2);
}

/* Runs the loop until the log has want lines (the inotify event arrives). */
static void run_until(sd_event *e, Log *l, size_t want) {
        for (int i = 0; i < 1000 && l->n < want; i++)
                check(sd_event_run(e, 10000) >= 0);
        check(l->n == want);
}

static void test_watch(void) {
        sd_event *e;
        GuestdUtmp *u;
        static GuestdSessions table;
        Log log = {};
        check(sd_event_new(&e) >= 0);
        check(unlink(path) == 0);
        /* Another source's session stays through every sync. */
        GuestdSession other = { .id = "c1", .user = "carol", .source = AGENT_SOURCE_LOGIND };
        check(guestd_sessions_add(&table, &other) == 0);

        check(guestd_utmp_new(e, path, &table, changed, &log, &u) == 0);
        check(log.n == 0 && table.n == 1); /* no file yet: no sessions */
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        check(fd >= 0);
        close(fd);
        put(LOGIN_PROCESS, 200, "tty1", "LOGIN", "", 2000);
        put(USER_PROCESS, 200, "tty1", "root", "", 2001);
        run_until(e, &log, 1);
        check(strcmp(log.lines[0], "logon tty1 root 0 tty1  2001000250") == 0);
        put(DEAD_PROCESS, 200, "tty1", "", "", 2002);
        run_until(e, &log, 2);
        check(strncmp(log.lines[1], "logoff tty1 root", 16) == 0);
        /* Another login on the same line: a new session. */
        put(USER_PROCESS, 201, "tty1", "root", "", 2003);
        run_until(e, &log, 3);
        check(strcmp(log.lines[2], "logon tty1 root 0 tty1  2003000250") == 0);
        check(table.n == 2 && guestd_sessions_find(&table, "c1"));
        /* Removed file: everyone logged off. */
        check(unlink(path) == 0);
        run_until(e, &log, 4);
        check(strncmp(log.lines[3], "logoff tty1", 11) == 0);
        check(table.n == 1);
        guestd_utmp_free(u);
        sd_event_unref(e);
}

static void test_cap(void) {
        static GuestdSessions t, now;
        for (size_t i = 0; i < GUESTD_SESSIONS_MAX + 5; i++) {
                GuestdSession s = { .source = AGENT_SOURCE_UTMP };
                snprintf(s.id, sizeof(s.id), "pts/%zu", i);
                if (i < GUESTD_SESSIONS_MAX)
                        now.items[now.n++] = s;
                else
                        check(guestd_sessions_add(&t, &s) == (t.n == GUESTD_SESSIONS_MAX ? -ENOSPC : 0));
        }
        guestd_sessions_sync(&t, AGENT_SOURCE_UTMP, &now, NULL, NULL);
        check(t.n == GUESTD_SESSIONS_MAX);
        check(guestd_sessions_remove(&t, "pts/0", NULL) == 0);
        check(guestd_sessions_remove(&t, "pts/0", NULL) == -ENOENT);
        check(t.n == GUESTD_SESSIONS_MAX - 1);
}

int main(void) {
        int fd = mkstemp(path);
        check(fd >= 0);
        close(fd);
        test_parse();
        test_watch();
        test_cap();
        unlink(path);
        printf("ok\n");
        return 0;
}
