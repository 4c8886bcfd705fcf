/* Batched UDP socket I/O for the datagram path: the system call per datagram, not the
 * cryptography, was most of what a gigabit of 1200-byte datagrams cost.
 *
 * Sending: datagrams to one destination are queued in a UdpTxBatch and leave in one sendmmsg()
 * call; each run of equal-sized datagrams (its last may be shorter) is one message with UDP GSO
 * (UDP_SEGMENT), so the kernel walks its stack once per run. Where GSO is refused the batch
 * falls back to one message per datagram, still in one call.
 *
 * Receiving: recvmmsg() into a UdpRxBatch, up to UDP_RX_BATCH datagrams per call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDP_TX_BATCH 32
#define UDP_TX_DATAGRAM_MAX 1200 /* DTLS_DATAGRAM_MAX: every datagram we send */
#define UDP_RX_BATCH 32
#define UDP_RX_DATAGRAM_MAX 2048 /* larger ones are reported truncated */

typedef struct UdpTxBatch {
        unsigned n;
        bool gso_off; /* the kernel refused UDP_SEGMENT once: never again on this batch */
        uint64_t dropped; /* datagrams a full socket did not take */
        uint16_t len[UDP_TX_BATCH];
        uint8_t data[UDP_TX_BATCH][UDP_TX_DATAGRAM_MAX];
} UdpTxBatch;

/* Room for the next datagram, or NULL when the batch is full (flush first). */
static inline uint8_t *udp_tx_slot(UdpTxBatch *b) {
        return b->n < UDP_TX_BATCH ? b->data[b->n] : NULL;
}
/* Queues the datagram written into the slot (len <= UDP_TX_DATAGRAM_MAX). */
static inline void udp_tx_commit(UdpTxBatch *b, size_t len) {
        b->len[b->n++] = (uint16_t) len;
}

/* Sends everything queued to to (NULL on a connected socket) and empties the batch. A datagram
 * the socket has no room for is lost (counted in dropped; the layers above retransmit), as is one
 * the path refuses: then *refused_len (when not NULL) is the largest refused length and the
 * result -EMSGSIZE. Any other error is returned after the rest was tried: 0 or a negative errno. */
int udp_tx_flush(UdpTxBatch *b, int fd, const struct sockaddr *to, socklen_t to_len, size_t *refused_len);

typedef struct UdpRxBatch {
        unsigned n, next;     /* received, and the next one to take */
        uint16_t len[UDP_RX_BATCH];
        bool truncated[UDP_RX_BATCH];
        struct sockaddr_storage from[UDP_RX_BATCH];
        socklen_t from_len[UDP_RX_BATCH];
        uint8_t data[UDP_RX_BATCH][UDP_RX_DATAGRAM_MAX];
} UdpRxBatch;

/* Receiving with UDP GRO (a client's connected socket): the kernel may hand over a run of
 * datagrams of one flow as one, cut here at the size it reports; where it coalesces (a NIC's
 * receive offload, loopback from a GSO sender) one call brings up to 64 datagrams per message.
 * Every message buffer must hold the largest run (64 KiB), so this batch is larger. */
#define UDP_GRO_MESSAGES 8
#define UDP_GRO_MESSAGE_MAX 65536
#define UDP_GRO_SLOTS (UDP_GRO_MESSAGES * 64)

typedef struct UdpGroBatch {
        unsigned n, next;    /* datagrams cut out, and the next one to take */
        uint64_t dropped;    /* truncated runs, or beyond UDP_GRO_SLOTS */
        const uint8_t *ptr[UDP_GRO_SLOTS];
        uint16_t len[UDP_GRO_SLOTS];
        uint8_t data[UDP_GRO_MESSAGES][UDP_GRO_MESSAGE_MAX];
} UdpGroBatch;

/* Turns UDP_GRO on: 0, or a negative errno (an old kernel: use a UdpRxBatch). */
int udp_gro_enable(int fd);
/* As udp_rx_fill(), into a UdpGroBatch (next == n): how many datagrams, -EAGAIN, or -errno. */
int udp_gro_fill(UdpGroBatch *b, int fd);

/* The socket buffers of the datagram path, each way: at a gigabit the kernel's default receive
 * buffer (208 KiB, ~90 datagrams of ours) is a millisecond, which any stall of a busy viewer
 * overruns; 4 MiB is 30 ms. */
#define UDP_SOCKET_BUFFER (4 << 20)

/* Sets SO_RCVBUF and SO_SNDBUF to bytes: past net.core.[rw]mem_max where the process may
 * (CAP_NET_ADMIN: SO_RCVBUFFORCE), else as far as that limit lets. Best effort: returns nothing. */
void udp_socket_set_buffers(int fd, int bytes);

/* Receives up to UDP_RX_BATCH datagrams (the batch must be empty: next == n): how many, or
 * -EAGAIN when none waits, or a negative errno. */
int udp_rx_fill(UdpRxBatch *b, int fd);
