"""Helpers for Tandem's integration tests (Python 3 standard library only).

Guests are the demo desktop built by `./tandem image`, found through $TANDEM_IMAGE_DIR, and
driven with `virsh` on $TANDEM_LIBVIRT_URI (default qemu:///system):

    import tandemtest as tt
    tt.require_image()                       # exit 77 (meson: skipped) without an image
    with tt.Domain("boot") as dom:           # tandem-test-boot-<pid>, undefined on exit
        dom.start(paused=True)
        dom.resume()
        dom.wait_serial("login:", timeout=120)
        img = dom.screenshot()               # tt.Image(width, height, rgb bytes)
        assert not tt.is_blank(img)
"""

import atexit
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from typing import NamedTuple

SKIP = 77  # meson's exit code for a skipped test
URI = os.environ.get("TANDEM_LIBVIRT_URI", "qemu:///system")
AGENT_PORT_NAME = "org.tandem.agent.0"
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                        "demo-domain.xml.in")
GRAPHICS = {
    # <audio id='1'/>: the template's D-Bus audio backend on this display (the VM's sound).
    "dbus": "<graphics type='dbus' p2p='yes'><audio id='1'/></graphics>",
    "vnc": "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>",
}


class Image(NamedTuple):
    width: int
    height: int
    data: bytes  # packed RGB, 3 bytes a pixel, rows top to bottom


# --- image and environment ----------------------------------------------------------------

def image_dir():
    """The demo image directory from $TANDEM_IMAGE_DIR, or None when unset."""
    return os.environ.get("TANDEM_IMAGE_DIR") or None


def require_image():
    """Exit with 77 (skipped) unless $TANDEM_IMAGE_DIR holds a demo image."""
    d = image_dir()
    if not d:
        print("skip: TANDEM_IMAGE_DIR is not set (run ./tandem test, or ./tandem image)")
        sys.exit(SKIP)
    for f in ("vmlinuz", "initrd.img", "cmdline"):
        if not os.path.isfile(os.path.join(d, f)):
            print(f"skip: {d}/{f} missing (run ./tandem image)")
            sys.exit(SKIP)
    return d


def unique_name(test):
    """A domain name no other test run uses at the same time."""
    return f"tandem-test-{test}-{os.getpid()}"


def _xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;").replace('"', "&quot;"))


def domain_type(images=None):
    """`kvm' when scripts/kvm-probe.sh saw a KVM guest boot here, else `qemu' (TCG)."""
    try:
        with open(os.path.join(images or image_dir(), "domain-type")) as f:
            return "kvm" if f.readline().strip() == "kvm" else "qemu"
    except (OSError, TypeError):
        return "qemu"


def render_domain(name, graphics, serial_log, images=None):
    """The demo domain's XML, with the same substitutions as scripts/render-domain.sh.

    graphics is "dbus", "vnc" or a whole <graphics .../> element."""
    images = images or image_dir()
    if not images:
        raise RuntimeError("no image directory (TANDEM_IMAGE_DIR)")
    with open(os.path.join(images, "cmdline")) as f:
        cmdline = f.read().strip()
    with open(TEMPLATE) as f:
        xml = f.read()
    values = {
        "@NAME@": name,
        "@KERNEL@": os.path.join(images, "vmlinuz"),
        "@INITRD@": os.path.join(images, "initrd.img"),
        "@CMDLINE@": cmdline,
        "@SERIAL_LOG@": serial_log,
    }
    for key, value in values.items():
        xml = xml.replace(key, _xml_escape(value))
    xml = xml.replace("@TYPE@", domain_type(images))
    return xml.replace("@GRAPHICS@", GRAPHICS.get(graphics, graphics))


# --- virsh --------------------------------------------------------------------------------

def virsh(*args, check=True, timeout=120):
    """Runs `virsh -c URI ARGS`; returns its stdout, raises RuntimeError on failure."""
    p = subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout


def wait_for_text(path, text, timeout=120.0, start=0):
    """Waits until file PATH contains TEXT past offset START; returns the seconds waited."""
    t0 = time.monotonic()
    needle = text.encode()
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(start)
                if needle in f.read():
                    return time.monotonic() - t0
        except FileNotFoundError:
            pass
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{text!r} not in {path} after {timeout:.0f} s; "
                               f"its end:\n{tail(path)}")
        time.sleep(0.1)


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
    except FileNotFoundError:
        return "(no file)"


# --- pictures -----------------------------------------------------------------------------

def read_ppm(data):
    """Parses a binary PPM (P6, maxval 255) from bytes or a path into an Image."""
    if isinstance(data, str):
        with open(data, "rb") as f:
            data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        m = re.compile(rb"\s*(?:#[^\n]*\n\s*)*(\S+)").match(data, pos)
        if not m:
            raise ValueError("truncated PPM header")
        fields.append(m.group(1))
        pos = m.end()
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"not a P6 maxval 255 PPM: {fields[0]!r} {fields[3]!r}")
    width, height = int(fields[1]), int(fields[2])
    pos += 1  # the single whitespace byte after maxval
    pixels = data[pos:pos + width * height * 3]
    if len(pixels) != width * height * 3:
        raise ValueError("truncated PPM data")
    return Image(width, height, bytes(pixels))


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def read_png(data):
    """Parses an 8-bit RGB/RGBA/grey non-interlaced PNG (what QEMU writes) into an RGB Image."""
    if isinstance(data, str):
        with open(data, "rb") as f:
            data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if hdr is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, ctype, _, _, interlace = hdr
    channels = {0: 1, 2: 3, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    prev = bytearray(stride)
    out = bytearray()
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 255
        elif ftype == 2:
            for i in range(stride):
                row[i] = (row[i] + prev[i]) & 255
        elif ftype == 3:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                upleft = prev[i - channels] if i >= channels else 0
                row[i] = (row[i] + _paeth(left, prev[i], upleft)) & 255
        elif ftype != 0:
            raise ValueError(f"bad PNG filter {ftype}")
        prev = row
        if channels == 3:
            out += row
        elif channels == 4:
            for i in range(0, stride, 4):
                out += row[i:i + 3]
        else:
            for v in row:
                out += bytes((v, v, v))
    return Image(width, height, bytes(out))


def read_image(path):
    """Reads a PPM or PNG file (virsh screenshot writes either, as QEMU chooses)."""
    with open(path, "rb") as f:
        data = f.read()
    return read_png(data) if data.startswith(b"\x89PNG") else read_ppm(data)


def write_png(path, img):
    """Writes an Image as an RGB PNG (to keep a test's pictures as artifacts)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    stride = img.width * 3
    raw = b"".join(b"\0" + img.data[y * stride:(y + 1) * stride] for y in range(img.height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", img.width, img.height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def is_blank(img):
    """True when every pixel has the same colour."""
    return img.data[:3] * (img.width * img.height) == img.data


def screenshot(name, path):
    """`virsh screenshot` of domain NAME into PATH, parsed into an Image."""
    virsh("screenshot", name, path)
    return read_image(path)


# --- domains ------------------------------------------------------------------------------

_live = set()  # domains defined and not yet cleaned up, for atexit


def _cleanup_all():
    for dom in list(_live):
        dom.cleanup()


def _sigterm(signum, frame):
    raise SystemExit(128 + signum)  # meson's timeout sends SIGTERM: run the cleanups


atexit.register(_cleanup_all)


class Domain:
    """A demo desktop for one test: defined on enter, destroyed and undefined on exit.

    Its serial log and screenshots live in a private temporary directory (self.dir)."""

    def __init__(self, test, graphics="dbus", images=None):
        self.name = unique_name(test)
        self.graphics = graphics
        self.images = images or require_image()
        self.dir = tempfile.mkdtemp(prefix=self.name + ".")
        self.serial_log = os.path.join(self.dir, "serial.log")
        self.defined = False

    def __enter__(self):
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm)
        self.define()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def xml(self):
        return render_domain(self.name, self.graphics, self.serial_log, self.images)

    def define(self):
        path = os.path.join(self.dir, "domain.xml")
        with open(path, "w") as f:
            f.write(self.xml())
        virsh("define", path)
        self.defined = True
        _live.add(self)

    def start(self, paused=False):
        virsh("start", self.name, *(["--paused"] if paused else []))

    def resume(self):
        virsh("resume", self.name)

    def destroy(self):
        virsh("destroy", self.name, check=False)

    def state(self):
        return virsh("domstate", self.name).strip()

    def wait_serial(self, text, timeout=120.0):
        """Waits for TEXT in the serial log; returns the seconds waited."""
        return wait_for_text(self.serial_log, text, timeout)

    def screenshot(self, filename="screenshot"):
        return screenshot(self.name, os.path.join(self.dir, filename))

    def agent_socket(self):
        """Host path of the agent port's UNIX socket (libvirt picks it when the domain starts)."""
        root = ET.fromstring(virsh("dumpxml", self.name))
        for ch in root.iter("channel"):
            target = ch.find("target")
            source = ch.find("source")
            if target is not None and target.get("name") == AGENT_PORT_NAME \
                    and source is not None:
                return source.get("path")
        return None

    def cleanup(self, keep_dir=False):
        if self.defined:
            self.destroy()
            virsh("undefine", self.name, check=False)
            self.defined = False
        _live.discard(self)
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
