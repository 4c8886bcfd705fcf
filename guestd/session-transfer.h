/* Reassembles one clipboard transfer from the peer's clipboard-data chunks, as
 * schema/agent-protocol.md wants them: the first at offset 0, each next one at the end of the
 * previous, the same total in every chunk, at most `cap' bytes in all. The peer is untrusted:
 * memory grows with the bytes that actually arrived, never with the total it announces. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ClipTransfer {
        uint32_t cap;
        bool started;
        uint32_t total;
        uint32_t received;
        uint8_t *data;
        size_t allocated;
} ClipTransfer;

void clip_transfer_init(ClipTransfer *t, uint32_t cap);
/* Forgets the transfer and frees its data. */
void clip_transfer_reset(ClipTransfer *t);

/* Takes one chunk. Returns 1 when the transfer is complete (total bytes in t->data; total 0 is
 * "nothing to give"), 0 when more is expected, or -EMSGSIZE (total over the cap), -EPROTO (a
 * chunk out of order, a changed total, a chunk past the total), -ENOMEM. After an error the
 * transfer is reset. */
int clip_transfer_feed(ClipTransfer *t, uint32_t total, uint32_t offset, const uint8_t *chunk, size_t len);

/* Hands the completed data to the caller (free() it) and resets t. */
uint8_t *clip_transfer_steal(ClipTransfer *t, size_t *ret_len);
