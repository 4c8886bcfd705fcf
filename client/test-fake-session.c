/* TEST DOUBLE for client-session.h: see test-fake-session.h. Deliberately simple; the real
 * session (TLS, handshake, decoders) is another engineer's and is tested on its own. */
#include "test-fake-session.h"
#include "client-media-forward.h"
#include "client-quality.h"
#include "display-codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "viewer-util.h"
#include "wire.h"

typedef enum FakeState {
        FAKE_CONNECTING,
        FAKE_RUNNING,
        FAKE_CLOSING, /* client_session_close() was called */
        FAKE_CLOSED,
} FakeState;

struct ClientSession {
        ClientCallbacks cb;
        void *userdata;
        int timer_fd;
        FakeState state;
        int closed_error;

        /* scenario */
        uint32_t width, height, width2, height2, mode2_frame;
        uint32_t frames, interval_ms, bye_after, drop_after, slow_after;
        int role, reject;
        bool fail, hang, cursor;
        char *desktop, *input_log_path;

        uint32_t sent;
        uint64_t next_frame;
        ClientFramebuffer fb;
        ClientCursor cur;
        uint8_t cursor_argb[8 * 8 * 4];
        uint64_t bytes;

        char *log;
        size_t log_len;

        /* the agent */
        bool agent_set;
        uint64_t agent_features;
        uint32_t agent_lost_after, n_windows;
        char *guest_clip;
        ClientAgentStatus status;
        ClientWindows windows;
        uint32_t local_formats, clip_serial;
        int want_clip;      /* format the fake guest asks for at the next process, -1: none */
        bool asking;        /* on_clipboard_request was called: waiting for clipboard_send() */
        bool guest_grabbed; /* the guest's grab is the current one */

        /* media=PATH: wire frames of the media channel, one handed to a real ClientMedia per
         * frame interval once welcomed (its replies go nowhere) */
        char *media_path;
        uint8_t *media_data;
        size_t media_len, media_off;
        ClientMediaOptions media_options;
        ClientMedia *media;
        Buffer media_replies; /* what the client media code sent hostd: logged, then dropped */
};

void fake_session_pixel(uint32_t frame, uint32_t x, uint32_t y, uint8_t ret_bgr[3]) {
        ret_bgr[0] = (uint8_t) (x + frame);
        ret_bgr[1] = (uint8_t) y;
        ret_bgr[2] = (uint8_t) (frame * 10);
}

const char *fake_session_input_log(ClientSession *s) {
        return s->log ? s->log : "";
}

_printf_(2, 3) static void log_input(ClientSession *s, const char *fmt, ...) {
        char line[256];
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(line) - 2)
                n = (int) sizeof(line) - 2;
        line[n++] = '\n';
        line[n] = '\0';

        char *l = realloc(s->log, s->log_len + (size_t) n + 1);
        if (l) {
                memcpy(l + s->log_len, line, (size_t) n + 1);
                s->log = l;
                s->log_len += (size_t) n;
        }
        if (s->input_log_path) {
                FILE *f = fopen(s->input_log_path, "ae");
                if (f) {
                        fputs(line, f);
                        fclose(f);
                }
        }
}

/* "WxH", in place */
static int parse_size(char *v, uint32_t *w, uint32_t *h) {
        uint64_t a, b;
        char *x = strchr(v, 'x');
        if (!x)
                return -EINVAL;
        *x++ = '\0';
        if (parse_u64(v, 4096, &a) < 0 || parse_u64(x, 4096, &b) < 0 || a == 0 || b == 0)
                return -EINVAL;
        *w = (uint32_t) a;
        *h = (uint32_t) b;
        return 0;
}

static int parse_u32(const char *v, uint32_t *ret) {
        uint64_t x;
        int r = parse_u64(v, UINT32_MAX, &x);
        if (r < 0)
                return r;
        *ret = (uint32_t) x;
        return 0;
}

static int parse_scenario(ClientSession *s, const char *ticket) {
        if (strncmp(ticket, "fake:", 5) != 0)
                return -EINVAL;
        _cleanup_(freep) char *copy = strdup(ticket + 5);
        if (!copy)
                return -ENOMEM;

        for (char *item = copy, *next; item && *item; item = next) {
                next = strchr(item, ',');
                if (next)
                        *next++ = '\0';
                char *v = strchr(item, '=');
                if (!v)
                        return -EINVAL;
                *v++ = '\0';

                uint32_t n = 0;
                int r = 0;
                if (strcmp(item, "mode") == 0)
                        r = parse_size(v, &s->width, &s->height);
                else if (strcmp(item, "mode2") == 0) {
                        char *at = strchr(v, '@');
                        if (!at)
                                return -EINVAL;
                        *at++ = '\0';
                        r = parse_size(v, &s->width2, &s->height2);
                        if (r >= 0)
                                r = parse_u32(at, &s->mode2_frame);
                } else if (strcmp(item, "desktop") == 0) {
                        free(s->desktop);
                        s->desktop = strdup(v);
                        if (!s->desktop)
                                return -ENOMEM;
                } else if (strcmp(item, "media") == 0) {
                        free(s->media_path);
                        s->media_path = strdup(v);
                        if (!s->media_path)
                                return -ENOMEM;
                } else if (strcmp(item, "guest-clip") == 0) {
                        free(s->guest_clip);
                        s->guest_clip = strdup(v);
                        if (!s->guest_clip)
                                return -ENOMEM;
                } else if (strcmp(item, "agent") == 0) {
                        char *end = NULL;
                        errno = 0;
                        unsigned long long f = strtoull(v, &end, 16);
                        if (errno || !end || *end || end == v)
                                return -EINVAL;
                        s->agent_set = true;
                        s->agent_features = f;
                } else if (strcmp(item, "input-log") == 0) {
                        free(s->input_log_path);
                        s->input_log_path = strdup(v);
                        if (!s->input_log_path)
                                return -ENOMEM;
                } else {
                        r = parse_u32(v, &n);
                        if (r < 0)
                                return r;
                        if (strcmp(item, "frames") == 0)
                                s->frames = n;
                        else if (strcmp(item, "interval") == 0)
                                s->interval_ms = n;
                        else if (strcmp(item, "role") == 0)
                                s->role = n ? 1 : 0;
                        else if (strcmp(item, "reject") == 0)
                                s->reject = (int) n;
                        else if (strcmp(item, "fail") == 0)
                                s->fail = n;
                        else if (strcmp(item, "hang") == 0)
                                s->hang = n;
                        else if (strcmp(item, "cursor") == 0)
                                s->cursor = n;
                        else if (strcmp(item, "bye-after") == 0)
                                s->bye_after = n;
                        else if (strcmp(item, "drop-after") == 0)
                                s->drop_after = n;
                        else if (strcmp(item, "slow-after") == 0)
                                s->slow_after = n;
                        else if (strcmp(item, "agent-lost-after") == 0)
                                s->agent_lost_after = n;
                        else if (strcmp(item, "windows") == 0)
                                s->n_windows = MIN(n, 1024u);
                        else
                                return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Makes the fd readable at monotonic time at (0: at once; USEC_INFINITY: never). */
static int arm(ClientSession *s, uint64_t at) {
        struct itimerspec its = {};
        if (at != USEC_INFINITY) {
                its.it_value.tv_sec = (time_t) (at / USEC_PER_SEC);
                its.it_value.tv_nsec = (long) (at % USEC_PER_SEC) * 1000;
                if (at == 0)
                        its.it_value.tv_nsec = 1; /* an all-zero value would disarm */
        }
        return timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static int media_load(ClientSession *s) {
        FILE *f = fopen(s->media_path, "re");
        if (!f)
                return -errno;
        size_t cap = 0;
        for (;;) {
                if (s->media_len == cap) {
                        cap = cap ? cap * 2 : 65536;
                        uint8_t *p = cap <= (64u << 20) ? realloc(s->media_data, cap) : NULL;
                        if (!p) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        s->media_data = p;
                }
                size_t n = fread(s->media_data + s->media_len, 1, cap - s->media_len, f);
                if (n == 0)
                        break;
                s->media_len += n;
        }
        fclose(f);
        return 0;
}

/* The next media message of the file into the ClientMedia; false at the end. A protocol error
 * ends the session as the real one would. */
static bool media_step(ClientSession *s, uint64_t now);

/* The ClientMedia's callbacks: its replies into a buffer the fake logs from; the rest go to the
 * viewer's callbacks with the viewer's userdata. */
static Buffer *media_out(void *userdata) {
        return &((ClientSession *) userdata)->media_replies;
}

CLIENT_MEDIA_FORWARD(fake_media_callbacks, media_out);

int client_session_new(const char *ticket, const ClientOptions *options, const ClientCallbacks *callbacks,
                       void *userdata, ClientSession **ret) {
        ClientSession *s = calloc(1, sizeof(ClientSession));
        int r;

        if (!s)
                return -ENOMEM;
        *s = (ClientSession) {
                .cb = *callbacks, .userdata = userdata, .timer_fd = -EBADF,
                .width = 64, .height = 48, .frames = 3, .interval_ms = 10, .want_clip = -1,
        };
        buffer_init(&s->media_replies, 4u << 20);
        r = parse_scenario(s, ticket);
        if (r >= 0 && !s->desktop && !(s->desktop = strdup("fake-desktop")))
                r = -ENOMEM;
        if (r >= 0 && s->media_path)
                r = media_load(s);
        if (options)
                s->media_options = options->media;
        if (r >= 0) {
                s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
                if (s->timer_fd < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = arm(s, now_usec() + USEC_PER_MSEC); /* "connecting" takes a millisecond */
        if (r < 0) {
                client_session_free(s);
                return r;
        }
        if (s->input_log_path)
                log_input(s, "connect host=%s port=%u quality=%d lossless=%d insecure=%d",
                          options && options->host ? options->host : "-", options ? options->port : 0,
                          options ? options->quality : 0, options ? options->lossless : 0,
                          options ? options->insecure_no_pin : 0);
        *ret = s;
        return 0;
}

ClientSession *client_session_free(ClientSession *s) {
        if (!s)
                return NULL;
        if (s->timer_fd >= 0)
                close(s->timer_fd);
        s->cb.media = (ClientMediaCallbacks) {};
        client_media_free(s->media);
        buffer_done(&s->media_replies);
        free(s->media_path);
        free(s->media_data);
        free(s->fb.pixels);
        free(s->guest_clip);
        client_windows_done(&s->windows);
        free(s->desktop);
        free(s->input_log_path);
        free(s->log);
        free(s);
        return NULL;
}

int client_session_fd(ClientSession *s) {
        return s->timer_fd;
}

uint32_t client_session_poll_events(ClientSession *s) {
        return EPOLLIN;
}

/* The fake runs on its timerfd alone: no clock of its own to ask for, never reconnecting. */
uint64_t client_session_next_timeout(ClientSession *s) {
        return UINT64_MAX;
}

int client_session_on_timeout(ClientSession *s, uint64_t now_usec) {
        return client_session_process(s);
}

bool client_session_reconnecting(ClientSession *s) {
        return false;
}

int client_session_reconnect(ClientSession *s) {
        return -ENOTCONN;
}

static int set_mode(ClientSession *s, uint32_t w, uint32_t h) {
        uint8_t *p = calloc((size_t) w * h, 4);
        if (!p)
                return -ENOMEM;
        free(s->fb.pixels);
        s->fb = (ClientFramebuffer) { .width = w, .height = h, .stride = w * 4, .pixels = p };
        if (s->cb.on_mode)
                s->cb.on_mode(s, w, h, s->userdata);
        return 0;
}

static void paint(ClientSession *s, uint32_t frame) {
        for (uint32_t y = 0; y < s->fb.height; y++)
                for (uint32_t x = 0; x < s->fb.width; x++) {
                        uint8_t *p = s->fb.pixels + (size_t) y * s->fb.stride + (size_t) x * 4;
                        fake_session_pixel(frame, x, y, p);
                        p[3] = 0;
                }
        s->bytes += (size_t) s->fb.height * s->fb.stride;
}

static void set_cursor(ClientSession *s) {
        /* an 8x8 opaque white square with a black border, hot spot in the middle */
        for (int i = 0; i < 64; i++) {
                bool border = i % 8 == 0 || i % 8 == 7 || i < 8 || i >= 56;
                uint32_t v = border ? 0xff000000u : 0xffffffffu;
                memcpy(s->cursor_argb + i * 4, &v, 4);
        }
        s->cur = (ClientCursor) {
                .width = 8, .height = 8, .hot_x = 4, .hot_y = 4, .argb = s->cursor_argb,
                .x = 10, .y = 10, .visible = true, .shape_serial = s->cur.shape_serial + 1,
        };
        if (s->cb.on_cursor)
                s->cb.on_cursor(s, s->userdata);
}

/* The agent's state changes as hostd would say it: status, then the features' contents. */
static void agent_status(ClientSession *s, uint8_t mode, uint64_t features, uint8_t cause) {
        s->status = (ClientAgentStatus) { .known = true, .mode = mode, .features = mode == WIRE_MODE_AGENT ? features : 0,
                                          .cause = cause };
        bool clip = s->status.features & CLIENT_FEATURE_CLIPBOARD, win = s->status.features & CLIENT_FEATURE_WINDOWS;
        if (!win && s->windows.n > 0) {
                client_windows_reset(&s->windows);
                if (s->cb.on_windows)
                        s->cb.on_windows(s, s->userdata);
        }
        if (!clip && s->guest_grabbed) {
                s->guest_grabbed = false;
                if (s->cb.on_clipboard_grab)
                        s->cb.on_clipboard_grab(s, 0, s->userdata);
        }
        if (s->cb.on_agent_status)
                s->cb.on_agent_status(s, &s->status, s->userdata);
        if (win && s->n_windows && s->windows.n == 0) {
                for (uint32_t i = 0; i < s->n_windows; i++) {
                        char title[32];
                        int n = snprintf(title, sizeof(title), "win %u", i);
                        WireWindowUpdate u = { .id = 100 + i, .state = CLIENT_WINDOW_MAPPED, .x = (int32_t) (8 * i),
                                               .y = (int32_t) (6 * i), .width = 20, .height = 10, .title = title,
                                               .title_len = (size_t) n };
                        (void) client_windows_update(&s->windows, &u);
                }
                if (s->cb.on_windows)
                        s->cb.on_windows(s, s->userdata);
        }
        if (clip && s->guest_clip && !s->guest_grabbed) {
                s->guest_grabbed = true;
                if (s->cb.on_clipboard_grab)
                        s->cb.on_clipboard_grab(s, CLIENT_CLIPBOARD_TEXT, s->userdata);
        }
}

static int close_with(ClientSession *s, int error, const char *reason);

/* "keyframe-request STREAM" and "mic-packet STREAM SEQ PTS LEN" into the input log. */
static void media_log_replies(ClientSession *s) {
        const uint8_t *p = buffer_data(&s->media_replies);
        size_t len = buffer_len(&s->media_replies), off = 0;
        while (len - off >= WIRE_HEADER_SIZE) {
                WireHeader h;
                WireMessage m;
                wire_header_parse(p + off, &h);
                if (h.size > len - off - WIRE_HEADER_SIZE)
                        break;
                if (s->input_log_path && wire_decode(h.type, h.channel, p + off + WIRE_HEADER_SIZE, h.size, &m) == 0) {
                        if (m.type == WIRE_TYPE_MEDIA_KEYFRAME_REQUEST)
                                log_input(s, "keyframe-request %u", m.media_keyframe_request.stream);
                        else if (m.type == WIRE_TYPE_MIC_PACKET)
                                log_input(s, "mic-packet %u %u %llu %zu", m.mic_packet.stream, m.mic_packet.seq,
                                          (unsigned long long) m.mic_packet.pts_us, m.mic_packet.data_len);
                }
                off += WIRE_HEADER_SIZE + h.size;
        }
        buffer_clear(&s->media_replies);
}

static bool media_step(ClientSession *s, uint64_t now) {
        while (s->media && s->media_len - s->media_off >= WIRE_HEADER_SIZE) {
                WireHeader h;
                WireMessage m;
                wire_header_parse(s->media_data + s->media_off, &h);
                if (h.size > s->media_len - s->media_off - WIRE_HEADER_SIZE)
                        break;
                const uint8_t *payload = s->media_data + s->media_off + WIRE_HEADER_SIZE;
                s->media_off += WIRE_HEADER_SIZE + h.size;
                if (!client_media_type(h.type) || wire_decode(h.type, h.channel, payload, h.size, &m) < 0)
                        continue;
                int r = client_media_handle(s->media, &m, now);
                if (r < 0)
                        close_with(s, r, "media protocol error");
                return true;
        }
        return false;
}

static int close_with(ClientSession *s, int error, const char *reason) {
        s->state = FAKE_CLOSED;
        s->closed_error = error < 0 ? error : -ECONNRESET;
        (void) arm(s, USEC_INFINITY); /* nothing more to do */
        if (s->cb.on_closed)
                s->cb.on_closed(s, error, reason, s->userdata);
        return s->closed_error;
}

int client_session_process(ClientSession *s) {
        uint64_t expirations, now = now_usec();

        (void) !read(s->timer_fd, &expirations, sizeof(expirations));
        switch (s->state) {
        case FAKE_CLOSED:
                return s->closed_error;
        case FAKE_CLOSING:
                return close_with(s, 0, "closed by the viewer");
        case FAKE_CONNECTING:
                if (s->hang)
                        return arm(s, USEC_INFINITY);
                if (s->fail)
                        return close_with(s, -ECONNREFUSED, "Connection refused");
                if (s->reject) {
                        if (s->cb.on_rejected)
                                s->cb.on_rejected(s, s->reject, "fake rejection", s->userdata);
                        return close_with(s, 0, "rejected");
                }
                s->state = FAKE_RUNNING;
                if (s->cb.on_welcome)
                        s->cb.on_welcome(s, s->desktop, s->role, s->userdata);
                if (s->state != FAKE_RUNNING) /* closed from the callback */
                        return 0;
                int r = set_mode(s, s->width, s->height);
                if (r < 0)
                        return close_with(s, r, "out of memory");
                if (s->cursor)
                        set_cursor(s);
                if (s->agent_set)
                        agent_status(s, s->agent_features ? WIRE_MODE_AGENT : WIRE_MODE_HYPERVISOR, s->agent_features,
                                     s->agent_features ? WIRE_CAUSE_AGENT_HELLO : WIRE_CAUSE_AGENT_CLOSED);
                s->next_frame = now;
                if (s->media_data) {
                        /* The viewer's own media callbacks get the viewer's userdata. */
                        r = client_media_new(&s->media_options, &fake_media_callbacks, s, &s->media);
                        if (r < 0)
                                return close_with(s, r, "out of memory");
                }
                break;
        case FAKE_RUNNING:
                break;
        }
        /* One media message per call, a call per millisecond while there are any; the replies
         * (keyframe requests, the microphone's packets) logged. */
        bool media_more = s->state == FAKE_RUNNING && media_step(s, now);
        if (s->media)
                media_log_replies(s);
        if (s->media && client_media_mic_active(s->media))
                media_more = true; /* the microphone sends as the viewer's ticks push */
        /* The fake guest asks for what we grabbed. */
        if (s->state == FAKE_RUNNING && s->want_clip >= 0 && !s->asking) {
                uint8_t format = (uint8_t) s->want_clip;
                s->want_clip = -1;
                s->asking = true;
                if (s->cb.on_clipboard_request)
                        s->cb.on_clipboard_request(s, format, s->userdata);
        }

        while (s->state == FAKE_RUNNING && s->sent < s->frames && now >= s->next_frame) {
                uint32_t f = ++s->sent;
                if (s->mode2_frame == f && s->width2) {
                        int r = set_mode(s, s->width2, s->height2);
                        if (r < 0)
                                return close_with(s, r, "out of memory");
                }
                /* As the wire would bring it, for on_received: the frame as one lossless tile, then
                 * the same tile again (it changes nothing), then the frame's end. */
                WireMessage tile = { .type = WIRE_TYPE_TILE, .tile = { .frame = f, .w = (uint16_t) s->fb.width,
                                                                        .h = (uint16_t) s->fb.height,
                                                                        .codec = DISPLAY_CODEC_LOSSLESS } };
                WireMessage end = { .type = WIRE_TYPE_FRAME_END, .frame_end = { .frame = f, .tiles = 2 } };
                if (s->cb.on_received)
                        s->cb.on_received(s, &tile, 100, s->userdata);
                paint(s, f);
                if (s->cb.on_received) {
                        s->cb.on_received(s, &tile, 100, s->userdata);
                        s->cb.on_received(s, &end, 20, s->userdata);
                }
                if (s->cursor && s->cb.on_cursor) {
                        s->cur.x = (int32_t) (f % s->fb.width);
                        s->cb.on_cursor(s, s->userdata);
                }
                if (s->cb.on_frame)
                        s->cb.on_frame(s, f, s->userdata);
                if (s->agent_lost_after && f == s->agent_lost_after)
                        agent_status(s, WIRE_MODE_HYPERVISOR, 0, WIRE_CAUSE_HEARTBEAT_LOST);
                if (s->bye_after && f >= s->bye_after)
                        return close_with(s, 0, "fake bye");
                if (s->drop_after && f >= s->drop_after)
                        return close_with(s, -ECONNRESET, "Connection reset by peer");
                s->next_frame += (uint64_t) s->interval_ms * USEC_PER_MSEC;
        }
        if (s->state == FAKE_RUNNING) {
                uint64_t at = s->sent < s->frames ? s->next_frame : USEC_INFINITY;
                return arm(s, media_more ? MIN(at, now + USEC_PER_MSEC) : at);
        }
        return s->state == FAKE_CLOSED ? s->closed_error : 0;
}

const ClientFramebuffer *client_session_framebuffer(ClientSession *s) {
        return s->fb.pixels ? &s->fb : NULL;
}

const ClientCursor *client_session_cursor(ClientSession *s) {
        return s->cur.argb ? &s->cur : NULL;
}

int client_session_role(ClientSession *s) {
        return s->role;
}

uint64_t client_session_id(ClientSession *s) {
        return 42;
}

uint64_t client_session_bytes_received(ClientSession *s) {
        return s->bytes;
}

static int input_allowed(ClientSession *s) {
        return s->state == FAKE_RUNNING ? 0 : -ENOTCONN;
}

int client_session_key(ClientSession *s, uint32_t keycode, bool down) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "key 0x%02x %s", keycode, down ? "down" : "up");
        return r;
}

int client_session_mouse_button(ClientSession *s, uint8_t button, bool down) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "button %u %s", button, down ? "down" : "up");
        return r;
}

int client_session_mouse_absolute(ClientSession *s, uint32_t x, uint32_t y) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "abs %u %u", x, y);
        return r;
}

int client_session_mouse_relative(ClientSession *s, int32_t dx, int32_t dy) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "rel %d %d", dx, dy);
        return r;
}

int client_session_handover(ClientSession *s, uint64_t to_session) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "handover %llu", (unsigned long long) to_session);
        return r;
}

int client_session_refresh(ClientSession *s) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "refresh");
        return r;
}

int client_session_close(ClientSession *s) {
        if (s->state == FAKE_CLOSED)
                return -ENOTCONN;
        s->state = FAKE_CLOSING;
        return arm(s, 0);
}

void client_session_drain(ClientSession *s, uint64_t end) {
        /* The fake's bye is its FAKE_CLOSING timer, run by the viewer's loop. */
}

/* Over "TCP", 20 ms and no loss; after frame slow-after (when set), 400 ms and 6% loss: poor. */
int client_session_quality(ClientSession *s, ClientLinkQuality *ret) {
        bool slow = s->slow_after && s->sent >= s->slow_after;
        *ret = (ClientLinkQuality) { .transport = WIRE_CONN_STREAM, .measured = true,
                                     .rtt_usec = slow ? 400000 : 20000, .min_rtt_usec = 20000,
                                     .loss = slow ? 0.06 : 0.0, .bytes_received = s->bytes };
        ret->level = client_quality_classify(ret->rtt_usec, ret->min_rtt_usec, ret->loss);
        return 0;
}

/* ---- the agent ---- */

const ClientAgentStatus *client_session_agent_status(ClientSession *s) {
        return &s->status;
}

int client_session_clipboard_grab(ClientSession *s, uint32_t formats) {
        formats &= CLIENT_CLIPBOARD_FORMATS;
        s->local_formats = formats;
        if (input_allowed(s) < 0 || !(s->status.features & CLIENT_FEATURE_CLIPBOARD))
                return -EOPNOTSUPP;
        log_input(s, "clipboard-grab %u", formats);
        s->clip_serial++;
        s->asking = false;
        if (s->guest_grabbed) {
                s->guest_grabbed = false; /* ours replaces the guest's */
                if (s->cb.on_clipboard_grab)
                        s->cb.on_clipboard_grab(s, 0, s->userdata);
        }
        if (formats) {
                s->want_clip = formats & CLIENT_CLIPBOARD_TEXT ? WIRE_FORMAT_TEXT : WIRE_FORMAT_PNG;
                (void) arm(s, 0); /* asked at the next process, as a real guest would ask later */
        }
        return 0;
}

int client_session_clipboard_request(ClientSession *s, uint8_t format) {
        if (input_allowed(s) < 0)
                return -ENOTCONN;
        if (!s->guest_grabbed || format != WIRE_FORMAT_TEXT)
                return -ENODATA;
        if (s->cb.on_clipboard_data)
                s->cb.on_clipboard_data(s, format, 0, (const uint8_t *) s->guest_clip, strlen(s->guest_clip),
                                        s->userdata);
        return 0;
}

int client_session_clipboard_send(ClientSession *s, uint8_t format, const uint8_t *data, size_t len) {
        if (!s->asking)
                return -ESTALE;
        s->asking = false;
        if (len > CLIENT_CLIPBOARD_TOTAL_MAX)
                return -EFBIG;
        if (format == WIRE_FORMAT_TEXT)
                log_input(s, "clipboard-in %u %zu %.*s", format, len, (int) MIN(len, (size_t) 64),
                          data ? (const char *) data : "");
        else
                log_input(s, "clipboard-in %u %zu", format, len);
        return 0;
}

int client_session_paste_text(ClientSession *s, const char *text, size_t len) {
        int r = input_allowed(s);
        if (r < 0)
                return r;
        if (len > CLIENT_PASTE_TEXT_MAX)
                return -E2BIG;
        log_input(s, "paste %.*s", (int) MIN(len, (size_t) 200), text);
        return 0;
}

int client_session_resize(ClientSession *s, uint32_t width, uint32_t height) {
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "resize %u %u", width, height);
        return r;
}

const ClientWindows *client_session_windows(ClientSession *s) {
        return &s->windows;
}

int client_session_window_action(ClientSession *s, uint32_t id, uint8_t op, int32_t x, int32_t y, uint32_t width,
                                 uint32_t height) {
        if (!(s->status.features & CLIENT_FEATURE_WINDOWS))
                return -EOPNOTSUPP;
        if (!client_windows_find(&s->windows, id))
                return -ENOENT;
        int r = input_allowed(s);
        if (r >= 0)
                log_input(s, "window-action %u %u %d %d %u %u", id, op, x, y, width, height);
        return r;
}

ClientMedia *client_session_media(ClientSession *s) {
        return s->media;
}
