#include "linkemu-control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkemu-params.h"
#include "parse-util.h"

#define TOKENS_MAX 32

static const char *const dir_names[_LINK_DIR_MAX] = { "a2b", "b2a" };

/* A value fit for quoting in a reply: printable, one line, short. */
static const char *quote(const char *s, char buf[48]) {
        size_t i = 0;
        for (; s[i] && i < 40; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        if (s[i]) {
                memcpy(buf + i, "...", 3);
                i += 3;
        }
        buf[i] = '\0';
        return buf;
}

typedef struct Command {
        char *argv[TOKENS_MAX];
        size_t argc;
        bool dirs[_LINK_DIR_MAX]; /* which directions dir= selects (both by default) */
        FILE *out;
} Command;

static int fail(Command *c, int r, const char *fmt, const char *value, const char *why) {
        char buf[48];
        fputs("error: ", c->out);
        fprintf(c->out, fmt, quote(value, buf));
        if (why)
                fprintf(c->out, " (%s)", why);
        fputc('\n', c->out);
        return r;
}

/* Takes dir=... out of the arguments. */
static int parse_dir(Command *c) {
        size_t n = 0;
        c->dirs[LINK_A2B] = c->dirs[LINK_B2A] = true;
        for (size_t i = 0; i < c->argc; i++) {
                const char *a = c->argv[i];
                if (i == 0 || strncmp(a, "dir=", 4) != 0) {
                        c->argv[n++] = c->argv[i];
                        continue;
                }
                a += 4;
                if (strcmp(a, "a2b") == 0)
                        c->dirs[LINK_B2A] = false;
                else if (strcmp(a, "b2a") == 0)
                        c->dirs[LINK_A2B] = false;
                else if (strcmp(a, "both") != 0)
                        return fail(c, -EINVAL, "Invalid direction `%s'", a, "a2b, b2a or both");
        }
        c->argc = n;
        return 0;
}

static int want_args(Command *c, size_t min, size_t max) {
        if (c->argc - 1 < min)
                return fail(c, -EINVAL, "Missing argument to `%s'", c->argv[0], NULL);
        if (c->argc - 1 > max)
                return fail(c, -EINVAL, "Unexpected argument `%s'", c->argv[max + 1], NULL);
        return 0;
}

static int cmd_set(Command *c, Link *links[]) {
        LinkParams p[_LINK_DIR_MAX] = { links[0]->params, links[1]->params };

        if (c->argc < 2)
                return fail(c, -EINVAL, "Missing KEY=VALUE after `%s'", c->argv[0], link_params_keys());
        /* Everything is checked on copies first: a bad value changes nothing. */
        for (size_t i = 1; i < c->argc; i++) {
                char *eq = strchr(c->argv[i], '=');
                if (!eq)
                        return fail(c, -EINVAL, "Expected KEY=VALUE, got `%s'", c->argv[i], NULL);
                *eq = '\0';
                const char *key = c->argv[i], *value = eq + 1, *why = NULL;
                for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                        if (!c->dirs[d])
                                continue;
                        int r = link_params_set(&p[d], key, value, &why);
                        if (r == -ENOENT)
                                return fail(c, r, "Unknown parameter `%s'", key, why);
                        if (r < 0) {
                                char buf[48];
                                fprintf(c->out, "error: Invalid value `%s' for %s (%s)\n", quote(value, buf), key, why);
                                return r;
                        }
                }
        }
        for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                links[d]->params = p[d];
        fputs("ok\n", c->out);
        return 0;
}

static int cmd_profile(Command *c, Link *links[]) {
        LinkParams p;
        int r = want_args(c, 1, 1);
        if (r < 0)
                return r;
        if (link_profile(c->argv[1], &p) < 0)
                return fail(c, -ENOENT, "Unknown profile `%s'", c->argv[1], link_profile_names());
        for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                if (c->dirs[d])
                        links[d]->params = p;
        fputs("ok\n", c->out);
        return 0;
}

static int cmd_cut(Command *c, Link *links[], bool cut) {
        int r = want_args(c, 0, 0);
        if (r < 0)
                return r;
        for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                if (c->dirs[d])
                        link_set_cut(links[d], cut);
        fputs("ok\n", c->out);
        return 0;
}

static int cmd_seed(Command *c, Link *links[]) {
        uint64_t seed;
        int r = want_args(c, 1, 1);
        if (r < 0)
                return r;
        if (parse_u64(c->argv[1], UINT64_MAX - 1, &seed) < 0)
                return fail(c, -EINVAL, "Invalid seed `%s'", c->argv[1], "a number");
        for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                rng_seed(&links[d]->rng, seed + d);
                links[d]->burst_bad = false;
        }
        fputs("ok\n", c->out);
        return 0;
}

void control_stats_json(Link *links[_LINK_DIR_MAX], uint64_t now_ns, FILE *f) {
        fputc('{', f);
        for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                const Link *l = links[d];
                const LinkStats *s = &l->stats;
                fprintf(f,
                        "%s\"%s\":{\"in_packets\":%llu,\"in_bytes\":%llu,\"out_packets\":%llu,\"out_bytes\":%llu,"
                        "\"dropped_packets\":{",
                        d ? "," : "", dir_names[d], (unsigned long long) s->in_packets,
                        (unsigned long long) s->in_bytes, (unsigned long long) s->out_packets,
                        (unsigned long long) s->out_bytes);
                for (LinkDrop r = 0; r < _LINK_DROP_MAX; r++)
                        fprintf(f, "%s\"%s\":%llu", r ? "," : "", link_drop_to_string(r),
                                (unsigned long long) s->dropped[r]);
                uint64_t backlog = link_backlog_bytes(l, now_ns);
                fprintf(f,
                        "},\"dropped_bytes\":%llu,\"duplicated\":%llu,\"reordered\":%llu,"
                        "\"queue_bytes\":%llu,\"queue_ms\":%.3f,\"in_flight_packets\":%zu,"
                        "\"in_flight_bytes\":%zu,\"cut\":%s}",
                        (unsigned long long) s->dropped_bytes, (unsigned long long) s->duplicated,
                        (unsigned long long) s->reordered, (unsigned long long) backlog,
                        l->params.rate_bps ? (double) backlog * 8000.0 / (double) l->params.rate_bps : 0.0,
                        l->queue.n, l->queue.bytes, l->cut ? "true" : "false");
        }
        fputc('}', f);
}

/* Splits s at blanks, in place. */
static int tokenize(Command *c, char *s) {
        for (;;) {
                s += strspn(s, " \t");
                if (!*s)
                        return 0;
                if (c->argc == TOKENS_MAX)
                        return fail(c, -E2BIG, "Too many arguments from `%s'", s, "at most 31");
                c->argv[c->argc++] = s;
                s += strcspn(s, " \t");
                if (*s)
                        *s++ = '\0';
        }
}

static int dispatch(Command *c, Link *links[], uint64_t now_ns) {
        const char *name = c->argv[0];
        int r = parse_dir(c);
        if (r < 0)
                return r;

        if (strcmp(name, "set") == 0)
                return cmd_set(c, links);
        if (strcmp(name, "profile") == 0)
                return cmd_profile(c, links);
        if (strcmp(name, "cut") == 0)
                return cmd_cut(c, links, true);
        if (strcmp(name, "restore") == 0)
                return cmd_cut(c, links, false);
        if (strcmp(name, "seed") == 0)
                return cmd_seed(c, links);

        /* The rest take no arguments and no direction. */
        bool known = strcmp(name, "stats") == 0 || strcmp(name, "show") == 0 ||
                     strcmp(name, "reset-stats") == 0 || strcmp(name, "help") == 0;
        if (!known)
                return fail(c, -EINVAL, "Unknown command `%s'", name,
                            "set, profile, cut, restore, seed, stats, show, reset-stats, help");
        r = want_args(c, 0, 0);
        if (r < 0)
                return r;
        if (!c->dirs[LINK_A2B] || !c->dirs[LINK_B2A])
                return fail(c, -EINVAL, "`%s' takes no direction", name, NULL);
        if (strcmp(name, "stats") == 0)
                control_stats_json(links, now_ns, c->out);
        else if (strcmp(name, "show") == 0) {
                fputc('{', c->out);
                for (size_t d = 0; d < _LINK_DIR_MAX; d++) {
                        fprintf(c->out, "%s\"%s\":", d ? "," : "", dir_names[d]);
                        link_params_json(&links[d]->params, c->out);
                }
                fputc('}', c->out);
        } else if (strcmp(name, "reset-stats") == 0) {
                for (size_t d = 0; d < _LINK_DIR_MAX; d++)
                        links[d]->stats = (LinkStats) {};
                fputs("ok", c->out);
        } else
                fprintf(c->out, "commands: set [dir=a2b|b2a|both] KEY=VALUE..., profile NAME, cut, restore, "
                                "seed N, stats, show, reset-stats; keys: %s; profiles: %s",
                        link_params_keys(), link_profile_names());
        fputc('\n', c->out);
        return 0;
}

int control_execute(Link *links[_LINK_DIR_MAX], uint64_t now_ns, const char *line, size_t len, char **ret_reply) {
        char buf[CONTROL_LINE_MAX + 1];
        Command c = {};
        char *reply = NULL;
        size_t reply_len = 0;
        int r;

        c.out = open_memstream(&reply, &reply_len);
        if (!c.out)
                return -ENOMEM;

        /* A trailing CR (from nc -C, or a Windows client) is not part of the command. */
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
                len--;
        if (len > CONTROL_LINE_MAX)
                r = fail(&c, -E2BIG, "Command too long: `%s'", "...", "at most 1024 bytes");
        else if (memchr(line, '\0', len))
                r = fail(&c, -EINVAL, "Invalid command `%s'", "\\0", "a NUL byte");
        else {
                memcpy(buf, line, len);
                buf[len] = '\0';
                r = tokenize(&c, buf);
                if (r >= 0 && c.argc == 0) {
                        fputs("ok\n", c.out);
                        r = 0;
                } else if (r >= 0)
                        r = dispatch(&c, links, now_ns);
        }

        if (fclose(c.out) != 0 || !reply) {
                free(reply);
                return -ENOMEM;
        }
        *ret_reply = reply;
        return r;
}
