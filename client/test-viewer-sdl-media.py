#!/usr/bin/python3
"""tandem-viewer's SDL window draws media video into its rectangle, under Xvfb on the session
test double: its `media=PATH` scenario hands real VP8 packets (fuzz-media-seeds's) to the real
client media code; the window shows the decoded video inside the stream's rectangle (scaled like
the framebuffer) and the fake's framebuffer outside it, and only the framebuffer once a
media-geometry says the stream is invisible. Skips (77) without SDL2, Xvfb, xdotool or xwd.
Polls with generous deadlines; asserts nothing about time."""
import importlib.util
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("viewer_sdl_test", os.path.join(HERE, "test-viewer-sdl.py"))
sdltest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sdltest)  # its main() runs only as a script

VIEWER, SEEDS = sys.argv[1], sys.argv[2]
wait_for, skip = sdltest.wait_for, sdltest.skip

MEDIA_START, MEDIA_GEOMETRY, MEDIA_STOP, MEDIA_PACKET = 0x70, 0x71, 0x72, 0x73
RECT = (64, 48, 64, 48)  # x, y, w, h in framebuffer pixels of a 256x192 screen


def frames(data):
    off = 0
    while off + 8 <= len(data):
        size, kind, channel, flags = struct.unpack("<IHBB", data[off:off + 8])
        yield kind, data[off:off + 8 + size]
        off += 8 + size


def stream(seed, visible_after, rect=RECT, window=0):
    """The seed's media-start (moved to rect of window) and packets; then, if asked, a geometry that hides it."""
    out = b""
    for kind, frame in frames(seed):
        if kind == MEDIA_START:
            head, payload = frame[:8], bytearray(frame[8:])
            x, y, w, h = rect
            # after stream u32, source, kind, codec u8, rate u32, channels u8: window u32, x, y, w, h
            payload[12:32] = struct.pack("<IiiII", window, x, y, w, h)
            payload[32] = 1
            out += head + bytes(payload)
        elif kind == MEDIA_PACKET:
            out += frame
    if not visible_after:
        payload = struct.pack("<IIiiIIB", 1, 0, *RECT, 0)
        out += struct.pack("<IHBB", len(payload), MEDIA_GEOMETRY, 7, 0) + payload
    return out


def fake_pattern(r, g, b, x, y):
    # the fake's frame 1: R = 10, G = y, B = x + 1 (linear filtering: one step either way)
    return r == 10 and abs(g - y) <= 1 and abs(b - (x + 1)) <= 1


def counts(x, window):
    p = x.pixels(window)
    if not p:
        return None
    w, h, get = p
    if (w, h) != (256, 192):
        return None
    rx, ry, rw, rh = RECT
    inside = outside = inside_video = outside_fb = 0
    for y in range(2, h - 2, 5):
        for xx in range(2, w - 2, 5):
            r, g, b = get(xx, y)
            if rx + 2 <= xx < rx + rw - 2 and ry + 2 <= y < ry + rh - 2:
                inside += 1
                inside_video += not fake_pattern(r, g, b, xx, y)
            elif not (rx - 2 <= xx < rx + rw + 2 and ry - 2 <= y < ry + rh + 2):
                outside += 1
                outside_fb += fake_pattern(r, g, b, xx, y)
    return inside, inside_video, outside, outside_fb


def stop(viewer):
    """Ends the viewer if still running: (exit status, its stderr)."""
    if viewer.poll() is None:
        viewer.send_signal(signal.SIGTERM)
    status = viewer.wait(timeout=60)
    return status, viewer.stderr.read()


def run(x, tmp, media, want_video):
    viewer = subprocess.Popen([VIEWER, "--timeout", "120", "--resize", "off",
                               f"fake:mode=256x192,frames=1,desktop=mediademo,media={media}"],
                              env=x.env, stderr=subprocess.PIPE, text=True)
    try:
        win = wait_for("the window", lambda: x.window("tandem-viewer: mediademo"))

        def shows():
            c = counts(x, win)
            if not c:
                return False
            inside, inside_video, outside, outside_fb = c
            if outside_fb != outside:
                return False
            return inside_video >= inside * 0.8 if want_video else inside_video == 0
        wait_for("video in its rectangle" if want_video else "only the framebuffer", shows)
    except AssertionError as e:
        raise AssertionError(f"{e}; {stop(viewer)}")
    finally:
        status, err = stop(viewer)
    if status != 0:
        raise AssertionError(f"exit status {status}: {err}")
    if "media: start 1 source=guest kind=video codec=vp8 64x48" not in err:
        raise AssertionError(f"no media start line: {err}")


def run_seamless(x, tmp, media):
    """--seamless: guest window 100 (the fake's, at (0, 0), 20x10) has the stream (window 100,
    its whole rectangle): its seamless window shows video, not the framebuffer's cut."""
    viewer = subprocess.Popen([VIEWER, "--timeout", "120", "--seamless",
                               f"fake:mode=256x192,frames=1,desktop=seammedia,agent=10,windows=1,media={media}"],
                              env=x.env, stderr=subprocess.PIPE, text=True)
    try:
        win = wait_for("guest window 0", lambda: x.window("^win 0$"))

        def video():
            p = x.pixels(win)
            if not p or p[:2] != (20, 10):
                return False
            _, _, get = p
            samples = [(xx, y) for y in range(2, 8, 2) for xx in range(2, 18, 3)]
            return all(not fake_pattern(*get(xx, y), xx, y) for xx, y in samples)
        wait_for("video in the seamless window", video)
    except AssertionError as e:
        raise AssertionError(f"{e}; {stop(viewer)}")
    finally:
        status, err = stop(viewer)
    if status != 0:
        raise AssertionError(f"exit status {status}: {err}")


def main():
    if os.environ.get("TANDEM_VIEWER_HAS_SDL2") != "1":
        skip("built without SDL2")
    for tool in ("Xvfb", "xdotool", "xwd"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    tmp = tempfile.mkdtemp(prefix="test-viewer-sdl-media.")
    x = sdltest.Xvfb()
    x.env["SDL_AUDIODRIVER"] = "dummy"  # no sound card here: SDL's silent driver still pulls the mixer
    try:
        subprocess.run([SEEDS, tmp], check=True)
        with open(os.path.join(tmp, "vp8"), "rb") as f:
            seed = f.read()
        for name, visible in (("shown", True), ("hidden", False)):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(stream(seed, visible))
            run(x, tmp, path, visible)
            print(f"ok   {'video drawn in its rectangle, the framebuffer around it' if visible else 'visible=0: the framebuffer only'}")
        path = os.path.join(tmp, "seamless")
        with open(path, "wb") as f:
            f.write(stream(seed, True, (0, 0, 20, 10), 100))
        run_seamless(x, tmp, path)
        print("ok   --seamless: the video in its guest window's own window")
    finally:
        x.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
