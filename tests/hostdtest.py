"""Runs a real tandem-hostd for integration tests and talks to its control socket
(schema/hostd-control.md): status, framebuffer dumps, key injection and the event stream."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

# QEMU keycodes (PC XT scancodes) for typing ASCII on a US layout.
_ROWS = [
    (0x02, "1234567890-="), (0x10, "qwertyuiop[]"), (0x1E, "asdfghjkl;'`"), (0x2B, "\\zxcvbnm,./"),
]
_SHIFTED = {'!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9',
            ')': '0', '_': '-', '+': '=', '{': '[', '}': ']', ':': ';', '"': "'", '~': '`', '|': '\\',
            '<': ',', '>': '.', '?': '/'}
KEYCODES = {' ': 0x39, '\n': 0x1C, '\t': 0x0F}
for start, chars in _ROWS:
    for i, ch in enumerate(chars):
        KEYCODES[ch] = start + i
SHIFT = 0x2A


def keystrokes(text):
    """(keycode, shifted) for each character of text."""
    out = []
    for ch in text:
        if ch.isupper():
            out.append((KEYCODES[ch.lower()], True))
        elif ch in _SHIFTED:
            out.append((KEYCODES[_SHIFTED[ch]], True))
        else:
            out.append((KEYCODES[ch], False))
    return out


class ControlError(Exception):
    pass


class Control:
    """One connection to hostd's control socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def readline(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ControlError("control socket closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def request(self, line):
        self.sock.sendall(line.encode() + b"\n")
        reply = self.readline()
        if not reply.startswith("OK"):
            raise ControlError(f"{line!r}: {reply}")
        return reply[3:]


class Events:
    """A `watch` connection: waits for event lines matching a predicate, keeping the history."""

    def __init__(self, path):
        self.control = Control(path)
        self.control.request("watch")
        self.seen = []

    def wait(self, predicate, timeout=120, what="event"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout}s; saw {self.seen[-20:]}")
            try:
                line = self.control.readline(timeout=left)
            except socket.timeout:
                continue
            words = line.split()
            self.seen.append(words)
            if predicate(words):
                return words

    def wait_kind(self, kind, domain, timeout=120):
        return self.wait(lambda w: len(w) > 1 and w[0] == kind and w[1] == domain, timeout, f"{kind} {domain}")

    def close(self):
        self.control.close()


class Hostd:
    """A tandem-hostd process with its own state directory and config."""

    def __init__(self, domains, uri="qemu:///system", extra=""):
        self.dir = tempfile.mkdtemp(prefix="tandem-hostd-")
        self.socket = os.path.join(self.dir, "control.sock")
        self.config = os.path.join(self.dir, "hostd.conf")
        self.log_path = os.path.join(self.dir, "hostd.log")
        with open(self.config, "w") as f:
            f.write(f"[Hostd]\nURI={uri}\nStateDirectory={self.dir}\nDomains={domains}\n"
                    f"ThumbnailInterval=1\nScreenshotInterval=1\nReconnectMaxSeconds=2\nLogLevel=debug\n{extra}")
        self.proc = None

    @staticmethod
    def binary():
        return os.path.join(os.environ["TANDEM_BUILD_DIR"], "hostd", "tandem-hostd")

    def start(self):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        env = dict(os.environ, TANDEM_LOG_STDERR="1")
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary(), "--config", self.config], stderr=log, env=env)
        log.close()
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None:
                raise RuntimeError(f"hostd exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError("hostd did not create its control socket")
            time.sleep(0.05)
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else 0
        self.proc = None
        return code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def control(self):
        return Control(self.socket)

    def events(self):
        return Events(self.socket)

    def status(self):
        c = self.control()
        try:
            return json.loads(c.request("status"))
        finally:
            c.close()

    def domain(self, name):
        for d in self.status()["domains"]:
            if d["name"] == name:
                return d
        return None

    def wait_status(self, predicate, timeout=120, what="status"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.status()
            if predicate(s):
                return s
            time.sleep(0.2)
        raise TimeoutError(f"{what} not reached within {timeout}s: {self.status()}")

    def dump(self, domain, console=0):
        path = os.path.join(self.dir, f"dump-{domain}-{console}.ppm")
        c = self.control()
        try:
            c.request(f"dump {domain} {console} {path}")
        finally:
            c.close()
        with open(path, "rb") as f:
            return f.read()

    def type_text(self, domain, text, console=0):
        c = self.control()
        try:
            for code, shifted in keystrokes(text):
                if shifted:
                    c.request(f"key {domain} {console} press {SHIFT}")
                c.request(f"key {domain} {console} press {code}")
                c.request(f"key {domain} {console} release {code}")
                if shifted:
                    c.request(f"key {domain} {console} release {SHIFT}")
                # The guest's keyboard buffer is small; let TCG catch up between keys.
                time.sleep(0.03)
        finally:
            c.close()

    def cleanup(self):
        self.stop()


def context(hostd):
    """`with context(Hostd(...).start()) as h:` stops hostd and removes its directory on exit."""
    import contextlib

    @contextlib.contextmanager
    def run():
        try:
            yield hostd
        finally:
            hostd.stop()
            if os.environ.get("TANDEM_KEEP_LOGS"):
                print(f"hostd directory kept: {hostd.dir}")
            else:
                print("---- hostd log (tail) ----\n" + "\n".join(hostd.log().splitlines()[-40:]))
    return run()


def wait_console(hostd, domain, predicate=lambda c: c["frames"] > 0, timeout=120):
    """Waits until console 0 of domain exists and satisfies predicate; returns it."""
    def ok(status):
        for d in status["domains"]:
            if d["name"] == domain and d["consoles"] and predicate(d["consoles"][0]):
                return True
        return False
    hostd.wait_status(ok, timeout, f"console of {domain}")
    return hostd.domain(domain)["consoles"][0]


def framebuffer_matches_screenshot(hostd, dom, attempts=30):
    """Compares hostd's framebuffer with libvirt's screenshot, pixel for pixel.

    The guest's screen may change between the two (a blinking text cursor does): the pair is
    taken between two dumps that agree, and retried until hostd's pixels equal the screenshot's.
    Returns the number of attempts; raises AssertionError with the last difference."""
    import tandemtest as tt
    why = "no attempt"
    for attempt in range(1, attempts + 1):
        before = tt.read_ppm(hostd.dump(dom.name))
        shot = dom.screenshot()
        after = tt.read_ppm(hostd.dump(dom.name))
        if before == shot or after == shot:
            return attempt
        if (before.width, before.height) != (shot.width, shot.height):
            why = f"size {before.width}x{before.height} != screenshot {shot.width}x{shot.height}"
        else:
            diff = sum(1 for i in range(0, len(shot.data), 3) if shot.data[i:i + 3] != after.data[i:i + 3])
            why = f"{diff} of {shot.width * shot.height} pixels differ"
        time.sleep(0.4)
    raise AssertionError(f"framebuffer never matched the screenshot: {why}")


def qemu_pid(domain):
    with open(f"/run/libvirt/qemu/{domain}.pid") as f:
        return int(f.read().strip())


def wait_file(path, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.1)


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout}s")
        time.sleep(0.1)
