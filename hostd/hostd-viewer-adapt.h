/* Network auto-detect and transport figures for one viewer (schema/wire-protocol.md, "Network
 * auto-detect"): every ADAPT_TICK_USEC the transport's estimates go through the policy
 * (hostd-adapt-policy.h), which sets the JPEG quality the encoder uses (never above the viewer's
 * request) and the tile bytes one frame may carry; after each frame the pump waits for the link
 * to carry it. Over UDP only: rudp measures the link. Over TLS/TCP the encoder stays on the viewer's
 * settings (the kernel's TCP_INFO figures are reported, not acted on). One line of figures is
 * logged every VIEWER_FIGURES_LOG_USEC and when the viewer goes. Internal to the viewer server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-viewer-server.h"

#define VIEWER_FIGURES_LOG_USEC (60 * 1000 * 1000ULL)

typedef struct ViewerAdapt ViewerAdapt;

typedef struct ViewerLinkFigures {
        const char *transport; /* "udp" or "tls" */
        bool measured;         /* the transport gave figures (not so over a test's memory pair) */
        uint64_t rtt_usec, min_rtt_usec;
        uint64_t queue_delay_usec; /* smoothed - minimum RTT: the queue our traffic stands in */
        uint64_t rate;             /* bytes/s: rudp's bottleneck estimate, TCP's delivery rate */
        double loss;               /* fraction of packets lost (TCP: retransmitted segments) */
        uint64_t fec_recovered;    /* packets the viewer rebuilt from parity */
        uint64_t retransmits;
        bool adaptive;             /* the encoder follows the link (UDP) */
        unsigned level;            /* the policy's level, 0 fastest */
        int quality;               /* the JPEG quality in use */
        uint64_t frame_interval_usec; /* the least time after the last frame (0: no cap) */
        size_t frame_budget;          /* 0: none */
} ViewerLinkFigures;

int viewer_adapt_new(Viewer *v, ViewerAdapt **ret);
ViewerAdapt *viewer_adapt_free(ViewerAdapt *a);

/* display-settings: the viewer's quality is the ceiling from now on; sets v->settings.quality. */
void viewer_adapt_set_quality(Viewer *v, int requested);
/* Whether the pump may start a frame now (the frame rate cap); when not, the pump is scheduled
 * for when it may. */
bool viewer_adapt_may_send(Viewer *v);
/* A frame of bytes tile bytes was sent: its time and size set when the next may go. */
void viewer_adapt_frame_sent(Viewer *v, size_t bytes);
/* The tile bytes the next frame may carry: 0 for no budget. */
size_t viewer_adapt_budget(Viewer *v);

void viewer_adapt_figures(Viewer *v, ViewerLinkFigures *ret);
/* One info line of figures; when: "periodic", "end", ... */
void viewer_adapt_log(Viewer *v, const char *when);
