#include "broker-store-fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "macro.h"

static const char *text_or_null(sqlite3_stmt *st, int col) {
        return (const char *) sqlite3_column_text(st, col);
}

static const char *text(sqlite3_stmt *st, int col) {
        const char *v = (const char *) sqlite3_column_text(st, col);
        return v ? v : "";
}

int store_desktops_foreach(Store *s, StoreDesktopSignalsFn cb, void *userdata) {
        static const char sql[] =
                "SELECT d.id, d.domain_name, d.uuid, p.name, p.kind, h.name, h.libvirt_uri, d.power_state, d.health, "
                "d.health_reason, d.libvirt_state, d.agent_state, u.name, d.ready, "
                "ifnull(d.state_changed, 0), ifnull(d.report_time, 0), ifnull(d.cpu_time_ns, 0), "
                "ifnull(d.cpu_time_changed, 0), ifnull(d.display_frames, 0), ifnull(d.display_changed, 0), "
                "ifnull(d.input_time, 0), ifnull(d.agent_heartbeat, 0), d.libvirt_timeouts, ifnull(h.last_report, 0), "
                "p.hang_grace_seconds, p.max_resets_per_hour, p.hang_action, "
                "ifnull((SELECT max(q.done) FROM power_requests q WHERE q.desktop_id = d.id AND q.outcome = 'ok'), 0) "
                "FROM desktops d JOIN pools p ON p.id = d.pool_id LEFT JOIN hosts h ON h.id = d.host_id "
                "LEFT JOIN users u ON u.id = d.assigned_user_id "
                /* A desktop the pool upkeep is making, resetting or removing is its business:
                 * the hang detector sees it again (from scratch) once it is done. */
                "WHERE d.provision_state IN ('done', 'reset-pending') ORDER BY d.id";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                StoreDesktopSignals d = {
                        .id = sqlite3_column_int64(st, 0),
                        .domain_name = text(st, 1),
                        .uuid = text(st, 2),
                        .pool_name = text(st, 3),
                        .pool_kind = text(st, 4),
                        .host_name = text_or_null(st, 5),
                        .libvirt_uri = text_or_null(st, 6),
                        .power_state = text(st, 7),
                        .health = text(st, 8),
                        .health_reason = text(st, 9),
                        .libvirt_state = text(st, 10),
                        .agent_state = text(st, 11),
                        .assigned_user = text_or_null(st, 12),
                        .ready = sqlite3_column_int(st, 13),
                        .state_changed = sqlite3_column_int64(st, 14),
                        .report_time = sqlite3_column_int64(st, 15),
                        .cpu_time_ns = sqlite3_column_int64(st, 16),
                        .cpu_time_changed = sqlite3_column_int64(st, 17),
                        .display_frames = sqlite3_column_int64(st, 18),
                        .display_changed = sqlite3_column_int64(st, 19),
                        .input_time = sqlite3_column_int64(st, 20),
                        .agent_heartbeat = sqlite3_column_int64(st, 21),
                        .libvirt_timeouts = sqlite3_column_int64(st, 22),
                        .host_last_report = sqlite3_column_int64(st, 23),
                        .hang_grace_seconds = sqlite3_column_int64(st, 24),
                        .max_resets_per_hour = sqlite3_column_int64(st, 25),
                        .hang_action = text(st, 26),
                        .agent_power_ok = sqlite3_column_int64(st, 27),
                };
                r = cb(&d, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

int store_event_add(Store *s, int64_t now, const char *actor, const char *action, const char *object_kind,
                    const char *object_id, const char *evidence_json) {
        static const char sql[] = "INSERT INTO events(time, actor, action, object_kind, object_id, evidence) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5, json(?6))";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (evidence_json) {
                /* Evidence is a JSON object, or the caller's bug: say so as -EINVAL. */
                json_t *j = json_loads(evidence_json, 0, NULL);
                bool ok = json_is_object(j);
                json_decref(j);
                if (!ok)
                        return -EINVAL;
        }
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, object_kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, object_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, evidence_json ? evidence_json : "{}", -1, SQLITE_STATIC);
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

int store_desktop_event(Store *s, int64_t now, const char *actor, const char *action, int64_t desktop_id,
                        const char *evidence_json) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long) desktop_id);
        return store_event_add(s, now, actor, action, "desktop", id, evidence_json);
}

static int update_one(Store *s, const char *sql, int64_t id, const char *a, const char *b, int64_t n) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        if (a)
                sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
        if (b)
                sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, n);
        r = store_step(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(store_db(s)) > 0 ? 0 : -ENOENT;
}

int store_desktop_set_health(Store *s, int64_t desktop_id, const char *health, const char *reason) {
        static const char sql[] = "UPDATE desktops SET health = ?2, health_reason = ?3 WHERE id = ?1";
        return update_one(s, sql, desktop_id, health, reason ? reason : "", 0);
}

int store_desktop_set_power(Store *s, int64_t desktop_id, const char *power_state, int64_t now) {
        static const char sql[] =
                "UPDATE desktops SET state_changed = CASE WHEN power_state = ?2 THEN state_changed ELSE ?4 END, "
                "power_state = ?2 WHERE id = ?1";
        return update_one(s, sql, desktop_id, power_state, NULL, now);
}

int store_desktop_set_ready(Store *s, int64_t desktop_id, bool ready) {
        static const char sql[] = "UPDATE desktops SET ready = ?4 WHERE id = ?1";
        return update_one(s, sql, desktop_id, NULL, NULL, ready);
}

int store_desktop_release(Store *s, int64_t desktop_id, int64_t now) {
        static const char end_sql[] = "UPDATE sessions SET end = ?4 WHERE desktop_id = ?1 AND end IS NULL";
        static const char free_sql[] = "UPDATE desktops SET assigned_user_id = NULL WHERE id = ?1";
        bool own;
        int r = store_begin_own(s, &own);
        if (r < 0)
                return r;
        r = update_one(s, end_sql, desktop_id, NULL, NULL, now);
        if (r == -ENOENT)
                r = 0; /* no open session */
        if (r >= 0)
                r = update_one(s, free_sql, desktop_id, NULL, NULL, 0);
        return store_end_own(s, own, r);
}

/* A query of one desktop's events: ?1 is its object_id (the id as text). */
static int prepare_desktop_events(Store *s, const char *sql, int64_t desktop_id, sqlite3_stmt **ret) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long) desktop_id);
        int r = store_prepare(s, sql, ret);
        if (r < 0)
                return r;
        sqlite3_bind_text(*ret, 1, id, -1, SQLITE_TRANSIENT);
        return 0;
}

int store_desktop_count_actions(Store *s, int64_t desktop_id, const char *action, int64_t since, unsigned *ret) {
        static const char sql[] = "SELECT count(*) FROM events WHERE object_kind = 'desktop' AND object_id = ?1 "
                                  "AND action = ?2 AND time >= ?3";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = prepare_desktop_events(s, sql, desktop_id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, since);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        *ret = (unsigned) sqlite3_column_int64(st, 0);
        return 0;
}

int store_desktop_action_times(Store *s, int64_t desktop_id, int64_t since, int64_t *times, unsigned max,
                               unsigned *ret_n) {
        static const char sql[] = "SELECT time FROM events WHERE object_kind = 'desktop' AND object_id = ?1 "
                                  "AND action IN ('" STORE_ACTION_RESET "', '" STORE_ACTION_REBOOT "') AND time >= ?2 "
                                  "ORDER BY time DESC, id DESC LIMIT ?3";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = prepare_desktop_events(s, sql, desktop_id, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 2, since);
        sqlite3_bind_int64(st, 3, max);
        unsigned n = 0;
        while (n < max && (r = store_step(s, st)) > 0)
                times[n++] = sqlite3_column_int64(st, 0);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n / 2; i++) { /* newest first -> oldest first */
                int64_t t = times[i];
                times[i] = times[n - 1 - i];
                times[n - 1 - i] = t;
        }
        *ret_n = n;
        return 0;
}

int store_thumbnail_get(Store *s, int64_t desktop_id, uint8_t **ret, size_t *ret_len, int64_t *ret_time) {
        static const char sql[] = "SELECT jpeg, time FROM thumbnails WHERE desktop_id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        size_t n = (size_t) sqlite3_column_bytes(st, 0);
        uint8_t *copy = malloc(n ? n : 1);
        if (!copy)
                return -ENOMEM;
        if (n)
                memcpy(copy, sqlite3_column_blob(st, 0), n);
        *ret = copy;
        *ret_len = n;
        if (ret_time)
                *ret_time = sqlite3_column_int64(st, 1);
        return 0;
}
