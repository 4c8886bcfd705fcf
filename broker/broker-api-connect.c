/* POST /v1/pools/{name}/connect: assign (broker-assign.c), start if needed (the power hook), sign a
 * ticket, answer where to go. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-api.h"
#include "log.h"
#include "ticket.h"

static void reply_assign_error(ApiCall *c, int r, const char *pool, const char *user) {
        switch (r) {
        case -ENOENT:
                return http_respond_error(c->resp, 404, "not-found", "No pool `%s'", pool);
        case -ESRCH:
                return http_respond_error(c->resp, 404, "no-user", "No user `%s'; an admin must create it", user);
        case -EAGAIN:
                return http_respond_error(c->resp, 503, "pool-exhausted",
                                          "Pool `%s' has no desktop free for you now; try again in a minute", pool);
        case -EADDRNOTAVAIL:
                return http_respond_error(c->resp, 503, "desktop-unplaced",
                                          "Your desktop in pool `%s' is on no host yet; try again in a minute", pool);
        default:
                return api_reply_store_error(c, r, "assignment");
        }
}

void api_pools_connect(ApiCall *c) {
        const char *pool = c->params[0];
        ConnectSpec spec;
        ApiError e;
        size_t len;
        if (!broker_name_valid(pool, strlen(pool)))
                return http_respond_error(c->resp, 404, "not-found", "No pool of that name");
        const char *body = api_body(c, &len);
        if (decode_connect(body, len, &spec, &e) < 0)
                return api_reply_error(c, &e);
        const char *user = c->auth.owner;
        if (spec.user[0]) {
                if (c->auth.role != ROLE_ADMIN && strcmp(spec.user, c->auth.owner) != 0)
                        return http_respond_error(c->resp, 403, "forbidden", "Only admins connect on someone else's behalf");
                user = spec.user;
        } else if (c->auth.role != ROLE_USER)
                return http_respond_error(c->resp, 422, "missing-field", "Field `user' is required for an admin's connect");

        StoreAssignment a;
        int r = store_assign(c->store, pool, user, http_request_client(c->req), c->now, &a);
        if (r < 0) {
                c->m->metrics.connect_failed++;
                return reply_assign_error(c, r, pool, user);
        }
        char *ticket = NULL;
        uint64_t expiry;
        r = broker_ticket_mint(c->m->ticket_key, &a, user, (uint64_t) c->now, c->m->config->ticket_lifetime, &ticket,
                               &expiry);
        if (r < 0) {
                c->m->metrics.connect_failed++;
                log_error_errno(r, "Cannot sign a ticket for %s on %s (host address `%s'): %m", user, a.domain_name,
                                a.hostd_address);
                return http_respond_error(c->resp, 500, "ticket-failed", "The broker could not sign a ticket; see its log");
        }
        if (strcmp(a.power_state, "running") != 0 && c->m->power.start) {
                BrokerDesktopRef ref = {
                        .id = a.desktop_id,
                        .domain_name = a.domain_name,
                        .uuid = a.uuid,
                        .host_name = a.host_name,
                        .libvirt_uri = a.libvirt_uri,
                        .power_state = a.power_state,
                };
                r = c->m->power.start(c->m->power_userdata, &ref);
                if (r < 0) {
                        free(ticket);
                        c->m->metrics.connect_failed++;
                        log_warning_errno(r, "Cannot start %s for %s: %m", a.domain_name, user);
                        return http_respond_error(c->resp, 503, "power-failed",
                                                  "Your desktop could not be started; try again, or ask an operator");
                }
        }
        char name[TICKET_STRING_MAX + 1];
        uint16_t port = 0;
        if (ticket_host_split(a.hostd_address, name, sizeof(name), &port) < 0)
                name[0] = 0;
        json_t *j = json_pack("{s:{s:I,s:s,s:s},s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:I,s:b}",
                              "desktop", "id", (json_int_t) a.desktop_id, "domain", a.domain_name, "power_state",
                              a.power_state, "host", a.host_name, "address", a.hostd_address, "hostname", name, "port",
                              (int) port, "fingerprint", a.fingerprint, "ticket", ticket, "expires", (json_int_t) expiry,
                              "session", (json_int_t) a.session_id, "newly_assigned", a.newly_assigned);
        free(ticket);
        api_reply_json(c, 200, j);
        if (a.newly_assigned)
                manager_kick_upkeep(c->m); /* one ready desktop fewer */
        metrics_connect_observe(&c->m->metrics, now_usec() - http_request_start_usec(c->req));
}
