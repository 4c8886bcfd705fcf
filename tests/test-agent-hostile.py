#!/usr/bin/python3
"""Integration: the demo guest boots with a hostile agent (tests/hostile-agent.c, as tandem-guestd
in an image of its own) that breaks the agent protocol on every channel hostd opens: garbage, an
oversized frame, a frame never finished, a window of impossible size, a flood. hostd drops the
agent each time with a bye, logs why once, opens the channel again after a growing backoff, and
meanwhile a headless viewer keeps seeing the screen and typing into it (tokens echoed through the
login shell reach the serial log exactly once).

argv[1]: the hostile agent binary. The image is built next to $TANDEM_IMAGE_DIR (or in
$TANDEM_HOSTILE_IMAGE_DIR) by scripts/build-image.sh with TANDEM_GUESTD set to it."""

import os
import re
import secrets
import subprocess
import sys
import time

import hostdtest as ht
import tandemtest as tt
import viewertest as vt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATTACKS = {
    "garbage": "protocol-error",
    "oversized": "is over its maximum",
    "flood": "(rate-limit)",
    "partial": "not completed within",
    "window": "with geometry 1000000x10",
}


def build_image(agent):
    out = os.environ.get("TANDEM_HOSTILE_IMAGE_DIR") or tt.image_dir().rstrip("/") + "-hostile"
    env = dict(os.environ, TANDEM_GUESTD=agent, TANDEM_IMAGE_DIR=out)
    subprocess.run([os.path.join(ROOT, "scripts", "build-image.sh")], check=True, env=env)
    return out


def serial_text(dom):
    with open(dom.serial_log, errors="replace") as f:
        return f.read()


def main():
    tt.require_image()
    agent = os.path.abspath(sys.argv[1])
    images = build_image(agent)
    keys = vt.Keys()
    tokens = [secrets.token_hex(5) for _ in range(3)]
    with tt.Domain("agent-hostile", images=images) as dom, \
            ht.context(vt.ViewerHostd(dom.name, keys, extra="[Agent]\nPartialFrameSeconds=10\nHeartbeatSeconds=10\n").start()) as hostd:
        dom.start()
        dom.wait_serial("hostile-agent: attack garbage", timeout=240)
        print("the hostile agent started its attacks")
        dom.wait_serial("login:", timeout=240)
        shot = os.path.join(dom.dir, "after.ppm")
        # The viewer types all through the attacks: before, between and after them.
        script = "wait-frame\ntype root\\n\nsleep 1500\n"
        for t in tokens:
            script += f"type echo {t} | tee /dev/ttyS0\\n\nsleep 15000\n"
        script += f"save {shot}\nexit 0\n"
        proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"])

        # Every attack is dropped, with a bye the agent sees, and logged once with its reason.
        deadline = time.monotonic() + 300
        while True:
            log = hostd.log()
            seen = {name: needle in log for name, needle in ATTACKS.items()}
            if all(seen.values()):
                break
            assert time.monotonic() < deadline, f"not all attacks were dropped: {seen}\n{tt.tail(hostd.log_path, 40)}"
            assert hostd.alive(), "hostd died"
            time.sleep(1)
        misbehaved = [l for l in log.splitlines() if "agent misbehaved" in l]
        print("\n".join(misbehaved))
        assert len(misbehaved) >= len(ATTACKS)
        delays = [int(m) for m in re.findall(r"re-opening in (\d+) s", "\n".join(misbehaved))]
        assert delays[:4] == sorted(delays[:4]) and delays[0] < delays[-1], f"backoff did not grow: {delays}"
        byes = serial_text(dom).count("hostile-agent: hostd said bye")
        assert byes >= len(ATTACKS) - 1, f"the agent saw {byes} byes"

        code, vlog = vt.finish(proc, timeout=300)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{vlog}"
        vt.assert_typed_once(dom, *tokens)
        print(f"tokens {tokens} typed through the viewer during the attacks reached the serial log once each")
        assert vt.echoed_on_screen(tt.read_ppm(shot), tokens[-1]), "the last token is not on the viewer's screen"
        d = hostd.domain(dom.name)
        assert d["mode"] == "dbus" and d["consoles"][0]["frames"] > 0, d
        assert d["agent"]["counters"]["lost_misbehaved"] >= len(ATTACKS), d["agent"]
        print(f"hostd kept the display; agent counters: {d['agent']['counters']}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
