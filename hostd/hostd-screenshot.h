/* The fallback for domains without D-Bus graphics (VNC or SPICE only): polls
 * virDomainScreenshot over a non-blocking libvirt stream at ScreenshotInterval= and applies what
 * changed, tile by tile, to one Console. Slower than the D-Bus path, but any libvirt VM is seen. */
#pragma once

#include <libvirt/libvirt.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-forward.h"
#include "macro.h"

int screenshotter_new(Manager *m, virDomainPtr dom, const char *domain, Screenshotter **ret);
Screenshotter *screenshotter_free(Screenshotter *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Screenshotter *, screenshotter_free);

Console *screenshotter_console(Screenshotter *s);
/* The status JSON's `screenshot' object: screenshots taken and failed, and how long the call
 * under way has waited for libvirt (0 when none is). */
void screenshotter_describe_json(Screenshotter *s, uint64_t now, char *buf, size_t size);
