/* The store's side of pool upkeep: reservations never pass max_size (also against other
 * writers, through the trigger), names are unique and numbered, the life cycle's transitions
 * refuse stale states, a logoff marks a floating desktop reset-pending, assignment skips desktops
 * being provisioned, the hang detector's walk skips them too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-assign.h"
#include "broker-store-fleet.h"
#include "broker-store-pool.h"
#include "broker-store-report.h"
#include "check.h"
#include "macro.h"

static int count_rows(Store *s, const char *sql) {
        sqlite3_stmt *st;
        check(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK);
        check(sqlite3_step(st) == SQLITE_ROW);
        int n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static int count_walk(const StoreDesktopSignals *d, void *userdata) {
        (*(int *) userdata)++;
        return 0;
}

typedef struct Seen {
        int n;
        char state[4][32];
        unsigned open[4];
        int64_t last_end[4];
} Seen;

static int collect(const StorePoolDesktop *d, void *userdata) {
        Seen *s = userdata;
        if (s->n < 4) {
                snprintf(s->state[s->n], sizeof s->state[0], "%s", d->provision_state);
                s->open[s->n] = d->open_sessions;
                s->last_end[s->n] = d->last_session_end;
        }
        s->n++;
        return 0;
}

int main(void) {
        char dir[] = "/tmp/test-broker-store-pool-XXXXXX", path[300];
        check(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/broker.db", dir);
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(path, 0, &s, NULL) == 0);
        check(store_exec(s, "INSERT INTO hosts(name, libvirt_uri, hostd_address, state, last_report, capacity) "
                            "VALUES ('h1', 'test:///default', 'h1:7443', 'up', 1000, 10);"
                            "INSERT INTO pools(name, kind, template, min_ready, max_size) VALUES ('lab', 'floating', 'tmpl', 2, 3);"
                            "INSERT INTO users(name, created) VALUES ('alice', 0);") == 0);

        /* Reservations: numbered names, at most max_size. */
        int64_t id[4];
        char name[80];
        unsigned serial;
        check(store_pool_reserve(s, 1, 1, 0, 1000, &id[0], name, sizeof name, &serial) == 0);
        check(strcmp(name, "lab-001") == 0 && serial == 1);
        check(store_pool_reserve(s, 1, 1, 5, 1000, &id[1], name, sizeof name, &serial) == 0);
        check(strcmp(name, "lab-005") == 0); /* the floor: a name taken behind the store's back */
        check(store_pool_reserve(s, 1, 1, 0, 1000, &id[2], name, sizeof name, &serial) == 0);
        check(strcmp(name, "lab-006") == 0);
        check(store_pool_reserve(s, 1, 1, 0, 1000, &id[3], name, sizeof name, &serial) == -ENOSPC);
        /* The trigger holds for any writer (an operator's POST /v1/desktops, another broker). */
        check(store_exec(s, "INSERT INTO desktops(pool_id, domain_name) VALUES (1, 'extra')") == -EPERM);
        check(count_rows(s, "SELECT count(*) FROM desktops") == 3);

        /* Rows being provisioned: not assignable, not in the hang detector's walk. */
        StoreAssignment a;
        check(store_assign(s, "lab", "alice", "", 1000, &a) == -EAGAIN);
        int walked = 0;
        check(store_desktops_foreach(s, count_walk, &walked) == 0 && walked == 0);

        /* Done: running, ready, its identity, an event. */
        check(store_pool_desktop_done(s, id[0], "11111111-2222-3333-4444-555555555555", "52:54:00:00:00:01",
                                      "[\"/img/lab-001-disk0.qcow2\"]", 1001, "provision", "{\"host\":\"h1\"}") == 0);
        check(store_pool_desktop_done(s, id[0], NULL, NULL, NULL, 1001, "provision", NULL) == -ESTALE);
        check(count_rows(s, "SELECT count(*) FROM desktops WHERE id = 1 AND ready AND power_state = 'running' "
                            "AND mac = '52:54:00:00:00:01' AND provision_state = 'done'") == 1);
        check(count_rows(s, "SELECT count(*) FROM events WHERE action = 'provision' AND object_id = '1'") == 1);
        walked = 0;
        check(store_desktops_foreach(s, count_walk, &walked) == 0 && walked == 1);
        check(store_assign(s, "lab", "alice", "", 1002, &a) == 0 && a.desktop_id == id[0]);

        /* A failed provision drops its row (and says so on the pool); a stale drop is refused. */
        check(store_pool_desktop_drop(s, id[1], "provisioning", 1003, "provision-failed", "{\"errno\":2}") == 0);
        check(store_pool_desktop_drop(s, id[1], "provisioning", 1003, "provision-failed", NULL) == -ESTALE);
        check(store_pool_desktop_drop(s, id[0], "provisioning", 1003, "provision-failed", NULL) == -ESTALE);
        check(count_rows(s, "SELECT count(*) FROM events WHERE action = 'provision-failed' AND object_kind = 'pool' "
                            "AND object_id = 'lab'") == 1);

        /* Assigned desktops are never removed. */
        check(store_pool_desktop_transition(s, id[0], "done", "removing", 1004) == -ESTALE);

        /* A logoff reported for the floating desktop: released, reset-pending with its cause. */
        ReportSessionEvent ev = { .domain = "lab-001", .user = "alice", .logon = false };
        HostReport rep = { .session_events = &ev, .n_session_events = 1 };
        check(store_apply_report(s, "h1", &rep, 1005, NULL) == 0);
        check(count_rows(s, "SELECT count(*) FROM desktops WHERE id = 1 AND assigned_user_id IS NULL AND NOT ready "
                            "AND provision_state = 'reset-pending' AND reset_cause = 'logoff'") == 1);
        check(store_pool_desktop_transition(s, id[0], "reset-pending", "resetting", 1006) == 0);
        check(store_pool_desktop_transition(s, id[0], "reset-pending", "resetting", 1006) == -ESTALE);
        check(store_pool_desktop_done(s, id[0], NULL, NULL, NULL, 1007, "reset-to-template", "{\"cause\":\"logoff\"}") == 0);
        check(count_rows(s, "SELECT count(*) FROM desktops WHERE id = 1 AND ready AND mac = '52:54:00:00:00:01' "
                            "AND uuid = '11111111-2222-3333-4444-555555555555'") == 1);

        /* Disconnect: the sessions as the walk sees them, then a release by the broker. */
        check(store_assign(s, "lab", "alice", "", 1010, &a) == 0 && a.desktop_id == id[0]);
        Seen seen = {};
        check(store_pool_desktops_foreach(s, collect, &seen) == 0);
        check(seen.n == 2 && seen.open[0] == 1);
        check(store_exec(s, "UPDATE sessions SET end = 1020 WHERE end IS NULL") == 0);
        seen = (Seen) {};
        check(store_pool_desktops_foreach(s, collect, &seen) == 0);
        check(seen.open[0] == 0 && seen.last_end[0] == 1020);
        check(store_pool_desktop_release(s, id[0], "disconnect-limit", "broker", 1100) == 0);
        check(store_pool_desktop_release(s, id[0], "disconnect-limit", "broker", 1100) == -ESTALE);
        check(count_rows(s, "SELECT count(*) FROM desktops WHERE id = 1 AND assigned_user_id IS NULL "
                            "AND provision_state = 'reset-pending' AND reset_cause = 'disconnect-limit'") == 1);
        check(count_rows(s, "SELECT count(*) FROM events WHERE action = 'release' "
                            "AND json_extract(evidence, '$.cause') = 'disconnect-limit'") == 1);

        /* Surplus removal: unassigned only, then dropped. */
        check(store_pool_desktop_transition(s, id[0], "reset-pending", "resetting", 1101) == 0);
        check(store_pool_desktop_done(s, id[0], NULL, NULL, NULL, 1102, "reset-to-template", NULL) == 0);
        check(store_pool_desktop_transition(s, id[0], "done", "removing", 1103) == 0);
        check(store_pool_desktop_drop(s, id[0], "removing", 1104, "deprovision", NULL) == 0);
        check(count_rows(s, "SELECT count(*) FROM desktops WHERE id = 1") == 0);

        /* Host loads: up with a recent report, desktops placed. */
        check(store_check(s, NULL) == 0);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        check(system(cmd) == 0);
        return 0;
}
