#include "viewer-core.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "client-quality.h"
#include "display-codec.h"
#include "viewer-exit.h"
#include "viewer-util.h"

/* How long viewer_shutdown() waits for our bye to leave. */
#define SHUTDOWN_GRACE_USEC (1 * USEC_PER_SEC)

void viewer_message(const char *fmt, ...) {
        va_list ap;

        fputs("tandem-viewer: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* The wire protocol's reject and bye codes. */
static const char *reject_code_name(int code) {
        static const char *const names[] = {
                [1] = "version",           [2] = "ticket-malformed",     [3] = "ticket-signature",
                [4] = "ticket-expired",    [5] = "ticket-replayed",      [6] = "ticket-wrong-desktop",
                [7] = "ticket-wrong-host", [8] = "desktop-unavailable",  [9] = "too-many-viewers",
                [10] = "protocol-error",   [11] = "shutting-down",       [12] = "timeout",
                [13] = "resume-refused",   [14] = "transport-refused",
        };
        if (code > 0 && (size_t) code < ELEMENTSOF(names))
                return names[code];
        return "unknown";
}

int viewer_new(const ViewerOptions *options, Script *script, Viewer **ret) {
        Viewer *v = calloc(1, sizeof(Viewer));
        if (!v)
                return -ENOMEM;
        v->options = *options;
        v->script = script;
        v->keep_picture = script || options->out_dir;
        *ret = v;
        return 0;
}

Viewer *viewer_free(Viewer *v) {
        if (!v)
                return NULL;
        script_runner_free(v->runner);
        client_session_free(v->session);
        media_out_free(v->media_out);
        mic_wav_free(v->mic_wav);
        if (v->wire_log)
                fclose(v->wire_log);
        free(v->tile_before);
        script_free(v->script);
        free(v->picture.pixels);
        free(v->desktop);
        free(v);
        return NULL;
}

void viewer_quit(Viewer *v, int status, const char *fmt, ...) {
        va_list ap;

        if (v->done)
                return;
        v->done = true;
        v->status = status;
        if (fmt) {
                fputs("tandem-viewer: ", stderr);
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
}

static int keep_picture(Viewer *v, const ClientFramebuffer *fb) {
        size_t size = (size_t) fb->height * fb->stride;

        if (!fb->pixels || fb->width == 0 || fb->height == 0)
                return -ENODATA;
        if (v->picture.height * (size_t) v->picture.stride != size || !v->picture.pixels) {
                uint8_t *p = realloc(v->picture.pixels, size);
                if (!p)
                        return -ENOMEM;
                v->picture.pixels = p;
        }
        memcpy(v->picture.pixels, fb->pixels, size);
        v->picture.width = fb->width;
        v->picture.height = fb->height;
        v->picture.stride = fb->stride;
        return 0;
}

static void write_shot(Viewer *v, uint64_t now) {
        _cleanup_(freep) char *path = NULL;

        v->picture_new = false;
        v->last_shot = now;
        if (asprintf(&path, "%s/frame-%05u.%s", v->options.out_dir, v->shots, image_format_extension(v->options.format)) < 0)
                return;
        int r = image_write(&v->picture, v->options.format, path);
        if (r < 0) {
                /* Once: a full disk should not print a line per frame. */
                viewer_message("Failed to write %s: %s, no more filmstrip frames", path, strerror(-r));
                v->filmstrip_failed = true;
                return;
        }
        v->shots++;
}

static bool shot_due(Viewer *v, uint64_t now) {
        return v->shots == 0 || now >= v->last_shot + v->options.filmstrip_interval;
}

static void media_totals(Viewer *v);

static void on_welcome(ClientSession *s, const char *desktop, int role, void *userdata) {
        Viewer *v = userdata;

        free(v->desktop);
        v->desktop = strdup(desktop ?: "");
        v->role = role;
        v->link_checked = 0; /* the transport is said at the next tick */
        viewer_message("Connected to %s (session %llu, %s)", desktop, (unsigned long long) client_session_id(s),
                       role == 1 ? "view-only" : "interactive");
        if (v->options.resize == VIEWER_RESIZE_FIXED) {
                int r = client_session_resize(s, v->options.resize_width, v->options.resize_height);
                if (r < 0)
                        viewer_message("hostd takes no resize requests (%s), ignoring --resize", strerror(-r));
        }
        if (v->script && !v->runner) {
                int r = script_runner_new(v->script, s, &v->picture, v->options.format, now_usec(), &v->runner);
                if (r < 0)
                        viewer_quit(v, VIEWER_EXIT_USAGE, "Failed to start the script: %s", strerror(-r));
                else
                        media_totals(v);
        }
        if (v->frontend && v->frontend->title)
                v->frontend->title(v->desktop, role, v->frontend_data);
}

static void on_rejected(ClientSession *s, int code, const char *reason, void *userdata) {
        viewer_quit(userdata, VIEWER_EXIT_REJECTED, "Rejected by hostd: %s (reject code %d): %s", reject_code_name(code), code,
                    reason ?: "");
}

static void on_frame(ClientSession *s, uint32_t frame, void *userdata) {
        Viewer *v = userdata;
        uint64_t now = now_usec();

        if (v->keep_picture) {
                int r = keep_picture(v, client_session_framebuffer(s));
                if (r < 0 && r != -ENODATA)
                        viewer_quit(v, VIEWER_EXIT_USAGE, "Failed to keep the frame: %s", strerror(-r));
                else if (r >= 0 && v->options.out_dir && !v->filmstrip_failed) {
                        v->picture_new = true;
                        if (shot_due(v, now))
                                write_shot(v, now);
                }
        }
        if (v->runner)
                script_runner_frame(v->runner, now);
        if (v->frontend && v->frontend->frame)
                v->frontend->frame(v->frontend_data);
}

static void on_mode(ClientSession *s, uint32_t width, uint32_t height, void *userdata) {
        Viewer *v = userdata;

        if (v->frontend && v->frontend->mode)
                v->frontend->mode(width, height, v->frontend_data);
}

static void on_cursor(ClientSession *s, void *userdata) {
        Viewer *v = userdata;
        const ClientCursor *c = client_session_cursor(s);

        if (c && v->frontend && v->frontend->cursor)
                v->frontend->cursor(c, v->frontend_data);
}

static void on_role(ClientSession *s, int role, void *userdata) {
        Viewer *v = userdata;

        if (role != v->role)
                viewer_message("Now %s", role == 1 ? "view-only" : "interactive");
        v->role = role;
        if (v->frontend && v->frontend->title)
                v->frontend->title(v->desktop ?: "", role, v->frontend_data);
}

static void on_notice(ClientSession *s, int code, const char *text, void *userdata) {
        viewer_message("hostd: %s (notice %d)", text ?: "", code);
}

static void on_closed(ClientSession *s, int error, const char *reason, void *userdata) {
        Viewer *v = userdata;

        v->closed = true;
        if (v->closing)
                viewer_quit(v, VIEWER_EXIT_DONE, NULL);
        else if (error < 0 && reason && *reason)
                viewer_quit(v, VIEWER_EXIT_TRANSPORT, "Connection failed: %s (%s)", reason, strerror(-error));
        else if (error < 0)
                viewer_quit(v, VIEWER_EXIT_TRANSPORT, "Connection failed: %s", strerror(-error));
        else
                viewer_quit(v, VIEWER_EXIT_TRANSPORT, "hostd closed the session: %s", reason ?: "");
}

/* The status lines tests wait for: "reconnecting ..." and "resumed session N". */
static void on_reconnecting(ClientSession *s, unsigned attempt, unsigned seconds_left, void *userdata) {
        Viewer *v = userdata;
        char title[320];

        viewer_message("reconnecting (attempt %u, %u s left)", attempt, seconds_left);
        snprintf(title, sizeof(title), "%s (reconnecting, %u s left)", v->desktop ?: "", seconds_left);
        if (v->frontend && v->frontend->title)
                v->frontend->title(title, v->role, v->frontend_data);
}

static void on_resumed(ClientSession *s, void *userdata) {
        Viewer *v = userdata;

        viewer_message("resumed session %llu", (unsigned long long) client_session_id(s));
        if (v->frontend && v->frontend->title)
                v->frontend->title(v->desktop ?: "", v->role, v->frontend_data);
}

/* The status line tests wait for: "transport udp" or "transport tcp", at the start and on every
 * change. */
static void on_transport(ClientSession *s, WireConnKind kind, void *userdata) {
        viewer_message("transport %s", kind == WIRE_CONN_RUDP ? "udp" : "tcp");
}

/* "tandem-viewer: agent: active (clipboard, windows, resize)" or "agent: none (hypervisor path:
 * heartbeat lost)", whenever it changes: the line tests and users watch for the hand-off. */
static void on_agent_status(ClientSession *s, const ClientAgentStatus *st, void *userdata) {
        Viewer *v = userdata;
        char text[sizeof(v->agent_text)];

        client_agent_status_format(st, text, sizeof(text));
        if (v->agent_shown && strcmp(text, v->agent_text) == 0)
                return;
        v->agent_shown = true;
        memcpy(v->agent_text, text, sizeof(text));
        viewer_message("agent: %s", text);
        if (v->frontend && v->frontend->agent)
                v->frontend->agent(st, text, v->frontend_data);
}

static void on_clipboard_grab(ClientSession *s, uint32_t formats, void *userdata) {
        Viewer *v = userdata;

        if (v->runner)
                script_runner_clipboard_grab(v->runner, formats);
        if (v->frontend && v->frontend->clipboard_grab)
                v->frontend->clipboard_grab(formats, v->frontend_data);
}

static void on_clipboard_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        Viewer *v = userdata;

        if (error < 0 && error != -ESTALE && error != -ECANCELED)
                viewer_message("Clipboard transfer from the guest dropped: %s", strerror(-error));
        if (v->runner && script_runner_clipboard_data(v->runner, format, error, data, len))
                return; /* the script asked for it */
        if (v->frontend && v->frontend->clipboard_data)
                v->frontend->clipboard_data(format, error, data, len, v->frontend_data);
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        Viewer *v = userdata;

        if (v->runner && script_runner_clipboard_request(v->runner, format))
                return;
        if (v->frontend && v->frontend->clipboard_request && v->frontend->clipboard_request(format, v->frontend_data))
                return;
        (void) client_session_clipboard_send(s, format, NULL, 0); /* nothing to give */
}

static void on_windows(ClientSession *s, void *userdata) {
        Viewer *v = userdata;

        if (v->frontend && v->frontend->windows)
                v->frontend->windows(v->frontend_data);
}

/* ---- the media channel: lines and files (viewer-media-out.h), the script's totals ---- */

static void media_totals(Viewer *v) {
        if (v->runner)
                script_runner_media(v->runner, media_out_totals(v->media_out));
}

static void on_media_start(const ClientMediaStream *st, void *userdata) {
        Viewer *v = userdata;
        media_out_start(v->media_out, st);
        media_totals(v);
        if (v->frontend && v->frontend->media)
                v->frontend->media(st, false, v->frontend_data);
}

static void on_media_geometry(const ClientMediaStream *st, void *userdata) {
        Viewer *v = userdata;
        if (v->frontend && v->frontend->media)
                v->frontend->media(st, false, v->frontend_data);
}

static void on_media_stop(const ClientMediaStream *st, uint8_t why, void *userdata) {
        Viewer *v = userdata;
        media_out_stop(v->media_out, st, why);
        media_totals(v);
        if (v->frontend && v->frontend->media)
                v->frontend->media(st, true, v->frontend_data);
}

static void on_media_video(const ClientMediaStream *st, const ClientMediaPicture *pic, void *userdata) {
        Viewer *v = userdata;
        media_out_video(v->media_out, st, pic);
        media_totals(v);
        if (v->frontend && v->frontend->media)
                v->frontend->media(st, false, v->frontend_data);
}

static void on_media_audio(const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us,
                           bool concealed, void *userdata) {
        Viewer *v = userdata;
        media_out_audio(v->media_out, st, pcm, frames, pts_us);
        media_totals(v);
}

static void on_mic(bool on, uint32_t sample_rate, uint8_t channels, void *userdata) {
        Viewer *v = userdata;
        viewer_message("microphone %s", on ? "on" : "off");
        if (v->mic_wav)
                mic_wav_switch(v->mic_wav, on, sample_rate, channels, now_usec());
        if (v->frontend && v->frontend->mic)
                v->frontend->mic(on, sample_rate, channels, v->frontend_data);
}

/* --wire-log, a line per message: the monotonic time in seconds (Python's time.monotonic() on
 * Linux), the type and the size on the wire; tiles add codec, x, y, w, h, and then on a line
 * "same N" the number of their pixels that were already on screen (re-sent identical). */
static void wire_log_tile_done(Viewer *v) {
        const ClientFramebuffer *fb = client_session_framebuffer(v->session);
        size_t same = 0;

        if (!v->tile_pending)
                return;
        v->tile_pending = false;
        if (v->tile_x + v->tile_w > fb->width || v->tile_y + v->tile_h > fb->height)
                return;
        for (uint32_t y = 0; y < v->tile_h; y++) {
                const uint32_t *now = (const uint32_t *) (fb->pixels + (size_t) (v->tile_y + y) * fb->stride) + v->tile_x;
                const uint32_t *before = (const uint32_t *) v->tile_before + (size_t) y * v->tile_w;
                for (uint32_t x = 0; x < v->tile_w; x++)
                        same += now[x] == before[x];
        }
        fprintf(v->wire_log, "same %zu\n", same);
}

static void on_received(ClientSession *s, const WireMessage *m, size_t size, void *userdata) {
        Viewer *v = userdata;
        if (!v->wire_log)
                return;
        wire_log_tile_done(v);
        fprintf(v->wire_log, "%.6f %s %zu", (double) now_usec() / USEC_PER_SEC, wire_type_name(m->type), size);
        if (m->type != WIRE_TYPE_TILE) {
                fputc('\n', v->wire_log);
                return;
        }
        const WireTile *t = &m->tile;
        const ClientFramebuffer *fb = client_session_framebuffer(s);
        fprintf(v->wire_log, " %u %u %u %u %u\n", t->codec, t->x, t->y, t->w, t->h);
        if (!v->tile_before)
                v->tile_before = malloc((size_t) DISPLAY_TILE_MAX_DIM * DISPLAY_TILE_MAX_DIM * 4);
        if (!v->tile_before || t->w > DISPLAY_TILE_MAX_DIM || t->h > DISPLAY_TILE_MAX_DIM ||
            (uint32_t) t->x + t->w > fb->width || (uint32_t) t->y + t->h > fb->height)
                return;
        for (uint32_t y = 0; y < t->h; y++)
                memcpy(v->tile_before + (size_t) y * t->w * 4, fb->pixels + (size_t) (t->y + y) * fb->stride + (size_t) t->x * 4,
                       (size_t) t->w * 4);
        v->tile_x = t->x, v->tile_y = t->y, v->tile_w = t->w, v->tile_h = t->h;
        v->tile_pending = true;
}

static const ClientCallbacks callbacks = {
        .on_received = on_received,
        .media = {
                .on_start = on_media_start,
                .on_geometry = on_media_geometry,
                .on_stop = on_media_stop,
                .on_video = on_media_video,
                .on_audio = on_media_audio,
                .on_mic = on_mic,
        },
        .on_agent_status = on_agent_status,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
        .on_windows = on_windows,
        .on_transport = on_transport,
        .on_reconnecting = on_reconnecting,
        .on_resumed = on_resumed,
        .on_welcome = on_welcome,
        .on_rejected = on_rejected,
        .on_frame = on_frame,
        .on_mode = on_mode,
        .on_cursor = on_cursor,
        .on_role = on_role,
        .on_notice = on_notice,
        .on_closed = on_closed,
};

void viewer_connect(Viewer *v, const char *ticket, const ViewerFrontend *frontend, void *frontend_data) {
        v->frontend = frontend;
        v->frontend_data = frontend_data;
        v->started = now_usec();

        if (v->options.out_dir && mkdir(v->options.out_dir, 0755) < 0 && errno != EEXIST) {
                viewer_quit(v, VIEWER_EXIT_USAGE, "Cannot create %s: %s", v->options.out_dir, strerror(errno));
                return;
        }

        if (v->options.media_out_dir && mkdir(v->options.media_out_dir, 0755) < 0 && errno != EEXIST) {
                viewer_quit(v, VIEWER_EXIT_USAGE, "Cannot create %s: %s", v->options.media_out_dir, strerror(errno));
                return;
        }
        if (v->options.wire_log && !(v->wire_log = fopen(v->options.wire_log, "we"))) {
                viewer_quit(v, VIEWER_EXIT_USAGE, "Cannot create %s: %s", v->options.wire_log, strerror(errno));
                return;
        }
        int r = media_out_new(v->options.media_out_dir, stderr, &v->media_out);
        if (r >= 0 && v->options.mic_wav) {
                r = mic_wav_load(v->options.mic_wav, &v->mic_wav);
                if (r < 0) {
                        viewer_quit(v, VIEWER_EXIT_USAGE, "Cannot use %s as the microphone: %s", v->options.mic_wav,
                                    strerror(-r));
                        return;
                }
                v->options.client.media.microphone = true;
        }
        if (r < 0) {
                viewer_quit(v, VIEWER_EXIT_USAGE, "Out of memory");
                return;
        }

        r = client_session_new(ticket, &v->options.client, &callbacks, v, &v->session);
        if (r == -EINVAL || r == -EBADMSG)
                viewer_quit(v, VIEWER_EXIT_USAGE, "Invalid ticket: %s", strerror(-r));
        else if (r < 0)
                viewer_quit(v, VIEWER_EXIT_TRANSPORT, "Failed to connect: %s", strerror(-r));
}

int viewer_fd(Viewer *v, short *ret_events) {
        if (!v->session || v->closed)
                return -EBADF;
        uint32_t e = client_session_poll_events(v->session);
        *ret_events = (short) ((e & EPOLLIN ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0));
        return client_session_fd(v->session);
}

void viewer_process(Viewer *v) {
        if (v->session && !v->closed)
                (void) client_session_process(v->session); /* failures arrive through on_closed */
}

/* The transport and its quality rating: on stderr and in the window's title when either changed
 * (the figures in the text change all the time: they are said only with a change). */
static void check_link(Viewer *v, uint64_t now) {
        ClientLinkQuality q;

        v->link_checked = now;
        if (!v->desktop || client_session_quality(v->session, &q) < 0)
                return; /* not welcomed yet, or between connections */
        client_quality_format(&q, v->link_text, sizeof(v->link_text));
        if (v->link_shown && (int) q.level == v->link_level && (int) q.transport == v->link_transport)
                return;
        v->link_shown = true;
        v->link_level = (int) q.level;
        v->link_transport = (int) q.transport;
        viewer_message("link: %s", v->link_text);
        if (v->frontend && v->frontend->link)
                v->frontend->link(v->link_text, v->frontend_data);
}

uint64_t viewer_tick(Viewer *v, uint64_t now) {
        uint64_t deadline = USEC_INFINITY;

        if (v->done)
                return deadline;
        if (v->session && !v->closed) {
                if (now >= v->link_checked + VIEWER_LINK_CHECK_USEC)
                        check_link(v, now);
                deadline = v->link_checked + VIEWER_LINK_CHECK_USEC;
        }
        if (v->session && !v->closed) {
                /* The session's own clock: liveness, acks, reconnection attempts. */
                uint64_t due = client_session_next_timeout(v->session);
                if (due <= now) {
                        viewer_process(v);
                        due = v->closed ? USEC_INFINITY : client_session_next_timeout(v->session);
                }
                if (v->done)
                        return USEC_INFINITY;
                deadline = MIN(deadline, due);
        }
        if (v->options.timeout) {
                uint64_t end = v->started + v->options.timeout;
                if (now >= end) {
                        viewer_quit(v, VIEWER_EXIT_TIMEOUT, "Timed out after %g s", (double) v->options.timeout / USEC_PER_SEC);
                        return deadline;
                }
                deadline = MIN(deadline, end);
        }

        if (v->session && !v->closed) {
                /* The session's own timers (UDP: acks, retransmissions, keepalive). */
                uint64_t t = client_session_next_timeout(v->session);
                if (t <= now) {
                        (void) client_session_on_timeout(v->session, now); /* failures arrive through on_closed */
                        t = v->session && !v->closed ? client_session_next_timeout(v->session) : USEC_INFINITY;
                }
                deadline = MIN(deadline, t);
                if (v->done)
                        return USEC_INFINITY;
        }

        if (v->runner) {
                uint64_t d = USEC_INFINITY;
                int status;
                const char *message;

                if (script_runner_run(v->runner, now, &d) > 0 && script_runner_ended(v->runner, &status, &message)) {
                        if (message)
                                viewer_quit(v, status, "%s", message);
                        else
                                viewer_quit(v, status, NULL);
                        return USEC_INFINITY;
                }
                deadline = MIN(deadline, d);
        }

        if (v->mic_wav && v->session && !v->closed)
                deadline = MIN(deadline, mic_wav_tick(v->mic_wav, client_session_media(v->session), now));

        if (v->picture_new && !v->filmstrip_failed) {
                if (shot_due(v, now))
                        write_shot(v, now);
                else
                        deadline = MIN(deadline, v->last_shot + v->options.filmstrip_interval);
        }
        return deadline;
}

void viewer_shutdown(Viewer *v) {
        if (v->wire_log) {
                if (v->session)
                        wire_log_tile_done(v);
                fflush(v->wire_log);
        }
        if (v->options.out_dir && v->picture.pixels) {
                _cleanup_(freep) char *path = NULL;
                if (asprintf(&path, "%s/last.%s", v->options.out_dir, image_format_extension(v->options.format)) >= 0) {
                        int r = image_write(&v->picture, v->options.format, path);
                        if (r < 0)
                                viewer_message("Failed to write %s: %s", path, strerror(-r));
                }
        }

        if (v->session && !v->closed)
                check_link(v, now_usec());
        if (v->link_shown)
                viewer_message("link summary: %s", v->link_text);
        if (!v->session || v->closed)
                return;
        v->closing = true; /* before: the session may report the close from inside the call */
        if (client_session_close(v->session) < 0)
                return;
        uint64_t end = now_usec() + SHUTDOWN_GRACE_USEC;
        client_session_drain(v->session, end);
        /* A session that reports the close later (the tests' fake) is run until it does. */
        for (;;) {
                uint64_t now = now_usec();
                struct pollfd p = {};
                int fd = viewer_fd(v, &p.events);
                if (fd < 0 || now >= end)
                        break;
                p.fd = fd;
                if (poll(&p, 1, poll_timeout_ms(now, end, -1)) < 0 && errno != EINTR)
                        break;
                if (p.revents)
                        viewer_process(v);
        }
}
