/* HTTPS requests to the broker without blocking hostd's loop: libcurl's multi interface, its
 * sockets and its timer driven by sd-event sources (QEMU waits on hostd: nothing here may wait on
 * the network). One connection is kept alive between requests. The broker's certificate is
 * checked against a CA file, or pinned by the SHA-256 of its DER encoding (as tickets pin
 * hostd's). Every request has a deadline and a cap on the answer it keeps. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct BrokerHttp BrokerHttp;

typedef struct BrokerHttpConfig {
        const char *url;         /* "https://broker:8443" (a trailing '/' is allowed) */
        const char *token;       /* the bearer token, or NULL */
        const char *ca;          /* PEM file of CAs, or NULL */
        const uint8_t *fingerprint; /* 32 bytes: pin the certificate instead of a CA; or NULL */
        uint64_t timeout_usec;   /* per request, connecting included */
} BrokerHttpConfig;

/* What a request ended with. error: 0 when an HTTP answer came (status is then set, body holds
 * at most BROKER_HTTP_BODY_MAX bytes of it), else a negative errno (-ETIMEDOUT, -ECONNREFUSED,
 * -EPERM for a certificate that is not the broker's, -EIO) and message a sentence for the log. */
#define BROKER_HTTP_BODY_MAX (256 * 1024)
typedef struct BrokerHttpResult {
        int error;
        long status;
        const char *message;
        const char *body; /* NUL-terminated */
        size_t body_len;
} BrokerHttpResult;
typedef void (*BrokerHttpDoneFn)(void *userdata, const BrokerHttpResult *result);

/* The strings in config are copied. */
int broker_http_new(sd_event *event, const BrokerHttpConfig *config, BrokerHttp **ret);
/* Pending requests end without their callback. */
BrokerHttp *broker_http_free(BrokerHttp *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(BrokerHttp *, broker_http_free);

/* Starts a request; body (JSON, taken over: malloc'd, freed when the request ends) may be NULL.
 * done is called once, from the loop, never from inside this call. */
int broker_http_request(BrokerHttp *h, const char *method, const char *path, char *body, size_t body_len,
                        BrokerHttpDoneFn done, void *userdata);
/* Requests started and not ended. */
unsigned broker_http_pending(const BrokerHttp *h);
