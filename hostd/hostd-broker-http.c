#include "hostd-broker-http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "ticket.h"

typedef struct Request Request;

struct BrokerHttp {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        struct curl_slist *headers;
        char *url; /* without a trailing '/' */
        char *ca;
        uint8_t fingerprint[TICKET_FINGERPRINT_SIZE];
        bool pinned;
        uint64_t timeout_usec;
        Request *requests;
        unsigned pending;
};

struct Request {
        BrokerHttp *http;
        Request *prev, *next;
        CURL *easy;
        char *body;
        char *answer;
        size_t answer_len;
        bool too_large;
        char errbuf[CURL_ERROR_SIZE];
        BrokerHttpDoneFn done;
        void *userdata;
};

static int ssl_ex_index = -1;

static void request_free(Request *q) {
        BrokerHttp *h = q->http;
        if (q->prev)
                q->prev->next = q->next;
        else
                h->requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        h->pending--;
        if (q->easy) {
                curl_multi_remove_handle(h->multi, q->easy);
                curl_easy_cleanup(q->easy);
        }
        free(q->body);
        free(q->answer);
        free(q);
}

/* Pinning: the leaf certificate's SHA-256 (DER) must be the configured one; the chain and the
 * names in it do not matter, as with tickets pinning hostd's certificate. */
static int verify_pinned(int preverify_ok, X509_STORE_CTX *store) {
        if (X509_STORE_CTX_get_error_depth(store) > 0)
                return 1;
        SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
        BrokerHttp *h = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_ex_index) : NULL;
        X509 *cert = X509_STORE_CTX_get_current_cert(store);
        uint8_t fp[TICKET_FINGERPRINT_SIZE];
        if (!h || !cert || ticket_fingerprint_x509(cert, fp) < 0 || memcmp(fp, h->fingerprint, sizeof(fp)) != 0) {
                X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
                return 0;
        }
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return 1;
}

static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userdata) {
        SSL_CTX *ctx = ssl_ctx;
        if (SSL_CTX_set_ex_data(ctx, ssl_ex_index, userdata) != 1)
                return CURLE_SSL_CERTPROBLEM;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pinned);
        return CURLE_OK;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Request *q = userdata;
        size_t n = size * nmemb;
        if (n > BROKER_HTTP_BODY_MAX - q->answer_len) {
                q->too_large = true;
                return 0; /* aborts the transfer */
        }
        char *p = realloc(q->answer, q->answer_len + n + 1);
        if (!p)
                return 0;
        memcpy(p + q->answer_len, ptr, n);
        q->answer = p;
        q->answer_len += n;
        p[q->answer_len] = 0;
        return n;
}

static int curl_errno(CURLcode c) {
        switch (c) {
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
                return -EPERM;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                return -ECONNRESET;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

static void check_done(BrokerHttp *h) {
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(h->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                Request *q = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &q);
                if (!q)
                        continue;
                CURLcode code = msg->data.result;
                BrokerHttpResult res = { .body = q->answer ? q->answer : "", .body_len = q->answer_len };
                if (code == CURLE_OK)
                        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &res.status);
                else if (q->too_large) {
                        res.error = -EFBIG;
                        res.message = "the broker's answer is too large";
                } else {
                        res.error = curl_errno(code);
                        res.message = q->errbuf[0] ? q->errbuf : curl_easy_strerror(code);
                        /* An SSL handshake our pin refused surfaces as a generic SSL error. */
                        if (h->pinned && (code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION)) {
                                res.error = -EPERM;
                                res.message = "the broker's certificate is not the pinned one (Fingerprint=)";
                        }
                }
                BrokerHttpDoneFn done = q->done;
                void *userdata = q->userdata;
                char message[CURL_ERROR_SIZE];
                if (res.message) {
                        snprintf(message, sizeof(message), "%s", res.message);
                        res.message = message;
                }
                /* The callback may start the next request; this one is gone by then. */
                char *answer = TAKE_PTR(q->answer);
                request_free(q);
                if (done)
                        done(userdata, &res);
                free(answer);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BrokerHttp *h = userdata;
        int mask = 0, running;
        if (revents & EPOLLIN)
                mask |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                mask |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(h->multi, fd, mask, &running);
        check_done(h);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        BrokerHttp *h = userdata;
        int running;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(h);
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userdata, void *socketp) {
        BrokerHttp *h = userdata;
        sd_event_source *io = socketp;
        if (what == CURL_POLL_REMOVE) {
                sd_event_source_disable_unref(io);
                curl_multi_assign(h->multi, fd, NULL);
                return 0;
        }
        uint32_t events = (what == CURL_POLL_IN ? EPOLLIN : what == CURL_POLL_OUT ? EPOLLOUT : EPOLLIN | EPOLLOUT);
        if (io)
                return sd_event_source_set_io_events(io, events) < 0 ? -1 : 0;
        if (sd_event_add_io(h->event, &io, fd, events, on_io, h) < 0)
                return -1;
        curl_multi_assign(h->multi, fd, io);
        return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userdata) {
        BrokerHttp *h = userdata;
        if (timeout_ms < 0)
                return sd_event_source_set_enabled(h->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        uint64_t now;
        sd_event_now(h->event, CLOCK_MONOTONIC, &now);
        /* Never act from inside curl's own call: the loop runs the timer at once when it is 0. */
        if (sd_event_source_set_time(h->timer, now + (uint64_t) timeout_ms * 1000) < 0 ||
            sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

int broker_http_new(sd_event *event, const BrokerHttpConfig *config, BrokerHttp **ret) {
        _cleanup_(broker_http_freep) BrokerHttp *h = NULL;
        static bool curl_ready;
        if (!config->url || !config->url[0])
                return -EINVAL;
        if (!curl_ready) {
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -EIO;
                curl_ready = true;
        }
        if (ssl_ex_index < 0) {
                ssl_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
                if (ssl_ex_index < 0)
                        return -EIO;
        }
        h = calloc(1, sizeof(BrokerHttp));
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->timeout_usec = config->timeout_usec ? config->timeout_usec : 10 * 1000000ULL;
        size_t n = strlen(config->url);
        while (n > 0 && config->url[n - 1] == '/')
                n--;
        h->url = strndup(config->url, n);
        if (!h->url || (config->ca && !(h->ca = strdup(config->ca))))
                return -ENOMEM;
        if (config->fingerprint) {
                memcpy(h->fingerprint, config->fingerprint, sizeof(h->fingerprint));
                h->pinned = true;
        }
        char auth[1024];
        if (config->token) {
                if ((size_t) snprintf(auth, sizeof(auth), "Authorization: Bearer %s", config->token) >= sizeof(auth))
                        return -EINVAL;
                h->headers = curl_slist_append(h->headers, auth);
                if (!h->headers)
                        return -ENOMEM;
        }
        /* No "Expect: 100-continue" round trip before a large report. */
        struct curl_slist *l = curl_slist_append(h->headers, "Expect:");
        if (!l)
                return -ENOMEM;
        h->headers = l;
        l = curl_slist_append(h->headers, "Content-Type: application/json");
        if (!l)
                return -ENOMEM;
        h->headers = l;
        h->multi = curl_multi_init();
        if (!h->multi)
                return -ENOMEM;
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
        curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
        /* One connection per request in flight (at most three: registration, key, report): a
         * request never waits for another's connection to see whether it could share it, and a
         * hung report cannot hold up the key. Idle ones are kept for the next request. */
        curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_NOTHING);
        curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 4L);
        int r = sd_event_add_time(event, &h->timer, CLOCK_MONOTONIC, 0, 0, on_timer, h);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
        *ret = TAKE_PTR(h);
        return 0;
}

BrokerHttp *broker_http_free(BrokerHttp *h) {
        if (!h)
                return NULL;
        while (h->requests)
                request_free(h->requests);
        if (h->multi)
                curl_multi_cleanup(h->multi); /* closes the kept connection: REMOVE for its socket */
        sd_event_source_disable_unref(h->timer);
        curl_slist_free_all(h->headers);
        sd_event_unref(h->event);
        free(h->url);
        free(h->ca);
        free(h);
        return NULL;
}

int broker_http_request(BrokerHttp *h, const char *method, const char *path, char *body, size_t body_len,
                        BrokerHttpDoneFn done, void *userdata) {
        Request *q = calloc(1, sizeof(Request));
        if (!q) {
                free(body);
                return -ENOMEM;
        }
        q->http = h;
        q->body = body;
        q->done = done;
        q->userdata = userdata;
        q->next = h->requests;
        if (h->requests)
                h->requests->prev = q;
        h->requests = q;
        h->pending++;

        char *url = NULL;
        if (asprintf(&url, "%s%s", h->url, path) < 0) {
                request_free(q);
                return -ENOMEM;
        }
        q->easy = curl_easy_init();
        if (!q->easy) {
                free(url);
                request_free(q);
                return -ENOMEM;
        }
        CURL *e = q->easy;
        long timeout_ms = (long) (h->timeout_usec / 1000);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, q);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, MIN(timeout_ms, 5000L));
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
        if (body) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
        } else if (strcmp(method, "GET") == 0)
                curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (h->pinned) {
                /* curl's own check would refuse a self-signed certificate; ours pins it. */
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
                curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
                curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, h);
        } else if (h->ca)
                curl_easy_setopt(e, CURLOPT_CAINFO, h->ca);
        CURLMcode mc = curl_multi_add_handle(h->multi, e);
        free(url);
        if (mc != CURLM_OK) {
                request_free(q);
                return -EIO;
        }
        return 0;
}

unsigned broker_http_pending(const BrokerHttp *h) {
        return h ? h->pending : 0;
}
