#include "viewer-script-runner.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        free(r->message);
        free(r);
        return NULL;
}

void script_runner_frame(ScriptRunner *r, uint64_t now) {
        r->frames++;
        r->last_frame = now;
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
