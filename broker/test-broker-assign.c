/* Assignment under real concurrency: processes, each with its own connection to one store, race
 * connect requests for overlapping users on a floating and a persistent pool. Afterwards every
 * answer given is checked against every other: a user always got the same desktop, a desktop
 * only ever one user, the pools handed out exactly what they had, no request failed on the lock,
 * and the store holds what the answers said. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker-assign.h"
#include "check.h"
#include "macro.h"

#define PROCESSES 8
#define USERS 40
#define FLOATING 20
#define PERSISTENT 30
#define ROUNDS 3

static char dir[] = "/tmp/test-broker-assign-XXXXXX";
static char db_path[256];

static void setup(void) {
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(db_path, 0, &s, NULL) == 0);
        check(store_exec(s, "BEGIN") == 0);
        check(store_exec(s, "INSERT INTO hosts(name, libvirt_uri, hostd_address, fingerprint) "
                            "VALUES ('h1', 'test:///default', 'h1.example:7443', '')") == 0);
        check(store_exec(s, "INSERT INTO pools(name, kind) VALUES ('float', 'floating'), ('pers', 'persistent')") == 0);
        char sql[256];
        for (int i = 0; i < USERS; i++) {
                snprintf(sql, sizeof(sql), "INSERT INTO users(name, created) VALUES ('u%d', 0)", i);
                check(store_exec(s, sql) == 0);
        }
        for (int i = 0; i < FLOATING; i++) {
                snprintf(sql, sizeof(sql), "INSERT INTO desktops(pool_id, host_id, domain_name, ready, power_state) "
                                           "VALUES (1, 1, 'f%d', 1, 'running')", i);
                check(store_exec(s, sql) == 0);
        }
        /* Not ready floating desktops and a failed one are never handed out. */
        check(store_exec(s, "INSERT INTO desktops(pool_id, host_id, domain_name, ready) VALUES (1, 1, 'f-booting', 0)") == 0);
        check(store_exec(s, "INSERT INTO desktops(pool_id, host_id, domain_name, ready, health) "
                            "VALUES (1, 1, 'f-failed', 1, 'failed')") == 0);
        for (int i = 0; i < PERSISTENT; i++) {
                snprintf(sql, sizeof(sql), "INSERT INTO desktops(pool_id, host_id, domain_name, power_state) "
                                           "VALUES (2, 1, 'p%d', 'shutoff')", i);
                check(store_exec(s, sql) == 0);
        }
        check(store_exec(s, "COMMIT") == 0);
}

static void child(int index, int fd) {
        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(db_path, 20000, &s, NULL) == 0);
        int order[USERS];
        for (int i = 0; i < USERS; i++)
                order[i] = i;
        srand((unsigned) index * 7919u + 1);
        FILE *out = fdopen(fd, "w");
        check(out);
        for (int round = 0; round < ROUNDS; round++) {
                for (int i = USERS - 1; i > 0; i--) {
                        int j = rand() % (i + 1), t = order[i];
                        order[i] = order[j];
                        order[j] = t;
                }
                for (int i = 0; i < USERS; i++)
                        for (int p = 0; p < 2; p++) {
                                char user[16];
                                snprintf(user, sizeof(user), "u%d", order[i]);
                                StoreAssignment a;
                                int r = store_assign(s, p ? "pers" : "float", user, "10.0.0.1", 1000, &a);
                                fprintf(out, "%d %d %lld\n", p, order[i], r < 0 ? (long long) r : (long long) a.desktop_id);
                        }
        }
        fclose(out);
        _exit(0);
}

int main(void) {
        check(mkdtemp(dir));
        snprintf(db_path, sizeof(db_path), "%s/broker.db", dir);
        setup();

        FILE *results[PROCESSES];
        pid_t pids[PROCESSES];
        for (int i = 0; i < PROCESSES; i++) {
                int p[2];
                check(pipe(p) == 0);
                pids[i] = fork();
                check(pids[i] >= 0);
                if (pids[i] == 0) {
                        close(p[0]);
                        child(i, p[1]);
                }
                close(p[1]);
                results[i] = fdopen(p[0], "r");
        }

        long long user_desktop[2][USERS], desktop_user[2][200];
        memset(user_desktop, 0, sizeof(user_desktop));
        memset(desktop_user, 0xff, sizeof(desktop_user));
        int answers = 0, refused[2] = {};
        for (int i = 0; i < PROCESSES; i++) {
                int p, u;
                long long d;
                while (fscanf(results[i], "%d %d %lld", &p, &u, &d) == 3) {
                        answers++;
                        check(p >= 0 && p < 2 && u >= 0 && u < USERS);
                        if (d < 0) {
                                /* Only "pool exhausted": never the lock, never anything else. */
                                check(d == -EAGAIN);
                                refused[p]++;
                                check(user_desktop[p][u] == 0);
                                continue;
                        }
                        check(d > 0 && d < 200);
                        check(user_desktop[p][u] == 0 || user_desktop[p][u] == d);
                        user_desktop[p][u] = d;
                        check(desktop_user[p][d] == -1 || desktop_user[p][d] == u);
                        desktop_user[p][d] = u;
                }
                fclose(results[i]);
        }
        for (int i = 0; i < PROCESSES; i++) {
                int status;
                check(waitpid(pids[i], &status, 0) == pids[i]);
                check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        check(answers == PROCESSES * ROUNDS * USERS * 2);
        int served[2] = {};
        for (int p = 0; p < 2; p++)
                for (int u = 0; u < USERS; u++)
                        served[p] += user_desktop[p][u] != 0;
        check(served[0] == FLOATING);
        check(served[1] == PERSISTENT);

        _cleanup_(store_freep) Store *s = NULL;
        check(store_open(db_path, 0, &s, NULL) == 0);
        check(store_check(s, NULL) == 0);
        sqlite3_stmt *st;
        check(sqlite3_prepare_v2(store_db(s),
                                 "SELECT d.pool_id - 1, substr(u.name, 2), d.id FROM desktops d "
                                 "JOIN users u ON u.id = d.assigned_user_id",
                                 -1, &st, NULL) == SQLITE_OK);
        int rows = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                int p = sqlite3_column_int(st, 0), u = atoi((const char *) sqlite3_column_text(st, 1));
                check(user_desktop[p][u] == sqlite3_column_int64(st, 2));
                rows++;
        }
        sqlite3_finalize(st);
        check(rows == FLOATING + PERSISTENT);
        check(store_exec(s, "SELECT 1") == 0);
        check(sqlite3_prepare_v2(store_db(s),
                                 "SELECT (SELECT count(*) FROM sessions), "
                                 "(SELECT count(*) FROM (SELECT 1 FROM sessions GROUP BY user_id, desktop_id)), "
                                 "(SELECT count(*) FROM desktops WHERE domain_name IN ('f-booting', 'f-failed') "
                                 "AND assigned_user_id IS NOT NULL)",
                                 -1, &st, NULL) == SQLITE_OK);
        check(sqlite3_step(st) == SQLITE_ROW);
        check(sqlite3_column_int(st, 0) == FLOATING + PERSISTENT);
        check(sqlite3_column_int(st, 1) == FLOATING + PERSISTENT);
        check(sqlite3_column_int(st, 2) == 0);
        sqlite3_finalize(st);
        printf("%d answers from %d processes: %d+%d users served, %d+%d refused (pool exhausted), none doubled\n",
               answers, PROCESSES, served[0], served[1], refused[0], refused[1]);

        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        return 0;
}
