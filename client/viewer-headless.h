/* tandem-viewer without a window: a poll() loop over the session and SIGINT/SIGTERM, for tests
 * and recording (the script, the filmstrip and last image are the core's). */
#pragma once

#include "viewer-core.h"

/* Runs until the viewer is done; returns its exit status. */
int viewer_headless_run(Viewer *v);
