/* rudp: a sans-I/O reliable datagram transport (schema/rudp.md).
 *
 * Message channels with three delivery classes over one datagram path, selective acks, loss
 * detection by time and reordering, a BBR-like congestion controller with pacing, and
 * Reed-Solomon FEC adapted to the measured loss. No sockets, no clocks, no encryption: the caller
 * passes datagrams in and out and tells the time (microseconds, any monotonic origin); DTLS sits
 * below, the wire protocol's channels above.
 *
 * The owner's loop:
 *
 *         on a datagram:  rudp_receive_datagram(r, d, n, now);
 *         on wake-up:     rudp_on_timeout(r, now);
 *         then:           while ((n = rudp_next_datagram(r, buf, sizeof buf, now)) > 0) send(buf, n);
 *                         while (rudp_read(r, &m) > 0) handle(&m);
 *                         while (rudp_lost_latest_wins(r, &ch, &id) > 0) re-encode(ch, id);
 *                         sleep until rudp_next_timeout(r) or the next datagram.
 *
 * Memory is bounded per peer by the configuration: send queues by send_buffer, each reliable
 * channel's receive side by recv_window, latest-wins reassembly by latest_wins_buffer, plus the
 * fixed tables (packets in flight, FEC groups). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RUDP_DATAGRAM_MAX 1200
#define RUDP_CHANNELS_MAX 256
#define RUDP_INITIAL_CREDIT (256u << 10)

typedef enum RudpClass {
        RUDP_RELIABLE_ORDERED = 0,
        RUDP_RELIABLE_UNORDERED = 1,
        RUDP_LATEST_WINS = 2,
        _RUDP_CLASS_MAX,
} RudpClass;

typedef enum RudpFecMode {
        RUDP_FEC_AUTO = 0, /* parity from the measured loss, off on a clean link */
        RUDP_FEC_OFF,
        RUDP_FEC_FIXED,    /* always fec_k data and fec_m parity packets per group (tests) */
} RudpFecMode;

typedef struct RudpConfig {
        uint64_t connection_id;
        unsigned channels;           /* channels 0..channels-1 usable, at most 256; default 8 */
        size_t max_message;          /* default 1 MiB; at most recv_window */
        size_t send_buffer;          /* bytes queued or unacknowledged, all channels; default 8 MiB */
        size_t recv_window;          /* per reliable channel; default 2 MiB, at least 256 KiB */
        size_t latest_wins_buffer;   /* incomplete latest-wins messages, all channels; default 4 MiB */
        uint64_t initial_rtt_usec;   /* before the first sample; default 100 ms */
        uint64_t latest_wins_timeout_usec; /* incomplete latest-wins messages older are dropped; default 1 s */
        RudpFecMode fec;
        unsigned fec_k, fec_m;       /* RUDP_FEC_FIXED only */
        unsigned max_fec_k;          /* largest group in AUTO; default 32 */
        /* Channels 0..31 whose messages are small and wait for no one (input, cursor, control):
         * served before the others in every packet, and on a lossy link of at least ~0.5 Mbit/s
         * each new fragment of a reliable one is sent twice, in two packets (within 10% of the
         * rate), so one loss costs no retransmission round trip; a fragment found missing (a later
         * packet acknowledged) is sent again at once, ahead of pacing. Bit n = channel n; default
         * none. */
        uint32_t urgent_channels;
} RudpConfig;

/* Fills the defaults (connection id 0). */
void rudp_config_init(RudpConfig *cfg);

typedef struct Rudp Rudp;

/* -EINVAL on a configuration outside its limits, -ENOMEM. */
int rudp_new(const RudpConfig *cfg, bool server, uint64_t now_usec, Rudp **ret);
Rudp *rudp_free(Rudp *r);

/* Queues a message of len bytes (1..max_message) on a channel. The first message of a channel
 * fixes its class; another class later is -EINVAL. -ENOBUFS when the send buffer cannot take it
 * now (retry after acknowledgements: rudp_send_room() says how much fits), -EPIPE after close. */
int rudp_send(Rudp *r, uint8_t channel, RudpClass cls, uint32_t message_id, const void *data, size_t len);
size_t rudp_send_room(const Rudp *r);
/* Bytes queued for a channel and not yet acknowledged (or, for latest-wins, not yet sent). */
size_t rudp_queued(const Rudp *r, uint8_t channel);

/* Takes one datagram, with the time read after it left the socket or transport: a time read
 * before a recv() that then waited (the process preempted) dates the datagram early, and an ACK
 * in it makes the round trip, and so the minimum RTT, look shorter than the path's
 * (datagram_rudp_receive() in datagram-rudp.h does it right).
 * 0 when processed or dropped as garbage/duplicate (counted in the stats),
 * -EPROTO when the peer broke the protocol (the connection is closed: every later call fails),
 * -ECONNRESET when the peer closed the connection. */
int rudp_receive_datagram(Rudp *r, const uint8_t *dgram, size_t len, uint64_t now_usec);

/* Writes the next datagram to send now into out (at most min(size, RUDP_DATAGRAM_MAX) bytes):
 * its length, 0 when nothing may be sent now (nothing to send, congestion window full, or pacing:
 * see rudp_next_timeout()), -ENOBUFS when size is below 256, -EPROTO after a protocol error.
 * Call it until it returns 0: it also runs due timers and closes an FEC group when the queues
 * run dry. */
ssize_t rudp_next_datagram(Rudp *r, uint8_t *out, size_t size, uint64_t now_usec);

/* When to call rudp_on_timeout() and rudp_next_datagram() again at the latest; UINT64_MAX when
 * only a datagram or a new message can change anything. */
uint64_t rudp_next_timeout(const Rudp *r);
void rudp_on_timeout(Rudp *r, uint64_t now_usec);

typedef struct RudpMessage {
        uint8_t channel;
        RudpClass cls;
        uint32_t message_id;
        const uint8_t *data; /* valid until the next rudp_read() or rudp_free() */
        size_t len;
} RudpMessage;

/* The next delivered message: 1 and *ret filled, 0 when none. */
int rudp_read(Rudp *r, RudpMessage *ret);

/* The next latest-wins message the peer did not get (one of its packets was lost and not
 * recovered): 1 with channel and id, 0 when none. Each such message is reported once. */
int rudp_lost_latest_wins(Rudp *r, uint8_t *channel, uint32_t *message_id);

/* Ends the connection: a CLOSE frame is sent with the next datagram; sends fail afterwards. */
void rudp_close(Rudp *r, uint64_t code);
bool rudp_is_closed(const Rudp *r);

typedef enum RudpCcState {
        RUDP_CC_STARTUP,
        RUDP_CC_DRAIN,
        RUDP_CC_PROBE_BW,
        RUDP_CC_PROBE_RTT,
} RudpCcState;

typedef struct RudpStats {
        /* The model */
        uint64_t bandwidth;        /* bottleneck bandwidth estimate, bytes/s */
        uint64_t pacing_rate;      /* bytes/s */
        uint64_t cwnd;             /* bytes */
        uint64_t inflight;         /* bytes sent, not yet acknowledged or declared lost */
        uint64_t min_rtt_usec, smoothed_rtt_usec, rttvar_usec, latest_rtt_usec;
        double loss_rate;          /* smoothed fraction of packets lost on the link (FEC-recovered included) */
        RudpCcState cc_state;
        /* Counters */
        uint64_t packets_sent, packets_received, packets_lost;
        uint64_t packets_dropped;  /* garbage, another connection's, duplicates, too old */
        uint64_t bytes_sent, bytes_received;
        uint64_t retransmits;      /* fragments of reliable messages sent again */
        uint64_t retransmitted_bytes;
        uint64_t urgent_copies;    /* second copies of urgent fragments (not in retransmits) */
        uint64_t urgent_parity;    /* MSG_PARITY frames sent in place of second copies */
        uint64_t parity_rebuilt;   /* messages this side rebuilt from MSG_PARITY */
        uint64_t latest_wins_lost; /* messages reported by rudp_lost_latest_wins() */
        uint64_t pto_count;
        uint64_t fec_parity_sent;
        uint64_t fec_recovered;      /* packets this side rebuilt */
        uint64_t fec_peer_recovered; /* packets the peer rebuilt (from its ACKs) */
        unsigned fec_k, fec_m;     /* the current group shape, 0 when off */
        uint64_t messages_delivered;
} RudpStats;

void rudp_stats(const Rudp *r, RudpStats *ret);

static inline void rudp_freep(Rudp **r) {
        rudp_free(*r);
}
