/* The store's seam for the hang detector and the libvirt engine: reports land as separate signals
 * (a counter that grew sets its time, one that did not keeps it), a host cannot report another
 * host's desktop, the walk shows each desktop with its pool's policy, health and power setters,
 * resets counted in a window, release of a floating desktop, thumbnails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-assign.h"
#include "broker-store-fleet.h"
#include "broker-store-report.h"
#include "check.h"
#include "macro.h"

typedef struct Seen {
        int count;
        StoreDesktopSignals d1;
        char health[32], pool[64], host[64], action[32], reason[64], power[16], assigned[64];
        /* d1's strings are only valid inside the callback: the copies above are what to read. */
} Seen;

static int collect(const StoreDesktopSignals *d, void *userdata) {
        Seen *s = userdata;
        s->count++;
        if (strcmp(d->domain_name, "d1") == 0) {
                s->d1 = *d;
                snprintf(s->health, sizeof(s->health), "%s", d->health);
                snprintf(s->reason, sizeof(s->reason), "%s", d->health_reason);
                snprintf(s->pool, sizeof(s->pool), "%s", d->pool_name);
                snprintf(s->host, sizeof(s->host), "%s", d->host_name ? d->host_name : "(none)");
                snprintf(s->action, sizeof(s->action), "%s", d->hang_action);
                snprintf(s->power, sizeof(s->power), "%s", d->power_state);
                snprintf(s->assigned, sizeof(s->assigned), "%s", d->assigned_user ? d->assigned_user : "");
        }
        return 0;
}

static int stop_at_first(const StoreDesktopSignals *d, void *userdata) {
        (*(int *) userdata)++;
        return -ECANCELED;
}

static Seen walk(Store *s) {
        Seen seen = {};
        check(store_desktops_foreach(s, collect, &seen) == 0);
        return seen;
}

int main(void) {
        char dir[] = "/tmp/test-broker-fleet-XXXXXX", path[300];
        check(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/broker.db", dir);
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(path, 0, &s, NULL) == 0);
        check(store_exec(s, "INSERT INTO hosts(name, libvirt_uri, hostd_address) VALUES ('h1', 'qemu:///system', 'h1:7443'), "
                            "('h2', 'qemu+ssh://h2/system', 'h2:7443');"
                            "INSERT INTO pools(name, kind, hang_action, hang_grace_seconds) VALUES ('lab', 'floating', 'alert', 45);"
                            "INSERT INTO users(name, created) VALUES ('alice', 0);"
                            "INSERT INTO desktops(pool_id, domain_name) VALUES (1, 'd1'), (1, 'd2');") == 0);

        /* First report: h1 adopts d1, which turns running (ready), with a thumbnail. */
        uint8_t jpeg[] = { 0xff, 0xd8, 0xff, 0xe0, 1, 2, 3 };
        ReportDomain dom = {
                .has = DOMAIN_HAS_STATE | DOMAIN_HAS_CPU | DOMAIN_HAS_FRAMES | DOMAIN_HAS_AGENT | DOMAIN_HAS_HEARTBEAT_AGE |
                       DOMAIN_HAS_INPUT_AGE,
                .state = 1, /* running */
                .cpu_time_ns = 1000,
                .display_frames = 10,
                .agent = 1, /* active */
                .heartbeat_age = 3,
                .input_age = 5,
                .thumbnail = jpeg,
                .thumbnail_len = sizeof(jpeg),
        };
        snprintf(dom.name, sizeof(dom.name), "d1");
        HostReport rep = { .domains = &dom, .n_domains = 1 };
        ReportResult res;
        check(store_apply_report(s, "h1", &rep, 1000, &res) == 0);
        check(res.known == 1 && res.thumbnails == 1);
        Seen seen = walk(s);
        check(seen.count == 2);
        check(strcmp(seen.host, "h1") == 0 && strcmp(seen.pool, "lab") == 0 && strcmp(seen.action, "alert") == 0);
        check(seen.d1.hang_grace_seconds == 45 && seen.d1.max_resets_per_hour == 3);
        check(seen.d1.ready && seen.d1.state_changed == 1000 && seen.d1.cpu_time_changed == 1000);
        check(seen.d1.display_changed == 1000 && seen.d1.agent_heartbeat == 997 && seen.d1.input_time == 995);
        check(seen.d1.host_last_report == 1000 && seen.d1.report_time == 1000);

        /* Second report, 30 s later: the CPU counter grew, the display did not, no thumbnail. */
        dom.cpu_time_ns = 2000;
        dom.thumbnail = NULL;
        dom.heartbeat_age = 20;
        check(store_apply_report(s, "h1", &rep, 1030, &res) == 0);
        seen = walk(s);
        check(seen.d1.cpu_time_changed == 1030 && seen.d1.display_changed == 1000 && seen.d1.state_changed == 1000);
        check(seen.d1.agent_heartbeat == 1010 && seen.d1.cpu_time_ns == 2000 && seen.d1.display_frames == 10);
        uint8_t *t = NULL;
        size_t tlen;
        int64_t when;
        check(store_thumbnail_get(s, seen.d1.id, &t, &tlen, &when) == 0);
        check(tlen == sizeof(jpeg) && memcmp(t, jpeg, tlen) == 0 && when == 1000);
        free(t);
        check(store_thumbnail_get(s, seen.d1.id + 1, &t, &tlen, &when) == -ENOENT);

        /* h2 names d1: not its desktop, nothing changes. */
        dom.state = 4; /* crashed */
        check(store_apply_report(s, "h2", &rep, 1040, &res) == 0);
        check(res.known == 0 && res.unknown == 1);
        seen = walk(s);
        check(strcmp(seen.power, "running") == 0 && seen.d1.state_changed == 1000);
        check(strcmp(seen.host, "h1") == 0);
        check(store_apply_report(s, "h9", &rep, 1040, &res) == -ENOENT);

        /* Health, power, ready. */
        int64_t id = seen.d1.id;
        check(store_desktop_set_health(s, id, "os-hang", "display still 40 s while input was sent") == 0);
        check(store_desktop_set_health(s, id, "sleepy", NULL) == -EINVAL);
        check(store_desktop_set_health(s, 9999, "healthy", NULL) == -ENOENT);
        check(store_desktop_set_power(s, id, "running", 2000) == 0);
        seen = walk(s);
        check(seen.d1.state_changed == 1000); /* unchanged state, unchanged time */
        check(strcmp(seen.health, "os-hang") == 0 && strstr(seen.reason, "display still"));
        check(store_desktop_set_power(s, id, "paused", 2001) == 0);
        check(store_desktop_set_ready(s, id, false) == 0);
        seen = walk(s);
        check(seen.d1.state_changed == 2001 && !seen.d1.ready && strcmp(seen.power, "paused") == 0);

        /* Resets in a window; evidence must be JSON. */
        check(store_desktop_event(s, 1000, "hang-detector", STORE_ACTION_RESET, id, "{\"cause\":\"os-hang\"}") == 0);
        check(store_desktop_event(s, 3100, "hang-detector", STORE_ACTION_RESET, id, "{\"cause\":\"os-hang\"}") == 0);
        check(store_desktop_event(s, 6000, "hang-detector", STORE_ACTION_RESET, id, NULL) == 0);
        check(store_desktop_event(s, 6000, "hang-detector", STORE_ACTION_RESET, id, "not json") == -EINVAL);
        unsigned n;
        check(store_desktop_count_actions(s, id, STORE_ACTION_RESET, 6000 - 3600, &n) == 0 && n == 2);
        check(store_desktop_count_actions(s, id, STORE_ACTION_RESET, 0, &n) == 0 && n == 3);
        check(store_desktop_count_actions(s, id, STORE_ACTION_REBOOT, 0, &n) == 0 && n == 0);
        /* The policy's actions with their times, oldest first; the most recent when capped. */
        check(store_desktop_event(s, 5000, "hang-detector", STORE_ACTION_REBOOT, id, NULL) == 0);
        check(store_desktop_event(s, 5500, "user:alice", STORE_ACTION_REBOOT_REQUEST, id, NULL) == 0);
        int64_t times[4];
        check(store_desktop_action_times(s, id, 2000, times, 4, &n) == 0 && n == 3);
        check(times[0] == 3100 && times[1] == 5000 && times[2] == 6000);
        check(store_desktop_action_times(s, id, 0, times, 2, &n) == 0 && n == 2);
        check(times[0] == 5000 && times[1] == 6000);
        check(store_desktop_action_times(s, id, 7000, times, 4, &n) == 0 && n == 0);

        /* Release: assigned with an open session -> free, session ended. */
        check(store_desktop_set_ready(s, id, true) == 0);
        check(store_desktop_set_health(s, id, "healthy", "") == 0);
        StoreAssignment a;
        check(store_assign(s, "lab", "alice", "10.0.0.9:5000", 4000, &a) == 0 && a.desktop_id == id);
        check(store_desktop_release(s, id, 4100) == 0);
        seen = walk(s);
        check(seen.assigned[0] == 0);
        check(store_exec(s, "SELECT 1") == 0);
        sqlite3_stmt *st;
        check(sqlite3_prepare_v2(store_db(s), "SELECT end FROM sessions", -1, &st, NULL) == SQLITE_OK);
        check(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 4100);
        sqlite3_finalize(st);

        int calls = 0;
        check(store_desktops_foreach(s, stop_at_first, &calls) == -ECANCELED && calls == 1);
        check(store_check(s, NULL) == 0);

        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        printf("reports land as separate signals; health, power, resets in a window, release, thumbnails\n");
        return 0;
}
