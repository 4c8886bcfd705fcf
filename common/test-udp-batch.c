/* Batched UDP I/O over real loopback sockets: a batch of mixed sizes (GSO runs, a shorter datagram
 * ending a run, a longer one starting the next) arrives as the same datagrams, bytes and order,
 * through recvmmsg() and through UDP GRO, on a connected socket and with a destination address;
 * without GSO too; a datagram over the receive size is reported truncated; an empty socket says
 * -EAGAIN. */
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp-batch.h"

static const uint16_t sizes[] = { 1200, 1200, 1200, 800, 1200, 1200, 500, 500, 37, 1200, 1 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static int bound_socket(struct sockaddr_in *addr) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        check(fd >= 0);
        *addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        check(bind(fd, (struct sockaddr *) addr, sizeof(*addr)) == 0);
        socklen_t len = sizeof(*addr);
        check(getsockname(fd, (struct sockaddr *) addr, &len) == 0);
        udp_socket_set_buffers(fd, UDP_SOCKET_BUFFER);
        return fd;
}

static void fill(UdpTxBatch *b, unsigned round) {
        for (unsigned i = 0; i < NSIZES; i++) {
                uint8_t *slot = udp_tx_slot(b);
                check(slot);
                memset(slot, (int) (round * 16 + i), sizes[i]);
                slot[0] = (uint8_t) i;
                udp_tx_commit(b, sizes[i]);
        }
}

static void expect(const uint8_t *d, size_t len, unsigned i, unsigned round) {
        check(len == sizes[i]);
        check(d[0] == (uint8_t) i);
        for (size_t k = 1; k < len; k++)
                check(d[k] == (uint8_t) (round * 16 + i));
}

/* Sends the batch twice (connected, then to an address from an unconnected socket) and checks
 * what arrives, through a UdpRxBatch or a UdpGroBatch. */
static void round_trip(bool gso_off, bool gro) {
        struct sockaddr_in ra, sa;
        int rfd = bound_socket(&ra), sfd = bound_socket(&sa), cfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        check(cfd >= 0 && connect(cfd, (struct sockaddr *) &ra, sizeof(ra)) == 0);
        if (gro)
                check(udp_gro_enable(rfd) == 0);
        UdpTxBatch *tx = calloc(1, sizeof(UdpTxBatch));
        UdpRxBatch *rx = calloc(1, sizeof(UdpRxBatch));
        UdpGroBatch *gb = calloc(1, sizeof(UdpGroBatch));
        check(tx && rx && gb);
        tx->gso_off = gso_off;

        for (unsigned round = 0; round < 2; round++) {
                fill(tx, round);
                size_t refused = 99;
                if (round == 0)
                        check(udp_tx_flush(tx, cfd, NULL, 0, &refused) == 0);
                else
                        check(udp_tx_flush(tx, sfd, (struct sockaddr *) &ra, sizeof(ra), &refused) == 0);
                check(refused == 0 && tx->n == 0 && tx->dropped == 0);
                unsigned got = 0;
                while (got < NSIZES) {
                        struct pollfd p = { .fd = rfd, .events = POLLIN };
                        check(poll(&p, 1, 10000) == 1);
                        if (gro) {
                                int n = udp_gro_fill(gb, rfd);
                                check(n > 0);
                                for (; gb->next < gb->n; gb->next++, got++)
                                        expect(gb->ptr[gb->next], gb->len[gb->next], got, round);
                        } else {
                                int n = udp_rx_fill(rx, rfd);
                                check(n > 0);
                                for (; rx->next < rx->n; rx->next++, got++) {
                                        check(!rx->truncated[rx->next]);
                                        expect(rx->data[rx->next], rx->len[rx->next], got, round);
                                        const struct sockaddr_in *from = (const struct sockaddr_in *) &rx->from[rx->next];
                                        if (round == 1)
                                                check(from->sin_port == sa.sin_port);
                                }
                        }
                }
                check(got == NSIZES);
                check(gro ? udp_gro_fill(gb, rfd) == -EAGAIN : udp_rx_fill(rx, rfd) == -EAGAIN);
        }
        free(tx);
        free(rx);
        free(gb);
        close(rfd);
        close(sfd);
        close(cfd);
}

static void truncated(void) {
        struct sockaddr_in ra;
        int rfd = bound_socket(&ra), cfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        check(cfd >= 0 && connect(cfd, (struct sockaddr *) &ra, sizeof(ra)) == 0);
        static uint8_t big[UDP_RX_DATAGRAM_MAX + 100];
        check(send(cfd, big, sizeof(big), 0) == (ssize_t) sizeof(big));
        check(send(cfd, big, 10, 0) == 10);
        UdpRxBatch *rx = calloc(1, sizeof(UdpRxBatch));
        check(rx);
        check(udp_rx_fill(rx, rfd) == 2);
        check(rx->truncated[0] && !rx->truncated[1] && rx->len[1] == 10);
        free(rx);
        close(rfd);
        close(cfd);
}

int main(void) {
        round_trip(false, false);
        round_trip(true, false);
        round_trip(false, true);
        round_trip(true, true);
        truncated();
        return 0;
}
