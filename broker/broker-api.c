/* The REST API's front: routes, bearer tokens and roles, and the helpers every handler uses. */
#include "broker-api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "parse-util.h"

enum { BODY_NONE, BODY_SMALL, BODY_REPORT };

#define A ROLE_BIT(ROLE_ADMIN)
#define O ROLE_BIT(ROLE_OPERATOR)
#define U ROLE_BIT(ROLE_USER)
#define M ROLE_BIT(ROLE_MONITOR)
#define H ROLE_BIT(ROLE_HOST)

typedef struct Route {
        const char *method;
        const char *pattern; /* '*' is one path segment */
        unsigned roles;      /* 0: no token needed */
        int body;
        ApiHandler handler;
} Route;

static void api_health(ApiCall *c);
static void api_ready(ApiCall *c);
static void api_ticket_key(ApiCall *c);

/* Users see and act on their own desktops and sessions only, hosts on their own host only: the
 * handlers check ownership; this table checks roles. */
static const Route routes[] = {
        { "GET", "/health", 0, BODY_NONE, api_health },
        { "GET", "/ready", 0, BODY_NONE, api_ready },
        { "GET", "/metrics", A | M, BODY_NONE, api_metrics },
        { "GET", "/v1/ticket-key", ROLES_ALL, BODY_NONE, api_ticket_key },
        { "GET", "/v1/hosts", A | O | M, BODY_NONE, api_hosts_list },
        { "POST", "/v1/hosts", A | O | H, BODY_SMALL, api_hosts_register },
        { "GET", "/v1/hosts/*", A | O | M | H, BODY_NONE, api_hosts_get },
        { "POST", "/v1/hosts/*/report", A | H, BODY_REPORT, api_hosts_report },
        { "GET", "/v1/pools", A | O | M | U, BODY_NONE, api_pools_list },
        { "POST", "/v1/pools", A | O, BODY_SMALL, api_pools_create },
        { "GET", "/v1/pools/*", A | O | M | U, BODY_NONE, api_pools_get },
        { "PATCH", "/v1/pools/*", A | O, BODY_SMALL, api_pools_update },
        { "DELETE", "/v1/pools/*", A | O, BODY_NONE, api_pools_delete },
        { "POST", "/v1/pools/*/connect", A | U, BODY_SMALL, api_pools_connect },
        { "GET", "/v1/desktops", A | O | M | U, BODY_NONE, api_desktops_list },
        { "POST", "/v1/desktops", A | O, BODY_SMALL, api_desktops_create },
        { "GET", "/v1/desktops/*", A | O | M | U, BODY_NONE, api_desktops_get },
        { "DELETE", "/v1/desktops/*", A | O, BODY_NONE, api_desktops_delete },
        { "POST", "/v1/desktops/*/reboot", A | O | U, BODY_SMALL, api_desktops_reboot },
        { "GET", "/v1/desktops/*/thumbnail", A | O | M | U, BODY_NONE, api_desktops_thumbnail },
        { "GET", "/v1/users", A, BODY_NONE, api_users_list },
        { "POST", "/v1/users", A, BODY_SMALL, api_users_create },
        { "GET", "/v1/users/*", A, BODY_NONE, api_users_get },
        { "DELETE", "/v1/users/*", A, BODY_NONE, api_users_delete },
        { "GET", "/v1/tokens", A, BODY_NONE, api_tokens_list },
        { "POST", "/v1/tokens", A, BODY_SMALL, api_tokens_create },
        { "DELETE", "/v1/tokens/*", A, BODY_NONE, api_tokens_delete },
        { "GET", "/v1/sessions", A | O | M | U, BODY_NONE, api_sessions_list },
        { "GET", "/v1/events", A | O | M, BODY_NONE, api_events_list },
};

#define PATH_SEGMENTS_MAX 6

/* Splits path into its segments (in buf). -EINVAL for an empty segment, too many, or a path not
 * starting with '/'. */
static int split_path(const char *path, char *buf, size_t size, char *seg[PATH_SEGMENTS_MAX], size_t *ret_n) {
        size_t len = strlen(path), n = 0;
        if (len == 0 || path[0] != '/' || len >= size)
                return -EINVAL;
        memcpy(buf, path + 1, len);
        char *p = buf;
        if (!*p) {
                *ret_n = 0;
                return 0;
        }
        for (;;) {
                if (n == PATH_SEGMENTS_MAX)
                        return -EINVAL;
                seg[n++] = p;
                char *slash = strchr(p, '/');
                if (!slash)
                        break;
                *slash = 0;
                p = slash + 1;
        }
        for (size_t i = 0; i < n; i++)
                if (!*seg[i])
                        return -EINVAL;
        *ret_n = n;
        return 0;
}

/* 1: the pattern matches (params filled), 0: not. */
static int match(const char *pattern, char *const seg[], size_t n, const char *params[3]) {
        char buf[128], *pseg[PATH_SEGMENTS_MAX];
        size_t pn, k = 0;
        if (split_path(pattern, buf, sizeof(buf), pseg, &pn) < 0 || pn != n)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(pseg[i], "*") == 0) {
                        if (k < 3)
                                params[k++] = seg[i];
                } else if (strcmp(pseg[i], seg[i]) != 0)
                        return 0;
        }
        return 1;
}

/* The route for method and path; NULL with *ret_path_known telling 405 from 404. */
static const Route *route_find(const char *method, const char *path, char *buf, size_t size, const char *params[3],
                               bool *ret_path_known) {
        char *seg[PATH_SEGMENTS_MAX];
        size_t n;
        *ret_path_known = false;
        if (split_path(path, buf, size, seg, &n) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                if (match(routes[i].pattern, seg, n, params)) {
                        *ret_path_known = true;
                        if (strcmp(routes[i].method, method) == 0)
                                return &routes[i];
                }
        return NULL;
}

void api_reply_json(ApiCall *c, unsigned status, json_t *j) {
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
                http_respond_error(c->resp, 500, "internal", "Out of memory");
                return;
        }
        http_respond_json(c->resp, status, text);
}

void api_reply_error(ApiCall *c, const ApiError *e) {
        http_respond_error(c->resp, e->status, e->code, "%s", e->message);
}

void api_reply_store_error(ApiCall *c, int r, const char *what) {
        switch (r) {
        case -ENOENT:
                http_respond_error(c->resp, 404, "not-found", "No %s", what);
                break;
        case -EEXIST:
                http_respond_error(c->resp, 409, "exists", "The %s exists already", what);
                break;
        case -ENOTEMPTY:
                http_respond_error(c->resp, 409, "in-use", "The %s is still in use", what);
                break;
        case -EINVAL:
                http_respond_error(c->resp, 422, "bad-field", "The store refused a value for the %s", what);
                break;
        case -EBUSY:
                http_respond_error(c->resp, 503, "busy", "The store is busy; try again");
                break;
        default:
                log_error_errno(r, "Store error on %s %s (%s): %s", http_request_method(c->req),
                                http_request_path(c->req), what, store_errmsg(c->store));
                http_respond_error(c->resp, 500, "store-error", "The broker's store failed; see its log");
        }
}

const char *api_body(ApiCall *c, size_t *ret_len) {
        return http_request_body(c->req, ret_len);
}

int api_page(ApiCall *c, const char *const *known, int64_t *ret_after, int64_t *ret_limit) {
        static const char *const base[] = { "limit", "cursor", NULL };
        const char *all[12];
        size_t n = 0;
        for (size_t i = 0; base[i]; i++)
                all[n++] = base[i];
        for (size_t i = 0; known && known[i] && n < ELEMENTSOF(all) - 1; i++)
                all[n++] = known[i];
        all[n] = NULL;
        const char *unknown = http_request_unknown_query(c->req, all);
        if (unknown) {
                ApiError e;
                json_unknown_field(unknown, &e);
                http_respond_error(c->resp, 400, "bad-query", "Unknown query argument: %s", e.message);
                return -EINVAL;
        }
        uint64_t limit = 100, after = 0;
        const char *l = http_request_query(c->req, "limit"), *cur = http_request_query(c->req, "cursor");
        if (l && (parse_u64(l, 1000, &limit) < 0 || limit == 0)) {
                http_respond_error(c->resp, 400, "bad-query", "limit must be 1 to 1000");
                return -EINVAL;
        }
        if (cur && parse_u64(cur, INT64_MAX, &after) < 0) {
                http_respond_error(c->resp, 400, "bad-query", "cursor is not one this broker gave");
                return -EINVAL;
        }
        *ret_after = (int64_t) after;
        *ret_limit = (int64_t) limit;
        return 0;
}

void api_reply_list(ApiCall *c, sqlite3_stmt *st, int64_t limit) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
                http_respond_error(c->resp, 500, "internal", "Out of memory");
                return;
        }
        int64_t count = 0, last = 0;
        int r;
        fputs("{\"items\":[", f);
        while ((r = store_step(c->store, st)) > 0) {
                if (count == limit) {
                        count++;
                        break;
                }
                fprintf(f, "%s%s", count ? "," : "", (const char *) sqlite3_column_text(st, 1));
                last = sqlite3_column_int64(st, 0);
                count++;
        }
        if (count > limit)
                fprintf(f, "],\"next_cursor\":\"%lld\"}", (long long) last);
        else
                fputs("],\"next_cursor\":null}", f);
        fclose(f);
        if (r < 0) {
                free(text);
                api_reply_store_error(c, r, "list");
                return;
        }
        http_respond_json(c->resp, 200, text);
}

void api_reply_row(ApiCall *c, sqlite3_stmt *st, unsigned status, const char *what) {
        int r = store_step(c->store, st);
        if (r <= 0) {
                api_reply_store_error(c, r < 0 ? r : -ENOENT, what);
                return;
        }
        char *text = strdup((const char *) sqlite3_column_text(st, 0));
        if (!text) {
                http_respond_error(c->resp, 500, "internal", "Out of memory");
                return;
        }
        http_respond_json(c->resp, status, text);
}

static void api_health(ApiCall *c) {
        http_respond_json(c->resp, 200, strdup("{\"status\":\"alive\"}"));
}

/* Ready: the store takes a write, and some host reported within ReportMaxAge= (or none is
 * registered yet: a fresh broker is ready to be configured). */
static void api_ready(ApiCall *c) {
        static const char sql[] = "SELECT count(*), count(CASE WHEN last_report >= ?1 THEN 1 END) FROM hosts";
        int r = store_begin_immediate(c->store);
        if (r >= 0) {
                /* A real write, rolled back: proves the file and its lock are usable. */
                r = store_exec(c->store, "UPDATE hosts SET capacity = capacity WHERE 0");
                store_rollback(c->store);
        }
        if (r < 0) {
                http_respond_error(c->resp, 503, "store-unwritable", "The store cannot be written: %s",
                                   store_errmsg(c->store));
                return;
        }
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, c->now - (int64_t) c->m->config->report_max_age);
                r = store_step(c->store, st);
        }
        if (r <= 0) {
                api_reply_store_error(c, r < 0 ? r : -EIO, "hosts");
                return;
        }
        int64_t hosts = sqlite3_column_int64(st, 0), reporting = sqlite3_column_int64(st, 1);
        json_t *j = json_pack("{s:s,s:I,s:I}", "status", (hosts == 0 || reporting > 0) ? "ready" : "no-host-reporting",
                              "hosts", (json_int_t) hosts, "hosts_reporting", (json_int_t) reporting);
        api_reply_json(c, (hosts == 0 || reporting > 0) ? 200 : 503, j);
}

static void api_ticket_key(ApiCall *c) {
        char *pem = strdup(broker_ticket_key_public_pem(c->m->ticket_key));
        http_respond_text(c->resp, pem ? 200 : 500, "application/x-pem-file", pem, pem ? strlen(pem) : 0);
}

/* Bearer token -> role and owner. Answers 401 itself and returns negative on failure. */
static int authenticate(ApiCall *c) {
        static const char sql[] = "SELECT id, role, owner, expires FROM api_tokens WHERE hash = ?1";
        const char *h = http_request_header(c->req, "Authorization");
        c->resp->www_authenticate = "Bearer realm=\"tandem\"";
        if (!h) {
                http_respond_error(c->resp, 401, "unauthenticated", "An Authorization: Bearer token is required");
                return -EACCES;
        }
        if (strncasecmp(h, "Bearer ", 7) != 0) {
                http_respond_error(c->resp, 401, "bad-token", "Only Bearer tokens are accepted");
                return -EACCES;
        }
        uint8_t hash[32];
        if (token_hash(h + 7, strlen(h + 7), hash) < 0) {
                http_respond_error(c->resp, 401, "bad-token", "The token is not one this broker issued");
                return -EACCES;
        }
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
                r = store_step(c->store, st);
        }
        if (r < 0) {
                api_reply_store_error(c, r, "token");
                return r;
        }
        if (r == 0) {
                http_respond_error(c->resp, 401, "bad-token", "The token is not one this broker issued (or was revoked)");
                return -EACCES;
        }
        if (sqlite3_column_type(st, 3) != SQLITE_NULL && sqlite3_column_int64(st, 3) <= c->now) {
                http_respond_error(c->resp, 401, "token-expired", "The token has expired; ask an admin for a new one");
                return -EACCES;
        }
        c->auth.token_id = sqlite3_column_int64(st, 0);
        c->auth.role = string_index(token_roles, (const char *) sqlite3_column_text(st, 1));
        snprintf(c->auth.owner, sizeof(c->auth.owner), "%s", (const char *) sqlite3_column_text(st, 2));
        snprintf(c->auth.actor, sizeof(c->auth.actor), "%s:%s", token_roles[c->auth.role < 0 ? 0 : c->auth.role],
                 c->auth.owner);
        c->resp->www_authenticate = NULL;
        return c->auth.role < 0 ? -EIO : 0;
}

/* Route, token and role: answers (and returns NULL) when the request goes no further. */
static const Route *api_front(ApiCall *c) {
        bool known;
        const Route *r = route_find(http_request_method(c->req), http_request_path(c->req), c->path_buf,
                                    sizeof(c->path_buf), c->params, &known);
        if (!r) {
                if (known)
                        http_respond_error(c->resp, 405, "method-not-allowed", "%s is not allowed on this path",
                                           http_request_method(c->req));
                else
                        http_respond_error(c->resp, 404, "not-found", "No such route");
                return NULL;
        }
        if (r->roles == 0)
                return r;
        if (authenticate(c) < 0)
                return NULL;
        if (!(r->roles & ROLE_BIT(c->auth.role))) {
                http_respond_error(c->resp, 403, "forbidden", "Role %s may not %s %s", token_roles[c->auth.role],
                                   r->method, r->pattern);
                return NULL;
        }
        return r;
}

static void count(Manager *m, const HttpResponse *resp) {
        m->metrics.requests++;
        if (resp->status >= 500)
                m->metrics.requests_5xx++;
        else if (resp->status >= 400)
                m->metrics.requests_4xx++;
}

/* Before the body: requests that will be refused are answered now, so nobody unauthenticated or
 * unauthorised can make the broker buffer a body (reports may be megabytes). */
size_t api_body_cap(void *userdata, HttpRequest *req, HttpResponse *resp) {
        Manager *m = userdata;
        ApiCall c = { .m = m, .store = m->store, .req = req, .resp = resp, .now = (int64_t) time(NULL) };
        const Route *r = api_front(&c);
        store_rollback(m->store);
        if (!r) {
                count(m, resp);
                return 0;
        }
        if (r->body == BODY_NONE)
                return 0;
        return r->body == BODY_REPORT ? m->config->max_report_bytes : m->config->max_body_bytes;
}

void api_handle(void *userdata, HttpRequest *req, HttpResponse *resp) {
        Manager *m = userdata;
        ApiCall c = { .m = m, .store = m->store, .req = req, .resp = resp, .now = (int64_t) time(NULL) };
        /* Checked again (one indexed lookup): a token revoked while the body arrived is refused. */
        const Route *r = api_front(&c);
        if (r)
                r->handler(&c);
        /* A handler never leaves a transaction open, whatever it answered. */
        store_rollback(m->store);
        count(m, resp);
}

void api_list_page(ApiCall *c, const char *sql, const char *noun) {
        int64_t after, limit;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (api_page(c, NULL, &after, &limit) < 0)
                return;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, noun);
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, limit + 1);
        api_reply_list(c, st, limit);
}

void api_reply_by_name(ApiCall *c, const char *sql, const char *name, unsigned status, const char *noun,
                       const char *what) {
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, noun);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        api_reply_row(c, st, status, what);
}
