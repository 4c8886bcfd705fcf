#include "broker-store-power.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker-json.h"
#include "broker-store-fleet.h"
#include "macro.h"

/* An open request past its expiry: closed, so the desktop can take a new one. */
static int close_expired(Store *s, int64_t desktop_id, int64_t now) {
        static const char sql[] = "UPDATE power_requests SET outcome = 'failed', detail = 'expired', done = ?2 "
                                  "WHERE desktop_id = ?1 AND outcome IS NULL AND expires <= ?2";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        sqlite3_bind_int64(st, 2, now);
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

static int add_locked(Store *s, int64_t desktop_id, const char *action, const char *requester, int64_t now, int64_t ttl,
                      int64_t *ret_id, bool *ret_new) {
        static const char open_sql[] = "SELECT id FROM power_requests WHERE desktop_id = ?1 AND outcome IS NULL";
        static const char insert_sql[] = "INSERT INTO power_requests(desktop_id, action, requester, created, expires) "
                                         "SELECT id, ?2, ?3, ?4, ?5 FROM desktops WHERE id = ?1 RETURNING id";
        int r = close_expired(s, desktop_id, now);
        if (r < 0)
                return r;
        int64_t id;
        r = store_find_id(s, open_sql, desktop_id, 0, &id);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_id = id;
                *ret_new = false;
                return 0;
        }
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        r = store_prepare(s, insert_sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, desktop_id);
        sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, requester, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, now + ttl);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        id = sqlite3_column_int64(st, 0);
        while ((r = store_step(s, st)) > 0)
                ;
        if (r < 0)
                return r;
        char evidence[160];
        snprintf(evidence, sizeof(evidence), "{\"request\":%lld,\"action\":\"%s\",\"via\":\"agent\",\"expires\":%lld}",
                 (long long) id, action, (long long) (now + ttl));
        r = store_desktop_event(s, now, requester, "power-request", desktop_id, evidence);
        if (r < 0)
                return r;
        *ret_id = id;
        *ret_new = true;
        return 0;
}

int store_power_request_add(Store *s, int64_t desktop_id, const char *action, const char *requester, int64_t now,
                            int64_t ttl, int64_t *ret_id, bool *ret_new) {
        if (strcmp(action, POWER_REQUEST_ACTION_REBOOT) != 0 && strcmp(action, POWER_REQUEST_ACTION_SHUTDOWN) != 0)
                return -EINVAL;
        if (ttl <= 0)
                return -EINVAL;
        bool own;
        int r = store_begin_own(s, &own);
        if (r < 0)
                return r;
        int64_t id = 0;
        bool created = false;
        r = store_end_own(s, own, add_locked(s, desktop_id, action, requester, now, ttl, &id, &created));
        if (r < 0)
                return r;
        *ret_id = id;
        if (ret_new)
                *ret_new = created;
        return 0;
}

int store_power_requests_pending(Store *s, const char *host, int64_t now, unsigned max, StorePowerRequestFn cb,
                                 void *userdata) {
        static const char sql[] = "SELECT q.id, d.domain_name, q.action, q.desktop_id, q.requester FROM power_requests q "
                                  "JOIN desktops d ON d.id = q.desktop_id JOIN hosts h ON h.id = d.host_id "
                                  "WHERE h.name = ?1 AND q.outcome IS NULL AND q.expires > ?2 ORDER BY q.id LIMIT ?3";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, max);
        while ((r = store_step(s, st)) > 0) {
                StorePowerRequest q = {
                        .id = sqlite3_column_int64(st, 0),
                        .domain_name = (const char *) sqlite3_column_text(st, 1),
                        .action = (const char *) sqlite3_column_text(st, 2),
                        .desktop_id = sqlite3_column_int64(st, 3),
                        .requester = (const char *) sqlite3_column_text(st, 4),
                };
                r = cb(&q, userdata);
                if (r < 0)
                        return r;
        }
        return r;
}

#define EXPIRED_MAX 64

int store_power_requests_expire(Store *s, int64_t now, StorePowerRequestFn cb, void *userdata) {
        static const char sql[] =
                "UPDATE power_requests SET outcome = 'failed', detail = 'expired', done = ?1 WHERE id IN "
                "(SELECT id FROM power_requests WHERE outcome IS NULL AND expires <= ?1 ORDER BY id LIMIT ?2) "
                "RETURNING id, desktop_id, action, requester, (SELECT domain_name FROM desktops WHERE id = desktop_id)";
        struct {
                int64_t id, desktop_id;
                char action[16], requester[96], domain[64];
        } gone[EXPIRED_MAX];
        unsigned n = 0;
        bool own;
        int r = store_begin_own(s, &own);
        if (r < 0)
                return r;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        r = store_prepare(s, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, now);
                sqlite3_bind_int64(st, 2, EXPIRED_MAX);
                while ((r = store_step(s, st)) > 0 && n < EXPIRED_MAX) {
                        gone[n].id = sqlite3_column_int64(st, 0);
                        gone[n].desktop_id = sqlite3_column_int64(st, 1);
                        snprintf(gone[n].action, sizeof(gone[n].action), "%s", (const char *) sqlite3_column_text(st, 2));
                        snprintf(gone[n].requester, sizeof(gone[n].requester), "%s", (const char *) sqlite3_column_text(st, 3));
                        const char *dom = (const char *) sqlite3_column_text(st, 4);
                        snprintf(gone[n].domain, sizeof(gone[n].domain), "%s", dom ? dom : "");
                        n++;
                }
        }
        store_stmt_resetp(&st);
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                char evidence[160];
                snprintf(evidence, sizeof(evidence), "{\"request\":%lld,\"action\":\"%s\",\"outcome\":\"failed\",\"detail\":\"expired\"}",
                         (long long) gone[i].id, gone[i].action);
                r = store_desktop_event(s, now, "broker", "power-request-done", gone[i].desktop_id, evidence);
        }
        r = store_end_own(s, own, r);
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                StorePowerRequest q = { .id = gone[i].id, .desktop_id = gone[i].desktop_id, .domain_name = gone[i].domain,
                                        .action = gone[i].action, .requester = gone[i].requester };
                r = cb ? cb(&q, userdata) : 0;
        }
        return r;
}

int store_power_request_finish(Store *s, const char *host, int64_t id, int outcome, const char *detail, int64_t now) {
        static const char sql[] =
                "UPDATE power_requests SET outcome = ?3, detail = ?4, done = ?5 WHERE id = ?1 AND outcome IS NULL "
                "AND desktop_id IN (SELECT d.id FROM desktops d JOIN hosts h ON h.id = d.host_id WHERE h.name = ?2) "
                "RETURNING desktop_id, action";
        if (outcome < POWER_OUTCOME_OK || outcome > POWER_OUTCOME_NO_AGENT)
                return -EINVAL;
        bool own;
        int r = store_begin_own(s, &own);
        if (r < 0)
                return r;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        r = store_prepare(s, sql, &st);
        int64_t desktop_id = 0;
        char action[16] = "";
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, power_request_outcomes[outcome], -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, now);
                r = store_step(s, st);
                if (r == 0)
                        r = -ENOENT;
        }
        if (r > 0) {
                desktop_id = sqlite3_column_int64(st, 0);
                snprintf(action, sizeof(action), "%s", (const char *) sqlite3_column_text(st, 1));
                while ((r = store_step(s, st)) > 0)
                        ;
        }
        if (r >= 0) {
                /* The detail is the host's text: quoted through JSON's rules by hand would be one more
                 * escaper; keep it out of the event when it holds anything to escape. */
                char evidence[400], actor[80];
                bool plain = detail && strlen(detail) < 200 && !strpbrk(detail, "\"\\");
                snprintf(evidence, sizeof(evidence), "{\"request\":%lld,\"action\":\"%s\",\"outcome\":\"%s\",\"detail\":\"%s\"}",
                         (long long) id, action, power_request_outcomes[outcome], plain ? detail : "");
                snprintf(actor, sizeof(actor), "host:%s", host);
                r = store_desktop_event(s, now, actor, "power-request-done", desktop_id, evidence);
        }
        /* The statement is done (reset) before the transaction ends. */
        store_stmt_resetp(&st);
        return store_end_own(s, own, r);
}

int store_power_request_state(Store *s, int64_t id, int64_t now, const char **ret) {
        static const char sql[] = "SELECT outcome, expires FROM power_requests WHERE id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        const char *outcome = (const char *) sqlite3_column_text(st, 0);
        if (outcome) {
                int i = string_index(power_request_outcomes, outcome);
                *ret = i >= 0 ? power_request_outcomes[i] : "failed";
        } else
                *ret = sqlite3_column_int64(st, 1) > now ? "pending" : "expired";
        return 0;
}
