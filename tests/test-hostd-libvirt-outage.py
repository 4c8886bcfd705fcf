#!/usr/bin/python3
"""Integration: libvirt down at hostd's start, then lost while hostd runs. hostd says so clearly,
keeps running, reconnects with backoff and attaches to the running domain again. The outage is
made by a relay between hostd and the real libvirtd socket that the test starts and stops."""

import array
import os
import socket
import sys
import tempfile
import threading

import hostdtest as ht
import tandemtest as tt

LIBVIRT_SOCKET = "/run/libvirt/libvirt-sock"


class Relay:
    """Forwards a Unix socket to libvirtd's; stop() drops every connection at once."""

    def __init__(self, path):
        self.path = path
        self.conns = []
        self.listener = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(LIBVIRT_SOCKET)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        # libvirt passes file descriptors (virDomainOpenGraphicsFD): forward SCM_RIGHTS too.
        space = socket.CMSG_SPACE(16 * 4)
        try:
            while True:
                data, ancillary, _, _ = src.recvmsg(65536, space)
                if not data:
                    break
                fds = []
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += list(array.array("i", payload[:len(payload) - len(payload) % 4]))
                if fds:
                    # The kernel ends a read at the segment carrying descriptors, and libvirt sends
                    # them with one byte of their own: keep them on that last byte.
                    dst.sendall(data[:-1])
                    dst.sendmsg([data[-1:]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
                    for fd in fds:
                        os.close(fd)
                else:
                    dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.listener.close()
        os.unlink(self.path)
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self.conns = []


def main():
    tt.require_image()
    relay = Relay(os.path.join(tempfile.mkdtemp(prefix="tandem-relay-"), "libvirt-sock"))
    with tt.Domain("outage") as dom:
        dom.start()
        hostd = ht.Hostd(dom.name, uri=f"qemu:///system?socket={relay.path}")
        with ht.context(hostd.start()):
            events = hostd.events()
            ht.wait_for(lambda: "Cannot reach libvirt at" in hostd.log(), "the unreachable-libvirt message")
            assert hostd.status()["libvirt"] == "disconnected" and hostd.alive()
            print("libvirt down at start: reported, hostd keeps running")

            relay.start()
            events.wait(lambda w: w[:2] == ["libvirt", "connected"], what="reconnection")
            events.wait_kind("attached", dom.name)
            ht.wait_console(hostd, dom.name)
            print("libvirt came up: connected and attached")

            relay.stop()
            events.wait(lambda w: w[:2] == ["libvirt", "disconnected"], what="loss of libvirt")
            assert "Lost the libvirt connection" in hostd.log()
            assert hostd.status()["domains"] == [] and hostd.alive()
            print("libvirt lost: reported, domains detached, hostd keeps running")

            relay.start()
            events.wait(lambda w: w[:2] == ["libvirt", "connected"], what="second reconnection")
            events.wait_kind("attached", dom.name)
            ht.wait_console(hostd, dom.name)
            dom.wait_serial("login:", timeout=180)
            ht.framebuffer_matches_screenshot(hostd, dom)
            print("libvirt back: reconnected and re-attached to the running domain")
            relay.stop()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
