#include "broker-store-report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker-store-fleet.h"
#include "broker-store-power.h"
#include "macro.h"

static int host_touch(Store *s, const char *host, const HostReport *rep, int64_t now, int64_t *ret_id) {
        static const char sql[] =
                "UPDATE hosts SET last_report = ?2, state = CASE WHEN state = 'maintenance' THEN state ELSE 'up' END, "
                "viewers_tcp = CASE WHEN ?3 THEN ?4 ELSE viewers_tcp END, "
                "viewers_udp = CASE WHEN ?3 THEN ?5 ELSE viewers_udp END, "
                "bytes_sent = CASE WHEN ?3 THEN ?6 ELSE bytes_sent END, "
                "rtt_ms = CASE WHEN ?3 THEN ?7 ELSE rtt_ms END, "
                "loss_ratio = CASE WHEN ?3 THEN ?8 ELSE loss_ratio END "
                "WHERE name = ?1 RETURNING id";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int(st, 3, rep->has_transport);
        sqlite3_bind_int64(st, 4, (int64_t) rep->viewers_tcp);
        sqlite3_bind_int64(st, 5, (int64_t) rep->viewers_udp);
        sqlite3_bind_int64(st, 6, (int64_t) rep->bytes_sent);
        if (rep->transport_has & REPORT_HAS_RTT)
                sqlite3_bind_double(st, 7, rep->rtt_ms);
        if (rep->transport_has & REPORT_HAS_LOSS)
                sqlite3_bind_double(st, 8, rep->loss_ratio);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        *ret_id = sqlite3_column_int64(st, 0);
        /* RETURNING: the update is done once the statement has run to its end. */
        while ((r = store_step(s, st)) > 0)
                ;
        return r;
}

/* Each signal kept apart; a counter that grew sets its "changed" time. */
/* A session whose ticket is this recent may still be on its way to hostd: no viewer yet is not a
 * disconnect. */
#define SESSION_CONNECT_SLACK_SEC 60

/* hostd says nobody watches the desktop: its open sessions (older than the slack) ended now. A
 * floating pool's disconnect limit counts from here (broker-pool-plan.c). */
static int end_unwatched_sessions(Store *s, int64_t desktop_id, int64_t now) {
        static const char sql[] = "UPDATE sessions SET end = ?2 WHERE desktop_id = ?1 AND end IS NULL AND start <= ?3";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now - SESSION_CONNECT_SLACK_SEC);
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

static int apply_domain(Store *s, int64_t host_id, const ReportDomain *d, int64_t now, bool *ret_known) {
        static const char sql[] =
                "UPDATE desktops SET host_id = ?2, report_time = ?3, "
                "uuid = CASE WHEN ?4 IS NULL THEN uuid ELSE ?4 END, "
                "ready = CASE WHEN ?5 IS NULL THEN ready WHEN ?5 != 'running' THEN 0 "
                "WHEN power_state != 'running' THEN 1 ELSE ready END, "
                "state_changed = CASE WHEN ?5 IS NULL OR ?5 = power_state THEN state_changed ELSE ?3 END, "
                "power_state = ifnull(?5, power_state), "
                "libvirt_state = ifnull(?6, libvirt_state), "
                "cpu_time_changed = CASE WHEN ?7 IS NULL THEN cpu_time_changed "
                "WHEN cpu_time_ns IS NULL OR ?7 != cpu_time_ns THEN ?3 ELSE cpu_time_changed END, "
                "cpu_time_ns = ifnull(?7, cpu_time_ns), "
                "display_changed = CASE WHEN ?8 IS NULL THEN display_changed "
                "WHEN display_frames IS NULL OR ?8 != display_frames THEN ?3 ELSE display_changed END, "
                "display_frames = ifnull(?8, display_frames), "
                "input_time = CASE WHEN ?9 IS NULL THEN input_time ELSE ?3 - ?9 END, "
                "agent_state = ifnull(?10, agent_state), "
                "agent_heartbeat = CASE WHEN ?11 IS NULL THEN agent_heartbeat ELSE ?3 - ?11 END, "
                "logged_on_user = ifnull(?12, logged_on_user), "
                "libvirt_timeouts = ifnull(?13, libvirt_timeouts) "
                /* A host reports only its own desktops, or adopts unplaced ones. */
                "WHERE domain_name = ?1 AND (host_id IS NULL OR host_id = ?2) RETURNING id";
        static const char thumb_sql[] = "INSERT INTO thumbnails(desktop_id, time, jpeg) VALUES (?1, ?2, ?3) "
                                        "ON CONFLICT(desktop_id) DO UPDATE SET time = excluded.time, jpeg = excluded.jpeg";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL, *thumb = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, host_id);
        sqlite3_bind_int64(st, 3, now);
        if (d->has & DOMAIN_HAS_UUID)
                sqlite3_bind_text(st, 4, d->uuid, -1, SQLITE_STATIC);
        if (d->has & DOMAIN_HAS_STATE)
                sqlite3_bind_text(st, 5, power_states[d->state], -1, SQLITE_STATIC);
        if (d->has & DOMAIN_HAS_LIBVIRT_STATE)
                sqlite3_bind_text(st, 6, d->libvirt_state, -1, SQLITE_STATIC);
        if (d->has & DOMAIN_HAS_CPU)
                sqlite3_bind_int64(st, 7, (int64_t) d->cpu_time_ns);
        if (d->has & DOMAIN_HAS_FRAMES)
                sqlite3_bind_int64(st, 8, (int64_t) d->display_frames);
        if (d->has & DOMAIN_HAS_INPUT_AGE)
                sqlite3_bind_int64(st, 9, (int64_t) d->input_age);
        if (d->has & DOMAIN_HAS_AGENT)
                sqlite3_bind_text(st, 10, agent_states[d->agent], -1, SQLITE_STATIC);
        if (d->has & DOMAIN_HAS_HEARTBEAT_AGE)
                sqlite3_bind_int64(st, 11, (int64_t) d->heartbeat_age);
        if (d->has & DOMAIN_HAS_LOGGED_ON)
                sqlite3_bind_text(st, 12, d->logged_on_user, -1, SQLITE_STATIC);
        if (d->has & DOMAIN_HAS_TIMEOUTS)
                sqlite3_bind_int64(st, 13, (int64_t) d->libvirt_timeouts);
        r = store_step(s, st);
        if (r < 0)
                return r;
        *ret_known = r > 0;
        if (r == 0)
                return 0;
        int64_t id = sqlite3_column_int64(st, 0);
        while ((r = store_step(s, st)) > 0)
                ;
        if (r >= 0 && (d->has & DOMAIN_HAS_VIEWERS) && d->viewers == 0)
                r = end_unwatched_sessions(s, id, now);
        if (r < 0 || !d->thumbnail)
                return r;
        r = store_prepare(s, thumb_sql, &thumb);
        if (r < 0)
                return r;
        sqlite3_bind_int64(thumb, 1, id);
        sqlite3_bind_int64(thumb, 2, now);
        sqlite3_bind_blob(thumb, 3, d->thumbnail, (int) d->thumbnail_len, SQLITE_STATIC);
        r = store_step(s, thumb);
        return r < 0 ? r : 1;
}

static int apply_session_event(Store *s, int64_t host_id, const char *host, const ReportSessionEvent *ev,
                               int64_t now) {
        static const char find_sql[] = "SELECT d.id, p.kind FROM desktops d JOIN pools p ON p.id = d.pool_id "
                                       "WHERE d.domain_name = ?1 AND d.host_id = ?2";
        static const char logon_sql[] = "UPDATE desktops SET logged_on_user = ?2 WHERE id = ?1";
        static const char logoff_sql[] = "UPDATE desktops SET logged_on_user = '' WHERE id = ?1";
        /* reset-pending: the pool upkeep (Libvirt=yes) resets it to its template. */
        static const char floating_sql[] =
                "UPDATE desktops SET ready = 0, reset_cause = 'logoff', provision_time = ?2, provision_state = "
                "CASE WHEN provision_state = 'done' THEN 'reset-pending' ELSE provision_state END WHERE id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *find = NULL, *upd = NULL;
        int64_t id;
        bool floating;
        int r = store_prepare(s, find_sql, &find);
        if (r < 0)
                return r;
        sqlite3_bind_text(find, 1, ev->domain, -1, SQLITE_STATIC);
        sqlite3_bind_int64(find, 2, host_id);
        r = store_step(s, find);
        if (r <= 0)
                return r; /* a domain the broker does not manage */
        id = sqlite3_column_int64(find, 0);
        floating = strcmp((const char *) sqlite3_column_text(find, 1), "floating") == 0;
        sqlite3_reset(find);

        r = store_prepare(s, ev->logon ? logon_sql : logoff_sql, &upd);
        if (r < 0)
                return r;
        sqlite3_bind_int64(upd, 1, id);
        sqlite3_bind_text(upd, 2, ev->user, -1, SQLITE_STATIC);
        r = store_step(s, upd);
        if (r < 0)
                return r;
        char actor[80], evidence[200];
        snprintf(actor, sizeof(actor), "host:%s", host);
        snprintf(evidence, sizeof(evidence), "{\"user\":\"%s\"}", ev->user); /* a validated name: no quoting needed */
        r = store_desktop_event(s, now, actor, ev->logon ? "logon" : "logoff", id, evidence);
        if (r < 0 || ev->logon)
                return r;
        if (!floating) {
                static const char end_sql[] = "UPDATE sessions SET end = ?2 WHERE desktop_id = ?1 AND end IS NULL";
                _cleanup_(store_stmt_resetp) sqlite3_stmt *end = NULL;
                r = store_prepare(s, end_sql, &end);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(end, 1, id);
                sqlite3_bind_int64(end, 2, now);
                r = store_step(s, end);
                return r < 0 ? r : 0;
        }
        /* Floating: free it now, hand it out again only once it booted clean. */
        r = store_desktop_release(s, id, now);
        if (r < 0)
                return r;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *nr = NULL;
        r = store_prepare(s, floating_sql, &nr);
        if (r < 0)
                return r;
        sqlite3_bind_int64(nr, 1, id);
        sqlite3_bind_int64(nr, 2, now);
        r = store_step(s, nr);
        if (r < 0)
                return r;
        return store_desktop_event(s, now, actor, "release", id, "{\"cause\":\"logoff\",\"needs\":\"reset-to-template\"}");
}

int store_apply_report(Store *s, const char *host, const HostReport *rep, int64_t now, ReportResult *ret) {
        ReportResult res = {};
        int64_t host_id;
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        r = host_touch(s, host, rep, now, &host_id);
        for (size_t i = 0; r >= 0 && i < rep->n_domains; i++) {
                bool known = false;
                r = apply_domain(s, host_id, &rep->domains[i], now, &known);
                if (r > 0)
                        res.thumbnails++;
                if (known)
                        res.known++;
                else
                        res.unknown++;
        }
        for (size_t i = 0; r >= 0 && i < rep->n_session_events; i++) {
                r = apply_session_event(s, host_id, host, &rep->session_events[i], now);
                if (rep->session_events[i].logon)
                        res.logons++;
                else
                        res.logoffs++;
        }
        /* Outcomes of power requests: one for a request that is not open on this host's desktops
         * (done already, a stale retry, another host's) changes nothing. */
        for (size_t i = 0; r >= 0 && i < rep->n_request_results; i++) {
                const ReportRequestResult *q = &rep->request_results[i];
                r = store_power_request_finish(s, host, (int64_t) q->id, q->outcome, q->detail, now);
                if (r == -ENOENT) {
                        res.results_unknown++;
                        r = 0;
                } else if (r >= 0)
                        res.results++;
        }
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        r = store_commit(s);
        if (r < 0)
                return r;
        if (ret)
                *ret = res;
        return 0;
}
