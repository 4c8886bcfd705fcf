/* Socket addresses as logs and peer tables need them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* "prefix" + "host:port" (IPv4 or IPv6; "?:0" for another family) into out. */
void sockaddr_format(const struct sockaddr_storage *sa, const char *prefix, char *out, size_t size);
/* Same family, address and port. */
bool sockaddr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
