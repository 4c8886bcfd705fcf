#!/usr/bin/python3
"""Bytes on the wire for the demo desktop's boot, from power-on to a still login prompt:
tandem-viewer through tandem-hostd against TigerVNC's viewer on QEMU's own VNC server.

Every client connects, through a counting TCP relay in this program, while its domain is still
paused after `virsh start --paused'; then the domain is resumed and the bytes each way are counted
at the TCP level (so TLS's overhead is in Tandem's figures). The same stopping rule holds for every
client:

  1. `login:' appears in the guest's serial log (the getty on ttyS0; busybox init starts the one
     on tty1, the screen, alongside): the boot duration is `virsh resume' -> this;
  2. --after-login seconds later (default 1) the domain is paused with `virsh suspend': the screen
     is then still (the VGA text cursor blinks on the guest's virtual clock, which stops);
  3. counting ends once no byte has crossed the relay either way for --quiet seconds (default 2);
     everything from the TCP connect up to then is counted, the handshakes included. Tandem's
     keepalives do not count as bytes crossing here (they are counted in the totals): a
     resumable session's hostd pings a viewer silent for 1 s and the viewer answers, whatever
     the screen does; TLS records of at most KEEPALIVE_RECORD_MAX bytes (a ping, a pong, a
     session-ack or a frame-ack, alone or two together) are taken for those.

Then the client's final picture is compared with `virsh screenshot' of the paused domain, pixel
for pixel: tandem-viewer's through its last.ppm (written when it is stopped), TigerVNC's through
`xwd' of its window under Xvfb (a mismatch keeps both pictures in /tmp/bench-wire-bytes-PID/).
Last, another client of the same kind connects to the still login screen and its bytes are
counted (until --quiet seconds without one): the cost of one full picture, which compares the
encodings without the boot's frame rates.

--by-type makes tandem-viewer log every message it receives (--wire-log) and prints, for each
tandem run, the bytes by message type (tiles by codec) in each phase: before `virsh resume' (the
paused screen), the boot (to `login:'), login to `virsh suspend', and after it (the still screen,
where only an exact refinement may go). Sizes there are the wire protocol's, without TLS.

--rtt-ms makes the relay hold every chunk for half that long each way (latency only: no
bandwidth limit, no loss).

With --same-boot every client watches the same boot, of one domain with both D-Bus and VNC
graphics (TigerVNC then runs -Shared): the boot's own variation (how long it takes, how many
screen states it goes through) is then the same for all of them. It is not neutral for VNC:
with a D-Bus display in the domain (even with no listener) QEMU refreshes the screen every 30 ms
and its VNC server sends more updates and bytes (measured on this image: ZRLE 338 KB -> 466 KB,
35 -> 47 updates, medians of 4 boots) than with VNC alone, whose refresh backs off while
nothing changes. The default, one boot per client, is the fair comparison.

Clients and settings (--configs, comma-separated; default all):
  tandem            headless tandem-viewer, default settings (lossy tiles allowed, refined to
                    lossless once the screen is still)
  tandem-lossless   tandem-viewer --lossless
  vnc               xtigervncviewer, default settings (AutoSelect: Tight, JPEG allowed)
  vnc-tight-nojpeg  xtigervncviewer -AutoSelect=0 -PreferredEncoding Tight -NoJPEG -FullColor
  vnc-zrle          xtigervncviewer -AutoSelect=0 -PreferredEncoding ZRLE -FullColor

Needs: ./tandem image, ./tandem libvirt-up, a build (TANDEM_BUILD_DIR, default build-rel/ when it
has been built, else build/), Debian's xvfb, tigervnc-viewer, xdotool and x11-apps (xwd).
It prints figures and asserts nothing about time."""

import argparse
import contextlib
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import benchenv  # noqa: E402,F401  (tests/ on the path, build and image directories)

import hostdtest as ht  # noqa: E402
import tandemtest as tt  # noqa: E402
import viewertest as vt  # noqa: E402
from countrelay import CountingRelay  # noqa: E402
from processes import Processes  # noqa: E402

TLS_RECORD_OVERHEAD = 5 + 16 + 1  # TLS 1.3 AEAD record: header, tag, inner content type
# A record's length field (its body, without the 5-byte header) at most this: keepalives only.
# Ping and pong are 8 + 16 bytes on the wire, session-ack 8 + 8, frame-ack 8 + 4; the body adds
# the tag and the content type (17). The smallest display frame (one solid tile and its
# frame-end, one record) is larger.
KEEPALIVE_RECORD_MAX = 2 * (8 + 16) + 17

CONFIGS = {
    "tandem": ("tandem-viewer", "defaults", []),
    "tandem-lossless": ("tandem-viewer", "--lossless", ["--lossless"]),
    "vnc": ("TigerVNC 1.12", "defaults", []),
    "vnc-tight-nojpeg": ("TigerVNC 1.12", "Tight -NoJPEG",
                         ["-AutoSelect=0", "-PreferredEncoding", "Tight", "-NoJPEG", "-FullColor"]),
    "vnc-zrle": ("TigerVNC 1.12", "ZRLE", ["-AutoSelect=0", "-PreferredEncoding", "ZRLE", "-FullColor"]),
}


class Settings:
    def __init__(self, args):
        self.after_login = args.after_login
        self.quiet = args.quiet
        self.quiet_max = args.quiet_max
        self.boot_timeout = args.boot_timeout
        self.viewers_conf = args.viewers_conf
        self.rtt = args.rtt_ms / 1000
        self.same_boot = args.same_boot
        self.by_type = args.by_type


class Result:
    def __init__(self, config):
        self.config = config
        self.down = self.up = 0
        self.down_before = 0    # bytes to the client before `virsh resume'
        self.boot = None        # resume -> `login:' in the serial log (s)
        self.last_down = None   # resume -> last byte to the client (s)
        self.quiet_reached = True
        self.exact = None       # True, False or None (not checked)
        self.why = ""
        self.note = ""
        self.updates = None     # tandem: hostd's frames_sent; VNC: the client's update requests
        self.encoding = ""      # VNC: the encoding the client asked for
        self.records = None     # tandem: TLS records (to the client, from it)
        self.again = None       # bytes to a client that connects to the still screen afterwards
        self.qemu_updates = None  # tandem: display updates hostd took from QEMU (from the domain's start)
        self.phases = None      # --by-type: monotonic times where the phases start (resume, login, suspend)
        self.by_type = None     # --by-type: {(phase, what): [messages, bytes]}


# --- processes ----------------------------------------------------------------------------

def wait_quiet(relays, since, quiet, most):
    """Waits until no byte has crossed any of RELAYS for QUIET seconds (counted from SINCE at the
    earliest); returns True, or False after MOST seconds without such a pause."""
    deadline = since + most
    while True:
        now = time.monotonic()
        last = max([since] + [t for t in (r.last_activity(keepalives=False) for r in relays) if t is not None])
        if now - last >= quiet:
            return True
        if now > deadline:
            return False
        time.sleep(min(0.1, quiet / 4))


def boot_and_still(dom, clients, settings):
    """Resumes DOM, applies the stopping rule and fills each client's result from its relay.
    The clients are connected (through their relays) already."""
    relays = [c.relay for c in clients]
    wait_quiet(relays, time.monotonic(), 0.5, 10)  # the paused screen's first picture is in
    for c in clients:
        c.result.down_before = sum(x.down for x in c.relay.snapshot())
    t0 = time.monotonic()
    dom.resume()
    dom.wait_serial("login:", timeout=settings.boot_timeout)
    t_login = time.monotonic()
    boot = t_login - t0
    time.sleep(settings.after_login)
    tt.virsh("suspend", dom.name)
    t_suspend = time.monotonic()
    for c in clients:
        c.result.phases = (t0, t_login, t_suspend)
    quiet = wait_quiet(relays, time.monotonic(), settings.quiet, settings.quiet_max)
    for c in clients:
        result, conns = c.result, c.relay.snapshot()
        result.boot, result.quiet_reached = boot, quiet
        if len(conns) != 1:
            result.note += f" ({len(conns)} connections)"
        result.down = sum(x.down for x in conns)
        result.up = sum(x.up for x in conns)
        if c.relay.tls:
            result.records = (sum(x.records["down"] for x in conns), sum(x.records["up"] for x in conns))
        lasts = [x.last_down for x in conns if x.last_down is not None]
        result.last_down = max(lasts) - t0 if lasts else None


def compare(seen, shot, keep_as=None):
    """(equal, why). When they differ and KEEP_AS is given, both pictures are kept as
    KEEP_AS-client.png and KEEP_AS-screenshot.png in a directory that outlives the run."""
    if seen.data == shot.data and (seen.width, seen.height) == (shot.width, shot.height):
        return True, ""
    if (seen.width, seen.height) != (shot.width, shot.height):
        why = f"size {seen.width}x{seen.height}, screenshot {shot.width}x{shot.height}"
    else:
        diff = sum(1 for i in range(0, len(shot.data), 3) if shot.data[i:i + 3] != seen.data[i:i + 3])
        why = f"{diff} of {shot.width * shot.height} pixels differ"
    if keep_as:
        kept = os.path.join(tempfile.gettempdir(), f"bench-wire-bytes-{os.getpid()}")
        os.makedirs(kept, exist_ok=True)
        tt.write_png(os.path.join(kept, f"{keep_as}-client.png"), seen)
        tt.write_png(os.path.join(kept, f"{keep_as}-screenshot.png"), shot)
        why += f", kept in {kept}/{keep_as}-*.png"
    return False, why


# --- Tandem -------------------------------------------------------------------------------

class TandemHostd:
    """A hostd with its viewer listener, watching DOM, for the run's tandem clients."""

    def __init__(self, dom, keys, settings, stack):
        self.keys = keys
        self.hostd = vt.ViewerHostd(dom.name, keys, extra="LogLevel=info\n")
        stack.callback(shutil.rmtree, self.hostd.dir, True)
        with open(self.hostd.config, "a") as f:  # the [Viewers] section is the file's last
            f.write("".join(line + "\n" for line in settings.viewers_conf))
        self.hostd.start()
        stack.callback(self.hostd.stop)
        self.events = self.hostd.events()
        stack.callback(self.events.close)

    def attached(self, dom):
        self.events.wait_kind("frame", dom.name)
        ht.wait_file(self.hostd.cert)


class TandemClient:
    def __init__(self, config, dom, host, settings, procs, stack, name=None):
        self.config, self.dom, self.host, self.procs = config, dom, host, procs
        self.name = name or config  # the ticket's user: hostd's status and events tell viewers apart by it
        self.result = Result(config)
        self.relay = CountingRelay(("127.0.0.1", host.hostd.port), tls=True, delay=settings.rtt / 2,
                                   keepalive_max=KEEPALIVE_RECORD_MAX)
        stack.callback(self.relay.close)
        # The ticket names the relay as the host; it still pins hostd's certificate.
        ticket = host.keys.mint(dom.name, self.relay.address, cert=host.hostd.cert, user=self.name)
        self.out = os.path.join(dom.dir, self.name)
        self.wire_log = os.path.join(dom.dir, self.name + ".wire") if settings.by_type else None
        self.viewer = procs.add(vt.viewer(ticket, None, out=self.out, timeout=600,
                                          args=["--format", "ppm", "--filmstrip-interval", "3600000",
                                                *(["--wire-log", self.wire_log] if self.wire_log else []),
                                                *CONFIGS[config][2]]))
        stack.callback(procs.stop, self.viewer)
        host.events.wait(lambda w: w[:3] == ["viewer", dom.name, self.name], timeout=30, what=f"viewer {self.name}")
        self.settings, self.stack = settings, stack

    def again(self):
        """A second client like this one, connecting now."""
        return TandemClient(self.config, self.dom, self.host, self.settings, self.procs, self.stack,
                            name=self.name + "-again")

    def stop(self):
        self.procs.stop(self.viewer)

    def counted(self):
        """Right after the count: what hostd says it sent."""
        status = self.host.hostd.status()
        self.result.updates = sum(v["frames_sent"] for v in status["viewers"] if v["user"] == self.name)
        self.result.qemu_updates = sum(c["frames"] for d in status["domains"] if d["name"] == self.dom.name
                                       for c in d["consoles"])

    def finish(self, shot):
        result = self.result
        self.procs.stop(self.viewer)  # SIGTERM: it writes last.ppm
        last = os.path.join(self.out, "last.ppm")
        if not os.path.exists(last):
            _, log = self.viewer.communicate()
            result.why = "the viewer wrote no last.ppm"
            result.note += " " + (log or "").strip().replace("\n", " | ")[:200]
            return
        if self.wire_log and os.path.exists(self.wire_log):
            result.by_type = read_wire_log(self.wire_log, result.phases)
            kept = os.path.join(tempfile.gettempdir(), f"bench-wire-bytes-{os.getpid()}")
            os.makedirs(kept, exist_ok=True)
            kept = os.path.join(kept, f"{self.dom.name}-{os.path.basename(self.wire_log)}")
            shutil.copy(self.wire_log, kept)
            result.note += f" wire log kept in {kept}"
        result.exact, result.why = compare(tt.read_ppm(last), shot, f"{self.dom.name}-{self.config}")
        if not result.exact:
            same, _ = compare(tt.read_ppm(self.host.hostd.dump(self.dom.name)), shot)
            result.why += "; hostd's framebuffer " + ("equals" if same else "differs from") + " the screenshot"


PHASES = ("paused", "boot", "login", "still")
CODECS = {1: "solid", 2: "lossless", 3: "jpeg"}


def read_wire_log(path, phases):
    """tandem-viewer's --wire-log, summed: {(phase, what): [messages, bytes, pixels, pixels that
    were on screen already, tiles that changed no pixel, their bytes]}, what being the message
    type, tiles as tile/CODEC."""
    out = {}
    slot = None
    last = (0, 0)  # the last tile's pixels and bytes
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields[0] == "same":
                if slot is not None:
                    slot[3] += int(fields[1])
                    if int(fields[1]) == last[0]:
                        slot[4] += 1
                        slot[5] += last[1]
                continue
            t, kind, size = fields[:3]
            phase = PHASES[sum(1 for p in phases if float(t) >= p)]
            what = kind
            pixels = 0
            if kind == "tile" and len(fields) >= 8:
                codec, _, _, w, h = (int(x) for x in fields[3:8])
                what = f"tile/{CODECS.get(codec, codec)}"
                pixels = w * h
            slot = out.setdefault((phase, what), [0] * 6)
            slot[0] += 1
            slot[1] += int(size)
            slot[2] += pixels
            last = (pixels, int(size))
    return out


def report_by_type(results):
    for r in results:
        if not r.by_type:
            continue
        print(f"{r.config}: messages received and their bytes on the wire (no TLS) by phase; paused: before resume, "
              "boot: to `login:', login: to `virsh suspend', still: after it")
        whats = sorted({w for _, w in r.by_type}, key=lambda w: -sum(r.by_type.get((p, w), [0] * 6)[1] for p in PHASES))
        print(f"  {'message':<16}" + "".join(f"{p:>20}" for p in PHASES) + f"{'total':>12}")
        for w in whats:
            cells = [r.by_type.get((p, w), [0] * 6) for p in PHASES]
            print(f"  {w:<16}" + "".join(f"{c[0]:>7} {fmt_bytes(c[1]):>11}  " for c in cells)
                  + f"{fmt_bytes(sum(c[1] for c in cells)):>12}")
        totals = [sum(c[1] for (p, _), c in r.by_type.items() if p == ph) for ph in PHASES]
        print(f"  {'all':<16}" + "".join(f"{'':>7} {fmt_bytes(b):>11}  " for b in totals) + f"{fmt_bytes(sum(totals)):>12}")
        tiles = [c for (_, w), c in r.by_type.items() if w.startswith("tile/")]
        pixels, same = sum(c[2] for c in tiles), sum(c[3] for c in tiles)
        if pixels:
            print(f"  tiles: {fmt_bytes(pixels)} pixels, of which {fmt_bytes(same)} ({100 * same / pixels:.0f}%) were on "
                  "the viewer's screen already;")
            print(f"  {sum(c[4] for c in tiles)} of {sum(c[0] for c in tiles)} tiles changed no pixel at all "
                  f"({fmt_bytes(sum(c[5] for c in tiles))} of {fmt_bytes(sum(c[1] for c in tiles))} bytes)")
        print()


# --- TigerVNC -----------------------------------------------------------------------------

class Xvfb:
    def __init__(self, procs):
        r, w = os.pipe()
        try:
            self.proc = procs.add(subprocess.Popen(
                ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
                pass_fds=[w], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            os.close(w)
            w = -1
            number = b""
            while not number.endswith(b"\n"):
                chunk = os.read(r, 64)
                if not chunk:
                    raise RuntimeError("Xvfb did not start")
                number += chunk
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        self.display = ":" + number.decode().strip()
        self.env = dict(os.environ, DISPLAY=self.display)


def read_xwd(path):
    """An xwd dump (ZPixmap, 32 bits a pixel, as Xvfb at depth 24 writes) as an RGB Image."""
    with open(path, "rb") as f:
        d = f.read()
    h = struct.unpack(">25I", d[:100])
    header_size, version, fmt, _, width, height = h[:6]
    byte_order, bpp, bpl, ncolors = h[7], h[11], h[12], h[19]
    if version != 7 or fmt != 2 or bpp != 32:
        raise ValueError(f"unsupported xwd dump: version {version}, format {fmt}, {bpp} bits a pixel")
    masks = h[14:17]
    shifts = [m.bit_length() - 8 for m in masks]
    off = header_size + ncolors * 12
    order = "<" if byte_order == 0 else ">"
    out = bytearray()
    for y in range(height):
        row = struct.unpack_from(f"{order}{width}I", d, off + y * bpl)
        for p in row:
            out += bytes(((p & masks[0]) >> shifts[0], (p & masks[1]) >> shifts[1], (p & masks[2]) >> shifts[2]))
    return tt.Image(width, height, bytes(out))


ENCODINGS = {0: "Raw", 1: "CopyRect", 2: "RRE", 5: "Hextile", 6: "Zlib", 7: "Tight", 16: "ZRLE", 17: "ZYWRLE"}


def rfb_client_messages(head):
    """Reads the client's side of an RFB 3.8 stream (security None): returns (the encodings it
    asked for last, as `Tight (JPEG quality 8)', the number of FramebufferUpdateRequests)."""
    pos = 12 + 1 + 1  # ProtocolVersion, the security type, ClientInit
    last, requests = None, 0
    lens = {0: lambda p: 20, 3: lambda p: 10, 4: lambda p: 8, 5: lambda p: 6, 150: lambda p: 10,
            2: lambda p: 4 + 4 * struct.unpack_from(">H", head, p + 2)[0],
            6: lambda p: 8 + abs(struct.unpack_from(">i", head, p + 4)[0]),
            248: lambda p: 9 + head[p + 8],
            251: lambda p: 8 + 16 * head[p + 6]}
    while pos + 10 <= len(head) and head[pos] in lens:
        kind = head[pos]
        n = lens[kind](pos)
        if pos + n > len(head):
            break
        if kind == 2:
            last = struct.unpack_from(f">{(n - 4) // 4}i", head, pos + 4)
        elif kind == 3:
            requests += 1
        pos += n
    if last is None:
        return "?", requests
    real = [ENCODINGS[e] for e in last if e in ENCODINGS]
    quality = [e + 32 for e in last if -32 <= e <= -23]
    first = real[0] if real else "?"
    if first == "Tight":
        first += f" (JPEG quality {quality[0]})" if quality else " (no JPEG)"
    return first, requests


def vnc_window(xvfb):
    """The id of TigerVNC's main window (its title ends in ` - TigerVNC')."""
    p = subprocess.run(["xdotool", "search", "--name", " - TigerVNC$"], env=xvfb.env, capture_output=True, text=True)
    ids = p.stdout.split()
    return ids[0] if ids else None


class VncClient:
    def __init__(self, config, dom, xvfb, settings, procs, stack, shared, name=None):
        self.config, self.dom, self.xvfb, self.procs = config, dom, xvfb, procs
        self.settings, self.stack, self.shared = settings, stack, shared
        self.name = name or config
        self.result = Result(config)
        display = tt.virsh("vncdisplay", dom.name).strip()  # 127.0.0.1:N
        port = 5900 + int(display.rsplit(":", 1)[1])
        self.relay = CountingRelay(("127.0.0.1", port), keep_up=65536, delay=settings.rtt / 2)
        stack.callback(self.relay.close)
        log_path = os.path.join(dom.dir, f"{self.name}.log")
        with open(log_path, "w") as log:
            self.viewer = procs.add(subprocess.Popen(
                ["xtigervncviewer", "-ReconnectOnError=0", "-AlertOnFatalError=0", *(["-Shared"] if shared else []),
                 *CONFIGS[config][2], f"127.0.0.1::{self.relay.port}"],
                env=xvfb.env, stdout=log, stderr=subprocess.STDOUT))
        stack.callback(procs.stop, self.viewer)
        self.dump = os.path.join(dom.dir, f"{self.name}.xwd")
        deadline = time.monotonic() + 30
        while not self.relay.snapshot() or self.relay.snapshot()[0].down < 100 or not vnc_window(xvfb):
            if self.viewer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"xtigervncviewer did not connect:\n{tt.tail(log_path)}")
            time.sleep(0.1)

    def counted(self):
        self.result.encoding, self.result.updates = rfb_client_messages(self.relay.snapshot()[0].up_head)

    def again(self):
        """A second client like this one, connecting now (this one is stopped: one window each)."""
        self.stop()
        return VncClient(self.config, self.dom, self.xvfb, self.settings, self.procs, self.stack, self.shared,
                         name=self.name + "-again")

    def stop(self):
        self.procs.stop(self.viewer)

    def finish(self, shot):
        result = self.result
        p = subprocess.run(["xwd", "-silent", "-id", vnc_window(self.xvfb), "-out", self.dump],
                           env=self.xvfb.env, capture_output=True, text=True)
        if p.returncode != 0:
            result.why = f"xwd failed: {p.stderr.strip()}"
            return
        result.exact, result.why = compare(read_xwd(self.dump), shot, f"{self.dom.name}-{self.config}")


# --- one boot -----------------------------------------------------------------------------

def run_boot(configs, run, settings, procs, keys, xvfbs, same_boot):
    """One boot watched by CONFIGS' clients (all of them on one domain with both kinds of
    graphics when SAME_BOOT, else one config); returns their Results."""
    tandem = [c for c in configs if c.startswith("tandem")]
    vnc = [c for c in configs if c.startswith("vnc")]
    graphics = " ".join(tt.GRAPHICS[g] for g, want in (("dbus", tandem), ("vnc", vnc)) if want)
    with contextlib.ExitStack() as stack:
        dom = stack.enter_context(tt.Domain(f"wire-{run}-{'all' if same_boot else configs[0]}", graphics=graphics))
        host = TandemHostd(dom, keys, settings, stack) if tandem else None
        dom.start(paused=True)
        if host:
            host.attached(dom)
        clients = [TandemClient(c, dom, host, settings, procs, stack) for c in tandem]
        for c in vnc:
            if c not in xvfbs:
                xvfbs[c] = Xvfb(procs)
            clients.append(VncClient(c, dom, xvfbs[c], settings, procs, stack, shared=same_boot))
        boot_and_still(dom, clients, settings)
        for c in clients:
            c.counted()
        shot = dom.screenshot("screenshot")
        for c in clients:
            c.finish(shot)
        # The still login screen once more, to a client that connects now: one full picture.
        for c in clients:
            again = c.again()
            wait_quiet([again.relay], time.monotonic(), settings.quiet, settings.quiet_max)
            c.result.again = sum(x.down for x in again.relay.snapshot())
            again.stop()
        return [c.result for c in clients]


# --- report -------------------------------------------------------------------------------

def fmt_bytes(n):
    return f"{n:,.0f}"


def report(results, configs, settings, runs):
    med = statistics.median
    print()
    print(f"Demo desktop boot (TCG), tandem against QEMU's VNC server; {runs} run(s) each, medians; "
          + ("every client on the same boot (one domain, D-Bus and VNC graphics: QEMU's VNC server then refreshes "
             "at the D-Bus display's pace, see --help)" if settings.same_boot
             else "one boot per client"))
    print(f"Stopping rule: `login:' in the serial log, {settings.after_login:g} s later `virsh suspend', then count "
          f"until {settings.quiet:g} s without a byte either way.")
    print("Bytes are TCP payload through the relay, from connect (guest paused) to the stop; handshakes included.")
    if settings.rtt:
        print(f"The relay adds {settings.rtt * 1000:g} ms to the round trip ({settings.rtt * 500:g} ms each way).")
    print()
    head = (f"{'client':<14} {'setting':<16} {'to client':>11} {'from client':>11} {'before resume':>13} "
            f"{'updates':>7} {'boot':>6} {'last byte':>9}  {'exact pixels':<12} {'still screen':>12}")
    print(head)
    print("-" * len(head))
    for config in configs:
        rs = [r for r in results if r.config == config]
        if not rs:
            continue
        client, setting, _ = CONFIGS[config]
        exact = sum(1 for r in rs if r.exact)
        lasts = [r.last_down for r in rs if r.last_down is not None]
        updates = [r.updates for r in rs if r.updates is not None]
        print(f"{client:<14} {setting:<16} {fmt_bytes(med(r.down for r in rs)):>11} "
              f"{fmt_bytes(med(r.up for r in rs)):>11} {fmt_bytes(med(r.down_before for r in rs)):>13} "
              f"{(fmt_bytes(med(updates)) if updates else '?'):>7} "
              f"{med(r.boot for r in rs):>5.2f}s {(med(lasts) if lasts else float('nan')):>8.2f}s  "
              f"{('yes' if exact == len(rs) else 'no') + f' ({exact}/{len(rs)})':<12} "
              f"{fmt_bytes(med(r.again for r in rs if r.again is not None)) if any(r.again for r in rs) else '?':>12}")
    print()
    print("boot: `virsh resume' -> `login:' in the serial log; last byte: `virsh resume' -> the last byte to the "
          "client;")
    print("updates: tandem: frames hostd sent the viewer (its status' frames_sent); VNC: FramebufferUpdateRequests "
          "the client sent")
    print("  (QEMU answers each with at most one update);")
    print("exact pixels: the client's final picture equals `virsh screenshot' of the paused domain;")
    print("still screen: bytes to another client of the same kind that connects afterwards to the still login "
          "screen (one full picture, handshake included).")
    recs = [r for r in results if r.records]
    if recs:
        down = med(r.records[0] for r in recs)
        up = med(r.records[1] for r in recs)
        print(f"tandem's TLS 1.3 records (median): {down:,.0f} to the client, {up:,.0f} from it; at {TLS_RECORD_OVERHEAD} B "
              f"each (header, AEAD tag, content type) that is {down * TLS_RECORD_OVERHEAD:,.0f} B and "
              f"{up * TLS_RECORD_OVERHEAD:,.0f} B of the counts.")
    print()
    print("Every run:")
    for r in results:
        flags = []
        if r.encoding:
            flags.append(f"client asked for {r.encoding}")
        if r.records:
            flags.append(f"TLS records {r.records[0]} to, {r.records[1]} from the client")
        if r.qemu_updates is not None:
            flags.append(f"hostd took {r.qemu_updates} updates from QEMU")
        if not r.quiet_reached:
            flags.append(f"never {settings.quiet:g} s quiet within {settings.quiet_max:g} s")
        if r.exact is False or r.why:
            flags.append(r.why)
        if r.note.strip():
            flags.append(r.note.strip())
        if r.again is not None:
            flags.append(f"still screen {fmt_bytes(r.again)} B")
        print(f"  {r.config:<17} {fmt_bytes(r.down):>9} B to, {fmt_bytes(r.up):>7} B from the client, "
              f"{r.updates if r.updates is not None else '?':>4} updates, boot {r.boot:.2f} s"
              + (f"  [{'; '.join(flags)}]" if flags else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="boots per client and setting (default 3)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated, from: " + ", ".join(CONFIGS) + " (default: all)")
    ap.add_argument("--after-login", type=float, default=1.0,
                    help="seconds from `login:' in the serial log to `virsh suspend' (default 1)")
    ap.add_argument("--quiet", type=float, default=2.0,
                    help="seconds without a byte that end the count (default 2)")
    ap.add_argument("--quiet-max", type=float, default=30.0,
                    help="give up waiting for a quiet connection after this many seconds (default 30)")
    ap.add_argument("--boot-timeout", type=float, default=180.0, help="seconds to wait for `login:' (default 180)")
    ap.add_argument("--same-boot", action="store_true",
                    help="watch one boot with every client at once (a domain with both D-Bus and VNC graphics, "
                         "VNC clients -Shared) instead of one boot per client")
    ap.add_argument("--rtt-ms", type=float, default=0,
                    help="the relay holds every chunk half this long each way: a round trip this much longer "
                         "than loopback's, no bandwidth limit, no loss (default 0)")
    ap.add_argument("--by-type", action="store_true",
                    help="tandem: bytes by message type, tile codec and phase (the viewer's --wire-log)")
    ap.add_argument("--viewers-conf", metavar="KEY=VALUE", action="append", default=[],
                    help="a setting for hostd's [Viewers] section (e.g. FramesInFlight=1); repeatable")
    args = ap.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config `{c}' (one of {', '.join(CONFIGS)})")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    tt.require_image()
    settings = Settings(args)
    build = os.environ["TANDEM_BUILD_DIR"]
    print(f"build: {os.path.relpath(build)}; image: {os.environ['TANDEM_IMAGE_DIR']}; domain type: {tt.domain_type()}"
          + (f"; hostd [Viewers] {' '.join(args.viewers_conf)}" if args.viewers_conf else ""))

    procs = Processes()
    results = []
    keys_dir = tempfile.mkdtemp(prefix="tandem-bench-keys-")
    try:
        keys = vt.Keys(keys_dir) if any(c.startswith("tandem") for c in configs) else None
        xvfbs = {}  # one X server per VNC client: each finds its window by title
        for run in range(args.runs):
            for group in ([configs] if args.same_boot else [[c] for c in configs]):
                for r in run_boot(group, run, settings, procs, keys, xvfbs, args.same_boot):
                    results.append(r)
                    print(f"run {run + 1}/{args.runs} {r.config}: {fmt_bytes(r.down)} bytes to the client, "
                          f"{fmt_bytes(r.up)} from it, boot {r.boot:.2f} s, exact pixels: "
                          f"{'yes' if r.exact else 'no'}{(' (' + r.why + ')') if r.why else ''}", flush=True)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        procs.close()
        shutil.rmtree(keys_dir, ignore_errors=True)
    report(results, configs, settings, args.runs)
    if settings.by_type:
        print()
        report_by_type(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
