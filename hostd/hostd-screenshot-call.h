/* One virDomainScreenshot() call on a thread of its own. The call waits for QEMU's monitor: a
 * QEMU that stopped answering (SIGSTOP, a stuck device, a host under swap) held hostd's loop, and
 * every other desktop's display and input with it, until the VM ran again or was reset. Now only
 * that domain's screenshots wait. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct ScreenshotCall ScreenshotCall;

/* Called on the loop once the call returned: stream is the screenshot's stream (the caller's to
 * free) or NULL with error saying why. */
typedef void (*ScreenshotDoneFn)(void *userdata, virStreamPtr stream, const char *error);

/* Starts the call for dom over a new non-blocking stream; done runs on event's loop. */
int screenshot_call_start(sd_event *event, virDomainPtr dom, ScreenshotDoneFn done, void *userdata,
                          ScreenshotCall **ret);
/* Forgets a call: done never runs; a call still waiting finishes on its thread and cleans up. */
ScreenshotCall *screenshot_call_cancel(ScreenshotCall *c);
/* When the call started (CLOCK_MONOTONIC usec). */
uint64_t screenshot_call_started(const ScreenshotCall *c);
