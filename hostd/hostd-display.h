/* A domain's QEMU D-Bus display, on the peer-to-peer fd from virDomainOpenGraphicsFD: lists the
 * consoles, registers a Listener per graphic console (each on its own socketpair, where QEMU is
 * the authenticating side) and feeds the Console objects; also injects keyboard and mouse input
 * through org.qemu.Display1.Keyboard/Mouse. Every call to QEMU is asynchronous: QEMU calls back
 * into the listener while it handles RegisterListener, so a blocking call would deadlock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hostd-forward.h"
#include "macro.h"

/* Called once when the display connection is gone (QEMU exited, or a protocol error on the main
 * display bus). The owner frees the display later, not from inside the callback. */
typedef void (*DisplayClosedFn)(Display *d, int error, void *userdata);

/* Takes ownership of fd in every case. */
int display_new(Manager *m, const char *domain, int fd, DisplayClosedFn on_closed, void *userdata, Display **ret);
Display *display_free(Display *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Display *, display_free);

size_t display_n_consoles(Display *d);
/* The idx-th graphic console with a registered listener, or NULL. */
Console *display_console(Display *d, size_t idx);

/* Input for the layers above; keycodes are QEMU's (PC XT scancodes, 0x80|code for extended). */
int display_key(Display *d, unsigned console_id, bool press, uint32_t keycode);
int display_mouse_button(Display *d, unsigned console_id, bool press, uint32_t button);
int display_mouse_move_abs(Display *d, unsigned console_id, uint32_t x, uint32_t y);
int display_mouse_move_rel(Display *d, unsigned console_id, int32_t dx, int32_t dy);
/* CLOCK_MONOTONIC of the last keyboard or mouse input sent to the guest, 0: none yet. */
uint64_t display_input_usec(Display *d);
/* The VM's sound on this display connection (hostd-audio.h), NULL without. */
struct Audio *display_audio(Display *d);
/* Input calls waiting in the paced queue (hostd-input-queue.h). */
size_t display_input_pending(Display *d);
/* Console.SetUIInfo: asks the guest's display (virtio-gpu, or any with EDID support) for a mode of
 * width x height. Asynchronous; QEMU's answer comes as a Scanout. */
int display_set_ui_info(Display *d, unsigned console_id, uint32_t width, uint32_t height);
