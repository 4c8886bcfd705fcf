#!/usr/bin/python3
"""Integration: tandem-guestd in the demo guest (TCG, real libvirtd), seen from the host end of
its virtio-serial port (the agent channel's UNIX socket, as hostd would open it):

- its hello arrives shortly after boot, then sessions-reset;
- heartbeats every ~2 s with plausible health (uptime, load, memory, sessions);
- the host end closed and re-opened: guestd says hello again by itself;
- a logon at the getty on tty1 (root + Enter, typed with `virsh send-key`) is reported with
  source utmp, user root, tty tty1;
- a hello from the test gets hello + sessions-reset + that logon back;
- power-request reboot: power-reply first, the guest reboots (the serial log shows the boot
  again) and guestd says hello again on the same channel.
"""

import os
import socket
import struct
import sys
import time

import tandemtest as tt

MAGIC = 0x41444E54
HELLO, HEARTBEAT, SESSIONS_RESET, LOGON, LOGOFF = 0x01, 0x02, 0x10, 0x11, 0x12
WINDOWS_RESET, POWER_REQUEST, POWER_REPLY = 0x30, 0x50, 0x51
CAP_HEARTBEAT, CAP_SESSIONS, CAP_POWER = 1 << 0, 1 << 1, 1 << 6
CHANNEL = {HELLO: 0, POWER_REQUEST: 5}
BOOT_BANNER = "Tandem demo desktop"


def frame(mtype, payload):
    return struct.pack("<IHBB", len(payload), mtype, CHANNEL[mtype], 0) + payload


def string(s):
    b = s.encode()
    return struct.pack("<I", len(b)) + b


class Reader:
    """Splits the guest's byte stream into (type, channel, payload) and decodes what we check."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.seen = []

    def send(self, data):
        self.sock.sendall(data)

    def next(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                size, mtype, channel, _ = struct.unpack_from("<IHBB", self.buf)
                assert size <= 1 << 20, f"absurd frame size {size}"
                if len(self.buf) >= 8 + size:
                    payload = self.buf[8:8 + size]
                    self.buf = self.buf[8 + size:]
                    msg = decode(mtype, channel, payload)
                    self.seen.append(msg)
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no message from guestd within {timeout:.0f} s; "
                                   f"last ones: {self.seen[-5:]}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            assert data, "the agent channel closed"
            self.buf += data

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what} not seen within {timeout:.0f} s; last: {self.seen[-5:]}")
            msg = self.next(left)
            if pred(msg):
                return msg


def take_string(p, off):
    (n,) = struct.unpack_from("<I", p, off)
    return p[off + 4:off + 4 + n].decode(), off + 4 + n


def decode(mtype, channel, p):
    m = {"type": mtype, "channel": channel}
    if mtype == HELLO:
        m["magic"], m["version"], m["caps"] = struct.unpack_from("<IHQ", p)
        m["software"], _ = take_string(p, 14)
    elif mtype == HEARTBEAT:
        keys = ("seq", "uptime", "load1", "load5", "load15", "mem_total", "mem_available", "users")
        m.update(zip(keys, struct.unpack_from("<IQIIIQQH", p)))
    elif mtype == LOGON:
        off = 0
        m["session"], off = take_string(p, off)
        m["user"], off = take_string(p, off)
        (m["uid"],) = struct.unpack_from("<I", p, off)
        m["tty"], off = take_string(p, off + 4)
        m["display"], off = take_string(p, off)
        m["source"], m["time_us"] = struct.unpack_from("<BQ", p, off)
    elif mtype == LOGOFF:
        m["session"], off = take_string(p, 0)
        m["user"], off = take_string(p, off)
    elif mtype == POWER_REPLY:
        m["action"], m["status"] = struct.unpack_from("<BB", p)
        m["reason"], _ = take_string(p, 2)
    return m


def is_type(t):
    return lambda m: m["type"] == t


def send_keys(dom, text):
    """Types text on the VGA console (tty1) with `virsh send-key`, one key at a time."""
    for ch in text:
        key = "KEY_ENTER" if ch == "\n" else "KEY_" + ch.upper()
        tt.virsh("send-key", dom.name, key)
        time.sleep(0.1)  # the guest's keyboard buffer is small and TCG is slow


def check_hello(m):
    assert m["magic"] == MAGIC and m["version"] == 1, m
    want = CAP_HEARTBEAT | CAP_SESSIONS | CAP_POWER
    assert m["caps"] & want == want, f"caps 0x{m['caps']:x}"
    assert m["software"] == "tandem-guestd", m


def main():
    tt.require_image()
    with tt.Domain("guestd-guest") as dom:
        dom.start(paused=True)
        sock = dom.agent_socket()
        assert sock, "no agent channel socket in the live XML"
        r = Reader(sock)
        t0 = time.monotonic()
        dom.resume()

        try:
            hello = r.wait(is_type(HELLO), 180, "guestd's hello")
        except TimeoutError:
            if "tandem: starting tandem-guestd" not in open(dom.serial_log, errors="replace").read():
                raise AssertionError(f"the image in {dom.images} has no tandem-guestd: build it with "
                                     "TANDEM_GUESTD=build/guestd/tandem-guestd ./tandem image "
                                     "(scripts/test.sh does)") from None
            raise
        print(f"hello {time.monotonic() - t0:.1f} s after resume: {hello}")
        check_hello(hello)
        assert "tandem: starting tandem-guestd" in open(dom.serial_log, errors="replace").read()
        assert r.next(30)["type"] == SESSIONS_RESET, r.seen[-1]

        beats = [r.wait(is_type(HEARTBEAT), 30, "a heartbeat") for _ in range(3)]
        span = time.monotonic()
        for a, b in zip(beats, beats[1:]):
            assert b["seq"] == a["seq"] + 1, (a, b)
        for b in beats:
            assert 0 < b["uptime"] < 3600, b
            assert 100_000 < b["mem_total"] < 1_000_000, b  # a 512 MiB guest
            assert 0 < b["mem_available"] <= b["mem_total"], b
            assert b["load1"] < 100_000 and b["users"] == 0, b
        print(f"heartbeats: {beats}")

        # The host closes its end and comes back: guestd notices by itself (virtio-serial says
        # POLLHUP while the host is away) and says hello again, with no hello from us.
        r.sock.close()
        time.sleep(3)
        r = Reader(sock)
        hello = r.wait(is_type(HELLO), 15, "guestd's hello after the host came back")
        check_hello(hello)
        assert r.next(30)["type"] == SESSIONS_RESET, r.seen[-1]
        tt.wait_for_text(dom.serial_log, "the host closed its end", timeout=10)
        print("host end closed for 3 s and re-opened: hello and sessions-reset again")

        dom.wait_serial("login:", timeout=120)
        time.sleep(1)
        send_keys(dom, "root\n")
        logon = r.wait(is_type(LOGON), 60, "the logon at tty1")
        print(f"logon: {logon}")
        assert logon["source"] == 1 and logon["user"] == "root" and logon["tty"] == "tty1", logon
        assert logon["uid"] == 0 and logon["display"] == "", logon
        beat = r.wait(is_type(HEARTBEAT), 30, "a heartbeat after the logon")
        assert beat["users"] == 1, beat

        # hostd (re)starting: its hello gets the whole state back.
        r.send(frame(HELLO, struct.pack("<IHQ", MAGIC, 1, 0x7F) + string("test-guestd-guest")))
        again = r.wait(is_type(HELLO), 30, "the answer to our hello")
        check_hello(again)
        after = [r.wait(lambda m: m["type"] != HEARTBEAT, 30, "the state after hello") for _ in range(2)]
        assert after[0]["type"] == SESSIONS_RESET, after
        assert after[1]["type"] == LOGON and after[1]["user"] == "root" and after[1]["tty"] == "tty1", after
        print("a hello from the host got hello, sessions-reset and the logon back")

        boots = open(dom.serial_log, errors="replace").read().count(BOOT_BANNER)
        r.send(frame(POWER_REQUEST, struct.pack("<B", 0)))
        reply = r.wait(is_type(POWER_REPLY), 30, "the power reply")
        assert reply["action"] == 0 and reply["status"] == 0, reply
        t1 = time.monotonic()
        deadline = t1 + 180
        while open(dom.serial_log, errors="replace").read().count(BOOT_BANNER) <= boots:
            assert time.monotonic() < deadline, "no second boot on the serial log:\n" + tt.tail(dom.serial_log)
            time.sleep(0.5)
        print(f"rebooted: the boot banner again {time.monotonic() - t1:.1f} s after the request")
        hello = r.wait(is_type(HELLO), 180, "guestd's hello after the reboot")
        check_hello(hello)
        assert r.next(30)["type"] == SESSIONS_RESET, r.seen[-1]
        print(f"hello again {time.monotonic() - t1:.1f} s after the request ({span - t0:.0f} s in all before)")
        with open(dom.serial_log, errors="replace") as f:
            print("---- guestd on the serial console ----")
            print("".join(line for line in f if "guestd" in line or "Agent port" in line
                          or "logon" in line or "Session" in line or "hello" in line))
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
