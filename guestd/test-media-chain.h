/* Guest media end to end on this machine, for test-media-hostile and bench-media-latency (never
 * linked into a daemon): a private dbus-daemon as the guest's system bus (DBUS_SYSTEM_BUS_ADDRESS
 * set in this process, so libtandem-media here uses it); the in-process hostd harness
 * (test-harness.h) whose agent channel is one end of a socketpair; the REAL tandem-guestd on the
 * other end (--port-fd); and a real client session over TLS with the caller's media callbacks.
 * The guest's application runs on a thread of its own (media_chain_run_app()) while this thread
 * runs hostd's and the viewer's loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "test-harness.h"

typedef struct MediaChain {
        Harness *h;
        HarnessViewer *v;
        const char *guestd_exe;
        pid_t dbus, guestd;
        char dir[64]; /* guestd's config and log */
        char bus_addr[512];
} MediaChain;

typedef struct MediaChainOptions {
        const char *guestd_exe;
        const char *bus_config; /* dbus-daemon --config-file (guestd/test-media-bus.conf) */
        uint32_t width, height; /* the framebuffer; 0: 1280x720 */
        void (*configure)(HostdConfig *c, void *userdata); /* hostd's config, NULL: defaults */
        const ClientCallbacks *callbacks; /* the viewer's (media ones get the HarnessViewer) */
        void *userdata;
} MediaChainOptions;

/* Everything up to a welcomed viewer. -EOPNOTSUPP without dbus-daemon. */
int media_chain_new(const MediaChainOptions *o, MediaChain **ret);
MediaChain *media_chain_free(MediaChain *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(MediaChain *, media_chain_free);

/* Runs fn(arg) on a thread while the loop runs; returns when fn has returned (and the loop ran
 * settle_usec more), or -ETIMEDOUT after timeout_usec (the thread is then left running). */
int media_chain_run_app(MediaChain *c, void (*fn)(void *arg), void *arg, uint64_t settle_usec, uint64_t timeout_usec);
uint64_t media_chain_now(void);
