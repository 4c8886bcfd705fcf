"""Helpers for tests that connect tandem-viewer to a real tandem-hostd: ticket keys and minting
through `tandem-ticket`, a hostd with its viewer listener, and headless viewer runs."""

import os
import socket
import subprocess
import tempfile

import hostdtest as ht
import tandemtest as tt

BUILD = os.environ.get("TANDEM_BUILD_DIR", "")
EXIT_OK, EXIT_USAGE, EXIT_REJECTED, EXIT_CONNECTION, EXIT_SCRIPT, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5


def tool(name):
    return os.path.join(BUILD, {"tandem-ticket": "tools", "tandem-viewer": "client"}[name], name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keys:
    """An Ed25519 key pair, as the broker would hold it."""

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="tandem-keys-")
        self.private = os.path.join(self.dir, "ticket-private.pem")
        self.public = os.path.join(self.dir, "ticket-public.pem")
        subprocess.run([tool("tandem-ticket"), "keygen", self.private, self.public], check=True)

    def mint(self, desktop, host, cert=None, user="alice", role="interactive", ttl=60, extra=()):
        args = [tool("tandem-ticket"), "mint", "--key", self.private, "--desktop", desktop, "--user", user,
                "--host", host, "--role", role, "--ttl", str(ttl), *extra]
        if cert:
            args += ["--cert", cert]
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


class ViewerHostd(ht.Hostd):
    """A hostd that also listens for viewers on a free loopback port."""

    def __init__(self, domains, keys, **kw):
        self.port = free_port()
        self.keys = keys
        super().__init__(domains, **kw)
        self.cert = os.path.join(self.dir, "hostd-cert.pem")
        with open(self.config, "a") as f:
            f.write(f"[Viewers]\nListen=127.0.0.1:{self.port}\nTicketPublicKey={keys.public}\n"
                    f"Certificate={self.cert}\nPrivateKey={os.path.join(self.dir, 'hostd-key.pem')}\n")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def ticket(self, desktop, **kw):
        ht.wait_file(self.cert)
        return self.keys.mint(desktop, self.address, cert=self.cert, **kw)


class NamespacedHostd(ViewerHostd):
    """A ViewerHostd inside one of tandem-linkemu's namespaces (side "a" or "b"), listening on
    that namespace's address. libvirt and the control socket are Unix sockets, which work across
    network namespaces. viewers_extra: more [Viewers] settings (e.g. "ResumeSeconds=5\n")."""

    def __init__(self, domains, keys, link, side="a", viewers_extra="", **kw):
        self.link, self.side = link, side
        super().__init__(domains, keys, **kw)
        with open(self.config) as f:
            text = f.read()
        text = text.replace(f"Listen=127.0.0.1:{self.port}", f"Listen={self.host}:{self.port}")
        with open(self.config, "w") as f:
            f.write(text + viewers_extra)
        self.wrapper = os.path.join(self.dir, "hostd-in-namespace")
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec ip netns exec {link.ns[side]} {ht.Hostd.binary()} \"$@\"\n")
        os.chmod(self.wrapper, 0o700)

    def binary(self):
        return self.wrapper

    @property
    def host(self):
        return self.link.addr_a if self.side == "a" else self.link.addr_b

    @property
    def address(self):
        return f"{self.host}:{self.port}"


def viewer(ticket, script=None, out=None, args=(), timeout=300):
    """Starts a headless tandem-viewer; returns (Popen, script path)."""
    cmd = [tool("tandem-viewer"), "--headless", "--timeout", str(timeout), *args]
    path = None
    if script is not None:
        fd, path = tempfile.mkstemp(prefix="viewer-script-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(script)
        cmd += ["--script", path]
    if out:
        cmd += ["--out", out]
    cmd.append(ticket)
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def assert_typed_once(dom, *texts):
    """Each text (a token echoed through tee) is on the guest's serial log exactly once: a lost
    key would break it, a doubled one would show it twice."""
    with open(dom.serial_log, errors="replace") as f:
        serial = f.read()
    for text in texts:
        n = serial.count(text)
        assert n == 1, f"{text!r} shows up {n} times on the serial log"


def assert_screen_is_hostds(shot, hostd, dom, token=None):
    """The viewer's saved screen (a PPM) equals hostd's framebuffer exactly, with token on it."""
    seen = tt.read_ppm(shot)
    assert seen == tt.read_ppm(hostd.dump(dom.name)), "the viewer's screen differs from hostd's"
    assert token is None or echoed_on_screen(seen, token), f"{token} is not on the viewer's screen"


CELL_W, CELL_H = 9, 16


def cells(img):
    """The VGA text screen as rows of cells, each cell its pixel bytes."""
    rows = []
    stride = img.width * 3
    for r in range(img.height // CELL_H):
        row = []
        for c in range(img.width // CELL_W):
            row.append(b"".join(img.data[(r * CELL_H + y) * stride + c * CELL_W * 3:
                                         (r * CELL_H + y) * stride + (c + 1) * CELL_W * 3]
                                for y in range(CELL_H)))
        rows.append(row)
    return rows


def echoed_on_screen(img, token):
    """Whether a row starts with the same glyphs that appear inside another row above it: the
    output of `echo TOKEN` below the command that typed it. No OCR needed."""
    grid = cells(img)
    n = len(token)
    for r2 in range(1, len(grid)):
        out = grid[r2][:n]
        if len(set(out)) < 3:
            continue  # blank or uniform: not text
        for r1 in range(r2):
            row = grid[r1]
            for o in range(len(row) - n + 1):
                if row[o:o + n] == out:
                    return True
    return False
