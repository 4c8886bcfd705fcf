#include "viewer-script.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-agent.h"
#include "viewer-keymap.h"
#include "viewer-util.h"

/* How much of a bad value a message quotes: enough to recognise it, not a whole line. */
#define QUOTE_MAX 64
#define ARGS_MAX 2

static const char *const command_names[_SCRIPT_COMMAND_MAX] = {
        [SCRIPT_SLEEP] = "sleep",
        [SCRIPT_WAIT_FRAME] = "wait-frame",
        [SCRIPT_WAIT_STILL] = "wait-still",
        [SCRIPT_TYPE] = "type",
        [SCRIPT_KEY] = "key",
        [SCRIPT_KEY_DOWN] = "key-down",
        [SCRIPT_KEY_UP] = "key-up",
        [SCRIPT_MOUSE_ABS] = "mouse-abs",
        [SCRIPT_MOUSE_REL] = "mouse-rel",
        [SCRIPT_CLICK] = "click",
        [SCRIPT_SAVE] = "save",
        [SCRIPT_EXPECT_MODE] = "expect-mode",
        [SCRIPT_WAIT_MODE] = "wait-mode",
        [SCRIPT_HANDOVER] = "handover",
        [SCRIPT_EXIT] = "exit",
        [SCRIPT_WAIT_AGENT] = "wait-agent",
        [SCRIPT_CLIPBOARD_SET] = "clipboard-set",
        [SCRIPT_CLIPBOARD_SET_PNG] = "clipboard-set-png",
        [SCRIPT_CLIPBOARD_EXPECT] = "clipboard-expect",
        [SCRIPT_CLIPBOARD_EXPECT_PNG] = "clipboard-expect-png",
        [SCRIPT_PASTE_TEXT] = "paste-text",
        [SCRIPT_RESIZE] = "resize",
        [SCRIPT_WAIT_WINDOWS] = "wait-windows",
        [SCRIPT_DUMP_WINDOWS] = "dump-windows",
        [SCRIPT_WAIT_FILE] = "wait-file",
        [SCRIPT_WAIT_MEDIA_FRAMES] = "wait-media-frames",
        [SCRIPT_WAIT_MEDIA_AUDIO] = "wait-media-audio",
        [SCRIPT_WAIT_MEDIA_STOP] = "wait-media-stop",
};

/* The arguments each command takes, for the "needs" message; NULL: the rest of the line. */
static const struct {
        unsigned n;
        const char *usage;
} command_args[_SCRIPT_COMMAND_MAX] = {
        [SCRIPT_SLEEP] = { 1, "MS" },
        [SCRIPT_WAIT_FRAME] = { 0, "" },
        [SCRIPT_WAIT_STILL] = { 1, "MS" },
        [SCRIPT_TYPE] = { 0, NULL },
        [SCRIPT_KEY] = { 1, "CODE" },
        [SCRIPT_KEY_DOWN] = { 1, "CODE" },
        [SCRIPT_KEY_UP] = { 1, "CODE" },
        [SCRIPT_MOUSE_ABS] = { 2, "X Y" },
        [SCRIPT_MOUSE_REL] = { 2, "DX DY" },
        [SCRIPT_CLICK] = { 1, "BUTTON" },
        [SCRIPT_SAVE] = { 0, NULL },
        [SCRIPT_EXPECT_MODE] = { 2, "W H" },
        [SCRIPT_WAIT_MODE] = { 2, "W H" },
        [SCRIPT_HANDOVER] = { 1, "SESSION" },
        [SCRIPT_EXIT] = { 1, "CODE" },
        [SCRIPT_WAIT_AGENT] = { 1, "active|none|FEATURE" },
        [SCRIPT_CLIPBOARD_SET] = { 0, NULL },
        [SCRIPT_CLIPBOARD_SET_PNG] = { 0, NULL },
        [SCRIPT_CLIPBOARD_EXPECT] = { 0, NULL },
        [SCRIPT_CLIPBOARD_EXPECT_PNG] = { 0, NULL },
        [SCRIPT_PASTE_TEXT] = { 0, NULL },
        [SCRIPT_RESIZE] = { 2, "W H" },
        [SCRIPT_WAIT_WINDOWS] = { 1, "N" },
        [SCRIPT_DUMP_WINDOWS] = { 0, NULL },
        [SCRIPT_WAIT_FILE] = { 0, NULL },
        [SCRIPT_WAIT_MEDIA_FRAMES] = { 1, "N" },
        [SCRIPT_WAIT_MEDIA_AUDIO] = { 1, "MS" },
        [SCRIPT_WAIT_MEDIA_STOP] = { 0, "" },
};

const char *script_command_name(ScriptCommandType type) {
        return type < _SCRIPT_COMMAND_MAX ? command_names[type] : NULL;
}

/* Commands whose argument is text to send (escapes; the rest of the line after one blank). */
static bool is_text_command(ScriptCommandType type) {
        return type == SCRIPT_TYPE || type == SCRIPT_CLIPBOARD_SET || type == SCRIPT_CLIPBOARD_EXPECT ||
               type == SCRIPT_PASTE_TEXT;
}

bool script_command_has_text(ScriptCommandType type) {
        return is_text_command(type) || type == SCRIPT_SAVE || type == SCRIPT_CLIPBOARD_SET_PNG ||
               type == SCRIPT_CLIPBOARD_EXPECT_PNG || type == SCRIPT_DUMP_WINDOWS ||
               type == SCRIPT_WAIT_FILE;
}

static bool has_text(ScriptCommandType type) {
        return script_command_has_text(type);
}

static void command_done(ScriptCommand *c) {
        if (has_text(c->type))
                free(c->text);
}

Script *script_free(Script *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_commands; i++)
                command_done(&s->commands[i]);
        free(s->commands);
        free(s->name);
        free(s);
        return NULL;
}

typedef struct Parser {
        const char *name;
        unsigned line;
        char *error;
} Parser;

_printf_(2, 3) static int parse_error(Parser *p, const char *fmt, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        int n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        free(p->error);
        p->error = NULL;
        if (asprintf(&p->error, "%s:%u: %s", p->name, p->line, msg) < 0)
                p->error = NULL;
        free(msg);
        return -EINVAL;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static int parse_ms(Parser *p, const char *cmd, const char *s, uint64_t *ret) {
        if (parse_u64(s, SCRIPT_MS_MAX, ret) < 0)
                return parse_error(p, "invalid duration `%.*s' for %s (milliseconds, 0-%" PRIu64 ")", QUOTE_MAX, s,
                                   cmd, SCRIPT_MS_MAX);
        return 0;
}

static int parse_key(Parser *p, const char *s, uint32_t *ret) {
        if (keymap_from_name(s, ret) < 0)
                return parse_error(p, "invalid key `%.*s' (a keycode 1-0xff or a name such as ret, f1, ctrl_r)",
                                   QUOTE_MAX, s);
        return 0;
}

static int parse_button(Parser *p, const char *s, uint8_t *ret) {
        static const char *const names[] = { "left", "middle", "right", "wheel-up", "wheel-down" };
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (uint8_t) i;
                        return 0;
                }
        if (parse_u64(s, ELEMENTSOF(names) - 1, &v) < 0)
                return parse_error(p, "invalid button `%.*s' (left, middle, right, wheel-up, wheel-down or 0-4)",
                                   QUOTE_MAX, s);
        *ret = (uint8_t) v;
        return 0;
}

static int parse_coord(Parser *p, const char *s, bool relative, int32_t *ret) {
        int64_t v;

        if (parse_i64(s, relative ? -SCRIPT_COORD_MAX : 0, SCRIPT_COORD_MAX, &v) < 0)
                return parse_error(p, "invalid %s `%.*s' (%s65535)", relative ? "offset" : "coordinate",
                                   QUOTE_MAX, s, relative ? "-65535 to " : "0-");
        *ret = (int32_t) v;
        return 0;
}

static int parse_dimension(Parser *p, const char *s, uint32_t *ret) {
        uint64_t v;

        if (parse_u64(s, SCRIPT_MODE_MAX, &v) < 0 || v == 0)
                return parse_error(p, "invalid mode size `%.*s' (1-%d)", QUOTE_MAX, s, SCRIPT_MODE_MAX);
        *ret = (uint32_t) v;
        return 0;
}

/* Unescapes TEXT and, for typeable, checks that a US keyboard can type every byte of it. */
static int parse_text(Parser *p, const char *cmd, const char *s, bool typeable, char **ret) {
        size_t n = strlen(s);
        _cleanup_(freep) char *out = malloc(n + 1);
        size_t len = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                uint32_t code;
                bool shift;

                if (c == '\\') {
                        char e = s[++i];
                        if (e == 'n')
                                c = '\n';
                        else if (e == 't')
                                c = '\t';
                        else if (e == '\\')
                                c = '\\';
                        else if (e == '\0')
                                return parse_error(p, "`\\' at the end of the text (write \\\\ for a backslash)");
                        else
                                return parse_error(p, "unknown escape `\\%c' (\\n, \\t or \\\\)", e);
                } else if (typeable && keymap_from_ascii(c, &code, &shift) < 0) {
                        if (c > ' ' && c < 0x7f)
                                return parse_error(p, "cannot type `%c'", c);
                        return parse_error(p, "cannot type byte 0x%02x (US ASCII keys only)", (unsigned char) c);
                }
                out[len++] = c;
        }
        if (len == 0)
                return parse_error(p, "`%s' needs text", cmd);
        if (len > SCRIPT_TEXT_MAX)
                return parse_error(p, "`%s' text longer than %d bytes", cmd, SCRIPT_TEXT_MAX);
        out[len] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* Splits s in place into blank-separated words; -E2BIG beyond max. */
static int split_words(char *s, char **words, unsigned max, unsigned *ret_n) {
        unsigned n = 0;

        for (;;) {
                while (is_blank(*s))
                        s++;
                if (!*s)
                        break;
                if (n == max)
                        return -E2BIG;
                words[n++] = s;
                while (*s && !is_blank(*s))
                        s++;
                if (*s)
                        *s++ = '\0';
        }
        *ret_n = n;
        return 0;
}

static int parse_args(Parser *p, ScriptCommand *c, char *args) {
        const char *cmd = command_names[c->type];
        char *words[ARGS_MAX] = {};
        unsigned n = 0;
        uint64_t v;
        int r;

        if (!command_args[c->type].usage) {
                if (is_text_command(c->type)) {
                        /* One blank separates the command; further blanks are typed. */
                        if (is_blank(*args))
                                args++;
                        return parse_text(p, cmd, args, c->type == SCRIPT_TYPE, &c->text);
                }
                /* save and the like: the path, without the blanks around it */
                while (is_blank(*args))
                        args++;
                size_t len = strlen(args);
                while (len > 0 && is_blank(args[len - 1]))
                        args[--len] = '\0';
                if (len == 0)
                        return parse_error(p, "`%s' needs a path", cmd);
                c->text = strdup(args);
                return c->text ? 0 : -ENOMEM;
        }

        if (split_words(args, words, ARGS_MAX, &n) < 0 || n != command_args[c->type].n) {
                if (command_args[c->type].n == 0)
                        return parse_error(p, "`%s' takes no argument", cmd);
                return parse_error(p, "`%s' needs %u argument%s (%s %s)", cmd, command_args[c->type].n,
                                   command_args[c->type].n > 1 ? "s" : "", cmd, command_args[c->type].usage);
        }

        switch (c->type) {
        case SCRIPT_SLEEP:
        case SCRIPT_WAIT_STILL:
                return parse_ms(p, cmd, words[0], &c->ms);
        case SCRIPT_WAIT_FRAME:
        case SCRIPT_WAIT_MEDIA_STOP:
                return 0;
        case SCRIPT_WAIT_MEDIA_FRAMES:
                if (parse_u64(words[0], UINT32_MAX, &c->amount) < 0)
                        return parse_error(p, "invalid frame count `%.*s' (0-%u)", QUOTE_MAX, words[0], UINT32_MAX);
                return 0;
        case SCRIPT_WAIT_MEDIA_AUDIO:
                return parse_ms(p, cmd, words[0], &c->amount);
        case SCRIPT_KEY:
        case SCRIPT_KEY_DOWN:
        case SCRIPT_KEY_UP:
                return parse_key(p, words[0], &c->keycode);
        case SCRIPT_MOUSE_ABS:
        case SCRIPT_MOUSE_REL:
                r = parse_coord(p, words[0], c->type == SCRIPT_MOUSE_REL, &c->pos.x);
                if (r < 0)
                        return r;
                return parse_coord(p, words[1], c->type == SCRIPT_MOUSE_REL, &c->pos.y);
        case SCRIPT_CLICK:
                return parse_button(p, words[0], &c->button);
        case SCRIPT_WAIT_AGENT:
                if (strcmp(words[0], "none") == 0)
                        c->agent.none = true;
                else if (strcmp(words[0], "active") != 0 &&
                         !(c->agent.features = client_agent_feature_from_name(words[0])))
                        return parse_error(p,
                                           "invalid agent state `%.*s' (active, none, clipboard, clipboard-text, "
                                           "clipboard-image, windows, resize, heartbeat, sessions or power)",
                                           QUOTE_MAX, words[0]);
                return 0;
        case SCRIPT_WAIT_WINDOWS:
                if (parse_u64(words[0], 1024, &v) < 0)
                        return parse_error(p, "invalid window count `%.*s' (0-1024)", QUOTE_MAX, words[0]);
                c->count = (uint32_t) v;
                return 0;
        case SCRIPT_EXPECT_MODE:
        case SCRIPT_WAIT_MODE:
        case SCRIPT_RESIZE:
                r = parse_dimension(p, words[0], &c->mode.width);
                if (r < 0)
                        return r;
                return parse_dimension(p, words[1], &c->mode.height);
        case SCRIPT_HANDOVER:
                if (parse_u64(words[0], UINT64_MAX, &c->session) < 0)
                        return parse_error(p, "invalid session `%.*s' (a session id from hostd)", QUOTE_MAX,
                                           words[0]);
                return 0;
        case SCRIPT_EXIT:
                if (parse_u64(words[0], 255, &v) < 0)
                        return parse_error(p, "invalid exit code `%.*s' (0-255)", QUOTE_MAX, words[0]);
                c->exit_code = (int) v;
                return 0;
        default:
                return -EINVAL; /* text commands were handled above */
        }
}

/* line is NUL-terminated and writable; *ret is set only for a command (not for blank lines). */
static int parse_line(Parser *p, char *line, ScriptCommand *ret, bool *ret_empty) {
        ScriptCommand c = { .line = p->line };
        char *s = line;

        while (is_blank(*s))
                s++;
        if (*s == '\0' || *s == '#') {
                *ret_empty = true;
                return 0;
        }
        char *word = s;
        while (*s && !is_blank(*s))
                s++;
        char saved = *s;
        *s = '\0';
        size_t i;
        for (i = 0; i < _SCRIPT_COMMAND_MAX; i++)
                if (strcmp(word, command_names[i]) == 0)
                        break;
        if (i == _SCRIPT_COMMAND_MAX)
                return parse_error(p, "unknown command `%.*s'", QUOTE_MAX, word);
        *s = saved;
        c.type = (ScriptCommandType) i;
        int r = parse_args(p, &c, s);
        if (r < 0)
                return r;
        *ret = c;
        *ret_empty = false;
        return 0;
}

int script_parse(const char *name, const char *data, size_t len, Script **ret, char **ret_error) {
        Parser p = { .name = name };
        _cleanup_(script_freep) Script *s = calloc(1, sizeof(Script));
        size_t cap = 0;
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->name = strdup(name);
        if (!s->name)
                return -ENOMEM;

        for (size_t pos = 0; pos < len && r >= 0;) {
                const char *nl = memchr(data + pos, '\n', len - pos);
                size_t end = nl ? (size_t) (nl - data) : len, n = end - pos;
                char buf[SCRIPT_LINE_MAX + 1];
                ScriptCommand c;
                bool empty = true;

                p.line++;
                if (n > 0 && data[end - 1] == '\r') /* CRLF files */
                        n--;
                if (n > SCRIPT_LINE_MAX)
                        r = parse_error(&p, "line too long (over %d bytes)", SCRIPT_LINE_MAX);
                else if (memchr(data + pos, '\0', n))
                        r = parse_error(&p, "NUL byte in the line");
                else {
                        memcpy(buf, data + pos, n);
                        buf[n] = '\0';
                        r = parse_line(&p, buf, &c, &empty);
                        if (r >= 0 && !empty) {
                                if (s->n_commands == cap) {
                                        size_t ncap = cap ? cap * 2 : 16;
                                        ScriptCommand *m = reallocarray(s->commands, ncap, sizeof(ScriptCommand));
                                        if (!m) {
                                                command_done(&c);
                                                r = -ENOMEM;
                                                break;
                                        }
                                        s->commands = m;
                                        cap = ncap;
                                }
                                s->commands[s->n_commands++] = c;
                        }
                }
                pos = end + 1;
        }
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int script_load(const char *path, Script **ret, char **ret_error) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_(freep) char *data = NULL;
        size_t len = 0;

        if (fd < 0) {
                int r = -errno;
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        data = malloc(SCRIPT_SIZE_MAX + 1);
        if (!data)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, data + len, SCRIPT_SIZE_MAX + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > SCRIPT_SIZE_MAX) {
                        if (ret_error && asprintf(ret_error, "%s: larger than %d bytes", path, SCRIPT_SIZE_MAX) < 0)
                                *ret_error = NULL;
                        return -EFBIG;
                }
        }
        return script_parse(path, data, len, ret, ret_error);
}
