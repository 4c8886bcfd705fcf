/* Small helpers shared by every Tandem program: cleanup attributes and ownership moves. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hands ownership of *ptr to the caller and leaves NULL behind. */
#define TAKE_PTR(ptr)                      \
        ({                                 \
                __typeof__(ptr) *_pp = &(ptr); \
                __typeof__(ptr) _p = *_pp; \
                *_pp = NULL;               \
                _p;                        \
        })

#define TAKE_FD(fd)                        \
        ({                                 \
                int *_pfd = &(fd);         \
                int _f = *_pfd;            \
                *_pfd = -EBADF;            \
                _f;                        \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)  \
        static inline void func##p(type *p) {    \
                if (*p)                          \
                        func(*p);                \
        }
