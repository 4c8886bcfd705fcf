/* Files that readers see whole or not at all: the data goes to a temporary file beside the target
 * (so on the same filesystem), which is renamed over it on commit. The file is created 0600:
 * what we write this way (screenshots, thumbnails) shows users' screens. No fsync: these files
 * are regenerated, and an fsync per thumbnail would stall busy hosts. */
#pragma once

#include <errno.h>
#include <stddef.h>

typedef struct AtomicFile {
        int fd;
        char *path;
        char *tmp_path;
} AtomicFile;

#define ATOMIC_FILE_INIT { .fd = -EBADF }

/* Returns 0 or a negative errno; f is left initialised on failure. */
int atomic_file_open(AtomicFile *f, const char *path);
int atomic_file_write(AtomicFile *f, const void *data, size_t len);
/* Closes and renames over the target. Whatever it returns, f is done afterwards. */
int atomic_file_commit(AtomicFile *f);
/* Abandons an uncommitted file (the temporary is removed). Safe on an initialised or done f. */
void atomic_file_done(AtomicFile *f);

int write_file_atomic(const char *path, const void *data, size_t len);
