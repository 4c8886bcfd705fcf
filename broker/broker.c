/* tandem-broker: the fleet's store, assignment, tickets and REST API (broker-manager.c). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker-conf.h"
#include "broker-hang-pass.h"
#include "broker-pool-pass.h"
#include "broker-libvirt.h"
#include "broker-manager.h"
#include "daemon.h"
#include "log.h"
#include "broker-power-libvirt.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return broker_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        const BrokerConfig *c = config;
        printf("%s: OK\nDatabase=%s\nStateDirectory=%s\nListen=%s (%s)\nTicketLifetime=%u\n", path, c->database,
               c->state_directory, c->listen, c->plain_http ? "plain HTTP" : "HTTPS", c->ticket_lifetime);
}

typedef struct Broker {
        Manager *manager;
        HangPass *hang_pass; /* Libvirt=yes */
        PoolPass *pool_pass; /* Libvirt=yes */
} Broker;

static void stop(void *state) {
        Broker *b = state;
        if (!b)
                return;
        pool_pass_free(b->pool_pass);
        hang_pass_free(b->hang_pass);
        manager_free(b->manager);
        free(b);
}

static int start(void *config, sd_event *e, void **ret_state) {
        const BrokerConfig *c = config;
        Broker *b = calloc(1, sizeof *b);
        char *error = NULL;
        if (!b)
                return log_error_errno(-ENOMEM, "Cannot start the broker: %m"), -ENOMEM;
        int r = manager_new(config, e, &b->manager, &error);
        if (r < 0) {
                log_error_errno(r, "%s", error ? error : "Cannot start the broker: %m");
                free(error);
                stop(b);
                return r;
        }
        if (c->libvirt) {
                broker_libvirt_quiet();
                manager_set_power(b->manager, &broker_power_libvirt_ops, NULL);
                r = hang_pass_new(b->manager, &b->hang_pass);
                if (r < 0) {
                        log_error_errno(r, "Cannot start the hang pass: %m");
                        stop(b);
                        return r;
                }
                r = pool_pass_new(b->manager, &b->pool_pass);
                if (r < 0) {
                        log_error_errno(r, "Cannot start the pool upkeep: %m");
                        stop(b);
                        return r;
                }
                log_info("Libvirt: power operations on each host's URI, hang pass every %us, pool upkeep every %us",
                         c->hang_check_seconds, c->pool_check_seconds);
        }
        *ret_state = b;
        return 0;
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
