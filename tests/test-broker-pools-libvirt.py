#!/usr/bin/env python3
"""Pool upkeep on the real libvirtd with the demo guest as the template (a qcow2 disk in a
directory pool, so each desktop gets a copy-on-write overlay made by libvirtd): a broker with
Libvirt=yes keeps a floating pool's min_ready desktop, which boots to the login prompt from the
template; a reported logoff resets it to the template (removed, provisioned anew with a fresh
overlay, same MAC, new UUID) and it boots again."""

import json
import os
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tandemtest as tt  # noqa: E402
from brokertest import Broker  # noqa: E402


def wait(what, pred, timeout=120, step=0.2):
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


def ok(r, status=200):
    assert r.status == status, r
    return r.json


def main():
    tt.require_image()
    if not shutil.which("qemu-img"):
        print("skip: qemu-img missing (./tandem deps installs qemu-utils)")
        sys.exit(tt.SKIP)
    pid = os.getpid()
    spool, template, pool = f"tandem-test-ppool-{pid}", f"tandem-test-ptmpl-{pid}", f"tp{pid}"
    name = f"{pool}-001"
    d = tempfile.mkdtemp(prefix="tandem-test-broker-pools-libvirt.")
    os.chmod(d, 0o755)
    base, log = os.path.join(d, "tmpl.qcow2"), os.path.join(d, f"{name}.log")
    b = None
    try:
        tt.virsh("pool-create-as", spool, "dir", "--target", d)
        tt.virsh("vol-create-as", spool, "tmpl.qcow2", "64M", "--format", "qcow2")
        xml = tt.render_domain(template, "dbus", os.path.join(d, "serial.log"))
        xml = xml.replace("<devices>", "<devices>\n"
                          f"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                          f"<source file='{base}'/><target dev='vda' bus='virtio'/></disk>\n"
                          "    <interface type='user'><model type='virtio'/></interface>", 1)
        path = os.path.join(d, "template.xml")
        with open(path, "w") as f:
            f.write(xml)
        tt.virsh("define", path)

        b = Broker(plain=True, extra="Libvirt=yes\nPoolCheckSeconds=1\nReportMaxAge=3600\n").start()
        ok(b.request("POST", "/v1/hosts", {"name": "local", "libvirt_uri": tt.URI, "address": "127.0.0.1:7443",
                                           "capacity": 4}))
        ok(b.request("POST", "/v1/hosts/local/report", {"domains": []}))
        ok(b.request("POST", "/v1/users", {"name": "alice"}), 201)
        t0 = time.monotonic()
        ok(b.request("POST", "/v1/pools", {"name": pool, "kind": "floating", "template": template,
                                           "min_ready": 1, "max_size": 1}), 201)
        wait("ready", lambda: ok(b.request("GET", f"/v1/pools/{pool}"))["ready"] == 1)
        t_ready = time.monotonic() - t0
        [desk] = ok(b.request("GET", f"/v1/desktops?pool={pool}"))["items"]
        overlay = os.path.join(d, f"{name}-disk0.qcow2")
        assert desk["domain"] == name and desk["overlays"] == [overlay], desk
        root = ET.fromstring(tt.virsh("dumpxml", "--inactive", name))
        assert root.findtext("uuid") == desk["uuid"]
        assert root.find("devices/interface/mac").get("address") == desk["mac"]
        assert tt.virsh("domstate", name).strip() == "running"
        t_login = tt.wait_for_text(log, "login:", timeout=180)
        print(f"{name}: provisioned and started in {t_ready:.1f} s, at its login prompt {t_login:.1f} s later")

        # alice takes it and logs off: reset to the template, booted again.
        a = ok(b.request("POST", f"/v1/pools/{pool}/connect", {"user": "alice"}))["desktop"]
        assert a["domain"] == name
        os.unlink(log)  # the old QEMU writes to the unlinked file; the new one makes a new one
        ok(b.request("POST", "/v1/hosts/local/report", {"logoffs": [{"domain": name, "user": "alice"}]}))
        after = wait("reset to template", lambda: (lambda x: x if x["ready"] and x["uuid"] != desk["uuid"] else None)(
            ok(b.request("GET", f"/v1/desktops/{desk['id']}"))))
        assert after["mac"] == desk["mac"] and after["assigned_user"] is None, after
        con = b.db()
        [ev] = [json.loads(e) for (e,) in con.execute("SELECT evidence FROM events WHERE action = 'reset-to-template'")]
        con.close()
        assert ev["cause"] == "logoff" and ev["mode"] == "remake" and ev["overlays"] == [overlay], ev
        assert os.path.exists(overlay)
        t_login = tt.wait_for_text(log, "login:", timeout=180)
        print(f"{name}: reset to its template after alice's logoff, at its login prompt again in {t_login:.1f} s")

        print("ok")
    except BaseException:
        if b:
            print(b.tail(40))
        raise
    finally:
        if b:
            b.cleanup()
        for n in (name, template):
            tt.virsh("destroy", n, check=False)
            tt.virsh("undefine", n, check=False)
        tt.virsh("pool-destroy", spool, check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
