/* tandem-broker: the fleet's store, assignment, tickets and REST API (broker-manager.c). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker-conf.h"
#include "broker-manager.h"
#include "daemon.h"
#include "log.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return broker_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        const BrokerConfig *c = config;
        printf("%s: OK\nDatabase=%s\nStateDirectory=%s\nListen=%s (%s)\nTicketLifetime=%u\n", path, c->database,
               c->state_directory, c->listen, c->plain_http ? "plain HTTP" : "HTTPS", c->ticket_lifetime);
}

static int start(void *config, sd_event *e, void **ret_state) {
        Manager *m = NULL;
        char *error = NULL;
        int r = manager_new(config, e, &m, &error);
        if (r < 0) {
                log_error_errno(r, "%s", error ? error : "Cannot start the broker: %m");
                free(error);
                return r;
        }
        *ret_state = m;
        return 0;
}

static void stop(void *state) {
        manager_free(state);
}

static const DaemonOps ops = {
        .name = "tandem-broker",
        .summary = "The Tandem broker: pools, assignment, tickets and the REST API.",
        .default_config = BROKER_DEFAULT_CONFIG,
        .load_config = load_config,
        .log_level_offset = offsetof(BrokerConfig, log_level),
        .describe_config = describe_config,
        .start = start,
        .stop = stop,
};

int main(int argc, char **argv) {
        _cleanup_(broker_config_done) BrokerConfig config;
        broker_config_init(&config);
        return daemon_main(&ops, &config, argc, argv);
}
