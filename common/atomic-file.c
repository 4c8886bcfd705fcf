/* Temporary file plus rename. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic-file.h"
#include "macro.h"

/* "dir/name" -> "dir/.name.XXXXXX": hidden, so directory watchers and globbers skip it. */
static char *tmp_path_for(const char *path) {
        static const char suffix[] = ".XXXXXX";
        const char *slash = strrchr(path, '/');
        size_t dir_len = slash ? (size_t) (slash - path + 1) : 0;
        size_t base_len = strlen(path) - dir_len;
        if (base_len == 0)
                return NULL;

        char *t = malloc(dir_len + 1 + base_len + sizeof(suffix));
        if (!t)
                return NULL;
        memcpy(t, path, dir_len);
        t[dir_len] = '.';
        memcpy(t + dir_len + 1, path + dir_len, base_len);
        memcpy(t + dir_len + 1 + base_len, suffix, sizeof(suffix));
        return t;
}

int atomic_file_open(AtomicFile *f, const char *path) {
        _cleanup_(freep) char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        if (!*path || path[strlen(path) - 1] == '/')
                return -EINVAL;
        _cleanup_(freep) char *t = tmp_path_for(path);
        if (!t)
                return -ENOMEM;

        int fd = mkostemp(t, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *f = (AtomicFile) { .fd = fd, .path = TAKE_PTR(p), .tmp_path = TAKE_PTR(t) };
        return 0;
}

int atomic_file_write(AtomicFile *f, const void *data, size_t len) {
        const char *d = data;
        if (f->fd < 0)
                return -EBADF;
        while (len > 0) {
                ssize_t n = write(f->fd, d, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                d += n;
                len -= (size_t) n;
        }
        return 0;
}

void atomic_file_done(AtomicFile *f) {
        if (f->fd >= 0)
                close(f->fd);
        if (f->tmp_path)
                (void) unlink(f->tmp_path);
        free(f->tmp_path);
        free(f->path);
        *f = (AtomicFile) ATOMIC_FILE_INIT;
}

int atomic_file_commit(AtomicFile *f) {
        int r = 0;
        if (f->fd < 0)
                r = -EBADF;
        else if (close(TAKE_FD(f->fd)) < 0)
                r = -errno; /* e.g. a delayed write error on NFS */
        else if (rename(f->tmp_path, f->path) < 0)
                r = -errno;
        else {
                free(f->tmp_path); /* renamed: nothing left to unlink */
                f->tmp_path = NULL;
        }
        atomic_file_done(f);
        return r;
}

int write_file_atomic(const char *path, const void *data, size_t len) {
        _cleanup_(atomic_file_done) AtomicFile f = ATOMIC_FILE_INIT;
        int r = atomic_file_open(&f, path);
        if (r < 0)
                return r;
        r = atomic_file_write(&f, data, len);
        if (r < 0)
                return r;
        return atomic_file_commit(&f);
}
