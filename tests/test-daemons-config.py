#!/usr/bin/python3
"""The daemons' --check-config: a good file and its drop-ins pass; a bad value, an unknown key
and a missing --config file each fail with one message naming the file, the line and the value."""

import os
import subprocess
import sys
import tempfile

BUILD = os.environ["TANDEM_BUILD_DIR"]
DAEMONS = {
    "hostd": ("Hostd", "ThumbnailInterval=5", "ThumbnailInterval"),
    "guestd": ("Guestd", "Port=org.tandem.agent.0", "LogLevel"),
    "broker": ("Broker", "Database=/tmp/x.db", "LogLevel"),
}


def check(daemon, path):
    exe = os.path.join(BUILD, daemon, f"tandem-{daemon}")
    p = subprocess.run([exe, "--check-config", "--config", path], capture_output=True, text=True,
                       env=dict(os.environ, TANDEM_LOG_STDERR="1"))
    return p.returncode, p.stdout + p.stderr


def main():
    d = tempfile.mkdtemp(prefix="tandem-config-")
    for daemon, (section, good, bad_key) in DAEMONS.items():
        path = os.path.join(d, f"{daemon}.conf")
        with open(path, "w") as f:
            f.write(f"# {daemon}\n[{section}]\n{good}\n")
        code, out = check(daemon, path)
        assert code == 0, f"{daemon}: good config refused: {out}"
        assert "OK" in out

        os.makedirs(path + ".d", exist_ok=True)
        with open(os.path.join(path + ".d", "50-bad.conf"), "w") as f:
            f.write(f"[{section}]\n\n{bad_key}=sometimes\n")
        code, out = check(daemon, path)
        assert code != 0, f"{daemon}: bad drop-in accepted"
        assert f"50-bad.conf:3: invalid value `sometimes' for {bad_key}=" in out, out
        os.unlink(os.path.join(path + ".d", "50-bad.conf"))

        with open(path, "a") as f:
            f.write("Colour=blue\n")
        code, out = check(daemon, path)
        assert code != 0 and f"{daemon}.conf:4: unknown key Colour= in section [{section}]" in out, out

        code, out = check(daemon, os.path.join(d, "missing.conf"))
        assert code != 0 and "missing.conf: cannot open" in out, out
        print(f"tandem-{daemon}: --check-config accepts good files and names bad values")

    # hostd's transport policy: a bad Transport= and a malformed TransportOverrides= word.
    path = os.path.join(d, "policy.conf")
    with open(path, "w") as f:
        f.write("[Viewers]\nTransport=tcp\nTransportOverrides=lab-*:udp kiosk1:auto\n")
    code, out = check("hostd", path)
    assert code == 0, f"hostd: good transport policy refused: {out}"
    with open(path, "w") as f:
        f.write("[Viewers]\nTransport=quic\n")
    code, out = check("hostd", path)
    assert code != 0 and "policy.conf:2: invalid value `quic' for Transport=" in out, out
    with open(path, "w") as f:
        f.write("[Viewers]\nTransportOverrides=lab-*:udp kiosk1\n")
    code, out = check("hostd", path)
    assert code != 0 and "Invalid TransportOverrides= `lab-*:udp kiosk1'" in out, out
    print("tandem-hostd: --check-config checks the transport policy")

    # hostd's [Broker] (hbroker): a token, an https URL, a pin that is a SHA-256, CA= or Fingerprint=.
    fp = "ab" * 32
    good = f"[Broker]\nURL=https://broker:8443\nToken=tdm_x\nHostName=h1\nFingerprint={fp}\nReportSeconds=2\n"
    with open(path, "w") as f:
        f.write(good)
    code, out = check("hostd", path)
    assert code == 0, f"hostd: good [Broker] refused: {out}"
    for text, message in (("[Broker]\nURL=https://b:1\n", "exactly one of Token= and TokenFile="),
                          ("[Broker]\nURL=ftp://b\nToken=t\n", "Invalid URL= `ftp://b'"),
                          ("[Broker]\nURL=https://b:1\nToken=t\nFingerprint=zz\n", "Invalid Fingerprint= `zz'"),
                          ("[Broker]\nURL=https://b:1\nToken=t\nHostName=1h\n", "Invalid HostName= `1h'"),
                          (f"[Broker]\nURL=https://b:1\nToken=t\nCA=/x.pem\nFingerprint={fp}\n", "CA= or Fingerprint="),
                          ("[Broker]\nURL=https://b:1\nToken=t\nReportSeconds=0\n", "ReportSeconds=")):
        with open(path, "w") as f:
            f.write(text)
        code, out = check("hostd", path)
        assert code != 0 and message in out, f"{text!r}: {out}"
    print("tandem-hostd: --check-config checks [Broker]")

    # hostd's [Media] caps and [Agent] Media= (hmedia); hostd.conf.example parses.
    with open(path, "w") as f:
        f.write("[Agent]\nMedia=no\nOverrides=lab-*:Media=yes\n[Media]\nMaxStreams=2\nViewerShare=30\n")
    code, out = check("hostd", path)
    assert code == 0, f"hostd: good [Media] refused: {out}"
    for text, message in (("[Media]\nViewerShare=0\n", "ViewerShare= must be 1..100"),
                          ("[Media]\nMaxVideoPacket=600000\n", "MaxVideoPacket="),
                          ("[Media]\nIdleSeconds=0\n", "IdleSeconds="),
                          ("[Agent]\nMedia=maybe\n", "Media="),
                          ("[Agent]\nOverrides=x*:Media=maybe\n", "Invalid [Agent] Overrides=")):
        with open(path, "w") as f:
            f.write(text)
        code, out = check("hostd", path)
        assert code != 0 and message in out, f"{text!r}: {out}"
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostd", "hostd.conf.example")
    code, out = check("hostd", example)
    assert code == 0, f"hostd.conf.example refused: {out}"
    print("tandem-hostd: --check-config checks [Media]; hostd.conf.example parses")

    # The broker: plain HTTP only on loopback, Listen= an IP address and port, the example parses.
    path = os.path.join(d, "listen.conf")
    for text, message in (("PlainHTTP=yes\nListen=0.0.0.0:8080\n", "PlainHTTP=yes is for tests on loopback only"),
                          ("Listen=broker.example:8443\n", "invalid value `broker.example:8443' for Listen="),
                          ("Listen=127.0.0.1:0\n", "for Listen="),
                          ("TLSCertificate=/x.pem\n", "TLSCertificate= and TLSKey= go together"),
                          ("Libvirt=maybe\n", "Libvirt="),
                          ("HangCheckSeconds=0\n", "HangCheckSeconds= must be at least 1"),
                          ("HangCheckSeconds=3601\n", "HangCheckSeconds=")):
        with open(path, "w") as f:
            f.write("[Broker]\n" + text)
        code, out = check("broker", path)
        assert code != 0 and message in out, out
    with open(path, "w") as f:
        f.write("[Broker]\nPlainHTTP=yes\nListen=[::1]:8080\n")
    code, out = check("broker", path)
    assert code == 0 and "plain HTTP" in out, out
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "broker", "broker.conf.example")
    code, out = check("broker", example)
    assert code == 0, out
    print("tandem-broker: --check-config checks Listen= and PlainHTTP=; broker.conf.example parses")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
