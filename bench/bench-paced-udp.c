/* A perfectly paced UDP sender (and a receiver that drains it), to measure what the link
 * emulator itself adds to the queue it reports: bench-linkemu-floor.py runs it through
 * tandem-linkemu's lan profile at a fixed fraction of the link.
 *
 *     bench-paced-udp send ADDR PORT RATE_BPS SECONDS [spin|sleep]
 *     bench-paced-udp recv ADDR PORT SECONDS
 *
 * send: 1200-byte datagrams (1228 on the wire with IPv4 and UDP) at RATE_BPS counted on the
 * wire. spin (the default) busy-waits on CLOCK_MONOTONIC for each datagram's slot, the ideal
 * sender; sleep waits in clock_nanosleep() with a timer slack of 1 ns, what a real event loop
 * can do. A datagram whose slot has passed leaves at once, but a sender more than two slots
 * behind (preempted) forgets the debt instead of catching up in a burst. Prints how late
 * datagrams left (mean and p99 us), how many were sent and how many slots were forgotten. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"

#define DATAGRAM 1200
#define WIRE (DATAGRAM + 28)
#define LATE_MAX (1u << 22)

static uint64_t now_ns(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int cmp_u32(const void *x, const void *y) {
        uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
        return a < b ? -1 : a > b;
}

static int open_socket(const char *addr, uint64_t port, bool server) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
                return -EINVAL;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int buf = 4 << 20;
        (void) setsockopt(fd, SOL_SOCKET, server ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &buf, sizeof(buf));
        if ((server ? bind(fd, (struct sockaddr *) &a, sizeof(a)) : connect(fd, (struct sockaddr *) &a, sizeof(a))) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        return fd;
}

static int do_send(int fd, uint64_t rate, uint64_t seconds, bool spin) {
        static uint8_t d[DATAGRAM];
        static uint32_t late[LATE_MAX];
        size_t nlate = 0;
        uint64_t interval = (uint64_t) WIRE * 8 * 1000000000ull / rate;
        uint64_t start = now_ns(), end = start + seconds * 1000000000ull, slot = start;
        uint64_t sent = 0, skipped = 0;
        (void) prctl(PR_SET_TIMERSLACK, 1UL);
        for (;;) {
                uint64_t t = now_ns();
                if (t >= end)
                        break;
                if (t < slot) {
                        if (!spin) {
                                struct timespec ts = { .tv_sec = (time_t) (slot / 1000000000ull),
                                                       .tv_nsec = (long) (slot % 1000000000ull) };
                                (void) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                        }
                        continue;
                }
                if (nlate < LATE_MAX)
                        late[nlate++] = (uint32_t) MIN((t - slot) / 1000, (uint64_t) UINT32_MAX);
                if (send(fd, d, sizeof(d), 0) == (ssize_t) sizeof(d))
                        sent++;
                slot += interval;
                if (t > slot + 2 * interval) {
                        skipped += (t - slot) / interval;
                        slot = t;
                }
        }
        qsort(late, nlate, sizeof(late[0]), cmp_u32);
        double sum = 0;
        for (size_t i = 0; i < nlate; i++)
                sum += late[i];
        printf("{\"sent\":%llu,\"skipped\":%llu,\"late_mean_us\":%.1f,\"late_p99_us\":%u}\n",
               (unsigned long long) sent, (unsigned long long) skipped,
               nlate ? sum / (double) nlate : 0, nlate ? late[nlate * 99 / 100] : 0);
        return 0;
}

static int do_recv(int fd, uint64_t seconds) {
        static uint8_t d[2048];
        uint64_t got = 0, end = now_ns() + seconds * 1000000000ull;
        struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        printf("listening\n");
        fflush(stdout);
        while (now_ns() < end)
                if (recv(fd, d, sizeof(d), 0) > 0)
                        got++;
        printf("{\"received\":%llu}\n", (unsigned long long) got);
        return 0;
}

int main(int argc, char **argv) {
        uint64_t port, rate, seconds;
        bool send_mode = argc >= 6 && strcmp(argv[1], "send") == 0;
        bool recv_mode = argc == 5 && strcmp(argv[1], "recv") == 0;
        if ((!send_mode && !recv_mode) || parse_u64(argv[3], 65535, &port) < 0 ||
            (send_mode && (parse_u64(argv[4], 100000000000ull, &rate) < 0 || rate == 0 ||
                           parse_u64(argv[5], 3600, &seconds) < 0)) ||
            (recv_mode && parse_u64(argv[4], 3600, &seconds) < 0)) {
                fprintf(stderr, "usage: bench-paced-udp send ADDR PORT RATE_BPS SECONDS [spin|sleep]\n"
                                "       bench-paced-udp recv ADDR PORT SECONDS\n");
                return 2;
        }
        int fd = open_socket(argv[2], port, recv_mode);
        if (fd < 0) {
                fprintf(stderr, "bench-paced-udp: %s\n", strerror(-fd));
                return 1;
        }
        int r = send_mode ? do_send(fd, rate, seconds, !(argc > 6 && strcmp(argv[6], "sleep") == 0))
                          : do_recv(fd, seconds);
        close(fd);
        return r < 0 ? 1 : 0;
}
