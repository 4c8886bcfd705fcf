/* tandem-broker's configuration: [Broker] in broker.conf and its drop-ins
 * (broker/broker.conf.example documents every key). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct BrokerConfig {
        char *database;
        char *state_directory;
        char *listen;          /* ADDRESS:PORT or [ADDRESS]:PORT */
        char *tls_certificate; /* NULL: StateDirectory/broker-cert.pem, made when missing */
        char *tls_key;
        bool plain_http; /* tests on loopback only */
        unsigned ticket_lifetime;
        unsigned max_body_bytes, max_report_bytes, max_header_bytes;
        unsigned max_connections, connection_timeout;
        unsigned busy_timeout_ms;
        unsigned report_max_age;
        bool libvirt;                /* the broker drives libvirt itself: power ops, hang pass */
        unsigned hang_check_seconds; /* the hang pass's period (with Libvirt=yes) */
        unsigned pool_check_seconds; /* the pool upkeep's period (with Libvirt=yes) */
        int log_level;

        /* From listen, by broker_config_load(). */
        char listen_address[64];
        uint16_t listen_port;
} BrokerConfig;

#define BROKER_DEFAULT_CONFIG "/etc/tandem/broker.conf"

void broker_config_init(BrokerConfig *c);
void broker_config_done(BrokerConfig *c);
/* Loads and checks the whole (Listen= parses; PlainHTTP= only on a loopback address). */
int broker_config_load(BrokerConfig *c, const char *path, bool missing_ok, char **error);
