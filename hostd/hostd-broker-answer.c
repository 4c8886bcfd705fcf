#include "hostd-broker-answer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

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
