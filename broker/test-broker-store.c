/* The store's migrations: from an empty file and from every earlier version to the newest, with
 * data kept and the same schema a fresh store has; a failing migration leaves its version whole;
 * a store newer than the broker is refused; WAL, foreign keys and the append-only audit trail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker-store.h"
#include "check.h"
#include "macro.h"

static char dir[] = "/tmp/test-broker-store-XXXXXX";

static void path_for(const char *name, char *out, size_t size) {
        snprintf(out, size, "%s/%s.db", dir, name);
}

static char *query_text(Store *s, const char *sql) {
        sqlite3_stmt *st;
        check(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK);
        size_t cap = 1 << 16, len = 0;
        char *out = calloc(1, cap);
        check(out);
        while (sqlite3_step(st) == SQLITE_ROW)
                for (int i = 0; i < sqlite3_column_count(st); i++) {
                        const char *v = (const char *) sqlite3_column_text(st, i);
                        int n = snprintf(out + len, cap - len, "%s|", v ? v : "NULL");
                        check(n > 0 && (size_t) n < cap - len);
                        len += (size_t) n;
                }
        sqlite3_finalize(st);
        return out;
}

static int64_t query_int(Store *s, const char *sql) {
        sqlite3_stmt *st;
        check(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK);
        check(sqlite3_step(st) == SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* Rows valid at each version, so a migration has data to carry. */
static void populate(Store *s, unsigned version) {
        if (version >= 1)
                check(store_exec(s,
                                 "INSERT INTO hosts(name, libvirt_uri, hostd_address) VALUES ('h1', 'qemu:///system', 'h1:7443');"
                                 "INSERT INTO pools(name, kind) VALUES ('p1', 'floating');"
                                 "INSERT INTO users(name, created) VALUES ('alice', 1);"
                                 "INSERT INTO desktops(pool_id, host_id, domain_name, assigned_user_id) VALUES (1, 1, 'd1', 1);"
                                 "INSERT INTO sessions(user_id, desktop_id, start) VALUES (1, 1, 5);"
                                 "INSERT INTO events(time, actor, action, object_kind, object_id) VALUES (1, 'broker', 'x', '', '');") == 0);
        if (version >= 2)
                check(store_exec(s, "INSERT INTO thumbnails(desktop_id, time, jpeg) VALUES (1, 2, x'ffd8');"
                                    "UPDATE desktops SET agent_state = 'active' WHERE id = 1;") == 0);
}

static const char schema_sql[] = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name";

static void test_fresh(char **fresh_schema) {
        char path[256];
        path_for("fresh", path, sizeof(path));
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(path, 0, &s, NULL) == 0);
        check(store_version(s) == store_latest_version());
        check(store_latest_version() >= 2);
        check(store_check(s, NULL) == 0);
        char *mode = query_text(s, "PRAGMA journal_mode");
        check(strcmp(mode, "wal|") == 0);
        free(mode);
        check(query_int(s, "PRAGMA foreign_keys") == 1);
        check(query_int(s, "PRAGMA user_version") == store_latest_version());
        populate(s, store_latest_version());
        /* The audit trail is append-only; SQLite's own CHECKs refuse bad values. */
        check(store_exec(s, "UPDATE desktops SET health = 'fine'") == -EINVAL);
        check(store_exec(s, "UPDATE events SET actor = 'mallory'") == -EPERM);
        check(store_exec(s, "DELETE FROM events") == -EPERM);
        /* Foreign keys are enforced: a pool with desktops cannot go. */
        check(store_exec(s, "DELETE FROM pools WHERE name = 'p1'") == -ENOTEMPTY);
        /* One desktop per user and pool. */
        check(store_exec(s, "INSERT INTO desktops(pool_id, domain_name, assigned_user_id) VALUES (1, 'd2', 1)") == -EEXIST);
        *fresh_schema = query_text(s, schema_sql);
        printf("fresh store at version %u: WAL, foreign keys, checks ok\n", store_version(s));
}

static void test_from(unsigned from, const char *fresh_schema) {
        char path[256], name[32];
        snprintf(name, sizeof(name), "from-%u", from);
        path_for(name, path, sizeof(path));
        {
                _cleanup_(store_freep) Store *s = NULL;
                check(store_open_version(path, 0, from, &s, NULL) == 0);
                check(store_version(s) == from);
                populate(s, from);
        }
        _cleanup_(store_freep) Store *s = NULL;
        char *error = NULL;
        check(store_open(path, 0, &s, &error) == 0);
        check(!error);
        check(store_version(s) == store_latest_version());
        check(store_check(s, NULL) == 0);
        char *schema = query_text(s, schema_sql);
        check(strcmp(schema, fresh_schema) == 0);
        free(schema);
        if (from >= 1) {
                check(query_int(s, "SELECT count(*) FROM desktops WHERE domain_name = 'd1' AND assigned_user_id = 1") == 1);
                check(query_int(s, "SELECT count(*) FROM sessions") == 1);
                check(query_int(s, "SELECT count(*) FROM events") == 1);
        }
        printf("version %u -> %u: data kept, schema as fresh, integrity ok\n", from, store_version(s));
}

/* Migration 2 meets a table it wants to create: it fails whole and the store stays at 1. */
static void test_failed_migration(void) {
        char path[256];
        path_for("broken", path, sizeof(path));
        {
                _cleanup_(store_freep) Store *s = NULL;
                check(store_open_version(path, 0, 1, &s, NULL) == 0);
                check(store_exec(s, "CREATE TABLE thumbnails(x)") == 0);
        }
        _cleanup_(store_freep) Store *s = NULL;
        char *error = NULL;
        check(store_open(path, 0, &s, &error) < 0);
        check(error && strstr(error, "0002-signals"));
        printf("failed migration: %s\n", error);
        free(error);
        check(store_open_version(path, 0, 1, &s, NULL) == 0);
        check(store_version(s) == 1);
        /* Nothing of migration 2 stayed: the desktops table has no libvirt_state. */
        check(query_int(s, "SELECT count(*) FROM pragma_table_info('desktops') WHERE name = 'libvirt_state'") == 0);
}

static void test_newer(void) {
        char path[256];
        path_for("newer", path, sizeof(path));
        {
                _cleanup_(store_freep) Store *s = NULL;
                check(store_open(path, 0, &s, NULL) == 0);
                check(store_exec(s, "PRAGMA user_version = 999") == 0);
        }
        _cleanup_(store_freep) Store *s = NULL;
        char *error = NULL;
        check(store_open(path, 0, &s, &error) == -EPROTO);
        check(error && strstr(error, "newer"));
        free(error);
}

int main(void) {
        check(mkdtemp(dir));
        char *fresh_schema = NULL;
        test_fresh(&fresh_schema);
        for (unsigned v = 0; v < store_latest_version(); v++)
                test_from(v, fresh_schema);
        free(fresh_schema);
        test_failed_migration();
        test_newer();
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        return 0;
}
