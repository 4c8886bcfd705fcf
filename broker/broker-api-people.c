/* Users, API tokens, sessions and the audit trail: /v1/users, /v1/tokens, /v1/sessions, /v1/events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base64url.h"
#include "broker-api.h"
#include "broker-store-fleet.h"
#include "parse-util.h"

/* ---- tokens ---- */

int token_hash(const char *text, size_t len, uint8_t hash[32]) {
        /* Only what token_generate makes: the prefix and 43 base64url characters. Anything
         * else is refused before it is hashed or looked up. */
        size_t plen = strlen(TOKEN_PREFIX);
        if (len != plen + 43 || memcmp(text, TOKEN_PREFIX, plen) != 0)
                return -EINVAL;
        uint8_t raw[32];
        size_t n;
        if (base64url_decode(text + plen, len - plen, raw, sizeof(raw), &n) < 0 || n != 32)
                return -EINVAL;
        unsigned out = 0;
        if (EVP_Digest(text, len, hash, &out, EVP_sha256(), NULL) != 1 || out != 32)
                return -EIO;
        return 0;
}

int token_generate(char text[TOKEN_TEXT_MAX], uint8_t hash[32]) {
        uint8_t raw[32];
        size_t plen = strlen(TOKEN_PREFIX), n;
        if (RAND_bytes(raw, sizeof(raw)) != 1)
                return -EIO;
        memcpy(text, TOKEN_PREFIX, plen);
        int r = base64url_encode(raw, sizeof(raw), text + plen, TOKEN_TEXT_MAX - plen, &n);
        if (r < 0)
                return r;
        return token_hash(text, plen + n, hash);
}

int token_insert(Store *s, const uint8_t hash[32], int role, const char *owner, int64_t now, int64_t expires,
                 int64_t *ret_id) {
        static const char sql[] = "INSERT INTO api_tokens(hash, role, owner, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, token_roles[role], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        if (expires)
                sqlite3_bind_int64(st, 5, expires);
        r = store_step(s, st);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(store_db(s));
        return 0;
}

#define TOKEN_JSON "json_object('id', id, 'role', role, 'owner', owner, 'created', created, 'expires', expires)"

void api_tokens_list(ApiCall *c) {
        static const char sql[] = "SELECT id, " TOKEN_JSON " FROM api_tokens WHERE id > ?1 ORDER BY id LIMIT ?2";
        api_list_page(c, sql, "tokens");
}

static int user_exists(ApiCall *c, const char *name) {
        static const char sql[] = "SELECT 1 FROM users WHERE name = ?1";
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        return store_step(c->store, st);
}

void api_tokens_create(ApiCall *c) {
        TokenSpec t;
        ApiError e;
        size_t len;
        const char *body = api_body(c, &len);
        if (decode_token(body, len, &t, &e) < 0)
                return api_reply_error(c, &e);
        if (t.role == ROLE_HOST && !broker_name_valid(t.owner, strlen(t.owner)))
                return http_respond_error(c->resp, 422, "bad-name", "A host token's owner must be a host name");
        char text[TOKEN_TEXT_MAX];
        uint8_t hash[32];
        int64_t id = 0, expires = t.expires_in ? c->now + (int64_t) t.expires_in : 0;
        int r = token_generate(text, hash);
        if (r < 0)
                return http_respond_error(c->resp, 500, "internal", "No random bytes for a token");
        r = store_begin_immediate(c->store);
        if (r >= 0 && t.role == ROLE_USER) {
                r = user_exists(c, t.owner);
                if (r == 0) {
                        store_rollback(c->store);
                        return http_respond_error(c->resp, 404, "not-found", "No user `%s': create the user first",
                                                  t.owner);
                }
        }
        if (r >= 0)
                r = token_insert(c->store, hash, t.role, t.owner, c->now, expires, &id);
        if (r >= 0) {
                char oid[24], evidence[160];
                snprintf(oid, sizeof(oid), "%lld", (long long) id);
                snprintf(evidence, sizeof(evidence), "{\"role\":\"%s\",\"owner\":\"%s\"}", token_roles[t.role], t.owner);
                r = store_event_add(c->store, c->now, c->auth.actor, "token-create", "token", oid, evidence);
        }
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "token");
        /* The only time the token is shown: the store keeps its hash. */
        json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t) id, "token", text, "role", token_roles[t.role],
                              "owner", t.owner);
        if (j)
                json_object_set_new(j, "expires", expires ? json_integer(expires) : json_null());
        api_reply_json(c, 201, j);
}

void api_tokens_delete(ApiCall *c) {
        static const char sql[] = "DELETE FROM api_tokens WHERE id = ?1";
        uint64_t id;
        if (parse_u64(c->params[0], INT64_MAX, &id) < 0)
                return http_respond_error(c->resp, 404, "not-found", "No such token (tokens are named by their id)");
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, (int64_t) id);
                r = store_step(c->store, st);
                if (r >= 0 && sqlite3_changes(store_db(c->store)) == 0)
                        r = -ENOENT;
        }
        if (r >= 0)
                r = store_event_add(c->store, c->now, c->auth.actor, "token-delete", "token", c->params[0], NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "such token");
        http_respond_json(c->resp, 200, strdup("{\"deleted\":true}"));
}

/* ---- users ---- */

#define USER_JSON                                                                                                    \
        "json_object('name', u.name, 'display_name', u.display_name, 'created', u.created, "                         \
        "'desktops', (SELECT json_group_array(d.domain_name) FROM desktops d WHERE d.assigned_user_id = u.id))"

void api_users_list(ApiCall *c) {
        static const char sql[] = "SELECT u.id, " USER_JSON " FROM users u WHERE u.id > ?1 ORDER BY u.id LIMIT ?2";
        api_list_page(c, sql, "users");
}

static void user_reply(ApiCall *c, const char *name, unsigned status) {
        static const char sql[] = "SELECT " USER_JSON " FROM users u WHERE u.name = ?1";
        api_reply_by_name(c, sql, name, status, "user", "such user");
}

void api_users_get(ApiCall *c) {
        if (!broker_user_name_valid(c->params[0], strlen(c->params[0])))
                return http_respond_error(c->resp, 404, "not-found", "No such user");
        user_reply(c, c->params[0], 200);
}

void api_users_create(ApiCall *c) {
        static const char sql[] = "INSERT INTO users(name, display_name, created) VALUES (?1, ?2, ?3)";
        UserSpec u;
        ApiError e;
        size_t len;
        const char *body = api_body(c, &len);
        if (decode_user(body, len, &u, &e) < 0)
                return api_reply_error(c, &e);
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, u.name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, u.display_name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, c->now);
                r = store_step(c->store, st);
        }
        if (r >= 0)
                r = store_event_add(c->store, c->now, c->auth.actor, "user-create", "user", u.name, NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "user");
        user_reply(c, u.name, 201);
}

void api_users_delete(ApiCall *c) {
        static const char sql[] = "DELETE FROM users WHERE name = ?1";
        static const char tokens_sql[] = "DELETE FROM api_tokens WHERE role = 'user' AND owner = ?1";
        if (!broker_user_name_valid(c->params[0], strlen(c->params[0])))
                return http_respond_error(c->resp, 404, "not-found", "No such user");
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL, *tk = NULL;
        int r = store_begin_immediate(c->store);
        if (r >= 0)
                r = store_prepare(c->store, sql, &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, c->params[0], -1, SQLITE_STATIC);
                r = store_step(c->store, st);
                if (r >= 0 && sqlite3_changes(store_db(c->store)) == 0)
                        r = -ENOENT;
        }
        /* A deleted user's tokens go with them. */
        if (r >= 0)
                r = store_prepare(c->store, tokens_sql, &tk);
        if (r >= 0) {
                sqlite3_bind_text(tk, 1, c->params[0], -1, SQLITE_STATIC);
                r = store_step(c->store, tk);
        }
        if (r >= 0)
                r = store_event_add(c->store, c->now, c->auth.actor, "user-delete", "user", c->params[0], NULL);
        if (r >= 0)
                r = store_commit(c->store);
        if (r < 0)
                return api_reply_store_error(c, r, "such user");
        http_respond_json(c->resp, 200, strdup("{\"deleted\":true}"));
}

/* ---- sessions and events ---- */

void api_sessions_list(ApiCall *c) {
        static const char *const known[] = { "open", "user", NULL };
        static const char sql[] =
                "SELECT s.id, json_object('id', s.id, 'user', u.name, 'desktop', d.domain_name, 'desktop_id', d.id, "
                "'client_address', s.client_address, 'start', s.start, 'end', s.end) "
                "FROM sessions s JOIN users u ON u.id = s.user_id JOIN desktops d ON d.id = s.desktop_id "
                "WHERE s.id > ?1 AND (?3 IS NULL OR u.name = ?3) AND (?4 IS NULL OR s.end IS NULL) ORDER BY s.id LIMIT ?2";
        int64_t after, limit;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (api_page(c, known, &after, &limit) < 0)
                return;
        const char *open = http_request_query(c->req, "open"), *user = http_request_query(c->req, "user");
        if (open && strcmp(open, "true") != 0)
                return http_respond_error(c->resp, 400, "bad-query", "open takes only the value true");
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, "sessions");
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, limit + 1);
        if (c->auth.role == ROLE_USER)
                sqlite3_bind_text(st, 3, c->auth.owner, -1, SQLITE_STATIC);
        else if (user)
                sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
        if (open)
                sqlite3_bind_int(st, 4, 1);
        api_reply_list(c, st, limit);
}

void api_events_list(ApiCall *c) {
        static const char *const known[] = { "object_kind", "object_id", "action", NULL };
        static const char sql[] =
                "SELECT id, json_object('id', id, 'time', time, 'actor', actor, 'action', action, "
                "'object_kind', object_kind, 'object_id', object_id, 'evidence', json(evidence)) FROM events "
                "WHERE id > ?1 AND (?3 IS NULL OR object_kind = ?3) AND (?4 IS NULL OR object_id = ?4) "
                "AND (?5 IS NULL OR action = ?5) ORDER BY id LIMIT ?2";
        int64_t after, limit;
        _cleanup_(store_stmt_resetp) sqlite3_stmt *st = NULL;
        if (api_page(c, known, &after, &limit) < 0)
                return;
        int r = store_prepare(c->store, sql, &st);
        if (r < 0)
                return api_reply_store_error(c, r, "events");
        sqlite3_bind_int64(st, 1, after);
        sqlite3_bind_int64(st, 2, limit + 1);
        for (int i = 0; known[i]; i++) {
                const char *v = http_request_query(c->req, known[i]);
                if (v)
                        sqlite3_bind_text(st, 3 + i, v, -1, SQLITE_STATIC);
        }
        api_reply_list(c, st, limit);
}
