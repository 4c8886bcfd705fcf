#include "broker-assign.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

static int copy_column(sqlite3_stmt *st, int col, char *out, size_t size) {
        const char *v = (const char *) sqlite3_column_text(st, col);
        size_t n = v ? strlen(v) : 0;
        if (n >= size)
                return -EIO;
        memcpy(out, v ? v : "", n + 1);
        return 0;
}

static int lookup_id(Store *s, const char *sql, const char *name, int64_t *ret_id, char *ret_text, size_t size) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        *ret_id = sqlite3_column_int64(st, 0);
        return ret_text ? copy_column(st, 1, ret_text, size) : 0;
}

/* The user's desktop in the pool, or a free one: 0 and *ret_id, or -EAGAIN. */
static int pick(Store *s, int64_t pool_id, bool floating, int64_t user_id, int64_t *ret_id, bool *ret_new) {
        static const char held_sql[] = "SELECT id FROM desktops WHERE pool_id = ?1 AND assigned_user_id = ?2";
        /* Floating: ready desktops only. Persistent: the broker starts what it assigns, so a
         * stopped desktop will do, ready ones first. Hung or failed desktops never, nor one the pool
         * upkeep is provisioning, resetting or removing (reset-pending is not ready until it booted). One query per
         * readiness, so each walks the index desktops_free (pool_id, ready, rowid) in order
         * instead of sorting every free desktop of the pool. */
        static const char free_sql[] =
                "SELECT id FROM desktops WHERE pool_id = ?1 AND assigned_user_id IS NULL AND ready = ?2 "
                "AND health IN ('unknown', 'healthy') AND provision_state IN ('done', 'reset-pending') ORDER BY id LIMIT 1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *free_st = NULL;
        int r = store_find_id(s, held_sql, pool_id, user_id, ret_id);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_new = false;
                return 0;
        }
        r = store_prepare(s, free_sql, &free_st);
        if (r < 0)
                return r;
        for (int ready = 1; ready >= (floating ? 1 : 0); ready--) {
                sqlite3_reset(free_st);
                sqlite3_bind_int64(free_st, 1, pool_id);
                sqlite3_bind_int(free_st, 2, ready);
                r = store_step(s, free_st);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_id = sqlite3_column_int64(free_st, 0);
                        *ret_new = true;
                        return 0;
                }
        }
        return -EAGAIN;
}

static int take(Store *s, int64_t desktop_id, int64_t user_id) {
        static const char sql[] = "UPDATE desktops SET assigned_user_id = ?2 WHERE id = ?1 AND assigned_user_id IS NULL";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        sqlite3_bind_int64(st, 2, user_id);
        r = store_step(s, st);
        if (r < 0)
                return r;
        /* Cannot happen under the write lock; if it ever did, refuse rather than double. */
        return sqlite3_changes(store_db(s)) == 1 ? 0 : -EAGAIN;
}

/* The user's open session on the desktop, or a new one. */
static int open_session(Store *s, int64_t desktop_id, int64_t user_id, const char *client, int64_t now,
                        int64_t *ret_id) {
        static const char find_sql[] =
                "SELECT id FROM sessions WHERE desktop_id = ?1 AND user_id = ?2 AND end IS NULL ORDER BY id DESC LIMIT 1";
        static const char insert_sql[] =
                "INSERT INTO sessions(user_id, desktop_id, client_address, start) VALUES (?2, ?1, ?3, ?4)";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *insert = NULL;
        int r = store_find_id(s, find_sql, desktop_id, user_id, ret_id);
        if (r != 0)
                return r < 0 ? r : 0;
        r = store_prepare(s, insert_sql, &insert);
        if (r < 0)
                return r;
        sqlite3_bind_int64(insert, 1, desktop_id);
        sqlite3_bind_int64(insert, 2, user_id);
        sqlite3_bind_text(insert, 3, client ? client : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 4, now);
        r = store_step(s, insert);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(store_db(s));
        return 0;
}

static int fill(Store *s, int64_t desktop_id, StoreAssignment *a) {
        static const char sql[] =
                "SELECT d.domain_name, d.uuid, d.power_state, h.name, h.hostd_address, h.fingerprint, h.libvirt_uri "
                "FROM desktops d LEFT JOIN hosts h ON h.id = d.host_id WHERE d.id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        if (sqlite3_column_type(st, 3) == SQLITE_NULL)
                return -EADDRNOTAVAIL;
        if ((r = copy_column(st, 0, a->domain_name, sizeof(a->domain_name))) < 0 ||
            (r = copy_column(st, 1, a->uuid, sizeof(a->uuid))) < 0 ||
            (r = copy_column(st, 2, a->power_state, sizeof(a->power_state))) < 0 ||
            (r = copy_column(st, 3, a->host_name, sizeof(a->host_name))) < 0 ||
            (r = copy_column(st, 4, a->hostd_address, sizeof(a->hostd_address))) < 0 ||
            (r = copy_column(st, 5, a->fingerprint, sizeof(a->fingerprint))) < 0 ||
            (r = copy_column(st, 6, a->libvirt_uri, sizeof(a->libvirt_uri))) < 0)
                return r;
        return 0;
}

static int add_event(Store *s, const char *user, int64_t desktop_id, int64_t session_id, bool fresh, int64_t now) {
        static const char sql[] =
                "INSERT INTO events(time, actor, action, object_kind, object_id, evidence) "
                "VALUES (?1, 'user:' || ?2, 'connect', 'desktop', ?3, json_object('session', ?4, 'assigned', ?5))";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, desktop_id);
        sqlite3_bind_int64(st, 4, session_id);
        sqlite3_bind_text(st, 5, fresh ? "new" : "kept", -1, SQLITE_STATIC);
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

int store_assign(Store *s, const char *pool, const char *user, const char *client_address, int64_t now,
                 StoreAssignment *ret) {
        StoreAssignment a = {};
        int64_t pool_id, user_id;
        char kind[16];
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        r = lookup_id(s, "SELECT id, kind FROM pools WHERE name = ?1", pool, &pool_id, kind, sizeof(kind));
        if (r >= 0) {
                r = lookup_id(s, "SELECT id FROM users WHERE name = ?1", user, &user_id, NULL, 0);
                if (r == -ENOENT)
                        r = -ESRCH;
        }
        if (r >= 0)
                r = pick(s, pool_id, strcmp(kind, "floating") == 0, user_id, &a.desktop_id, &a.newly_assigned);
        if (r >= 0)
                r = fill(s, a.desktop_id, &a);
        if (r >= 0 && a.newly_assigned)
                r = take(s, a.desktop_id, user_id);
        if (r >= 0)
                r = open_session(s, a.desktop_id, user_id, client_address, now, &a.session_id);
        if (r >= 0)
                r = add_event(s, user, a.desktop_id, a.session_id, a.newly_assigned, now);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        r = store_commit(s);
        if (r < 0)
                return r;
        *ret = a;
        return 0;
}
