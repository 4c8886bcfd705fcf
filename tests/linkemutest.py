"""The link emulator for tests and benchmarks (Python 3 standard library only).

    import linkemutest as le
    le.require()                              # exit 77 (skipped): not root, no netns or TUN
    with le.LinkEmu(exe, profile="wan1", seed=1) as link:
        link.run("a", ["ping", "-c", "3", link.addr_b])     # inside namespace NAME-a
        link.ctl("set dir=a2b loss=5%")                     # the control language
        link.ctl("cut"); link.ctl("restore")
        print(link.stats()["a2b"]["dropped_packets"]["loss"])

On exit (also after an exception or SIGTERM) the forwarder is stopped and both namespaces are
removed. exe is build/tools/tandem-linkemu.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip_reason():
    """Why the emulator cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not shutil.which("ip"):
        return "no ip (iproute2)"
    if not os.path.isdir("/proc/self/ns") or not os.path.exists("/proc/self/ns/net"):
        return "no network namespaces"
    return None


def require():
    reason = skip_reason()
    if reason:
        print(f"skip: {reason}")
        sys.exit(SKIP)


def _sigterm(signo, frame):
    # meson's timeout sends SIGTERM: unwind so every `with` cleans up
    raise SystemExit(f"signal {signo}")


class SetupFailed(Exception):
    pass


class LinkEmu:
    def __init__(self, exe, name=None, profile=None, seed=1, settings=(), subnet=None, realtime=False):
        self.exe = exe
        self.name = name or f"tle{os.getpid()}"
        self.ns = {"a": f"{self.name}-a", "b": f"{self.name}-b"}
        self.profile, self.seed, self.settings, self.subnet = profile, seed, settings, subnet
        base = (subnet or "10.77.0.0/24").split("/")[0].rsplit(".", 1)[0]
        self.addr_a, self.addr_b = f"{base}.1", f"{base}.2"
        self.realtime = realtime  # benchmarks: the forwarder in SCHED_FIFO (see tandem-linkemu run --help)
        self.proc = None
        self.dir = None
        self.made = False

    def __enter__(self):
        signal.signal(signal.SIGTERM, _sigterm)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _start(self):
        p = subprocess.run([self.exe, "setup", self.name], capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupFailed(p.stderr.strip())
        self.made = True
        self.dir = tempfile.mkdtemp(prefix="tandem-linkemu-")
        self.sock = os.path.join(self.dir, "control")
        args = [self.exe, "run", self.name, "--seed", str(self.seed), "--control", self.sock]
        if self.profile:
            args += ["--profile", self.profile]
        if self.subnet:
            args += ["--subnet", self.subnet]
        for s in self.settings:
            args += ["--set", s]
        if self.realtime:
            args.append("--realtime")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.wait(timeout=10)
            self.log.seek(0)
            raise SetupFailed(f"forwarder did not start: {self.log.read().strip()}")

    def close(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.log.close()
            self.proc = None
        if self.made:
            subprocess.run([self.exe, "teardown", self.name], capture_output=True)
            self.made = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # --- control ----------------------------------------------------------------------------

    def ctl(self, line, check=True):
        """Sends one command; returns the reply line (raises on an error reply unless check=False)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        reply = buf.decode().strip()
        if check and reply.startswith("error:"):
            raise RuntimeError(f"{line!r}: {reply}")
        return reply

    def stats(self):
        return json.loads(self.ctl("stats"))

    def params(self):
        return json.loads(self.ctl("show"))

    # --- inside the namespaces ----------------------------------------------------------------

    def argv(self, side, args):
        return ["ip", "netns", "exec", self.ns[side], *args]

    def run(self, side, args, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.argv(side, args), **kw)

    def popen(self, side, args, **kw):
        return subprocess.Popen(self.argv(side, args), **kw)

    def python(self, side, code, *args, **kw):
        """Runs a Python snippet in a namespace (Popen, stdout piped as text)."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("text", True)
        return self.popen(side, [sys.executable, "-c", code, *map(str, args)], **kw)


def wait_line(proc, want, timeout=10):
    """Reads proc's stdout until a line equal to want (a helper started and bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"helper exited before printing {want!r}")
        if line.strip() == want:
            return
    raise RuntimeError(f"no {want!r} within {timeout} s")
