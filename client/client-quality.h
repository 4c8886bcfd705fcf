/* The viewer's connection quality indicator: which transport a session runs on and a good / fair
 * / poor rating computed from the figures the viewer can measure itself (schema/wire-protocol.md,
 * "Connection quality indicator"): RTT, the queue delay above the minimum RTT, and loss. The rate
 * is shown but not rated: the viewer sees only what hostd chose to send (an idle desktop sends
 * almost nothing), not what the link could carry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client-session.h"

typedef enum ClientQualityLevel {
        CLIENT_QUALITY_UNKNOWN = 0, /* no RTT measured yet (or none measurable) */
        CLIENT_QUALITY_GOOD,
        CLIENT_QUALITY_FAIR,
        CLIENT_QUALITY_POOR,
} ClientQualityLevel;

/* The thresholds: worse than any FAIR one is fair, worse than any POOR one is poor. */
#define CLIENT_QUALITY_FAIR_RTT_USEC (100 * 1000ULL)
#define CLIENT_QUALITY_POOR_RTT_USEC (250 * 1000ULL)
#define CLIENT_QUALITY_FAIR_QUEUE_USEC (50 * 1000ULL)
#define CLIENT_QUALITY_POOR_QUEUE_USEC (200 * 1000ULL)
#define CLIENT_QUALITY_FAIR_LOSS 0.01
#define CLIENT_QUALITY_POOR_LOSS 0.05

typedef struct ClientLinkQuality {
        WireConnKind transport;
        bool measured; /* the transport gave figures */
        uint64_t rtt_usec, min_rtt_usec;
        double loss; /* over UDP: the larger of our packets' loss and the share of received ones
                      * rebuilt by FEC; over TCP: retransmitted / sent segments */
        uint64_t fec_recovered, retransmits;
        uint64_t bytes_received;
        ClientQualityLevel level;
} ClientLinkQuality;

ClientQualityLevel client_quality_classify(uint64_t rtt_usec, uint64_t min_rtt_usec, double loss);
const char *client_quality_name(ClientQualityLevel level); /* "good", "fair", "poor", "unknown" */
const char *client_transport_name(WireConnKind kind);      /* "udp", "tcp" */
/* "udp, good (rtt 12.3 ms, loss 0.1%)" into buf (always terminated). */
void client_quality_format(const ClientLinkQuality *q, char *buf, size_t size);

/* The session's figures and rating now. 0, or -ENOTCONN between connections (resuming) or once
 * closed. */
int client_session_quality(ClientSession *s, ClientLinkQuality *ret);
