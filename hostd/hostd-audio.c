#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hostd-audio-internal.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"

#define RETRY_MAX_USEC (10 * 1000000ULL)

static const char *listener_name(const AudioListener *l) {
        return l->out ? "playback" : "record";
}

static void audio_listener_close(AudioListener *l) {
        l->drain_source = sd_event_source_disable_unref(l->drain_source);
        l->register_slot = sd_bus_slot_unref(l->register_slot);
        if (l->bus) {
                sd_bus_detach_event(l->bus);
                sd_bus_close(l->bus);
                l->bus = sd_bus_unref(l->bus);
        }
}

/* The voices of a listener die with its connection: QEMU announces them again (Init) to the next
 * listener it takes. */
static void audio_listener_clear_voices(AudioListener *l) {
        Audio *a = l->audio;
        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++) {
                if (l->out)
                        audio_out_voice_clear(a, &a->voices[i]);
                else
                        audio_in_voice_clear(a, &a->mics[i]);
        }
}

static void audio_listener_register(AudioListener *l);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        audio_listener_register(userdata);
        return 0;
}

/* The connection broke or registering failed: drop it and register again after a delay that grows
 * with repeated failures. */
void audio_listener_failed(AudioListener *l) {
        Audio *a = l->audio;
        uint64_t now, delay = MIN(200000ULL << MIN(l->failures, 6u), RETRY_MAX_USEC);

        audio_listener_close(l);
        audio_listener_clear_voices(l);
        l->state = AUDIO_LISTENER_FAILED;
        l->failures++;
        sd_event_now(a->manager->event, CLOCK_MONOTONIC, &now);
        if (!l->retry_timer) {
                if (sd_event_add_time(a->manager->event, &l->retry_timer, CLOCK_MONOTONIC, now + delay, 0, on_retry,
                                      l) < 0) {
                        log_error("%s: cannot schedule the audio %s listener's registration", a->desktop,
                                  listener_name(l));
                        return;
                }
        } else
                sd_event_source_set_time(l->retry_timer, now + delay);
        sd_event_source_set_enabled(l->retry_timer, SD_EVENT_ONESHOT);
}

static int on_listener_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        AudioListener *l = userdata;
        log_info("%s: QEMU closed the audio %s listener", l->audio->desktop, listener_name(l));
        audio_listener_failed(l);
        return 0;
}

static int on_registered(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AudioListener *l = userdata;
        Audio *a = l->audio;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        l->register_slot = sd_bus_slot_unref(l->register_slot);
        if (e && (sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
                  sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD) ||
                  sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE))) {
                /* No <audio type='dbus'/> bound to this display: nothing to listen to, ever. */
                log_debug("%s: no D-Bus audio on this display", a->desktop);
                audio_listener_close(l);
                l->state = AUDIO_LISTENER_NONE;
                return 0;
        }
        if (e) {
                log_warning("%s: Register%sListener failed: %s", a->desktop, l->out ? "Out" : "In",
                            e->message ? e->message : e->name);
                audio_listener_failed(l);
                return 0;
        }
        l->state = AUDIO_LISTENER_REGISTERED;
        l->failures = 0;
        l->registrations++;
        log_debug("%s: audio %s listener registered", a->desktop, listener_name(l));
        manager_emit(a->manager, "audio-registered %s %s", a->desktop, listener_name(l));
        return 0;
}

/* As for the console listener (hostd-display.c): until the connection is up, sd-bus may hold
 * QEMU's first calls in its buffer with nothing on the socket to wake the loop. */
static int on_listener_drain(sd_event_source *s, void *userdata) {
        AudioListener *l = userdata;
        while (l->bus && sd_bus_process(l->bus, NULL) > 0)
                ;
        if (l->bus && sd_bus_is_ready(l->bus) > 0)
                l->drain_source = sd_event_source_disable_unref(l->drain_source);
        return 0;
}

static void audio_listener_register(AudioListener *l) {
        Audio *a = l->audio;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(closep) int peer = -EBADF;
        int sv[2], r;

        audio_listener_close(l);
        l->state = AUDIO_LISTENER_REGISTERING;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
                r = -errno;
                goto fail;
        }
        peer = sv[1];
        r = sd_bus_new(&l->bus);
        if (r < 0) {
                close(sv[0]);
                goto fail;
        }
        r = sd_bus_set_fd(l->bus, sv[0], sv[0]);
        if (r < 0) {
                close(sv[0]);
                goto fail;
        }
        sd_bus_set_description(l->bus, l->out ? "audio-out" : "audio-in");
        if ((r = sd_bus_match_signal(l->bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                     "Disconnected", on_listener_disconnected, l)) < 0 ||
            (r = sd_bus_add_object_vtable(l->bus, NULL, l->out ? AUDIO_OUT_PATH : AUDIO_IN_PATH,
                                          l->out ? AUDIO_OUT_INTERFACE : AUDIO_IN_INTERFACE,
                                          l->out ? audio_out_vtable : audio_in_vtable, a)) < 0 ||
            (r = sd_bus_start(l->bus)) < 0 || (r = sd_bus_attach_event(l->bus, a->manager->event, 0)) < 0 ||
            (r = sd_event_add_post(a->manager->event, &l->drain_source, on_listener_drain, l)) < 0)
                goto fail;
        /* QEMU before 8.0 keys its audio listeners by the caller's bus name and crashes on a call
         * without one, which a peer-to-peer connection never has (fixed in 8.0: "audio/dbus: there
         * are no sender for p2p mode"): name one for it. (sd-bus peers, the tests' fake QEMU, drop
         * such calls: only for the QEMU that needs it.) */
        if ((r = sd_bus_message_new_method_call(a->bus, &call, NULL, AUDIO_PATH, AUDIO_INTERFACE,
                                                l->out ? "RegisterOutListener" : "RegisterInListener")) < 0 ||
            (a->name_sender && (r = sd_bus_message_set_sender(call, AUDIO_SENDER)) < 0) ||
            (r = sd_bus_message_append(call, "h", peer)) < 0 ||
            (r = sd_bus_call_async(a->bus, &l->register_slot, call, on_registered, l, 0)) < 0)
                goto fail;
        return;
fail:
        log_warning_errno(r, "%s: cannot set up the audio %s listener: %m", a->desktop, listener_name(l));
        audio_listener_failed(l);
}

static int on_ping(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Audio *a = userdata;
        a->ping_slot = sd_bus_slot_unref(a->ping_slot);
        audio_listener_register(&a->out);
        if (a->manager->config.audio.microphone)
                audio_listener_register(&a->in);
        return 0;
}

int audio_new(Manager *m, const char *desktop, sd_bus *display_bus, Audio **ret) {
        _cleanup_(audio_freep) Audio *a = calloc(1, sizeof(Audio));
        if (!a)
                return -ENOMEM;
        a->manager = m;
        a->desktop = strdup(desktop);
        if (!a->desktop)
                return -ENOMEM;
        a->bus = sd_bus_ref(display_bus);
        unsigned long version = 0;
        if (m->conn && virConnectGetVersion(m->conn, &version) == 0 && version > 0 && version < 8000000) {
                a->name_sender = true;
                log_debug("%s: QEMU %lu.%lu: naming a sender on audio registrations", desktop, version / 1000000,
                          version / 1000 % 1000);
        }
        a->out = (AudioListener) { .audio = a, .out = true };
        a->in = (AudioListener) { .audio = a, .out = false };
        a->in.state = AUDIO_LISTENER_NONE;
        /* Passing an fd before the connection is authenticated would block until it is (sd-bus
         * must know whether fds go through): a ping first, registering from its answer. */
        int r = sd_bus_call_method_async(display_bus, &a->ping_slot, NULL, "/", "org.freedesktop.DBus.Peer", "Ping",
                                         on_ping, a, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

Audio *audio_free(Audio *a) {
        if (!a)
                return NULL;
        AudioListener *ls[] = { &a->out, &a->in };
        for (size_t i = 0; i < ELEMENTSOF(ls); i++) {
                if (!ls[i]->audio)
                        continue;
                audio_listener_close(ls[i]);
                audio_listener_clear_voices(ls[i]);
                sd_event_source_disable_unref(ls[i]->retry_timer);
        }
        sd_bus_slot_unref(a->ping_slot);
        sd_bus_unref(a->bus);
        free(a->desktop);
        free(a);
        return NULL;
}

Audio *manager_audio(Manager *m, const char *desktop) {
        Domain *d = manager_find_domain(m, desktop);
        return d && d->display ? display_audio(d->display) : NULL;
}

uint32_t audio_next_stream(Audio *a) {
        return AUDIO_STREAM_BASE + (a->next_stream++ & 0x7fffffffu);
}

void audio_foreach_viewer(Audio *a, uint64_t caps, void (*fn)(Audio *a, Viewer *v, void *userdata), void *userdata) {
        ViewerServer *s = a->manager->viewers;
        Viewer *next;
        for (Viewer *v = s ? s->viewers : NULL; v; v = next) {
                next = v->next; /* fn may drop v */
                if (v->state == VIEWER_ACTIVE && strcmp(v->ticket.desktop, a->desktop) == 0 &&
                    (v->caps & caps) == caps)
                        fn(a, v, userdata);
        }
}

void audio_viewer_joined(Audio *a, Viewer *v) {
        if ((v->caps & (WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS)) == (WIRE_CAP_MEDIA | WIRE_CAP_MEDIA_OPUS))
                for (size_t i = 0; i < AUDIO_VOICES_MAX; i++)
                        if (a->voices[i].used && a->voices[i].enabled)
                                audio_out_send_start(a, &a->voices[i], v);
        if (v->interactive && (v->caps & WIRE_CAP_MICROPHONE))
                for (size_t i = 0; i < AUDIO_VOICES_MAX; i++)
                        if (a->mics[i].used && a->mics[i].enabled)
                                audio_in_send_start(a, &a->mics[i], v);
        viewer_flush(v);
}

static const char *listener_state_name(AudioListenerState s) {
        switch (s) {
        case AUDIO_LISTENER_REGISTERING:
                return "registering";
        case AUDIO_LISTENER_REGISTERED:
                return "registered";
        case AUDIO_LISTENER_NONE:
                return "none";
        default:
                return "failed";
        }
}

static void json_printf(void (*write)(void *, const char *, size_t), void *userdata, const char *fmt, ...)
        _printf_(3, 4);
static void json_printf(void (*write)(void *, const char *, size_t), void *userdata, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0)
                write(userdata, buf, MIN((size_t) n, sizeof(buf) - 1));
}

void audio_describe_json(Audio *a, void (*write)(void *userdata, const char *data, size_t len), void *userdata) {
        const AudioOutVoice *play = NULL;
        const AudioInVoice *rec = NULL;
        char format[64] = "", mic_format[64] = "";

        for (size_t i = 0; i < AUDIO_VOICES_MAX; i++) {
                if (a->voices[i].used && (!play || (a->voices[i].enabled && !play->enabled)))
                        play = &a->voices[i];
                if (a->mics[i].used && (!rec || (a->mics[i].enabled && !rec->enabled)))
                        rec = &a->mics[i];
        }
        if (play)
                audio_format_describe(&play->format, format, sizeof(format));
        if (rec)
                audio_format_describe(&rec->format, mic_format, sizeof(mic_format));
        const char *state = a->out.state != AUDIO_LISTENER_REGISTERED ? listener_state_name(a->out.state)
                            : play && play->enabled                    ? "playing"
                                                                       : "idle";
        json_printf(write, userdata,
                    "{\"state\":\"%s\",\"format\":\"%s\",\"stream\":%" PRIu32 ",\"packets\":%" PRIu64
                    ",\"bytes\":%" PRIu64 ",\"silent_packets\":%" PRIu64 ",\"dropped\":%" PRIu64
                    ",\"malformed\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"viewers\":%u,\"level\":%.4f,\"tone_hz\":%.1f"
                    ",\"registrations\":%u,",
                    state, format, play && play->enabled ? play->stream : 0, a->packets, a->bytes, a->silent_packets,
                    a->dropped, a->malformed, a->writes, a->viewers, play ? (double) play->peak : 0.0,
                    play ? play->tone_hz : 0.0, a->out.registrations);
        const char *mic_state = a->in.state != AUDIO_LISTENER_REGISTERED ? listener_state_name(a->in.state)
                                : rec && rec->enabled                    ? "recording"
                                                                         : "idle";
        json_printf(write, userdata,
                    "\"mic\":{\"state\":\"%s\",\"format\":\"%s\",\"stream\":%" PRIu32 ",\"packets\":%" PRIu64
                    ",\"bytes\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"ignored\":%" PRIu64
                    ",\"reads\":%" PRIu64 ",\"underruns\":%" PRIu64 ",\"buffered\":%zu}}",
                    mic_state, mic_format, rec && rec->enabled ? rec->stream : 0, a->mic_packets, a->mic_bytes,
                    a->mic_malformed, a->mic_dropped, a->mic_ignored, a->reads, a->underruns,
                    rec ? buffer_len(&rec->ring) : (size_t) 0);
}
