#!/usr/bin/env python3
"""tandem-guestd-session against a real X server (Xvfb), a real EWMH window manager (openbox) and
real X clients (xclip, xrandr, windows of the test's own python3-xlib connection), with the test
playing the root daemon's side of the agent protocol on the other end of a socketpair (--fd).

Checks: hello and its caps; the window list follows clients as they map, move, restack, retitle,
get an icon and close, with geometry including openbox's frame; window actions (activate, close,
move-resize, minimize, maximize, restore); the clipboard both ways for text and a 1 MiB PNG
(through INCR towards the X client), lazily and with serials; hostile input (stale serials,
chunks out of order or over the cap, unknown window ids and actions) leaves the helper up and
working; RandR resize; and without a window manager, the window list from the window tree."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import x11test  # noqa: E402
from x11test import STATE  # noqa: E402

TEXT, PNG = 0, 1
OP = {"activate": 0, "close": 1, "move-resize": 2, "minimize": 3, "maximize": 4, "restore": 5}


def step(what):
    print(f"--- {what}", flush=True)


def action(d, wid, op, x=0, y=0, w=0, h=0):
    d.peer.send("window-action", id=wid, op=OP[op], x=x, y=y, width=w, height=h)


def check_geometry(d, win):
    """The helper's geometry of win is X's, frame included (X's read again while the WM works)."""
    def same(m):
        x, y, w, h = d.frame_geometry(win.id)
        return m.has(win.id, x=x, y=y, width=w, height=h)

    d.model.wait(same, what=f"{win.id:#x} at {d.frame_geometry(win.id)}")


def test_hello(d):
    step("hello with caps, windows-reset")
    hello = d.peer.wait_name("hello")
    caps = hello["caps"]
    assert hello["magic"] == 0x41444E54 and hello["version"] == 1, hello
    for bit in (2, 3, 4, 5):  # clipboard-text, clipboard-image, windows, resize
        assert caps & (1 << bit), f"cap {bit} missing in {caps:#x}"
    assert not caps & 1 and not caps & 2, "heartbeat and sessions are the root daemon's"
    d.model.wait(lambda m: m.resets >= 1, what="windows-reset")


def test_windows(d):
    step("windows follow X clients: map, retitle, move, restack, icon, close")
    a = d.window("alpha", x=100, y=100, w=300, h=200)
    d.model.wait(lambda m: m.has(a.id, title="alpha", state_set=STATE["mapped"]), what="alpha mapped")
    check_geometry(d, a)
    # openbox frames it: the geometry is larger than the client's.
    fa = d.model.windows[a.id]
    assert fa["width"] > 300 and fa["height"] > 200, fa

    b = d.window("beta", x=500, y=300, w=250, h=150)
    d.model.wait(lambda m: m.has(b.id, title="beta") and m.stack[-2:] == [a.id, b.id], what="beta on top")

    a.set_title("αλφα ✓ — retitled")
    d.model.wait(lambda m: m.has(a.id, title="αλφα ✓ — retitled"), what="the new title")

    a.configure(x=220, y=180)
    d.model.wait(lambda m: m.windows[a.id]["x"] != fa["x"], what="alpha moved")
    check_geometry(d, a)
    assert d.model.windows[a.id]["x"] != fa["x"]

    a.configure(stack_mode=x11test.X.Above)
    d.model.wait(lambda m: m.stack[-2:] == [b.id, a.id], what="alpha raised above beta")

    # Icons: the largest that fits 64x64 is picked; only larger ones are scaled down.
    b.set_icon((16, 16, 0xFF112233), (32, 32, 0xFF445566), (128, 128, 0xFF778899))
    d.model.wait(lambda m: b.id in m.icons and m.icons[b.id][:2] == (32, 32), what="beta's 32x32 icon")
    assert d.model.icons[b.id][2][:4] == bytes([0x66, 0x55, 0x44, 0xFF]), "ARGB as little-endian u32"
    a.set_icon((128, 96, 0x80FF0000))
    d.model.wait(lambda m: a.id in m.icons and m.icons[a.id][:2] == (64, 48), what="alpha's icon scaled to 64x48")

    b.destroy()
    d.model.wait(lambda m: b.id not in m.windows and b.id not in m.stack, what="beta removed")
    return a


def test_actions(d, a):
    step("window actions: activate, move-resize, maximize, restore, minimize, close; unknown ids ignored")
    c = d.window("gamma", x=600, y=400, w=200, h=120)
    d.model.wait(lambda m: m.has(c.id, title="gamma"), what="gamma")

    action(d, a.id, "activate")
    d.model.wait(lambda m: m.has(a.id, state_set=STATE["focused"]) and m.has(c.id, state_clear=STATE["focused"]),
                 what="alpha focused")
    action(d, c.id, "activate")
    d.model.wait(lambda m: m.has(c.id, state_set=STATE["focused"]) and m.has(a.id, state_clear=STATE["focused"]),
                 what="gamma focused")

    # The peer's geometry includes the frame: what it asks for is what it gets back.
    action(d, a.id, "move-resize", 300, 250, 500, 400)
    d.model.wait(lambda m: m.has(a.id, x=300, y=250, width=500, height=400), what="alpha moved and resized")
    check_geometry(d, a)

    action(d, a.id, "maximize")
    d.model.wait(lambda m: m.has(a.id, state_set=STATE["maximized"]) and m.windows[a.id]["width"] >= 1900,
                 what="alpha maximized")
    action(d, a.id, "restore")
    d.model.wait(lambda m: m.has(a.id, state_clear=STATE["maximized"], width=500, height=400), what="alpha restored")

    action(d, c.id, "minimize")
    d.model.wait(lambda m: m.has(c.id, state_set=STATE["minimized"], state_clear=STATE["mapped"]),
                 what="gamma minimized")
    action(d, c.id, "restore")
    d.model.wait(lambda m: m.has(c.id, state_set=STATE["mapped"], state_clear=STATE["minimized"]),
                 what="gamma restored")

    # Unknown ids and ops: nothing happens, the helper goes on.
    action(d, 0x7FFFFFF0, "close")
    action(d, 0, "minimize")
    d.peer.send("window-action", id=c.id, op=77)

    action(d, c.id, "close")  # openbox sends WM_DELETE_WINDOW; the client destroys the window
    deadline = time.monotonic() + 20
    while c.id in d.model.windows:
        d.pump_x()
        d.peer.poll(0.05)
        assert time.monotonic() < deadline, "gamma not closed"
    assert d.alive()


def test_clipboard_guest_to_host(d):
    step("clipboard, X to host: text, a large text, a 1 MiB PNG")
    text = "hello from X ✓ ünïcode\n".encode()
    d.copy(text)
    grab = d.peer.wait_name("clipboard-grab")
    assert grab["formats"] & (1 << TEXT), grab
    got = d.peer.fetch_clipboard(grab["serial"], TEXT)
    assert got == text, got

    # A stale serial is ignored; the current one still answers.
    d.peer.send("clipboard-request", serial=grab["serial"] + 1000, format=TEXT)
    # A format not offered: nothing to give.
    if not grab["formats"] & (1 << PNG):
        d.peer.send("clipboard-request", serial=grab["serial"], format=PNG)
        f = d.peer.wait_name("clipboard-data", serial=grab["serial"], format=PNG)
        assert f["total"] == 0, f

    # 5 MiB: over xclip's largest single request on Xvfb (4 MiB), so it sends it by INCR.
    big = ("0123456789abcdef" * 65536 * 5).encode()
    d.copy(big)
    grab2 = d.peer.wait_name("clipboard-grab")
    assert grab2["serial"] != grab["serial"]
    got = d.peer.fetch_clipboard(grab2["serial"], TEXT, timeout=60)
    assert got == big, (len(got), len(big))
    assert "by INCR" in d.log("helper.log"), "the INCR path was not taken"

    image = x11test.png(620, 580)
    assert len(image) > 1 << 20, len(image)
    path = os.path.join(d.tmp, "in.png")
    with open(path, "wb") as f:
        f.write(image)
    d.copy(path=path, target="image/png")
    grab3 = d.peer.wait_name("clipboard-grab")
    assert grab3["formats"] & (1 << PNG), grab3
    got = d.peer.fetch_clipboard(grab3["serial"], PNG, timeout=60)
    assert got == image, (len(got), len(image))

    # An owner that goes away (xclip -l 1 exits after serving its data once): its grab is
    # released.
    subprocess.run(["xclip", "-selection", "clipboard", "-i", "-l", "1"], input=b"short-lived", env=d.env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=True)
    grab4 = d.peer.wait_name("clipboard-grab")
    assert d.peer.fetch_clipboard(grab4["serial"], TEXT) == b"short-lived"
    d.peer.wait_name("clipboard-release", serial=grab4["serial"])
    return grab3["serial"]


def paste(d, *args, timeout=30):
    """Starts an X client that pastes; the helper asks the peer while it waits."""
    return subprocess.Popen(["xclip", "-selection", "clipboard", "-o", *args], env=d.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_clipboard_host_to_guest(d):
    step("clipboard, host to X: text (UTF8_STRING and STRING), TARGETS, a 1 MiB PNG through INCR")
    text = "from the host: ÄÖÜ ✓".encode()
    d.peer.send("clipboard-grab", serial=5000, formats=1 << TEXT)
    d.barrier()
    d.wait_helper_owns()
    # Lazy: nothing is asked until an X client pastes.
    time.sleep(0.3)
    assert not [m for m in d.peer.poll(0.1) if m[0] == "clipboard-request"], "asked before anyone pasted"

    p = paste(d)
    assert d.peer.serve_clipboard(5000, {TEXT: text}) == TEXT
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == text, (out, err)
    # The second paste is served from what the helper has: no new request.
    out = d.run("xclip", "-selection", "clipboard", "-o").stdout
    assert out == text
    assert not [m for m in d.peer.poll(0.2) if m[0] == "clipboard-request"]
    out = d.run("xclip", "-selection", "clipboard", "-o", "-t", "STRING").stdout
    assert out == "from the host: ÄÖÜ ?".encode("latin-1"), out
    targets = d.run("xclip", "-selection", "clipboard", "-o", "-t", "TARGETS").stdout.decode().split()
    for t in ("TARGETS", "UTF8_STRING", "STRING", "text/plain;charset=utf-8"):
        assert t in targets, targets
    assert "image/png" not in targets

    image = x11test.png(620, 570, seed=2)
    d.peer.send("clipboard-grab", serial=5001, formats=(1 << PNG) | (1 << TEXT))
    d.barrier()
    d.wait_helper_owns()
    p = paste(d, "-t", "image/png")
    assert d.peer.serve_clipboard(5001, {PNG: image}) == PNG
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and out == image, (len(out), len(image), err)

    # A grab from X takes it back: the helper tells the peer.
    d.copy(b"x again")
    grab = d.peer.wait_name("clipboard-grab")
    assert d.peer.fetch_clipboard(grab["serial"], TEXT) == b"x again"


def paste_against(d, serial, answer, timeout=30):
    """An X client pastes; every request the helper makes for it gets answer(). Returns what the
    client got, or None when it got nothing."""
    p = paste(d)
    deadline = time.monotonic() + timeout
    while p.poll() is None:
        assert time.monotonic() < deadline, "the paste never ended"
        d.peer.poll(0.05)
        while d.peer.queue:
            name, f = d.peer.queue.pop(0)
            if name == "clipboard-request" and f["serial"] == serial:
                answer()
    out, _ = p.communicate()
    return out if p.returncode == 0 else None


def test_hostile(d):
    step("hostile host input: stale serials, chunks out of order or over the cap, unknown windows")
    d.peer.send("clipboard-grab", serial=6000, formats=1 << TEXT)
    d.barrier()
    d.wait_helper_owns()

    # Out of order: the transfer is abandoned, the paste gets nothing (xclip asks again for
    # STRING after UTF8_STRING fails: each request gets the same bad answer).
    out = paste_against(d, 6000, lambda: d.peer.send("clipboard-data", serial=6000, format=TEXT, total=10, offset=5,
                                                     chunk=b"12345"))
    assert out is None

    # Over the cap (16 MiB): abandoned at the first chunk.
    out = paste_against(d, 6000, lambda: d.peer.send("clipboard-data", serial=6000, format=TEXT,
                                                     total=(16 << 20) + 1, offset=0, chunk=b"x" * 100))
    assert out is None

    # A chunk past the total, a changed total, a stale serial, an unrequested format.
    p = paste(d)
    d.peer.wait_name("clipboard-request", serial=6000)
    d.peer.send("clipboard-data", serial=5999, format=TEXT, total=3, offset=0, chunk=b"old")  # stale: ignored
    d.peer.send("clipboard-data", serial=6000, format=PNG, total=3, offset=0, chunk=b"png")  # not asked: ignored
    d.peer.send("clipboard-data", serial=6000, format=TEXT, total=4, offset=0, chunk=b"go")
    d.peer.send("clipboard-data", serial=6000, format=TEXT, total=4, offset=2, chunk=b"od")
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"good", out

    p = paste(d, "-t", "image/png")  # not in the grab's formats: refused at once
    out, _ = p.communicate(timeout=30)
    assert p.returncode != 0

    d.peer.send("clipboard-grab", serial=6001, formats=1 << TEXT)
    d.barrier()

    d.barrier()
    d.wait_helper_owns()
    out = paste_against(d, 6001, lambda: d.peer.send("clipboard-data", serial=6001, format=TEXT, total=4, offset=0,
                                                     chunk=b"toolong"))
    assert out is None

    # Releases: of another serial ignored, of the current one drops the selection.
    d.peer.send("clipboard-release", serial=1)
    d.peer.send("clipboard-release", serial=6001)
    time.sleep(0.3)
    r = d.run("xclip", "-selection", "clipboard", "-o", check=False)
    assert r.returncode != 0, r.stdout
    # Requests and data for grabs that are not current, unknown windows: still up.
    d.peer.send("clipboard-request", serial=424242, format=TEXT)
    d.peer.send("window-action", id=0xDEADBEEF, op=1)
    assert d.alive()


def test_resize(d):
    step("RandR resize: a new mode, then back to a server mode; too large fails")
    d.peer.send("resize-request", serial=7, width=1024, height=768)
    f = d.peer.wait_name("resize-done", serial=7)
    assert (f["status"], f["width"], f["height"]) == (0, 1024, 768), f
    q = d.run("xrandr", "--query").stdout.decode()
    assert "current 1024 x 768" in q, q
    d.peer.send("resize-request", serial=8, width=1920, height=1200)
    f = d.peer.wait_name("resize-done", serial=8)
    assert (f["status"], f["width"], f["height"]) == (0, 1920, 1200), f
    d.peer.send("resize-request", serial=9, width=1366, height=700)
    f = d.peer.wait_name("resize-done", serial=9)
    assert (f["status"], f["width"], f["height"]) == (0, 1366, 700), f
    assert "current 1366 x 700" in d.run("xrandr", "--query").stdout.decode()
    # Past Xvfb's start-up size: failed, the size stays.
    d.peer.send("resize-request", serial=10, width=4000, height=3000)
    f = d.peer.wait_name("resize-done", serial=10)
    assert (f["status"], f["width"], f["height"]) == (1, 1366, 700), f
    d.peer.send("resize-request", serial=11, width=0, height=0)
    f = d.peer.wait_name("resize-done", serial=11)
    assert f["status"] == 1, f


def test_no_wm():
    step("no window manager: the window tree; a WM that leaves and comes")
    with x11test.Desktop(wm=False) as d:
        d.peer.wait_name("hello")
        a = d.window("tree-a", x=10, y=20, w=200, h=100)
        d.model.wait(lambda m: m.has(a.id, title="tree-a", x=10, y=20, width=200, height=100), what="tree-a")
        b = d.window("tree-b", x=300, y=20, w=200, h=100)
        d.model.wait(lambda m: m.stack == [a.id, b.id], what="tree-b above")
        a.configure(stack_mode=x11test.X.Above)
        d.model.wait(lambda m: m.stack == [b.id, a.id], what="tree-a raised")
        a.configure(x=40, y=60)
        d.model.wait(lambda m: m.has(a.id, x=40, y=60), what="tree-a moved")
        action(d, a.id, "move-resize", 100, 110, 320, 240)
        d.model.wait(lambda m: m.has(a.id, x=100, y=110, width=320, height=240), what="tree-a by the action")
        b.unmap()
        d.model.wait(lambda m: b.id not in m.windows and m.stack == [a.id], what="tree-b gone when unmapped")

        # openbox starts: windows-reset, then the EWMH list with frames.
        resets = d.model.resets
        d.start_wm()
        d.model.wait(lambda m: m.resets > resets and m.has(a.id, title="tree-a") and m.windows[a.id]["width"] > 320,
                     what="reset and the framed window under openbox")
        # openbox leaves: back to the tree.
        resets = d.model.resets
        d.stop_wm()
        d.model.wait(lambda m: m.resets > resets and m.has(a.id, width=320, height=240), what="back to the tree")
        assert d.alive()


def test_socket():
    step("--socket: connects, answers hellos, survives garbage and a bad version by reconnecting")
    import socket

    from agentpeer import Peer, encode

    with x11test.Desktop(wm=False, helper=False) as d:
        path = os.path.join(d.tmp, "session.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        srv.settimeout(20)
        exe = os.path.join(x11test.build_dir(), "guestd", "tandem-guestd-session")
        d.helper = d._spawn([exe, "--socket", path, "--display", d.display, "--log-level", "debug"], "helper.log")
        d.helper_wanted = True

        def accept():
            conn, _ = srv.accept()
            peer = Peer(conn)
            peer.wait_name("hello")
            peer.wait_name("windows-reset")
            return peer

        peer = accept()
        # The peer's hello (it started over): the helper answers with its hello and the windows.
        peer.send("hello", magic=0x41444E54, version=1, caps=0, software="test")
        peer.wait_name("hello")
        peer.wait_name("windows-reset")
        # Garbage: a frame over its type's maximum. The helper drops the connection and comes back.
        peer.send_raw(b"\xff\xff\xff\x00\x31\x00\x03\x00")
        peer = accept()
        # A hello of another version: bye, and again.
        peer.send("hello", magic=0x41444E54, version=9, caps=0, software="future")
        bye = peer.wait_name("bye")
        assert bye["code"] == 1, bye
        peer = accept()
        # The peer goes away: the helper waits for it to come back.
        peer.sock.close()
        peer = accept()
        peer.send("resize-request", serial=1, width=800, height=600)
        assert peer.wait_name("resize-done", serial=1)["status"] == 0
        assert d.alive()
        srv.close()


def main():
    x11test.require_tools()
    with x11test.Desktop(wm=True) as d:
        test_hello(d)
        a = test_windows(d)
        test_actions(d, a)
        test_clipboard_guest_to_host(d)
        test_clipboard_host_to_guest(d)
        test_hostile(d)
        test_resize(d)
        assert d.alive(), "the helper exited"
    test_no_wm()
    test_socket()
    print("ok")


if __name__ == "__main__":
    main()
