#include "hostd-broker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "hostd-broker-answer.h"
#include "hostd-broker-http.h"
#include "hostd-manager.h"
#include "hostd-viewer-server.h"
#include "log.h"
#include "ticket.h"

#define BACKOFF_MAX_SECONDS 60
#define TOKEN_FILE_MAX 4096

static void schedule(BrokerClient *b, sd_event_source **timer, sd_event_time_handler_t fn, uint64_t delay_usec) {
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        if (!*timer && sd_event_add_time(b->manager->event, timer, CLOCK_MONOTONIC, 0, 0, fn, b) < 0) {
                log_error("Broker: cannot arm a timer, the broker client stops");
                return;
        }
        sd_event_source_set_time(*timer, now + delay_usec);
        sd_event_source_set_enabled(*timer, SD_EVENT_ONESHOT);
}

static unsigned next_backoff(unsigned *backoff) {
        *backoff = *backoff ? MIN(*backoff * 2, (unsigned) BACKOFF_MAX_SECONDS) : 1;
        return *backoff;
}

/* One line when the broker stops answering, one when it answers again; nothing in between. */
static void outage_begin(BrokerClient *b, const char *what, const char *why) {
        snprintf(b->last_error, sizeof(b->last_error), "%s: %s", what, why);
        if (b->outage)
                return;
        b->outage = true;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &b->outage_usec);
        b->reports_dropped_outage = 0;
        log_warning("Broker %s unreachable (%s: %s); reports are dropped and requests retried until it answers",
                    b->url, what, why);
}

static void outage_end(BrokerClient *b) {
        if (!b->outage)
                return;
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        b->outage = false;
        log_info("Broker %s answers again after %" PRIu64 " s (%" PRIu64 " report(s) dropped meanwhile)", b->url,
                 (now - b->outage_usec) / 1000000, b->reports_dropped_outage);
}

/* An HTTP answer that is a refusal: the broker is up but says no. Logged at each change of what
 * it says, so a wrong token is seen at once and not repeated every few seconds. */
static void refused(BrokerClient *b, const char *what, const BrokerHttpResult *res) {
        char code[64], message[160], line[sizeof(((BrokerClient *) NULL)->last_error)];
        broker_answer_error(res->body, res->body_len, res->status, code, sizeof(code), message, sizeof(message));
        outage_end(b);
        if (snprintf(line, sizeof(line), "%.24s: %ld %s: %s", what, res->status, code, message) < 0)
                line[0] = 0;
        if (strcmp(line, b->last_error) != 0)
                log_error("Broker %s refused %s", b->url, line);
        snprintf(b->last_error, sizeof(b->last_error), "%s", line);
}

/* ---- the ticket key ---- */

static void key_fetch(BrokerClient *b);

static int on_key_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        key_fetch(userdata);
        return 0;
}

static void key_retry(BrokerClient *b) {
        schedule(b, &b->key_timer, on_key_timer, (uint64_t) next_backoff(&b->key_backoff) * 1000000ULL);
}

static void on_key(void *userdata, const BrokerHttpResult *res) {
        BrokerClient *b = userdata;
        b->key_fetching = false;
        if (res->error < 0) {
                outage_begin(b, "ticket key", res->message);
                key_retry(b);
                return;
        }
        if (res->status != 200) {
                refused(b, "GET /v1/ticket-key", res);
                key_retry(b);
                return;
        }
        outage_end(b);
        EVP_PKEY *key = NULL;
        int r = ticket_key_parse_public(res->body, res->body_len, &key);
        if (r < 0) {
                if (!strstr(b->last_error, "not an Ed25519"))
                        log_error("Broker %s served a ticket key that is not an Ed25519 public key, keeping %s", b->url,
                                  b->have_key ? "the last good one" : "none (viewers are refused)");
                snprintf(b->last_error, sizeof(b->last_error), "ticket key: not an Ed25519 public key");
                key_retry(b);
                return;
        }
        r = viewer_server_set_ticket_key(b->manager->viewers, key);
        EVP_PKEY_free(key);
        if (r < 0) {
                log_error_errno(r, "Cannot use the broker's ticket key: %m");
                key_retry(b);
                return;
        }
        if (r > 0 || !b->have_key)
                log_info("Viewers: tickets are checked with the broker's key (from %s)", b->url);
        b->have_key = true;
        b->key_backoff = 0;
}

static void key_fetch(BrokerClient *b) {
        if (!b->key_wanted || b->key_fetching)
                return;
        int r = broker_http_request(b->http, "GET", "/v1/ticket-key", NULL, 0, on_key, b);
        if (r < 0) {
                log_error_errno(r, "Broker: cannot start a request: %m, retrying");
                key_retry(b);
                return;
        }
        b->key_fetching = true;
}

/* ---- registration ---- */

static void register_host(BrokerClient *b);

static int on_register_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        register_host(userdata);
        return 0;
}

static void register_retry(BrokerClient *b) {
        schedule(b, &b->register_timer, on_register_timer, (uint64_t) next_backoff(&b->register_backoff) * 1000000ULL);
}

static void on_registered(void *userdata, const BrokerHttpResult *res) {
        BrokerClient *b = userdata;
        b->registering = false;
        if (res->error < 0) {
                outage_begin(b, "register", res->message);
                register_retry(b);
                return;
        }
        if (res->status != 200) {
                refused(b, "POST /v1/hosts", res);
                register_retry(b);
                return;
        }
        outage_end(b);
        b->registered = true;
        b->register_backoff = 0;
        b->last_error[0] = 0;
        log_info("Registered with the broker %s as host %s (viewers dial %s)", b->url, b->host_name, b->address);
        /* A broker that came back may be a new one: take its key again. */
        key_fetch(b);
        /* The first report right away: until it comes the broker has not placed our desktops. */
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        if (b->report_timer)
                sd_event_source_set_time(b->report_timer, now);
}

static void register_host(BrokerClient *b) {
        if (b->registering)
                return;
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", b->host_name, "libvirt_uri", b->libvirt_uri, "address",
                              b->address, "fingerprint", b->fingerprint);
        if (o && b->manager->config.broker.capacity > 0)
                json_object_set_new(o, "capacity", json_integer(b->manager->config.broker.capacity));
        char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!body) {
                log_error("Broker: out of memory, retrying the registration");
                register_retry(b);
                return;
        }
        int r = broker_http_request(b->http, "POST", "/v1/hosts", body, strlen(body), on_registered, b);
        if (r < 0) {
                log_error_errno(r, "Broker: cannot start a request: %m, retrying");
                register_retry(b);
                return;
        }
        b->registering = true;
}

/* ---- reports ---- */

static void on_reported(void *userdata, const BrokerHttpResult *res) {
        BrokerClient *b = userdata;
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        b->reporting = false;
        bool ok = res->error >= 0 && res->status == 200;
        /* A report the broker refuses for its content is not sent again: the same content would be
         * refused forever. Refusals of who we are, or of now, keep it for the next report. */
        bool refused_content = res->error >= 0 && res->status >= 400 && res->status < 500 && res->status != 401 &&
                               res->status != 403 && res->status != 404 && res->status != 408 && res->status != 429;
        broker_report_finish(b, ok || refused_content, now);
        if (ok) {
                BrokerPowerAsk asks[BROKER_ASKS_MAX];
                size_t n = broker_answer_requests(res->body, res->body_len, asks, BROKER_ASKS_MAX);
                broker_power_take(b, asks, n);
                outage_end(b);
                b->reports_sent++;
                b->last_report_usec = now;
                if (b->last_error[0] && !b->outage)
                        b->last_error[0] = 0;
                return;
        }
        b->reports_failed++;
        if (res->error < 0) {
                outage_begin(b, "report", res->message);
                b->reports_dropped_outage++;
                return;
        }
        refused(b, "a report", res);
        /* The broker does not know this host (a new store): register again. */
        if (res->status == 404 && !b->registering) {
                b->registered = false;
                register_host(b);
        }
}

static void report(BrokerClient *b) {
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        if (!b->registered)
                return; /* the registration's retries carry on */
        if (b->reporting) {
                /* The last one has not come back: this one is dropped, not queued. */
                b->reports_dropped++;
                if (b->outage)
                        b->reports_dropped_outage++;
                return;
        }
        char *body = NULL;
        size_t len = 0;
        int r = broker_report_build(b, now, &body, &len);
        if (r < 0) {
                log_warning_errno(r, "Broker: cannot build a report: %m, skipping it");
                return;
        }
        char path[128];
        snprintf(path, sizeof(path), "/v1/hosts/%s/report", b->host_name);
        r = broker_http_request(b->http, "POST", path, body, len, on_reported, b);
        if (r < 0) {
                broker_report_finish(b, false, now);
                log_warning_errno(r, "Broker: cannot start a report: %m, skipping it");
                return;
        }
        b->reporting = true;
}

static int on_report_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        BrokerClient *b = userdata;
        sd_event_source_set_time(s, usec + (uint64_t) b->manager->config.broker.report_seconds * 1000000ULL);
        report(b);
        return 0;
}

/* ---- set-up ---- */

static int read_token(const char *path, char **ret) {
        char buf[TOKEN_FILE_MAX + 1];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, sizeof(buf));
        int e = errno;
        close(fd);
        if (n < 0)
                return -e;
        if ((size_t) n > TOKEN_FILE_MAX)
                return -EFBIG;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                n--;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] <= ' ' || buf[i] > '~')
                        return -EBADMSG;
        if (n == 0)
                return -ENODATA;
        *ret = strndup(buf, (size_t) n);
        return *ret ? 0 : -ENOMEM;
}

/* The address viewers dial: Address=, else Listen='s when it names an address, else this host's
 * name with Listen='s port. */
static int viewer_address(const HostdConfig *c, const char *host_name, char ret[256]) {
        const char *a = c->broker.address;
        char name[256];
        uint16_t port;
        if (a && a[0]) {
                if (ticket_host_split(a, name, sizeof(name), &port) < 0)
                        return -EINVAL;
                snprintf(ret, 256, "%s", a);
                return 0;
        }
        if (!c->listen || !c->listen[0] || ticket_host_split(c->listen, name, sizeof(name), &port) < 0)
                return -EINVAL;
        if (strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0)
                snprintf(ret, 256, "%s:%u", host_name, port);
        else
                snprintf(ret, 256, "%s", c->listen);
        return 0;
}

int broker_client_new(Manager *m, BrokerClient **ret) {
        const HostdBrokerConfig *c = &m->config.broker;
        _cleanup_(broker_client_freep) BrokerClient *b = NULL;
        _cleanup_(freep) char *token = NULL;
        int r;

        if (!hostd_broker_config_enabled(c)) {
                *ret = NULL;
                return 0;
        }
        b = calloc(1, sizeof(BrokerClient));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        b->url = strdup(c->url);
        b->libvirt_uri = strdup(c->libvirt_uri && c->libvirt_uri[0] ? c->libvirt_uri : m->config.uri);
        if (!b->url || !b->libvirt_uri)
                return -ENOMEM;
        if (c->token_file && c->token_file[0]) {
                r = read_token(c->token_file, &token);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the broker token from %s: %m", c->token_file);
        } else if (!(token = strdup(c->token)))
                return -ENOMEM;

        if (c->host_name && c->host_name[0])
                snprintf(b->host_name, sizeof(b->host_name), "%s", c->host_name);
        else {
                char host[256] = "";
                gethostname(host, sizeof(host) - 1);
                host[strcspn(host, ".")] = 0;
                if (!hostd_broker_name_valid(host, strlen(host))) {
                        log_error("This machine's name `%s' is not a broker host name: set [Broker] HostName=", host);
                        return -EINVAL;
                }
                snprintf(b->host_name, sizeof(b->host_name), "%s", host);
        }
        r = viewer_address(&m->config, b->host_name, b->address);
        if (r < 0) {
                log_error("Broker: no address for viewers to dial: set [Broker] Address=NAME:PORT (Listen= is `%s')",
                          m->config.listen ? m->config.listen : "");
                return r;
        }
        if (m->viewers) {
                uint8_t fp[TICKET_FINGERPRINT_SIZE];
                if (ticket_fingerprint_load(m->config.certificate, fp) == 0)
                        for (size_t i = 0; i < sizeof(fp); i++)
                                snprintf(b->fingerprint + 2 * i, 3, "%02x", fp[i]);
        }
        uint8_t pin[32];
        bool pinned = c->fingerprint && c->fingerprint[0] &&
                      hostd_broker_fingerprint_parse(c->fingerprint, strlen(c->fingerprint), pin) == 0;
        uint64_t timeout = MIN(MAX((uint64_t) c->report_seconds * 2, 10), 60) * 1000000ULL;
        BrokerHttpConfig hc = { .url = c->url, .token = token, .ca = c->ca && c->ca[0] ? c->ca : NULL,
                                .fingerprint = pinned ? pin : NULL, .timeout_usec = timeout };
        r = broker_http_new(m->event, &hc, &b->http);
        if (r < 0)
                return log_error_errno(r, "Broker: cannot set up HTTPS to %s: %m", c->url);
        /* TicketPublicKey= set: that file is the key; else the broker's. */
        b->key_wanted = !m->config.ticket_public_key && m->viewers;
        *ret = TAKE_PTR(b);
        return 0;
}

BrokerClient *broker_client_free(BrokerClient *b) {
        if (!b)
                return NULL;
        broker_http_free(b->http);
        sd_event_source_disable_unref(b->register_timer);
        sd_event_source_disable_unref(b->key_timer);
        sd_event_source_disable_unref(b->report_timer);
        free(b->url);
        free(b->libvirt_uri);
        free(b->thumbs);
        free(b->events);
        broker_agent_done(b);
        broker_power_done(b);
        free(b->viewer_bytes);
        free(b);
        return NULL;
}

int broker_client_start(BrokerClient *b) {
        if (!b)
                return 0;
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        log_info("Broker: %s, host %s, reports every %u s%s", b->url, b->host_name,
                 b->manager->config.broker.report_seconds, b->key_wanted ? ", ticket key from the broker" : "");
        register_host(b);
        key_fetch(b);
        int r = sd_event_add_time(b->manager->event, &b->report_timer, CLOCK_MONOTONIC,
                                  now + (uint64_t) b->manager->config.broker.report_seconds * 1000000ULL, 0,
                                  on_report_timer, b);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(b->report_timer, SD_EVENT_ON);
}

char *broker_client_status_json(BrokerClient *b) {
        if (!b)
                return NULL;
        uint64_t now;
        sd_event_now(b->manager->event, CLOCK_MONOTONIC, &now);
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "url", b->url, "host",
                              b->host_name, "address", b->address, "registered", b->registered, "reachable",
                              !b->outage, "ticket_key",
                              !b->key_wanted ? "file" : b->have_key ? "broker" : "none", "reports_sent",
                              (json_int_t) b->reports_sent, "reports_failed", (json_int_t) b->reports_failed,
                              "reports_dropped", (json_int_t) b->reports_dropped, "thumbnails_sent",
                              (json_int_t) b->thumbnails_sent, "session_events_dropped",
                              (json_int_t) b->events_dropped, "last_error", b->last_error);
        unsigned running, unreported;
        broker_power_count(b, &running, &unreported);
        if (o) {
                json_object_set_new(o, "power_requests_running", json_integer(running));
                json_object_set_new(o, "power_results_unreported", json_integer(unreported));
        }
        if (o)
                json_object_set_new(o, "last_report_age_ms",
                                    b->last_report_usec ? json_integer((json_int_t) ((now - b->last_report_usec) / 1000))
                                                        : json_null());
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return s;
}
