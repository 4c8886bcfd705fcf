#include "hostd-agent-channel.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostd-domain.h"
#include "macro.h"

/* The first occurrence of needle (n bytes) in s[0..len), or NULL. */
static const char *find(const char *s, size_t len, const char *needle) {
        size_t n = strlen(needle);
        return n <= len ? memmem(s, len, needle, n) : NULL;
}

/* The value of attribute name inside one tag [tag, tag_end), quoted with ' or ". */
static int attribute(const char *tag, const char *tag_end, const char *name, const char **ret, size_t *ret_len) {
        size_t n = strlen(name);
        for (const char *p = tag + 1; p + n + 2 < tag_end; p++) {
                if (memcmp(p, name, n) != 0 || p[n] != '=' || (p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n'))
                        continue;
                char quote = p[n + 1];
                if (quote != '\'' && quote != '"')
                        return -EINVAL;
                const char *v = p + n + 2;
                const char *end = memchr(v, quote, (size_t) (tag_end - v));
                if (!end)
                        return -EINVAL;
                *ret = v;
                *ret_len = (size_t) (end - v);
                return 0;
        }
        return -ENOENT;
}

/* XML's five entities, and numeric ones for ASCII; anything else is refused. */
static int unescape(const char *s, size_t n, char *ret, size_t size) {
        static const struct {
                const char *name;
                char c;
        } entities[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&apos;", '\'' }, { "&quot;", '"' } };
        size_t o = 0;
        for (size_t i = 0; i < n;) {
                char c = s[i];
                if (c == '&') {
                        size_t k;
                        for (k = 0; k < ELEMENTSOF(entities); k++) {
                                size_t l = strlen(entities[k].name);
                                if (l <= n - i && memcmp(s + i, entities[k].name, l) == 0) {
                                        c = entities[k].c;
                                        i += l;
                                        break;
                                }
                        }
                        if (k == ELEMENTSOF(entities))
                                return -EINVAL;
                } else
                        i++;
                if (c == 0)
                        return -EINVAL;
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                ret[o++] = c;
        }
        if (o == 0)
                return -ENOENT;
        ret[o] = 0;
        return 0;
}

int agent_channel_path(const char *xml, size_t len, char *ret, size_t size) {
        const char *p = xml, *end = xml + len;
        while (p < end) {
                const char *ch = find(p, (size_t) (end - p), "<channel");
                if (!ch)
                        return -ENOENT;
                const char *close = find(ch, (size_t) (end - ch), "</channel>");
                const char *block_end = close ? close : end;
                const char *tag_end = memchr(ch, '>', (size_t) (block_end - ch));
                const char *type, *name, *path;
                size_t type_len, name_len, path_len;
                p = close ? close + 10 : end;
                if (!tag_end || attribute(ch, tag_end, "type", &type, &type_len) < 0 || type_len != 4 ||
                    memcmp(type, "unix", 4) != 0)
                        continue;
                const char *target = find(ch, (size_t) (block_end - ch), "<target");
                const char *target_end = target ? memchr(target, '>', (size_t) (block_end - target)) : NULL;
                if (!target_end || attribute(target, target_end, "name", &name, &name_len) < 0 ||
                    name_len != strlen(AGENT_CHANNEL_NAME) || memcmp(name, AGENT_CHANNEL_NAME, name_len) != 0)
                        continue;
                const char *source = find(ch, (size_t) (block_end - ch), "<source");
                const char *source_end = source ? memchr(source, '>', (size_t) (block_end - source)) : NULL;
                if (!source_end)
                        return -ENOENT;
                int r = attribute(source, source_end, "path", &path, &path_len);
                if (r < 0)
                        return r;
                return unescape(path, path_len, ret, size);
        }
        return -ENOENT;
}

int agent_channel_connect(Domain *d) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (!d->dom)
                return -ENOENT;
        char *xml = virDomainGetXMLDesc(d->dom, 0);
        if (!xml)
                return -EIO;
        int r = agent_channel_path(xml, strlen(xml), sa.sun_path, sizeof(sa.sun_path));
        free(xml);
        if (r < 0)
                return r == -ENOENT ? -ENOENT : -EINVAL;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = errno == EAGAIN || errno == EINPROGRESS ? -EAGAIN : -errno;
                close(fd);
                return r;
        }
        return fd;
}
