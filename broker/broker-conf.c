#include "broker-conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "parse-util.h"

#define B "Broker"
static const ConfItem broker_items[] = {
        { B, "Database", conf_parse_string, offsetof(BrokerConfig, database), 0 },
        { B, "StateDirectory", conf_parse_string, offsetof(BrokerConfig, state_directory), 0 },
        { B, "Listen", conf_parse_string, offsetof(BrokerConfig, listen), 0 },
        { B, "TLSCertificate", conf_parse_string, offsetof(BrokerConfig, tls_certificate), 0 },
        { B, "TLSKey", conf_parse_string, offsetof(BrokerConfig, tls_key), 0 },
        { B, "PlainHTTP", conf_parse_bool, offsetof(BrokerConfig, plain_http), 0 },
        { B, "TicketLifetime", conf_parse_unsigned, offsetof(BrokerConfig, ticket_lifetime), 86400 },
        { B, "MaxBodyBytes", conf_parse_unsigned, offsetof(BrokerConfig, max_body_bytes), 16u << 20 },
        { B, "MaxReportBytes", conf_parse_unsigned, offsetof(BrokerConfig, max_report_bytes), 64u << 20 },
        { B, "MaxHeaderBytes", conf_parse_unsigned, offsetof(BrokerConfig, max_header_bytes), 1u << 20 },
        { B, "MaxConnections", conf_parse_unsigned, offsetof(BrokerConfig, max_connections), 100000 },
        { B, "ConnectionTimeout", conf_parse_unsigned, offsetof(BrokerConfig, connection_timeout), 3600 },
        { B, "BusyTimeoutMs", conf_parse_unsigned, offsetof(BrokerConfig, busy_timeout_ms), 600000 },
        { B, "ReportMaxAge", conf_parse_unsigned, offsetof(BrokerConfig, report_max_age), 86400 },
        { B, "Libvirt", conf_parse_bool, offsetof(BrokerConfig, libvirt), 0 },
        { B, "HangCheckSeconds", conf_parse_unsigned, offsetof(BrokerConfig, hang_check_seconds), 3600 },
        { B, "PoolCheckSeconds", conf_parse_unsigned, offsetof(BrokerConfig, pool_check_seconds), 3600 },
        { B, "LogLevel", conf_parse_log_level, offsetof(BrokerConfig, log_level), 0 },
        {},
};

void broker_config_init(BrokerConfig *c) {
        *c = (BrokerConfig) {
                .database = strdup("/var/lib/tandem/broker.db"),
                .state_directory = strdup("/var/lib/tandem/broker"),
                .listen = strdup("0.0.0.0:8443"),
                .ticket_lifetime = 60,
                .max_body_bytes = 64 * 1024,
                .max_report_bytes = 4 * 1024 * 1024,
                .max_header_bytes = 32 * 1024,
                .max_connections = 1024,
                .connection_timeout = 60,
                .busy_timeout_ms = 5000,
                .report_max_age = 60,
                .hang_check_seconds = 5,
                .pool_check_seconds = 5,
                .log_level = LOG_INFO,
        };
}

void broker_config_done(BrokerConfig *c) {
        free(c->database);
        free(c->state_directory);
        free(c->listen);
        free(c->tls_certificate);
        free(c->tls_key);
        *c = (BrokerConfig) {};
}

static int parse_listen(BrokerConfig *c) {
        const char *s = c->listen, *colon;
        size_t alen;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                s++;
                alen = (size_t) (close - s);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                alen = (size_t) (colon - s);
        }
        if (alen == 0 || alen >= sizeof(c->listen_address))
                return -EINVAL;
        memcpy(c->listen_address, s, alen);
        c->listen_address[alen] = 0;
        uint64_t port;
        if (parse_u64(colon + 1, 65535, &port) < 0 || port == 0)
                return -EINVAL;
        c->listen_port = (uint16_t) port;
        struct in6_addr a6;
        struct in_addr a4;
        if (inet_pton(AF_INET, c->listen_address, &a4) != 1 && inet_pton(AF_INET6, c->listen_address, &a6) != 1)
                return -EINVAL;
        return 0;
}

static bool is_loopback(const char *address) {
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, address, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        return inet_pton(AF_INET6, address, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int broker_config_load(BrokerConfig *c, const char *path, bool missing_ok, char **error) {
        int r = conf_load(broker_items, c, path, missing_ok, error);
        if (r < 0)
                return r;
        if (parse_listen(c) < 0) {
                if (asprintf(error, "%s: invalid value `%s' for Listen= (ADDRESS:PORT with an IP address)", path,
                             c->listen) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->plain_http && !is_loopback(c->listen_address)) {
                if (asprintf(error, "%s: PlainHTTP=yes is for tests on loopback only; Listen=%s is not loopback", path,
                             c->listen) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (!c->tls_certificate != !c->tls_key) {
                if (asprintf(error, "%s: TLSCertificate= and TLSKey= go together", path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->max_body_bytes < 1024 || c->max_report_bytes < 1024 || c->max_header_bytes < 4096) {
                if (asprintf(error, "%s: MaxBodyBytes= and MaxReportBytes= must be at least 1024, MaxHeaderBytes= 4096",
                             path) < 0)
                        *error = NULL;
                return -EINVAL;
        }
        if (c->hang_check_seconds == 0 || c->pool_check_seconds == 0) {
                if (asprintf(error, "%s: %s= must be at least 1", path,
                             c->hang_check_seconds == 0 ? "HangCheckSeconds" : "PoolCheckSeconds") < 0)
                        *error = NULL;
                return -EINVAL;
        }
        return 0;
}
