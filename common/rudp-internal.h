/* rudp's connection state, shared by its files: rudp.c (lifecycle, API), rudp-send.c (queues,
 * packet assembly), rudp-recovery.c (acks, loss detection, RTT), rudp-recv.c (datagrams in,
 * reassembly, acks out). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rudp-bbr.h"
#include "rudp-fec.h"
#include "rudp-packet.h"
#include "rudp-ranges.h"
#include "rudp.h"

#define RUDP_MAX_ACK_DELAY 5000         /* usec */
#define RUDP_ACK_EVERY 2                /* ack-eliciting packets per ACK */
#define RUDP_RECV_RANGES 32             /* packet number ranges a receiver tracks */
#define RUDP_PACKET_THRESHOLD 3
#define RUDP_GRANULARITY 1000           /* usec */
#define RUDP_SENT_MAX 8192              /* packets tracked in flight */
#define RUDP_SENT_FRAGS 8               /* STREAM frames per packet */
#define RUDP_MSG_RANGES_MAX 1024        /* holes in one message being reassembled */
#define RUDP_DELIVERED_RANGES_MAX 16384 /* unordered messages delivered past a gap */
#define RUDP_LOST_QUEUE_MAX 65536
#define RUDP_FEC_GROUPS_TRACKED 64      /* sender: parity packet numbers of recent groups */
#define RUDP_PERSISTENT_PTO 3
/* The send quantum: what pacing lets one late wake-up catch up (and what the owner's batched
 * socket I/O sends in one system call): 1.5 times how late the owner's wake-ups for a pacing slot
 * have lately been, within [MIN, MAX], of the pacing rate, at most BURST_BYTES.
 * Why not fixed: a quantum below the owner's usual lateness sends less than the rate at every
 * wake-up, the rate samples and the rate follow, and the quantum (a time at the rate) with them:
 * bench-rudp's LAN 0.2 ms with wake-ups up to 700 us late (BENCH_RUDP_TICK) fell to 4% of the
 * link with the former fixed 250 us, 85% with 500 us; adaptive, 93% with wake-ups up to 50 us
 * to 1 ms late. Why not large: the quantum is the burst the bottleneck queues, and the window
 * lets one more quantum fly (see rudp_cwnd_allowance), so an owner that wakes on time gets the
 * small one (1.5, not 2, times the lateness: queue 0.46 ms instead of 0.56 with wake-ups up to
 * 200 us late, the same goodput; 1 times it lost goodput from 700 us on: 89%).
 * 250 us, not Linux's 1 ms, was the fixed value: on the emulated gigabit LAN 1 ms bursts (and
 * the rate samples taken across them) overshot its 2 ms queue, thousands of drops per 8 s. */
#define RUDP_PACE_BURST_MIN_NS 100000
#define RUDP_PACE_BURST_MAX_NS 1000000
#define RUDP_PACE_BURST_BYTES (128u << 10)
/* Second copies of urgent fragments: only above this loss rate and on links of at least
 * RUDP_COPY_MIN_RATE (bytes/s; below it the copies would take a share of the link that bulk
 * transfers miss more than small messages gain), within this share of the pacing rate (bytes,
 * counting a frame's headers per copy), bursting up to RUDP_COPY_BURST. */
#define RUDP_COPY_MIN_LOSS 0.003
#define RUDP_COPY_MIN_RATE 60000
#define RUDP_COPY_SHARE_PERCENT 10
#define RUDP_COPY_OVERHEAD 40
#define RUDP_COPY_BURST 4096
/* wan3 (256 kbit/s, 100 ms, 0.5%), below RUDP_COPY_MIN_RATE: the 100 B / 20 ms stream is 15.6%
 * of the link, a copy or MSG_PARITY of every message 18.6% with its frame. bench-rudp (200 s, seeds
 * 1-2, BENCH_RUDP_URGENT): messages no loss touched have p50 126-129 ms and p99 177-181 ms (a
 * full-size datagram takes 39 ms, the queue ~20): the floor of any redundancy scheme, 80 ms over
 * the 100 ms target. The chain there (the rate floor lifted; within the 10% budget, about half the
 * messages) gave p99 187-209 ms instead of 255-267 for goodput 84.2-86.3% instead of 89.4%; every
 * message would take ~18% of the link (goodput ~71%, target 90%). */
/* MSG_PARITY (schema/rudp.md) in place of the second copy of a whole urgent message of at most
 * RUDP_MSG_PARITY_LEN_MAX bytes: the XOR of it and the channel's previous message, in the next
 * packet. For the same bytes as a copy, it rebuilds the message from either side: from this
 * parity when the previous message is there (as a copy would), or from the next message's
 * parity and that message. Both copies of a message lost (p^2) held every message ordered behind
 * it for a round trip; the XOR chain loses a message only when its packet, the next and one of
 * the two after are lost (~2p^3). At 5%, ~11 messages late per message lost until retransmitted
 * (200 ms RTT, one every 20 ms): copies p^2 = 0.25%, 2.75% late; the chain 0.025%, 0.3% late plus
 * ~0.25% rebuilt 30 ms late from the next frame. A third copy (p^3, 0.14% late) costs another
 * copy, 4.5% of that link (goodput ~78% in bench-rudp); copies plus an XOR per pair (p^3) half
 * that, the first of each pair rebuilt 40 ms late.
 * bench-rudp (virtual time; 200 ms, 1 Mbit/s, 5%; 100 B every 20 ms; 200 s, seeds 1-3) with
 * BENCH_RUDP_URGENT's trace: with copies 0.19-0.32% of the messages lost both, each holding ~10
 * behind it, 2.4-3.6% late (p99 264-307 ms); with the chain and MSG_REBUILT 0.36-0.64% late
 * (p99 144-146 ms; messages no loss touched: p99 141-143), goodput 81.9-82.1% instead of
 * 82.1-82.6% (the frame's header is a few bytes longer than a copy's; without MSG_REBUILT the
 * messages rebuilt went again in turn: p99 146-152, 0.5-1.5% late). bench-transport (wan4, 20 s,
 * eight runs each, interleaved with main's build): p99 132-146 ms in six, 180 and 220 under a load
 * of 6-8 (main: 255-604), goodput 80.0-83.3% (main 78.1-85.9%).
 * The sender keeps the last message's bytes per urgent channel, up to RUDP_PARITY_PENDING parity
 * frames not yet sent; the receiver, for a channel it got parity for, the last
 * RUDP_PARITY_HISTORY small messages and up to RUDP_PARITY_HELD frames that miss two messages
 * (one may come from the next frame). */
#define RUDP_PARITY_PENDING 8
#define RUDP_PARITY_HISTORY 16
#define RUDP_PARITY_HELD 8
#define RUDP_SENT_PARITY 2 /* MSG_PARITY frames per packet */
#define RUDP_REBUILT_MAX 16 /* MSG_REBUILT frames waiting to go with the next packet */
/* Datagrams stay full size while urgent channels are in use: each carries ~90 bytes of IP, UDP,
 * DTLS and rudp headers, and on a slow link smaller ones cost the link more than urgent messages
 * gain, since the p99 is set by a lost urgent packet (a round trip and two packet times, for it
 * and every message ordered behind), which sizing barely moves. bench-rudp, 256 kbit/s, 0.5%,
 * 200 s, goodput / p50 / p99: 480-byte datagrams plus a 300-byte one per urgent message 75%,
 * 72 ms, ~185 ms; 800 bytes 86%, 96, ~220; 1000-1100 89%, 116, ~255; 1200 89%, 129, ~275
 * (bench-transport: 77% 73 200; 1050 87% 115 195-249; full 90% 125 240-255).
 * RUDP_EARLY_DATAGRAM: a packet carrying urgent bytes the peer misses, sent ahead of pacing. */
#define RUDP_EARLY_DATAGRAM 300

/* ---- send side ---- */

typedef struct SendMsg {
        uint32_t message_id;
        uint64_t start; /* in the channel's byte sequence */
        uint32_t len;
        uint8_t *data;  /* freed once not needed any more */
        uint32_t sent;  /* [0, sent) went out at least once */
        RudpRanges acked, resend; /* reliable classes */
        unsigned outstanding;     /* latest-wins: fragments in flight */
        bool copy_pending;        /* urgent: resend holds the second copy, not a loss */
        bool parity_safe;         /* urgent: a MSG_PARITY over it and a message the peer has was acknowledged */
        bool missing;             /* urgent: resend holds bytes the peer is known to miss */
        bool lost, done;
} SendMsg;

/* A message's bytes kept for MSG_PARITY (sender: the last urgent one; receiver: recent ones). */
typedef struct RecentMsg {
        uint64_t start;
        uint32_t message_id, len;
        uint8_t data[RUDP_MSG_PARITY_LEN_MAX];
} RecentMsg;

/* A MSG_PARITY frame: built to send (after: in a packet numbered above), or received, held. */
typedef struct MsgParity {
        uint8_t channel, count;
        uint64_t start;
        uint32_t message_id[RUDP_MSG_PARITY_MSGS_MAX], length[RUDP_MSG_PARITY_MSGS_MAX];
        size_t size;
        uint8_t data[RUDP_MSG_PARITY_LEN_MAX];
        uint64_t after, time;
} MsgParity;

typedef struct SendChannel {
        bool used;
        bool prev_valid;  /* urgent: prev is the message sent just before the next one */
        RecentMsg *prev;  /* urgent: allocated on first use */
        RudpClass cls;
        SendMsg **q;      /* by start; done messages are popped from the front */
        size_t head, n, cap;
        uint64_t next_start;
        uint64_t credit;  /* the peer's limit (reliable) */
        size_t first_unsent; /* index (from head) of the first message not completely sent */
        size_t resend_msgs;  /* messages with bytes to resend */
        size_t queued;       /* bytes of data held */
} SendChannel;

typedef struct SentFrag {
        uint64_t start;
        uint32_t off, len;
        uint8_t channel;
} SentFrag;

typedef enum SentState {
        SENT_NONE,
        SENT_IN_FLIGHT,
        SENT_DONE,       /* acknowledged or declared lost */
} SentState;

typedef struct SentPacket {
        uint64_t number;
        SentState state;
        bool ack_eliciting, credit, close, parity, protected;
        bool urgent;          /* carries bytes of a reliable urgent channel, not yet sent again */
        bool urgent_resent;   /* they were queued again when a later packet was acknowledged */
        bool startup;         /* sent while STARTUP/DRAIN overfilled the bottleneck: its loss is not the link's */
        uint32_t size;
        uint64_t time_sent;
        uint64_t fec_group;
        uint64_t ack_largest; /* +1 of the largest this packet acknowledged; 0 when it had no ACK */
        /* Delivery-rate state when sent */
        uint64_t delivered, delivered_time, first_sent_time;
        bool app_limited;
        unsigned nparity;     /* MSG_PARITY frames it carries: their channel and first two messages */
        struct {
                uint8_t channel;
                uint64_t start;
                uint32_t len0;
        } msg_par[RUDP_SENT_PARITY];
        unsigned nfrags;
        SentFrag frags[RUDP_SENT_FRAGS];
} SentPacket;

/* Parity packets of a recent FEC group: its data packets are only declared lost after these. */
typedef struct FecSent {
        uint64_t group;
        bool used, closed;    /* closed: every parity packet went out */
        uint64_t opened;      /* when its first data packet went out */
        uint64_t last_number, last_time;
} FecSent;

/* ---- receive side ---- */

typedef struct RecvMsg {
        struct RecvMsg *next_ready;
        uint8_t channel;
        RudpClass cls;
        uint32_t message_id;
        uint64_t start;
        uint32_t len;
        uint8_t *data;
        RudpRanges have;
        uint64_t first_time;
} RecvMsg;

/* Receiver state for a channel the peer sends MSG_PARITY on. */
typedef struct ParityRecv {
        RecentMsg recent[RUDP_PARITY_HISTORY]; /* ring of completed small messages */
        size_t recent_next;
        MsgParity held[RUDP_PARITY_HELD];
        size_t nheld;
} ParityRecv;

typedef struct RecvChannel {
        bool used;
        ParityRecv *parity;  /* allocated on the channel's first MSG_PARITY */
        RudpClass cls;
        RecvMsg **msgs;      /* being reassembled, by start */
        size_t n, cap;
        uint64_t deliver_at; /* ordered: start of the next message to deliver */
        RudpRanges delivered; /* unordered: channel bytes of messages delivered (or read) */
        RudpRanges consumed; /* channel bytes the application has read */
        uint64_t limit;      /* credit advertised */
        bool credit_pending;
        size_t buffered;     /* bytes held: reassembly and ready */
} RecvChannel;

typedef struct LostMsg {
        uint8_t channel;
        uint32_t message_id;
} LostMsg;

struct Rudp {
        RudpConfig cfg;
        bool server;
        bool closed, close_pending, close_sent, peer_closed, broken;
        uint64_t close_code;
        uint64_t now;

        /* Send */
        SendChannel *send;        /* cfg.channels */
        size_t send_queued;
        unsigned rr;              /* next channel served first */
        uint64_t next_number;
        SentPacket *sent;         /* ring indexed by number, sent_cap a power of two */
        size_t sent_cap;
        uint64_t sent_base;       /* lowest number possibly in flight */
        uint64_t inflight;        /* bytes of ack-eliciting packets in flight */
        uint64_t largest_acked;   /* +1, 0 when none */
        uint64_t last_ack_eliciting_time;
        uint64_t loss_time;       /* 0: none */
        unsigned pto_count, probes_pending;
        uint64_t pace_next_ns;    /* nanoseconds */
        uint64_t pace_late_ns;    /* how late the owner's wake-ups for a pacing slot came, smoothed */
        bool pace_waiting;        /* the last call found data to send and waited for its slot */
        uint64_t copy_credit, copy_refilled; /* urgent copies' budget: bytes, when refilled */
        MsgParity par_pending[RUDP_PARITY_PENDING]; /* ring of MSG_PARITY frames to send */
        size_t par_head, par_n;
        FecSent fec_sent[RUDP_FEC_GROUPS_TRACKED];
        LostMsg *lost;            /* latest-wins losses to report: ring */
        size_t lost_head, lost_n, lost_cap;

        /* Delivery rate (sender) */
        uint64_t delivered, delivered_time, first_sent_time, app_limited_until;

        /* RTT */
        bool have_rtt;
        uint64_t min_rtt, smoothed_rtt, rttvar, latest_rtt;

        RudpBbr bbr;

        /* Loss measurement, for FEC and the stats */
        uint64_t win_sent_resolved, win_lost, peer_recovered, win_recovered;
        double loss_rate;
        uint64_t loss_samples;
        unsigned fec_k, fec_m;    /* the shape in use */

        RudpFecEncoder *fec_enc;
        RudpFecDecoder *fec_dec;

        /* Receive */
        RecvChannel *recv;
        RudpRanges recv_pns;
        uint64_t recv_floor;      /* numbers below are dropped */
        uint64_t largest_recv, largest_recv_time;
        bool have_recv;
        unsigned ack_eliciting_unacked;
        bool ack_now, ack_dirty;
        uint64_t ack_deadline;    /* 0: none */
        size_t lw_buffered;       /* latest-wins reassembly, all channels */
        RecvMsg *ready_head, *ready_tail;
        RecvMsg *reading;         /* the message rudp_read() returned last */
        struct {
                uint8_t channel;
                uint64_t start;
        } rebuilt[RUDP_REBUILT_MAX]; /* messages rebuilt from MSG_PARITY, to tell the peer */
        size_t nrebuilt;

        RudpStats stats;
};

static inline bool rudp_is_urgent(const Rudp *r, unsigned channel) {
        return channel < 32 && (r->cfg.urgent_channels & (UINT32_C(1) << channel));
}

/* rudp-send.c */
int rudp_send_channel_pop_done(Rudp *r, SendChannel *c);
SendMsg *rudp_send_find(Rudp *r, uint8_t channel, uint64_t start);
void rudp_send_msg_free(Rudp *r, SendChannel *c, SendMsg *m);
bool rudp_send_has_data(const Rudp *r);
bool rudp_send_urgent_has_data(const Rudp *r);
bool rudp_send_urgent_has_missing(const Rudp *r);
bool rudp_send_urgent_again(Rudp *r, const SentFrag *fr);
bool rudp_lost_push(Rudp *r, uint8_t channel, uint32_t message_id);
/* The send quantum in bytes (RUDP_PACE_BURST_*). */
uint64_t rudp_send_quantum(const Rudp *r);
/* What the window lets fly beyond the model's cwnd: one send quantum where a quantum is over two
 * packets (as Linux's BBR budgets for TSO and batching: acks of a burst come back as one, and
 * late wake-ups of either end would leave the link idle), nothing on slower links. One, not
 * three: what flies beyond the path's bandwidth-delay product stands in the bottleneck's queue
 * whenever the rate estimate runs above the link (bench-rudp, LAN 0.2 ms, wake-ups up to 50 us
 * late: queue 1.03 ms with three quanta, 0.51 with one, the same goodput). */
uint64_t rudp_cwnd_allowance(const Rudp *r);

/* rudp-recovery.c */
SentPacket *rudp_sent_get(Rudp *r, uint64_t number);
int rudp_sent_add(Rudp *r, SentPacket **ret);
int rudp_on_ack_frame(Rudp *r, const RudpFrame *f, uint64_t now);
void rudp_detect_losses(Rudp *r, uint64_t now);
uint64_t rudp_pto_time(const Rudp *r);
uint64_t rudp_pto_interval(const Rudp *r);
void rudp_recovery_timeout(Rudp *r, uint64_t now);
void rudp_fec_sent_parity(Rudp *r, uint64_t group, uint64_t number, uint64_t now, bool last);
void rudp_fec_sent_data(Rudp *r, uint64_t group, uint64_t now);
void rudp_msg_rebuilt(Rudp *r, uint8_t channel, uint64_t start);

/* rudp-recv.c */
int rudp_recv_packet(Rudp *r, const uint8_t *dgram, size_t len, uint64_t now);
void rudp_recv_msg_free(RecvMsg *m);
void rudp_consumed(Rudp *r, RecvMsg *m);
int rudp_recv_msg_parity(Rudp *r, const RudpFrame *f, uint64_t now);
size_t rudp_ack_ranges(const Rudp *r, RudpAckRange *ranges, size_t max);
