#include "hostd-control-command.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

#define MAX_WORDS 8

typedef struct Word {
        const char *p;
        size_t n;
} Word;

static bool word_is(Word w, const char *s) {
        return strlen(s) == w.n && memcmp(w.p, s, w.n) == 0;
}

static int word_to_long(Word w, long min, long max, long *ret) {
        long v = 0;
        size_t i = 0;
        bool negative = false;

        if (w.n > 0 && w.p[0] == '-') {
                negative = true;
                i = 1;
        }
        if (i == w.n || w.n - i > 10)
                return -EINVAL;
        for (; i < w.n; i++) {
                if (w.p[i] < '0' || w.p[i] > '9')
                        return -EINVAL;
                v = v * 10 + (w.p[i] - '0');
        }
        if (negative)
                v = -v;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int word_copy(Word w, char *dst, size_t size) {
        if (w.n == 0 || w.n >= size)
                return -EINVAL;
        memcpy(dst, w.p, w.n);
        dst[w.n] = 0;
        return 0;
}

int control_command_parse(const char *line, size_t len, ControlCommand *ret, const char **error) {
        Word words[MAX_WORDS];
        size_t n = 0, pos = 0;
        ControlCommand c = {};
        long v;

        if (len > CONTROL_LINE_MAX) {
                *error = "line too long";
                return -EINVAL;
        }
        while (pos < len) {
                while (pos < len && line[pos] == ' ')
                        pos++;
                if (pos == len)
                        break;
                if (n == MAX_WORDS) {
                        *error = "too many words";
                        return -EINVAL;
                }
                size_t start = pos;
                while (pos < len && line[pos] != ' ') {
                        if ((unsigned char) line[pos] < 0x20 || line[pos] == 0x7f) {
                                *error = "control character in command";
                                return -EINVAL;
                        }
                        pos++;
                }
                words[n++] = (Word) { line + start, pos - start };
        }
        if (n == 0) {
                *error = "empty command";
                return -EINVAL;
        }

        if (word_is(words[0], "status") || word_is(words[0], "watch")) {
                if (n != 1) {
                        *error = "takes no arguments";
                        return -EINVAL;
                }
                c.verb = word_is(words[0], "status") ? CONTROL_STATUS : CONTROL_WATCH;
                *ret = c;
                return 0;
        }

        if (word_is(words[0], "agent-power")) {
                if (n != 3 || word_copy(words[1], c.domain, sizeof(c.domain)) < 0 ||
                    !(word_is(words[2], "reboot") || word_is(words[2], "shutdown"))) {
                        *error = "usage: agent-power DOMAIN reboot|shutdown";
                        return -EINVAL;
                }
                c.verb = CONTROL_AGENT_POWER;
                c.code = word_is(words[2], "reboot") ? 0 : 1;
                *ret = c;
                return 0;
        }

        bool known = word_is(words[0], "dump") || word_is(words[0], "key") || word_is(words[0], "mouse");
        if (!known) {
                *error = "unknown command (status, watch, dump, key, mouse, agent-power)";
                return -EINVAL;
        }
        if (n < 3 || word_copy(words[1], c.domain, sizeof(c.domain)) < 0 ||
            word_to_long(words[2], 0, 1023, &v) < 0) {
                *error = "expected DOMAIN CONSOLE after the command";
                return -EINVAL;
        }
        c.console = (unsigned) v;

        if (word_is(words[0], "dump")) {
                if (n != 4 || words[3].p[0] != '/' || word_copy(words[3], c.path, sizeof(c.path)) < 0) {
                        *error = "usage: dump DOMAIN CONSOLE /ABSOLUTE/PATH.ppm";
                        return -EINVAL;
                }
                c.verb = CONTROL_DUMP;
        } else if (n == 5 && (word_is(words[3], "press") || word_is(words[3], "release"))) {
                c.press = word_is(words[3], "press");
                if (word_to_long(words[4], 0, word_is(words[0], "key") ? 0xffff : 31, &v) < 0) {
                        *error = "key code or button out of range";
                        return -EINVAL;
                }
                c.code = (uint32_t) v;
                c.verb = word_is(words[0], "key") ? CONTROL_KEY : CONTROL_MOUSE_BUTTON;
        } else if (word_is(words[0], "mouse") && n == 6 && (word_is(words[3], "abs") || word_is(words[3], "rel"))) {
                bool abs = word_is(words[3], "abs");
                long min = abs ? 0 : -65535, x, y;
                if (word_to_long(words[4], min, 65535, &x) < 0 || word_to_long(words[5], min, 65535, &y) < 0) {
                        *error = "coordinates out of range";
                        return -EINVAL;
                }
                c.x = (int32_t) x;
                c.y = (int32_t) y;
                c.verb = abs ? CONTROL_MOUSE_ABS : CONTROL_MOUSE_REL;
        } else {
                *error = word_is(words[0], "key") ? "usage: key DOMAIN CONSOLE press|release CODE"
                                                  : "usage: mouse DOMAIN CONSOLE press|release BUTTON | abs X Y | rel DX DY";
                return -EINVAL;
        }
        *ret = c;
        return 0;
}
