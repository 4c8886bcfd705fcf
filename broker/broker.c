/* tandem-broker: this first form checks its configuration and opens its SQLite store in WAL mode;
 * pools, tickets, hang detection and the REST API come with issue 6. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sqlite3.h>

#include "broker-conf.h"
#include "daemon.h"
#include "log.h"

static int load_config(void *config, const char *path, bool missing_ok, char **error) {
        return broker_config_load(config, path, missing_ok, error);
}

static void describe_config(const void *config, const char *path) {
        printf("%s: OK\nDatabase=%s\n", path, ((const BrokerConfig *) config)->database);
}

static int start(void *config, sd_event *e, void **ret_state) {
        BrokerConfig *c = config;
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(c->database, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
                log_error("Cannot open database %s: %s", c->database, db ? sqlite3_errmsg(db) : "out of memory");
                sqlite3_close(db);
                return -EIO;
        }
        log_info("Database %s open", c->database);
        *ret_state = db;
        return 0;
}

static void stop(void *state) {
        sqlite3_close(state);
}

static const DaemonOps ops = {
        .name = "tandem-broker",
        .summary = "The Tandem broker: pools, assignment, tickets and the REST API.",
        .default_config = BROKER_DEFAULT_CONFIG,
        .load_config = load_config,
        .log_level_offset = offsetof(BrokerConfig, log_level),
        .describe_config = describe_config,
        .start = start,
        .stop = stop,
};

int main(int argc, char **argv) {
        _cleanup_(broker_config_done) BrokerConfig config;
        broker_config_init(&config);
        return daemon_main(&ops, &config, argc, argv);
}
