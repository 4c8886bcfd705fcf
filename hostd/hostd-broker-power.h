/* The broker's power requests (a graceful reboot or shutdown through the guest's agent), run by
 * hostd: a report's answer hands them out (hostd-broker-answer.h), each id runs once through
 * agent_power_request(), and its outcome (ok, failed, no-agent) rides in the following reports
 * until the broker accepts one. At most BROKER_POWER_JOBS_MAX at once; a request that finds no
 * room waits for the next answer (the broker hands it out again). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-broker-answer.h"

typedef struct BrokerClient BrokerClient;

#define BROKER_POWER_JOBS_MAX 64
#define BROKER_POWER_DETAIL_MAX 200

typedef enum BrokerPowerOutcome {
        BROKER_POWER_RUNNING = -1,
        BROKER_POWER_OK,
        BROKER_POWER_FAILED,
        BROKER_POWER_NO_AGENT,
} BrokerPowerOutcome;

typedef struct BrokerPowerJob {
        BrokerClient *client;
        bool used, in_flight;
        int64_t id;
        char domain[BROKER_ASK_DOMAIN_MAX + 1];
        BrokerPowerOutcome outcome;
        char detail[BROKER_POWER_DETAIL_MAX + 1]; /* printable ASCII without '"' and '\\' */
} BrokerPowerJob;

/* Starts the requests of an answer that are new (by id). */
void broker_power_take(BrokerClient *b, const BrokerPowerAsk *asks, size_t n);
/* The finished outcomes as the report's "request_results" (NULL when none), marked in flight. */
struct json_t *broker_power_results(BrokerClient *b);
/* The report with them was accepted (they are forgotten) or not (sent again next time). */
void broker_power_finish(BrokerClient *b, bool accepted);
/* Forgets every job; a running one's agent callback is cancelled. */
void broker_power_done(BrokerClient *b);
/* Jobs running and outcomes not yet accepted, for the status. */
void broker_power_count(BrokerClient *b, unsigned *ret_running, unsigned *ret_unreported);
const char *broker_power_outcome_name(BrokerPowerOutcome o);
