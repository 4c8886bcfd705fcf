/* A fake QEMU for tests and benchmarks: serves org.qemu.Display1 (VM.ConsoleIDs, one graphic
 * Console_0 with RegisterListener, Keyboard and Mouse) on one end of a socketpair, as QEMU does on
 * the fd of virDomainOpenGraphicsFD, and calls the Listener hostd registers (Scanout, Update,
 * CursorDefine, MouseSet, ...) like QEMU's display refresh would. It runs in the caller's sd-event
 * loop; nothing here blocks. Never linked into the daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* QEMU's pixman x8r8g8b8, what its VGA surfaces use. */
#define FAKE_QEMU_XRGB 0x20020888u
/* Keyboard calls remembered, oldest dropped first. */
#define FAKE_QEMU_KEY_LOG 64

typedef struct FakeQemuKey {
        uint32_t keycode;
        bool press;
} FakeQemuKey;

typedef struct FakeQemu {
        sd_bus *bus;      /* the display connection, QEMU's side */
        sd_bus *listener; /* hostd's Listener, NULL until it registers one */
        unsigned registrations;
        unsigned listener_closed; /* Disconnected seen on a listener connection */
        uint32_t last_key;
        unsigned key_presses;
        FakeQemuKey keys[FAKE_QEMU_KEY_LOG]; /* keys[i % FAKE_QEMU_KEY_LOG] is the i-th call */
        unsigned key_calls;                  /* Press and Release */
        char last_mouse[64]; /* "Member args" of the last Display1.Mouse call */
        unsigned ui_info_calls; /* Console.SetUIInfo, and the size of the last one */
        uint32_t ui_info_width, ui_info_height;
        unsigned mouse_calls;
        int last_reply_error; /* 1 when hostd answered our last listener call with an error */
        unsigned replies;
        /* With auto_scanout, the last Scanout's surface is kept (and updates applied to it), and a
         * newly registered listener gets a Scanout of it at once, as QEMU answers a new listener. */
        bool auto_scanout;
        uint32_t width, height;
        uint8_t *surface; /* width * height * 4, x8r8g8b8 */
        /* org.qemu.Display1.Audio (vmaudio): the listeners hostd registered (one each, as QEMU
         * takes on a peer-to-peer display), and what Read calls on the record listener returned. */
        sd_bus *audio_out, *audio_in;
        unsigned audio_out_registrations, audio_in_registrations, audio_refused;
        unsigned audio_calls, audio_replies, audio_errors; /* our audio listener calls, their answers */
        uint8_t *audio_read;                  /* the data of every Read answer, in order */
        size_t audio_read_len;
        unsigned audio_reads; /* Read answers */
} FakeQemu;

/* Serves the display on fd (owned from now on, closed on failure too). Returns 0 or a negative
 * errno. */
int fake_qemu_new(sd_event *e, int fd, FakeQemu **ret);
/* Accepts NULL, returns NULL. */
FakeQemu *fake_qemu_free(FakeQemu *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(FakeQemu *, fake_qemu_free);

/* Whether hostd has registered a listener and its connection is up. */
bool fake_qemu_listener_ready(FakeQemu *q);

/* A new method call on the listener (-ENOTCONN without one); the caller appends the arguments
 * and hands it to fake_qemu_send(). */
int fake_qemu_listener_call(FakeQemu *q, const char *member, sd_bus_message **ret);
/* Sends the call without waiting; the reply is counted in replies/last_reply_error. Consumes m. */
int fake_qemu_send(FakeQemu *q, sd_bus_message *m);

/* Listener calls with their real signatures; data is sent as given (len bytes), so callers can
 * send malformed calls too. */
int fake_qemu_scanout(FakeQemu *q, uint32_t w, uint32_t h, uint32_t stride, uint32_t format, const void *data,
                      size_t len);
int fake_qemu_update(FakeQemu *q, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride, uint32_t format,
                     const void *data, size_t len);
int fake_qemu_cursor_define(FakeQemu *q, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const void *argb,
                            size_t len);
int fake_qemu_mouse_set(FakeQemu *q, int32_t x, int32_t y, bool on);

/* ---- Audio (vmaudio) ---- */

/* Whether hostd's playback (out) or record listener is registered and its connection is up. */
bool fake_qemu_audio_ready(FakeQemu *q, bool out);
/* Init with the arguments as given (malformed ones too) on the out or in listener. */
int fake_qemu_audio_init_raw(FakeQemu *q, bool out, uint64_t id, uint8_t bits, bool is_signed, bool is_float,
                             uint32_t freq, uint8_t nchannels, uint32_t bytes_per_frame, uint32_t bytes_per_second,
                             bool be);
/* Init of a little-endian voice, sizes computed: s16 (bits 16) or f32 (bits 32, is_float). */
int fake_qemu_audio_init(FakeQemu *q, bool out, uint64_t id, uint8_t bits, bool is_float, uint32_t freq,
                         uint8_t nchannels);
int fake_qemu_audio_set_enabled(FakeQemu *q, bool out, uint64_t id, bool enabled);
int fake_qemu_audio_set_volume(FakeQemu *q, bool out, uint64_t id, bool mute, const uint8_t *volume, size_t n);
int fake_qemu_audio_fini(FakeQemu *q, bool out, uint64_t id);
int fake_qemu_audio_write(FakeQemu *q, uint64_t id, const void *data, size_t len);
/* Writes frames of a sine (s16le, every channel the same, amplitude 0..1) from *phase (radians,
 * advanced), as QEMU's mixing engine would hand the guest's sound card output over. */
int fake_qemu_audio_write_sine(FakeQemu *q, uint64_t id, double hz, double amplitude, uint32_t rate,
                               uint8_t channels, size_t frames, double *phase);
/* Read(id, size) on the record listener; the answer's data is appended to audio_read. */
int fake_qemu_audio_read(FakeQemu *q, uint64_t id, uint64_t size);

/* QEMU goes away: both connections close. */
void fake_qemu_close(FakeQemu *q);
