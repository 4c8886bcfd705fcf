/* Scripted input for tandem-viewer, one command per line; blank lines and lines starting with '#'
 * (after optional blanks) are skipped:
 *
 *   sleep MS            wait-frame          wait-still MS       type TEXT
 *   key CODE            key-down CODE       key-up CODE         click BUTTON
 *   mouse-abs X Y       mouse-rel DX DY     save PATH           expect-mode W H
 *   wait-mode W H       handover SESSION    exit CODE
 *
 * and for the agent's features (schema/wire-protocol.md):
 *
 *   wait-agent WHAT            until the agent is `active', gone (`none'), or has a feature on
 *                              (clipboard, clipboard-text, clipboard-image, windows, resize, ...)
 *   clipboard-set TEXT         our clipboard holds TEXT now (a grab; hostd asks for it lazily)
 *   clipboard-set-png PATH     our clipboard holds the PNG file PATH
 *   clipboard-expect TEXT      waits for a guest grab with text (the current one, or the next),
 *                              asks for it and fails unless it is TEXT
 *   clipboard-expect-png PATH  the same for an image, compared with the file PATH
 *   paste-text TEXT            hostd types TEXT through the hypervisor keyboard
 *   resize W H                 the viewer's size is W x H (resize-request)
 *   wait-windows N             until the guest's window table holds N windows
 *   dump-windows PATH          appends the window table to PATH (`-': stdout) as JSON lines
 *
 * and for the media channel (client-media.h):
 *
 *   wait-media-frames N        until N video frames were decoded in total (every stream)
 *   wait-media-audio MS        until MS milliseconds of audio were decoded in total
 *   wait-media-stop            until a stream has run and none runs now
 *
 * TEXT is the rest of the line, spaces included, with the escapes \n \t \\; CODE is a keycode
 * or a key name (viewer-keymap.h); BUTTON is left, middle, right, wheel-up, wheel-down or 0-4;
 * PATH is the rest of the line. `type' takes only text a US keyboard types; the clipboard and
 * paste-text take any bytes but NUL. This file parses; viewer-script-runner.c executes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SCRIPT_LINE_MAX 4096
#define SCRIPT_TEXT_MAX 4096 /* paste-text's limit on the wire */
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
        SCRIPT_WAIT_AGENT,
        SCRIPT_CLIPBOARD_SET,
        SCRIPT_CLIPBOARD_SET_PNG,
        SCRIPT_CLIPBOARD_EXPECT,
        SCRIPT_CLIPBOARD_EXPECT_PNG,
        SCRIPT_PASTE_TEXT,
        SCRIPT_RESIZE,
        SCRIPT_WAIT_WINDOWS,
        SCRIPT_DUMP_WINDOWS,
        SCRIPT_WAIT_FILE,
        SCRIPT_WAIT_MEDIA_FRAMES,
        SCRIPT_WAIT_MEDIA_AUDIO,
        SCRIPT_WAIT_MEDIA_STOP,
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
                } mode;             /* expect-mode, wait-mode, resize */
                struct {
                        bool none;         /* wait-agent none */
                        uint64_t features; /* wait-agent: these on (0: active is enough) */
                } agent;
                uint32_t count;     /* wait-windows */
                uint64_t amount;    /* wait-media-frames (frames), wait-media-audio (ms) */
                /* type (unescaped, every byte typeable), clipboard-set, clipboard-expect,
                 * paste-text (unescaped, no NUL), save, clipboard-*-png, dump-windows, wait-file (the path) */
                char *text;
        };
} ScriptCommand;

typedef struct Script {
        char *name; /* for messages: the path it came from */
        ScriptCommand *commands;
        size_t n_commands;
} Script;

const char *script_command_name(ScriptCommandType type);
/* Whether the command's argument is c->text. */
bool script_command_has_text(ScriptCommandType type);

/* Parses len bytes (NULs included: they are an error, not an end). On failure *ret_error (if
 * not NULL) gets a malloc'd message such as "script.txt:3: unknown command `tpye'". */
int script_parse(const char *name, const char *data, size_t len, Script **ret, char **ret_error);
/* Reads path (at most SCRIPT_SIZE_MAX bytes) and parses it. */
int script_load(const char *path, Script **ret, char **ret_error);
Script *script_free(Script *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Script *, script_free);
