/* The whole agent chain on this machine, for test-agent-x11 and bench-agent-e2e (never linked into a
 * daemon): Xvfb (+ openbox) on a free display; the in-process hostd harness (test-harness.h) whose
 * agent channel is one end of a socketpair; a REAL tandem-guestd on the other end (--port-fd) with a
 * private utmp file, session socket and SessionHelper= the built tandem-guestd-session; a graphical
 * logon of the current user written to that utmp, so guestd starts the real helper, which connects
 * back; and a real client session (the viewer library) connected to hostd with the agent caps. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buffer.h"
#include "test-harness.h"

#define CHAIN_SKIP 77
#define CHAIN_SECOND 1000000ULL

typedef struct ChainDesk {
        pid_t xvfb, wm;
        char display[16];
        char dir[64]; /* logs, config, utmp, socket */
        struct _XDisplay *xd; /* the test's own X client (Xlib's Display; hostd has a Display of its own) */
} ChainDesk;

/* Starts Xvfb (width x height, RandR) and, with wm, openbox. -EOPNOTSUPP when a tool is missing. */
int chain_desk_start(ChainDesk *d, bool wm, unsigned width, unsigned height);
void chain_desk_stop(ChainDesk *d);

typedef struct ChainOptions {
        const char *clipboard;       /* [Agent] Clipboard=; NULL: "both" */
        unsigned guestd_heartbeat;   /* guestd's HeartbeatSeconds=; 0: its default */
        unsigned hostd_heartbeat;    /* hostd's [Agent] HeartbeatSeconds; 0: its default */
        bool hold_port;              /* the test keeps guestd's end open too, as a virtio port stays
                                      * open when the guest's process dies: only heartbeats tell */
} ChainOptions;

typedef struct Chain {
        ChainDesk *desk;
        ChainOptions opts;
        Harness *h;
        HarnessViewer *v;
        const char *guestd_exe, *helper_exe;
        char conf[128], utmp[128], sock[128], log[128];
        pid_t guestd;
        int held_fd;
        unsigned guestd_starts;
        uint64_t guestd_started_usec;

        /* What the viewer saw. */
        unsigned statuses;
        ClientAgentStatus status;
        uint64_t status_usec; /* when the last agent-status came */
        uint64_t agent_usec;  /* the first saying agent since guestd last started, or 0 */
        unsigned grabs;
        uint32_t grab_formats;
        unsigned datas;
        int data_error;
        uint8_t data_format;
        Buffer data;
        uint64_t data_usec;
        unsigned requests;
        const uint8_t *offer[2]; /* what the viewer's clipboard holds, by format (text, png) */
        size_t offer_len[2];
        unsigned notices;
        char notice[256];
        unsigned window_changes;
} Chain;

uint64_t chain_now(void);
/* Everything up to a welcomed viewer; guestd starts when hostd opens the channel. */
int chain_new(ChainDesk *desk, const ChainOptions *opts, const char *guestd_exe, const char *helper_exe,
              Chain **ret);
Chain *chain_free(Chain *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Chain *, chain_free);

/* The loop until cond holds, up to 20 s (then the test fails with what it waited for). pump (may be
 * NULL) runs between iterations, for the test's X client. */
extern void (*chain_pump)(Chain *c);
#define CHAIN_WAIT(c, cond)                                                                                        \
        do {                                                                                                       \
                uint64_t end_ = chain_now() + 20 * CHAIN_SECOND;                                                   \
                while (!(cond)) {                                                                                  \
                        if (chain_now() > end_) {                                                                  \
                                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, #cond);   \
                                chain_dump_logs(c);                                                                \
                                abort();                                                                           \
                        }                                                                                          \
                        chain_step(c, 20000);                                                                      \
                }                                                                                                  \
        } while (0)
void chain_step(Chain *c, uint64_t usec);
void chain_run_for(Chain *c, uint64_t usec);
void chain_dump_logs(Chain *c);

/* The agent is active at the viewer with these features (CLIENT_FEATURE_* bits all on). */
bool chain_agent_has(Chain *c, uint64_t features);
/* The chain's helper processes (the one guestd started, and one a killed guestd left behind that
 * connected again): up to max pids, their number. */
unsigned chain_helpers(Chain *c, pid_t *pids, unsigned max);

/* Runs argv (with stdin from in, stdout into out if not NULL) while the loop runs; its exit status,
 * or -1 if it did not exit in 20 s. */
int chain_run_cmd(Chain *c, char *const argv[], const void *in, size_t in_len, Buffer *out);
/* The helper's window owns CLIPBOARD. */
bool chain_helper_owns_clipboard(Chain *c);
/* The viewer's clipboard now holds text and/or png (NULL: not that format); a grab goes to hostd. */
int chain_viewer_copy(Chain *c, const void *text, size_t text_len, const void *png, size_t png_len);
/* A width x height RGB PNG of noise (it does not compress: about 3 bytes a pixel). malloc'd. */
uint8_t *chain_png(unsigned width, unsigned height, unsigned seed, size_t *ret_len);
