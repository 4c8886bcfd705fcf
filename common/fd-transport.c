/* ByteTransport over a plain file descriptor. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "byte-transport.h"
#include "macro.h"

typedef struct FdTransport {
        ByteTransport base;
        int fd;
        bool is_socket; /* send() with MSG_NOSIGNAL; pipes need write() */
        bool read_blocked, write_blocked;
} FdTransport;

static ssize_t fd_read(ByteTransport *t, void *buf, size_t n) {
        FdTransport *f = (FdTransport *) t;
        ssize_t r;

        do
                r = read(f->fd, buf, n);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                r = -errno;
                if (r == -EWOULDBLOCK)
                        r = -EAGAIN;
        }
        f->read_blocked = r == -EAGAIN;
        return r;
}

static ssize_t fd_write(ByteTransport *t, const void *buf, size_t n) {
        FdTransport *f = (FdTransport *) t;
        ssize_t r;

        for (;;) {
                r = f->is_socket ? send(f->fd, buf, n, MSG_NOSIGNAL) : write(f->fd, buf, n);
                if (r >= 0)
                        break;
                if (errno == ENOTSOCK && f->is_socket)
                        f->is_socket = false;
                else if (errno != EINTR) {
                        r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
                        break;
                }
        }
        if (r == 0)
                r = -EIO; /* write(2) taking nothing for n > 0 would loop forever */
        f->write_blocked = r == -EAGAIN;
        return r;
}

static int fd_fd(ByteTransport *t) {
        return ((FdTransport *) t)->fd;
}

static uint32_t fd_poll_events(ByteTransport *t) {
        FdTransport *f = (FdTransport *) t;
        return (f->read_blocked ? EPOLLIN : 0) | (f->write_blocked ? EPOLLOUT : 0);
}

static void fd_free(ByteTransport *t) {
        FdTransport *f = (FdTransport *) t;
        closep(&f->fd);
        free(f);
}

static const ByteTransportOps fd_ops = {
        .read = fd_read,
        .write = fd_write,
        .fd = fd_fd,
        .poll_events = fd_poll_events,
        .free = fd_free,
};

int fd_transport_new(int fd, ByteTransport **ret) {
        FdTransport *f = malloc(sizeof(FdTransport));
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        *f = (FdTransport) { .base.ops = &fd_ops, .fd = fd, .is_socket = true };
        *ret = &f->base;
        return 0;
}
