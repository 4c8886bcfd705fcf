/* tandemctl: the broker's REST API (schema/broker-api.yaml) for people and scripts. A table of
 * nouns, one file per group; tables for people, --json for scripts.
 *
 * Exit codes (stable, for scripts):
 *   0 done                 4 not authenticated or not allowed (401, 403)
 *   1 refused (other 4xx)  5 no such object (404)
 *   2 usage                6 conflict: exists or in use (409)
 *   3 broker unreachable   7 unavailable, try later (503: pool exhausted, busy, ...)
 *   (TLS, DNS, refused)    8 broker error (other 5xx) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum {
        CTL_OK = 0,
        CTL_REFUSED = 1,
        CTL_USAGE = 2,
        CTL_UNREACHABLE = 3,
        CTL_DENIED = 4,
        CTL_NOT_FOUND = 5,
        CTL_CONFLICT = 6,
        CTL_UNAVAILABLE = 7,
        CTL_BROKER_ERROR = 8,
};

typedef struct CtlOptions {
        const char *broker; /* https://HOST:PORT */
        char *token;
        const char *ca; /* PEM file to trust (the broker's certificate or its CA) */
        bool json;
} CtlOptions;

extern CtlOptions ctl;

typedef struct CtlResponse {
        long status;
        char *body;
        size_t len;
        json_t *json; /* NULL when the body is not JSON */
} CtlResponse;

void ctl_response_done(CtlResponse *r);

/* Sends a request (body: JSON, taken; may be NULL). Returns CTL_OK with *ret filled, or
 * CTL_UNREACHABLE after saying why and what to do. */
int ctl_request(const char *method, const char *path, json_t *body, CtlResponse *ret);
/* CTL_OK for a 2xx; else prints "tandemctl: DOING: message (status code)" and a hint, and
 * returns the exit code for the status. */
int ctl_check(const CtlResponse *r, const char *doing);
/* A path segment, percent-encoded into a malloc'd string. */
char *ctl_escape(const char *segment);

/* GETs every page of a list (following next_cursor) into one array. query: "" or "pool=x&". */
int ctl_list_all(const char *path, const char *query, const char *doing, json_t **ret);

/* Prints objects as a table: columns are "HEADER=key" or "HEADER=key.sub". */
void ctl_table(json_t *items, const char *const *columns);
/* One object as "key: value" lines (nested objects flattened with '.'). */
void ctl_print_object(json_t *obj);
/* Prints j as JSON (--json) or with the table/object printer. */
int ctl_output(json_t *j, const char *const *columns);

int ctl_cmd_hosts(int argc, char **argv);
int ctl_cmd_pools(int argc, char **argv);
int ctl_cmd_desktops(int argc, char **argv);
int ctl_cmd_reboot(int argc, char **argv);
int ctl_cmd_users(int argc, char **argv);
int ctl_cmd_tokens(int argc, char **argv);
int ctl_cmd_sessions(int argc, char **argv);
int ctl_cmd_events(int argc, char **argv);
int ctl_cmd_connect(int argc, char **argv);

/* "usage: tandemctl NOUN ..." to stderr; returns CTL_USAGE. */
int ctl_usage(const char *text);
