"""Helpers for tests and benchmarks of tandem-guestd-session against a real X server: Xvfb, an
EWMH window manager (openbox), the helper on one end of a socketpair (--fd) and an agentpeer.Peer
on the other, test windows from python3-xlib, and a model of the windows the helper reported.

    with x11test.Desktop(wm=True) as d:         # Xvfb + openbox + the helper
        hello = d.peer.wait_name("hello")
        w = d.window("alpha")                   # a real X client's window, mapped
        d.model.wait(lambda m: w.id in m.windows)
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from agentpeer import Peer

try:
    from Xlib import X, Xatom, display
except ImportError:  # pragma: no cover
    X = None

SKIP = 77
STATE = {"mapped": 1, "focused": 2, "minimized": 4, "maximized": 8, "fullscreen": 16, "modal": 32, "skip-taskbar": 64}


def build_dir():
    return os.environ.get("TANDEM_BUILD_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                              "build-asan")


def require_tools(wm=True):
    missing = [t for t in ("Xvfb", "xclip", "xrandr") + (("openbox",) if wm else ()) if not shutil.which(t)]
    if X is None:
        missing.append("python3-xlib")
    if missing:
        print(f"skip: missing {' '.join(missing)} (./tandem deps installs them)")
        sys.exit(SKIP)


def png(width, height, seed=1):
    """A real PNG of noise (it does not compress: about 3 bytes a pixel)."""
    rnd = random.Random(seed)
    raw = b"".join(b"\0" + rnd.randbytes(width * 3) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


class Window:
    """A top-level window of the test's own X client."""

    def __init__(self, desk, title, x=50, y=50, w=300, h=200, delete_protocol=True):
        self.desk = desk
        d = desk.xd
        s = d.screen()
        self.win = s.root.create_window(x, y, w, h, 0, s.root_depth, X.InputOutput, X.CopyFromParent,
                                        background_pixel=s.white_pixel,
                                        event_mask=X.StructureNotifyMask | X.PropertyChangeMask)
        self.id = self.win.id
        if delete_protocol:
            self.win.set_wm_protocols([desk.atom("WM_DELETE_WINDOW")])
        self.win.set_wm_normal_hints(flags=1 | 2, x=x, y=y)  # USPosition | USSize
        self.set_title(title)
        self.win.map()
        d.sync()

    def set_title(self, title):
        self.win.set_wm_name(title.encode("latin-1", "replace"))
        self.win.change_property(self.desk.atom("_NET_WM_NAME"), self.desk.atom("UTF8_STRING"), 8, title.encode())
        self.desk.xd.sync()

    def set_icon(self, *sizes):
        data = []
        for w, h, argb in sizes:
            data += [w, h] + [argb] * (w * h)
        self.win.change_property(self.desk.atom("_NET_WM_ICON"), Xatom.CARDINAL, 32, data)
        self.desk.xd.sync()

    def configure(self, **kw):
        self.win.configure(**kw)
        self.desk.xd.sync()

    def destroy(self):
        self.win.destroy()
        self.desk.xd.sync()

    def unmap(self):
        self.win.unmap()
        self.desk.xd.sync()


class Model:
    """The windows as the peer knows them from the helper's messages."""

    def __init__(self, peer):
        self.peer = peer
        self.windows, self.stack, self.icons = {}, [], {}
        self.resets = 0
        self.other = []  # messages of other channels, in order

    def apply(self, name, f):
        if name == "windows-reset":
            self.windows, self.stack, self.icons = {}, [], {}
            self.resets += 1
        elif name == "window-update":
            self.windows[f["id"]] = f
        elif name == "window-remove":
            self.windows.pop(f["id"], None)
            self.icons.pop(f["id"], None)
        elif name == "window-stack":
            ids = f["ids"]
            self.stack = [struct.unpack_from("<I", ids, i)[0] for i in range(0, len(ids), 4)]
        elif name == "window-icon":
            self.icons[f["id"]] = (f["width"], f["height"], f["argb"])
        else:
            self.other.append((name, f))

    def wait(self, pred, timeout=60.0, what="the windows to match"):
        deadline = time.monotonic() + timeout
        while True:
            self.peer.poll(0.05)
            if pred(self):
                return
            if self.peer.closed:
                raise AssertionError(f"helper closed the connection waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: windows {self.describe()}, stack "
                                     f"{[hex(i) for i in self.stack]}")

    def describe(self):
        return {hex(i): (f["title"], f["x"], f["y"], f["width"], f["height"], f["state"]) for i, f in self.windows.items()}

    def has(self, wid, **want):
        f = self.windows.get(wid)
        if f is None:
            return False
        for k, v in want.items():
            if k == "state_set":
                if f["state"] & v != v:
                    return False
            elif k == "state_clear":
                if f["state"] & v:
                    return False
            elif f[k] != v:
                return False
        return True


class Desktop:
    """Xvfb (size WxH), optionally openbox, and the helper connected to a Peer."""

    def __init__(self, wm=True, size=(1920, 1200), helper=True, log_level="debug"):
        self.wm, self.size, self.helper_wanted, self.log_level = wm, size, helper, log_level
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="tandem-x11-")
        self.xvfb = self.wmproc = self.helper = self.peer = None

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _spawn(self, args, log, **kw):
        f = open(os.path.join(self.tmp, log), "ab")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=self.env, **kw)
        self.procs.append(p)
        return p

    def _start(self):
        r, w = os.pipe()
        self.env = dict(os.environ, HOME=self.tmp)
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{self.size[0]}x{self.size[1]}x24",
                                      "-nolisten", "tcp", "-noreset"], pass_fds=[w],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "xvfb.log"), "wb"))
        self.procs.append(self.xvfb)
        os.close(w)
        num = b""
        deadline = time.monotonic() + 30
        while not num.endswith(b"\n"):
            if time.monotonic() > deadline:
                raise AssertionError("Xvfb did not start")
            c = os.read(r, 1)
            if not c:
                raise AssertionError("Xvfb exited: " + open(os.path.join(self.tmp, "xvfb.log")).read())
            num += c
        os.close(r)
        self.display = ":" + num.decode().strip()
        self.env["DISPLAY"] = self.display
        self.xd = display.Display(self.display)
        self.root = self.xd.screen().root
        if self.wm:
            self.start_wm()
        if self.helper_wanted:
            self.start_helper()

    def start_wm(self):
        self.wmproc = self._spawn(["openbox", "--sm-disable"], "openbox.log")
        check = self.atom("_NET_SUPPORTING_WM_CHECK")
        deadline = time.monotonic() + 20
        while self.root.get_full_property(check, Xatom.WINDOW) is None:
            if time.monotonic() > deadline:
                raise AssertionError("openbox did not start: " + self.log("openbox.log"))
            time.sleep(0.05)

    def stop_wm(self):
        self.wmproc.terminate()
        self.wmproc.wait(10)

    def start_helper(self, extra=()):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        exe = os.path.join(build_dir(), "guestd", "tandem-guestd-session")
        self.helper = self._spawn([exe, "--fd", str(b.fileno()), "--display", self.display, "--log-level",
                                   self.log_level, *extra], "helper.log", pass_fds=[b.fileno()])
        b.close()
        self.peer = Peer(a)
        self.model = Model(self.peer)
        self.peer.sink = self.model.apply

    def atom(self, name):
        return self.xd.intern_atom(name)

    def window(self, title, **kw):
        return Window(self, title, **kw)

    def frame_geometry(self, wid):
        """The window's geometry in root coordinates with its frame, as X itself says."""
        w = self.xd.create_resource_object("window", wid)
        g = w.get_geometry()
        t = self.root.translate_coords(w, 0, 0)
        ext = w.get_full_property(self.atom("_NET_FRAME_EXTENTS"), Xatom.CARDINAL)
        l, r, top, bot = list(ext.value) if ext else (0, 0, 0, 0)
        return (t.x - l, t.y - top, g.width + l + r, g.height + top + bot)

    def pump_x(self):
        """Handles the test client's events: WM_DELETE_WINDOW closes the window asked."""
        while self.xd.pending_events():
            ev = self.xd.next_event()
            if ev.type == X.ClientMessage and ev.client_type == self.atom("WM_PROTOCOLS"):
                if ev.data[1][0] == self.atom("WM_DELETE_WINDOW"):
                    ev.window.destroy()
                    self.xd.sync()

    def log(self, name):
        try:
            return open(os.path.join(self.tmp, name), errors="replace").read()[-6000:]
        except OSError:
            return ""

    def run(self, *args, input=None, timeout=30, check=True):
        return subprocess.run(list(args), input=input, env=self.env, capture_output=True, timeout=timeout,
                              check=check)

    def copy(self, data=None, path=None, target=None):
        """xclip takes the CLIPBOARD with data (it forks to serve it, so no pipes are kept)."""
        args = ["xclip", "-selection", "clipboard", "-i"] + (["-t", target] if target else []) + ([path] if path else [])
        subprocess.run(args, input=data, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30, check=True)

    def barrier(self):
        """Returns once the helper has handled everything sent before: a resize to the current size
        is answered in order."""
        self.barrier_serial = getattr(self, "barrier_serial", 0x70000000) + 1
        g = self.root.get_geometry()
        self.peer.send("resize-request", serial=self.barrier_serial, width=g.width, height=g.height)
        self.peer.wait_name("resize-done", serial=self.barrier_serial)

    def wait_helper_owns(self, timeout=20):
        """Until the helper's window owns CLIPBOARD (after a grab from the peer)."""
        deadline = time.monotonic() + timeout
        while True:
            owner = self.xd.get_selection_owner(self.atom("CLIPBOARD"))
            if owner and owner != X.NONE:
                name = owner.get_wm_name()
                if name == "tandem-guestd-session":
                    return
            if time.monotonic() > deadline:
                raise AssertionError("the helper does not own CLIPBOARD")
            time.sleep(0.02)

    def alive(self):
        return self.helper.poll() is None

    def __exit__(self, *exc):
        if exc[0] is not None and self.helper_wanted:
            sys.stderr.write("--- helper log ---\n" + self.log("helper.log") + "\n")
            if self.helper and self.helper.poll() is None and shutil.which("gdb"):
                # Where a silent helper is: the one thing a timeout cannot say.
                bt = subprocess.run(["gdb", "-p", str(self.helper.pid), "-batch", "-ex", "bt"], capture_output=True,
                                    text=True, timeout=60)
                sys.stderr.write("--- helper stack ---\n" + bt.stdout[-4000:] + "\n")
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False
