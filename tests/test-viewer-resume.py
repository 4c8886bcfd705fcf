#!/usr/bin/python3
"""Integration: session resumption through tandem-linkemu. hostd runs in namespace a, a headless
tandem-viewer in namespace b; the viewer logs in and types a random token in three parts while
the link is cut for 30 s in the middle. After the restore the viewer resumes the same session
(no new ticket): the token reaches the guest's serial log once and in order, and the viewer's
screen then equals hostd's exactly. Second case, with ResumeSeconds=5: an outage longer than
that ends the session cleanly on both sides (hostd logs it and forgets the viewer; the viewer
exits with its connection-failure status). Skips (77) without root, namespaces or TUN."""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostdtest as ht  # noqa: E402
import linkemutest as le  # noqa: E402
import tandemtest as tt  # noqa: E402
import viewertest as vt  # noqa: E402

LINKEMU = sys.argv[1]


def viewer_in(link, ticket, script, args=()):
    fd, path = tempfile.mkstemp(prefix="viewer-script-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(script)
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    cmd = [vt.tool("tandem-viewer"), "--headless", "--timeout", "240", "--script", path, *args, ticket]
    return link.popen("b", cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc, timeout):
    """(exit code, output) of the viewer; on a timeout, it is killed and the assertion shows why."""
    try:
        return vt.finish(proc, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the viewer did not exit within {timeout} s:\n{out}{err}")


def wait_log(hostd, pattern, timeout=60):
    """The first line of hostd's log matching pattern, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(f".*{pattern}.*", hostd.log())
        if m:
            return m.group(0)
        time.sleep(0.2)
    raise TimeoutError(f"no /{pattern}/ in hostd's log within {timeout} s:\n{hostd.log()[-3000:]}")


def viewers(hostd, desktop):
    return [v for v in hostd.status().get("viewers", []) if v.get("desktop") == desktop]


def resume_case(link, dom, keys):
    parts = [os.urandom(3).hex() for _ in range(3)]
    token = "".join(parts)
    with ht.context(vt.NamespacedHostd(dom.name, keys, link).start()) as hostd:
        events = hostd.events()
        shot = os.path.join(dom.dir, "after-resume.ppm")
        # part 1 before the cut, part 2 during it, part 3 after the restore (or queued until
        # the resume, if that takes longer): typed text is never lost or doubled either way.
        script = (f"wait-frame\ntype root\\n\nsleep 1500\ntype echo {parts[0]}\nsleep 6000\ntype {parts[1]}\n"
                  f"sleep 40000\ntype {parts[2]} | tee /dev/ttyS0\\n\nsleep 2000\nwait-still 1500\n"
                  f"save {shot}\nexit 0\n")
        proc = viewer_in(link, hostd.ticket(dom.name), script, args=["--lossless", "--format", "ppm"])
        events.wait_kind("viewer", dom.name)
        session = re.search(r"session ([0-9a-f]{16})\)", wait_log(hostd, r"alice watching")).group(1)
        time.sleep(3)
        link.ctl("cut")
        print(f"link cut for 30 s (session {session})")
        wait_log(hostd, rf"session {session} kept for 180 s", timeout=30)
        assert [v["detached"] for v in viewers(hostd, dom.name)] == [True], hostd.status()
        time.sleep(20)
        link.ctl("restore")
        print("link restored")
        wait_log(hostd, rf"session {session} resumed", timeout=30)
        dom.wait_serial(token, timeout=90)
        tt.virsh("suspend", dom.name)  # a still screen for the comparison
        try:
            code, log = finish(proc, 120)
            assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
            assert "reconnecting" in log and f"resumed session {int(session, 16)}" in log, log
            vt.assert_typed_once(dom, token, *parts)  # echo's output through tee: in order, each once
            vt.assert_screen_is_hostds(shot, hostd, dom)
            assert hostd.log().count("alice watching") == 1, "a second session was opened"
        finally:
            tt.virsh("resume", dom.name)
        print(f"resumed session {session}: token {token} once and in order, screens equal")


def expiry_case(link, dom, keys):
    with ht.context(vt.NamespacedHostd(dom.name, keys, link, viewers_extra="ResumeSeconds=5\n").start()) as hostd:
        events = hostd.events()
        proc = viewer_in(link, hostd.ticket(dom.name), "wait-frame\nsleep 120000\nexit 0\n")
        events.wait_kind("viewer", dom.name)
        session = re.search(r"session ([0-9a-f]{16})\)", wait_log(hostd, r"alice watching")).group(1)
        link.ctl("cut")
        try:
            code, log = finish(proc, 60)
            assert code == vt.EXIT_CONNECTION, f"viewer exited {code}:\n{log}"
            assert "not resumed within 5 s" in log, log
            wait_log(hostd, rf"session {session} ended: not resumed within 5 s", timeout=30)
            assert not viewers(hostd, dom.name), "hostd still lists the viewer"
        finally:
            link.ctl("restore")
        print(f"session {session} ended after ResumeSeconds=5 on both sides")


def main():
    le.require()
    tt.require_image()
    keys = vt.Keys()
    with le.LinkEmu(LINKEMU) as link, tt.Domain("viewer-resume") as dom:
        dom.start()
        dom.wait_serial("login:", timeout=180)
        resume_case(link, dom, keys)
        expiry_case(link, dom, keys)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
