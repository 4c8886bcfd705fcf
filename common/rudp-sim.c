/* The simulated path: datagrams in flight are events in a heap ordered by arrival time; the
 * bottleneck queue is the time its link stays busy (backlog = busy time × rate). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rudp-sim.h"

typedef struct Event {
        uint64_t time, seq;
        int to;
        uint16_t len;
        uint8_t data[RUDP_DATAGRAM_MAX];
} Event;

typedef struct SimLink {
        SimLinkConfig cfg;
        uint64_t busy_until_ns; /* the link's clock runs in nanoseconds: a gigabit packet is 9.6 us */
        bool bad; /* in a loss burst */
        SimLinkStats stats;
} SimLink;

struct Sim {
        uint64_t now, seq, rng;
        Rudp *ep[2];
        SimLink link[2];
        Event **heap;
        size_t n, cap;
        Event *spare;
        SimApp app;
        void *userdata;
        uint64_t wake;
        uint64_t tick; /* usec; 0: the endpoints act at every event */
        bool stop;
};

uint64_t sim_rand(Sim *s) {
        s->rng ^= s->rng >> 12;
        s->rng ^= s->rng << 25;
        s->rng ^= s->rng >> 27;
        return s->rng * 0x2545f4914f6cdd1dull;
}

static double uniform(Sim *s) {
        return (double) (sim_rand(s) >> 11) / (double) (UINT64_C(1) << 53);
}

int sim_new(Rudp *a, Rudp *b, const SimLinkConfig *ab, const SimLinkConfig *ba, uint64_t seed, Sim **ret) {
        Sim *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ep[0] = a;
        s->ep[1] = b;
        s->link[0].cfg = *ab;
        s->link[1].cfg = *ba;
        for (int i = 0; i < 2; i++) {
                SimLinkConfig *c = &s->link[i].cfg;
                if (c->queue_bytes == 0 && c->rate_bps > 0)
                        c->queue_bytes = MAX((size_t) (c->rate_bps / 8 * 2 * c->delay_usec / 1000000), (size_t) 65536);
        }
        s->rng = seed * 0x9e3779b97f4a7c15ull + 0x1234567;
        if (s->rng == 0)
                s->rng = 1;
        *ret = s;
        return 0;
}

Sim *sim_free(Sim *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                free(s->heap[i]);
        free(s->heap);
        free(s->spare);
        free(s);
        return NULL;
}

void sim_set_app(Sim *s, SimApp app, void *userdata) {
        s->app = app;
        s->userdata = userdata;
}

void sim_set_tick(Sim *s, uint64_t usec) {
        s->tick = usec;
}

void sim_wake(Sim *s, uint64_t at) {
        if (s->wake == 0 || at < s->wake)
                s->wake = at;
}

uint64_t sim_now(const Sim *s) {
        return s->now;
}

void sim_stop(Sim *s) {
        s->stop = true;
}

const SimLinkStats *sim_link_stats(const Sim *s, int direction) {
        return &s->link[direction & 1].stats;
}

void sim_reset_link_stats(Sim *s) {
        memset(&s->link[0].stats, 0, sizeof(s->link[0].stats));
        memset(&s->link[1].stats, 0, sizeof(s->link[1].stats));
}

static bool earlier(const Event *a, const Event *b) {
        return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static int heap_push(Sim *s, Event *e) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                Event **h = realloc(s->heap, cap * sizeof(*h));
                if (!h)
                        return -ENOMEM;
                s->heap = h;
                s->cap = cap;
        }
        size_t i = s->n++;
        while (i > 0 && earlier(e, s->heap[(i - 1) / 2])) {
                s->heap[i] = s->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        s->heap[i] = e;
        return 0;
}

static Event *heap_pop(Sim *s) {
        Event *top = s->heap[0], *last = s->heap[--s->n];
        size_t i = 0;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= s->n)
                        break;
                if (c + 1 < s->n && earlier(s->heap[c + 1], s->heap[c]))
                        c++;
                if (!earlier(s->heap[c], last))
                        break;
                s->heap[i] = s->heap[c];
                i = c;
        }
        if (s->n > 0)
                s->heap[i] = last;
        return top;
}

static bool lose(Sim *s, SimLink *l) {
        double p = l->cfg.loss;
        if (p <= 0)
                return false;
        if (l->cfg.burst <= 1)
                return uniform(s) < p;
        /* Gilbert model: bursts of mean length `burst', everything lost inside one, with the
         * long-run loss fraction p. */
        double leave = 1.0 / l->cfg.burst, enter = p * leave / (1.0 - p);
        l->bad = l->bad ? uniform(s) >= leave : uniform(s) < enter;
        return l->bad;
}

static int transmit(Sim *s, int from, const uint8_t *d, size_t len) {
        SimLink *l = &s->link[from];
        l->stats.sent++;
        uint64_t depart = s->now;
        if (l->cfg.rate_bps > 0) {
                size_t wire = len + l->cfg.overhead; /* what the bottleneck carries */
                uint64_t now_ns = s->now * 1000;
                uint64_t backlog_ns = l->busy_until_ns > now_ns ? l->busy_until_ns - now_ns : 0;
                uint64_t backlog = (uint64_t) ((double) backlog_ns * (double) l->cfg.rate_bps / 8e9);
                if (backlog + wire > l->cfg.queue_bytes) {
                        l->stats.dropped_queue++;
                        return 0;
                }
                l->stats.queue_delay_sum += backlog_ns / 1000;
                l->stats.queue_delay_max = MAX(l->stats.queue_delay_max, backlog_ns / 1000);
                l->stats.queue_samples++;
                l->busy_until_ns = MAX(now_ns, l->busy_until_ns) + (uint64_t) wire * 8 * 1000000000 / l->cfg.rate_bps;
                depart = (l->busy_until_ns + 999) / 1000;
        }
        bool lost = lose(s, l) || (l->cfg.drop && l->cfg.drop(d, len, l->cfg.drop_userdata));
        if (l->cfg.observe)
                l->cfg.observe(d, len, lost, l->cfg.observe_userdata);
        if (lost) {
                l->stats.dropped_loss++;
                return 0;
        }
        Event *e = s->spare ? s->spare : malloc(sizeof(*e));
        s->spare = NULL;
        if (!e)
                return -ENOMEM;
        e->time = depart + l->cfg.delay_usec;
        if (l->cfg.reorder > 0 && uniform(s) < l->cfg.reorder)
                e->time += l->cfg.reorder_usec;
        e->seq = s->seq++;
        e->to = !from;
        e->len = (uint16_t) len;
        memcpy(e->data, d, len);
        return heap_push(s, e);
}

static void pump(Sim *s, int i) {
        uint8_t buf[RUDP_DATAGRAM_MAX];
        ssize_t n;
        while ((n = rudp_next_datagram(s->ep[i], buf, sizeof buf, s->now)) > 0)
                if (transmit(s, i, buf, (size_t) n) < 0)
                        break;
}

uint64_t sim_run(Sim *s, uint64_t until) {
        uint64_t steps = 0;
        s->stop = false;
        while (!s->stop) {
                /* Everything due now: arrivals, timers, the app, then what the endpoints send. */
                while (s->n > 0 && s->heap[0]->time <= s->now) {
                        Event *e = heap_pop(s);
                        SimLink *l = &s->link[!e->to];
                        l->stats.delivered++;
                        l->stats.bytes_delivered += e->len;
                        (void) rudp_receive_datagram(s->ep[e->to], e->data, e->len, s->now);
                        free(s->spare);
                        s->spare = e;
                }
                for (int i = 0; i < 2; i++)
                        if (rudp_next_timeout(s->ep[i]) <= s->now)
                                rudp_on_timeout(s->ep[i], s->now);
                if (s->wake && s->wake <= s->now)
                        s->wake = 0;
                if (s->app)
                        s->app(s, s->userdata);
                pump(s, 0);
                pump(s, 1);
                steps++;
                if (s->stop || s->now >= until)
                        break;

                uint64_t next = until;
                if (s->n > 0)
                        next = MIN(next, s->heap[0]->time);
                for (int i = 0; i < 2; i++)
                        next = MIN(next, rudp_next_timeout(s->ep[i]));
                if (s->wake)
                        next = MIN(next, s->wake);
                /* A timer already due that did not make progress must not spin the clock. */
                s->now = MAX(next, s->now + 1);
                if (s->tick > 1)
                        s->now += sim_rand(s) % s->tick;
        }
        return steps;
}
