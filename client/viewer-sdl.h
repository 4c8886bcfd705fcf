/* tandem-viewer's window: SDL2. The frame goes to a streaming texture scaled to the window with
 * its aspect kept; a click captures keyboard and mouse, Ctrl+Alt releases them; the guest's
 * cursor is drawn by the local system from the session's cursor shape. */
#pragma once

#include "viewer-core.h"

/* Connects v and runs until it is done; returns the exit status. -ENODEV, before connecting,
 * when no window can be opened (the caller runs headless instead). */
int viewer_sdl_run(Viewer *v, const char *ticket);
