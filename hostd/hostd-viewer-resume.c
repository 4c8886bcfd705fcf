/* Session resumption, hostd's side: see hostd-viewer-resume.h. */
#include "hostd-viewer-resume.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hostd-manager.h"
#include "hostd-udp-server.h"
#include "hostd-viewer.h"
#include "log.h"
#include "wire-replay.h"

#define CAP_RESUME (UINT64_C(1) << 5)
/* Liveness and acks are checked this often. */
#define TICK_USEC (250 * 1000ULL)

struct ViewerResume {
        Viewer *viewer;
        WireReplay replay;
        uint8_t token[WIRE_TOKEN_SIZE];
        sd_event_source *tick;
        uint64_t bytes_in;  /* of the current connection, at the last tick */
        uint64_t last_rx;   /* when a byte last came in (or the connection came up) */
        uint64_t last_ping;
        uint64_t detached_at; /* 0 while attached */
        uint64_t deadline;    /* of a detached session */
        bool overflow_logged;
};

static uint64_t now_usec(Viewer *v) {
        uint64_t now;
        sd_event_now(v->server->manager->event, CLOCK_MONOTONIC, &now);
        return now;
}

bool viewer_resumable(const Viewer *v) {
        return v->resume != NULL;
}

bool viewer_is_detached(const Viewer *v) {
        return v->resume && v->resume->detached_at != 0;
}

ViewerResume *viewer_resume_free(ViewerResume *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->tick);
        wire_replay_done(&r->replay);
        free(r);
        return NULL;
}

static int send_token(Viewer *v) {
        ViewerResume *r = v->resume;
        if (getrandom(r->token, sizeof(r->token), 0) != (ssize_t) sizeof(r->token))
                return -EIO;
        WireSessionToken t = { .token = r->token, .token_len = sizeof(r->token),
                               .resume_seconds = v->server->manager->config.resume_seconds };
        return wire_encode_session_token(wire_conn_out(v->conn), &t);
}

static void end_detached(Viewer *v) {
        char why[128];
        snprintf(why, sizeof(why), "session %016" PRIx64 " ended: not resumed within %u s", v->session,
                 v->server->manager->config.resume_seconds);
        viewer_drop(v, 0, why);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Viewer *v = userdata;
        ViewerResume *r = v->resume;
        uint64_t now = now_usec(v);

        sd_event_source_set_time(s, now + TICK_USEC);
        if (v->state != VIEWER_ACTIVE)
                return 0;
        if (r->detached_at) {
                if (now >= r->deadline)
                        end_detached(v);
                return 0;
        }
        if (r->replay.overflow && !r->overflow_logged) {
                log_info("viewer %s (%s): replay buffer full, session %016" PRIx64 " can no longer resume", v->peer,
                         v->ticket.user, v->session);
                r->overflow_logged = true;
        }
        uint64_t bytes = wire_conn_bytes_in(v->conn);
        if (bytes != r->bytes_in) {
                r->bytes_in = bytes;
                r->last_rx = now;
        }
        if (now > r->last_rx && now - r->last_rx >= VIEWER_SILENT_USEC) {
                if (!viewer_resume_detach(v, 0, "silent for 10 s"))
                        viewer_drop(v, -ETIMEDOUT, "silent for 10 s");
                return 0;
        }
        if (now > r->last_rx && now - r->last_rx >= VIEWER_PING_AFTER_USEC && now - r->last_ping >= VIEWER_PING_AFTER_USEC) {
                WirePing ping = { .nonce = now, .time_us = now };
                (void) wire_encode_ping(wire_conn_out(v->conn), &ping);
                r->last_ping = now;
        }
        viewer_resume_after_receive(v);
        viewer_flush(v);
        return 0;
}

void viewer_resume_start(Viewer *v, uint64_t viewer_caps) {
        Manager *m = v->server->manager;
        ViewerResume *r;

        if (!(viewer_caps & CAP_RESUME) || m->config.resume_seconds == 0 || v->resume)
                return;
        r = calloc(1, sizeof(ViewerResume));
        if (!r)
                return;
        r->viewer = v;
        wire_replay_init(&r->replay, WIRE_REPLAY_LIMIT);
        r->last_rx = now_usec(v);
        r->bytes_in = wire_conn_bytes_in(v->conn);
        v->resume = r;
        if (sd_event_add_time(m->event, &r->tick, CLOCK_MONOTONIC, r->last_rx + TICK_USEC, 0, on_tick, v) < 0 ||
            sd_event_source_set_enabled(r->tick, SD_EVENT_ON) < 0 || send_token(v) < 0) {
                v->resume = viewer_resume_free(r);
                return;
        }
        /* From here on (welcome and token are not replayable anyway). */
        wire_conn_set_replay(v->conn, &r->replay);
}

/* Puts a WireConn over the detached transport in place of the viewer's connection, after what
 * was encoded for the old one went into the replay buffer. */
static int swap_conn(Viewer *v, WireConn *c) {
        wire_conn_scan(v->conn);
        wire_conn_set_replay(v->conn, NULL);
        v->io = sd_event_source_disable_unref(v->io);
        wire_conn_free(v->conn);
        v->conn = c;
        wire_conn_set_accept(c, WIRE_DIR_C2S);
        return viewer_conn_attached(v);
}

bool viewer_resume_detach(Viewer *v, int error, const char *why) {
        ViewerResume *r = v->resume;
        ByteTransport *t;
        WireConn *c;

        if (!r || r->detached_at || v->state != VIEWER_ACTIVE)
                return false;
        wire_conn_scan(v->conn);
        if (r->replay.overflow)
                return false;
        if (detached_transport_new(&t) < 0 || wire_conn_new(t, VIEWER_OUT_LIMIT, &c) < 0)
                return false;
        swap_conn(v, c);
        wire_conn_set_replay(c, &r->replay);
        r->detached_at = now_usec(v);
        r->deadline = r->detached_at + (uint64_t) v->server->manager->config.resume_seconds * 1000000ULL;
        if (error < 0)
                log_info("viewer %s (%s): %s: %s; session %016" PRIx64 " kept for %u s", v->peer, v->ticket.user, why,
                         strerror(-error), v->session, v->server->manager->config.resume_seconds);
        else
                log_info("viewer %s (%s): %s; session %016" PRIx64 " kept for %u s", v->peer, v->ticket.user, why,
                         v->session, v->server->manager->config.resume_seconds);
        manager_emit(v->server->manager, "viewer-detached %s %s %016" PRIx64, v->ticket.desktop, v->ticket.user,
                     v->session);
        return true;
}

static void refuse_code(Viewer *t, uint16_t code, const char *reason, const char *why) {
        WireReject rej = { .code = code, .reason = reason, .reason_len = strlen(reason) };
        (void) wire_encode_reject(wire_conn_out(t->conn), &rej);
        (void) wire_conn_flush(t->conn);
        log_warning("viewer %s: resume refused: %s", t->peer, why);
        viewer_drop(t, 0, "rejected: resume refused");
}

static void refuse(Viewer *t, const char *why) {
        refuse_code(t, WIRE_CODE_RESUME_REFUSED, "session cannot be resumed", why);
}

void viewer_resume_handle(Viewer *t, const WireResume *m) {
        ViewerServer *s = t->server;
        Viewer *v = NULL;
        int k;

        if (m->magic != WIRE_MAGIC || m->version < 1) {
                refuse(t, "bad magic or version");
                return;
        }
        for (Viewer *o = s->viewers; o; o = o->next)
                if (o != t && o->session == m->session && o->state == VIEWER_ACTIVE && o->resume)
                        v = o;
        if (!v) {
                refuse(t, "unknown session");
                return;
        }
        ViewerResume *r = v->resume;
        if (m->token_len != sizeof(r->token) || CRYPTO_memcmp(m->token, r->token, sizeof(r->token)) != 0) {
                refuse(t, "wrong token");
                return;
        }
        if (!(m->caps & CAP_RESUME)) {
                refuse(t, "no resume capability");
                return;
        }
        /* After the token: only the session's owner learns its desktop's policy. */
        if (!hostd_transport_allows(hostd_config_transport(&s->manager->config, v->ticket.desktop), t->udp != NULL)) {
                refuse_code(t, WIRE_CODE_TRANSPORT_REFUSED,
                            t->udp ? "this desktop takes viewers over TCP only" : "this desktop takes viewers over UDP only",
                            "its desktop's transport policy forbids this transport");
                return;
        }
        if (!viewer_is_detached(v))
                wire_conn_scan(v->conn); /* what the old connection had queued is replayed too */
        if (!wire_replay_can_resume(&r->replay, m->received)) {
                refuse(t, r->replay.overflow ? "replay buffer overflowed" : "count out of range");
                return;
        }

        /* The new connection replaces the old one (if it is still up, without a bye). */
        if (t->udp)
                udp_server_viewer_replaced(s->udp, t, v);
        WireConn *c = TAKE_PTR(t->conn);
        t->io = sd_event_source_disable_unref(t->io);
        bool was_detached = viewer_is_detached(v);
        if ((k = swap_conn(v, c)) < 0) {
                t->conn = NULL;
                viewer_drop(t, 0, "connection handed to its session");
                viewer_drop(v, k, "cannot resume");
                return;
        }
        r->detached_at = 0;
        v->caps = m->caps;
        r->last_rx = r->last_ping = now_usec(v);
        r->bytes_in = wire_conn_bytes_in(c);
        log_info("viewer %s (%s): session %016" PRIx64 " resumed%s from %s (replaying %" PRIu64 " messages)", t->peer,
                 v->ticket.user, v->session, was_detached ? "" : ", replacing its connection", v->peer,
                 r->replay.sent - m->received);
        snprintf(v->peer, sizeof(v->peer), "%s", t->peer);
        manager_emit(s->manager, "viewer-resumed %s %s %016" PRIx64, v->ticket.desktop, v->ticket.user, v->session);
        t->conn = NULL;
        viewer_drop(t, 0, "connection handed to its session");

        WireResumed ok = { .session = v->session, .received = r->replay.received, .role = v->interactive ? 0 : 1 };
        Buffer *out = wire_conn_out(c);
        if ((k = wire_encode_resumed(out, &ok)) < 0 || (k = wire_replay_resend(&r->replay, m->received, out)) < 0) {
                viewer_drop(v, k, "cannot resume");
                return;
        }
        wire_conn_set_replay(c, &r->replay);
        if ((k = send_token(v)) < 0) {
                viewer_drop(v, k, "cannot send a session token");
                return;
        }
        /* The display starts over: mode, the whole screen, frame counters and flow control. */
        v->acked = v->next_frame;
        if (v->console)
                v->need_mode = true;
        Manager *mgr = s->manager;
        int fd = wire_conn_fd(c);
        if (fd >= 0 && (k = sd_event_add_io(mgr->event, &v->io, fd, wire_conn_poll_events(c), viewer_on_io, v)) < 0) {
                viewer_drop(v, k, "cannot watch the resumed connection");
                return;
        }
        Agent *agent = manager_agent(mgr, v->ticket.desktop);
        if (agent)
                agent_viewer_joined(agent, v);
        viewer_flush(v);
        viewer_schedule_pump(v);
}

void viewer_resume_ack(Viewer *v, uint64_t received) {
        if (!v->resume)
                return;
        if (wire_replay_ack(&v->resume->replay, received) < 0)
                viewer_close(v, WIRE_CODE_PROTOCOL_ERROR, "session-ack beyond what was sent");
}

void viewer_resume_after_receive(Viewer *v) {
        ViewerResume *r = v->resume;
        if (!r || r->detached_at || v->state != VIEWER_ACTIVE)
                return;
        if (!wire_replay_ack_due(&r->replay, now_usec(v)))
                return;
        WireSessionAck ack = { .received = r->replay.received };
        if (wire_encode_session_ack(wire_conn_out(v->conn), &ack) >= 0)
                wire_replay_acked(&r->replay);
}
