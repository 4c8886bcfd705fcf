/* bench-transport: one sender and one receiver of the same workload over Tandem's UDP transport
 * or TLS over Linux TCP, run by bench-transport.py in the two namespaces of tandem-linkemu.
 *
 * The workload: bulk messages keeping the sender's queue full (channel 1 / the TCP stream) and a
 * small message every SMALL_EVERY_USEC carrying its send time (channel 0 / the same stream, as a
 * one-stream TCP protocol must). The receiver counts the bytes of every message delivered in the
 * measured window and the one-way latency of each small message (both namespaces share
 * CLOCK_MONOTONIC), then prints one JSON object. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BULK_SIZE (16u << 10)
#define SMALL_SIZE 100
#define SMALL_EVERY_USEC 20000
#define LAT_MAX 200000

typedef struct BenchOptions {
        bool sender;
        const char *addr;
        uint16_t port;
        const char *cert, *key;   /* receiver: PEM files; sender: the certificate to pin */
        double warmup, seconds;   /* measured window, after the warm-up, on the receiver's clock */
        bool small;               /* send small messages too */
        bool reverse;             /* udp: the receiver is the DTLS client, as the viewer is, and the
                                   * sender binds, as hostd does (default: the other way round) */
} BenchOptions;

typedef struct BenchResult {
        uint64_t start_usec, end_usec; /* the measured window */
        uint64_t bytes;                /* payload of messages delivered in the window */
        uint64_t lat[LAT_MAX];         /* one-way latency of small messages sent in the window */
        size_t nlat;
        char transport_stats[1024];    /* JSON members the transport adds, or "" */
        /* CPU time (user + system) of this process inside the window: its two samples, taken by
         * bench_cpu_tick() on the first call at or after each end of the window. */
        uint64_t cpu_start_usec, cpu_end_usec;
        bool cpu_started, cpu_ended;
        uint64_t sent_bytes;           /* sender: payload handed to the transport in the window */
} BenchResult;

uint64_t bench_now_usec(void);
/* The receiver's bookkeeping for one delivered message. */
void bench_count(BenchResult *res, const uint8_t *msg, size_t len, uint64_t now);
/* Fills a small message (its first byte 'S', then its send time) or a bulk one ('B'). */
void bench_fill_small(uint8_t msg[SMALL_SIZE], uint64_t now);
void bench_fill_bulk(uint8_t *msg, size_t len);
_Noreturn void bench_die(const char *what, int r);
/* Samples the process's CPU time when now first reaches the window's start and its end. */
void bench_cpu_tick(BenchResult *res, uint64_t now);
/* The sender's window: warmup seconds from now, then seconds long (its own clock, not the
 * receiver's: the CPU figures are per byte, so the two windows need not coincide). */
void bench_sender_window(const BenchOptions *o, BenchResult *res, uint64_t now);
/* The sender's bookkeeping for one message handed to the transport. */
void bench_sent(BenchResult *res, size_t len, uint64_t now);
/* The sender's figures, one JSON object on stderr (bench-transport.py merges it). */
void bench_print_sender(const BenchResult *res, const char *transport_stats);
/* `"cpu":{...}` for this side: CPU seconds in the window and per GB of payload. */
void bench_cpu_json(const BenchResult *res, uint64_t bytes, char *out, size_t size);

int bench_udp(const BenchOptions *o, BenchResult *res);
int bench_tcp(const BenchOptions *o, BenchResult *res);
