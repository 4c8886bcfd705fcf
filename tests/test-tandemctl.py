#!/usr/bin/python3
"""tandemctl against a real broker over HTTPS with a certificate for 127.0.0.1 (verified, not
skipped): every noun's commands, tables and --json, the token printed once, connect handing the
ticket to the viewer through a pipe (a stand-in viewer records what it got), and the documented
exit codes for usage, unreachable, untrusted, unauthenticated, forbidden, missing, conflicting
and unavailable."""

import json
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import BUILD, Broker, free_port  # noqa: E402

CTL = os.path.join(BUILD, "broker", "tandemctl")


def main():
    b = Broker()
    os.makedirs(b.state, exist_ok=True)
    cert, key = os.path.join(b.dir, "cert.pem"), os.path.join(b.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with open(b.config, "a") as f:
        f.write(f"TLSCertificate={cert}\nTLSKey={key}\n")
    b._ctx = __import__("ssl").create_default_context(cafile=cert)
    try:
        b.start()
        token_file = os.path.join(b.state, "admin.token")
        env = dict(os.environ, TANDEM_BROKER=f"https://127.0.0.1:{b.port}", TANDEM_BROKER_CA=cert,
                   TANDEM_TOKEN_FILE=token_file)
        env.pop("TANDEM_TOKEN", None)

        def ctl(*args, code=0, extra_env=None):
            p = subprocess.run([CTL, *args], capture_output=True, text=True, env=dict(env, **(extra_env or {})),
                               timeout=60)
            assert p.returncode == code, f"tandemctl {' '.join(args)}: exit {p.returncode}, wanted {code}\n" \
                                         f"{p.stdout}{p.stderr}"
            return p.stdout, p.stderr

        ctl("pools", "create", "lab", "--kind", "floating", "--min-ready", "1", "--transport", "udp")
        out, _ = ctl("pools", "set", "lab", "--hang-action", "alert", "--resize", "no")
        assert "hang_action: alert" in out and "resize: no" in out, out
        out, _ = ctl("pools")
        assert out.splitlines()[0].split()[:4] == ["NAME", "KIND", "DESKTOPS", "READY"], out
        assert "lab" in out and "floating" in out and "udp" in out
        out, _ = ctl("--json", "pools", "show", "lab")
        assert json.loads(out)["transport"] == "udp"
        ctl("pools", "create", "lab", "--kind", "floating", code=6)
        _, err = ctl("pools", "create", "lab2", "--kind", "floating", "--min-ready", "many", code=2)
        assert "Invalid --min-ready `many'" in err, err

        b.request("POST", "/v1/hosts", {"name": "h1", "libvirt_uri": "qemu:///system", "address": "127.0.0.1:7443"})
        out, _ = ctl("hosts")
        assert "h1" in out and "127.0.0.1:7443" in out, out
        ctl("desktops", "add", "--pool", "lab", "--domain", "lab-01", "--host", "h1")
        ctl("desktops", "add", "--pool", "nope", "--domain", "lab-02", code=5)
        b.request("POST", "/v1/hosts/h1/report", {"domains": [{"name": "lab-01", "state": "running",
                                                                "thumbnail": "/9j/4AAQ"}]})
        out, _ = ctl("desktops", "list", "--pool", "lab")
        assert "lab-01" in out and "running" in out, out
        thumb = os.path.join(b.dir, "t.jpg")
        ctl("desktops", "thumbnail", "lab-01", thumb)
        with open(thumb, "rb") as f:
            assert f.read()[:2] == b"\xff\xd8"

        ctl("users", "add", "alice", "--display-name", "Alice A.")
        out, _ = ctl("users")
        assert "alice" in out and "Alice A." in out
        out, _ = ctl("tokens", "create", "user", "alice")
        alice = out.strip()
        assert alice.startswith("tdm_") and len(out.splitlines()) == 1, out
        out, _ = ctl("tokens")
        assert alice not in out and "user" in out

        # connect as alice: the stand-in viewer records its arguments and the ticket it read.
        record = os.path.join(b.dir, "viewer.txt")
        viewer = os.path.join(b.dir, "viewer.sh")
        with open(viewer, "w") as f:
            f.write(f"#!/bin/sh\nfor a in \"$@\"; do echo \"arg $a\"; done > {record}\n"
                    f"echo \"ticket $(cat \"$2\")\" >> {record}\n")
        os.chmod(viewer, stat.S_IRWXU)
        alice_env = {"TANDEM_TOKEN_FILE": "", "TANDEM_TOKEN": alice}
        env_alice = dict(env)
        env_alice.pop("TANDEM_TOKEN_FILE")
        env_alice["TANDEM_TOKEN"] = alice
        p = subprocess.run([CTL, "connect", "lab", "--viewer", viewer, "--", "--headless", "--timeout", "5"],
                           capture_output=True, text=True, env=env_alice, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        with open(record) as f:
            lines = f.read().splitlines()
        assert lines[0] == "arg --ticket-file" and lines[1].startswith("arg /dev/fd/"), lines
        assert lines[2:4] == ["arg --headless", "arg --timeout"], lines
        assert lines[-1].startswith("ticket VEtUM"), lines  # the ticket came through the pipe
        out = subprocess.run([CTL, "--json", "connect", "lab", "--print"], capture_output=True, text=True,
                             env=env_alice).stdout
        assert json.loads(out)["desktop"]["domain"] == "lab-01"
        out = subprocess.run([CTL, "--json", "desktops"], capture_output=True, text=True, env=env_alice).stdout
        assert [d["domain"] for d in json.loads(out)] == ["lab-01"]
        p = subprocess.run([CTL, "reboot", "lab-01"], capture_output=True, text=True, env=env_alice)
        assert p.returncode == 0 and "status: recorded" in p.stdout, p.stdout + p.stderr
        p = subprocess.run([CTL, "users"], capture_output=True, text=True, env=env_alice)
        assert p.returncode == 4 and "may not" in p.stderr and "role" in p.stderr, p.stderr
        # The pool is now exhausted for anyone else.
        ctl("users", "add", "bob")
        ctl("connect", "lab", "--user", "bob", "--print", code=7)

        out, _ = ctl("sessions", "--open")
        assert "alice" in out and "lab-01" in out, out
        out, _ = ctl("events", "--action", "reboot-request")
        assert "user:alice" in out, out
        out, _ = ctl("--json", "events")
        assert len(json.loads(out)) >= 8

        # Exit codes for the ways things go wrong.
        ctl("frobnicate", code=2)
        ctl("pools", "show", code=2)
        ctl("pools", "show", "missing", code=5)
        ctl("pools", "delete", "lab", code=6)
        ctl("pools", extra_env={"TANDEM_TOKEN_FILE": "/nonexistent"}, code=2)
        bad = os.path.join(b.dir, "bad.token")
        with open(bad, "w") as f:
            f.write("tdm_" + "A" * 43 + "\n")
        _, err = ctl("pools", extra_env={"TANDEM_TOKEN_FILE": bad}, code=4)
        assert "admin.token" in err, err
        _, err = ctl("pools", extra_env={"TANDEM_BROKER": f"https://127.0.0.1:{free_port()}"}, code=3)
        assert "Is tandem-broker running" in err, err
        _, err = ctl("pools", extra_env={"TANDEM_BROKER_CA": "/etc/ssl/certs/ca-certificates.crt"}, code=3)
        assert "--ca" in err, err
        out, _ = ctl("--help")
        assert "Exit codes" in out
        ctl("tokens", "revoke", "x", code=2)
        print("tandemctl: every noun, tables and --json, connect through a pipe to the viewer, exit codes 0-7")
        print("ok")
    except BaseException:
        print(b.tail(), file=sys.stderr)
        raise
    finally:
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
