/* tandem-broker's configuration: [Broker] in broker.conf and its drop-ins. */
#pragma once

#include <stdbool.h>

typedef struct BrokerConfig {
        char *database;
        int log_level;
} BrokerConfig;

#define BROKER_DEFAULT_CONFIG "/etc/tandem/broker.conf"

void broker_config_init(BrokerConfig *c);
void broker_config_done(BrokerConfig *c);
int broker_config_load(BrokerConfig *c, const char *path, bool missing_ok, char **error);
