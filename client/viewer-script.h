/* Scripted input for tandem-viewer, one command per line; blank lines and lines starting with '#'
 * (after optional blanks) are skipped:
 *
 *   sleep MS            wait-frame          wait-still MS       type TEXT
 *   key CODE            key-down CODE       key-up CODE         click BUTTON
 *   mouse-abs X Y       mouse-rel DX DY     save PATH           expect-mode W H
 *   wait-mode W H       handover SESSION    exit CODE
 *
 * TEXT is the rest of the line, spaces included, with the escapes \n \t \\; CODE is a keycode
 * or a key name (viewer-keymap.h); BUTTON is left, middle, right, wheel-up, wheel-down or 0-4;
 * PATH is the rest of the line. This file parses; viewer-script-runner.c executes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SCRIPT_LINE_MAX 4096
#define SCRIPT_SIZE_MAX (1024 * 1024)
#define SCRIPT_MS_MAX UINT64_C(86400000) /* a day */
#define SCRIPT_COORD_MAX 65535
#define SCRIPT_MODE_MAX 16384

typedef enum ScriptCommandType {
        SCRIPT_SLEEP,
        SCRIPT_WAIT_FRAME,
        SCRIPT_WAIT_STILL,
        SCRIPT_TYPE,
        SCRIPT_KEY,
        SCRIPT_KEY_DOWN,
        SCRIPT_KEY_UP,
        SCRIPT_MOUSE_ABS,
        SCRIPT_MOUSE_REL,
        SCRIPT_CLICK,
        SCRIPT_SAVE,
        SCRIPT_EXPECT_MODE,
        SCRIPT_WAIT_MODE,
        SCRIPT_HANDOVER,
        SCRIPT_EXIT,
        _SCRIPT_COMMAND_MAX,
} ScriptCommandType;

typedef struct ScriptCommand {
        ScriptCommandType type;
        unsigned line;
        union {
                uint64_t ms;       /* sleep, wait-still */
                uint32_t keycode;  /* key, key-down, key-up */
                uint8_t button;    /* click */
                uint64_t session;  /* handover */
                int exit_code;     /* exit */
                struct {
                        int32_t x, y; /* mouse-abs (never negative), mouse-rel */
                } pos;
                struct {
                        uint32_t width, height;
                } mode;
                char *text; /* type (unescaped, every byte typeable), save (the path) */
        };
} ScriptCommand;

typedef struct Script {
        char *name; /* for messages: the path it came from */
        ScriptCommand *commands;
        size_t n_commands;
} Script;

const char *script_command_name(ScriptCommandType type);

/* Parses len bytes (NULs included: they are an error, not an end). On failure *ret_error (if
 * not NULL) gets a malloc'd message such as "script.txt:3: unknown command `tpye'". */
int script_parse(const char *name, const char *data, size_t len, Script **ret, char **ret_error);
/* Reads path (at most SCRIPT_SIZE_MAX bytes) and parses it. */
int script_load(const char *path, Script **ret, char **ret_error);
Script *script_free(Script *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Script *, script_free);
