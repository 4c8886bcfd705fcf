/* content-frames OUTDIR [--synthetic] [--png]: writes every frame of the screen-content sets
 * (common/screen-content.h) as OUTDIR/SET-N.ppm (or .png), to look at them or to feed other
 * tools such as tjbench. */
#include <errno.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "screen-content.h"

static int write_png(const ContentFrame *f, const char *path) {
        png_image img = { .version = PNG_IMAGE_VERSION, .width = f->width, .height = f->height,
                          .format = PNG_FORMAT_BGRA };
        return png_image_write_to_file(&img, path, 0, f->pixels, (png_int_32) f->stride, NULL) ? 0 : -EIO;
}

int main(int argc, char **argv) {
        const char *out = NULL;
        bool synthetic = false, png = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--synthetic") == 0)
                        synthetic = true;
                else if (strcmp(argv[i], "--png") == 0)
                        png = true;
                else
                        out = argv[i];
        }
        if (!out) {
                fprintf(stderr, "usage: content-frames OUTDIR [--synthetic] [--png]\n");
                return 2;
        }
        for (ContentSet s = 0; s < _CONTENT_SET_MAX; s++) {
                ContentFrames frames = {};
                int r = synthetic ? content_synthesize(s, &frames) : content_load(s, NULL, &frames);
                if (r < 0) {
                        fprintf(stderr, "%s: %s%s\n", content_set_name(s), strerror(-r),
                                r == -ENOENT ? " (run scripts/screen-content.sh)" : "");
                        continue;
                }
                for (size_t i = 0; i < frames.n; i++) {
                        char path[4096];
                        int n = snprintf(path, sizeof(path), "%s/%s-%zu.%s", out, content_set_name(s), i + 1,
                                         png ? "png" : "ppm");
                        if (n < 0 || (size_t) n >= sizeof(path))
                                r = -ENAMETOOLONG;
                        else
                                r = png ? write_png(&frames.frames[i], path) : content_write_ppm(&frames.frames[i], path);
                        if (r < 0) {
                                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                                content_frames_done(&frames);
                                return 1;
                        }
                        printf("%s\t%ux%u\t%s\n", path, frames.frames[i].width, frames.frames[i].height,
                               frames.frames[i].name);
                }
                content_frames_done(&frames);
        }
        return 0;
}
