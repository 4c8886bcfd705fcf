/* A discrete-event simulation of a datagram path between two rudp endpoints, on a virtual clock,
 * for rudp's tests and bench-rudp (no sockets, no wall clock). Each direction is a bottleneck
 * with a rate, a bounded drop-tail queue, a propagation delay, random or bursty loss and
 * reordering, all drawn from a seeded generator: a run is a pure function of its seed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rudp.h"

typedef struct SimLinkConfig {
        uint64_t rate_bps;      /* 0: no rate limit (and no queue) */
        uint64_t delay_usec;    /* one way */
        double loss;            /* average fraction of datagrams lost */
        double burst;           /* mean length of a loss burst in datagrams; <= 1: independent losses */
        double reorder;         /* fraction of datagrams held back by reorder_usec */
        uint64_t reorder_usec;
        size_t overhead;        /* bytes each datagram takes on the link beyond its own (IP, UDP, DTLS) */
        size_t queue_bytes;     /* the bottleneck's buffer; 0: one bandwidth-delay product, at least 64 KiB */
        /* Optional: drops the datagrams it returns true for (tests aiming at one packet). */
        bool (*drop)(const uint8_t *d, size_t len, void *userdata);
        void *drop_userdata;
        /* Optional: sees every datagram that entered the queue, and whether the link lost it
         * (traces of what was lost, without drawing from the generator). */
        void (*observe)(const uint8_t *d, size_t len, bool lost, void *userdata);
        void *observe_userdata;
} SimLinkConfig;

typedef struct SimLinkStats {
        uint64_t sent, dropped_loss, dropped_queue, delivered, bytes_delivered;
        uint64_t queue_delay_sum, queue_delay_max, queue_samples; /* usec, per datagram entering */
} SimLinkStats;

typedef struct Sim Sim;

/* Called after every step; it may send and read on both endpoints and ask to be called again
 * at a time of its choosing with sim_wake(). */
typedef void (*SimApp)(Sim *s, void *userdata);

/* a sends over ab, b over ba. The endpoints stay the caller's. */
int sim_new(Rudp *a, Rudp *b, const SimLinkConfig *ab, const SimLinkConfig *ba, uint64_t seed, Sim **ret);
Sim *sim_free(Sim *s);
void sim_set_app(Sim *s, SimApp app, void *userdata);
/* The endpoints (and the app) wake late, by 0 to usec - 1 (uniform, from the seeded generator), as
 * an owner's event loop on a busy machine: what arrived meanwhile is read in one go and stamped
 * with the wake-up's time, and what pacing let go meanwhile leaves in one burst. 0 (the
 * default): every event is handled at its time. */
void sim_set_tick(Sim *s, uint64_t usec);
void sim_wake(Sim *s, uint64_t at);
uint64_t sim_now(const Sim *s);
/* Runs until the clock reaches until, or until the app asks to stop. Returns the number of
 * steps taken. */
uint64_t sim_run(Sim *s, uint64_t until);
void sim_stop(Sim *s);
const SimLinkStats *sim_link_stats(const Sim *s, int direction); /* 0: a to b */
void sim_reset_link_stats(Sim *s);
/* The seeded generator, for the app's own random choices. */
uint64_t sim_rand(Sim *s);

static inline void sim_freep(Sim **s) {
        sim_free(*s);
}
