/* Power requests in the store: one open request per desktop (a second ask joins it), handed to
 * the desktop's own host only, closed by that host's outcome only (another host's or a repeated
 * outcome changes nothing), expired ones neither handed out nor kept open (and closed, each once,
 * for the caller's fallback), each step an event;
 * and through a report: the outcomes a host sends close its requests in the report's transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-store-fleet.h"
#include "broker-store-power.h"
#include "broker-store-report.h"
#include "check.h"
#include "macro.h"

typedef struct Listed {
        unsigned n;
        int64_t ids[8];
        char domains[8][64];
} Listed;

static int collect(const StorePowerRequest *q, void *userdata) {
        Listed *l = userdata;
        check(l->n < ELEMENTSOF(l->ids));
        check(strcmp(q->action, "reboot") == 0 || strcmp(q->action, "shutdown") == 0);
        l->ids[l->n] = q->id;
        snprintf(l->domains[l->n], sizeof(l->domains[0]), "%s", q->domain_name);
        l->n++;
        return 0;
}

static Listed pending(Store *s, const char *host, int64_t now) {
        Listed l = {};
        check(store_power_requests_pending(s, host, now, 64, collect, &l) == 0);
        return l;
}

static const char *state(Store *s, int64_t id, int64_t now) {
        const char *st = NULL;
        check(store_power_request_state(s, id, now, &st) == 0);
        return st;
}

static unsigned events(Store *s, int64_t desktop, const char *action) {
        unsigned n = 0;
        check(store_desktop_count_actions(s, desktop, action, 0, &n) == 0);
        return n;
}

int main(void) {
        char dir[] = "/tmp/test-broker-power-XXXXXX", path[300];
        check(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/broker.db", dir);
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(path, 0, &s, NULL) == 0);
        check(store_exec(s, "INSERT INTO hosts(name, libvirt_uri, hostd_address) VALUES ('h1', 'test:///default', 'h1:7443'), "
                            "('h2', 'test:///default', 'h2:7443');"
                            "INSERT INTO pools(name, kind) VALUES ('lab', 'persistent');"
                            "INSERT INTO desktops(pool_id, host_id, domain_name) VALUES (1, 1, 'd1'), (1, 2, 'd2'), "
                            "(1, NULL, 'd3');") == 0);

        int64_t a, b, c;
        bool created;
        check(store_power_request_add(s, 1, "reboot", "hang-detector", 1000, 60, &a, &created) == 0 && created);
        /* A second ask while one is open joins it. */
        check(store_power_request_add(s, 1, "reboot", "user:alice", 1010, 60, &b, &created) == 0 && !created && b == a);
        check(store_power_request_add(s, 2, "shutdown", "user:bob", 1000, 60, &c, &created) == 0 && created && c != a);
        check(store_power_request_add(s, 1, "halt", "x", 1000, 60, &b, NULL) == -EINVAL);
        check(store_power_request_add(s, 1, "reboot", "x", 1000, 0, &b, NULL) == -EINVAL);
        check(store_power_request_add(s, 99, "reboot", "x", 1000, 60, &b, NULL) == -ENOENT);
        check(events(s, 1, "power-request") == 1 && events(s, 2, "power-request") == 1);

        /* Each host sees its own desktops' requests; an unplaced desktop's go to nobody. */
        int64_t d3;
        check(store_power_request_add(s, 3, "reboot", "user:carol", 1000, 60, &d3, NULL) == 0);
        Listed l = pending(s, "h1", 1001);
        check(l.n == 1 && l.ids[0] == a && strcmp(l.domains[0], "d1") == 0);
        l = pending(s, "h2", 1001);
        check(l.n == 1 && l.ids[0] == c && strcmp(l.domains[0], "d2") == 0);
        check(pending(s, "nohost", 1001).n == 0);
        check(strcmp(state(s, a, 1001), "pending") == 0);

        /* Only the desktop's host closes it, once. */
        check(store_power_request_finish(s, "h2", a, POWER_OUTCOME_OK, "", 1020) == -ENOENT);
        check(strcmp(state(s, a, 1021), "pending") == 0);
        check(store_power_request_finish(s, "h1", a, POWER_OUTCOME_NO_AGENT, "agent not active", 1020) == 0);
        check(store_power_request_finish(s, "h1", a, POWER_OUTCOME_OK, "", 1021) == -ENOENT);
        check(store_power_request_finish(s, "h1", 12345, POWER_OUTCOME_OK, "", 1021) == -ENOENT);
        check(store_power_request_finish(s, "h1", a, 7, "", 1021) == -EINVAL);
        check(strcmp(state(s, a, 1021), "no-agent") == 0);
        check(events(s, 1, "power-request-done") == 1);
        check(pending(s, "h1", 1022).n == 0);
        check(store_power_request_state(s, 12345, 1022, &(const char *) { NULL }) == -ENOENT);

        /* Expiry: not handed out any more, read as expired, and a new ask opens a new request. */
        check(pending(s, "h2", 1060).n == 0);
        check(strcmp(state(s, c, 1060), "expired") == 0);
        check(store_power_request_add(s, 2, "reboot", "user:bob", 1061, 60, &b, &created) == 0 && created && b != c);
        check(strcmp(state(s, c, 1061), "failed") == 0); /* closed as expired */
        check(store_power_request_finish(s, "h2", c, POWER_OUTCOME_OK, "", 1062) == -ENOENT);

        /* Through a report: outcomes close requests in the same transaction, unknown ones count. */
        ReportRequestResult results[] = {
                { .id = (uint64_t) b, .outcome = POWER_OUTCOME_OK, .detail = "accepted" },
                { .id = (uint64_t) a, .outcome = POWER_OUTCOME_OK },
        };
        HostReport rep = { .request_results = results, .n_request_results = ELEMENTSOF(results) };
        ReportResult res;
        check(store_apply_report(s, "h2", &rep, 1070, &res) == 0);
        check(res.results == 1 && res.results_unknown == 1);
        check(strcmp(state(s, b, 1070), "ok") == 0);
        check(strcmp(state(s, a, 1070), "no-agent") == 0); /* h1's, and done: untouched */

        /* Expired open requests are closed, each once, with an event, and handed to the caller. */
        int64_t e1;
        check(store_power_request_add(s, 1, "reboot", "user:alice", 2000, 10, &e1, &created) == 0 && created);
        Listed gone = {};
        check(store_power_requests_expire(s, 2005, collect, &gone) == 0);
        check(gone.n == 1 && gone.ids[0] == d3 && strcmp(gone.domains[0], "d3") == 0); /* long expired, unplaced */
        check(store_power_requests_expire(s, 2010, collect, &gone) == 0);
        check(gone.n == 2 && gone.ids[1] == e1 && strcmp(gone.domains[1], "d1") == 0);
        check(strcmp(state(s, e1, 2011), "failed") == 0);
        check(store_power_requests_expire(s, 2020, collect, &gone) == 0 && gone.n == 2);
        check(store_power_request_finish(s, "h1", e1, POWER_OUTCOME_OK, "", 2021) == -ENOENT);
        check(events(s, 1, "power-request-done") == 2);

        check(store_check(s, NULL) == 0);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        printf("power requests: one open per desktop, own host only, closed once, expiry, through a report\n");
        return 0;
}
