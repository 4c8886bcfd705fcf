/* hostd's local control socket (root only): status as JSON, framebuffer dumps, input injection
 * and an event stream, for tests, the demo and operators' debugging. Protocol in
 * schema/hostd-control.md. A client that misbehaves (overlong line, unread events piling up)
 * loses its connection and nothing else. */
#pragma once

#include "hostd-forward.h"
#include "macro.h"

int control_server_new(Manager *m, const char *path, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

/* Queues an event line to every watching client. */
void control_server_broadcast(ControlServer *s, const char *line);
