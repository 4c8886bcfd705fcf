/* Packets to viewers within each viewer's budget: a share (ViewerShare=) of the transport's
 * estimate of its link (rudp's bandwidth over UDP, TCP_INFO's delivery rate over TCP), and a
 * bound on what is queued toward it, so media never holds back the display or input. Audio goes
 * first: it is never refused by the share, only by the queue bound, and what it takes is not
 * there for video. A video packet refused for a viewer makes that viewer wait for the next
 * keyframe, which hostd asks the guest for (at most once a second per stream). */
#include <errno.h>
#include <stdlib.h>

#include "hostd-media-internal.h"
#include "tcp-info.h"
#include "hostd-viewer-resume.h"
#include "hostd-viewer.h"

MediaBudget *media_budget(Media *m, uint64_t session) {
        for (size_t i = 0; i < m->n_budgets; i++)
                if (m->budgets[i].session == session)
                        return &m->budgets[i];
        MediaBudget *n = reallocarray(m->budgets, m->n_budgets + 1, sizeof(MediaBudget));
        if (!n)
                return NULL;
        m->budgets = n;
        m->budgets[m->n_budgets] = (MediaBudget) { .session = session, .usec = media_now(m) };
        return &m->budgets[m->n_budgets++];
}

void media_budget_forget(Media *m, uint64_t session) {
        for (size_t i = 0; i < m->n_budgets; i++)
                if (m->budgets[i].session == session) {
                        m->budgets[i] = m->budgets[--m->n_budgets];
                        return;
                }
}

/* What the link to v carries, bytes/s, or 0 when the transport cannot say: rudp's bottleneck
 * estimate over UDP; over TCP the kernel's delivery rate, but only from a sample the sender did
 * not limit (a 5 Mbit/s video on a fast link would otherwise measure its own rate, and its share
 * of that would shrink it round after round): there the send queue bounds media instead. */
static uint64_t link_rate(Viewer *v) {
        RudpStats st;
        TcpFigures tcp;
        if (wire_conn_rudp_stats(v->conn, &st) == 0)
                return st.bandwidth;
        if (tcp_figures(wire_conn_fd(v->conn), &tcp) == 0 && !tcp.delivery_rate_app_limited)
                return tcp.delivery_rate;
        return 0;
}

/* Whether v may take len bytes of a stream of kind now; takes them from its budget if so. */
static bool budget_allows(Media *m, Viewer *v, uint8_t kind, size_t len) {
        size_t queued = wire_conn_queued(v->conn);
        if (queued + len > (kind == MEDIA_KIND_VIDEO ? MEDIA_VIDEO_QUEUE_MAX : MEDIA_AUDIO_QUEUE_MAX))
                return false;
        uint64_t rate = link_rate(v);
        if (rate == 0)
                return true; /* no estimate: the queue bound alone */
        MediaBudget *b = media_budget(m, v->session);
        if (!b)
                return kind == MEDIA_KIND_AUDIO;
        double share = (double) rate * media_config(m)->viewer_share / 100.0;
        double burst = share * MEDIA_BUDGET_BURST_USEC / 1e6;
        uint64_t now = media_now(m);
        if (now > b->usec) {
                b->tokens = MIN(b->tokens + share * (double) (now - b->usec) / 1e6, burst);
                b->usec = now;
        }
        /* A packet larger than the burst goes when the budget is full, and leaves it in debt. */
        if (kind == MEDIA_KIND_VIDEO && b->tokens <= 0)
                return false;
        b->tokens -= (double) len;
        return true;
}

static void send_keyframe_request(Media *m, MediaStream *s, uint64_t now) {
        AgentMediaKeyframeRequest k = { .stream = s->guest_id };
        (void) agent_encode_media_keyframe_request(agent_out(m->agent), &k);
        agent_flush(m->agent);
        s->keyframe_wanted = false;
        s->keyframe_sent_usec = now;
        m->counters.keyframe_requests++;
}

void media_request_keyframe(Media *m, MediaStream *s) {
        uint64_t now = media_now(m);
        if (s->kind != MEDIA_KIND_VIDEO)
                return;
        if (s->keyframe_sent_usec == 0 || now - s->keyframe_sent_usec >= MEDIA_KEYFRAME_INTERVAL_USEC)
                send_keyframe_request(m, s, now);
        else
                s->keyframe_wanted = true; /* the tick sends it when its second is over */
}

void media_keyframe_tick(Media *m) {
        uint64_t now = media_now(m);
        for (size_t i = 0; i < m->n_streams; i++) {
                MediaStream *s = m->streams[i];
                if (s->keyframe_wanted && now - s->keyframe_sent_usec >= MEDIA_KEYFRAME_INTERVAL_USEC)
                        send_keyframe_request(m, s, now);
        }
}

int media_relay_packet(Media *m, MediaStream *s, const AgentMediaPacket *p) {
        bool video = s->kind == MEDIA_KIND_VIDEO, want_keyframe = false;
        WireMediaPacket w = { .stream = s->id, .seq = s->seq++, .pts_us = p->pts_us, .keyframe = p->keyframe,
                              .data = p->data, .data_len = p->data_len };
        s->packets_in++;
        s->bytes_in += p->data_len;
        for (size_t i = s->n_subs; i > 0; i--) {
                MediaSub *sub = &s->subs[i - 1];
                Viewer *v = agent_find_viewer(m->agent, sub->session);
                if (!v) {
                        *sub = s->subs[--s->n_subs]; /* gone without our hearing of it */
                        continue;
                }
                if (viewer_is_detached(v)) {
                        /* It may come back: then from a keyframe, asked for when it does. */
                        sub->dropped++;
                        s->dropped++;
                        sub->need_keyframe = video;
                        continue;
                }
                bool send = true;
                if (video && sub->need_keyframe && !p->keyframe)
                        send = false;
                else if (!budget_allows(m, v, s->kind, p->data_len))
                        send = false;
                else if (wire_encode_media_packet(wire_conn_out(v->conn), &w) < 0)
                        send = false;
                if (!send) {
                        sub->dropped++;
                        s->dropped++;
                        if (video) {
                                if (!sub->need_keyframe || !p->keyframe)
                                        want_keyframe = true;
                                sub->need_keyframe = true;
                        }
                        continue;
                }
                if (p->keyframe)
                        sub->need_keyframe = false;
                agent_viewer_written(v);
        }
        if (want_keyframe)
                media_request_keyframe(m, s);
        return 0;
}
