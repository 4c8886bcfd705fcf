#include "hostd-viewer-adapt.h"

#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-event.h>

#include "hostd-adapt-policy.h"
#include "hostd-manager.h"
#include "hostd-viewer-resume.h"
#include "hostd-viewer.h"
#include "log.h"
#include "macro.h"
#include "tcp-info.h"

struct ViewerAdapt {
        Viewer *viewer;
        AdaptPolicy policy;
        sd_event_source *tick;  /* every ADAPT_TICK_USEC while the viewer lives */
        sd_event_source *frame; /* the frame rate cap's wake-up */
        uint64_t last_frame;    /* when the last frame was sent */
        uint64_t gap;           /* the least time after it: its bytes at the link's rate */
        uint64_t tick_frames, tick_bytes; /* frames and their tile bytes since the last tick */
        RudpStats last; /* at the last tick: the counters' deltas since */
        AdaptLoss loss;
        uint64_t last_log;
        uint64_t link_waits;    /* v->link_waits at the last tick */
};

static uint64_t now_usec(Viewer *v) {
        uint64_t now;
        sd_event_now(v->server->manager->event, CLOCK_MONOTONIC, &now);
        return now;
}

static bool adaptive(Viewer *v) {
        return wire_conn_kind(v->conn) == WIRE_CONN_RUDP;
}

void viewer_adapt_figures(Viewer *v, ViewerLinkFigures *ret) {
        ViewerAdapt *a = v->adapt;
        RudpStats st;
        TcpFigures tcp;

        *ret = (ViewerLinkFigures) { .transport = adaptive(v) ? "udp" : "tls", .adaptive = adaptive(v),
                                     .quality = v->settings.quality };
        if (a) {
                ret->level = a->policy.level;
                ret->frame_interval_usec = a->policy.level > 0 ? a->gap : 0;
                ret->frame_budget = a->policy.frame_budget;
        }
        if (!ret->adaptive) {
                ret->level = 0;
                ret->frame_interval_usec = 0;
                ret->frame_budget = 0;
        }
        if (wire_conn_rudp_stats(v->conn, &st) == 0) {
                ret->measured = true;
                ret->rtt_usec = st.smoothed_rtt_usec;
                ret->min_rtt_usec = st.min_rtt_usec == UINT64_MAX ? 0 : st.min_rtt_usec;
                ret->rate = st.bandwidth;
                ret->loss = st.loss_rate;
                ret->fec_recovered = st.fec_peer_recovered;
                ret->retransmits = st.retransmits;
        } else if (tcp_figures(wire_conn_fd(v->conn), &tcp) == 0) {
                ret->measured = true;
                ret->rtt_usec = tcp.rtt_usec;
                ret->min_rtt_usec = tcp.min_rtt_usec;
                ret->rate = tcp.delivery_rate;
                ret->loss = tcp.segments_out ? (double) tcp.retransmits / (double) tcp.segments_out : 0.0;
                ret->retransmits = tcp.retransmits;
        }
        if (ret->min_rtt_usec > 0 && ret->rtt_usec > ret->min_rtt_usec)
                ret->queue_delay_usec = ret->rtt_usec - ret->min_rtt_usec;
}

void viewer_adapt_log(Viewer *v, const char *when) {
        ViewerLinkFigures f;
        viewer_adapt_figures(v, &f);
        if (!f.measured) {
                log_info("viewer %s (%s): %s figures: transport %s, quality %d", v->peer, v->ticket.user, when, f.transport,
                         f.quality);
                return;
        }
        log_info("viewer %s (%s): %s figures: transport %s, rtt %.1f ms (min %.1f), rate %.2f Mbit/s, loss %.2f%%, "
                 "fec recovered %llu, retransmits %llu, queue delay %.1f ms, quality %d, frame gap %.0f ms, budget %zu",
                 v->peer, v->ticket.user, when, f.transport, f.rtt_usec / 1000.0, f.min_rtt_usec / 1000.0,
                 f.rate * 8 / 1e6, f.loss * 100, (unsigned long long) f.fec_recovered,
                 (unsigned long long) f.retransmits, f.queue_delay_usec / 1000.0, f.quality,
                 f.frame_interval_usec / 1000.0, f.frame_budget);
}

#define ADAPT_SINGLE_CELL_LOSS 0.10

static void adapt_step(Viewer *v) {
        ViewerAdapt *a = v->adapt;
        RudpStats st;

        if (wire_conn_rudp_stats(v->conn, &st) < 0)
                return;
        AdaptInput in = { .rate = st.bandwidth, .min_rtt_usec = st.min_rtt_usec == UINT64_MAX ? 0 : st.min_rtt_usec,
                          .smoothed_rtt_usec = st.smoothed_rtt_usec, .backlogged = v->link_waits != a->link_waits };
        in.loss = adapt_loss_update(&a->loss, st.packets_lost - a->last.packets_lost, st.packets_sent - a->last.packets_sent,
                                    in.min_rtt_usec, in.smoothed_rtt_usec);
        /* Only the link holding frames back says the rate is the link's: waiting for acks (a long
         * RTT) or for changes says nothing about it. */
        a->link_waits = v->link_waits;
        log_debug("viewer %s: rate %.3f Mbit/s, rtt %.1f ms (min %.1f), loss %.2f%% (rudp's %.2f%%), %s, %llu frames of "
                  "%llu tile bytes; rudp sent %llu bytes in %llu packets (%llu parity, %llu bytes again), level %u",
                  v->peer, in.rate * 8 / 1e6, in.smoothed_rtt_usec / 1000.0, in.min_rtt_usec / 1000.0, in.loss * 100,
                  st.loss_rate * 100, in.backlogged ? "backlogged" : "not backlogged", (unsigned long long) a->tick_frames,
                  (unsigned long long) a->tick_bytes, (unsigned long long) (st.bytes_sent - a->last.bytes_sent),
                  (unsigned long long) (st.packets_sent - a->last.packets_sent),
                  (unsigned long long) (st.fec_parity_sent - a->last.fec_parity_sent),
                  (unsigned long long) (st.retransmitted_bytes - a->last.retransmitted_bytes), a->policy.level);
        a->tick_frames = a->tick_bytes = 0;
        a->last = st;
        /* Tiles of one grid cell survive loss best (a lost packet costs one cell), but rows of
         * cells in one tile take about half the bytes (a scrolling console): worth it unless the
         * link loses a lot at random, after FEC (adapt_loss_update(): not the first screen's burst
         * overflowing a slow link's buffer, which halved wan3's frame rate for half a minute). */
        if (in.loss >= ADAPT_SINGLE_CELL_LOSS)
                v->settings.single_cell = true;
        else if (in.loss < ADAPT_SINGLE_CELL_LOSS / 2)
                v->settings.single_cell = false;
        if (!adapt_policy_update(&a->policy, &in)) {
                v->settings.quality = a->policy.quality;
                return;
        }
        v->settings.quality = a->policy.quality;
        log_info("viewer %s: link at %.2f Mbit/s, rtt %.1f ms, loss %.1f%%: level %u, quality %d, budget %zu", v->peer,
                 in.rate * 8 / 1e6, in.smoothed_rtt_usec / 1000.0, in.loss * 100, a->policy.level, a->policy.quality,
                 a->policy.frame_budget);
        viewer_schedule_pump(v); /* level 0 (no gap) or a larger budget may let it go now */
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Viewer *v = userdata;
        ViewerAdapt *a = v->adapt;

        sd_event_source_set_time(s, usec + ADAPT_TICK_USEC);
        if (v->state != VIEWER_ACTIVE || viewer_is_detached(v))
                return 0;
        if (adaptive(v))
                adapt_step(v);
        else
                v->settings.quality = a->policy.ceiling; /* a resume onto TCP: back to the request */
        if (usec >= a->last_log + VIEWER_FIGURES_LOG_USEC) {
                a->last_log = usec;
                viewer_adapt_log(v, "periodic");
        }
        return 0;
}

static int on_frame_due(sd_event_source *s, uint64_t usec, void *userdata) {
        viewer_schedule_pump(userdata);
        return 0;
}

int viewer_adapt_new(Viewer *v, ViewerAdapt **ret) {
        sd_event *e = v->server->manager->event;
        uint64_t now = now_usec(v);
        ViewerAdapt *a = calloc(1, sizeof(ViewerAdapt));
        int r;

        if (!a)
                return -ENOMEM;
        a->viewer = v;
        a->last_log = now;
        adapt_policy_init(&a->policy, v->settings.quality);
        if ((r = sd_event_add_time(e, &a->tick, CLOCK_MONOTONIC, now + ADAPT_TICK_USEC, 0, on_tick, v)) < 0 ||
            (r = sd_event_add_time(e, &a->frame, CLOCK_MONOTONIC, 0, 0, on_frame_due, v)) < 0) {
                viewer_adapt_free(a);
                return r;
        }
        sd_event_source_set_enabled(a->tick, SD_EVENT_ON);
        sd_event_source_set_enabled(a->frame, SD_EVENT_OFF);
        *ret = a;
        return 0;
}

ViewerAdapt *viewer_adapt_free(ViewerAdapt *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->tick);
        sd_event_source_disable_unref(a->frame);
        free(a);
        return NULL;
}

void viewer_adapt_set_quality(Viewer *v, int requested) {
        ViewerAdapt *a = v->adapt;
        if (!a) {
                v->settings.quality = MAX(1, MIN(100, requested));
                return;
        }
        adapt_policy_set_ceiling(&a->policy, requested);
        v->settings.quality = adaptive(v) ? a->policy.quality : a->policy.ceiling;
}

/* FrameRateMax='s, or over UDP the last frame's gap when longer (its bytes at the link's rate):
 * changes that come faster wait (latest wins), so a burst (a console scrolling) costs fewer
 * intermediate pictures, and a slow link gets the next frame when it has carried the last one
 * rather than a backlog of stale tiles. The first change after a pause goes at once. */
static uint64_t frame_interval(Viewer *v) {
        unsigned rate = v->server->manager->config.frame_rate_max;
        uint64_t cap = rate ? 1000000ULL / rate : 0;
        return adaptive(v) && v->adapt->policy.level > 0 ? MAX(cap, v->adapt->gap) : cap;
}

bool viewer_adapt_may_send(Viewer *v) {
        ViewerAdapt *a = v->adapt;
        if (!a || frame_interval(v) == 0)
                return true;
        uint64_t due = a->last_frame + frame_interval(v), now = now_usec(v);
        if (now >= due)
                return true;
        sd_event_source_set_time(a->frame, due);
        sd_event_source_set_enabled(a->frame, SD_EVENT_ONESHOT);
        return false;
}

void viewer_adapt_frame_sent(Viewer *v, size_t bytes) {
        ViewerAdapt *a = v->adapt;
        if (!a)
                return;
        a->last_frame = now_usec(v);
        a->gap = adaptive(v) ? adapt_policy_frame_gap(&a->policy, bytes) : 0;
        a->tick_frames++;
        a->tick_bytes += bytes;
}

size_t viewer_adapt_budget(Viewer *v) {
        ViewerAdapt *a = v->adapt;
        return a && adaptive(v) ? a->policy.frame_budget : 0;
}
