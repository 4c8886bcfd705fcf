#include "viewer-script-runner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viewer-exit.h"
#include "viewer-keymap.h"
#include "viewer-util.h"

struct ScriptRunner {
        const Script *script;
        ClientSession *session;
        const ClientFramebuffer *picture;
        ImageFormat default_format;

        size_t pc;             /* the command being run */
        bool started;          /* pc's command has begun (its timers are set) */
        uint64_t until;        /* sleep, type: when to go on */
        uint64_t since;        /* wait-still: the quiet period counts from here */
        uint64_t frames_mark;  /* frames when the previous command ended (or the runner began) */
        size_t typed;          /* type: characters sent */

        uint64_t frames, last_frame;
        ScriptMediaTotals media;

        /* Our clipboard as the script set it (clipboard-set*), answered when hostd asks. */
        uint8_t *clip_data;
        size_t clip_len;
        uint8_t clip_format;
        /* clipboard-expect*'s request and its answer. */
        bool expecting, asked, have;
        int got_error;
        uint8_t *got;
        size_t got_len;
        uint8_t *want; /* clipboard-expect-png: the file */
        size_t want_len;
        unsigned dumps;

        bool ended;
        int status;
        char *message;
};

int script_runner_new(const Script *script, ClientSession *session, const ClientFramebuffer *picture,
                      ImageFormat default_format, uint64_t now, ScriptRunner **ret) {
        ScriptRunner *r = calloc(1, sizeof(ScriptRunner));
        if (!r)
                return -ENOMEM;
        r->script = script;
        r->session = session;
        r->picture = picture;
        r->default_format = default_format;
        r->last_frame = now; /* wait-still at the start counts from when we began watching */
        *ret = r;
        return 0;
}

ScriptRunner *script_runner_free(ScriptRunner *r) {
        if (!r)
                return NULL;
        free(r->clip_data);
        free(r->got);
        free(r->want);
        free(r->message);
        free(r);
        return NULL;
}

void script_runner_frame(ScriptRunner *r, uint64_t now) {
        r->frames++;
        r->last_frame = now;
}

void script_runner_media(ScriptRunner *r, const ScriptMediaTotals *totals) {
        r->media = *totals;
}

static void end(ScriptRunner *r, int status) {
        r->ended = true;
        r->status = status;
}

_printf_(2, 3) static void fail(ScriptRunner *r, const char *fmt, ...) {
        const ScriptCommand *c = &r->script->commands[r->pc];
        char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        if (asprintf(&r->message, "%s:%u: %s failed: %s", r->script->name, c->line, script_command_name(c->type),
                     what ?: "out of memory") < 0)
                r->message = NULL;
        free(what);
        end(r, VIEWER_EXIT_SCRIPT);
}

/* Input the session refuses: it is closing (on_closed decides the exit status) or out of memory. */
static int input_result(ScriptRunner *r, int q) {
        if (q < 0)
                fail(r, "the session refused the input: %s", strerror(-q));
        return q;
}

static int press(ScriptRunner *r, uint32_t keycode) {
        int q = client_session_key(r->session, keycode, true);
        if (q >= 0)
                q = client_session_key(r->session, keycode, false);
        return input_result(r, q);
}

static int type_one(ScriptRunner *r, char ch) {
        uint32_t code;
        bool shift;
        int q = keymap_from_ascii(ch, &code, &shift);

        if (q < 0) { /* the parser let only typeable text through */
                fail(r, "cannot type byte 0x%02x", (unsigned char) ch);
                return q;
        }
        if (shift) {
                q = input_result(r, client_session_key(r->session, KEYCODE_LEFT_SHIFT, true));
                if (q < 0)
                        return q;
        }
        q = press(r, code);
        if (q >= 0 && shift)
                q = input_result(r, client_session_key(r->session, KEYCODE_LEFT_SHIFT, false));
        return q;
}

static void expect_mode(ScriptRunner *r, const ScriptCommand *c) {
        const ClientFramebuffer *fb = r->picture;

        if (!fb || fb->width == 0 || fb->height == 0 || !fb->pixels)
                fail(r, "expected %ux%u, but no frame has arrived yet", c->mode.width, c->mode.height);
        else if (fb->width != c->mode.width || fb->height != c->mode.height)
                fail(r, "expected %ux%u, the mode is %ux%u", c->mode.width, c->mode.height, fb->width, fb->height);
}

static void save(ScriptRunner *r, const ScriptCommand *c) {
        int q = image_write(r->picture, image_format_for_path(c->text, r->default_format), c->text);
        if (q == -ENODATA)
                fail(r, "%s: no frame has arrived yet", c->text);
        else if (q < 0)
                fail(r, "%s: %s", c->text, strerror(-q));
}

/* A whole file of at most CLIENT_CLIPBOARD_TOTAL_MAX bytes. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_(freep) uint8_t *data = NULL;
        size_t len = 0, cap = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                if (len == cap) {
                        if (cap > CLIENT_CLIPBOARD_TOTAL_MAX)
                                return -EFBIG;
                        cap = cap ? cap * 2 : 65536;
                        uint8_t *p = realloc(data, cap);
                        if (!p)
                                return -ENOMEM;
                        data = p;
                }
                ssize_t n = read(fd, data + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > CLIENT_CLIPBOARD_TOTAL_MAX)
                return -EFBIG;
        *ret = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

void script_runner_clipboard_grab(ScriptRunner *r, uint32_t formats) {
        r->asked = false; /* a new grab: a request is for it, the old one's answer is stale */
}

bool script_runner_clipboard_data(ScriptRunner *r, uint8_t format, int error, const uint8_t *data, size_t len) {
        if (!r->expecting || !r->asked)
                return false;
        if (error == -ESTALE || error == -ECANCELED) {
                r->asked = false; /* asked again on the grab that replaced it */
                return true;
        }
        free(r->got);
        r->got = NULL;
        r->got_len = 0;
        r->got_error = error;
        if (error >= 0) {
                r->got = malloc(len + 1);
                if (!r->got)
                        r->got_error = -ENOMEM;
                else {
                        if (len > 0)
                                memcpy(r->got, data, len);
                        r->got[len] = '\0';
                        r->got_len = len;
                }
        }
        r->have = true;
        return true;
}

bool script_runner_clipboard_request(ScriptRunner *r, uint8_t format) {
        if (!r->clip_data)
                return false;
        (void) client_session_clipboard_send(r->session, format, format == r->clip_format ? r->clip_data : NULL,
                                             format == r->clip_format ? r->clip_len : 0);
        return true;
}

static void clipboard_set(ScriptRunner *r, const ScriptCommand *c) {
        uint8_t *data = NULL;
        size_t len = 0;
        int q;

        if (c->type == SCRIPT_CLIPBOARD_SET_PNG) {
                q = read_file(c->text, &data, &len);
                if (q < 0) {
                        fail(r, "%s: %s", c->text, strerror(-q));
                        return;
                }
        } else {
                len = strlen(c->text);
                data = (uint8_t *) strdup(c->text);
                if (!data) {
                        fail(r, "out of memory");
                        return;
                }
        }
        free(r->clip_data);
        r->clip_data = data;
        r->clip_len = len;
        r->clip_format = c->type == SCRIPT_CLIPBOARD_SET_PNG ? WIRE_FORMAT_PNG : WIRE_FORMAT_TEXT;
        q = client_session_clipboard_grab(r->session, 1u << r->clip_format);
        if (q < 0 && q != -EOPNOTSUPP) /* off now: the grab goes out when the agent's clipboard comes */
                fail(r, "the session refused the grab: %s", strerror(-q));
}

/* Up to 60 bytes of what came, printable, for the failure message. */
static void quote(const uint8_t *p, size_t len, char *buf, size_t size) {
        size_t n = 0;
        for (size_t i = 0; i < len && n + 5 < size && i < 60; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
                        buf[n++] = (char) p[i];
                else
                        n += (size_t) snprintf(buf + n, size - n, "\\x%02x", p[i]);
        }
        buf[n] = '\0';
}

/* clipboard-expect*: 1 when it held, 0 while it waits, -1 after a failure. */
static int clipboard_expect(ScriptRunner *r, const ScriptCommand *c, bool first) {
        uint8_t format = c->type == SCRIPT_CLIPBOARD_EXPECT_PNG ? WIRE_FORMAT_PNG : WIRE_FORMAT_TEXT;

        if (first) {
                free(r->want);
                r->want = NULL;
                r->want_len = 0;
                if (format == WIRE_FORMAT_PNG) {
                        int q = read_file(c->text, &r->want, &r->want_len);
                        if (q < 0) {
                                fail(r, "%s: %s", c->text, strerror(-q));
                                return -1;
                        }
                }
                r->expecting = true;
                r->asked = r->have = false;
        }
        if (!r->asked) {
                /* Asked before the call: the answer may come from inside it. -ENODATA: no such
                 * grab yet, asked again when one comes. */
                r->asked = true;
                int q = client_session_clipboard_request(r->session, format);
                if (q < 0)
                        r->asked = false;
                if (q < 0 && q != -ENODATA) {
                        r->expecting = false;
                        fail(r, "the session refused the request: %s", strerror(-q));
                        return -1;
                }
        }
        if (r->have) {
                const uint8_t *want = format == WIRE_FORMAT_PNG ? r->want : (const uint8_t *) c->text;
                size_t want_len = format == WIRE_FORMAT_PNG ? r->want_len : strlen(c->text);
                char got[320];

                r->expecting = r->have = false;
                if (r->got_error < 0) {
                        fail(r, "the transfer from the guest was dropped: %s", strerror(-r->got_error));
                        return -1;
                }
                if (r->got_len != want_len || (want_len > 0 && memcmp(r->got, want, want_len) != 0)) {
                        quote(r->got, r->got_len, got, sizeof(got));
                        fail(r, "the guest's clipboard holds %zu bytes `%s'", r->got_len, got);
                        return -1;
                }
                return 1;
        }
        return 0;
}

static void json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* One line per dump, then one per window, bottom to top. */
static void dump_windows(ScriptRunner *r, const ScriptCommand *c) {
        const ClientWindows *w = client_session_windows(r->session);
        bool out = strcmp(c->text, "-") == 0;
        FILE *f = out ? stdout : fopen(c->text, "ae");

        if (!f) {
                fail(r, "%s: %s", c->text, strerror(errno));
                return;
        }
        fprintf(f, "{\"dump\":%u,\"count\":%zu}\n", ++r->dumps, w->n);
        for (size_t i = 0; i < w->n; i++) {
                const ClientWindow *win = &w->windows[i];
                fprintf(f, "{\"id\":%u,\"z\":%zu,\"state\":%u,\"x\":%d,\"y\":%d,\"width\":%u,\"height\":%u,\"icon\":[%u,%u],\"title\":",
                        win->id, i, win->state, win->x, win->y, win->width, win->height, win->icon_width, win->icon_height);
                json_string(f, win->title ? win->title : "");
                fputs("}\n", f);
        }
        if (out)
                fflush(f);
        else if (fclose(f) != 0)
                fail(r, "%s: %s", c->text, strerror(errno));
}

static bool agent_reached(ScriptRunner *r, const ScriptCommand *c) {
        const ClientAgentStatus *st = client_session_agent_status(r->session);
        if (c->agent.none)
                return st->known && st->mode != WIRE_MODE_AGENT;
        return st->mode == WIRE_MODE_AGENT && (!c->agent.features || (st->features & c->agent.features));
}

/* Runs the current command. Returns 1 when it is complete, 0 when it waits (*deadline set). */
static int step(ScriptRunner *r, uint64_t now, uint64_t *deadline) {
        const ScriptCommand *c = &r->script->commands[r->pc];
        bool first = !r->started;

        r->started = true;
        switch (c->type) {
        case SCRIPT_SLEEP:
                if (first)
                        r->until = now + c->ms * USEC_PER_MSEC;
                if (now >= r->until)
                        return 1;
                *deadline = r->until;
                return 0;
        case SCRIPT_WAIT_FRAME:
                /* Counted from the end of the previous command, not from this one's first step:
                 * the first frame often arrives with the welcome, before the script's first step,
                 * and a script that starts with wait-frame means that frame. */
                if (r->frames > r->frames_mark)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_WAIT_STILL: {
                if (first)
                        r->since = now;
                uint64_t quiet_until = MAX(r->since, r->last_frame) + c->ms * USEC_PER_MSEC;
                if (now >= quiet_until)
                        return 1;
                *deadline = quiet_until;
                return 0;
        }
        case SCRIPT_WAIT_MODE: {
                /* Until a frame of that mode has arrived: e.g. the BIOS's text mode after power-on. */
                const ClientFramebuffer *fb = r->picture;
                if (fb && fb->pixels && fb->width == c->mode.width && fb->height == c->mode.height)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        }
        case SCRIPT_WAIT_AGENT:
                if (agent_reached(r, c))
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_WAIT_FILE:
                /* A test's signal that something outside happened (the guest at a prompt). */
                if (access(c->text, F_OK) == 0)
                        return 1;
                *deadline = now + 50 * USEC_PER_MSEC;
                return 0;
        case SCRIPT_WAIT_WINDOWS:
                if (client_session_windows(r->session)->n == c->count)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_WAIT_MEDIA_FRAMES:
                if (r->media.video_frames >= c->amount)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_WAIT_MEDIA_AUDIO:
                if (r->media.audio_ms >= c->amount)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_WAIT_MEDIA_STOP:
                if (r->media.started > 0 && r->media.running == 0)
                        return 1;
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_CLIPBOARD_EXPECT:
        case SCRIPT_CLIPBOARD_EXPECT_PNG:
                if (clipboard_expect(r, c, first) != 0)
                        return 1; /* held, or failed (the runner has ended) */
                *deadline = USEC_INFINITY;
                return 0;
        case SCRIPT_TYPE: {
                size_t len = strlen(c->text);
                if (first) {
                        r->typed = 0;
                        r->until = now;
                }
                while (r->typed < len) {
                        if (now < r->until) {
                                *deadline = r->until;
                                return 0;
                        }
                        if (type_one(r, c->text[r->typed++]) < 0)
                                return 1; /* failed: the runner has ended */
                        r->until = now + SCRIPT_TYPE_INTERVAL_USEC;
                }
                return 1;
        }
        default:
                break;
        }

        switch (c->type) {
        case SCRIPT_KEY:
                (void) press(r, c->keycode);
                break;
        case SCRIPT_KEY_DOWN:
        case SCRIPT_KEY_UP:
                (void) input_result(r, client_session_key(r->session, c->keycode, c->type == SCRIPT_KEY_DOWN));
                break;
        case SCRIPT_MOUSE_ABS:
                (void) input_result(r, client_session_mouse_absolute(r->session, (uint32_t) c->pos.x, (uint32_t) c->pos.y));
                break;
        case SCRIPT_MOUSE_REL:
                (void) input_result(r, client_session_mouse_relative(r->session, c->pos.x, c->pos.y));
                break;
        case SCRIPT_CLICK: {
                int q = client_session_mouse_button(r->session, c->button, true);
                if (q >= 0)
                        q = client_session_mouse_button(r->session, c->button, false);
                (void) input_result(r, q);
                break;
        }
        case SCRIPT_SAVE:
                save(r, c);
                break;
        case SCRIPT_EXPECT_MODE:
                expect_mode(r, c);
                break;
        case SCRIPT_HANDOVER:
                (void) input_result(r, client_session_handover(r->session, c->session));
                break;
        case SCRIPT_EXIT:
                end(r, c->exit_code);
                break;
        case SCRIPT_CLIPBOARD_SET:
        case SCRIPT_CLIPBOARD_SET_PNG:
                clipboard_set(r, c);
                break;
        case SCRIPT_PASTE_TEXT:
                (void) input_result(r, client_session_paste_text(r->session, c->text, strlen(c->text)));
                break;
        case SCRIPT_RESIZE: {
                int q = client_session_resize(r->session, c->mode.width, c->mode.height);
                if (q < 0)
                        fail(r, "hostd takes no resize requests: %s", strerror(-q));
                break;
        }
        case SCRIPT_DUMP_WINDOWS:
                dump_windows(r, c);
                break;
        default:
                fail(r, "unknown command");
        }
        return 1;
}

int script_runner_run(ScriptRunner *r, uint64_t now, uint64_t *ret_deadline) {
        while (!r->ended) {
                uint64_t deadline = USEC_INFINITY;

                if (r->pc >= r->script->n_commands) {
                        end(r, VIEWER_EXIT_DONE);
                        break;
                }
                if (step(r, now, &deadline) == 0) {
                        *ret_deadline = deadline;
                        return 0;
                }
                if (r->ended) /* exit, or a failure */
                        break;
                r->pc++;
                r->started = false;
                r->frames_mark = r->frames;
        }
        return 1;
}

bool script_runner_ended(const ScriptRunner *r, int *ret_status, const char **ret_message) {
        if (!r->ended)
                return false;
        if (ret_status)
                *ret_status = r->status;
        if (ret_message)
                *ret_message = r->message;
        return true;
}
