#!/usr/bin/python3
"""Integration: a viewer that stops reading does not grow hostd's memory beyond its bound and
does not hold up a second viewer, while the guest's screen scrolls as fast as it can."""

import socket
import ssl
import struct
import sys
import time

import hostdtest as ht
import tandemtest as tt
import viewertest as vt
import base64

HELLO, MAGIC = 0x01, 0x4D444E54


def stalled_viewer(hostd, ticket):
    """A TLS client that says hello and then never reads again."""
    raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
    payload = struct.pack("<IHQI", MAGIC, 1, 0x1F, len(raw)) + raw
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", hostd.port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(struct.pack("<IHBB", len(payload), HELLO, 0, 0) + payload)
    return sock


VIEWER_OUT_LIMIT = 8 * 1024 * 1024  # hostd/hostd-viewer.h


def under_asan(hostd):
    with open(f"/proc/{hostd.proc.pid}/maps") as f:
        return "libasan" in f.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    tt.require_image()
    keys = vt.Keys()
    with tt.Domain("viewer-slow") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        dom.start()
        dom.wait_serial("login:", timeout=180)
        ht.wait_console(hostd, dom.name)
        hostd.type_text(dom.name, "root\n")
        time.sleep(1)
        hostd.type_text(dom.name, "while true; do cat /proc/interrupts /proc/meminfo; done\n")

        stalled = stalled_viewer(hostd, hostd.ticket(dom.name, user="stalled"))
        time.sleep(3)
        rss_start = rss_kib(hostd.proc.pid)
        proc = vt.viewer(hostd.ticket(dom.name, user="second", role="view-only"),
                         "".join("wait-frame\n" for _ in range(60)) + "exit 0\n", args=["--lossless"])
        code, log = vt.finish(proc, timeout=300)
        assert code == vt.EXIT_OK, f"the second viewer did not get 60 frames: {code}\n{log}"
        print("the second viewer got 60 frames while the first stalled")

        # hostd's own accounting: the stalled viewer holds at most its output bound and two frames
        # in flight, and skips what it cannot take instead of queueing it.
        samples = []
        for _ in range(5):
            time.sleep(1)
            v = [v for v in hostd.status()["viewers"] if v["user"] == "stalled"][0]
            samples.append(v)
        queued = max(v["queued"] for v in samples)
        print(f"stalled viewer: queued {queued} bytes at most, {samples[-1]['in_flight']} frames in flight, "
              f"{samples[-1]['frames_skipped']} updates skipped")
        assert queued <= VIEWER_OUT_LIMIT, "the stalled viewer's queue passed its bound"
        assert samples[-1]["in_flight"] <= 2 and samples[-1]["frames_skipped"] > samples[0]["frames_skipped"]
        rss_end = rss_kib(hostd.proc.pid)
        print(f"hostd RSS {rss_start} -> {rss_end} KiB")
        if not under_asan(hostd):  # ASan's quarantine keeps freed memory: RSS says nothing there
            assert rss_end - rss_start < 16 * 1024, "hostd's memory grew with the stalled viewer"
        assert hostd.alive()
        stalled.close()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
