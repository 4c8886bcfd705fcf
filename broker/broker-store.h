/* The broker's store: one SQLite file in WAL mode (foreign keys on, a busy timeout, synchronous
 * NORMAL: a killed broker loses nothing committed; a power cut may lose the last commits but never
 * corrupts). Its schema is schema/sql/NNNN-*.sql, applied in order, one IMMEDIATE transaction
 * each, the version kept in PRAGMA user_version.
 *
 * A Store is one connection: use it from one thread. Several processes (or threads with their own
 * Store) may share the file; writers queue on SQLite's lock for up to the busy timeout.
 *
 * Functions return 0 or a negative errno: -EBUSY (lock not had within the timeout), -EEXIST (a
 * unique name taken), -ENOENT (no such object), -ENOTEMPTY (still referenced), -EINVAL (a CHECK
 * refused a value), -ENOSPC, -ENOMEM, -EIO (anything else; store_errmsg() says what). They never
 * log above debug. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

typedef struct Store Store;

#define STORE_BUSY_TIMEOUT_MS_DEFAULT 5000

/* Opens (creating when missing) and migrates to the newest version. On failure *error (optional)
 * gets a malloc'd sentence naming the file. -EPROTO: the file is newer than this broker. */
int store_open(const char *path, unsigned busy_timeout_ms, Store **ret, char **error);
/* The same, migrating only up to version `target` (tests of the migrations). */
int store_open_version(const char *path, unsigned busy_timeout_ms, unsigned target, Store **ret, char **error);
Store *store_free(Store *s);
static inline void store_freep(Store **s) {
        store_free(*s);
}

/* The newest version this broker knows, and the file's. */
unsigned store_latest_version(void);
unsigned store_version(const Store *s);
sqlite3 *store_db(Store *s);
const char *store_errmsg(Store *s);

/* PRAGMA integrity_check and foreign_key_check: 0 when both are clean, -EIO otherwise. */
int store_check(Store *s, char **error);

/* A cached prepared statement for a static SQL string (the cache is keyed by the pointer: pass
 * string literals or static arrays, never a built string), reset and unbound. Reset it after use (_cleanup_(store_stmt_resetp)) so it holds no read lock. */
int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret);
static inline void store_stmt_resetp(sqlite3_stmt **st) {
        if (*st) {
                sqlite3_reset(*st);
                sqlite3_clear_bindings(*st);
        }
}
/* SQLite result code to negative errno (see above). */
int store_errno(Store *s, int rc);

/* Transactions. begin_immediate takes the write lock now (waiting up to the busy timeout), so
 * what the transaction read stays true until it commits. */
int store_begin_immediate(Store *s);
int store_commit(Store *s);
void store_rollback(Store *s);
/* For calls that are their own transaction unless the caller opened one: begins one (immediate)
 * only when none is open, and says so in *ret_own; store_end_own() then commits it when r >= 0
 * or rolls it back, and returns r (or the commit's error). */
int store_begin_own(Store *s, bool *ret_own);
int store_end_own(Store *s, bool own, int r);
/* Runs a simple statement with no result (tests, pragmas). */
int store_exec(Store *s, const char *sql);

/* SQLITE_ROW -> 1, SQLITE_DONE -> 0, else negative errno. */
int store_step(Store *s, sqlite3_stmt *st);
/* The first row's column 0 of sql (static, as store_prepare()) with ?1 = a and ?2 = b: 1 and
 * *ret_id set, 0 when there is no row, or negative errno. */
int store_find_id(Store *s, const char *sql, int64_t a, int64_t b, int64_t *ret_id);
