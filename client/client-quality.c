#include "client-quality.h"

#include <stdio.h>

ClientQualityLevel client_quality_classify(uint64_t rtt_usec, uint64_t min_rtt_usec, double loss) {
        if (rtt_usec == 0)
                return CLIENT_QUALITY_UNKNOWN;
        uint64_t queue = min_rtt_usec > 0 && rtt_usec > min_rtt_usec ? rtt_usec - min_rtt_usec : 0;
        if (rtt_usec > CLIENT_QUALITY_POOR_RTT_USEC || queue > CLIENT_QUALITY_POOR_QUEUE_USEC ||
            loss > CLIENT_QUALITY_POOR_LOSS)
                return CLIENT_QUALITY_POOR;
        if (rtt_usec > CLIENT_QUALITY_FAIR_RTT_USEC || queue > CLIENT_QUALITY_FAIR_QUEUE_USEC ||
            loss > CLIENT_QUALITY_FAIR_LOSS)
                return CLIENT_QUALITY_FAIR;
        return CLIENT_QUALITY_GOOD;
}

const char *client_quality_name(ClientQualityLevel level) {
        switch (level) {
        case CLIENT_QUALITY_GOOD:
                return "good";
        case CLIENT_QUALITY_FAIR:
                return "fair";
        case CLIENT_QUALITY_POOR:
                return "poor";
        default:
                return "unknown";
        }
}

const char *client_transport_name(WireConnKind kind) {
        return kind == WIRE_CONN_RUDP ? "udp" : "tcp";
}

void client_quality_format(const ClientLinkQuality *q, char *buf, size_t size) {
        if (size == 0)
                return;
        if (!q->measured || q->level == CLIENT_QUALITY_UNKNOWN)
                snprintf(buf, size, "%s, %s", client_transport_name(q->transport), client_quality_name(q->level));
        else
                snprintf(buf, size, "%s, %s (rtt %.1f ms, loss %.1f%%)", client_transport_name(q->transport),
                         client_quality_name(q->level), (double) q->rtt_usec / 1000.0, q->loss * 100.0);
}
