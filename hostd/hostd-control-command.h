/* The control socket's command language: one line, space-separated words (see
 * schema/hostd-control.md). Parsing is separate from acting so it can be fuzzed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_LINE_MAX 1024
#define CONTROL_NAME_MAX 255

typedef enum ControlVerb {
        CONTROL_STATUS,
        CONTROL_WATCH,
        CONTROL_DUMP,        /* dump DOMAIN CONSOLE PATH */
        CONTROL_KEY,         /* key DOMAIN CONSOLE press|release CODE */
        CONTROL_MOUSE_BUTTON, /* mouse DOMAIN CONSOLE press|release BUTTON */
        CONTROL_MOUSE_ABS,   /* mouse DOMAIN CONSOLE abs X Y */
        CONTROL_MOUSE_REL,   /* mouse DOMAIN CONSOLE rel DX DY */
        CONTROL_AGENT_POWER, /* agent-power DOMAIN reboot|shutdown (code: agent.def's action) */
} ControlVerb;

typedef struct ControlCommand {
        ControlVerb verb;
        char domain[CONTROL_NAME_MAX + 1];
        unsigned console;
        bool press;
        uint32_t code;
        int32_t x, y;
        char path[CONTROL_LINE_MAX];
} ControlCommand;

/* Parses line[0..len) (no newline). On error returns -EINVAL and *error says why. */
int control_command_parse(const char *line, size_t len, ControlCommand *ret, const char **error);
