/* Atomic file writes: contents replaced whole, nothing left behind on success or abandonment. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic-file.h"
#include "check.h"

static char dir[] = "/tmp/test-atomic-file-XXXXXX";

static size_t count_entries(void) {
        DIR *d = opendir(dir);
        check(d);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void check_contents(const char *path, const char *want) {
        char buf[256];
        FILE *f = fopen(path, "rb");
        check(f);
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        check(n == strlen(want) && memcmp(buf, want, n) == 0);
}

int main(void) {
        check(mkdtemp(dir));
        char path[sizeof(dir) + 16], sub[sizeof(dir) + 16];
        snprintf(path, sizeof(path), "%s/file", dir);
        snprintf(sub, sizeof(sub), "%s/sub", dir);

        check(write_file_atomic(path, "first", 5) == 0);
        check_contents(path, "first");
        struct stat st;
        check(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

        /* Streaming, replacing: the old contents stay until commit. */
        AtomicFile f = ATOMIC_FILE_INIT;
        check(atomic_file_open(&f, path) == 0);
        check(atomic_file_write(&f, "sec", 3) == 0);
        check(atomic_file_write(&f, "ond", 3) == 0);
        check_contents(path, "first");
        check(count_entries() == 2);
        check(atomic_file_commit(&f) == 0);
        check_contents(path, "second");
        check(count_entries() == 1);
        check(f.fd < 0 && f.tmp_path == NULL && f.path == NULL);
        check(atomic_file_commit(&f) == -EBADF);
        check(atomic_file_write(&f, "x", 1) == -EBADF);

        /* Abandoned: the temporary goes, the target stays. */
        check(atomic_file_open(&f, path) == 0);
        check(atomic_file_write(&f, "third", 5) == 0);
        atomic_file_done(&f);
        atomic_file_done(&f);
        check_contents(path, "second");
        check(count_entries() == 1);

        /* Renaming over a directory fails, and cleans up after itself. */
        check(mkdir(sub, 0700) == 0);
        check(write_file_atomic(sub, "x", 1) == -EISDIR);
        check(count_entries() == 2);
        check(rmdir(sub) == 0);

        /* Bad paths. */
        check(atomic_file_open(&f, "") == -EINVAL);
        check(atomic_file_open(&f, "/tmp/") == -EINVAL);
        check(write_file_atomic("/nonexistent/dir/file", "x", 1) == -ENOENT);
        check(f.fd < 0 && f.path == NULL);

        /* A relative path puts the temporary in the working directory. */
        check(chdir(dir) == 0);
        check(write_file_atomic("relative", "rel", 3) == 0);
        check_contents("relative", "rel");
        check(unlink("relative") == 0);

        check(unlink(path) == 0);
        check(rmdir(dir) == 0);
        printf("test-atomic-file: ok\n");
        return 0;
}
