/* Input on its way to QEMU, at a pace its emulated devices take. A PS/2 keyboard queues 16
 * bytes and QEMU drops what does not fit: a burst of key events (what a retransmission released
 * at once, a fast script) loses keys in the guest, and a lost Shift release leaves Shift down.
 * Key events leave at most one per INPUT_KEY_GAP_USEC; other events follow in order, without a
 * gap. Bounded: a full queue refuses. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define INPUT_KEY_GAP_USEC 5000
#define INPUT_QUEUE_MAX 1024

typedef struct InputCall {
        unsigned console;
        const char *iface, *member, *signature; /* static strings */
        uint32_t a, b;
        bool key;
} InputCall;

/* Sends one call now: 0 or a negative errno (logged by the queue, then dropped). */
typedef int (*InputSendFn)(void *userdata, const InputCall *call);

typedef struct InputQueue InputQueue;

int input_queue_new(sd_event *event, InputSendFn send, void *userdata, InputQueue **ret);
InputQueue *input_queue_free(InputQueue *q);
/* Sends at once when nothing waits and the key gap allows, else queues: 0, -ENOBUFS when full,
 * or the send's error when sent at once. */
int input_queue_push(InputQueue *q, const InputCall *call);
size_t input_queue_length(const InputQueue *q);
