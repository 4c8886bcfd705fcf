#!/usr/bin/python3
"""Integration: hostd and a real broker. hostd registers its host (address, certificate
fingerprint, libvirt URI), takes the broker's ticket key (no TicketPublicKey=), and reports: the
desktop's power state, vCPU time, display progress, input and a JPEG thumbnail reach the broker's
API. A viewer connects with a ticket the broker issued; the broker is then stopped: hostd logs the
outage once, drops its reports, and the viewer goes on logging in and typing. The broker is
started again: hostd's reports arrive again without a restart of hostd. Then it is frozen
(SIGSTOP: connections accepted, nothing answered): the report in flight times out, those due
meanwhile are dropped, and a viewer still gets in."""

import os
import secrets
import signal
import sys
import time

import hostbrokertest as hb
import hostdtest as ht
import tandemtest as tt
import viewertest as vt
from brokertest import Broker


def desktop(b, name):
    r = b.request("GET", f"/v1/desktops/{name}")
    return r.json if r.status == 200 else None


def main():
    tt.require_image()
    b = Broker().start()
    token = secrets.token_hex(6)
    host = "h" + secrets.token_hex(3)
    try:
        with tt.Domain("hostd-broker") as dom:
            assert b.request("POST", "/v1/pools", {"name": "lab", "kind": "persistent"}).status == 201
            assert b.request("POST", "/v1/desktops", {"pool": "lab", "domain": dom.name}).status == 201
            hostd = hb.BrokerHostd(dom.name, b, host)
            with ht.context(hostd.start()):
                dom.start()
                dom.wait_serial("login:", timeout=180)

                h = hb.wait_for("host registered and reporting",
                                lambda: (lambda r: r.status == 200 and r.json["last_report"] and r.json)(
                                    b.request("GET", f"/v1/hosts/{host}")))
                assert h["state"] == "up" and h["address"] == hostd.address, h
                assert h["fingerprint"] == hb.cert_fingerprint(hostd.cert), h
                assert h["libvirt_uri"] == "qemu:///system", h
                print(f"host {host} registered: viewers dial {h['address']}, certificate pinned")
                assert hostd.broker_status()["ticket_key"] == "broker"

                d = hb.wait_for("desktop running with a thumbnail",
                                lambda: (lambda x: x and x["power_state"] == "running" and x["thumbnail"]
                                         and x["signals"]["display_frames"] and x)(desktop(b, dom.name)))
                assert d["host"] == host and d["uuid"], d
                sig = d["signals"]
                assert sig["cpu_time_ns"] > 0 and sig["libvirt_state"].startswith("running"), sig
                r = b.request("GET", f"/v1/desktops/{d['id']}/thumbnail")
                assert r.status == 200 and r.body[:2] == b"\xff\xd8" and len(r.body) > 500, r
                # The report is recent: the broker's own clock, well within a few report periods.
                now = time.time()
                assert now - 15 < sig["report_time"] <= now + 1, (sig["report_time"], now)
                print(f"reports arrive: running, cpu {sig['cpu_time_ns']} ns, display frames "
                      f"{sig['display_frames']}, thumbnail {len(r.body)} bytes")

                # A paused guest: its state reaches the broker, and its still screen sends no
                # thumbnail while reports go on (a running guest's blinking cursor would).
                tt.virsh("suspend", dom.name)
                hb.wait_for("paused at the broker", lambda: desktop(b, dom.name)["power_state"] == "paused", 30)
                # The screen's last change before the pause may still go out once (ThumbnailSeconds=1).
                st = hostd.broker_status()
                hb.wait_for("reports", lambda: hostd.broker_status()["reports_sent"] >= st["reports_sent"] + 3, 30)
                st = hostd.broker_status()
                hb.wait_for("more reports", lambda: hostd.broker_status()["reports_sent"] >= st["reports_sent"] + 4, 30)
                assert hostd.broker_status()["thumbnails_sent"] == st["thumbnails_sent"], (st, hostd.broker_status())
                assert desktop(b, dom.name)["signals"]["libvirt_state"] == "paused:user"
                tt.virsh("resume", dom.name)
                hb.wait_for("running again", lambda: desktop(b, dom.name)["power_state"] == "running", 30)
                print("paused: the broker saw paused:user, and no thumbnail was sent for the still screen")

                # A viewer through the broker: the ticket names hostd's address and certificate.
                assert b.request("POST", "/v1/users", {"name": "alice"}).status == 201
                alice = b.token("user", "alice")
                c = b.request("POST", "/v1/pools/lab/connect", {}, token=alice)
                assert c.status == 200 and c.json["address"] == hostd.address, c
                shot = os.path.join(dom.dir, "after.ppm")
                script = (f"wait-frame\nsleep 6000\ntype root\\n\nsleep 1500\n"
                          f"type echo {token} | tee /dev/ttyS0\\n\nsleep 2500\nsave {shot}\nexit 0\n")
                viewer = vt.viewer(c.json["ticket"], script, args=["--lossless"])
                hostd.wait_status(lambda s: any(v["desktop"] == dom.name for v in s["viewers"]), 60,
                                  "viewer connected")
                sent = hostd.broker_status()["reports_sent"]
                b.stop()
                hb.wait_for("hostd notices the outage", lambda: not hostd.broker_status()["reachable"], 30)
                code, log = vt.finish(viewer)
                assert code == vt.EXIT_OK, f"viewer exited {code} while the broker was down:\n{log}"
                dom.wait_serial(token, timeout=30)
                assert vt.echoed_on_screen(tt.read_ppm(shot), token), "the token is not on the viewer's screen"
                print("broker down: the viewer logged in and typed; the token reached the guest and the screen")
                st = hb.wait_for("reports failing", lambda: (lambda s: s["reports_failed"] >= 3 and s)(
                    hostd.broker_status()), 60)
                assert st["reports_sent"] <= sent + 1, st
                outage_lines = [ln for ln in hostd.log().splitlines() if "unreachable" in ln]
                assert len(outage_lines) == 1, outage_lines
                print(f"hostd logged the outage once; {st['reports_failed']} reports failed, none queued")

                restarted = time.time()
                b.start()
                hb.wait_for("reports after the restart",
                            lambda: (lambda x: x and x["signals"]["report_time"] >= int(restarted))(
                                desktop(b, dom.name)), 60)
                assert hostd.broker_status()["reachable"]
                assert "answers again" in hostd.log()
                # The key is the broker's again (same state directory): a fresh ticket works.
                c = b.request("POST", "/v1/pools/lab/connect", {}, token=alice)
                assert c.status == 200, c
                code, log = vt.finish(vt.viewer(c.json["ticket"], "wait-frame\nexit 0\n"), timeout=120)
                assert code == vt.EXIT_OK, log
                print("broker restarted: hostd's reports arrive again, a new ticket is accepted")

                # Nobody watches now: hostd's reports say `viewers: 0' and the broker ends the
                # desktop's open sessions (those whose ticket is over a minute old: backdated here).
                def open_sessions():
                    con = b.db()
                    n = con.execute("SELECT count(*) FROM sessions WHERE end IS NULL").fetchone()[0]
                    con.close()
                    return n
                assert open_sessions() > 0
                con = b.db()
                con.execute("UPDATE sessions SET start = start - 120 WHERE end IS NULL")
                con.commit()
                con.close()
                hb.wait_for("sessions ended (viewers: 0)", lambda: open_sessions() == 0, 60)
                print("no viewer left: hostd's report ended the desktop's sessions at the broker")

                # A broker that accepts connections and never answers (SIGSTOP): the report in
                # flight times out, those due meanwhile are dropped, viewers get in regardless.
                c = b.request("POST", "/v1/pools/lab/connect", {}, token=alice)
                assert c.status == 200, c
                before = hostd.broker_status()
                b.proc.send_signal(signal.SIGSTOP)
                try:
                    hb.wait_for("reports dropped behind a hung one",
                                lambda: hostd.broker_status()["reports_dropped"] >= before["reports_dropped"] + 3, 30)
                    code, log = vt.finish(vt.viewer(c.json["ticket"], "wait-frame\nexit 0\n"), timeout=120)
                    assert code == vt.EXIT_OK, f"viewer while the broker hangs: {code}\n{log}"
                    hb.wait_for("the hung report times out",
                                lambda: hostd.broker_status()["reports_failed"] > before["reports_failed"], 60)
                finally:
                    b.proc.send_signal(signal.SIGCONT)
                st = hostd.broker_status()
                print(f"broker frozen: {st['reports_dropped'] - before['reports_dropped']} reports dropped, "
                      f"the hung one failed, a viewer got in meanwhile")
                hb.wait_for("reports after the freeze", lambda: hostd.broker_status()["reports_sent"] >
                            st["reports_sent"], 60)
                assert hostd.alive()
    finally:
        if os.environ.get("TANDEM_KEEP_LOGS"):
            print(f"broker directory kept: {b.dir}")
        else:
            print("---- broker log (tail) ----\n" + b.tail())
        b.cleanup()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
