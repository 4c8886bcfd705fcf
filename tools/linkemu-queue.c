#include "linkemu-queue.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static bool before(const LinkPacket *a, const LinkPacket *b) {
        return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void swap(PacketQueue *q, size_t i, size_t j) {
        LinkPacket *t = q->items[i];
        q->items[i] = q->items[j];
        q->items[j] = t;
}

int packet_queue_push(PacketQueue *q, LinkPacket *pkt) {
        if (q->n == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 64;
                LinkPacket **items = realloc(q->items, cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                q->items = items;
                q->cap = cap;
        }
        size_t i = q->n++;
        q->items[i] = pkt;
        q->bytes += pkt->len;
        while (i > 0 && before(q->items[i], q->items[(i - 1) / 2])) {
                swap(q, i, (i - 1) / 2);
                i = (i - 1) / 2;
        }
        return 0;
}

LinkPacket *packet_queue_peek(const PacketQueue *q) {
        return q->n > 0 ? q->items[0] : NULL;
}

LinkPacket *packet_queue_pop(PacketQueue *q) {
        if (q->n == 0)
                return NULL;
        LinkPacket *top = q->items[0];
        q->items[0] = q->items[--q->n];
        q->bytes -= top->len;
        for (size_t i = 0;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;
                if (l < q->n && before(q->items[l], q->items[m]))
                        m = l;
                if (r < q->n && before(q->items[r], q->items[m]))
                        m = r;
                if (m == i)
                        break;
                swap(q, i, m);
                i = m;
        }
        return top;
}

void packet_queue_clear(PacketQueue *q) {
        for (size_t i = 0; i < q->n; i++)
                free(q->items[i]);
        free(q->items);
        *q = (PacketQueue) {};
}
