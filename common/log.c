#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <systemd/sd-journal.h>

static const char *log_ident = "tandem";
static int log_max_level = LOG_INFO;
static int log_to_journal;

void log_open(const char *ident) {
        struct stat st;

        log_ident = ident;
        /* JOURNAL_STREAM means our stderr already goes to the journal; the socket means we can
         * send structured entries. Without either, stderr it is. */
        log_to_journal = getenv("JOURNAL_STREAM") == NULL &&
                         stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode);
        if (getenv("TANDEM_LOG_STDERR"))
                log_to_journal = 0;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                { "debug", LOG_DEBUG }, { "info", LOG_INFO },   { "notice", LOG_NOTICE },
                { "warning", LOG_WARNING }, { "err", LOG_ERR }, { "error", LOG_ERR },
        };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (strcasecmp(s, levels[i].name) == 0)
                        return levels[i].level;
        return -EINVAL;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        errno = error; /* so %m prints the error we were given */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        if (log_to_journal) {
                char f[256], l[32];
                snprintf(f, sizeof(f), "CODE_FILE=%s", file);
                snprintf(l, sizeof(l), "CODE_LINE=%d", line);
                sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", log_ident,
                                f, l, error ? "ERRNO=%d" : NULL, error, NULL);
        } else {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                fprintf(stderr, "%lld.%03ld %s: %s\n", (long long) ts.tv_sec, ts.tv_nsec / 1000000,
                        log_ident, msg);
        }
        errno = saved_errno;
        return -error;
}
