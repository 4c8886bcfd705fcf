#!/usr/bin/python3
"""Integration: hostd refuses bad tickets with a clear reason to the viewer and a log line:
badly signed, expired, replayed, for another desktop, pinned to another certificate, truncated.
A view-only viewer's input is ignored; control can be handed over."""

import os
import secrets
import subprocess
import sys

import hostdtest as ht
import tandemtest as tt
import viewertest as vt


def rejected(ticket, why):
    code, log = vt.finish(vt.viewer(ticket, "exit 0\n"), timeout=60)
    assert code == vt.EXIT_REJECTED, f"{why}: expected rejection, viewer exited {code}:\n{log}"
    return log


def main():
    tt.require_image()
    keys, other_keys = vt.Keys(), vt.Keys()
    with tt.Domain("viewer-tickets") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        dom.start()
        dom.wait_serial("login:", timeout=180)
        ht.wait_console(hostd, dom.name)

        good = hostd.ticket(dom.name)
        code, log = vt.finish(vt.viewer(good, "wait-frame\nexit 0\n"))
        assert code == vt.EXIT_OK, log
        log = rejected(good, "replayed")
        assert "already been used" in log or "replay" in log, log

        ht.wait_file(hostd.cert)
        forged = other_keys.mint(dom.name, hostd.address, cert=hostd.cert)
        assert "signature" in rejected(forged, "badly signed").lower()

        wrong = hostd.ticket("not-" + dom.name)
        assert "desktop" in rejected(wrong, "wrong desktop").lower()

        expired = hostd.ticket(dom.name, extra=["--issued-at", "1000000000"])
        assert "expired" in rejected(expired, "expired").lower()

        other_cert = os.path.join(hostd.dir, "other-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-subj", "/CN=other",
                        "-keyout", os.path.join(hostd.dir, "other-key.pem"), "-out", other_cert, "-days", "1"],
                       check=True, capture_output=True)
        pinned_elsewhere = keys.mint(dom.name, hostd.address, cert=other_cert)
        code, log = vt.finish(vt.viewer(pinned_elsewhere, "exit 0\n"), timeout=60)
        assert code in (vt.EXIT_REJECTED, vt.EXIT_CONNECTION), f"pinned to another certificate: {code}\n{log}"
        assert "fingerprint" in log.lower() or "certificate" in log.lower(), log

        truncated = hostd.ticket(dom.name)[:-20]
        code, log = vt.finish(vt.viewer(truncated, "exit 0\n"), timeout=60)
        assert code in (vt.EXIT_REJECTED, vt.EXIT_USAGE), f"truncated: {code}\n{log}"
        assert hostd.alive()
        assert "ticket rejected" in hostd.log()
        print("every bad ticket was refused with its reason; hostd logged them and runs on")

        token = secrets.token_hex(6)
        view_only = hostd.ticket(dom.name, role="view-only", user="helpdesk")
        code, log = vt.finish(vt.viewer(view_only, f"wait-frame\ntype root\\n\nsleep 500\n"
                                                   f"type echo {token} > /dev/ttyS0\\n\nsleep 2000\nexit 0\n"))
        assert code == vt.EXIT_OK, log
        with open(dom.serial_log, "rb") as f:
            assert token.encode() not in f.read(), "a view-only viewer's keys reached the guest"
        assert "view-only" in log, "the view-only viewer was not told its input is ignored"
        print("a view-only viewer's input was ignored")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
