/* The automatic transport (ClientOptions.transport = CLIENT_TRANSPORT_AUTO), internal to the client
 * library:
 *
 * - The race: TCP+TLS and UDP+DTLS are opened together; the one-use ticket goes on exactly one
 *   of them. DTLS wins as soon as it is up; once TLS is up, DTLS gets a grace (a TCP round trip,
 *   at least AUTO_GRACE_MIN_USEC, never past AUTO_RACE_MAX_USEC from the start) and then TLS
 *   carries the hello.
 * - Probing: a session on TCP whose welcome allows UDP (cap `udp`) tries a DTLS handshake now
 *   and then (AUTO_PROBE_FIRST_USEC doubling to AUTO_PROBE_MAX_USEC) and moves onto the first
 *   that is up by resuming on it (client_resume_move()): the same session, no new ticket.
 * - Fallback: a UDP session that goes silent resumes like any other, and resumes open TCP; then
 *   probing starts over.
 *
 * Several connections are then open at once behind one fd: an epoll fd holding each of them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client-session-internal.h"
#include "datagram-transport.h"

#define AUTO_GRACE_MIN_USEC (150 * 1000ULL)
#define AUTO_RACE_MAX_USEC (1500 * 1000ULL)
#define AUTO_ALONE_MAX_USEC (10 * 1000 * 1000ULL) /* one path failed: how long the other may take */
#define AUTO_PROBE_FIRST_USEC (2 * 1000 * 1000ULL)
#define AUTO_PROBE_MAX_USEC (30 * 1000 * 1000ULL)
#define AUTO_PROBE_TIMEOUT_USEC (2500 * 1000ULL) /* a DTLS handshake not up by then failed */

typedef struct ClientAuto ClientAuto;

/* Opens both paths (s->host, port, pin, tls and dtls are set). */
int client_auto_new(ClientSession *s, ClientAuto **ret);
ClientAuto *client_auto_free(ClientAuto *a);

/* The race, probing and moving: <0 when the session was closed (both paths failed). */
int client_auto_process(ClientSession *s, uint64_t now);
uint64_t client_auto_next_timeout(ClientSession *s);
void client_auto_on_timeout(ClientSession *s, uint64_t now);
/* The epoll fd, with every connection the session waits on registered as it is now. */
int client_auto_fd(ClientSession *s);
/* The session is on another connection (start, resume): probing starts over on TCP. */
void client_auto_conn_changed(ClientSession *s, uint64_t now);
/* hostd refused the hello for its transport (the ticket is not used up then): the hello goes on
 * the other one, once. 1 when it did, 0 when it does not apply. */
int client_auto_retry(ClientSession *s);
/* hostd refused a move onto UDP for its policy: no more probing. */
void client_auto_udp_refused(ClientSession *s);
/* Opens a DTLS connection to host:port (the auto race and probes, UDP resumes): ret_dt is the
 * transport inside it, for dtls_datagram_established(). */
int client_session_open_udp(ClientSession *s, WireConn **ret, DatagramTransport **ret_dt);
