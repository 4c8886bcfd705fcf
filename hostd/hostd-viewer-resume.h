/* Session resumption on hostd's side (schema/wire-protocol.md, "Session resumption"): a viewer
 * whose connection fails or falls silent is detached, not dropped: it keeps its desktop, console,
 * encoder and role, and messages for it go into its replay buffer, until a new connection resumes
 * it with its token or ResumeSeconds= pass. Liveness (pings, the 10 s silence rule) and the
 * session-acks run on one timer per resumable viewer. Internal to the viewer server. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hostd-viewer-server.h"
#include "wire-gen.h"

typedef struct ViewerResume ViewerResume;

/* A viewer silent this long is pinged; this long is detached. */
#define VIEWER_PING_AFTER_USEC (1000 * 1000ULL)
#define VIEWER_SILENT_USEC (10 * 1000 * 1000ULL)

/* After welcome: when the viewer announced the resume cap and ResumeSeconds= is not 0, sends the
 * session token and starts counting. A failure only means the session cannot be resumed. */
void viewer_resume_start(Viewer *v, uint64_t viewer_caps);
ViewerResume *viewer_resume_free(ViewerResume *r);

/* Instead of dropping a viewer whose connection failed: true when it was detached (its session
 * waits for a resume), false when it cannot be and the caller drops it. */
bool viewer_resume_detach(Viewer *v, int error, const char *why);
bool viewer_is_detached(const Viewer *v);
/* The first message of new connection t was `resume': moves the connection into the session it
 * names and resumes it, or rejects it (resume-refused) and drops t. */
void viewer_resume_handle(Viewer *t, const WireResume *m);
/* session-ack from the viewer. */
void viewer_resume_ack(Viewer *v, uint64_t received);
/* After messages were handled: sends a session-ack when one is due. */
void viewer_resume_after_receive(Viewer *v);
/* Whether the viewer takes part in resumption (capability negotiated). */
bool viewer_resumable(const Viewer *v);
