/* tandem-viewer's exit statuses: what a test (or a wrapper script) reads to know how a run
 * ended. Keep in step with the list in viewer.c's --help. */
#pragma once

typedef enum ViewerExit {
        VIEWER_EXIT_DONE = 0,      /* the script finished (or ran `exit 0'), the window was closed */
        VIEWER_EXIT_USAGE = 1,     /* bad arguments, unreadable ticket or script (or out of memory) */
        VIEWER_EXIT_REJECTED = 2,  /* hostd refused the session (reject code on stderr) */
        VIEWER_EXIT_TRANSPORT = 3, /* could not connect, or the connection was lost or closed */
        VIEWER_EXIT_SCRIPT = 4,    /* a script command failed (expect-mode, save) */
        VIEWER_EXIT_TIMEOUT = 5,   /* --timeout expired first */
} ViewerExit;
