/* Finding and opening a domain's agent channel: the <channel type='unix'> whose target is the
 * virtio port org.tandem.agent.0. libvirt picks the socket's path when the XML gives none, so it
 * is read from the live XML; QEMU listens on it and hostd, on the same host, connects. */
#pragma once

#include <stddef.h>

#include "hostd-forward.h"

#define AGENT_CHANNEL_NAME "org.tandem.agent.0"

/* The source path of the agent channel in a domain's XML (xml[0..len), not NUL-terminated): 0 and
 * the path (unescaped, NUL-terminated) in ret, -ENOENT when there is no such channel or it has no
 * path, -ENAMETOOLONG when the path does not fit size, -EINVAL for a malformed path. */
int agent_channel_path(const char *xml, size_t len, char *ret, size_t size);
/* Connects to the running domain's agent channel: a non-blocking connected fd, -ENOENT without
 * one (or without libvirt), or a negative errno. */
int agent_channel_connect(Domain *d);
