/* What hostd reads of the broker's answers: its JSON errors ({"error":{"code","message"}}) for
 * the log. The broker is a peer: anything else (not JSON, wrong shape, huge, control characters)
 * gives a generic description, never a failure of hostd. */
#pragma once

#include <stddef.h>

/* Fills code and message (NUL-terminated, truncated to their sizes, printable ASCII only: other
 * bytes become '?'). Returns 0, or -EBADMSG when data is not such an error (code and message are
 * then "" and a description of the status). */
int broker_answer_error(const char *data, size_t len, long status, char *code, size_t code_size, char *message,
                        size_t message_size);
