#include "hostd-input-queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"

struct InputQueue {
        sd_event *event;
        sd_event_source *timer;
        InputSendFn send;
        void *userdata;
        InputCall calls[INPUT_QUEUE_MAX]; /* a ring */
        size_t head, n;
        uint64_t next_key; /* CLOCK_MONOTONIC usec before which no key event leaves */
};

static uint64_t now_usec(InputQueue *q) {
        uint64_t now;
        sd_event_now(q->event, CLOCK_MONOTONIC, &now);
        return now;
}

static int send_one(InputQueue *q, const InputCall *c, uint64_t now) {
        if (c->key)
                q->next_key = now + INPUT_KEY_GAP_USEC;
        return q->send(q->userdata, c);
}

/* Sends what may go now; arms the timer for the rest. */
static void drain(InputQueue *q) {
        uint64_t now = now_usec(q);
        while (q->n > 0) {
                const InputCall *c = &q->calls[q->head];
                if (c->key && now < q->next_key) {
                        (void) sd_event_source_set_time(q->timer, q->next_key);
                        (void) sd_event_source_set_enabled(q->timer, SD_EVENT_ONESHOT);
                        return;
                }
                int r = send_one(q, c, now);
                if (r < 0)
                        log_debug("input %s.%s not sent: %s", c->iface, c->member, strerror(-r));
                q->head = (q->head + 1) % INPUT_QUEUE_MAX;
                q->n--;
        }
        (void) sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        drain(userdata);
        return 0;
}

int input_queue_new(sd_event *event, InputSendFn send, void *userdata, InputQueue **ret) {
        InputQueue *q = calloc(1, sizeof(InputQueue));
        if (!q)
                return -ENOMEM;
        q->event = event;
        q->send = send;
        q->userdata = userdata;
        /* Accuracy 1 us: sd-event's default (0) lets a timer slip by 250 ms. */
        int r = sd_event_add_time(event, &q->timer, CLOCK_MONOTONIC, UINT64_MAX, 1, on_timer, q);
        if (r < 0) {
                free(q);
                return r;
        }
        (void) sd_event_source_set_enabled(q->timer, SD_EVENT_OFF);
        *ret = q;
        return 0;
}

InputQueue *input_queue_free(InputQueue *q) {
        if (!q)
                return NULL;
        sd_event_source_disable_unref(q->timer);
        free(q);
        return NULL;
}

int input_queue_push(InputQueue *q, const InputCall *call) {
        uint64_t now = now_usec(q);
        if (q->n == 0 && (!call->key || now >= q->next_key))
                return send_one(q, call, now);
        if (q->n == INPUT_QUEUE_MAX)
                return -ENOBUFS;
        q->calls[(q->head + q->n++) % INPUT_QUEUE_MAX] = *call;
        drain(q);
        return 0;
}

size_t input_queue_length(const InputQueue *q) {
        return q->n;
}
