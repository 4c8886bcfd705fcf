#!/usr/bin/python3
"""Integration: the automatic transport through tandem-linkemu, hostd in the emulator's namespace
a and a headless `--transport auto` viewer in b. With UDP blackholed the session runs on TCP: it
logs in and types a first token, which reaches the serial log once. Then UDP is restored: the
session moves onto UDP (the viewer says `transport udp`, hostd's status shows the viewer on udp
with the same session id), a second token typed afterwards reaches the serial log once, and the
viewer's screen is exactly hostd's framebuffer."""

import os
import re
import secrets
import subprocess
import sys
import threading
import time

import hostdtest as ht
import linkemutest as le
import tandemtest as tt
import viewertest as vt


class Lines:
    """The viewer's stderr, read as it comes."""

    def __init__(self, stream):
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait(self, pattern, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"viewer never said {pattern!r}:\n" + "\n".join(self.lines))
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


def viewers(hostd):
    return hostd.status()["viewers"]


def main():
    tt.require_image()
    le.require()
    keys = vt.Keys()
    first, second = secrets.token_hex(6), secrets.token_hex(6)
    exe = os.path.join(os.environ["TANDEM_BUILD_DIR"], "tools", "tandem-linkemu")
    with le.LinkEmu(exe, seed=6) as link, tt.Domain("viewer-auto") as dom, \
            ht.context(vt.NamespacedHostd(dom.name, keys, link).start()) as hostd:
        link.ctl("set dir=both delay=10ms udp-blackhole=on")
        dom.start()
        dom.wait_serial("login:", timeout=180)
        shot = os.path.join(dom.dir, "after.ppm")
        path = os.path.join(dom.dir, "script.txt")
        # The script waits long enough after the first token for the test to restore UDP and the
        # session to move (the probes back off: 2 s, 4 s, 8 s... each up to 2.5 s long).
        with open(path, "w") as f:
            f.write(f"wait-frame\ntype root\\n\nsleep 2000\ntype echo {first} | tee /dev/ttyS0\\n\n"
                    f"sleep 25000\ntype echo {second} | tee /dev/ttyS0\\n\n"
                    f"sleep 2000\nwait-still 1500\nsave {shot}\nexit 0\n")
        cmd = [vt.tool("tandem-viewer"), "--headless", "--timeout", "240", "--transport", "auto", "--lossless",
               "--format", "ppm", "--script", path, hostd.ticket(dom.name)]
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = link.popen("b", cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        out = Lines(proc.stderr)
        try:
            session = int(out.wait(r"Connected to .* \(session (\d+)", 30).group(1))
            out.wait(r"transport tcp", 5)
            dom.wait_serial(first, timeout=60)
            [v] = viewers(hostd)
            assert v["transport"] == "tls" and int(v["session"], 16) == session, v
            print(f"UDP blackholed: session {session:016x} runs on TCP, token {first} reached the guest")

            link.ctl("set udp-blackhole=off")
            restored = time.monotonic()
            out.wait(r"transport udp", 25)
            moved = time.monotonic() - restored
            [v] = viewers(hostd)
            assert v["transport"] == "udp" and int(v["session"], 16) == session, v
            assert "reconnecting" not in out.text(), out.text()
            print(f"UDP restored: the session moved onto UDP {moved:.1f} s later, same session id")

            dom.wait_serial(second, timeout=60)
            [v] = viewers(hostd)
            assert v["transport"] == "udp" and int(v["session"], 16) == session, v
        except (TimeoutError, AssertionError):
            proc.kill()
            proc.wait()
            print(out.text())
            print(hostd.log()[-4000:])
            raise
        tt.virsh("suspend", dom.name)  # a still screen: the text cursor stops blinking
        code = proc.wait(timeout=120)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{out.text()}\nhostd:\n{hostd.log()[-4000:]}"
        vt.assert_typed_once(dom, first, second)
        print(f"both tokens reached the serial log once; udp listener: {hostd.status()['udp']}")
        vt.assert_screen_is_hostds(shot, hostd, dom, second)
        print("the viewer's screen is exactly hostd's, with the second token on it")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
