#include "hostd-broker-answer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hostd-conf.h"

/* Errors are small: a longer body is not one worth parsing. */
#define ERROR_BODY_MAX 8192

static void copy_printable(char *out, size_t size, const char *s, size_t len) {
        if (size == 0)
                return;
        size_t n = len < size - 1 ? len : size - 1;
        for (size_t i = 0; i < n; i++)
                out[i] = (s[i] >= ' ' && s[i] <= '~') ? s[i] : '?';
        out[n] = 0;
}

int broker_answer_error(const char *data, size_t len, long status, char *code, size_t code_size, char *message,
                        size_t message_size) {
        json_t *root = NULL;
        int r = -EBADMSG;
        if (len > 0 && len <= ERROR_BODY_MAX)
                root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
        json_t *c = json_is_object(err) ? json_object_get(err, "code") : NULL;
        json_t *m = json_is_object(err) ? json_object_get(err, "message") : NULL;
        if (json_is_string(c) && json_is_string(m)) {
                copy_printable(code, code_size, json_string_value(c), json_string_length(c));
                copy_printable(message, message_size, json_string_value(m), json_string_length(m));
                r = 0;
        } else {
                if (code_size > 0)
                        code[0] = 0;
                if (message_size > 0)
                        snprintf(message, message_size, "HTTP status %ld without a JSON error", status);
        }
        json_decref(root);
        return r;
}

/* Report answers carry up to 64 small requests besides a few counters. */
#define REPORT_ANSWER_MAX (64 * 1024)

size_t broker_answer_requests(const char *data, size_t len, BrokerPowerAsk *out, size_t max) {
        json_t *root = NULL;
        size_t n = 0;
        if (len > 0 && len <= REPORT_ANSWER_MAX)
                root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
        json_t *list = json_is_object(root) ? json_object_get(root, "requests") : NULL;
        size_t i;
        json_t *q;
        json_array_foreach(list, i, q) {
                if (n >= max)
                        break;
                json_t *id = json_object_get(q, "id"), *domain = json_object_get(q, "domain"),
                       *action = json_object_get(q, "action");
                if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_string(domain) ||
                    !json_is_string(action))
                        continue;
                const char *name = json_string_value(domain), *a = json_string_value(action);
                size_t name_len = json_string_length(domain);
                if (!hostd_broker_name_valid(name, name_len) || name_len > BROKER_ASK_DOMAIN_MAX)
                        continue;
                bool shutdown = strcmp(a, "shutdown") == 0;
                if (!shutdown && strcmp(a, "reboot") != 0)
                        continue;
                out[n] = (BrokerPowerAsk) { .id = json_integer_value(id), .shutdown = shutdown };
                memcpy(out[n].domain, name, name_len + 1);
                n++;
        }
        json_decref(root);
        return n;
}
