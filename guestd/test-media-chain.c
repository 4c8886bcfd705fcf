#include "test-media-chain.h"
#include "test-dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t media_chain_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void stop(pid_t *pid) {
        if (*pid > 0) {
                kill(*pid, SIGTERM);
                waitpid(*pid, NULL, 0);
        }
        *pid = 0;
}

/* hostd opens the domain's agent channel: a socketpair with a new guestd on the other end. */
static int agent_connect(Manager *m _unused_, Domain *d _unused_, void *userdata) {
        MediaChain *c = userdata;
        char conf[128], utmp[128], log[128];
        int sv[2];
        snprintf(conf, sizeof(conf), "%s/guestd.conf", c->dir);
        snprintf(utmp, sizeof(utmp), "%s/utmp", c->dir);
        snprintf(log, sizeof(log), "%s/guestd.log", c->dir);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        stop(&c->guestd);
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                dup2(sv[1], 3);
                if (lfd >= 0)
                        dup2(lfd, 2);
                setenv("TANDEM_LOG_STDERR", "1", 1);
                execl(c->guestd_exe, c->guestd_exe, "--config", conf, "--port-fd", "3", (char *) NULL);
                _exit(127);
        }
        c->guestd = pid;
        close(sv[1]);
        (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
        return sv[0];
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        return v->welcomed || v->closed;
}

int media_chain_new(const MediaChainOptions *o, MediaChain **ret) {
        if (system("command -v dbus-daemon >/dev/null") != 0)
                return -EOPNOTSUPP;
        _cleanup_(media_chain_freep) MediaChain *c = calloc(1, sizeof(MediaChain));
        if (!c)
                return -ENOMEM;
        c->guestd_exe = o->guestd_exe;
        snprintf(c->dir, sizeof(c->dir), "/tmp/tandem-media-chain-XXXXXX");
        if (!mkdtemp(c->dir))
                return -errno;
        char path[128];
        snprintf(path, sizeof(path), "%s/utmp", c->dir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        snprintf(path, sizeof(path), "%s/guestd.conf", c->dir);
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "[Guestd]\nLogind=no\nUtmpPath=%s/utmp\nSessionSocket=\n", c->dir);
        fclose(f);
        c->dbus = test_dbus_start(o->bus_config, c->bus_addr, sizeof(c->bus_addr));
        if (c->dbus < 0)
                return (int) c->dbus;
        setenv("DBUS_SYSTEM_BUS_ADDRESS", c->bus_addr, 1); /* guestd's and the application's */

        HarnessOptions ho = { .configure = o->configure, .configure_userdata = o->userdata,
                              .agent_connect = agent_connect, .agent_connect_userdata = c };
        int r = harness_new(&ho, &c->h);
        if (r < 0)
                return r;
        uint32_t w = o->width ? o->width : 1280, h = o->height ? o->height : 720;
        uint32_t *px = calloc((size_t) w * h, sizeof(uint32_t));
        if (!px)
                return -ENOMEM;
        r = harness_scanout(c->h, w, h, px);
        free(px);
        if (r < 0)
                return r;
        r = harness_viewer_new(c->h, "user", TICKET_ROLE_INTERACTIVE, NULL, o->callbacks, o->userdata, &c->v);
        if (r < 0)
                return r;
        r = harness_run_until(c->h, welcomed, c->v, 10000000);
        if (r < 0)
                return r;
        if (!c->v->welcomed)
                return -ECONNREFUSED;
        *ret = TAKE_PTR(c);
        return 0;
}

MediaChain *media_chain_free(MediaChain *c) {
        if (!c)
                return NULL;
        harness_viewer_free(c->v);
        harness_free(c->h);
        stop(&c->guestd);
        stop(&c->dbus);
        if (c->dir[0] && !getenv("TANDEM_KEEP_LOGS")) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
                (void) !system(cmd);
        }
        free(c);
        return NULL;
}

typedef struct App {
        void (*fn)(void *arg);
        void *arg;
        bool done;
} App;

static void *app_main(void *userdata) {
        App *a = userdata;
        a->fn(a->arg);
        __atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
        return NULL;
}

static bool app_done(void *userdata) {
        return __atomic_load_n(&((App *) userdata)->done, __ATOMIC_ACQUIRE);
}

int media_chain_run_app(MediaChain *c, void (*fn)(void *arg), void *arg, uint64_t settle_usec, uint64_t timeout_usec) {
        /* On the heap: a thread left running after a timeout still has it. */
        App *a = calloc(1, sizeof(App));
        if (!a)
                return -ENOMEM;
        *a = (App) { .fn = fn, .arg = arg };
        pthread_t t;
        int r = -pthread_create(&t, NULL, app_main, a);
        if (r < 0) {
                free(a);
                return r;
        }
        r = harness_run_until(c->h, app_done, a, timeout_usec);
        if (r < 0 || !app_done(a)) {
                pthread_detach(t);
                return r < 0 ? r : -ETIMEDOUT;
        }
        pthread_join(t, NULL);
        free(a);
        return settle_usec ? harness_run_until(c->h, NULL, NULL, settle_usec) : 0;
}
