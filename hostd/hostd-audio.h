/* The VM's own sound on the hypervisor path: QEMU's org.qemu.Display1.Audio on a domain's D-Bus
 * display. hostd registers a playback listener (AudioOutListener) and a record listener
 * (AudioInListener) over peer-to-peer sockets, as it does the console listener; the guest's sound
 * card output is encoded to Opus and sent to the desktop's viewers (caps media + media-opus) as
 * media streams of source 1 (vm), ids 0x80000000 and up; while the guest records, the interactive
 * viewer's microphone (cap microphone) is decoded into what QEMU reads. Works from boot, with no
 * agent. One Audio per display connection: a new QEMU means a new Audio, registered again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-bus.h>

#include "hostd-forward.h"
#include "macro.h"
#include "wire-gen.h"

typedef struct Audio Audio;
struct Viewer;

/* Starts registering on the display's bus (referenced, not owned). A QEMU without an audio
 * backend on its display answers that it has no such object: the Audio then stays idle, state
 * "none". Returns 0 or a negative errno. */
int audio_new(Manager *m, const char *desktop, sd_bus *display_bus, Audio **ret);
/* Stops the streams (media-stop, mic-stop to the viewers) and closes the listeners. Accepts
 * NULL, returns NULL. */
Audio *audio_free(Audio *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Audio *, audio_free);

/* The desktop's Audio, NULL without one (no D-Bus display, or [Audio] Enabled=no). */
Audio *manager_audio(Manager *m, const char *desktop);

/* A viewer got in (after its welcome): media-start of the playing streams, and mic-start if it
 * is the interactive one and the guest records. */
void audio_viewer_joined(Audio *a, struct Viewer *v);
/* The interactive role moved (handover, or the interactive viewer left): the microphone follows it. */
void audio_roles_changed(Audio *a);
/* A mic-packet from a viewer of this desktop. */
void audio_viewer_mic_packet(Audio *a, struct Viewer *v, const WireMicPacket *p);

/* The status JSON object ("state", "format", "packets", "bytes", "viewers", "mic", ...). */
void audio_describe_json(Audio *a, void (*write)(void *userdata, const char *data, size_t len), void *userdata);
