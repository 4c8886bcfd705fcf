#!/usr/bin/python3
"""Integration: the demo's flow through the broker, as an operator runs it with tandemctl. A broker
with a certificate for 127.0.0.1 (verified by hostd's CA= and tandemctl's --ca), a pool with the
demo desktop, a host token made by `tandemctl tokens create host`, hostd registering with it, and
`tandemctl connect POOL` running a headless tandem-viewer with the broker's ticket: the viewer is
at the guest's login prompt (it logs in and an echoed token shows on its screen); the broker shows
the desktop running with a recent report and serves its thumbnail as a JPEG."""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

import hostbrokertest as hb
import hostdtest as ht
import tandemtest as tt
import viewertest as vt
from brokertest import BUILD, Broker

CTL = os.path.join(BUILD, "broker", "tandemctl")


def image_has_guestd():
    try:
        with open(os.path.join(tt.image_dir(), "stamp")) as f:
            return any(ln.startswith("guestd=") and ln.strip() != "guestd=none" for ln in f)
    except OSError:
        return False


def main():
    tt.require_image()
    b = Broker()
    os.makedirs(b.state, exist_ok=True)
    cert, key = os.path.join(b.dir, "cert.pem"), os.path.join(b.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with open(b.config, "a") as f:
        f.write(f"TLSCertificate={cert}\nTLSKey={key}\n")
    b._ctx = __import__("ssl").create_default_context(cafile=cert)
    env = dict(os.environ, TANDEM_BROKER=f"https://127.0.0.1:{b.port}", TANDEM_BROKER_CA=cert,
               TANDEM_TOKEN_FILE=os.path.join(b.state, "admin.token"))
    env.pop("TANDEM_TOKEN", None)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)

    def ctl(*args, timeout=60):
        p = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
        assert p.returncode == 0, f"tandemctl {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
        return p.stdout

    host = "demo-host"
    token = secrets.token_hex(6)
    try:
        b.start()
        with tt.Domain("broker-demo") as dom:
            ctl("pools", "create", "demo", "--kind", "persistent")
            ctl("desktops", "add", "--pool", "demo", "--domain", dom.name)
            ctl("users", "add", "alice")
            host_token = ctl("tokens", "create", "host", host).strip()
            hostd = hb.BrokerHostd(dom.name, b, host, ca=cert, report_seconds=2, token=host_token)
            with ht.context(hostd.start()):
                dom.start(paused=True)
                hb.wait_for("the desktop placed on the host",
                            lambda: json.loads(ctl("--json", "desktops", "show", dom.name))["host"] == host, 60)
                hb.wait_for("the broker's ticket key", lambda: hostd.broker_status()["ticket_key"] == "broker"
                            and hostd.broker_status()["registered"], 30)
                print(f"hostd registered as {host} (CA-verified broker), the desktop is placed on it")

                shots = tempfile.mkdtemp(prefix="broker-demo-")
                shot = os.path.join(shots, "after.ppm")
                script = (f"wait-frame\nsleep 1000\ntype root\\n\nsleep 1500\n"
                          f"type echo {token} | tee /dev/ttyS0\\n\nsleep 2500\nsave {shot}\nexit 0\n")
                script_path = os.path.join(shots, "script.txt")
                with open(script_path, "w") as f:
                    f.write(script)
                # Resume once the guest is at its prompt: the viewer connects to a running desktop.
                dom.resume()
                dom.wait_serial("login:", timeout=180)
                p = subprocess.run([CTL, "connect", "demo", "--user", "alice", "--viewer", vt.tool("tandem-viewer"),
                                    "--", "--headless", "--lossless", "--timeout", "120", "--script", script_path],
                                   capture_output=True, text=True, env=env, timeout=180)
                assert p.returncode == 0, f"tandemctl connect: exit {p.returncode}\n{p.stdout}{p.stderr}"
                assert f"tandemctl: desktop {dom.name} on {hostd.address}" in p.stderr, p.stderr
                dom.wait_serial(token, timeout=30)
                assert vt.echoed_on_screen(tt.read_ppm(shot), token), "the token is not on the viewer's screen"
                assert f"alice watching {dom.name}" in hostd.log()
                print("tandemctl connect: the viewer logged in at the login prompt through the broker's ticket")

                d = hb.wait_for("running with a thumbnail", lambda: (lambda x: x["power_state"] == "running"
                                                                    and x["thumbnail"] and x)(
                    json.loads(ctl("--json", "desktops", "show", dom.name))), 60)
                now = time.time()
                assert now - 20 < d["signals"]["report_time"] <= now + 1, d["signals"]
                assert d["assigned_user"] == "alice", d
                r = b.request("GET", f"/v1/desktops/{d['id']}/thumbnail")
                assert r.status == 200 and r.headers.get("Content-Type", "").startswith("image/jpeg"), r
                assert r.body[:2] == b"\xff\xd8" and r.body[-2:] == b"\xff\xd9", r.body[:8]
                path = os.path.join(shots, "thumb.jpg")
                ctl("desktops", "thumbnail", dom.name, path)
                with open(path, "rb") as f:
                    assert f.read()[:2] == b"\xff\xd8"
                if image_has_guestd():
                    # The agent's part: guestd active, root's logon (utmp, busybox login) reported.
                    d = hb.wait_for("agent active and root logged on", lambda: (lambda x: (
                        x["signals"]["agent_state"] == "active" and x["signals"]["logged_on_user"] == "root"
                        and x["signals"]["agent_heartbeat"] is not None and x))(
                        json.loads(ctl("--json", "desktops", "show", dom.name))), 90)
                    ev = json.loads(ctl("--json", "events", "--action", "logon"))
                    items = ev["items"] if isinstance(ev, dict) else ev
                    assert any(str(e.get("object_id")) == str(d["id"]) and "root" in json.dumps(e) for e in items), ev
                    print("the agent's part: active, heartbeat, root logged on, a logon event at the broker")

                    def signals():
                        return json.loads(ctl("--json", "desktops", "show", dom.name))["signals"]

                    hostd.type_text(dom.name, "exit\n")
                    hb.wait_for("root logged off", lambda: signals()["logged_on_user"] == "", 60)
                    ev = json.loads(ctl("--json", "events", "--action", "logoff"))
                    assert any("root" in json.dumps(e) for e in (ev["items"] if isinstance(ev, dict) else ev)), ev
                    print("root's logoff: nobody logged on, a logoff event at the broker")
                    # getty comes back after a moment: type the name until a logon is reported.
                    for _ in range(12):
                        hostd.type_text(dom.name, "root\n")
                        try:
                            hb.wait_for("root logged on again", lambda: signals()["logged_on_user"] == "root", 5)
                            break
                        except TimeoutError:
                            pass
                    assert signals()["logged_on_user"] == "root", signals()
                    hostd.type_text(dom.name, "mv /usr/bin/tandem-guestd /tmp/g; kill -9 $(pidof tandem-guestd)\n")
                    sig = hb.wait_for("agent lost", lambda: (lambda x: x["agent_state"] == "lost" and x)(signals()), 60)
                    assert sig["logged_on_user"] == "root", sig  # a lost agent is not a logoff
                    print("guestd killed: the broker sees the agent lost, root still logged on")
                else:
                    print("(image without tandem-guestd: agent checks skipped)")
                print(f"the broker: {dom.name} running, assigned to alice, report "
                      f"{int(now - d['signals']['report_time'])} s old, thumbnail {len(r.body)} bytes (JPEG)")
    finally:
        print("---- broker log (tail) ----\n" + b.tail())
        b.cleanup()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
