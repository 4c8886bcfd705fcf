#include "broker-http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <microhttpd.h>

#include "buffer.h"
#include "log.h"
#include "macro.h"
#include "sockaddr-util.h"

/* A body over its cap is read and dropped (so the client gets a 413, not a reset) only up to this
 * many times the cap; past that the connection is closed. */
#define DISCARD_FACTOR 16

struct HttpServer {
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        HttpHandler handler;
        HttpBodyCap body_cap;
        void *userdata;
};

struct HttpRequest {
        struct MHD_Connection *connection;
        const char *method;
        char path[1024];
        Buffer body;
        size_t discarded;
        bool too_large, path_too_long;
        char client[64];
        uint64_t start_usec;
};

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

const char *http_request_method(const HttpRequest *r) {
        return r->method;
}

const char *http_request_path(const HttpRequest *r) {
        return r->path;
}

const char *http_request_header(HttpRequest *r, const char *name) {
        return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

const char *http_request_query(HttpRequest *r, const char *name) {
        return MHD_lookup_connection_value(r->connection, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct UnknownQuery {
        const char *const *known;
        const char *found;
} UnknownQuery;

static enum MHD_Result check_query_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        UnknownQuery *u = cls;
        for (const char *const *k = u->known; *k; k++)
                if (strcmp(*k, key) == 0)
                        return MHD_YES;
        u->found = key;
        return MHD_NO;
}

const char *http_request_unknown_query(HttpRequest *r, const char *const *known) {
        UnknownQuery u = { known, NULL };
        MHD_get_connection_values(r->connection, MHD_GET_ARGUMENT_KIND, check_query_key, &u);
        return u.found;
}

const char *http_request_body(const HttpRequest *r, size_t *ret_len) {
        *ret_len = buffer_len(&r->body);
        return (const char *) buffer_data(&r->body);
}

const char *http_request_client(const HttpRequest *r) {
        return r->client;
}

uint64_t http_request_start_usec(const HttpRequest *r) {
        return r->start_usec;
}

void http_respond_json(HttpResponse *resp, unsigned status, char *json_text) {
        free(resp->body);
        resp->status = status;
        resp->content_type = "application/json";
        resp->body = json_text;
        resp->len = json_text ? strlen(json_text) : 0;
}

void http_respond_text(HttpResponse *resp, unsigned status, const char *content_type, char *text, size_t len) {
        free(resp->body);
        resp->status = status;
        resp->content_type = content_type;
        resp->body = text;
        resp->len = len;
}

void http_respond_error(HttpResponse *resp, unsigned status, const char *code, const char *fmt, ...) {
        char message[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        http_respond_json(resp, status, text);
        if (!text)
                resp->status = 500;
}

static void request_free(HttpRequest *r) {
        if (!r)
                return;
        buffer_done(&r->body);
        free(r);
}

static enum MHD_Result queue(struct MHD_Connection *c, HttpResponse *resp) {
        if (resp->status == 0)
                http_respond_error(resp, 500, "internal", "No response");
        struct MHD_Response *m = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (!m) {
                free(resp->body);
                return MHD_NO;
        }
        resp->body = NULL;
        if (resp->content_type)
                MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
        if (resp->www_authenticate)
                MHD_add_response_header(m, MHD_HTTP_HEADER_WWW_AUTHENTICATE, resp->www_authenticate);
        MHD_add_response_header(m, "Cache-Control", "no-store");
        enum MHD_Result ok = MHD_queue_response(c, resp->status, m);
        MHD_destroy_response(m);
        return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        HttpServer *s = cls;
        HttpRequest *r = *con_cls;
        HttpResponse resp = {};

        if (!r) {
                r = calloc(1, sizeof(*r));
                if (!r)
                        return MHD_NO;
                *con_cls = r;
                r->connection = c;
                r->method = method;
                r->start_usec = now_usec();
                size_t n = strlen(url);
                if (n >= sizeof(r->path))
                        r->path_too_long = true;
                else
                        memcpy(r->path, url, n + 1);
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                struct sockaddr_storage ss = {};
                if (ci && ci->client_addr) {
                        memcpy(&ss, ci->client_addr,
                               ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
                        sockaddr_format(&ss, "", r->client, sizeof(r->client));
                }
                if (r->path_too_long) {
                        http_respond_error(&resp, 414, "uri-too-long", "The request path is longer than %zu bytes",
                                           sizeof(r->path) - 1);
                        return queue(c, &resp);
                }
                size_t cap = s->body_cap(s->userdata, r, &resp);
                if (resp.status)
                        return queue(c, &resp);
                buffer_init(&r->body, cap);
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl) {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(cl, &end, 10);
                        if (errno || *end || v > cap) {
                                /* Answered before any byte of the body is read; MHD closes. */
                                http_respond_error(&resp, 413, "body-too-large",
                                                   "The request body is larger than %zu bytes", cap);
                                return queue(c, &resp);
                        }
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                if (!r->too_large && buffer_append(&r->body, upload_data, *upload_data_size) < 0) {
                        r->too_large = true;
                        buffer_done(&r->body);
                }
                if (r->too_large) {
                        r->discarded += *upload_data_size;
                        if (r->discarded > DISCARD_FACTOR * r->body.limit)
                                return MHD_NO;
                }
                *upload_data_size = 0;
                return MHD_YES;
        }

        if (r->too_large)
                http_respond_error(&resp, 413, "body-too-large", "The request body is larger than %zu bytes",
                                   r->body.limit);
        else
                s->handler(s->userdata, r, &resp);
        return queue(c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        request_free(*con_cls);
        *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char line[512];
        vsnprintf(line, sizeof(line), fmt, ap);
        size_t n = strlen(line);
        while (n && line[n - 1] == '\n')
                line[--n] = 0;
        log_debug("http: %s", line);
}

static void rearm(HttpServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) {
                sd_event_source_set_time_relative(s->timer, (uint64_t) ms * 1000u);
                sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        } else
                sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        HttpServer *s = userdata;
        MHD_run(s->mhd);
        rearm(s);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        HttpServer *s = userdata;
        MHD_run(s->mhd);
        rearm(s);
        return 0;
}

HttpServer *http_server_free(HttpServer *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->mhd)
                MHD_stop_daemon(s->mhd);
        free(s);
        return NULL;
}

static int fail(char **error, const char *fmt, ...) _printf_(2, 3);
static int fail(char **error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (error && vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return 0;
}

int http_server_new(sd_event *e, const HttpServerConfig *c, HttpHandler handler, HttpBodyCap body_cap,
                    void *userdata, HttpServer **ret, char **error) {
        struct sockaddr_storage ss = {};
        socklen_t sl;
        int r;

        if (inet_pton(AF_INET, c->address, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
                ((struct sockaddr_in *) &ss)->sin_port = htons(c->port);
                sl = sizeof(struct sockaddr_in);
        } else if (inet_pton(AF_INET6, c->address, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *) &ss)->sin6_port = htons(c->port);
                sl = sizeof(struct sockaddr_in6);
        } else {
                fail(error, "listen address `%s' is not an IP address", c->address);
                return -EINVAL;
        }
        (void) sl;
        if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
                fail(error, "libmicrohttpd was built without epoll");
                return -EOPNOTSUPP;
        }
        bool tls = c->cert_pem && c->key_pem;
        if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
                fail(error, "libmicrohttpd was built without TLS");
                return -EOPNOTSUPP;
        }

        _cleanup_(http_server_freep) HttpServer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->handler = handler;
        s->body_cap = body_cap;
        s->userdata = userdata;
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
                         (tls ? MHD_USE_TLS : 0);
        struct MHD_OptionItem opts[] = {
                { MHD_OPTION_SOCK_ADDR, 0, &ss },
                { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t) c->header_bytes_max, NULL },
                { MHD_OPTION_CONNECTION_LIMIT, (intptr_t) c->connections_max, NULL },
                { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t) c->timeout_seconds, NULL },
                { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) on_completed, NULL },
                { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) on_mhd_log, NULL },
                { MHD_OPTION_LISTEN_BACKLOG_SIZE, 512, NULL },
                { tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *) c->key_pem },
                { tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *) c->cert_pem },
                { MHD_OPTION_END, 0, NULL },
        };
        s->mhd = MHD_start_daemon(flags, c->port, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        if (!s->mhd) {
                fail(error, "cannot listen on %s port %u (in use, or a bad TLS certificate or key)", c->address,
                     (unsigned) c->port);
                return -EADDRNOTAVAIL;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                fail(error, "libmicrohttpd has no epoll fd");
                return -EIO;
        }
        r = sd_event_add_io(e, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &s->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, s);
        if (r < 0) {
                fail(error, "cannot add the HTTP server to the event loop: %s", strerror(-r));
                return r;
        }
        sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        rearm(s);
        *ret = TAKE_PTR(s);
        return 0;
}
