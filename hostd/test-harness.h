/* An in-process hostd for tests and benchmarks (never linked into the daemon): a Manager with a
 * temporary state directory and a TLS viewer listener on a free 127.0.0.1 port, whose one domain's
 * D-Bus display is a fake QEMU (fake-qemu.h) attached without libvirt (hostd-manager-fd.h);
 * tickets minted with the fixed test key (ticket-test-key.h); and viewers, real client sessions
 * (client-session.h) over TLS, driven by io sources in the same sd-event loop. Everything runs on
 * one thread: a test steps the loop with harness_run_until(). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <openssl/types.h>

#include "client-session.h"
#include "fake-qemu.h"
#include "fd-datagram.h"
#include "hostd-conf.h"
#include "hostd-forward.h"
#include "macro.h"
#include "ticket.h"
#include "wire-conn.h"
#include "wire-gen.h"

typedef struct HarnessOptions {
        const char *desktop;       /* the domain's name; NULL: "harness" */
        unsigned frames_in_flight; /* [Viewers] FramesInFlight=; 0: hostd's default */
        unsigned max_viewers;      /* [Viewers] MaxViewers=; 0: hostd's default */
        int resume_seconds;        /* [Viewers] ResumeSeconds=; 0: hostd's default, < 0: 0 (off) */
        const char *transport;     /* [Viewers] Transport= (auto, udp, tcp); NULL: hostd's default */
        const char *transport_overrides; /* [Viewers] TransportOverrides=; NULL: none */
        /* Called on hostd's config before the manager is made ([Agent] settings, ...); NULL: none. */
        void (*configure)(HostdConfig *c, void *userdata);
        void *configure_userdata;
        /* The domain's agent channel (hostd-agent.h); NULL: none (the harness's domain has no
         * libvirt XML to find one in). */
        int (*agent_connect)(Manager *m, Domain *d, void *userdata);
        void *agent_connect_userdata;
        int log_level; /* hostd's log level; 0: LOG_WARNING (benches stay quiet); the environment's
                        * TANDEM_HARNESS_LOG=info|debug|... overrides it */
} HarnessOptions;

typedef struct Harness {
        Manager *manager;
        sd_event *event; /* the manager's loop */
        FakeQemu *qemu;
        EVP_PKEY *ticket_key; /* ticket-test-key.h's private key */
        char *dir;            /* the state directory, removed by harness_free() */
        char *desktop;
        char host[64]; /* "127.0.0.1:PORT" of the viewer listener, as tickets name it */
        uint8_t fingerprint[TICKET_FINGERPRINT_SIZE]; /* of hostd's certificate */
        struct TlsContext *client_tls; /* raw viewers' */
} Harness;

/* Sets everything up and waits (up to 5 s of loop time) until hostd has registered its listener
 * with the fake QEMU. The fake answers registrations with a Scanout of its surface
 * (auto_scanout) once harness_scanout() has given it one. opts may be NULL. */
int harness_new(const HarnessOptions *opts, Harness **ret);
/* Frees viewers' hostd side, the manager, the fake QEMU, and removes the state directory. Client
 * viewers (HarnessViewer) must be freed first. Accepts NULL, returns NULL. */
Harness *harness_free(Harness *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Harness *, harness_free);

/* Runs the loop until done(userdata) is true (checked before every iteration) or timeout_usec of
 * CLOCK_MONOTONIC passed: 0 or -ETIMEDOUT, or the loop's error. done NULL: run for timeout_usec. */
int harness_run_until(Harness *h, bool (*done)(void *userdata), void *userdata, uint64_t timeout_usec);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t harness_now_usec(void);
/* Runs h's loop until cond (any expression) holds; after seconds the test has failed: the
 * condition is printed with the line and the test aborts. */
#define HARNESS_WAIT_FOR(h, cond, seconds)                                                                        \
        do {                                                                                                       \
                uint64_t end_ = harness_now_usec() + (uint64_t) (seconds) * 1000000ULL;                            \
                while (!(cond)) {                                                                                  \
                        if (harness_now_usec() > end_) {                                                           \
                                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, #cond);  \
                                abort();                                                                           \
                        }                                                                                          \
                        check(sd_event_run((h)->event, 20000) >= 0);                                               \
                }                                                                                                  \
        } while (0)


/* The desktop's console (NULL until the display listed its consoles). */
Console *harness_console(Harness *h);
/* A Scanout of w x h x8r8g8b8 pixels (stride w * 4) from the fake QEMU, and runs the loop until
 * hostd's framebuffer has that size (up to 5 s). */
int harness_scanout(Harness *h, uint32_t w, uint32_t ht, const void *pixels);

/* A ticket (text, malloc'd) for the harness's desktop and listener, pinning hostd's certificate,
 * valid for a minute from now, with a fresh nonce: each is good for one connection. */
int harness_ticket(Harness *h, const char *user, TicketRole role, char **ret);

/* A viewer: a client session over TLS to the harness, processed whenever its socket is ready. Its
 * callbacks record what happened below and then call the caller's callbacks (any may be NULL)
 * with the caller's userdata; the media callbacks (harness_viewer_new_ticket()'s TLS viewers) are
 * the caller's, called with the HarnessViewer (its userdata is the caller's). */
typedef struct HarnessViewer {
        Harness *harness;
        ClientSession *session;
        sd_event_source *io;
        sd_event_source *timer; /* client_session_next_timeout(): transport timers, liveness, resume */
        bool was_reconnecting;
        ClientCallbacks callbacks;
        void *userdata;
        bool paused;
        bool crash; /* harness_viewer_free() leaves without a bye */
        bool welcomed, closed;
        int close_error;
        int rejected; /* the reject code, 0 if none */
        int role;
        unsigned frames, modes, cursors, roles, notices;
        unsigned reconnecting, resumed; /* on_reconnecting and on_resumed calls */
        uint32_t last_frame;
        /* harness_viewer_new_udp(): the datagram transports (fd-datagram.h) under each end, owned by
         * the connections, to change their impairment while the session runs. */
        DatagramTransport *client_path, *server_path;
} HarnessViewer;

/* A harness_run_until() predicate: the viewer has a frame and its framebuffer is w x h pixels equal
 * to px (XRGB; the top byte is ignored). A viewer that closed meanwhile aborts the test. */
typedef struct HarnessScreen {
        HarnessViewer *viewer;
        uint32_t w, h;
        const uint32_t *px;
} HarnessScreen;
bool harness_screen_is(void *userdata);

/* Connects (non-blocking: the handshake runs in the loop). callbacks and options may be NULL. */
int harness_viewer_new(Harness *h, const char *user, TicketRole role, const ClientOptions *options,
                       const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret);
/* The same with a ticket the caller made (consumed only by reading). */
int harness_viewer_new_ticket(Harness *h, const char *ticket, const ClientOptions *options,
                              const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret);
/* A viewer over the UDP transport's layers without DTLS: rudp over a connected AF_UNIX datagram
 * socket pair, hostd's end handed to its viewer server as a WireConn. client_path and
 * server_path impair what each end sends (NULL: nothing). */
int harness_viewer_new_udp(Harness *h, const char *user, TicketRole role, const FdDatagramOptions *client_path,
                           const FdDatagramOptions *server_path, const ClientOptions *options,
                           const ClientCallbacks *callbacks, void *userdata, HarnessViewer **ret);
HarnessViewer *harness_viewer_free(HarnessViewer *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(HarnessViewer *, harness_viewer_free);
/* After the caller queued input (client_session_key(), ...): processes the session now, which
 * writes it, and waits for what the session needs next. */
void harness_viewer_kick(HarnessViewer *v);
/* A paused viewer is never processed: it stops reading and acknowledging, like a stalled peer. */
void harness_viewer_pause(HarnessViewer *v, bool paused);

/* A raw viewer: TLS to the harness and a WireConn, nothing else, for sending what a client
 * session never would. The loop reads and drops what hostd sends, remembering a bye's code and
 * the end of the connection. */
typedef struct HarnessRaw {
        Harness *harness;
        WireConn *conn;
        sd_event_source *io;
        unsigned received;
        int bye_code; /* -1 until a bye arrives */
        int reject_code; /* 0 until a reject arrives */
        int error;    /* the receive error that ended it, 0 while open */
        /* vmaudio: called with every message received, after the counts above; NULL: none. */
        void (*on_message)(struct HarnessRaw *raw, const WireMessage *m, void *userdata);
        void *userdata;
} HarnessRaw;

/* Connects and queues a hello with ticket (NULL: a fresh interactive one for `raw`). */
int harness_raw_new(Harness *h, const char *ticket, HarnessRaw **ret);
/* The same with the hello's caps given (vmaudio: media, codecs, microphone). */
int harness_raw_new_caps(Harness *h, const char *ticket, uint64_t caps, HarnessRaw **ret);
/* Connects and queues the resume message m instead of a hello. */
int harness_raw_new_resume(Harness *h, const WireResume *m, HarnessRaw **ret);
HarnessRaw *harness_raw_free(HarnessRaw *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HarnessRaw *, harness_raw_free);
/* Queues bytes as they are (no framing) and flushes what the transport takes. */
int harness_raw_send(HarnessRaw *r, const void *data, size_t len);
