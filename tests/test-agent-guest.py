#!/usr/bin/python3
"""Integration: the hand-off between the hypervisor path and the guest agent, in the demo guest
under TCG with the real tandem-guestd, hostd and a headless viewer that stays connected through
all of it:
  - the session starts on the hypervisor path and turns to "agent" once guestd says hello;
  - a logon at the getty is reported (utmp: busybox login) in hostd's status;
  - guestd killed (and kept from restarting) -> the viewer is told "hypervisor" without
    reconnecting, and still types into the guest; guestd back -> "agent" again;
  - a graceful reboot asked of the agent through hostd's control socket -> the guest reboots,
    the session is on the hypervisor path through the BIOS and boot, then the agent again.
Prints how long each step took (hello after guestd's start, fallback after its death)."""

import os
import re
import secrets
import sys
import threading
import time

import hostdtest as ht
import tandemtest as tt
import viewertest as vt


class Lines:
    """Collects a process's stderr lines with their arrival times, in a thread."""

    def __init__(self, stream):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first(self, needle, after=0.0):
        for t, line in list(self.lines):
            if t >= after and needle in line:
                return t
        return None

    def wait(self, needle, after=0.0, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.first(needle, after)
            if t is not None:
                return t
            time.sleep(0.02)
        raise AssertionError(f"viewer never printed {needle!r}:\n" + "\n".join(l for _, l in self.lines[-30:]))

    def text(self):
        return "\n".join(l for _, l in self.lines)


class SerialMarks:
    """When each of some texts first appeared on the guest's serial log (a thread polls it every
    20 ms from the start, so a step's time does not depend on when the test looks)."""

    def __init__(self, dom, needles):
        self.dom, self.needles, self.seen = dom, needles, {}
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self):
        while len(self.seen) < len(self.needles):
            try:
                with open(self.dom.serial_log, errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            now = time.monotonic()
            for n in self.needles:
                if n not in self.seen and n in text:
                    self.seen[n] = now
            time.sleep(0.02)

    def wait(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            assert time.monotonic() < deadline, f"{needle!r} not on the serial log:\n{tt.tail(self.dom.serial_log, 20)}"
            time.sleep(0.02)
        return self.seen[needle]


def main():
    tt.require_image()
    keys = vt.Keys()
    before, during, after = (secrets.token_hex(5) for _ in range(3))
    with tt.Domain("agent-guest") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        dom.start(paused=True)
        at_prompt = os.path.join(dom.dir, "at-login-prompt")
        script = (
            "wait-frame\n"
            "wait-agent active\n"
            f"wait-file {at_prompt}\n"  # guestd starts before the gettys: wait for the login prompt
            "type root\\n\nsleep 1500\n"
            f"type echo {before} | tee /dev/ttyS0\\n\nsleep 1000\n"
            # guestd killed; its binary moved away so that init cannot restart it.
            "type mv /usr/bin/tandem-guestd /tmp/g; echo guestd-killed >/dev/ttyS0; kill -9 $(pidof tandem-guestd)\\n\n"
            "wait-agent none\n"
            f"type echo {during} | tee /dev/ttyS0\\n\nsleep 1000\n"
            "type mv /tmp/g /usr/bin/tandem-guestd\\n\n"
            "wait-agent active\n"
            # The test asks for a reboot now: the BIOS and boot on the hypervisor path, then the agent.
            "wait-agent none\n"
            "wait-agent active\n"
            "sleep 3000\n"
            f"type root\\n\nsleep 1500\ntype echo {after} | tee /dev/ttyS0\\n\nsleep 2000\n"
            "exit 0\n")
        proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"], timeout=600)
        viewer = Lines(proc.stderr)
        viewer.wait("Connected to", timeout=60)
        assert viewer.first("agent: active") is None, "agent active before the guest even ran"
        marks = SerialMarks(dom, ["tandem: starting tandem-guestd", "guestd-killed"])
        dom.resume()

        # 1. Hand-off: guestd's start (init prints it on the serial console) to the viewer's line.
        started = marks.wait("tandem: starting tandem-guestd", timeout=180)
        active = viewer.wait("agent: active", timeout=120)
        print(f"guestd started -> viewer shows 'agent: active' in {(active - started) * 1000:.0f} ms")

        # 2. The logon at the getty, from utmp.
        dom.wait_serial("login:", timeout=120)
        open(at_prompt, "w").close()
        dom.wait_serial(before, timeout=120)
        d = hostd.wait_status(lambda s: any(x["user"] == "root" for x in
                                            s["domains"][0]["agent"]["sessions"]), what="root's logon")
        logon = [x for x in d["domains"][0]["agent"]["sessions"] if x["user"] == "root"][0]
        assert logon["tty"] == "tty1" and logon["source"] == "utmp", logon
        print(f"logon reported: {logon}")
        d = hostd.wait_status(lambda s: (s["domains"][0]["agent"]["heartbeat"] or {}).get("count", 0) >= 2,
                              timeout=30, what="two heartbeats")
        beat = d["domains"][0]["agent"]["heartbeat"]
        assert beat["mem_total_kib"] > beat["mem_available_kib"] > 0 and beat["users"] >= 1, beat

        # 3. guestd killed: fallback without a reconnect, typing goes on.
        killed = marks.wait("guestd-killed", timeout=60)
        fallback = viewer.wait("agent: none", after=active, timeout=60)
        print(f"guestd killed -> viewer shows 'agent: none' in {(fallback - killed) * 1000:.0f} ms")
        line = [l for t, l in viewer.lines if t >= fallback and "agent: none" in l][0]
        assert "heartbeat lost" in line or "agent closed" in line, line
        dom.wait_serial(during, timeout=60)
        print(f"typed {during} on the hypervisor path while the agent was gone")
        again = viewer.wait("agent: active", after=fallback, timeout=120)
        print(f"guestd back -> agent active again after {again - fallback:.1f} s")

        # 4. A graceful reboot through the agent: hypervisor path through the boot, then the agent.
        control = hostd.control()
        reply = control.request(f"agent-power {dom.name} reboot")  # raises unless OK
        control.close()
        rebooting = viewer.wait("agent: none", after=again, timeout=120)
        line = [l for t, l in viewer.lines if t >= rebooting and "agent: none" in l][0]
        print(f"reboot asked ({reply.strip()}); viewer: {line.strip()}")
        ht.wait_for(lambda: open(dom.serial_log, errors="replace").read().count("Tandem demo desktop") >= 2,
                    "the second boot's banner on the serial log", timeout=120)
        viewer.wait("agent: active", after=rebooting, timeout=180)
        print("the rebooted guest's agent is active again")

        code, rest = vt.finish(proc, timeout=300)
        log = viewer.text() + rest
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
        vt.assert_typed_once(dom, before, during, after)
        assert not re.search(r"reconnect|resum", log, re.I), f"the viewer reconnected:\n{log}"
        assert "resumed" not in hostd.log(), "the session was resumed: it was dropped"
        counters = hostd.domain(dom.name)["agent"]["counters"]
        assert counters["lost_reboot"] + counters["lost_closed"] >= 1 and counters["hellos"] >= 3, counters
        print(f"one session throughout; tokens typed once each; agent counters {counters}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
