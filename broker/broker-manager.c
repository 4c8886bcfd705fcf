#include "broker-manager.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic-file.h"
#include "broker-api.h"
#include "broker-store-fleet.h"
#include "log.h"
#include "tls.h"

static int fail(char **error, const char *fmt, ...) _printf_(2, 3);
static int fail(char **error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (error && vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return 0;
}

static int read_pem(const char *path, char **ret) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        free(buf);
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == cap) {
                        free(buf);
                        return -EFBIG;
                }
        }
        buf[len] = 0;
        *ret = buf;
        return 0;
}

/* The configured certificate, or one of our own in the state directory (made when missing). */
static int load_tls(Manager *m, char **ret_cert, char **ret_key, char **error) {
        const BrokerConfig *c = m->config;
        char cert[4096], key[4096];
        int r;
        if (c->tls_certificate) {
                snprintf(cert, sizeof(cert), "%s", c->tls_certificate);
                snprintf(key, sizeof(key), "%s", c->tls_key);
        } else {
                snprintf(cert, sizeof(cert), "%s/broker-cert.pem", c->state_directory);
                snprintf(key, sizeof(key), "%s/broker-key.pem", c->state_directory);
                if (access(cert, F_OK) < 0 || access(key, F_OK) < 0) {
                        char host[256] = "localhost";
                        if (gethostname(host, sizeof(host)) < 0 || !host[0])
                                snprintf(host, sizeof(host), "localhost");
                        r = tls_generate_self_signed(cert, key, host);
                        if (r < 0) {
                                fail(error, "%s: cannot make a self-signed certificate: %s", cert, strerror(-r));
                                return r;
                        }
                        log_info("Made a self-signed TLS certificate %s for %s", cert, host);
                }
        }
        r = read_pem(cert, ret_cert);
        if (r < 0) {
                fail(error, "%s: %s", cert, strerror(-r));
                return r;
        }
        r = read_pem(key, ret_key);
        if (r < 0) {
                free(*ret_cert);
                fail(error, "%s: %s", key, strerror(-r));
                return r;
        }
        return 0;
}

/* On first start (no admin token in the store), one is made and written to
 * StateDirectory/admin.token (0600): the way in for the first tandemctl. */
static int bootstrap_admin(Manager *m, char **error) {
        sqlite3_stmt *st;
        int r = store_prepare(m->store, "SELECT count(*) FROM api_tokens WHERE role = 'admin'", &st);
        if (r < 0)
                return r;
        r = store_step(m->store, st);
        int64_t admins = r > 0 ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (r < 0 || admins > 0)
                return r < 0 ? r : 0;
        char text[TOKEN_TEXT_MAX], path[4096];
        uint8_t hash[32];
        int64_t id, now = (int64_t) time(NULL);
        snprintf(path, sizeof(path), "%s/admin.token", m->config->state_directory);
        r = token_generate(text, hash);
        if (r < 0)
                return r;
        size_t n = strlen(text);
        text[n] = '\n';
        /* The file first: a token in the store that nobody has is worse than a file whose
         * token the store lacks (the next start makes another). */
        r = write_file_atomic(path, text, n + 1);
        if (r < 0) {
                fail(error, "%s: %s", path, strerror(-r));
                return r;
        }
        r = store_begin_immediate(m->store);
        if (r >= 0)
                r = token_insert(m->store, hash, ROLE_ADMIN, "admin", now, 0, &id);
        if (r >= 0)
                r = store_event_add(m->store, now, "broker", "token-create", "token", "1", "{\"role\":\"admin\",\"owner\":\"admin\",\"bootstrap\":true}");
        if (r >= 0)
                r = store_commit(m->store);
        else
                store_rollback(m->store);
        if (r < 0) {
                fail(error, "cannot store the first admin token: %s", store_errmsg(m->store));
                return r;
        }
        log_notice("First start: an admin token is in %s", path);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        http_server_free(m->http);
        broker_ticket_key_free(m->ticket_key);
        store_free(m->store);
        free(m);
        return NULL;
}

void manager_set_power(Manager *m, const BrokerPowerOps *ops, void *userdata) {
        m->power = ops ? *ops : (BrokerPowerOps) {};
        m->power_userdata = userdata;
}

int manager_new(BrokerConfig *config, sd_event *e, Manager **ret, char **error) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(*m));
        int r;
        if (!m)
                return -ENOMEM;
        m->config = config;
        m->event = e;
        m->started_usec = now_usec();
        if (mkdir(config->state_directory, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                fail(error, "%s: %s", config->state_directory, strerror(errno));
                return r;
        }
        r = store_open(config->database, config->busy_timeout_ms, &m->store, error);
        if (r < 0)
                return r;
        r = broker_ticket_key_open(config->state_directory, &m->ticket_key, error);
        if (r < 0)
                return r;
        r = bootstrap_admin(m, error);
        if (r < 0)
                return r;
        _cleanup_(freep) char *cert = NULL;
        _cleanup_(freep) char *key = NULL;
        if (!config->plain_http) {
                r = load_tls(m, &cert, &key, error);
                if (r < 0)
                        return r;
        }
        HttpServerConfig hc = {
                .address = config->listen_address,
                .port = config->listen_port,
                .cert_pem = cert,
                .key_pem = key,
                .header_bytes_max = config->max_header_bytes,
                .connections_max = config->max_connections,
                .timeout_seconds = config->connection_timeout,
        };
        r = http_server_new(e, &hc, api_handle, api_body_cap, m, &m->http, error);
        if (r < 0)
                return r;
        log_info("Listening on %s (%s), store %s at version %u", config->listen, config->plain_http ? "plain HTTP" : "HTTPS",
                 config->database, store_version(m->store));
        *ret = TAKE_PTR(m);
        return 0;
}
