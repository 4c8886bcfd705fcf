/* The REST API's request bodies, decoded and validated before anything reaches the store. Each
 * decoder takes the body as (pointer, length), refuses unknown fields, wrong types, bad names
 * and out-of-range numbers with an ApiError, and on success fills a plain struct. Each body is a
 * table of its fields read by broker-decode-fields.h. Each file broker-decode-{pool,host,report,
 * admin}.c has a fuzzer (fuzz-broker-decode-*.c), which also covers the table reader.
 * schema/broker-api.yaml describes the same bodies. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker-json.h"

#define NAME_BUF (BROKER_NAME_MAX + 2)
#define HOST_ADDRESS_MAX 255
#define LIBVIRT_URI_MAX 1023

/* ---- pools (broker-decode-pool.c) ---- */
extern const char *const pool_kinds[];       /* persistent, floating */
extern const char *const hang_actions[];     /* reset, reboot-then-reset, alert */
extern const char *const clipboard_policies[]; /* off, to-guest, to-client, both */
extern const char *const transport_policies[]; /* auto, udp, tcp */

enum {
        POOL_HAS_NAME = 1 << 0,
        POOL_HAS_KIND = 1 << 1,
        POOL_HAS_TEMPLATE = 1 << 2,
        POOL_HAS_MIN_READY = 1 << 3,
        POOL_HAS_MAX_SIZE = 1 << 4,
        POOL_HAS_GRACE = 1 << 5,
        POOL_HAS_ACTION = 1 << 6,
        POOL_HAS_MAX_RESETS = 1 << 7,
        POOL_HAS_CLIPBOARD = 1 << 8,
        POOL_HAS_RESIZE = 1 << 9,
        POOL_HAS_TRANSPORT = 1 << 10,
        POOL_HAS_DISCONNECT_LIMIT = 1 << 11,
};

typedef struct PoolSpec {
        unsigned has; /* POOL_HAS_*: which fields the body set (PATCH semantics) */
        char name[NAME_BUF];
        int kind;
        char template_name[NAME_BUF];
        uint64_t min_ready, max_size;
        uint64_t hang_grace_seconds, max_resets_per_hour, disconnect_limit_seconds;
        int hang_action, clipboard, transport;
        bool resize;
} PoolSpec;

/* create: name and kind required; update: neither may appear (a pool is renamed by no one). */
int decode_pool(const char *data, size_t len, bool create, PoolSpec *ret, ApiError *e);

/* ---- hosts (broker-decode-host.c) ---- */
typedef struct HostSpec {
        char name[NAME_BUF];
        char libvirt_uri[LIBVIRT_URI_MAX + 1];
        char address[HOST_ADDRESS_MAX + 1]; /* NAME:PORT or [IPV6]:PORT, what viewers dial */
        char fingerprint[65];               /* 64 lower-case hex digits, or "" */
        uint64_t capacity;
} HostSpec;
int decode_host(const char *data, size_t len, HostSpec *ret, ApiError *e);

/* ---- reports (broker-decode-report.c) ---- */
#define REPORT_DOMAINS_MAX 1024
#define REPORT_SESSION_EVENTS_MAX 1024
#define REPORT_THUMBNAIL_MAX (1024 * 1024)
#define REPORT_AGE_MAX (10 * 365 * 86400ULL)

extern const char *const power_states[]; /* as the store has them */
extern const char *const agent_states[]; /* absent, active, lost */

enum {
        DOMAIN_HAS_UUID = 1 << 0,
        DOMAIN_HAS_STATE = 1 << 1,
        DOMAIN_HAS_LIBVIRT_STATE = 1 << 2,
        DOMAIN_HAS_CPU = 1 << 3,
        DOMAIN_HAS_FRAMES = 1 << 4,
        DOMAIN_HAS_INPUT_AGE = 1 << 5,
        DOMAIN_HAS_AGENT = 1 << 6,
        DOMAIN_HAS_HEARTBEAT_AGE = 1 << 7,
        DOMAIN_HAS_LOGGED_ON = 1 << 8,
        DOMAIN_HAS_TIMEOUTS = 1 << 9,
        DOMAIN_HAS_VIEWERS = 1 << 10,
};

typedef struct ReportDomain {
        unsigned has;
        char name[NAME_BUF];
        char uuid[40];
        int state; /* index in power_states */
        char libvirt_state[40];
        uint64_t cpu_time_ns, display_frames, input_age, heartbeat_age, libvirt_timeouts;
        uint64_t viewers; /* viewers connected now (detached ones waiting for a resume not counted) */
        int agent; /* index in agent_states */
        char logged_on_user[NAME_BUF]; /* "" when nobody */
        uint8_t *thumbnail;            /* JPEG, or NULL */
        size_t thumbnail_len;
} ReportDomain;

typedef struct ReportSessionEvent {
        char domain[NAME_BUF];
        char user[NAME_BUF];
        bool logon; /* false: logoff */
} ReportSessionEvent;

/* How a power request the broker handed out ended (broker-store-power.h); "pending" and
 * "expired" are not outcomes, they are read from the request's times. */
extern const char *const power_request_outcomes[]; /* ok, failed, no-agent */
enum { POWER_OUTCOME_OK, POWER_OUTCOME_FAILED, POWER_OUTCOME_NO_AGENT };
#define REPORT_REQUEST_RESULTS_MAX 64
#define REPORT_REQUESTS_MAX 64 /* requests one report answer hands out */
#define REPORT_DETAIL_MAX 200
#define REPORT_VIEWERS_MAX 4096
typedef struct ReportRequestResult {
        uint64_t id;
        int outcome; /* index in power_request_outcomes: ok, failed, no-agent */
        char detail[REPORT_DETAIL_MAX + 1]; /* printable ASCII without '"' and '\\', may be "" */
} ReportRequestResult;

enum {
        REPORT_HAS_RTT = 1 << 0,
        REPORT_HAS_LOSS = 1 << 1,
};

typedef struct HostReport {
        ReportDomain *domains;
        size_t n_domains;
        ReportSessionEvent *session_events;
        size_t n_session_events;
        bool has_transport;
        uint64_t viewers_tcp, viewers_udp, bytes_sent;
        double rtt_ms, loss_ratio;
        unsigned transport_has; /* REPORT_HAS_RTT, REPORT_HAS_LOSS */
        ReportRequestResult *request_results;
        size_t n_request_results;
} HostReport;

int decode_report(const char *data, size_t len, HostReport *ret, ApiError *e);
void host_report_done(HostReport *r);

/* ---- people and desktops (broker-decode-admin.c) ---- */
extern const char *const token_roles[]; /* admin, operator, user, monitor, host */
enum { ROLE_ADMIN, ROLE_OPERATOR, ROLE_USER, ROLE_MONITOR, ROLE_HOST };

typedef struct UserSpec {
        char name[NAME_BUF];
        char display_name[128];
} UserSpec;
int decode_user(const char *data, size_t len, UserSpec *ret, ApiError *e);

#define TOKEN_LIFETIME_MAX (10 * 365 * 86400ULL)
typedef struct TokenSpec {
        int role;
        char owner[NAME_BUF];
        uint64_t expires_in; /* seconds; 0: never */
} TokenSpec;
int decode_token(const char *data, size_t len, TokenSpec *ret, ApiError *e);

typedef struct DesktopSpec {
        char pool[NAME_BUF];
        char domain[NAME_BUF];
        char uuid[40];
        char host[NAME_BUF]; /* "" when not placed yet */
} DesktopSpec;
int decode_desktop(const char *data, size_t len, DesktopSpec *ret, ApiError *e);

/* POST .../connect: optional {"user": NAME} (admins connecting on someone's behalf). */
typedef struct ConnectSpec {
        char user[NAME_BUF];
} ConnectSpec;
int decode_connect(const char *data, size_t len, ConnectSpec *ret, ApiError *e);

/* POST /v1/desktops/{id}/reboot: optional {"force": bool}. */
typedef struct RebootSpec {
        bool force;
} RebootSpec;
int decode_reboot(const char *data, size_t len, RebootSpec *ret, ApiError *e);
