#!/usr/bin/python3
"""tandem-viewer's SDL window under Xvfb, on the session test double: the frame drawn and scaled,
the title, capture by click and release by Ctrl+Alt, mouse positions in console pixels through
the scaling, keys through the keymap, view-only, and closing. Skips (77) without SDL2, Xvfb,
xdotool or xwd. Polls with generous deadlines; asserts nothing about time."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

VIEWER = sys.argv[1]
DEADLINE = 120  # generous: under load (VMs, compiles) Xvfb and SDL start slowly; not a speed check


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def wait_for(what, predicate, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Xvfb:
    def __init__(self):
        r, w = os.pipe()
        # -noreset: by default the server resets when its last client leaves, closing any client
        # that connects meanwhile; the test's own xdotool/xwd calls come and go while the viewer
        # opens its window, which then fell back to headless now and then.
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x768x24", "-nolisten", "tcp",
                                      "-noreset"],
                                     pass_fds=[w], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        if not number:
            self.proc.kill()
            skip("Xvfb did not start")
        self.env = dict(os.environ)
        self.env.pop("WAYLAND_DISPLAY", None)
        self.env["DISPLAY"] = ":" + number
        # SDL and the X libraries keep allocations until exit; our own leaks are the unit tests'.
        self.env["ASAN_OPTIONS"] = self.env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def xdotool(self, *args):
        p = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=60)
        return p.stdout.strip() if p.returncode == 0 else ""

    def window(self, name):
        return self.xdotool("search", "--name", name).split("\n")[0]

    def pixels(self, window):
        """The window's contents as (width, height, get(x, y) -> (r, g, b))."""
        data = subprocess.run(["xwd", "-id", window, "-silent"], env=self.env, capture_output=True,
                              timeout=60).stdout
        if len(data) < 100:
            return None
        h = struct.unpack(">25I", data[:100])
        header_size, pixmap_format, depth, width, height = h[0], h[2], h[3], h[4], h[5]
        byte_order, bpp, bpl, ncolors = h[7], h[11], h[12], h[19]
        if pixmap_format != 2 or bpp != 32 or byte_order != 0:
            raise AssertionError(f"unexpected XWD layout {h}")
        base = header_size + ncolors * 12

        def get(x, y):
            o = base + y * bpl + x * 4
            return data[o + 2], data[o + 1], data[o]  # LSB first: B, G, R, X
        if len(data) < base + height * bpl:
            return None
        return width, height, get


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def shows_frame(x, window, frame, scale):
    """The window shows the fake's frame: R = 10 * frame, G = y, B = x + frame (scaled)."""
    p = x.pixels(window)
    if not p:
        return False
    w, h, get = p
    for wy in range(scale, h - scale, max(1, h // 7)):
        for wx in range(scale, w - scale, max(1, w // 7)):
            r, g, b = get(wx, wy)
            cx, cy = wx // scale, wy // scale
            # linear filtering blends neighbours: allow one step of the gradients
            if r != 10 * frame or abs(g - cy) > 1 or abs(b - (cx + frame)) > 1:
                return False
    return True


def main():
    if os.environ.get("TANDEM_VIEWER_HAS_SDL2") != "1":
        skip("built without SDL2")
    for tool in ("Xvfb", "xdotool", "xwd"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")

    x = Xvfb()
    tmp = tempfile.mkdtemp(prefix="test-viewer-sdl.")
    log = os.path.join(tmp, "input.log")
    viewer = None
    try:
        viewer = subprocess.Popen([VIEWER, "--timeout", "120", f"fake:frames=3,cursor=1,desktop=demo,input-log={log}"],
                                  env=x.env, stderr=subprocess.PIPE, text=True)
        win = wait_for("the window", lambda: x.window("tandem-viewer: demo"))
        print("ok   window opened")
        wait_for("the title", lambda: x.window("demo .* click to capture") == win)
        print("ok   title asks for a click")
        wait_for("the frame at 1:1", lambda: shows_frame(x, win, 3, 1))
        print("ok   frame drawn")

        # twice the console's size: the picture scales, positions map back to console pixels
        x.xdotool("windowsize", win, "128", "96")
        wait_for("the frame at 2:1", lambda: shows_frame(x, win, 3, 2))
        print("ok   frame scaled")

        x.xdotool("mousemove", "--window", win, "64", "48", "click", "1")
        wait_for("capture", lambda: x.window("demo .* Ctrl.Alt releases") == win)
        print("ok   captured by a click")
        if any("button" in line for line in log_lines(log)):
            raise AssertionError(f"the capturing click reached the guest: {log_lines(log)}")
        print("ok   capturing click kept local")

        x.xdotool("mousemove", "--window", win, "66", "50", "click", "1")
        x.xdotool("key", "a", "shift+b", "Right", "KP_Enter", "Control_R")
        x.xdotool("mousemove", "--window", win, "127", "95", "click", "4")
        want = ["abs 33 25", "button 0 down", "button 0 up",
                "key 0x1e down", "key 0x1e up", "key 0x2a down", "key 0x30 down",
                "key 0xcd down", "key 0xcd up", "key 0x9c down", "key 0x9c up", "key 0x9d down", "key 0x9d up",
                "abs 63 47", "button 3 down", "button 3 up"]

        def has_all():
            lines = log_lines(log)
            return all(w in lines for w in want)
        try:
            wait_for("input", has_all)
        except AssertionError:
            raise AssertionError(f"input log {log_lines(log)}, want all of {want}")
        print("ok   mouse and keys reach the session in console pixels and QEMU keycodes")

        x.xdotool("key", "ctrl+alt")
        wait_for("release", lambda: x.window("demo .* click to capture") == win)
        lines = log_lines(log)
        if "key 0x38 down" in lines or lines[-2:] != ["key 0x1d down", "key 0x1d up"]:
            raise AssertionError(f"Ctrl+Alt: {lines[-4:]}")
        print("ok   Ctrl+Alt releases; the guest sees Ctrl pressed and lifted, never Alt")
        n = len(lines)
        x.xdotool("key", "c")
        x.xdotool("mousemove", "--window", win, "10", "10")
        time.sleep(0.3)  # nothing may arrive; this only gives it the chance to
        if len(log_lines(log)) != n:
            raise AssertionError(f"input after release: {log_lines(log)[n:]}")
        print("ok   nothing sent once released")

        viewer.send_signal(signal.SIGTERM)  # SDL turns it into SDL_QUIT, as closing the window does
        status = viewer.wait(timeout=60)
        err = viewer.stderr.read()
        if status != 0:
            raise AssertionError(f"exit status {status}: {err}")
        print("ok   closed: status 0")

        # a script runs in window mode as it does headless
        script = os.path.join(tmp, "script.txt")
        with open(script, "w") as f:
            f.write(f"wait-frame\nexpect-mode 64 48\nsave {tmp}/shot.ppm\n")
        p = subprocess.run([VIEWER, "--timeout", "120", "--script", script, "fake:frames=2"], env=x.env,
                           capture_output=True, text=True, timeout=150)
        if p.returncode != 0 or not os.path.exists(os.path.join(tmp, "shot.ppm")):
            raise AssertionError(f"script in a window: status {p.returncode}, {p.stderr}")
        print("ok   script in window mode")

        # view-only: said in the title, a click does not capture
        # Once in a while (twice in ~30 full runs, only with another full test run on the machine)
        # this window was never found by its title; not understood yet. One retry, said aloud, so
        # that a real failure still fails.
        for attempt in (1, 2):
            viewer = subprocess.Popen([VIEWER, "--timeout", "120",
                                       f"fake:frames=1,role=1,desktop=watch,input-log={log}2"],
                                      env=x.env, stderr=subprocess.PIPE, text=True)
            try:
                win = wait_for("the view-only window", lambda: x.window("tandem-viewer: watch .view only."),
                               deadline=DEADLINE / 2)
                break
            except AssertionError:
                viewer.kill()
                viewer.wait()
                if attempt == 2:
                    raise
                print("RETRY view-only window not found by its title; starting that viewer again")
        x.xdotool("mousemove", "--window", win, "10", "10", "click", "1")
        x.xdotool("key", "a")
        time.sleep(0.3)
        if x.window("Ctrl.Alt releases") or any(not line.startswith("connect") for line in log_lines(log + "2")):
            raise AssertionError(f"view-only captured or sent input: {log_lines(log + '2')}")
        viewer.send_signal(signal.SIGTERM)
        if viewer.wait(timeout=60) != 0:
            raise AssertionError("view-only viewer did not exit 0")
        print("ok   view-only")
        viewer = None
    finally:
        if viewer and viewer.poll() is None:
            viewer.kill()
            viewer.wait()
        x.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
