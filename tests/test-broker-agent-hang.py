#!/usr/bin/env python3
"""The guest agent's part of hang handling, end to end: the demo guest under TCG with the real
tandem-guestd, a real hostd reporting to a real broker (Libvirt=yes, the hang pass every second).

  - a person's reboot without force while the agent is active -> a power request that hostd takes
    with its next report, the agent reboots the guest (a second boot on the serial log), hostd
    reports the outcome (ok): no reset;
  - logged in by typing at the getty, guestd killed and kept from restarting (its binary moved
    away) -> hostd's reports stop carrying heartbeats -> the broker classifies an agent hang;
    in an alert-only pool: an alert event and no reset;
  - the pool switched to reset, one reset an hour -> one reset, the guest boots anew with its
    agent -> healthy; guestd killed again -> the cap: an alert, no second reset (no loop).
"""

import os
import secrets
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostbrokertest as hb  # noqa: E402
import hostdtest as ht  # noqa: E402
import tandemtest as tt  # noqa: E402
from brokertest import Broker  # noqa: E402

GRACE = 3
BANNER = "Tandem demo desktop -- Linux"  # init says it once a boot (the getty's issue also names the desktop)

_typing = threading.Lock()


def type_text(name, text):
    """Keys through libvirt (the VGA console, tty1), one line at a time."""
    with _typing:
        for code, shifted in ht.keystrokes(text):
            tt.virsh("send-key", name, "--codeset", "xt", *([str(ht.SHIFT)] if shifted else []), str(code))


def desktop(b, name):
    r = b.request("GET", f"/v1/desktops/{name}")
    return r.json if r.status == 200 else None


def serial_count(dom, text):
    with open(dom.serial_log, errors="replace") as f:
        return f.read().count(text)


def boots(dom):
    return serial_count(dom, BANNER)


def agent_active(b, name):
    d = desktop(b, name)
    return d and d["host"] and d["power_state"] == "running" and d["signals"]["agent_state"] == "active" and d


def kill_guestd(dom, mark):
    """Logs in at the current boot's getty and kills guestd so that init cannot restart it."""
    hb.wait_for("the login prompt of this boot", lambda: serial_count(dom, "login:") >= boots(dom), timeout=180)
    time.sleep(1)
    type_text(dom.name, "root\n")
    time.sleep(2)
    type_text(dom.name, f"mv /usr/bin/tandem-guestd /tmp/g; echo {mark} >/dev/ttyS0; kill -9 $(pidof tandem-guestd)\n")
    dom.wait_serial(mark, timeout=60)


def main():
    tt.require_image()
    b = Broker(extra="Libvirt=yes\nHangCheckSeconds=1\n").start()
    host = "h" + secrets.token_hex(3)
    try:
        with tt.Domain("broker-agent-hang") as dom:
            assert b.request("POST", "/v1/pools", {"name": "lab", "kind": "persistent", "hang_grace_seconds": GRACE,
                                                    "hang_action": "alert"}).status == 201
            r = b.request("POST", "/v1/desktops", {"pool": "lab", "domain": dom.name})
            assert r.status == 201, r
            did = r.json["id"]
            with ht.context(hb.BrokerHostd(dom.name, b, host).start()):
                dom.start()
                hb.wait_for("the agent active at the broker", lambda: agent_active(b, dom.name), timeout=240)
                hb.wait_for("healthy", lambda: desktop(b, dom.name)["health"] == "healthy", timeout=60)

                # 1. A person's graceful reboot goes through the agent.
                r = b.request("POST", f"/v1/desktops/{did}/reboot", {})
                assert r.status == 202 and r.json["via"] == "agent", r
                rid = r.json["request"]
                done = hb.wait_for("the request's outcome", lambda: b.desktop_events(did, "power-request-done"), timeout=60)
                (actor, ev), = done
                assert actor == f"host:{host}" and ev["request"] == rid and ev["outcome"] == "ok", done
                hb.wait_for("the second boot", lambda: boots(dom) >= 2, timeout=180)
                hb.wait_for("the agent back", lambda: agent_active(b, dom.name), timeout=240)
                assert not b.desktop_events(did, "reset")
                print(f"graceful reboot through the agent: request {rid} ok ({ev['detail']}), the guest booted again")

                # 2. guestd killed in an alert-only pool: an alert, no reset.
                kill_guestd(dom, "guestd-killed-1")
                alerts = hb.wait_for("an agent-hang alert", lambda: b.desktop_events(did, "alert"), timeout=90)
                (actor, ev), = alerts
                assert actor == "hang-detector" and ev["cause"] == "agent-hang" and ev["domain_op"] == "none", ev
                assert "agent-lost" in [s["signal"] for s in ev["decision"]["signals"]], ev
                assert desktop(b, dom.name)["health"] == "agent-hang"
                time.sleep(2 * GRACE)
                assert not b.desktop_events(did, "reset") and len(b.desktop_events(did, "alert")) == 1
                print(f"agent killed, alert-only pool: one alert ({ev['decision']['why']}), no reset")

                # 3. The pool now resets, once an hour: one reset, then the guest and its agent are back.
                before = boots(dom)
                assert b.request("PATCH", "/v1/pools/lab", {"hang_action": "reset",
                                                            "max_resets_per_hour": 1}).status == 200
                resets = hb.wait_for("an agent-hang reset", lambda: b.desktop_events(did, "reset"), timeout=60)
                (actor, ev), = resets
                assert ev["cause"] == "agent-hang" and ev["domain_op"] == "reset", ev
                hb.wait_for("a new boot", lambda: boots(dom) > before, timeout=180)
                hb.wait_for("the agent back after the reset", lambda: agent_active(b, dom.name), timeout=240)
                hb.wait_for("healthy again", lambda: desktop(b, dom.name)["health"] == "healthy", timeout=60)
                print("pool switched to reset: one reset, the guest's agent back, healthy")

                # 4. Killed again: the cap (1 an hour) -> an alert, no second reset.
                kill_guestd(dom, "guestd-killed-2")
                hb.wait_for("the cap's alert", lambda: len(b.desktop_events(did, "alert")) == 2, timeout=90)
                ev = b.desktop_events(did, "alert")[-1][1]
                assert ev["cause"] == "agent-hang" and "cap" in ev["decision"]["why"], ev
                time.sleep(2 * GRACE)
                assert len(b.desktop_events(did, "reset")) == 1, b.desktop_events(did, "reset")
                print("killed again: the reset cap holds, an alert and no second reset")
        print("ok")
    except BaseException:
        print(b.tail(80), file=sys.stderr)
        raise
    finally:
        b.stop()
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
