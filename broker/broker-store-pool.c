/* The store's seam for pool upkeep: see broker-store-pool.h. */
#include "broker-store-pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker-store-fleet.h"
#include "macro.h"

static const char *text(sqlite3_stmt *st, int col) {
        return (const char *) sqlite3_column_text(st, col);
}

int store_pools_foreach(Store *s, StorePoolFn cb, void *userdata) {
        static const char sql[] = "SELECT id, name, kind, template, min_ready, max_size, disconnect_limit_seconds "
                                  "FROM pools ORDER BY id";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                StorePool p = {
                        .id = sqlite3_column_int64(st, 0),
                        .name = text(st, 1),
                        .kind = text(st, 2),
                        .template_name = text(st, 3),
                        .min_ready = (unsigned) sqlite3_column_int64(st, 4),
                        .max_size = (unsigned) sqlite3_column_int64(st, 5),
                        .disconnect_limit = sqlite3_column_int64(st, 6),
                };
                r = cb(&p, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

int store_pool_desktops_foreach(Store *s, StorePoolDesktopFn cb, void *userdata) {
        static const char sql[] =
                "SELECT d.id, d.pool_id, ifnull(d.host_id, 0), d.domain_name, d.provision_state, d.power_state, "
                "d.health, d.mac, d.reset_cause, h.libvirt_uri, d.provisioned, d.ready, d.assigned_user_id IS NOT NULL, "
                "ifnull(d.state_changed, 0), ifnull(d.provision_time, 0), "
                /* Sessions matter to assigned desktops only (disconnect limit, surplus removal). */
                "CASE WHEN d.assigned_user_id IS NULL THEN 0 ELSE "
                "(SELECT count(*) FROM sessions s WHERE s.desktop_id = d.id AND s.end IS NULL) END, "
                "CASE WHEN d.assigned_user_id IS NULL THEN 0 ELSE "
                "ifnull((SELECT max(s.end) FROM sessions s WHERE s.desktop_id = d.id), 0) END "
                "FROM desktops d LEFT JOIN hosts h ON h.id = d.host_id ORDER BY d.pool_id, d.id";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                StorePoolDesktop d = {
                        .id = sqlite3_column_int64(st, 0),
                        .pool_id = sqlite3_column_int64(st, 1),
                        .host_id = sqlite3_column_int64(st, 2),
                        .domain_name = text(st, 3),
                        .provision_state = text(st, 4),
                        .power_state = text(st, 5),
                        .health = text(st, 6),
                        .mac = text(st, 7),
                        .reset_cause = text(st, 8),
                        .libvirt_uri = text(st, 9),
                        .provisioned = sqlite3_column_int(st, 10),
                        .ready = sqlite3_column_int(st, 11),
                        .assigned = sqlite3_column_int(st, 12),
                        .state_changed = sqlite3_column_int64(st, 13),
                        .provision_time = sqlite3_column_int64(st, 14),
                        .open_sessions = (unsigned) sqlite3_column_int64(st, 15),
                        .last_session_end = sqlite3_column_int64(st, 16),
                };
                r = cb(&d, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

int store_host_loads_foreach(Store *s, int64_t report_since, StoreHostLoadFn cb, void *userdata) {
        static const char sql[] =
                "SELECT h.id, h.name, h.libvirt_uri, h.state = 'up' AND ifnull(h.last_report, -1) >= ?1, h.capacity, "
                "(SELECT count(*) FROM desktops d WHERE d.host_id = h.id) FROM hosts h ORDER BY h.id";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, report_since);
        while ((r = store_step(s, st)) > 0) {
                StoreHostLoad h = {
                        .id = sqlite3_column_int64(st, 0),
                        .name = text(st, 1),
                        .libvirt_uri = text(st, 2),
                        .up = sqlite3_column_int(st, 3),
                        .capacity = (unsigned) sqlite3_column_int64(st, 4),
                        .desktops = (unsigned) sqlite3_column_int64(st, 5),
                };
                r = cb(&h, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

static int finish(Store *s, int r) {
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        return store_commit(s);
}

static int reserve_locked(Store *s, int64_t pool_id, int64_t host_id, unsigned serial_floor, int64_t now,
                          int64_t *ret_id, char *ret_name, size_t name_size, unsigned *ret_serial) {
        static const char pool_sql[] = "SELECT name, max_size, (SELECT count(*) FROM desktops WHERE pool_id = ?1) "
                                       "FROM pools WHERE id = ?1";
        /* The highest NNN of POOL-NNN names: prefix compared by substr (LIKE would read _ and %). */
        static const char serial_sql[] =
                "SELECT ifnull(max(CAST(substr(domain_name, length(?1) + 2) AS INTEGER)), 0) FROM desktops "
                "WHERE substr(domain_name, 1, length(?1) + 1) = ?1 || '-'";
        static const char taken_sql[] = "SELECT 1 FROM desktops WHERE domain_name = ?1";
        static const char insert_sql[] =
                "INSERT INTO desktops(pool_id, host_id, domain_name, power_state, provisioned, provision_state, "
                "provision_time, state_changed) VALUES (?1, ?2, ?3, 'starting', 1, 'provisioning', ?4, ?4)";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *pool = NULL, *serial = NULL, *taken = NULL, *insert = NULL;
        char prefix[64], name[80];
        int r = store_prepare(s, pool_sql, &pool);
        if (r < 0)
                return r;
        sqlite3_bind_int64(pool, 1, pool_id);
        r = store_step(s, pool);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        int64_t max_size = sqlite3_column_int64(pool, 1), count = sqlite3_column_int64(pool, 2);
        if (max_size > 0 && count >= max_size)
                return -ENOSPC;
        /* Domain names are at most 63: room for "-" and up to 6 digits. */
        snprintf(prefix, sizeof prefix, "%.56s", text(pool, 0));
        r = store_prepare(s, serial_sql, &serial);
        if (r < 0)
                return r;
        sqlite3_bind_text(serial, 1, prefix, -1, SQLITE_STATIC);
        r = store_step(s, serial);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        int64_t n = sqlite3_column_int64(serial, 0) + 1;
        if (n < serial_floor)
                n = serial_floor;
        r = store_prepare(s, taken_sql, &taken);
        if (r < 0)
                return r;
        for (;; n++) {
                if (n > 999999)
                        return -ENOSPC;
                snprintf(name, sizeof name, "%s-%03lld", prefix, (long long) n);
                sqlite3_reset(taken);
                sqlite3_bind_text(taken, 1, name, -1, SQLITE_STATIC);
                r = store_step(s, taken);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
        }
        if (strlen(name) >= name_size)
                return -ENAMETOOLONG;
        r = store_prepare(s, insert_sql, &insert);
        if (r < 0)
                return r;
        sqlite3_bind_int64(insert, 1, pool_id);
        sqlite3_bind_int64(insert, 2, host_id);
        sqlite3_bind_text(insert, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 4, now);
        r = store_step(s, insert);
        if (r == -EPERM)
                return -ENOSPC; /* the max_size trigger */
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(store_db(s));
        memcpy(ret_name, name, strlen(name) + 1);
        *ret_serial = (unsigned) n;
        return 0;
}

int store_pool_reserve(Store *s, int64_t pool_id, int64_t host_id, unsigned serial_floor, int64_t now,
                       int64_t *ret_id, char *ret_name, size_t name_size, unsigned *ret_serial) {
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        return finish(s, reserve_locked(s, pool_id, host_id, serial_floor, now, ret_id, ret_name, name_size, ret_serial));
}

static int changed_one(Store *s, sqlite3_stmt *st) {
        int r = store_step(s, st);
        if (r < 0)
                return r;
        return sqlite3_changes(store_db(s)) == 1 ? 0 : -ESTALE;
}

int store_pool_desktop_done(Store *s, int64_t id, const char *uuid, const char *mac, const char *overlays_json,
                            int64_t now, const char *action, const char *evidence_json) {
        static const char sql[] =
                "UPDATE desktops SET provision_state = 'done', uuid = ifnull(?2, uuid), mac = ifnull(?3, mac), "
                "overlays = ifnull(?4, overlays), "
                "state_changed = ?5, power_state = 'running', ready = 1, health = 'unknown', health_reason = '', "
                "reset_cause = '', provision_time = ?5 WHERE id = ?1 AND provision_state IN ('provisioning', 'resetting')";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        r = store_prepare(s, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, id);
                if (uuid)
                        sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
                if (mac)
                        sqlite3_bind_text(st, 3, mac, -1, SQLITE_STATIC);
                if (overlays_json)
                        sqlite3_bind_text(st, 4, overlays_json, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, now);
                r = changed_one(s, st);
        }
        if (r >= 0)
                r = store_desktop_event(s, now, "broker", action, id, evidence_json);
        return finish(s, r);
}

int store_pool_event(Store *s, int64_t pool_id, int64_t now, const char *action, const char *evidence_json) {
        static const char sql[] = "SELECT name FROM pools WHERE id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, pool_id);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        char name[80];
        snprintf(name, sizeof name, "%s", text(st, 0));
        sqlite3_reset(st);
        return store_event_add(s, now, "broker", action, "pool", name, evidence_json);
}

int store_pool_desktop_drop(Store *s, int64_t id, const char *state, int64_t now, const char *action,
                            const char *evidence_json) {
        static const char find_sql[] = "SELECT pool_id FROM desktops WHERE id = ?1 AND provision_state = ?2";
        static const char delete_sql[] = "DELETE FROM desktops WHERE id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *find = NULL, *del = NULL;
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        int64_t pool_id = 0;
        r = store_prepare(s, find_sql, &find);
        if (r >= 0) {
                sqlite3_bind_int64(find, 1, id);
                sqlite3_bind_text(find, 2, state, -1, SQLITE_STATIC);
                r = store_step(s, find);
                if (r == 0)
                        r = -ESTALE;
                if (r > 0)
                        pool_id = sqlite3_column_int64(find, 0);
                sqlite3_reset(find);
        }
        if (r >= 0)
                r = store_prepare(s, delete_sql, &del);
        if (r >= 0) {
                sqlite3_bind_int64(del, 1, id);
                r = changed_one(s, del);
        }
        if (r >= 0)
                r = store_pool_event(s, pool_id, now, action, evidence_json);
        return finish(s, r);
}

int store_pool_desktop_transition(Store *s, int64_t id, const char *from, const char *to, int64_t now) {
        static const char sql[] =
                "UPDATE desktops SET provision_state = ?3, provision_time = ?4, "
                "ready = CASE WHEN ?3 = 'done' THEN ready ELSE 0 END "
                "WHERE id = ?1 AND provision_state = ?2 AND (?3 NOT IN ('removing', 'resetting') OR assigned_user_id IS NULL)";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        return changed_one(s, st);
}

int store_pool_desktop_release(Store *s, int64_t id, const char *cause, const char *actor, int64_t now) {
        static const char sql[] =
                "UPDATE desktops SET provision_state = 'reset-pending', reset_cause = ?2, ready = 0, provision_time = ?3 "
                "WHERE id = ?1 AND provision_state = 'done'";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        char evidence[128];
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        r = store_desktop_release(s, id, now);
        if (r >= 0)
                r = store_prepare(s, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_text(st, 2, cause, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, now);
                r = changed_one(s, st);
        }
        snprintf(evidence, sizeof evidence, "{\"cause\":\"%s\",\"needs\":\"reset-to-template\"}", cause);
        if (r >= 0)
                r = store_desktop_event(s, now, actor, "release", id, evidence);
        return finish(s, r);
}
