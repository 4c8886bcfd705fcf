/* tandem-broker's manager: owns the store, the ticket key, the HTTP server and the power hook. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "broker-conf.h"
#include "broker-http.h"
#include "broker-metrics.h"
#include "broker-power.h"
#include "broker-store.h"
#include "broker-ticket.h"

typedef struct Manager {
        BrokerConfig *config;
        sd_event *event;
        Store *store;
        BrokerTicketKey *ticket_key;
        HttpServer *http;
        BrokerPowerOps power;
        void *power_userdata;
        BrokerMetrics metrics;
        uint64_t started_usec;
        /* The pool upkeep (Libvirt=yes), told when a pool may need it before its next period:
         * a desktop was assigned, a pool changed, a logoff arrived. NULL without it. */
        void (*upkeep_kick)(void *userdata);
        void *upkeep_userdata;
} Manager;

static inline void manager_kick_upkeep(Manager *m) {
        if (m->upkeep_kick)
                m->upkeep_kick(m->upkeep_userdata);
}

/* Opens the store (migrating it), the ticket key (making it on first start), the TLS certificate
 * (making a self-signed one in the state directory when none is configured), the admin token
 * file on first start, and starts listening. On failure *error gets a sentence for the log. */
int manager_new(BrokerConfig *config, sd_event *e, Manager **ret, char **error);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) {
        manager_free(*m);
}
void manager_set_power(Manager *m, const BrokerPowerOps *ops, void *userdata);

/* The REST API's entry points (broker-api.c). */
void api_handle(void *userdata, HttpRequest *req, HttpResponse *resp);
size_t api_body_cap(void *userdata, HttpRequest *req, HttpResponse *resp);
