/* hostd's side of the broker ([Broker] in hostd.conf, schema/broker-api.yaml): registers this
 * host (the address viewers dial, hostd's certificate fingerprint, the libvirt URI, capacity),
 * takes the broker's ticket key when TicketPublicKey= is not set, and every ReportSeconds reports
 * each watched domain (state, vCPU time, display progress, input, agent, thumbnails when they
 * changed) with the logons and logoffs since the last report and the viewers' transport figures.
 * The broker's answer may hand out power requests for the guests' agents (hostd-broker-power.h);
 * their outcomes ride in the following reports.
 *
 * The broker is a peer that may be down or slow: requests never block the loop
 * (hostd-broker-http.h), a report that would start while one is in flight is dropped (never
 * queued), registration and the key are retried with backoff, the last good key is kept, and an
 * outage is logged once when it starts and once when it ends. Viewers and displays do not depend
 * on any of it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "hostd-broker-agent.h"
#include "hostd-broker-power.h"
#include "hostd-forward.h"
#include "macro.h"

typedef struct BrokerClient BrokerClient;

/* 0 with *ret NULL when [Broker] URL= is empty. Call after the viewer server exists (its
 * certificate is what the host registers). */
int broker_client_new(Manager *m, BrokerClient **ret);
BrokerClient *broker_client_free(BrokerClient *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(BrokerClient *, broker_client_free);

/* Registers, fetches the key, starts the report timer. */
int broker_client_start(BrokerClient *b);

/* The control socket's status `broker' object (malloc'd JSON), or NULL without a broker. */
char *broker_client_status_json(BrokerClient *b);

/* ---- internal to hostd-broker*.c ---- */

/* A thumbnail already reported for a desktop, so only a changed screen is sent again. */
typedef struct BrokerThumb {
        char desktop[64];
        uint64_t sent_updates, sent_usec;
        uint64_t inflight_updates; /* in the report in flight; 0: none */
        bool seen;
} BrokerThumb;

#define BROKER_THUMBS_MAX 1024
#define BROKER_EVENTS_MAX 1024
/* Raw thumbnail bytes one report carries at most (base64 makes them 4/3 on the wire): the rest
 * wait for the next report, within the broker's 4 MiB MaxReportBytes. */
#define BROKER_REPORT_THUMBNAIL_BYTES (2u * 1024 * 1024)

struct BrokerClient {
        Manager *manager;
        struct BrokerHttp *http;
        char *url;
        char host_name[64];
        char address[256];
        char fingerprint[65]; /* hostd's certificate, hex; "" without viewers */
        char *libvirt_uri;
        bool registered, registering;
        bool reporting;
        bool key_wanted, key_fetching, have_key;
        sd_event_source *register_timer, *key_timer, *report_timer;
        unsigned register_backoff, key_backoff; /* seconds */
        bool outage;
        uint64_t outage_usec;
        uint64_t reports_sent, reports_failed, reports_dropped, reports_dropped_outage;
        uint64_t last_report_usec; /* CLOCK_MONOTONIC of the last accepted report, 0: none */
        char last_error[256];
        /* thumbnails */
        BrokerThumb *thumbs;
        size_t n_thumbs;
        uint64_t thumbnails_sent;
        /* the session tables last reported per desktop (hostd-broker-agent.c) */
        struct BrokerAgentSeen *agent_seen;
        size_t n_agent_seen;
        /* logons and logoffs not yet accepted by the broker, oldest first */
        BrokerSessionEvent *events;
        size_t n_events, events_in_flight;
        uint64_t events_dropped;
        /* bytes sent to viewers: those of sessions gone, and each live session's last figure */
        uint64_t bytes_gone;
        struct BrokerViewerBytes *viewer_bytes;
        size_t n_viewer_bytes;
        /* the broker's power requests (hostd-broker-power.c) */
        BrokerPowerJob power_jobs[BROKER_POWER_JOBS_MAX];
};

/* hostd-broker-report.c: the JSON body of POST /v1/hosts/NAME/report for now (malloc'd). Marks
 * the thumbnails and session events it carries as in flight. */
int broker_report_build(BrokerClient *b, uint64_t now_usec, char **ret, size_t *ret_len);
/* After the broker's answer: accepted or not. */
void broker_report_finish(BrokerClient *b, bool accepted, uint64_t now_usec);
