#!/usr/bin/python3
"""tandem-viewer's SDL window and the agent's features, under Xvfb on the session test double
(test-fake-session.h): the agent's state on stderr and in the title; the guest's clipboard text in
the local clipboard; a local copy grabbed and handed to the guest when it asks; Ctrl+Alt+V typed
as paste-text; the window's size as a resize request; --seamless: one window per guest window,
showing its part of the screen, a move sent back as window-action, and the desktop window again
when the agent is lost. Skips (77) without SDL2, Xvfb, xdotool, xwd or xclip. Polls with generous
deadlines; asserts nothing about time."""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("viewer_sdl_test", os.path.join(HERE, "test-viewer-sdl.py"))
sdltest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sdltest)  # its main() runs only as a script

VIEWER = sys.argv[1]
wait_for, log_lines, skip = sdltest.wait_for, sdltest.log_lines, sdltest.skip


def xclip_out(x):
    p = subprocess.run(["xclip", "-selection", "clipboard", "-o"], env=x.env, capture_output=True, text=True,
                       timeout=60)
    return p.stdout if p.returncode == 0 else None


def xclip_in(x, data):
    # xclip stays in the background to serve the selection: its output must not be waited for.
    subprocess.run(["xclip", "-selection", "clipboard", "-i"], env=x.env, input=data, text=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=True)


def stop(viewer):
    viewer.send_signal(signal.SIGTERM)
    status = viewer.wait(timeout=60)
    err = viewer.stderr.read()
    if status != 0:
        raise AssertionError(f"exit status {status}: {err}")
    return err


def test_desktop_window(x, tmp):
    log = os.path.join(tmp, "agent.log")
    viewer = subprocess.Popen([VIEWER, "--timeout", "120",
                               f"fake:frames=3,desktop=agentdemo,agent=3c,guest-clip=from the guest,input-log={log}"],
                              env=x.env, stderr=subprocess.PIPE, text=True)
    try:
        win = wait_for("the window", lambda: x.window("tandem-viewer: agentdemo"))
        wait_for("the agent in the title", lambda: x.window("agentdemo .*agent clip win resize") == win)
        print("ok   title names the agent and its features")

        # The guest's text is in the local clipboard, fetched as soon as the guest grabbed it.
        wait_for("the guest's text in the clipboard", lambda: xclip_out(x) == "from the guest")
        print("ok   guest -> local clipboard (text)")
        if any(line.startswith("clipboard-grab") for line in log_lines(log)):
            raise AssertionError(f"the guest's own text was grabbed back: {log_lines(log)}")
        print("ok   no echo of the guest's text")

        # A local copy: grabbed, and given to the guest when it asks.
        xclip_in(x, "copied here")
        wait_for("the local copy in the guest", lambda: "clipboard-in 0 11 copied here" in log_lines(log))
        print("ok   local copy -> guest (lazy grab, data on request)")

        # Ctrl+Alt+V types the clipboard through the hypervisor keyboard.
        x.xdotool("windowfocus", "--sync", win)
        x.xdotool("key", "--window", win, "ctrl+alt+v")
        wait_for("paste as keystrokes", lambda: "paste copied here" in log_lines(log))
        print("ok   Ctrl+Alt+V pastes as keystrokes")

        # The user's size goes to hostd.
        x.xdotool("windowsize", win, "300", "200")
        wait_for("a resize request", lambda: "resize 300 200" in log_lines(log))
        print("ok   window size -> resize request")
    finally:
        err = stop(viewer)
    if "tandem-viewer: agent: active (clipboard, windows, resize)" not in err:
        raise AssertionError(f"no agent line on stderr: {err}")
    print("ok   'agent: active (clipboard, windows, resize)' on stderr")


def shows_cut(x, window, frame, ox, oy, w, h):
    """The window shows the fake's frame from (ox, oy): R = 10 frame, G = y, B = x + frame."""
    p = x.pixels(window)
    if not p:
        return False
    pw, ph, get = p
    if (pw, ph) != (w, h):
        return False
    for wy in range(0, h, 3):
        for wx in range(0, w, 4):
            r, g, b = get(wx, wy)
            if r != 10 * frame or g != (oy + wy) % 256 or b != (ox + wx + frame) % 256:
                return False
    return True


def test_seamless(x, tmp):
    log = os.path.join(tmp, "seamless.log")
    # Frames keep coming (100 ms apart) so the agent can be lost at frame 60, seconds later.
    viewer = subprocess.Popen([VIEWER, "--timeout", "120", "--seamless",
                               f"fake:frames=80,interval=100,desktop=seam,agent=10,windows=2,agent-lost-after=60,"
                               f"input-log={log}"],
                              env=x.env, stderr=subprocess.PIPE, text=True)
    try:
        w0 = wait_for("guest window 0", lambda: x.window("^win 0$"))
        w1 = wait_for("guest window 1", lambda: x.window("^win 1$"))
        print("ok   one window per guest window, titled as the guest says")
        wait_for("the desktop hidden", lambda: not x.xdotool("search", "--onlyvisible", "--name", "tandem-viewer: seam"))
        print("ok   the desktop window hidden")
        # win 1 is at (8, 6), 20x10: it shows that part of the screen (the frame number changes: any frame).
        wait_for("win 1's part of the screen",
                 lambda: any(shows_cut(x, w1, f, 8, 6, 20, 10) for f in range(1, 61)))
        print("ok   the window shows its cut of the framebuffer")

        x.xdotool("windowmove", w0, "40", "30")
        wait_for("a move-resize", lambda: any(line.startswith("window-action 100 2 40 30 20 10") for line in log_lines(log)))
        print("ok   moving it sends window-action move-resize")

        # Agent lost (frame 60): the guest windows go, the desktop comes back.
        wait_for("the guest windows closed", lambda: not x.window("^win 0$") and not x.window("^win 1$"))
        wait_for("the desktop shown", lambda: x.xdotool("search", "--onlyvisible", "--name", "tandem-viewer: seam"))
        print("ok   agent lost: back to the desktop window")
    finally:
        err = stop(viewer)
    for want in ("seamless: showing the guest's windows", "seamless: showing the desktop",
                 "agent: none (hypervisor path: heartbeat lost)"):
        if want not in err:
            raise AssertionError(f"`{want}' not on stderr: {err}")
    print("ok   stderr says each change")


def main():
    if os.environ.get("TANDEM_VIEWER_HAS_SDL2") != "1":
        skip("built without SDL2")
    for tool in ("Xvfb", "xdotool", "xwd", "xclip"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed")
    x = sdltest.Xvfb()
    tmp = tempfile.mkdtemp(prefix="test-viewer-sdl-agent.")
    try:
        test_desktop_window(x, tmp)
        test_seamless(x, tmp)
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
