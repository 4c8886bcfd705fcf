/* bench-transport: one end of a transport benchmark (see bench-transport.h); bench-transport.py
 * runs both ends through tandem-linkemu's profiles and prints the table.
 *
 *     bench-transport send|recv udp|tcp --addr A --port P --cert PEM [--key PEM]
 *                     [--warmup S] [--seconds S] [--no-small] [--reverse]
 *
 * --reverse (udp): the receiver connects (the DTLS client, as the viewer), the sender binds (the
 * server, as hostd, sending on an unconnected socket); the sender then needs --key too.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench-transport.h"
#include "macro.h"
#include "parse-util.h"
#include "unaligned.h"

uint64_t bench_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

_Noreturn void bench_die(const char *what, int r) {
        fprintf(stderr, "bench-transport: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

void bench_fill_small(uint8_t msg[SMALL_SIZE], uint64_t now) {
        memset(msg, 0, SMALL_SIZE);
        msg[0] = 'S';
        put_le64(msg + 1, now);
}

void bench_fill_bulk(uint8_t *msg, size_t len) {
        memset(msg, 0x5a, len);
        msg[0] = 'B';
}

static uint64_t cpu_usec(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void bench_cpu_tick(BenchResult *res, uint64_t now) {
        if (res->end_usec == 0)
                return;
        if (!res->cpu_started && now >= res->start_usec) {
                res->cpu_started = true;
                res->cpu_start_usec = cpu_usec();
        }
        if (!res->cpu_ended && now >= res->end_usec) {
                res->cpu_ended = true;
                res->cpu_end_usec = cpu_usec();
        }
}

void bench_sender_window(const BenchOptions *o, BenchResult *res, uint64_t now) {
        if (res->end_usec != 0)
                return;
        res->start_usec = now + (uint64_t) (o->warmup * 1e6);
        res->end_usec = res->start_usec + (uint64_t) (o->seconds * 1e6);
}

void bench_sent(BenchResult *res, size_t len, uint64_t now) {
        bench_cpu_tick(res, now);
        if (now >= res->start_usec && now < res->end_usec)
                res->sent_bytes += len;
}

void bench_cpu_json(const BenchResult *res, uint64_t bytes, char *out, size_t size) {
        if (!res->cpu_started || !res->cpu_ended || bytes == 0) {
                snprintf(out, size, "\"cpu\":null");
                return;
        }
        double cpu = (double) (res->cpu_end_usec - res->cpu_start_usec) / 1e6;
        snprintf(out, size, "\"cpu\":{\"seconds\":%.3f,\"s_per_gb\":%.3f,\"bytes\":%llu}", cpu,
                 cpu / ((double) bytes / 1e9), (unsigned long long) bytes);
}

void bench_print_sender(const BenchResult *res, const char *transport_stats) {
        char cpu[160];
        bench_cpu_json(res, res->sent_bytes, cpu, sizeof(cpu));
        fprintf(stderr, "{\"sender_%s%s%s}\n", cpu + 1, transport_stats[0] ? "," : "", transport_stats);
}

void bench_count(BenchResult *res, const uint8_t *msg, size_t len, uint64_t now) {
        bench_cpu_tick(res, now);
        if (now < res->start_usec || now >= res->end_usec || len == 0)
                return;
        res->bytes += len;
        if (msg[0] == 'S' && len == SMALL_SIZE && res->nlat < LAT_MAX) {
                uint64_t sent = get_le64(msg + 1);
                if (sent >= res->start_usec)
                        res->lat[res->nlat++] = now > sent ? now - sent : 0;
        }
}

static int cmp_u64(const void *x, const void *y) {
        uint64_t a = *(const uint64_t *) x, b = *(const uint64_t *) y;
        return a < b ? -1 : a > b;
}

static double percentile_ms(uint64_t *v, size_t n, double p) {
        if (n == 0)
                return -1;
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return (double) v[MIN(i, n - 1)] / 1000.0;
}

static void print_result(const char *transport, BenchResult *res) {
        char cpu[160];
        bench_cpu_json(res, res->bytes, cpu, sizeof(cpu));
        double secs = (double) (res->end_usec - res->start_usec) / 1e6;
        qsort(res->lat, res->nlat, sizeof(res->lat[0]), cmp_u64);
        printf("{\"transport\":\"%s\",\"seconds\":%.3f,\"bytes\":%llu,\"goodput_bps\":%.0f,"
               "\"small\":{\"n\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f},%s%s%s}\n",
               transport, secs, (unsigned long long) res->bytes, (double) res->bytes * 8 / secs, res->nlat,
               percentile_ms(res->lat, res->nlat, 0.5), percentile_ms(res->lat, res->nlat, 0.99),
               percentile_ms(res->lat, res->nlat, 1.0), cpu, res->transport_stats[0] ? "," : "", res->transport_stats);
        fflush(stdout);
}

static void usage(void) {
        fprintf(stderr, "usage: bench-transport send|recv udp|tcp --addr A --port P --cert PEM [--key PEM]\n"
                        "                       [--warmup S] [--seconds S] [--no-small] [--reverse]\n");
        exit(EXIT_FAILURE);
}

static double parse_seconds(const char *s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || *end || v < 0 || v > 3600)
                usage();
        return v;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "addr", required_argument, NULL, 'a' },   { "port", required_argument, NULL, 'p' },
                { "cert", required_argument, NULL, 'c' },   { "key", required_argument, NULL, 'k' },
                { "warmup", required_argument, NULL, 'w' }, { "seconds", required_argument, NULL, 's' },
                { "no-small", no_argument, NULL, 'n' },     { "reverse", no_argument, NULL, 'r' },
                {},
        };
        BenchOptions o = { .addr = "127.0.0.1", .warmup = 3, .seconds = 20, .small = true };
        int c;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0)
                switch (c) {
                case 'a': o.addr = optarg; break;
                case 'p': {
                        uint64_t v;
                        if (parse_u64(optarg, 65535, &v) < 0 || v == 0)
                                usage();
                        o.port = (uint16_t) v;
                        break;
                }
                case 'c': o.cert = optarg; break;
                case 'k': o.key = optarg; break;
                case 'w': o.warmup = parse_seconds(optarg); break;
                case 's': o.seconds = parse_seconds(optarg); break;
                case 'n': o.small = false; break;
                case 'r': o.reverse = true; break;
                default: usage();
                }
        if (argc - optind != 2 || !o.port || !o.cert)
                usage();
        if (!strcmp(argv[optind], "send"))
                o.sender = true;
        else if (strcmp(argv[optind], "recv"))
                usage();
        if ((!o.sender || o.reverse) && !o.key)
                usage();
        bool udp = !strcmp(argv[optind + 1], "udp");
        if (!udp && strcmp(argv[optind + 1], "tcp"))
                usage();

        BenchResult *res = calloc(1, sizeof(*res));
        if (!res)
                bench_die("calloc", ENOMEM);
        int r = udp ? bench_udp(&o, res) : bench_tcp(&o, res);
        if (r < 0)
                bench_die(udp ? "udp" : "tcp", r);
        if (!o.sender)
                print_result(udp ? "udp" : "tcp", res);
        free(res);
        return EXIT_SUCCESS;
}
