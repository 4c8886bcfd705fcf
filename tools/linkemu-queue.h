/* Packets scheduled for delivery: a binary min-heap ordered by due time, then by arrival (seq),
 * so packets due at the same instant leave in the order they came. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct LinkPacket {
        uint64_t due_ns;
        uint64_t seq;
        size_t len;
        uint8_t data[];
} LinkPacket;

typedef struct PacketQueue {
        LinkPacket **items;
        size_t n, cap;
        size_t bytes;
} PacketQueue;

/* Takes pkt on success; -ENOMEM leaves it with the caller. */
int packet_queue_push(PacketQueue *q, LinkPacket *pkt);
/* The earliest packet, or NULL. */
LinkPacket *packet_queue_peek(const PacketQueue *q);
/* Removes and returns the earliest packet (the caller frees it), or NULL. */
LinkPacket *packet_queue_pop(PacketQueue *q);
/* Frees every packet and the array; the queue is empty and reusable afterwards. */
void packet_queue_clear(PacketQueue *q);
