/* tandemctl's HTTP side: libcurl, the bearer token, answers and the exit codes they map to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "tandemctl.h"

#define RESPONSE_MAX (64u << 20)

void ctl_response_done(CtlResponse *r) {
        free(r->body);
        json_decref(r->json);
        *r = (CtlResponse) {};
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        CtlResponse *r = userdata;
        size_t add = size * n;
        if (r->len + add > RESPONSE_MAX)
                return 0; /* makes curl fail: a broker does not answer 64 MiB */
        char *b = realloc(r->body, r->len + add + 1);
        if (!b)
                return 0;
        memcpy(b + r->len, p, add);
        r->body = b;
        r->len += add;
        r->body[r->len] = 0;
        return add;
}

char *ctl_escape(const char *segment) {
        char *e = curl_easy_escape(NULL, segment, 0), *copy = e ? strdup(e) : NULL;
        curl_free(e);
        return copy;
}

int ctl_request(const char *method, const char *path, json_t *body, CtlResponse *ret) {
        CtlResponse r = {};
        char url[4096], auth[256], errbuf[CURL_ERROR_SIZE] = "";
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        snprintf(url, sizeof(url), "%s%s", ctl.broker, path);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ctl.token ? ctl.token : "");
        CURL *h = curl_easy_init();
        if (!h) {
                free(text);
                fprintf(stderr, "tandemctl: out of memory\n");
                return CTL_UNREACHABLE;
        }
        struct curl_slist *headers = NULL;
        if (ctl.token)
                headers = curl_slist_append(headers, auth);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
        if (ctl.ca)
                curl_easy_setopt(h, CURLOPT_CAINFO, ctl.ca);
        if (text)
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(h);
        free(text);
        if (rc != CURLE_OK) {
                ctl_response_done(&r);
                fprintf(stderr, "tandemctl: cannot reach the broker at %s: %s\n", ctl.broker,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
                if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                    rc == CURLE_SSL_CONNECT_ERROR)
                        fprintf(stderr, "  The broker's certificate is not trusted: pass --ca with it "
                                        "(the broker's StateDirectory/broker-cert.pem) or its CA.\n");
                else
                        fprintf(stderr, "  Is tandem-broker running there? Set --broker or TANDEM_BROKER.\n");
                return CTL_UNREACHABLE;
        }
        if (r.body)
                r.json = json_loadb(r.body, r.len, 0, NULL);
        *ret = r;
        return CTL_OK;
}

int ctl_check(const CtlResponse *r, const char *doing) {
        if (r->status >= 200 && r->status < 300)
                return CTL_OK;
        const char *code = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
        const char *message = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
        fprintf(stderr, "tandemctl: %s: %s (%ld%s%s)\n", doing, message ? message : "the broker refused", r->status,
                code ? " " : "", code ? code : "");
        switch (r->status) {
        case 401:
                fprintf(stderr, "  Give a valid token: --token-file FILE, TANDEM_TOKEN_FILE or TANDEM_TOKEN "
                                "(the first admin token is the broker's StateDirectory/admin.token).\n");
                return CTL_DENIED;
        case 403:
                fprintf(stderr, "  This token's role may not do that; ask an admin for a token with the right role.\n");
                return CTL_DENIED;
        case 404:
                return CTL_NOT_FOUND;
        case 409:
                return CTL_CONFLICT;
        case 503:
                return CTL_UNAVAILABLE;
        default:
                return r->status >= 500 ? CTL_BROKER_ERROR : CTL_REFUSED;
        }
}

int ctl_list_all(const char *path, const char *query, const char *doing, json_t **ret) {
        json_t *all = json_array();
        char cursor[64] = "";
        for (;;) {
                char p[2048];
                snprintf(p, sizeof(p), "%s?%slimit=1000%s%s", path, query, cursor[0] ? "&cursor=" : "", cursor);
                CtlResponse r;
                int k = ctl_request("GET", p, NULL, &r);
                if (k == CTL_OK)
                        k = ctl_check(&r, doing);
                if (k != CTL_OK) {
                        if (k != CTL_UNREACHABLE)
                                ctl_response_done(&r);
                        json_decref(all);
                        return k;
                }
                json_array_extend(all, json_object_get(r.json, "items"));
                const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
                bool more = next && strlen(next) < sizeof(cursor);
                if (more)
                        snprintf(cursor, sizeof(cursor), "%s", next);
                ctl_response_done(&r);
                if (!more)
                        break;
        }
        *ret = all;
        return CTL_OK;
}
