/* The broker's HTTP(S) server: libmicrohttpd driven from the daemon's sd-event loop (MHD's epoll
 * fd is one io source, its timeout one timer; no thread of MHD's own). It accumulates each
 * request's body under a per-route cap (413 before reading when Content-Length says too much),
 * after a first look at the headers that may answer at once (HttpBodyCap),
 * bounds the header memory per connection (MHD answers 431 beyond it), and hands complete
 * requests to one handler that answers synchronously. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct HttpServer HttpServer;
typedef struct HttpRequest HttpRequest;

typedef struct HttpResponse {
        unsigned status;
        const char *content_type; /* static */
        char *body;               /* malloc'd, owned by the response */
        size_t len;
        const char *www_authenticate; /* static, for 401 */
} HttpResponse;

typedef struct HttpServerConfig {
        const char *address; /* IPv4 or IPv6 literal */
        uint16_t port;
        const char *cert_pem, *key_pem; /* PEM text; both NULL: plain HTTP */
        size_t header_bytes_max;        /* per connection: request line, headers and MHD's bookkeeping */
        unsigned connections_max;
        unsigned timeout_seconds; /* idle connections closed after */
} HttpServerConfig;

/* Called once per complete request; must fill resp (status 0 is a bug: answered 500). */
typedef void (*HttpHandler)(void *userdata, HttpRequest *req, HttpResponse *resp);
/* Called when a request's headers are in, before any byte of its body is read: returns the body
 * cap, or answers at once by filling resp (e.g. 401: an unauthenticated peer never gets to make
 * the broker buffer a body). */
typedef size_t (*HttpBodyCap)(void *userdata, HttpRequest *req, HttpResponse *resp);

int http_server_new(sd_event *e, const HttpServerConfig *c, HttpHandler handler, HttpBodyCap body_cap,
                    void *userdata, HttpServer **ret, char **error);
HttpServer *http_server_free(HttpServer *s);
static inline void http_server_freep(HttpServer **s) {
        http_server_free(*s);
}

const char *http_request_method(const HttpRequest *r);
const char *http_request_path(const HttpRequest *r);
const char *http_request_header(HttpRequest *r, const char *name);
const char *http_request_query(HttpRequest *r, const char *name);
/* Query arguments other than those listed (NULL-terminated): the first one, or NULL. */
const char *http_request_unknown_query(HttpRequest *r, const char *const *known);
const char *http_request_body(const HttpRequest *r, size_t *ret_len);
/* "ADDRESS:PORT" of the peer. */
const char *http_request_client(const HttpRequest *r);
/* CLOCK_MONOTONIC microseconds when the request's headers arrived. */
uint64_t http_request_start_usec(const HttpRequest *r);

/* Response helpers: JSON text (takes ownership), {"error":{"code","message"}}, plain text. */
void http_respond_json(HttpResponse *resp, unsigned status, char *json_text);
void http_respond_error(HttpResponse *resp, unsigned status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void http_respond_text(HttpResponse *resp, unsigned status, const char *content_type, char *text, size_t len);

uint64_t now_usec(void);
