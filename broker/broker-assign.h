/* Connect-time assignment: which desktop of a pool a user gets. Persistent pools give each user
 * their own desktop (one is assigned on the first request and kept); floating pools give any
 * ready, unassigned, healthy desktop. Everything happens in one IMMEDIATE transaction (the pick,
 * the assignment, the session and the audit event), so two users never get the same desktop and
 * one user never gets two, whatever the interleaving of brokers, threads or processes sharing
 * the store; the unique index desktops_one_per_user backs it up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "broker-store.h"

#define STORE_NAME_MAX 64
#define STORE_ADDRESS_MAX 256
#define STORE_URI_MAX 1024

typedef struct StoreAssignment {
        int64_t desktop_id, session_id;
        bool newly_assigned; /* false: the user already held it */
        char domain_name[STORE_NAME_MAX];
        char uuid[STORE_NAME_MAX];
        char power_state[16];
        char host_name[STORE_NAME_MAX];
        char hostd_address[STORE_ADDRESS_MAX]; /* what the viewer dials */
        char fingerprint[65];                  /* hex, or "" */
        char libvirt_uri[STORE_URI_MAX];
} StoreAssignment;

/* Returns 0 and fills *ret, or: -ENOENT no such pool, -ESRCH no such user, -EAGAIN no desktop
 * free in the pool, -EADDRNOTAVAIL the user's desktop is on no host yet, -EBUSY the store stayed
 * locked past its busy timeout, or another store error. */
int store_assign(Store *s, const char *pool, const char *user, const char *client_address, int64_t now,
                 StoreAssignment *ret);
