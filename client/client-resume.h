/* Session resumption on the viewer's side (schema/wire-protocol.md, "Session resumption"): the
 * token and the replay buffer, liveness (a connection silent for dead_after is dead), and the
 * reconnection: a parked WireConn takes input while new connections are tried with a doubling
 * backoff until hostd's deadline; `resumed' swaps the new connection in and resends what hostd
 * lacks. Internal to the client library (client-session-internal.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client-session-internal.h"
#include "wire-gen.h"

typedef struct ClientResume ClientResume;

#define CLIENT_DEAD_AFTER_USEC (4 * 1000 * 1000ULL)
#define CLIENT_BACKOFF_FIRST_USEC (250 * 1000ULL)
#define CLIENT_BACKOFF_MAX_USEC (2 * 1000 * 1000ULL)

int client_resume_new(const ClientOptions *o, ClientResume **ret);
ClientResume *client_resume_free(ClientResume *r);

uint64_t client_resume_now(void);

/* Messages of the active session: session-token (the first one starts counting on s->conn) and
 * session-ack. 0 or -EPROTO. */
int client_resume_token(ClientSession *s, const WireSessionToken *t, uint64_t now);
int client_resume_ack(ClientSession *s, uint64_t received);
/* After the active session's messages were handled: liveness and acks. Returns true when the
 * connection is dead (the caller then calls client_resume_lost()). */
bool client_resume_check(ClientSession *s, uint64_t now);
/* The connection failed: true when the session is now reconnecting, false when it cannot resume
 * (the caller ends it). keep_old: leave the old connection as it is (a move to a new path). */
bool client_resume_lost(ClientSession *s, int error, const char *why, bool keep_old, uint64_t now);
/* Whether the session could move onto another connection now (active, with a token). */
bool client_resume_can_move(ClientSession *s);
/* Moves the session onto c (owned from now on), a connection already up, e.g. DTLS: resumes on
 * it while the current one stays as it is (hostd closes it). Nothing is shown as reconnecting;
 * should hostd refuse, the session resumes on a new connection of its usual kind. */
int client_resume_move(ClientSession *s, WireConn *c, uint64_t now);
/* The reconnecting session's work: attempts, their messages, the deadline. <0 once closed. */
int client_resume_process(ClientSession *s, uint64_t now);
uint64_t client_resume_next_timeout(ClientSession *s);
/* The attempt's transport timers (a UDP attempt's). */
void client_resume_on_timeout(ClientSession *s, uint64_t now);
int client_resume_fd(ClientSession *s);
uint32_t client_resume_poll_events(ClientSession *s);
/* Room for one more input message while reconnecting (the replay buffer is bounded). */
bool client_resume_has_room(ClientSession *s);
/* Bytes that can still be sent before the replay buffer overflows (what is queued counts as
 * sent), SIZE_MAX when nothing is kept for a resume: bulk senders (clipboard data) pace on it. */
size_t client_resume_replay_room(ClientSession *s);
