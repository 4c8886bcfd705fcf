/* Session resumption, the viewer's side: see client-resume.h. */
#include "client-resume.h"

#include "client-auto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "client-session-media.h"
#include "macro.h"
#include "wire-replay.h"

#define PROTOCOL_VERSION 1
/* Enough left in the replay buffer for any input message. */
#define INPUT_ROOM (WIRE_HEADER_SIZE + 64)

struct ClientResume {
        WireReplay replay;
        bool have_token, counting;
        uint8_t token[WIRE_TOKEN_SIZE];
        uint32_t resume_seconds;
        uint64_t dead_after;
        uint64_t bytes_in, last_rx; /* liveness of the current connection */
        uint64_t deadline;          /* of a reconnecting session: hostd gives it up after */
        uint64_t backoff, next_attempt;
        unsigned attempts;
        WireConn *attempt;      /* the connection trying to resume */
        uint64_t attempt_start;
        WireConn *old;          /* a connection being replaced, left open until the resume */
        bool moving;            /* the attempt is a move onto a path already up (no reconnecting shown) */
};

uint64_t client_resume_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

int client_resume_new(const ClientOptions *o, ClientResume **ret) {
        ClientResume *r = calloc(1, sizeof(ClientResume));
        if (!r)
                return -ENOMEM;
        wire_replay_init(&r->replay, WIRE_REPLAY_LIMIT);
        r->dead_after = o && o->dead_after_usec ? o->dead_after_usec : CLIENT_DEAD_AFTER_USEC;
        r->last_rx = client_resume_now();
        *ret = r;
        return 0;
}

ClientResume *client_resume_free(ClientResume *r) {
        if (!r)
                return NULL;
        wire_conn_free(r->attempt);
        wire_conn_free(r->old);
        wire_replay_done(&r->replay);
        free(r);
        return NULL;
}

int client_resume_token(ClientSession *s, const WireSessionToken *t, uint64_t now) {
        ClientResume *r = s->resume;
        if (!r || t->token_len != WIRE_TOKEN_SIZE)
                return -EPROTO;
        memcpy(r->token, t->token, WIRE_TOKEN_SIZE);
        r->resume_seconds = t->resume_seconds;
        r->have_token = true;
        if (!r->counting) {
                /* Counting starts here on both sides: hostd attached its replay right after the
                 * welcome, and sent nothing replayable before this token. */
                wire_conn_set_replay(s->conn, &r->replay);
                r->counting = true;
                r->last_rx = now;
                r->bytes_in = wire_conn_bytes_in(s->conn);
        }
        return 0;
}

int client_resume_ack(ClientSession *s, uint64_t received) {
        if (!s->resume || wire_replay_ack(&s->resume->replay, received) < 0)
                return -EPROTO;
        return 0;
}

static bool resumable(ClientResume *r) {
        return r && r->have_token && r->resume_seconds > 0 && !r->replay.overflow;
}

bool client_resume_check(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        if (!r || !r->counting)
                return false;
        uint64_t bytes = wire_conn_bytes_in(s->conn);
        if (bytes != r->bytes_in) {
                r->bytes_in = bytes;
                r->last_rx = now;
        }
        if (now > r->last_rx && now - r->last_rx >= r->dead_after)
                return true;
        if (wire_replay_ack_due(&r->replay, now)) {
                WireSessionAck ack = { .received = r->replay.received };
                if (wire_encode_session_ack(wire_conn_out(s->conn), &ack) >= 0)
                        wire_replay_acked(&r->replay);
        }
        return false;
}

static void notify(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        uint64_t left = r->deadline > now ? (r->deadline - now) / 1000000ULL : 0;
        if (s->cb.on_reconnecting)
                s->cb.on_reconnecting(s, r->attempts, (unsigned) left, s->userdata);
}

bool client_resume_can_move(ClientSession *s) {
        return resumable(s->resume) && s->state == SESSION_ACTIVE;
}

/* Parks the session: a detached WireConn takes input into the replay buffer meanwhile. */
static bool park(ClientSession *s, bool keep_old) {
        ClientResume *r = s->resume;
        ByteTransport *t;
        WireConn *parked;

        wire_conn_scan(s->conn); /* what was queued and not sent is replayed */
        if (r->replay.overflow)
                return false;
        if (detached_transport_new(&t) < 0 || wire_conn_new(t, WIRE_REPLAY_LIMIT + INPUT_ROOM, &parked) < 0)
                return false;
        wire_conn_set_replay(s->conn, NULL);
        if (keep_old) {
                wire_conn_free(r->old);
                r->old = s->conn;
        } else
                wire_conn_free(s->conn);
        s->conn = parked;
        wire_conn_set_replay(parked, &r->replay);
        s->state = SESSION_RECONNECTING;
        r->moving = false;
        return true;
}

bool client_resume_lost(ClientSession *s, int error, const char *why, bool keep_old, uint64_t now) {
        ClientResume *r = s->resume;

        if (!resumable(r) || s->state != SESSION_ACTIVE)
                return false;
        if (!s->options.open_transport && !s->host[0])
                return false; /* a transport the caller made, and no way to make another */
        if (!park(s, keep_old))
                return false;
        /* hostd counts from when it noticed, which is no earlier than our last news from it. */
        r->deadline = r->last_rx + (uint64_t) r->resume_seconds * 1000000ULL;
        r->attempts = 0;
        r->backoff = CLIENT_BACKOFF_FIRST_USEC;
        r->next_attempt = keep_old ? now : now + r->backoff;
        notify(s, now);
        return true;
}

static void attempt_failed(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        r->attempt = wire_conn_free(r->attempt);
        r->moving = false;
        r->next_attempt = now + r->backoff;
        r->backoff = MIN(r->backoff * 2, CLIENT_BACKOFF_MAX_USEC);
}

static int send_resume(ClientSession *s, WireConn *c) {
        ClientResume *r = s->resume;
        WireResume m = { .magic = WIRE_MAGIC, .version = PROTOCOL_VERSION,
                         /* hostd takes these as the session's caps from now on: the media
                          * ones too, or the guest hears that no viewer decodes anything. */
                         .caps = client_session_caps(s),
                         .session = s->session, .token = r->token, .token_len = WIRE_TOKEN_SIZE,
                         .received = r->replay.received };
        return wire_encode_resume(wire_conn_out(c), &m);
}

static int attempt_start(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        int k;

        r->attempts++;
        notify(s, now);
        k = client_session_open_conn(s, &r->attempt);
        if (k < 0)
                return k;
        k = send_resume(s, r->attempt);
        if (k < 0)
                return k;
        r->attempt_start = now;
        return 0;
}

int client_resume_move(ClientSession *s, WireConn *c, uint64_t now) {
        ClientResume *r = s->resume;

        if (!client_resume_can_move(s) || !park(s, true)) {
                wire_conn_free(c);
                return 0; /* the session goes on where it is */
        }
        r->deadline = r->last_rx + (uint64_t) r->resume_seconds * 1000000ULL;
        r->attempts = 1;
        r->backoff = CLIENT_BACKOFF_FIRST_USEC;
        r->next_attempt = now;
        r->moving = true;
        r->attempt = c;
        r->attempt_start = now;
        if (send_resume(s, c) < 0)
                attempt_failed(s, now);
        return 0;
}

/* hostd took us back: the attempt becomes the connection, and what hostd lacks is sent again
 * (input queued meanwhile included). */
static int resumed(ClientSession *s, const WireResumed *m, uint64_t now) {
        ClientResume *r = s->resume;
        if (m->session != s->session)
                return -EPROTO;
        wire_conn_scan(s->conn);
        wire_conn_free(s->conn);
        s->conn = TAKE_PTR(r->attempt);
        client_session_conn_changed(s);
        r->old = wire_conn_free(r->old);
        r->moving = false;
        int k = wire_replay_resend(&r->replay, m->received, wire_conn_out(s->conn));
        if (k < 0)
                return k;
        wire_conn_set_replay(s->conn, &r->replay);
        r->last_rx = now;
        r->bytes_in = wire_conn_bytes_in(s->conn);
        s->state = SESSION_ACTIVE;
        int old_role = s->role;
        s->role = m->role;
        if (s->cb.on_resumed)
                s->cb.on_resumed(s, s->userdata);
        if (s->role != old_role && s->cb.on_role)
                s->cb.on_role(s, s->role, s->userdata);
        return 0;
}

static const char *copy_text(const char *p, size_t len, char *buf, size_t size) {
        size_t n = MIN(len, size - 1);
        memcpy(buf, p, n);
        buf[n] = 0;
        return buf;
}

/* Reads the attempt's answer: 1 resumed, 0 waiting, <0 attempt failed, -ECANCELED session over. */
static int attempt_process(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        WireMessage m;
        char reason[256], text[320];
        int k;

        k = wire_conn_receive(r->attempt, &m);
        if (k > 0) {
                if (m.type == WIRE_TYPE_RESUMED)
                        return resumed(s, &m.resumed, now) < 0 ? -ECANCELED : 1;
                if (m.type == WIRE_TYPE_REJECT && r->moving) {
                        /* The old connection is still up: resume on a new one of the usual kind. */
                        if (m.reject.code == WIRE_CODE_TRANSPORT_REFUSED)
                                client_auto_udp_refused(s);
                        r->moving = false;
                        return -ECONNREFUSED;
                }
                if (m.type == WIRE_TYPE_REJECT) {
                        snprintf(text, sizeof(text), "session could not be resumed: %s",
                                 copy_text(m.reject.reason, m.reject.reason_len, reason, sizeof(reason)));
                        client_session_closed(s, -ECONNREFUSED, text);
                        return -ECANCELED;
                }
                return -EPROTO;
        }
        if (k == 0)
                k = wire_conn_flush(r->attempt);
        if (k == -EAGAIN)
                k = 0;
        if (k == 0 && now > r->attempt_start && now - r->attempt_start >= r->dead_after)
                k = -ETIMEDOUT;
        return k;
}

int client_resume_process(ClientSession *s, uint64_t now) {
        ClientResume *r = s->resume;
        int k;

        for (;;) {
                if (now >= r->deadline) {
                        char why[96];
                        snprintf(why, sizeof(why), "session not resumed within %u s", r->resume_seconds);
                        client_session_closed(s, -ETIMEDOUT, why);
                        return -ETIMEDOUT;
                }
                if (r->attempt) {
                        k = attempt_process(s, now);
                        if (k == -ECANCELED) {
                                client_session_closed(s, -ECONNREFUSED, "session could not be resumed");
                                return -ECONNREFUSED;
                        }
                        if (k > 0)
                                return 0; /* active again: the caller reads on */
                        if (k == 0)
                                return 0;
                        attempt_failed(s, now);
                }
                if (now < r->next_attempt)
                        return 0;
                k = attempt_start(s, now);
                if (k < 0) {
                        attempt_failed(s, now);
                        return 0;
                }
        }
}

uint64_t client_resume_next_timeout(ClientSession *s) {
        ClientResume *r = s->resume;
        if (!r)
                return UINT64_MAX;
        if (s->state == SESSION_RECONNECTING) {
                uint64_t t = r->attempt ? r->attempt_start + r->dead_after : r->next_attempt;
                if (r->attempt)
                        t = MIN(t, wire_conn_next_timeout(r->attempt)); /* over UDP: rudp's, DTLS's */
                return MIN(t, r->deadline);
        }
        if (s->state != SESSION_ACTIVE || !r->counting)
                return UINT64_MAX;
        uint64_t t = r->last_rx + r->dead_after;
        if (r->replay.ack_due)
                t = MIN(t, r->replay.ack_due);
        return t;
}

void client_resume_on_timeout(ClientSession *s, uint64_t now) {
        if (s->resume && s->resume->attempt)
                wire_conn_on_timeout(s->resume->attempt, now);
}

int client_resume_fd(ClientSession *s) {
        return s->resume && s->resume->attempt ? wire_conn_fd(s->resume->attempt) : -EBADF;
}

uint32_t client_resume_poll_events(ClientSession *s) {
        return s->resume && s->resume->attempt ? wire_conn_poll_events(s->resume->attempt) : 0;
}

bool client_resume_has_room(ClientSession *s) {
        return s->resume && !s->resume->replay.overflow &&
               buffer_room(&s->resume->replay.frames) + 0 >= INPUT_ROOM + wire_conn_queued(s->conn);
}

size_t client_resume_replay_room(ClientSession *s) {
        ClientResume *r = s->resume;
        if (!r || !r->counting || r->replay.overflow)
                return SIZE_MAX; /* nothing is kept for a resume */
        size_t room = buffer_room(&r->replay.frames), queued = wire_conn_queued(s->conn);
        return room > queued ? room - queued : 0;
}
