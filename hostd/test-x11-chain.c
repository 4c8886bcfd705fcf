#include "test-x11-chain.h"

#include "check.h"
/* Xlib's Display and Region under other names: hostd and common have their own. */
#define Display XDisplay
#define Region XRegion
#include <X11/Xlib.h>
#include <X11/Xatom.h>
#include <X11/Xutil.h>
#undef Display
#undef Region
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>
#include <zlib.h>

#include "client-session.h"
#include "hostd-conf.h"

void (*chain_pump)(Chain *c);

uint64_t chain_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * CHAIN_SECOND + (uint64_t) ts.tv_nsec / 1000;
}

static bool have_tool(const char *name) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
        return system(cmd) == 0;
}

static pid_t spawn(char *const argv[], const char *log, int keep_fd, const char *display) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(126);
        if (keep_fd >= 0 && keep_fd != 3) {
                if (dup2(keep_fd, 3) < 0)
                        _exit(126);
        } else if (keep_fd == 3)
                (void) fcntl(3, F_SETFD, 0);
        if (display)
                setenv("DISPLAY", display, 1);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM); /* an aborted test leaves no X server behind */
        execvp(argv[0], argv);
        _exit(127);
}

static void stop(pid_t *pid, int sig) {
        if (*pid <= 0)
                return;
        kill(*pid, sig);
        (void) waitpid(*pid, NULL, 0);
        *pid = 0;
}

/* Windows of other clients (the helper's) may go at any time: a request on one fails, no more. */
static int ignore_x_error(XDisplay *xd _unused_, XErrorEvent *e _unused_) {
        return 0;
}

int chain_desk_start(ChainDesk *d, bool wm, unsigned width, unsigned height) {
        *d = (ChainDesk) {};
        if (!have_tool("Xvfb") || !have_tool("xclip") || !have_tool("xrandr") || (wm && !have_tool("openbox")))
                return -EOPNOTSUPP;
        snprintf(d->dir, sizeof(d->dir), "/tmp/tandem-e2e-XXXXXX");
        if (!mkdtemp(d->dir))
                return -errno;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        char fdarg[16], screen[32], log[128];
        snprintf(fdarg, sizeof(fdarg), "%d", 3);
        snprintf(screen, sizeof(screen), "%ux%ux24", width, height);
        snprintf(log, sizeof(log), "%s/xvfb.log", d->dir);
        char *const xvfb[] = { "Xvfb", "-displayfd", fdarg, "-screen", "0", screen, "-nolisten", "tcp", "-noreset",
                               NULL };
        d->xvfb = spawn(xvfb, log, p[1], NULL);
        close(p[1]);
        size_t n = 0;
        d->display[n++] = ':';
        for (;;) {
                char ch;
                ssize_t k = read(p[0], &ch, 1);
                if (k <= 0 || n + 1 >= sizeof(d->display)) {
                        close(p[0]);
                        return -EIO;
                }
                if (ch == '\n')
                        break;
                d->display[n++] = ch;
        }
        d->display[n] = 0;
        close(p[0]);
        d->xd = XOpenDisplay(d->display);
        if (!d->xd)
                return -EIO;
        XSetErrorHandler(ignore_x_error);
        if (wm) {
                snprintf(log, sizeof(log), "%s/openbox.log", d->dir);
                char *const ob[] = { "openbox", "--sm-disable", NULL };
                d->wm = spawn(ob, log, -1, d->display);
                Atom check_atom = XInternAtom(d->xd, "_NET_SUPPORTING_WM_CHECK", False);
                for (int i = 0; i < 400; i++) {
                        Atom type;
                        int fmt;
                        unsigned long items, after;
                        unsigned char *prop = NULL;
                        bool up = XGetWindowProperty(d->xd, DefaultRootWindow(d->xd), check_atom, 0, 1, False,
                                                     XA_WINDOW, &type, &fmt, &items, &after, &prop) == Success &&
                                  items == 1;
                        XFree(prop);
                        if (up)
                                return 0;
                        usleep(50000);
                }
                return -ETIMEDOUT;
        }
        return 0;
}

void chain_desk_stop(ChainDesk *d) {
        if (d->xd)
                XCloseDisplay(d->xd);
        d->xd = NULL;
        stop(&d->wm, SIGTERM);
        stop(&d->xvfb, SIGTERM);
        if (d->dir[0] && !getenv("TANDEM_KEEP_LOGS")) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
                (void) system(cmd);
        }
}

/* ---- the viewer's callbacks ---- */

static void on_agent_status(ClientSession *s _unused_, const ClientAgentStatus *st, void *userdata) {
        Chain *c = userdata;
        c->statuses++;
        c->status = *st;
        c->status_usec = chain_now();
        if (st->mode == WIRE_MODE_AGENT && !c->agent_usec)
                c->agent_usec = c->status_usec;
}

static void on_clipboard_grab(ClientSession *s _unused_, uint32_t formats, void *userdata) {
        Chain *c = userdata;
        c->grabs++;
        c->grab_formats = formats;
}

static void on_clipboard_data(ClientSession *s _unused_, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        Chain *c = userdata;
        buffer_clear(&c->data);
        if (error == 0 && len > 0)
                check(buffer_append(&c->data, data, len) >= 0);
        c->data_error = error;
        c->data_format = format;
        c->data_usec = chain_now();
        c->datas++;
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        Chain *c = userdata;
        c->requests++;
        const uint8_t *p = format < 2 ? c->offer[format] : NULL;
        (void) client_session_clipboard_send(s, format, p, p ? c->offer_len[format] : 0);
}

static void on_notice(ClientSession *s _unused_, int code _unused_, const char *text, void *userdata) {
        Chain *c = userdata;
        c->notices++;
        snprintf(c->notice, sizeof(c->notice), "%s", text ? text : "");
}

static void on_windows(ClientSession *s _unused_, void *userdata) {
        Chain *c = userdata;
        c->window_changes++;
}

static const ClientCallbacks viewer_callbacks = {
        .on_agent_status = on_agent_status,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
        .on_notice = on_notice,
        .on_windows = on_windows,
};

/* ---- guestd ---- */

static void configure(HostdConfig *hc, void *userdata) {
        Chain *c = userdata;
        free(hc->agent.overrides);
        check(asprintf(&hc->agent.overrides, "*:Clipboard=%s", c->opts.clipboard ? c->opts.clipboard : "both") > 0);
        if (c->opts.hostd_heartbeat)
                hc->agent.heartbeat_seconds = c->opts.hostd_heartbeat;
        hc->agent.backoff_max_seconds = 1; /* guestd is back at once after a kill */
}

static void guestd_stop(Chain *c) {
        stop(&c->guestd, SIGTERM);
        if (c->held_fd >= 0)
                close(c->held_fd);
        c->held_fd = -1;
}

/* hostd opens the domain's agent channel: a socketpair, and a new guestd on the other end (the old
 * one, if any, is gone with its port, as a guest's agent is when the channel is re-made). */
static int agent_connect(Manager *m _unused_, Domain *d _unused_, void *userdata) {
        Chain *c = userdata;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        guestd_stop(c);
        (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
        char *const argv[] = { (char *) c->guestd_exe, "--config", c->conf, "--port-fd", "3", NULL };
        c->guestd_started_usec = chain_now();
        c->agent_usec = 0;
        c->guestd = spawn(argv, c->log, sv[1], c->desk->display);
        c->guestd_starts++;
        if (c->opts.hold_port)
                c->held_fd = sv[1];
        else
                close(sv[1]);
        return sv[0];
}

static int write_logon(Chain *c) {
        struct passwd *pw = getpwuid(getuid());
        if (!pw)
                return -ENOENT;
        struct utmp u = { .ut_type = USER_PROCESS, .ut_pid = getpid() };
        strncpy(u.ut_line, "tty7", sizeof(u.ut_line));
        strncpy(u.ut_id, "tty7", sizeof(u.ut_id));
        strncpy(u.ut_user, pw->pw_name, sizeof(u.ut_user));
        strncpy(u.ut_host, c->desk->display, sizeof(u.ut_host)); /* guestd-utmp.c: the display */
        u.ut_tv.tv_sec = (int32_t) time(NULL);
        int fd = open(c->utmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        close(fd);
        if (utmpname(c->utmp) < 0)
                return -errno;
        setutent();
        bool ok = pututline(&u) != NULL;
        endutent();
        return ok ? 0 : -EIO;
}

int chain_new(ChainDesk *desk, const ChainOptions *opts, const char *guestd_exe, const char *helper_exe,
              Chain **ret) {
        _cleanup_(chain_freep) Chain *c = calloc(1, sizeof(Chain));
        if (!c)
                return -ENOMEM;
        *c = (Chain) { .desk = desk, .opts = opts ? *opts : (ChainOptions) {}, .guestd_exe = guestd_exe,
                       .helper_exe = helper_exe, .held_fd = -1 };
        buffer_init(&c->data, 32u << 20);
        static unsigned n;
        n++;
        snprintf(c->conf, sizeof(c->conf), "%s/guestd-%u.conf", desk->dir, n);
        snprintf(c->utmp, sizeof(c->utmp), "%s/utmp", desk->dir);
        snprintf(c->sock, sizeof(c->sock), "%s/session-%u.sock", desk->dir, n);
        snprintf(c->log, sizeof(c->log), "%s/guestd-%u.log", desk->dir, n);
        /* The helper as guestd starts it, logging at debug into guestd's log. */
        char wrapper[160];
        snprintf(wrapper, sizeof(wrapper), "%s/helper-%u.sh", desk->dir, n);
        FILE *f = fopen(wrapper, "we");
        if (!f)
                return -errno;
        fprintf(f, "#!/bin/sh\nexec '%s' --log-level debug \"$@\"\n", helper_exe);
        fclose(f);
        if (chmod(wrapper, 0755) < 0)
                return -errno;
        f = fopen(c->conf, "we");
        if (!f)
                return -errno;
        fprintf(f, "[Guestd]\nUtmpPath=%s\nSessionSocket=%s\nSessionHelper=%s\nLogind=no\nLogLevel=debug\n", c->utmp,
                c->sock, wrapper);
        if (c->opts.guestd_heartbeat)
                fprintf(f, "HeartbeatSeconds=%u\n", c->opts.guestd_heartbeat);
        fclose(f);
        int r = write_logon(c);
        if (r < 0)
                return r;

        HarnessOptions o = { .configure = configure, .configure_userdata = c, .agent_connect = agent_connect,
                             .agent_connect_userdata = c };
        r = harness_new(&o, &c->h);
        if (r < 0)
                return r;
        static uint32_t px[64 * 48];
        r = harness_scanout(c->h, 64, 48, px);
        if (r < 0)
                return r;
        r = harness_viewer_new(c->h, "user", TICKET_ROLE_INTERACTIVE, NULL, &viewer_callbacks, c, &c->v);
        if (r < 0)
                return r;
        CHAIN_WAIT(c, c->v->welcomed);
        *ret = TAKE_PTR(c);
        return 0;
}

Chain *chain_free(Chain *c) {
        if (!c)
                return NULL;
        harness_viewer_free(c->v);
        harness_free(c->h);
        guestd_stop(c);
        buffer_done(&c->data);
        free(c);
        return NULL;
}

void chain_step(Chain *c, uint64_t usec) {
        check(sd_event_run(c->h->event, usec) >= 0);
        if (chain_pump)
                chain_pump(c);
}

void chain_run_for(Chain *c, uint64_t usec) {
        uint64_t end = chain_now() + usec;
        while (chain_now() < end)
                chain_step(c, 20000);
}

static void dump(const char *path) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "echo '--- %s'; tail -c 6000 '%s' >&2", path, path);
        (void) system(cmd);
}

void chain_dump_logs(Chain *c) {
        char p[160];
        dump(c->log);
        snprintf(p, sizeof(p), "%s/openbox.log", c->desk->dir);
        dump(p);
        fprintf(stderr, "viewer: %u statuses (mode %u features 0x%llx cause %u), %u grabs, %u datas, %u requests, "
                        "%u notices (%s)\n",
                c->statuses, c->status.mode, (unsigned long long) c->status.features, c->status.cause, c->grabs,
                c->datas, c->requests, c->notices, c->notice);
}

bool chain_agent_has(Chain *c, uint64_t features) {
        return c->status.mode == WIRE_MODE_AGENT && (c->status.features & features) == features;
}

/* Helpers of this chain: tandem-guestd-session processes whose command line names its socket. */
unsigned chain_helpers(Chain *c, pid_t *pids, unsigned max) {
        DIR *d = opendir("/proc");
        if (!d)
                return 0;
        unsigned n = 0;
        struct dirent *e;
        while (n < max && (e = readdir(d))) {
                char path[300], buf[4096];
                snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                size_t len = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                buf[len] = 0;
                bool helper = strstr(buf, "tandem-guestd-session") != NULL, ours = false;
                for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
                        if (strcmp(buf + i, c->sock) == 0)
                                ours = true;
                if (helper && ours)
                        pids[n++] = (pid_t) strtol(e->d_name, NULL, 10);
        }
        closedir(d);
        return n;
}

int chain_run_cmd(Chain *c, char *const argv[], const void *in, size_t in_len, Buffer *out) {
        char inpath[160], outpath[160];
        snprintf(inpath, sizeof(inpath), "%s/cmd-in", c->desk->dir);
        snprintf(outpath, sizeof(outpath), "%s/cmd-out", c->desk->dir);
        FILE *f = fopen(inpath, "we");
        check(f);
        if (in_len)
                check(fwrite(in, 1, in_len, f) == in_len);
        fclose(f);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                int i = open(inpath, O_RDONLY | O_CLOEXEC), o = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                int e = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(126);
                setenv("DISPLAY", c->desk->display, 1);
                execvp(argv[0], argv);
                _exit(127);
        }
        uint64_t end = chain_now() + 20 * CHAIN_SECOND;
        int status;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                if (chain_now() > end) {
                        kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        return -1;
                }
                chain_step(c, 2000);
        }
        if (out) {
                buffer_clear(out);
                f = fopen(outpath, "re");
                check(f);
                char buf[65536];
                size_t n;
                while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                        check(buffer_append(out, buf, n) >= 0);
                fclose(f);
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool chain_helper_owns_clipboard(Chain *c) {
        XDisplay *xd = c->desk->xd;
        Window owner = XGetSelectionOwner(xd, XInternAtom(xd, "CLIPBOARD", False));
        if (owner == None)
                return false;
        char *name = NULL;
        bool ok = XFetchName(xd, owner, &name) && name && strcmp(name, "tandem-guestd-session") == 0;
        XFree(name);
        return ok;
}

int chain_viewer_copy(Chain *c, const void *text, size_t text_len, const void *png, size_t png_len) {
        c->offer[0] = text;
        c->offer_len[0] = text_len;
        c->offer[1] = png;
        c->offer_len[1] = png_len;
        uint32_t formats = (text ? CLIENT_CLIPBOARD_TEXT : 0) | (png ? CLIENT_CLIPBOARD_PNG : 0);
        int r = client_session_clipboard_grab(c->v->session, formats);
        harness_viewer_kick(c->v);
        return r;
}

/* ---- a real PNG of noise ---- */

static void put_be32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

static size_t png_chunk(uint8_t *out, const char *kind, const uint8_t *data, size_t len) {
        put_be32(out, (uint32_t) len);
        memcpy(out + 4, kind, 4);
        if (len)
                memcpy(out + 8, data, len);
        put_be32(out + 8 + len, (uint32_t) crc32(0, out + 4, (uInt) (len + 4)));
        return len + 12;
}

uint8_t *chain_png(unsigned width, unsigned height, unsigned seed, size_t *ret_len) {
        size_t raw_len = (size_t) height * (1 + width * 3);
        uint8_t *raw = malloc(raw_len);
        uLongf z_len = compressBound((uLong) raw_len);
        uint8_t *z = malloc(z_len), *out = malloc(z_len + 128);
        check(raw && z && out);
        uint32_t s = seed * 2654435761u + 1;
        for (size_t i = 0; i < raw_len; i++) {
                s = s * 1103515245u + 12345u;
                raw[i] = (i % (1 + width * 3)) == 0 ? 0 : (uint8_t) (s >> 16);
        }
        check(compress2(z, &z_len, raw, (uLong) raw_len, 1) == Z_OK);
        size_t n = 0;
        memcpy(out, "\x89PNG\r\n\x1a\n", 8);
        n = 8;
        uint8_t ihdr[13];
        put_be32(ihdr, width);
        put_be32(ihdr + 4, height);
        memcpy(ihdr + 8, "\x08\x02\x00\x00\x00", 5);
        n += png_chunk(out + n, "IHDR", ihdr, 13);
        n += png_chunk(out + n, "IDAT", z, z_len);
        n += png_chunk(out + n, "IEND", NULL, 0);
        free(raw);
        free(z);
        *ret_len = n;
        return out;
}
