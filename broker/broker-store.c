#include "broker-store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-store-migrations.h"
#include "log.h"
#include "macro.h"

/* Statements are literals of the broker's: a few dozen. Never evicted (a caller may be stepping
 * one), so a full cache is a bug that shows as -ENOBUFS. */
#define STORE_CACHE_MAX 256

typedef struct CachedStatement {
        const char *sql;
        sqlite3_stmt *stmt;
} CachedStatement;

struct Store {
        sqlite3 *db;
        unsigned version;
        CachedStatement cache[STORE_CACHE_MAX];
        size_t n_cache;
};

unsigned store_latest_version(void) {
        return store_migrations_count;
}

unsigned store_version(const Store *s) {
        return s->version;
}

sqlite3 *store_db(Store *s) {
        return s->db;
}

const char *store_errmsg(Store *s) {
        return sqlite3_errmsg(s->db);
}

int store_errno(Store *s, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CONSTRAINT:
                switch (rc) {
                case SQLITE_CONSTRAINT_UNIQUE:
                case SQLITE_CONSTRAINT_PRIMARYKEY:
                        return -EEXIST;
                case SQLITE_CONSTRAINT_FOREIGNKEY:
                        return -ENOTEMPTY;
                case SQLITE_CONSTRAINT_TRIGGER:
                        /* ON DELETE RESTRICT reports itself as a trigger; RAISE() in our own
                         * triggers (the append-only audit trail) is a refusal. */
                        return strstr(sqlite3_errmsg(s->db), "FOREIGN KEY") ? -ENOTEMPTY : -EPERM;
                default:
                        return -EINVAL;
                }
        default:
                return -EIO;
        }
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_cache; i++)
                sqlite3_finalize(s->cache[i].stmt);
        sqlite3_close(s->db);
        free(s);
        return NULL;
}

int store_exec(Store *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                log_debug("store: %s: %s", sql, sqlite3_errmsg(s->db));
                return store_errno(s, sqlite3_extended_errcode(s->db));
        }
        return 0;
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        for (size_t i = 0; i < s->n_cache; i++)
                if (s->cache[i].sql == sql) {
                        *ret = s->cache[i].stmt;
                        return 0;
                }
        if (s->n_cache == STORE_CACHE_MAX) {
                log_debug("store: statement cache full, cannot prepare %s", sql);
                return -ENOBUFS;
        }
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
                log_debug("store: cannot prepare %s: %s", sql, sqlite3_errmsg(s->db));
                return store_errno(s, rc);
        }
        s->cache[s->n_cache++] = (CachedStatement) { sql, st };
        *ret = st;
        return 0;
}

int store_step(Store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        log_debug("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(s->db));
        return store_errno(s, sqlite3_extended_errcode(s->db));
}

int store_find_id(Store *s, const char *sql, int64_t a, int64_t b, int64_t *ret_id) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a);
        sqlite3_bind_int64(st, 2, b);
        r = store_step(s, st);
        if (r > 0)
                *ret_id = sqlite3_column_int64(st, 0);
        return r;
}

int store_begin_immediate(Store *s) {
        return store_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(Store *s) {
        int r = store_exec(s, "COMMIT");
        if (r < 0)
                store_rollback(s);
        return r;
}

void store_rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_begin_own(Store *s, bool *ret_own) {
        *ret_own = sqlite3_get_autocommit(s->db);
        return *ret_own ? store_begin_immediate(s) : 0;
}

int store_end_own(Store *s, bool own, int r) {
        if (!own)
                return r;
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        return store_commit(s);
}

static int read_version(Store *s, unsigned *ret) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc);
        rc = sqlite3_step(st);
        int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (v < 0 || v > 1000000)
                return -EIO;
        *ret = (unsigned) v;
        return 0;
}

/* One migration, in its own IMMEDIATE transaction. The version is read again under the lock, so
 * two brokers starting on one file do not both apply it. */
static int migrate_one(Store *s, const StoreMigration *m, char **error) {
        unsigned v = 0;
        int r = store_begin_immediate(s);
        if (r < 0)
                return r;
        r = read_version(s, &v);
        if (r < 0 || v >= m->version) {
                store_rollback(s);
                return r;
        }
        if (v != m->version - 1) {
                store_rollback(s);
                return -EIO;
        }
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", m->version);
        if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
                r = store_errno(s, sqlite3_extended_errcode(s->db));
                if (error && asprintf(error, "migration %04u-%s failed: %s", m->version, m->name,
                                      sqlite3_errmsg(s->db)) < 0)
                        *error = NULL;
                store_rollback(s);
                return r < 0 ? r : -EIO;
        }
        return store_commit(s);
}

static int set_error(char **error, const char *path, const char *what) {
        if (error && asprintf(error, "%s: %s", path, what) < 0)
                *error = NULL;
        return 0;
}

int store_open_version(const char *path, unsigned busy_timeout_ms, unsigned target, Store **ret, char **error) {
        _cleanup_(store_freep) Store *s = calloc(1, sizeof(Store));
        int r;

        if (!s)
                return -ENOMEM;
        if (target > store_migrations_count)
                return -EINVAL;
        int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                set_error(error, path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
                return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, (int) (busy_timeout_ms ? busy_timeout_ms : STORE_BUSY_TIMEOUT_MS_DEFAULT));
        /* journal_mode=WAL answers a row; exec ignores it. */
        static const char *const pragmas[] = {
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
        };
        for (size_t i = 0; i < ELEMENTSOF(pragmas); i++) {
                r = store_exec(s, pragmas[i]);
                if (r < 0) {
                        set_error(error, path, sqlite3_errmsg(s->db));
                        return r;
                }
        }
        r = read_version(s, &s->version);
        if (r < 0) {
                set_error(error, path, sqlite3_errmsg(s->db));
                return r;
        }
        if (s->version > store_migrations_count) {
                char why[128];
                snprintf(why, sizeof(why), "store version %u is newer than this broker's %u", s->version,
                         store_migrations_count);
                set_error(error, path, why);
                return -EPROTO;
        }
        for (unsigned i = s->version; i < target; i++) {
                char *e = NULL;
                r = migrate_one(s, &store_migrations[i], &e);
                if (r < 0) {
                        set_error(error, path, e ? e : sqlite3_errmsg(s->db));
                        free(e);
                        return r;
                }
        }
        r = read_version(s, &s->version);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int store_open(const char *path, unsigned busy_timeout_ms, Store **ret, char **error) {
        return store_open_version(path, busy_timeout_ms, store_migrations_count, ret, error);
}

static int check_pragma(Store *s, const char *sql, const char *ok, char **error) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(s, rc);
        int r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *v = (const char *) sqlite3_column_text(st, 0);
                if (ok && v && strcmp(v, ok) == 0)
                        continue;
                if (error && !*error && asprintf(error, "%s: %s", sql, v ? v : "(row)") < 0)
                        *error = NULL;
                r = -EIO;
        }
        if (rc != SQLITE_DONE && r == 0)
                r = store_errno(s, rc);
        sqlite3_finalize(st);
        return r;
}

int store_check(Store *s, char **error) {
        int r = check_pragma(s, "PRAGMA integrity_check", "ok", error);
        if (r < 0)
                return r;
        return check_pragma(s, "PRAGMA foreign_key_check", NULL, error);
}
