/* Where viewers come in: the TLS listener, the ticket verifier, and the registry of connected
 * viewers by desktop. Consoles report their changes here (damage, mode, cursor) and the viewers
 * watching that desktop take them up. A desktop's console may come and go (reboot of QEMU,
 * hostd re-attaching): viewers stay connected and are bound again when it returns. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-forward.h"
#include "macro.h"

typedef struct ViewerServer ViewerServer;
typedef struct Viewer Viewer;

/* Returns 0 with *ret NULL when viewers are disabled (Listen= empty). */
int viewer_server_new(Manager *m, ViewerServer **ret);
ViewerServer *viewer_server_free(ViewerServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ViewerServer *, viewer_server_free);

/* Console hooks; all accept a NULL server. */
void viewer_server_console_added(ViewerServer *s, Console *c);
void viewer_server_console_removed(ViewerServer *s, Console *c);
/* After the console's framebuffer changed: hands fb->dirty to the console's viewers and clears
 * it. mode_changed: the size changed, viewers start over with the whole screen. */
void viewer_server_console_damaged(ViewerServer *s, Console *c, bool mode_changed);
void viewer_server_console_cursor(ViewerServer *s, Console *c, bool shape_changed);

unsigned viewer_server_count(ViewerServer *s, const char *desktop);

/* What the control socket's status shows of each connected viewer. */
typedef struct ViewerInfo {
        const char *desktop, *user;
        uint64_t session;
        bool interactive;
        bool detached; /* waiting for a resume (hostd-viewer-resume.h) */
        size_t queued; /* bytes waiting to be written: bounded per viewer */
        unsigned in_flight;
        uint64_t frames_sent, frames_skipped;
        bool udp; /* on the UDP transport (else TLS) */
        uint64_t bytes_sent; /* bytes its current connection's transport took */
        const struct ViewerLinkFigures *link; /* transport figures (hostd-viewer-adapt.h) */
} ViewerInfo;
typedef void (*ViewerDescribeFn)(void *userdata, const ViewerInfo *info, bool first);
void viewer_server_describe(ViewerServer *s, ViewerDescribeFn fn, void *userdata);
/* Tickets are checked with key from now on (the broker's, fetched by hostd-broker.c): 1 when it
 * replaced another key, 0 when it is the key already in use (its replay memory kept), or a
 * negative errno (-ENOENT: viewers are disabled). Until a key is set, viewers are refused with
 * desktop-unavailable. */
typedef struct evp_pkey_st EVP_PKEY;
int viewer_server_set_ticket_key(ViewerServer *s, EVP_PKEY *key);
/* The UDP listener's counters (all zero without one). */
struct UdpServerCounters;
void viewer_server_udp_counters(ViewerServer *s, struct UdpServerCounters *ret);
