/* What hostd reads of the broker's answers: its JSON errors ({"error":{"code","message"}}) for
 * the log, and the power requests a report's answer hands this host. The broker is a peer: anything else (not JSON, wrong shape, huge, control characters)
 * gives a generic description, never a failure of hostd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills code and message (NUL-terminated, truncated to their sizes, printable ASCII only: other
 * bytes become '?'). Returns 0, or -EBADMSG when data is not such an error (code and message are
 * then "" and a description of the status). */
int broker_answer_error(const char *data, size_t len, long status, char *code, size_t code_size, char *message,
                        size_t message_size);

/* A power request of the broker's report answer ({"requests":[{"id","domain","action"}]}). */
#define BROKER_ASK_DOMAIN_MAX 63
#define BROKER_ASKS_MAX 64
typedef struct BrokerPowerAsk {
        int64_t id;
        char domain[BROKER_ASK_DOMAIN_MAX + 1]; /* a valid broker name */
        bool shutdown;                          /* false: reboot */
} BrokerPowerAsk;
/* The requests of a report answer, at most max (entries past it wait for the next answer). An
 * entry with a bad id, domain or action is skipped, not fatal: the rest still run. Returns the
 * number written to out (0 when there are none, or the body is not such an answer). */
size_t broker_answer_requests(const char *data, size_t len, BrokerPowerAsk *out, size_t max);
