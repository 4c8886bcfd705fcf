/* Figures the broker keeps in memory for GET /metrics (the rest is read from the store at
 * scrape time): the connect latency histogram and request counts. */
#pragma once

#include <stdint.h>

/* Upper bounds in seconds of the connect latency buckets (Prometheus "le"). */
#define METRICS_CONNECT_BUCKETS 12

typedef struct BrokerMetrics {
        uint64_t connect_buckets[METRICS_CONNECT_BUCKETS]; /* cumulative counts are computed when rendered */
        uint64_t connect_count;
        double connect_sum_seconds;
        uint64_t connect_failed;
        uint64_t requests, requests_4xx, requests_5xx;
} BrokerMetrics;

void metrics_connect_observe(BrokerMetrics *m, uint64_t usec);
extern const double metrics_connect_bounds[METRICS_CONNECT_BUCKETS];
