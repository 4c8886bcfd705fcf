/* Hosts, pools and desktops: /v1/hosts, /v1/pools, /v1/desktops. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker-api.h"
#include "broker-store-fleet.h"
#include "broker-store-power.h"
#include "broker-store-report.h"
#include "log.h"
#include "parse-util.h"

#define HOST_JSON                                                                                                     \
        "json_object('name', h.name, 'libvirt_uri', h.libvirt_uri, 'address', h.hostd_address, "                     \
        "'fingerprint', h.fingerprint, 'capacity', h.capacity, 'state', h.state, 'last_report', h.last_report, "     \
        "'desktops', (SELECT count(*) FROM desktops d WHERE d.host_id = h.id), "                                      \
        "'transport', json_object('viewers_tcp', h.viewers_tcp, 'viewers_udp', h.viewers_udp, 'rtt_ms', h.rtt_ms, "  \
        "'loss_ratio', h.loss_ratio, 'bytes_sent', h.bytes_sent))"

#define POOL_JSON                                                                                                     \
        "json_object('name', p.name, 'kind', p.kind, 'template', p.template, 'min_ready', p.min_ready, "             \
        "'max_size', p.max_size, 'hang_grace_seconds', p.hang_grace_seconds, 'hang_action', p.hang_action, "         \
        "'max_resets_per_hour', p.max_resets_per_hour, 'clipboard', p.clipboard, "                                    \
        "'resize', json(CASE WHEN p.resize THEN 'true' ELSE 'false' END), 'transport', p.transport, "                 \
        "'disconnect_limit_seconds', p.disconnect_limit_seconds, "                                                   \
        "'desktops', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id), "                                      \
        "'ready', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id AND d.ready AND d.assigned_user_id IS NULL "   \
        "AND d.provision_state = 'done'), "                                                                            \
        "'provisioning', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id "                                      \
        "AND d.provision_state IN ('provisioning', 'reset-pending', 'resetting')), "                                  \
        "'removing', (SELECT count(*) FROM desktops d WHERE d.pool_id = p.id AND d.provision_state = 'removing'))"

#define DESKTOP_JSON                                                                                                  \
        "json_object('id', d.id, 'domain', d.domain_name, 'uuid', d.uuid, 'pool', p.name, 'host', h.name, "          \
        "'power_state', d.power_state, 'health', d.health, 'health_reason', d.health_reason, "                       \
        "'assigned_user', u.name, 'ready', json(CASE WHEN d.ready THEN 'true' ELSE 'false' END), "                    \
        "'provision_state', d.provision_state, 'provisioned', json(CASE WHEN d.provisioned THEN 'true' ELSE 'false' END), " \
        "'mac', d.mac, 'overlays', json(d.overlays), "                                                                \
        "'signals', json_object('libvirt_state', d.libvirt_state, 'state_changed', d.state_changed, "               \
        "'report_time', d.report_time, 'cpu_time_ns', d.cpu_time_ns, 'cpu_time_changed', d.cpu_time_changed, "       \
        "'display_frames', d.display_frames, 'display_changed', d.display_changed, 'input_time', d.input_time, "      \
        "'agent_state', d.agent_state, 'agent_heartbeat', d.agent_heartbeat, 'logged_on_user', d.logged_on_user, "    \
        "'libvirt_timeouts', d.libvirt_timeouts), "                                                                   \
        "'thumbnail', (SELECT t.time FROM thumbnails t WHERE t.desktop_id = d.id))"
#define DESKTOP_FROM                                                                                                  \
        " FROM desktops d JOIN pools p ON p.id = d.pool_id LEFT JOIN hosts h ON h.id = d.host_id "                    \
        "LEFT JOIN users u ON u.id = d.assigned_user_id "

static bool param_name_ok(ApiCall *c, const char *name, const char *what) {
        if (broker_name_valid(name, strlen(name)))
                return true;
        http_respond_error(c->resp, 404, "not-found", "No %s of that name (names are 1-63 letters, digits, '.', '-', '_')",
                           what);
        return false;
}

/* ---- hosts ---- */

void api_hosts_list(ApiCall *c) {
        static const char sql[] = "SELECT h.id, " HOST_JSON " FROM hosts h WHERE h.id > ?1 ORDER BY h.id LIMIT ?2";
        api_list_page(c, sql, "hosts");
}

static bool host_owner_ok(ApiCall *c, const char *name) {
        if (c->auth.role != ROLE_HOST || strcmp(c->auth.owner, name) == 0)
                return true;
        http_respond_error(c->resp, 403, "forbidden", "A host token acts for its own host only (this one is %s's)",
                           c->auth.owner);
        return false;
}

void api_hosts_get(ApiCall *c) {
        static const char sql[] = "SELECT " HOST_JSON " FROM hosts h WHERE h.name = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (!param_name_ok(c, c->params[0], "host") || !host_owner_ok(c, c->params[0]))
                return;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, "host");
        sqlite3_bind_text(st, 1, c->params[0], -1, SQLITE_STATIC);
        api_reply_row(c, st, 200, "such host");
}

void api_hosts_register(ApiCall *c) {
        static const char sql[] =
                "INSERT INTO hosts(name, libvirt_uri, hostd_address, fingerprint, capacity, state) "
                "VALUES (?1, ?2, ?3, ?4, ?5, 'up') ON CONFLICT(name) DO UPDATE SET libvirt_uri = excluded.libvirt_uri, "
                "hostd_address = excluded.hostd_address, fingerprint = excluded.fingerprint, "
                "capacity = excluded.capacity, state = CASE WHEN state = 'maintenance' THEN state ELSE 'up' END";
        static const char get_sql[] = "SELECT " HOST_JSON " FROM hosts h WHERE h.name = ?1";
        HostSpec h;
        ApiError e;
        size_t len;
        const char *body = api_body(c, &len);
        if (decode_host(body, len, &h, &e) < 0)
                return api_reply_error(c, &e);
        if (!host_owner_ok(c, h.name))
                return;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL, *get = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, h.name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, h.libvirt_uri, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, h.address, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, h.fingerprint, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, (int64_t) h.capacity);
                r = store_step(c->store, st);
        }
        if (r >= 0) {
                char evidence[1400];
                json_t *j = json_pack("{s:s,s:s,s:s}", "libvirt_uri", h.libvirt_uri, "address", h.address, "fingerprint",
                                      h.fingerprint);
                char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
                snprintf(evidence, sizeof(evidence), "%s", t ? t : "{}");
                free(t);
                json_decref(j);
                r = store_event_add(c->store, c->now, c->auth.actor, "host-register", "host", h.name, evidence);
        }
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "host");
        r = store_prepare(c->store, get_sql, &get);
        if (r < 0)
                return api_reply_store_error(c, r, "host");
        sqlite3_bind_text(get, 1, h.name, -1, SQLITE_STATIC);
        api_reply_row(c, get, 200, "such host");
}

static int add_request(const StorePowerRequest *q, void *userdata) {
        json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t) q->id, "domain", q->domain_name, "action", q->action);
        return o && json_array_append_new(userdata, o) == 0 ? 0 : -ENOMEM;
}

/* A person's graceful reboot the agent could not do (no agent, refused): ACPI through libvirt, as
 * when the agent was not there to begin with. The hang detector follows its own requests. */
static void reboot_fallbacks(ApiCall *c, const HostReport *rep) {
        static const char sql[] =
                "SELECT d.id, d.domain_name, d.uuid, h.name, h.libvirt_uri, d.power_state FROM power_requests q "
                "JOIN desktops d ON d.id = q.desktop_id JOIN hosts h ON h.id = d.host_id "
                "WHERE q.id = ?1 AND h.name = ?2 AND q.action = 'reboot' AND q.requester != 'hang-detector' "
                "AND q.outcome IN ('failed', 'no-agent') AND q.done = ?3";
        if (!c->m->power.reboot)
                return;
        for (size_t i = 0; i < rep->n_request_results; i++) {
                if (rep->request_results[i].outcome == POWER_OUTCOME_OK)
                        continue;
                _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
                if (store_prepare(c->store, sql, &st) < 0)
                        return;
                sqlite3_bind_int64(st, 1, (int64_t) rep->request_results[i].id);
                sqlite3_bind_text(st, 2, c->params[0], -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, c->now);
                if (store_step(c->store, st) <= 0)
                        continue; /* not closed by this report, or not a person's */
                BrokerDesktopRef ref = {
                        .id = sqlite3_column_int64(st, 0),
                        .domain_name = (const char *) sqlite3_column_text(st, 1),
                        .uuid = (const char *) sqlite3_column_text(st, 2),
                        .host_name = (const char *) sqlite3_column_text(st, 3),
                        .libvirt_uri = (const char *) sqlite3_column_text(st, 4),
                        .power_state = (const char *) sqlite3_column_text(st, 5),
                };
                char evidence[96];
                snprintf(evidence, sizeof(evidence), "{\"request\":%llu,\"via\":\"acpi\"}",
                         (unsigned long long) rep->request_results[i].id);
                int r = c->m->power.reboot(c->m->power_userdata, &ref, false);
                if (r < 0)
                        log_warning_errno(r, "Reboot of %s through ACPI failed to start: %m", ref.domain_name);
                (void) store_desktop_event(c->store, c->now, "broker", r < 0 ? "power-failed" : "reboot-fallback", ref.id,
                                           evidence);
        }
}

void api_hosts_report(ApiCall *c) {
        HostReport rep;
        ReportResult res;
        ApiError e;
        size_t len;
        if (!param_name_ok(c, c->params[0], "host") || !host_owner_ok(c, c->params[0]))
                return;
        const char *body = api_body(c, &len);
        int r = decode_report(body, len, &rep, &e);
        if (r == -ENOMEM)
                return http_respond_error(c->resp, 503, "out-of-memory", "The broker is out of memory");
        if (r < 0)
                return api_reply_error(c, &e);
        r = store_apply_report(c->store, c->params[0], &rep, c->now, &res);
        if (r >= 0 && res.results > 0)
                reboot_fallbacks(c, &rep);
        host_report_done(&rep);
        if (r == -ENOENT)
                return http_respond_error(c->resp, 404, "not-found", "No such host: register it first (POST /v1/hosts)");
        if (r < 0)
                return api_reply_store_error(c, r, "report");
        json_t *j = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "known", (json_int_t) res.known, "unknown",
                              (json_int_t) res.unknown, "thumbnails", (json_int_t) res.thumbnails, "logons",
                              (json_int_t) res.logons, "logoffs", (json_int_t) res.logoffs, "results",
                              (json_int_t) res.results, "results_unknown", (json_int_t) res.results_unknown);
        /* Power requests go to the host that runs the desktop, never to anyone reporting for it. */
        if (j && c->auth.role == ROLE_HOST) {
                json_t *list = json_array();
                r = list ? store_power_requests_pending(c->store, c->params[0], c->now, REPORT_REQUESTS_MAX, add_request, list)
                         : -ENOMEM;
                if (r < 0 || json_object_set_new(j, "requests", list) < 0) {
                        json_decref(j);
                        return api_reply_store_error(c, r < 0 ? r : -ENOMEM, "report");
                }
        }
        api_reply_json(c, 200, j);
        if (res.logoffs > 0)
                manager_kick_upkeep(c->m); /* a floating desktop may wait for its reset */
}

/* ---- pools ---- */

void api_pools_list(ApiCall *c) {
        static const char sql[] = "SELECT p.id, " POOL_JSON " FROM pools p WHERE p.id > ?1 ORDER BY p.id LIMIT ?2";
        api_list_page(c, sql, "pools");
}

static void pool_reply(ApiCall *c, const char *name, unsigned status) {
        static const char sql[] = "SELECT " POOL_JSON " FROM pools p WHERE p.name = ?1";
        api_reply_by_name(c, sql, name, status, "pool", "such pool");
}

void api_pools_get(ApiCall *c) {
        if (param_name_ok(c, c->params[0], "pool"))
                pool_reply(c, c->params[0], 200);
}

/* Binds every field of p the body set (?3..?13), NULL for the others: UPDATE keeps what is NULL. */
static void pool_bind(sqlite3_stmt *st, const PoolSpec *p) {
        if (p->has & POOL_HAS_TEMPLATE)
                sqlite3_bind_text(st, 3, p->template_name, -1, SQLITE_STATIC);
        if (p->has & POOL_HAS_MIN_READY)
                sqlite3_bind_int64(st, 4, (int64_t) p->min_ready);
        if (p->has & POOL_HAS_MAX_SIZE)
                sqlite3_bind_int64(st, 5, (int64_t) p->max_size);
        if (p->has & POOL_HAS_GRACE)
                sqlite3_bind_int64(st, 6, (int64_t) p->hang_grace_seconds);
        if (p->has & POOL_HAS_ACTION)
                sqlite3_bind_text(st, 7, hang_actions[p->hang_action], -1, SQLITE_STATIC);
        if (p->has & POOL_HAS_MAX_RESETS)
                sqlite3_bind_int64(st, 8, (int64_t) p->max_resets_per_hour);
        if (p->has & POOL_HAS_CLIPBOARD)
                sqlite3_bind_text(st, 9, clipboard_policies[p->clipboard], -1, SQLITE_STATIC);
        if (p->has & POOL_HAS_RESIZE)
                sqlite3_bind_int(st, 10, p->resize);
        if (p->has & POOL_HAS_TRANSPORT)
                sqlite3_bind_text(st, 11, transport_policies[p->transport], -1, SQLITE_STATIC);
        if (p->has & POOL_HAS_DISCONNECT_LIMIT)
                sqlite3_bind_int64(st, 12, (int64_t) p->disconnect_limit_seconds);
}

static int pool_event(ApiCall *c, const char *action, const char *name) {
        size_t len;
        const char *body = api_body(c, &len);
        /* The body was decoded whole: it is valid JSON and bounded; it is the evidence. */
        char *evidence = strndup(len ? body : "{}", len ? len : 2);
        if (!evidence)
                return -ENOMEM;
        int r = store_event_add(c->store, c->now, c->auth.actor, action, "pool", name, evidence);
        free(evidence);
        return r;
}

void api_pools_create(ApiCall *c) {
        static const char sql[] =
                "INSERT INTO pools(name, kind, template, min_ready, max_size, hang_grace_seconds, hang_action, "
                "max_resets_per_hour, clipboard, resize, transport, disconnect_limit_seconds) VALUES (?1, ?2, "
                "ifnull(?3, ''), ifnull(?4, 0), ifnull(?5, 0), ifnull(?6, 30), ifnull(?7, 'reset'), ifnull(?8, 3), "
                "ifnull(?9, 'both'), ifnull(?10, 1), ifnull(?11, 'auto'), ifnull(?12, 0))";
        PoolSpec p;
        ApiError e;
        size_t len;
        const char *body = api_body(c, &len);
        if (decode_pool(body, len, true, &p, &e) < 0)
                return api_reply_error(c, &e);
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, p.name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, pool_kinds[p.kind], -1, SQLITE_STATIC);
                pool_bind(st, &p);
                r = store_step(c->store, st);
        }
        if (r >= 0)
                r = pool_event(c, "pool-create", p.name);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "pool");
        pool_reply(c, p.name, 201);
        manager_kick_upkeep(c->m);
}

void api_pools_update(ApiCall *c) {
        static const char sql[] =
                "UPDATE pools SET template = ifnull(?3, template), min_ready = ifnull(?4, min_ready), "
                "max_size = ifnull(?5, max_size), hang_grace_seconds = ifnull(?6, hang_grace_seconds), "
                "hang_action = ifnull(?7, hang_action), max_resets_per_hour = ifnull(?8, max_resets_per_hour), "
                "clipboard = ifnull(?9, clipboard), resize = ifnull(?10, resize), transport = ifnull(?11, transport), "
                "disconnect_limit_seconds = ifnull(?12, disconnect_limit_seconds) WHERE name = ?1 "
                "RETURNING min_ready, max_size";
        PoolSpec p;
        ApiError e;
        size_t len;
        if (!param_name_ok(c, c->params[0], "pool"))
                return;
        const char *body = api_body(c, &len);
        if (decode_pool(body, len, false, &p, &e) < 0)
                return api_reply_error(c, &e);
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, c->params[0], -1, SQLITE_STATIC);
                pool_bind(st, &p);
                r = store_step(c->store, st);
                if (r == 0)
                        r = -ENOENT;
        }
        if (r > 0) {
                int64_t min_ready = sqlite3_column_int64(st, 0), max_size = sqlite3_column_int64(st, 1);
                while ((r = store_step(c->store, st)) > 0)
                        ;
                if (r >= 0 && max_size && min_ready > max_size) {
                        store_rollback(c->store);
                        return http_respond_error(c->resp, 422, "bad-field", "min_ready (%lld) would exceed max_size (%lld)",
                                                  (long long) min_ready, (long long) max_size);
                }
        }
        if (r >= 0)
                r = pool_event(c, "pool-update", c->params[0]);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "such pool");
        pool_reply(c, c->params[0], 200);
        manager_kick_upkeep(c->m);
}

void api_pools_delete(ApiCall *c) {
        static const char sql[] = "DELETE FROM pools WHERE name = ?1";
        if (!param_name_ok(c, c->params[0], "pool"))
                return;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, c->params[0], -1, SQLITE_STATIC);
                r = store_step(c->store, st);
                if (r >= 0 && sqlite3_changes(store_db(c->store)) == 0)
                        r = -ENOENT;
        }
        if (r >= 0)
                r = store_event_add(c->store, c->now, c->auth.actor, "pool-delete", "pool", c->params[0], NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r == -ENOTEMPTY)
                return http_respond_error(c->resp, 409, "in-use", "Pool `%s' still has desktops; delete them first",
                                          c->params[0]);
        if (r < 0)
                return api_reply_store_error(c, r, "such pool");
        http_respond_json(c->resp, 200, strdup("{\"deleted\":true}"));
}

/* ---- desktops ---- */

int api_desktop_lookup(ApiCall *c, const char *param, int64_t *ret_id, char *ret_user, size_t user_size) {
        static const char sql[] = "SELECT d.id, u.name FROM desktops d LEFT JOIN users u ON u.id = d.assigned_user_id "
                                  "WHERE d.id = ?1 OR d.domain_name = ?2";
        uint64_t id = 0;
        bool numeric = parse_u64(param, INT64_MAX, &id) >= 0;
        if (!numeric && !broker_name_valid(param, strlen(param)))
                return -ENOENT;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, numeric ? (int64_t) id : -1);
        if (!numeric)
                sqlite3_bind_text(st, 2, param, -1, SQLITE_STATIC);
        r = store_step(c->store, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        *ret_id = sqlite3_column_int64(st, 0);
        const char *u = (const char *) sqlite3_column_text(st, 1);
        snprintf(ret_user, user_size, "%s", u ? u : "");
        return 0;
}

/* The desktop named by the path, if the caller may see it: users only their own. Answers 404
 * (also for someone else's desktop: users do not learn which ids exist) and returns negative. */
static int desktop_param(ApiCall *c, int64_t *ret_id) {
        char user[NAME_BUF];
        int r = api_desktop_lookup(c, c->params[0], ret_id, user, sizeof(user));
        if (r >= 0 && c->auth.role == ROLE_USER && strcmp(user, c->auth.owner) != 0)
                r = -ENOENT;
        if (r < 0)
                api_reply_store_error(c, r, "such desktop");
        return r;
}

void api_desktops_list(ApiCall *c) {
        static const char *const known[] = { "pool", "host", NULL };
        static const char sql[] = "SELECT d.id, " DESKTOP_JSON DESKTOP_FROM
                                  "WHERE d.id > ?1 AND (?3 IS NULL OR p.name = ?3) AND (?4 IS NULL OR h.name = ?4) "
                                  "AND (?5 IS NULL OR u.name = ?5) ORDER BY d.id LIMIT ?2";
        int64_t after, limit;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (api_page(c, known, &after, &limit) < 0)
                return;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, "desktops");
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, limit + 1);
        const char *pool = http_request_query(c->req, "pool"), *host = http_request_query(c->req, "host");
        if (pool)
                sqlite3_bind_text(st, 3, pool, -1, SQLITE_STATIC);
        if (host)
                sqlite3_bind_text(st, 4, host, -1, SQLITE_STATIC);
        if (c->auth.role == ROLE_USER)
                sqlite3_bind_text(st, 5, c->auth.owner, -1, SQLITE_STATIC);
        api_reply_list(c, st, limit);
}

static void desktop_reply(ApiCall *c, int64_t id, unsigned status) {
        static const char sql[] = "SELECT " DESKTOP_JSON DESKTOP_FROM "WHERE d.id = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, "desktop");
        sqlite3_bind_int64(st, 1, id);
        api_reply_row(c, st, status, "such desktop");
}

void api_desktops_get(ApiCall *c) {
        int64_t id;
        if (desktop_param(c, &id) >= 0)
                desktop_reply(c, id, 200);
}

void api_desktops_create(ApiCall *c) {
        static const char sql[] =
                "INSERT INTO desktops(pool_id, host_id, domain_name, uuid) "
                "SELECT p.id, (SELECT id FROM hosts WHERE name = ?3), ?2, ?4 FROM pools p WHERE p.name = ?1 "
                "RETURNING id, host_id";
        DesktopSpec d;
        ApiError e;
        size_t len;
        const char *body = api_body(c, &len);
        if (decode_desktop(body, len, &d, &e) < 0)
                return api_reply_error(c, &e);
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int64_t id = 0;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, d.pool, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, d.domain, -1, SQLITE_STATIC);
                if (d.host[0])
                        sqlite3_bind_text(st, 3, d.host, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, d.uuid, -1, SQLITE_STATIC);
                r = store_step(c->store, st);
                if (r == 0) {
                        store_rollback(c->store);
                        return http_respond_error(c->resp, 404, "not-found", "No pool `%s'", d.pool);
                }
        }
        if (r > 0) {
                id = sqlite3_column_int64(st, 0);
                bool placed = sqlite3_column_type(st, 1) != SQLITE_NULL;
                while ((r = store_step(c->store, st)) > 0)
                        ;
                if (r >= 0 && d.host[0] && !placed) {
                        store_rollback(c->store);
                        return http_respond_error(c->resp, 404, "not-found", "No host `%s'", d.host);
                }
        }
        if (r >= 0)
                r = store_desktop_event(c->store, c->now, c->auth.actor, "desktop-create", id, NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r == -EPERM) /* the store's desktops_max_size trigger (store_step rolled back) */
                return http_respond_error(c->resp, 409, "pool-full", "Pool `%s' is at its max_size", d.pool);
        if (r < 0)
                return api_reply_store_error(c, r, "desktop");
        desktop_reply(c, id, 201);
}

void api_desktops_delete(ApiCall *c) {
        static const char sql[] = "DELETE FROM desktops WHERE id = ?1";
        int64_t id;
        if (desktop_param(c, &id) < 0)
                return;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, id);
                r = store_step(c->store, st);
        }
        if (r >= 0)
                r = store_desktop_event(c->store, c->now, c->auth.actor, "desktop-delete", id, NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "desktop");
        http_respond_json(c->resp, 200, strdup("{\"deleted\":true}"));
}

/* A graceful reboot goes through the guest's agent when hostd last saw it active: the request
 * waits in the store for its host's next report. 1 when that is how it went (answered), 0 when
 * the agent is not there (ACPI through libvirt instead), negative when answered with an error. */
static int reboot_through_agent(ApiCall *c, int64_t id) {
        static const char sql[] = "SELECT id FROM desktops WHERE id = ?1 AND agent_state = 'active' "
                                  "AND host_id IS NOT NULL AND power_state = 'running'";
        int64_t found, request;
        bool created;
        int r = store_find_id(c->store, sql, id, 0, &found);
        if (r <= 0) {
                if (r < 0)
                        api_reply_store_error(c, r, "desktop");
                return r;
        }
        r = store_power_request_add(c->store, id, POWER_REQUEST_ACTION_REBOOT, c->auth.actor, c->now,
                                    POWER_REQUEST_TTL_SECONDS, &request, &created);
        if (r < 0) {
                api_reply_store_error(c, r, "desktop");
                return r;
        }
        api_reply_json(c, 202, json_pack("{s:I,s:s,s:s,s:I,s:b}", "desktop", (json_int_t) id, "status", "requested", "via",
                                         "agent", "request", (json_int_t) request, "new", created));
        return 1;
}

void api_desktops_reboot(ApiCall *c) {
        static const char sql[] =
                "SELECT d.domain_name, d.uuid, h.name, h.libvirt_uri, d.power_state FROM desktops d "
                "LEFT JOIN hosts h ON h.id = d.host_id WHERE d.id = ?1";
        RebootSpec spec;
        ApiError e;
        size_t len;
        int64_t id;
        if (desktop_param(c, &id) < 0)
                return;
        const char *body = api_body(c, &len);
        if (decode_reboot(body, len, &spec, &e) < 0)
                return api_reply_error(c, &e);
        int r = store_desktop_event(c->store, c->now, c->auth.actor, STORE_ACTION_REBOOT_REQUEST, id,
                                    spec.force ? "{\"force\":true}" : "{\"force\":false}");
        if (r < 0)
                return api_reply_store_error(c, r, "desktop");
        if (!spec.force) {
                r = reboot_through_agent(c, id);
                if (r != 0)
                        return;
        }
        if (!c->m->power.reboot) {
                api_reply_json(c, 202, json_pack("{s:I,s:s}", "desktop", (json_int_t) id, "status", "recorded"));
                return;
        }
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, id);
                r = store_step(c->store, st);
        }
        if (r <= 0)
                return api_reply_store_error(c, r < 0 ? r : -ENOENT, "such desktop");
        BrokerDesktopRef ref = {
                .id = id,
                .domain_name = (const char *) sqlite3_column_text(st, 0),
                .uuid = (const char *) sqlite3_column_text(st, 1),
                .host_name = (const char *) sqlite3_column_text(st, 2),
                .libvirt_uri = (const char *) sqlite3_column_text(st, 3),
                .power_state = (const char *) sqlite3_column_text(st, 4),
        };
        r = c->m->power.reboot(c->m->power_userdata, &ref, spec.force);
        if (r < 0) {
                log_warning_errno(r, "Reboot of %s failed to start: %m", ref.domain_name);
                return http_respond_error(c->resp, 503, "power-failed", "The reboot could not be started: %s",
                                          strerror(-r));
        }
        api_reply_json(c, 202, json_pack("{s:I,s:s}", "desktop", (json_int_t) id, "status", "rebooting"));
}

void api_desktops_thumbnail(ApiCall *c) {
        int64_t id, when;
        uint8_t *jpeg;
        size_t len;
        if (desktop_param(c, &id) < 0)
                return;
        int r = store_thumbnail_get(c->store, id, &jpeg, &len, &when);
        if (r == -ENOENT)
                return http_respond_error(c->resp, 404, "no-thumbnail", "No thumbnail of this desktop has been reported");
        if (r < 0)
                return api_reply_store_error(c, r, "thumbnail");
        http_respond_text(c->resp, 200, "image/jpeg", (char *) jpeg, len);
}
