#include "broker-conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"

static const ConfItem broker_items[] = {
        { "Broker", "Database", conf_parse_string, offsetof(BrokerConfig, database), 0 },
        { "Broker", "LogLevel", conf_parse_log_level, offsetof(BrokerConfig, log_level), 0 },
        {},
};

void broker_config_init(BrokerConfig *c) {
        *c = (BrokerConfig) { .database = strdup("/var/lib/tandem/broker.db"), .log_level = LOG_INFO };
}

void broker_config_done(BrokerConfig *c) {
        free(c->database);
        *c = (BrokerConfig) {};
}

int broker_config_load(BrokerConfig *c, const char *path, bool missing_ok, char **error) {
        return conf_load(broker_items, c, path, missing_ok, error);
}
