/* datagram-rudp: the time each datagram goes into rudp with. A bulk sender and its receiver over an
 * in-memory path (50 ms each way, no loss) on a virtual clock, the sender's loop as the owners'
 * are: read the clock, take the datagrams, run the timers, send. Now and then the sender is
 * preempted right after it read the clock, and an ACK arrives before it gets to its recv(): its
 * minimum RTT must still be the path's, not the path's less the stall (an owner that stamped the
 * datagrams with the time its loop read, as bench-transport's did, fails here). */
#include "check.h"
#include <stdio.h>
#include <stdlib.h>

#include "datagram-rudp.h"
#include "macro.h"
#include "mem-datagram.h"

#define DELAY_USEC 50000ull /* one way */
#define STALL_USEC 30000ull /* the sender preempted between its clock read and its recv() */
#define STALL_EVERY_USEC 250000ull
#define RUN_USEC (5 * 1000000ull)

static void send_all(DatagramTransport *t, Rudp *r) {
        uint8_t d[RUDP_DATAGRAM_MAX];
        ssize_t n;
        while ((n = rudp_next_datagram(r, d, sizeof(d), datagram_transport_now(t))) > 0)
                check(t->ops->send(t, d, (size_t) n) == 0);
        check(n == 0);
}

/* One turn of an owner's loop on end t. */
static void turn(DatagramTransport *t, Rudp *r, bool sender) {
        static uint8_t bulk[16384];
        check(datagram_rudp_receive(t, r, SIZE_MAX) >= 0);
        rudp_on_timeout(r, datagram_transport_now(t));
        if (sender)
                while (rudp_send_room(r) >= sizeof(bulk) && rudp_send(r, 1, RUDP_RELIABLE_ORDERED, 0, bulk, sizeof(bulk)) == 0)
                        ;
        RudpMessage m;
        while (rudp_read(r, &m) > 0)
                ;
        send_all(t, r);
}

static void test_stalled_receive(void) {
        DatagramTransport *a, *b;
        MemDatagramOptions o = { .delay_usec = DELAY_USEC, .seed = 1 };
        check(mem_datagram_pair(&o, &a, &b) == 0);

        RudpConfig cfg;
        rudp_config_init(&cfg);
        cfg.channels = 2;
        Rudp *tx, *rx;
        uint64_t start = mem_datagram_get_now(a);
        check(rudp_new(&cfg, false, start, &tx) == 0);
        check(rudp_new(&cfg, true, start, &rx) == 0);

        uint64_t last_stall = 0;
        unsigned stalls = 0; /* during which an ACK arrived */
        for (unsigned steps = 0; mem_datagram_get_now(a) < start + RUN_USEC; steps++) {
                check(steps < 1000000);
                turn(a, tx, true);
                turn(b, rx, false);
                uint64_t now = mem_datagram_get_now(a), ack = mem_datagram_next_arrival(a);
                uint64_t next = MIN(MIN(rudp_next_timeout(tx), rudp_next_timeout(rx)),
                                    MIN(ack, mem_datagram_next_arrival(b)));
                next = MAX(next, now);
                if (next >= last_stall + STALL_EVERY_USEC && ack > next) {
                        /* The sender wakes (a timer) and reads the clock, then waits for the CPU
                         * while ACKs come in. */
                        mem_datagram_stall_recv(a, STALL_USEC);
                        stalls += ack <= next + STALL_USEC;
                        last_stall = next;
                }
                mem_datagram_set_now(a, next);
        }

        RudpStats st;
        rudp_stats(tx, &st);
        fprintf(stderr, "stalls with an ACK arriving: %u, min RTT %.1f ms, smoothed %.1f ms, sent %.0f KiB\n",
                stalls, st.min_rtt_usec / 1e3, st.smoothed_rtt_usec / 1e3, st.bytes_sent / 1024.0);
        check(stalls >= 5);              /* the scenario happened */
        check(st.bytes_sent > 1u << 20); /* a bulk transfer ran */
        check(st.min_rtt_usec >= 2 * DELAY_USEC);
        rudp_free(tx);
        rudp_free(rx);
        datagram_transport_free(a);
        datagram_transport_free(b);
}

int main(void) {
        test_stalled_receive();
        return 0;
}
