/* Inside the REST API: the call every handler gets (who is asking, the path's parameters, the
 * response to fill) and the helpers the handler files share. Routes and roles are in broker-api.c;
 * schema/broker-api.yaml is their description. */
#pragma once

#include <stdint.h>

#include "broker-decode.h"
#include "broker-manager.h"

#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL 0x1fu

typedef struct ApiAuth {
        int role; /* ROLE_* of broker-decode.h */
        char owner[NAME_BUF];
        int64_t token_id;
        char actor[96]; /* "role:owner", for the audit trail */
} ApiAuth;

typedef struct ApiCall {
        Manager *m;
        Store *store;
        HttpRequest *req;
        HttpResponse *resp;
        ApiAuth auth;
        const char *params[3]; /* the route's '*' segments, in order (pointing into path_buf) */
        char path_buf[1024];
        int64_t now;           /* Unix seconds */
} ApiCall;

typedef void (*ApiHandler)(ApiCall *c);

/* Responses. */
void api_reply_error(ApiCall *c, const ApiError *e);
/* A store error as the API says it; what names the object ("pool `lab'"). */
void api_reply_store_error(ApiCall *c, int r, const char *what);
void api_reply_json(ApiCall *c, unsigned status, json_t *j); /* takes j */

/* The request body, decoded by the caller. */
const char *api_body(ApiCall *c, size_t *ret_len);

/* Pagination: limit (1..1000, default 100) and cursor (opaque; today the last id) from the
 * query. Returns 0, or answers 400 bad-query and returns -EINVAL. Lists bind ?1 = after, ?2 =
 * limit + 1 and select (id, json_text) rows. known: the query arguments the route accepts besides
 * limit and cursor (NULL-terminated), anything else is refused. */
int api_page(ApiCall *c, const char *const *known, int64_t *ret_after, int64_t *ret_limit);
void api_reply_list(ApiCall *c, sqlite3_stmt *st, int64_t limit);
/* The first row's json_text (column 0) as the answer, or 404 not-found naming what. */
void api_reply_row(ApiCall *c, sqlite3_stmt *st, unsigned status, const char *what);
/* A plain list route: a page of sql's (id, json_text) rows (?1 after, ?2 limit + 1); noun names
 * the rows in a store error. */
void api_list_page(ApiCall *c, const char *sql, const char *noun);
/* One object by name: sql's first row with ?1 = name, as api_reply_row(). */
void api_reply_by_name(ApiCall *c, const char *sql, const char *name, unsigned status, const char *noun,
                       const char *what);

/* Handlers. */
void api_hosts_list(ApiCall *c);
void api_hosts_get(ApiCall *c);
void api_hosts_register(ApiCall *c);
void api_hosts_report(ApiCall *c);
void api_pools_list(ApiCall *c);
void api_pools_get(ApiCall *c);
void api_pools_create(ApiCall *c);
void api_pools_update(ApiCall *c);
void api_pools_delete(ApiCall *c);
void api_pools_connect(ApiCall *c);
void api_desktops_list(ApiCall *c);
void api_desktops_get(ApiCall *c);
void api_desktops_create(ApiCall *c);
void api_desktops_delete(ApiCall *c);
void api_desktops_reboot(ApiCall *c);
void api_desktops_thumbnail(ApiCall *c);
void api_users_list(ApiCall *c);
void api_users_get(ApiCall *c);
void api_users_create(ApiCall *c);
void api_users_delete(ApiCall *c);
void api_tokens_list(ApiCall *c);
void api_tokens_create(ApiCall *c);
void api_tokens_delete(ApiCall *c);
void api_sessions_list(ApiCall *c);
void api_events_list(ApiCall *c);
void api_metrics(ApiCall *c);

/* Tokens (broker-api-people.c): a new random token's text and its SHA-256. */
#define TOKEN_PREFIX "tdm_"
#define TOKEN_TEXT_MAX 128
int token_generate(char text[TOKEN_TEXT_MAX], uint8_t hash[32]);
int token_hash(const char *text, size_t len, uint8_t hash[32]);
/* Stores a token; returns its id. */
int token_insert(Store *s, const uint8_t hash[32], int role, const char *owner, int64_t now, int64_t expires,
                 int64_t *ret_id);

/* A desktop path parameter: digits are an id, anything else a domain name. 0 or -ENOENT. */
int api_desktop_lookup(ApiCall *c, const char *param, int64_t *ret_id, char *ret_user, size_t user_size);
