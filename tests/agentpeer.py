"""The host side of the agent protocol, in Python, for tests that play hostd or the root daemon:
frames and payloads are read from schema/agent.def itself (so the test speaks what the C code
speaks), over a socket the test owns."""

import os
import select
import socket
import struct
import time

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema", "agent.def")

_INT = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q", "i32": "<i", "i64": "<q"}


def load_schema(path=SCHEMA):
    """{name: (type, channel, [(field, kind), ...])}, {type: name}, {(group, name): value}."""
    channels, messages, by_type, values = {}, {}, {}, {}
    current = None
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if words[0] == "channel":
                channels[words[2]] = int(words[1])
            elif words[0] == "message":
                t, name, chan = int(words[1], 0), words[2], channels[words[3]]
                current = (t, chan, [])
                messages[name] = current
                by_type[t] = name
            elif words[0] == "field":
                current[2].append((words[1].replace("-", "_"), words[2]))
            elif words[0] in ("value", "cap"):
                values[(words[1] if words[0] == "value" else "cap", words[-1])] = int(words[2 if words[0] == "value" else 1])
    return messages, by_type, values


MESSAGES, BY_TYPE, VALUES = load_schema()
MAGIC = 0x41444E54


def encode(name, **fields):
    t, chan, layout = MESSAGES[name]
    out = b""
    for field, kind in layout:
        v = fields.get(field, b"" if kind in ("string", "bytes") else 0)
        if kind in _INT:
            out += struct.pack(_INT[kind], v)
        else:
            if isinstance(v, str):
                v = v.encode()
            out += struct.pack("<I", len(v)) + v
    return struct.pack("<IHBB", len(out), t, chan, 0) + out


def decode(t, payload):
    name = BY_TYPE.get(t)
    if name is None:
        return None, {}
    fields, at = {}, 0
    for field, kind in MESSAGES[name][2]:
        if kind in _INT:
            (fields[field],) = struct.unpack_from(_INT[kind], payload, at)
            at += struct.calcsize(_INT[kind])
        else:
            (n,) = struct.unpack_from("<I", payload, at)
            v = payload[at + 4 : at + 4 + n]
            fields[field] = v.decode() if kind == "string" else bytes(v)
            at += 4 + n
    return name, fields


class Peer:
    """One connection to a tandem-guestd-session: send messages, wait for the ones expected."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.setblocking(False)
        self.buf = b""
        self.log = []  # every message received, (name, fields)
        self.closed = False
        self.sink = None  # called with (name, fields) for every message received
        self.queue = []  # received, not yet looked at by wait()

    def send(self, name, **fields):
        self.send_raw(encode(name, **fields))

    def send_raw(self, data):
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def _read(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
        self.buf += data

    def poll(self, timeout=0.0):
        """Reads what is there (waiting up to timeout) and returns the complete messages."""
        self._read(timeout)
        out = []
        while len(self.buf) >= 8:
            size, t, _chan, _flags = struct.unpack_from("<IHBB", self.buf)
            if len(self.buf) < 8 + size:
                break
            msg = decode(t, self.buf[8 : 8 + size])
            self.buf = self.buf[8 + size :]
            self.log.append(msg)
            self.queue.append(msg)
            out.append(msg)
            if self.sink:
                self.sink(*msg)
        return out

    def wait(self, pred, timeout=15.0, what="a message"):
        """Messages until one satisfies pred(name, fields); returns (that one, all read so far)."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            while self.queue:
                m = self.queue.pop(0)
                seen.append(m)
                if pred(*m):
                    return m, seen
            self.poll(0.05)
            if self.closed:
                raise AssertionError(f"the helper closed the connection while waiting for {what}")
            if time.monotonic() > deadline:
                names = [n for n, _ in seen][-20:]
                raise AssertionError(f"no {what} in {timeout} s (last messages: {names})")

    def wait_name(self, name, timeout=15.0, **match):
        def pred(n, f):
            return n == name and all(f.get(k) == v for k, v in match.items())

        return self.wait(pred, timeout, what=f"{name} {match or ''}")[0][1]

    def fetch_clipboard(self, serial, fmt, timeout=15.0):
        """Requests one format of a grab and returns the reassembled bytes (b'' for total 0)."""
        self.send("clipboard-request", serial=serial, format=fmt)
        data, total = b"", None
        while True:
            f = self.wait_name("clipboard-data", timeout, serial=serial, format=fmt)
            if total is None:
                total = f["total"]
            assert f["total"] == total and f["offset"] == len(data), (f["total"], f["offset"], len(data))
            assert len(f["chunk"]) <= 65536
            data += f["chunk"]
            if len(data) == total:
                return data

    def serve_clipboard(self, serial, contents, timeout=15.0, chunk=65536):
        """Answers one clipboard-request for a grab of ours from contents {format: bytes}."""
        f = self.wait_name("clipboard-request", timeout, serial=serial)
        data = contents.get(f["format"], b"")
        self.send_data(serial, f["format"], data, chunk)
        return f["format"]

    def send_data(self, serial, fmt, data, chunk=65536):
        if not data:
            self.send("clipboard-data", serial=serial, format=fmt, total=0, offset=0, chunk=b"")
            return
        frames = b""
        for off in range(0, len(data), chunk):
            frames += encode("clipboard-data", serial=serial, format=fmt, total=len(data), offset=off,
                             chunk=data[off : off + chunk])
        self.send_raw(frames)
