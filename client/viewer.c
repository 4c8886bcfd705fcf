/* tandem-viewer: shows a Tandem desktop in a window (SDL2), or headless for tests and recording:
 * scripted input, a filmstrip of frames, exit statuses a test can read (viewer-exit.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viewer-core.h"
#include "viewer-exit.h"
#include "viewer-headless.h"

#include <libavutil/log.h>
#include "viewer-util.h"
#if HAVE_SDL2
#include "viewer-sdl.h"
#endif

#define TICKET_FILE_MAX (64 * 1024)
#define TIMEOUT_MAX_USEC (30 * 24 * 3600 * USEC_PER_SEC)
#define FILMSTRIP_INTERVAL_MAX_MS 3600000

static void help(void) {
        printf("Usage: tandem-viewer [OPTIONS] TICKET\n"
               "       tandem-viewer [OPTIONS] --ticket-file FILE\n\n"
               "Shows a Tandem desktop: in a window when DISPLAY or WAYLAND_DISPLAY is set, else\n"
               "headless (frames to --out, input from --script).\n\n"
               "  --headless                 no window even when a display is available\n"
               "  --out DIR                  write a filmstrip DIR/frame-NNNNN.EXT while the screen\n"
               "                             changes, and DIR/last.EXT at exit\n"
               "  --format png|ppm           image format for --out (default png)\n"
               "  --filmstrip-interval MS    at most one filmstrip frame per MS (default %d; 0: all)\n"
               "  --script FILE              run scripted input (see below); exit when it ends\n"
               "  --timeout SECONDS          give up after SECONDS (e.g. 30 or 2.5)\n"
               "  --lossless                 ask hostd never to send lossy tiles\n"
               "  --transport auto|tcp|udp   both at once, UDP preferred, moving onto UDP when it comes\n"
               "                             (default); TLS over TCP only; DTLS over UDP only\n"
               "  --quality N                image quality of lossy tiles, 1-100\n"
               "  --host HOST --port PORT    connect there instead of the ticket's host\n"
               "  --insecure                 accept any certificate when the ticket pins none (tests)\n"
               "  --dead-after SECONDS       a connection silent this long is lost: the session\n"
               "                             resumes on a new one (default 4)\n"
               "  --no-resume                end the session when the connection is lost\n"
               "  --resize off|on|WxH        tell hostd the window's size so the guest's screen follows\n"
               "                             it (default: on in a window, off headless); WxH: that size\n"
               "  --seamless                 with the agent's windows feature, one window per guest\n"
               "                             window instead of the whole desktop (falls back to the\n"
               "                             desktop window without it)\n"
               "  --media-out DIR            redirected media to DIR/stream-N.y4m|.wav|.pts (headless)\n"
               "  --mic                      offer the microphone (SDL's capture device) to the guest\n"
               "  --mic-wav FILE             offer FILE (16-bit PCM WAV) as the microphone (headless)\n"
               "  --media-codecs LIST        offer only these of the codecs it decodes (opus,vp8,h264)\n"
               "  --no-media                 offer no media channel: hostd encodes video in the screen\n"
               "  --wire-log FILE            one line per message received: monotonic seconds, type,\n"
               "                             tile codec, bytes on the wire (measurements)\n"
               "  --ticket-file FILE         read the ticket from FILE (- for stdin), keeping it\n"
               "                             out of the process list\n"
               "  -h --help                  show this help\n\n"
               "Script commands, one per line (# comments):\n"
               "  sleep MS, wait-frame, wait-still MS, type TEXT (escapes \\n \\t \\\\), key CODE,\n"
               "  key-down CODE, key-up CODE, mouse-abs X Y, mouse-rel DX DY,\n"
               "  click left|middle|right|wheel-up|wheel-down, save PATH, expect-mode W H,\n"
               "  handover SESSION, exit CODE,\n"
               "  wait-agent active|none|FEATURE, clipboard-set TEXT, clipboard-set-png PATH,\n"
               "  clipboard-expect TEXT, clipboard-expect-png PATH, paste-text TEXT, resize W H,\n"
               "  wait-windows N, dump-windows PATH|-\n"
               "  wait-media-frames N, wait-media-audio MS, wait-media-stop\n"
               "CODE is a keycode (0x1c) or a QEMU key name (ret, ctrl_r, f1, up, kp_enter, ...).\n\n"
               "Window: click to capture keyboard and mouse, Ctrl+Alt releases them. Ctrl+Alt+V types\n"
               "the local clipboard's text (at most 4096 bytes) through the guest's keyboard, agent or\n"
               "not. With the agent, copy and paste work both ways (text).\n\n"
               "Exit status:\n"
               "  0  done: the script finished, or the window was closed\n"
               "  1  usage error (bad option value, unreadable ticket or script)\n"
               "  2  rejected by hostd (the reason and reject code are on stderr)\n"
               "  3  connection failed, lost, or closed by hostd\n"
               "  4  script failure (an expect-mode that did not hold, a save that failed)\n"
               "  5  timeout (--timeout)\n",
               VIEWER_FILMSTRIP_INTERVAL_DEFAULT_MS);
}

enum {
        ARG_HEADLESS = 0x100,
        ARG_OUT,
        ARG_FORMAT,
        ARG_FILMSTRIP_INTERVAL,
        ARG_SCRIPT,
        ARG_TIMEOUT,
        ARG_LOSSLESS,
        ARG_QUALITY,
        ARG_HOST,
        ARG_PORT,
        ARG_INSECURE,
        ARG_TICKET_FILE,
        ARG_DEAD_AFTER,
        ARG_NO_RESUME,
        ARG_TRANSPORT,
        ARG_RESIZE,
        ARG_SEAMLESS,
        ARG_MEDIA_OUT,
        ARG_MIC_WAV,
        ARG_MEDIA_CODECS,
        ARG_MIC,
        ARG_NO_MEDIA,
        ARG_WIRE_LOG,
};

typedef struct Args {
        ViewerOptions options;
        bool headless;
        const char *script_path;
        const char *ticket_file;
        const char *ticket;
} Args;

_printf_(1, 2) static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("tandem-viewer: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

/* off, on, or WxH (each 1-16384). */
static int parse_resize(const char *s, ViewerOptions *o) {
        uint64_t w, h;
        const char *x;

        if (strcmp(s, "off") == 0)
                o->resize = VIEWER_RESIZE_OFF;
        else if (strcmp(s, "on") == 0)
                o->resize = VIEWER_RESIZE_ON;
        else if ((x = strchr(s, 'x'))) {
                char wbuf[16];
                size_t n = (size_t) (x - s);
                if (n == 0 || n >= sizeof(wbuf))
                        return -EINVAL;
                memcpy(wbuf, s, n);
                wbuf[n] = '\0';
                if (parse_u64(wbuf, 16384, &w) < 0 || parse_u64(x + 1, 16384, &h) < 0 || w == 0 || h == 0)
                        return -EINVAL;
                o->resize = VIEWER_RESIZE_FIXED;
                o->resize_width = (uint32_t) w;
                o->resize_height = (uint32_t) h;
        } else
                return -EINVAL;
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (--help), or -EINVAL after a message. */
static int parse_argv(int argc, char **argv, Args *a) {
        static const struct option options[] = {
                { "headless", no_argument, NULL, ARG_HEADLESS },
                { "out", required_argument, NULL, ARG_OUT },
                { "format", required_argument, NULL, ARG_FORMAT },
                { "filmstrip-interval", required_argument, NULL, ARG_FILMSTRIP_INTERVAL },
                { "script", required_argument, NULL, ARG_SCRIPT },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "lossless", no_argument, NULL, ARG_LOSSLESS },
                { "transport", required_argument, NULL, ARG_TRANSPORT },
                { "quality", required_argument, NULL, ARG_QUALITY },
                { "host", required_argument, NULL, ARG_HOST },
                { "port", required_argument, NULL, ARG_PORT },
                { "insecure", no_argument, NULL, ARG_INSECURE },
                { "ticket-file", required_argument, NULL, ARG_TICKET_FILE },
                { "dead-after", required_argument, NULL, ARG_DEAD_AFTER },
                { "no-resume", no_argument, NULL, ARG_NO_RESUME },
                { "resize", required_argument, NULL, ARG_RESIZE },
                { "seamless", no_argument, NULL, ARG_SEAMLESS },
                { "media-out", required_argument, NULL, ARG_MEDIA_OUT },
                { "mic-wav", required_argument, NULL, ARG_MIC_WAV },
                { "media-codecs", required_argument, NULL, ARG_MEDIA_CODECS },
                { "mic", no_argument, NULL, ARG_MIC },
                { "no-media", no_argument, NULL, ARG_NO_MEDIA },
                { "wire-log", required_argument, NULL, ARG_WIRE_LOG },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint64_t u;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_HEADLESS:
                        a->headless = true;
                        break;
                case ARG_OUT:
                        if (!*optarg)
                                return usage_error("Invalid output directory `%s'", optarg);
                        a->options.out_dir = optarg;
                        break;
                case ARG_FORMAT:
                        if (image_format_from_string(optarg, &a->options.format) < 0)
                                return usage_error("Invalid format `%s' (png or ppm)", optarg);
                        break;
                case ARG_FILMSTRIP_INTERVAL:
                        if (parse_u64(optarg, FILMSTRIP_INTERVAL_MAX_MS, &u) < 0)
                                return usage_error("Invalid filmstrip interval `%s' (milliseconds, 0-%d)", optarg,
                                                   FILMSTRIP_INTERVAL_MAX_MS);
                        a->options.filmstrip_interval = u * USEC_PER_MSEC;
                        break;
                case ARG_SCRIPT:
                        a->script_path = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_seconds(optarg, TIMEOUT_MAX_USEC, &u) < 0 || u == 0)
                                return usage_error("Invalid timeout `%s' (seconds, e.g. 30 or 2.5)", optarg);
                        a->options.timeout = u;
                        break;
                case ARG_LOSSLESS:
                        a->options.client.lossless = true;
                        break;
                case ARG_TRANSPORT:
                        if (strcmp(optarg, "auto") == 0)
                                a->options.client.transport = CLIENT_TRANSPORT_AUTO;
                        else if (strcmp(optarg, "tcp") == 0)
                                a->options.client.transport = CLIENT_TRANSPORT_TCP;
                        else if (strcmp(optarg, "udp") == 0)
                                a->options.client.transport = CLIENT_TRANSPORT_UDP;
                        else
                                return usage_error("Invalid transport `%s' (auto, tcp or udp)", optarg);
                        break;
                case ARG_QUALITY:
                        if (parse_u64(optarg, 100, &u) < 0 || u == 0)
                                return usage_error("Invalid quality `%s' (1-100)", optarg);
                        a->options.client.quality = (int) u;
                        break;
                case ARG_HOST:
                        if (!*optarg)
                                return usage_error("Invalid host `%s'", optarg);
                        a->options.client.host = optarg;
                        break;
                case ARG_PORT:
                        if (parse_u64(optarg, 65535, &u) < 0 || u == 0)
                                return usage_error("Invalid port `%s' (1-65535)", optarg);
                        a->options.client.port = (uint16_t) u;
                        break;
                case ARG_INSECURE:
                        a->options.client.insecure_no_pin = true;
                        break;
                case ARG_TICKET_FILE:
                        a->ticket_file = optarg;
                        break;
                case ARG_DEAD_AFTER:
                        if (parse_seconds(optarg, TIMEOUT_MAX_USEC, &u) < 0 || u == 0)
                                return usage_error("Invalid dead-after `%s' (seconds, e.g. 4 or 1.5)", optarg);
                        a->options.client.dead_after_usec = u;
                        break;
                case ARG_NO_RESUME:
                        a->options.client.no_resume = true;
                        break;
                case ARG_RESIZE:
                        if (parse_resize(optarg, &a->options) < 0)
                                return usage_error("Invalid resize `%s' (off, on or WxH, e.g. 1280x800)", optarg);
                        break;
                case ARG_SEAMLESS:
                        a->options.seamless = true;
                        break;
                case ARG_MEDIA_OUT:
                        a->options.media_out_dir = optarg;
                        break;
                case ARG_MIC_WAV:
                        a->options.mic_wav = optarg;
                        break;
                case ARG_MEDIA_CODECS:
                        if (client_media_parse_codecs(optarg, strlen(optarg), &a->options.client.media.codecs) < 0)
                                return usage_error("Invalid codec list `%s' (opus, vp8, h264, comma-separated)", optarg);
                        break;
                case ARG_MIC:
                        a->options.client.media.microphone = true; /* the SDL window's capture device */
                        break;
                case ARG_NO_MEDIA:
                        a->options.client.no_media = true;
                        break;
                case ARG_WIRE_LOG:
                        if (!*optarg)
                                return usage_error("Invalid wire log `%s'", optarg);
                        a->options.wire_log = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL; /* getopt said why */
                }

        if (!!a->options.client.host != !!a->options.client.port)
                return usage_error("--host and --port go together");
        if (optind < argc)
                a->ticket = argv[optind++];
        if (optind < argc)
                return usage_error("Unexpected argument `%s'", argv[optind]);
        if (!a->ticket == !a->ticket_file)
                return usage_error(a->ticket ? "Give the ticket once: as TICKET or with --ticket-file"
                                             : "No ticket (TICKET or --ticket-file FILE); see --help");
        return 1;
}

/* The ticket without the blanks and newline editors and `echo' leave around it. */
static int read_ticket_file(const char *path, char **ret) {
        _cleanup_(closep) int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_(freep) char *buf = malloc(TICKET_FILE_MAX + 1);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, TICKET_FILE_MAX + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > TICKET_FILE_MAX)
                        return -EFBIG;
        }
        size_t start = 0;
        while (start < len && strchr(" \t\r\n", buf[start]))
                start++;
        while (len > start && strchr(" \t\r\n", buf[len - 1]))
                len--;
        if (len == start)
                return -ENODATA;
        if (memchr(buf + start, '\0', len - start))
                return -EBADMSG;
        memmove(buf, buf + start, len - start);
        buf[len - start] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool want_window(bool headless) {
        if (headless)
                return false;
        if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
                viewer_message("No DISPLAY or WAYLAND_DISPLAY: running headless");
                return false;
        }
#if !HAVE_SDL2
        viewer_message("Built without SDL2: running headless");
        return false;
#else
        return true;
#endif
}

static int run(int argc, char **argv) {
        Args a = {
                .options.format = IMAGE_FORMAT_PNG,
                .options.filmstrip_interval = VIEWER_FILMSTRIP_INTERVAL_DEFAULT_MS * USEC_PER_MSEC,
                .options.client.transport = CLIENT_TRANSPORT_AUTO,
        };
        _cleanup_(freep) char *ticket_buf = NULL;
        _cleanup_(script_freep) Script *script = NULL;
        _cleanup_(viewer_freep) Viewer *v = NULL;
        int r;

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? VIEWER_EXIT_USAGE : VIEWER_EXIT_DONE;

        if (a.ticket_file) {
                r = read_ticket_file(a.ticket_file, &ticket_buf);
                if (r < 0) {
                        usage_error("Cannot read the ticket from `%s': %s", a.ticket_file,
                                    r == -ENODATA ? "empty" : strerror(-r));
                        return VIEWER_EXIT_USAGE;
                }
                a.ticket = ticket_buf;
        }
        if (a.script_path) {
                _cleanup_(freep) char *error = NULL;
                r = script_load(a.script_path, &script, &error);
                if (r < 0) {
                        usage_error("%s", error ?: strerror(-r));
                        return VIEWER_EXIT_USAGE;
                }
        }

        r = viewer_new(&a.options, script, &v);
        if (r < 0) {
                usage_error("Out of memory");
                return VIEWER_EXIT_USAGE;
        }
        script = NULL; /* the viewer's now */
        /* A closed connection must be an error from write(), not a silent death. */
        signal(SIGPIPE, SIG_IGN);

#if HAVE_SDL2
        if (want_window(a.headless)) {
                r = viewer_sdl_run(v, a.ticket);
                if (r != -ENODEV)
                        return r;
                /* no window could be opened (the message said why): same run, headless */
        }
#else
        (void) want_window(a.headless);
#endif
        viewer_connect(v, a.ticket, NULL, NULL);
        return viewer_headless_run(v);
}

int main(int argc, char **argv) {
        /* libavcodec says what it thinks of a bad packet on stderr; the media code handles it. */
        av_log_set_level(AV_LOG_QUIET);
        return run(argc, argv);
}
