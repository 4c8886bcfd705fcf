#!/usr/bin/env python3
"""Provisioning with the real libvirtd and the demo guest: a template domain (the demo desktop
with a qcow2 disk in a directory pool, and a network interface) -> tandem-hang-watch provision
-> a desktop with its own name, UUID, MAC, serial log and a copy-on-write overlay backed by the
template's disk (made by libvirtd through the storage API) -> start, reset (it boots again),
destroy, remove (domain and overlay gone, template and its disk untouched)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tandemtest as tt  # noqa: E402

BUILD = os.environ.get("TANDEM_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
TOOL = os.path.join(BUILD, "broker", "tandem-hang-watch")


def tool(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=180)
    if p.returncode != 0:
        raise RuntimeError(f"tandem-hang-watch {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def wait_count(path, text, n, timeout=120):
    t0 = time.monotonic()
    while True:
        try:
            with open(path, errors="replace") as f:
                if f.read().count(text) >= n:
                    return
        except FileNotFoundError:
            pass
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{text!r} not {n} times in {path}:\n{tt.tail(path)}")
        time.sleep(0.2)


def qemu_img_info(path):
    p = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True,
                       text=True, check=True)
    return json.loads(p.stdout)


def main():
    tt.require_image()
    if not os.access(TOOL, os.X_OK):
        print(f"skip: {TOOL} not built")
        sys.exit(tt.SKIP)
    if not shutil.which("qemu-img"):
        print("skip: qemu-img missing (./tandem deps installs qemu-utils)")
        sys.exit(tt.SKIP)

    pid = os.getpid()
    pool = f"tandem-test-pool-{pid}"
    template = f"tandem-test-tmpl-{pid}"
    desktops = [f"tandem-test-desk{i}-{pid}" for i in (1, 2)]
    d = tempfile.mkdtemp(prefix="tandem-test-broker-libvirt.")
    os.chmod(d, 0o755)
    base = os.path.join(d, "tmpl.qcow2")
    try:
        tt.virsh("pool-create-as", pool, "dir", "--target", d)
        tt.virsh("vol-create-as", pool, "tmpl.qcow2", "64M", "--format", "qcow2")

        xml = tt.render_domain(template, "dbus", os.path.join(d, "serial.log"))
        xml = xml.replace("<devices>", "<devices>\n"
                          f"    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                          f"<source file='{base}'/><target dev='vda' bus='virtio'/></disk>\n"
                          "    <interface type='user'><model type='virtio'/></interface>", 1)
        path = os.path.join(d, "template.xml")
        with open(path, "w") as f:
            f.write(xml)
        tt.virsh("define", path)
        tmpl_uuid = tt.virsh("domuuid", template).strip()

        made = [json.loads(tool("provision", tt.URI, template, name)) for name in desktops]
        for m, name in zip(made, desktops):
            overlay = os.path.join(d, f"{name}-disk0.qcow2")
            assert m["overlays"] == [overlay], m
            assert m["uuid"] != tmpl_uuid and m["mac"].startswith("52:54:00:"), m
            info = qemu_img_info(overlay)
            assert info["format"] == "qcow2", info
            assert info["backing-filename"] == base, info
            root = ET.fromstring(tt.virsh("dumpxml", "--inactive", name))
            assert root.findtext("name") == name
            assert root.findtext("uuid") == m["uuid"]
            assert root.find("devices/interface/mac").get("address") == m["mac"]
            assert root.find("devices/disk/source").get("file") == overlay
            assert root.find("devices/serial/source").get("path") == os.path.join(d, f"{name}.log")
        assert made[0]["uuid"] != made[1]["uuid"] and made[0]["mac"] != made[1]["mac"]
        # The name is taken now.
        p = subprocess.run([TOOL, "provision", tt.URI, template, desktops[0]], capture_output=True, text=True)
        assert p.returncode == 1 and "File exists" in p.stderr, p.stderr

        name, log = desktops[0], os.path.join(d, f"{desktops[0]}.log")
        tool("power", tt.URI, name, "start")
        wait_count(log, "login:", 1)
        tool("power", tt.URI, name, "reset")  # virDomainReset: same QEMU, a second boot
        wait_count(log, "login:", 2)
        assert tt.virsh("domstate", name).strip() == "running"
        print(f"{name}: booted from the template with an overlay, reset, booted again")
        tool("power", tt.URI, name, "destroy")
        assert tt.virsh("domstate", name).strip() == "shut off"

        for name in desktops:
            tool("remove", tt.URI, name)
            assert name not in tt.virsh("list", "--all", "--name").split()
            assert not os.path.exists(os.path.join(d, f"{name}-disk0.qcow2"))
        assert os.path.exists(base) and qemu_img_info(base)["format"] == "qcow2"
        assert tt.virsh("domuuid", template).strip() == tmpl_uuid
        print("removed: domains and overlays gone, template and its disk kept")
    finally:
        for name in desktops + [template]:
            tt.virsh("destroy", name, check=False)
            tt.virsh("undefine", name, check=False)
        tt.virsh("pool-destroy", pool, check=False)
        shutil.rmtree(d, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
