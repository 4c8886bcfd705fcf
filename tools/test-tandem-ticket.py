#!/usr/bin/python3
"""tandem-ticket end to end: keygen, mint, show, verify (valid, another key, another desktop,
expired, another host), and the one-message refusals of bad arguments (exit 2)."""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

EXE = sys.argv[1]


def run(*args, stdin=None):
    p = subprocess.run([EXE, *args], capture_output=True, text=True, input=stdin)
    return p.returncode, p.stdout, p.stderr


def expect(code, args, out=None, err=None, stdin=None):
    got, stdout, stderr = run(*args, stdin=stdin)
    where = f"tandem-ticket {' '.join(args)}"
    assert got == code, f"{where}: exit {got}, wanted {code}\nstdout: {stdout}\nstderr: {stderr}"
    if out is not None:
        assert out in stdout, f"{where}: {out!r} not in stdout {stdout!r}"
    if err is not None:
        assert err in stderr, f"{where}: {err!r} not in stderr {stderr!r}"
        assert len(stderr.splitlines()) == 1, f"{where}: more than one message: {stderr!r}"
    return stdout


def main():
    d = tempfile.mkdtemp(prefix="tandem-ticket-")
    try:
        return test(d)
    finally:
        shutil.rmtree(d)


def test(d):
    a, a_pub = os.path.join(d, "a.pem"), os.path.join(d, "a.pub.pem")
    b, b_pub = os.path.join(d, "b.pem"), os.path.join(d, "b.pub.pem")

    expect(0, ["keygen", a, a_pub], out="Wrote")
    expect(0, ["keygen", b, b_pub])
    assert stat.S_IMODE(os.stat(a).st_mode) == 0o600
    with open(a_pub) as f:
        assert f.read().startswith("-----BEGIN PUBLIC KEY-----")
    expect(1, ["keygen", a, os.path.join(d, "c.pub.pem")], err="Refusing to overwrite")
    assert not os.path.exists(os.path.join(d, "c.pub.pem"))
    print("keygen: pair written, private 0600, never overwritten")

    mint = ["mint", "--key", a, "--desktop", "win11-07", "--user", "alice", "--host", "host1:7443"]
    ticket = expect(0, mint).strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", ticket), ticket
    assert run(*mint)[1].strip() != ticket, "two mints gave one ticket: the nonce is not random"

    out = expect(0, ["show", ticket], out="NOT VERIFIED")
    for line in ["role:        interactive", "desktop:     win11-07", "user:        alice",
                 "host:        host1:7443", "none (the viewer checks"]:
        assert line in out, f"show: {line!r} missing from\n{out}"
    assert re.search(r"status:\s+(59|60) s left", out), out
    expect(0, ["show", "-"], out="desktop:     win11-07", stdin=ticket + "\r\n")
    print("mint + show: fields as minted")

    verify = ["verify", "--public", a_pub, "--desktop", "win11-07"]
    expect(0, verify + [ticket], out="valid: interactive, for alice on win11-07")
    expect(0, verify + [ticket])  # no replay memory across runs: by design
    expect(0, verify + ["-"], stdin=ticket + "\n")
    expect(1, ["verify", "--public", b_pub, "--desktop", "win11-07", ticket],
           out="invalid (ticket-signature): The ticket was not issued by this host's broker")
    expect(1, ["verify", "--public", a_pub, "--desktop", "win11-08", ticket],
           out="invalid (ticket-wrong-desktop)")
    expect(1, verify + ["--now", "99999999999", ticket], out="invalid (ticket-expired)")
    expect(1, verify + ["--now", "1", ticket], out="invalid (ticket-expired)")
    expect(1, verify + [ticket[:-1]], out="invalid (ticket-malformed)")
    expect(1, verify + [ticket[:-2]], out="invalid (ticket-malformed)")
    expect(1, verify + [ticket + "="], out="invalid (ticket-malformed)")
    expect(1, verify + ["not-a-ticket!"], out="invalid (ticket-malformed)")
    print("verify: valid; another key, desktop, time and damaged text refused with the reason")

    fp = "ab" * 32
    pinned = expect(0, mint + ["--role", "view-only", "--ttl", "600", "--fingerprint", fp]).strip()
    out = expect(0, ["show", pinned], out="role:        view-only")
    assert f"fingerprint: {fp}" in out, out
    expect(0, verify + ["--fingerprint", fp, pinned], out="valid: view-only")
    expect(1, verify + ["--fingerprint", "cd" * 32, pinned], out="invalid (ticket-wrong-host)")
    colons = ":".join(["AB"] * 32)
    expect(0, verify + ["--fingerprint", colons, pinned])
    print("fingerprint: pinned tickets name their host")

    if shutil.which("openssl"):
        key, cert = os.path.join(d, "host.key"), os.path.join(d, "host.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", key,
                        "-out", cert, "-subj", "/CN=host1", "-days", "1"],
                       check=True, capture_output=True)
        p = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True)
        want = p.stdout.strip().split("=", 1)[1].replace(":", "").lower()
        t = expect(0, mint + ["--cert", cert]).strip()
        expect(0, ["show", t], out=f"fingerprint: {want}")
        expect(0, verify + ["--cert", cert, t])
        print("--cert: the fingerprint agrees with openssl x509 -fingerprint -sha256")

    # Bad arguments: one message quoting the value, exit 2.
    expect(2, mint + ["--role", "x"], err="Invalid role `x' (interactive or view-only)")
    expect(2, mint + ["--ttl", "0"], err="Invalid TTL `0' (1 to 86400 seconds)")
    expect(2, mint + ["--ttl", "86401"], err="Invalid TTL `86401'")
    expect(2, mint + ["--ttl", "-5"], err="Invalid TTL `-5'")
    expect(2, mint + ["--ttl", "99999999999999999999999"], err="Invalid TTL `99999999999999999999999'")
    expect(2, mint + ["--host", "host1"], err="Invalid host `host1' (HOST:PORT")
    expect(2, mint + ["--host", "host1:70000"], err="Invalid host `host1:70000'")
    expect(2, mint + ["--desktop", ""], err="Invalid desktop `'")
    expect(2, mint + ["--user", "x" * 256], err="Invalid user `xxxxxxxx")
    expect(2, mint + ["--fingerprint", "abc"], err="Invalid fingerprint `abc'")
    expect(2, mint + ["--fingerprint", fp, "--cert", a], err="not both")
    expect(2, mint + ["--colour", "blue"], err="Unknown option `--colour'")
    expect(2, mint + ["extra"], err="Unexpected argument `extra'")
    expect(2, mint[:-2], err="Missing --host")
    expect(2, mint + ["--ttl"], err="Option `--ttl' needs a value")
    expect(2, verify, err="Missing TICKET")
    expect(2, ["verify", "--desktop", "x", ticket], err="Missing --public")
    expect(2, verify + ["--now", "soon", ticket], err="Invalid time `soon'")
    expect(2, ["frobnicate"], err="Invalid command `frobnicate'")
    expect(2, [])
    expect(0, ["--help"], out="keygen")
    expect(0, ["mint", "--help"], out="--fingerprint HEX64")
    print("bad arguments: one message quoting the value, exit 2")

    # Runtime failures: exit 1 with the reason.
    expect(1, ["mint", "--key", a_pub, *mint[3:]], err="Cannot load private key")
    expect(1, ["mint", "--key", os.path.join(d, "none.pem"), *mint[3:]], err="No such file or directory")
    expect(1, ["verify", "--public", a, "--desktop", "x", ticket], err="not an Ed25519 public key")
    expect(1, ["show", "AAAA"], err="Not a ticket `AAAA'")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
