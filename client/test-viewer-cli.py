#!/usr/bin/python3
"""tandem-viewer's command line, on the session test double (test-fake-session.h): option
values and their messages, the exit statuses, ticket files, --out, and SIGTERM."""
import os
import signal
import subprocess
import sys
import tempfile
import time

VIEWER = sys.argv[1]
failures = []


def env_headless():
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def run(*args, stdin=None, timeout=60):
    p = subprocess.run([VIEWER, *args], capture_output=True, text=True, env=env_headless(),
                       input=stdin, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect(name, args, status, stderr_has=None, stdout_has=None, stdin=None):
    code, out, err = run(*args, stdin=stdin)
    ok = code == status
    if stderr_has is not None and stderr_has not in err:
        ok = False
    if stdout_has is not None and stdout_has not in out:
        ok = False
    if not ok:
        failures.append(name)
        print(f"FAIL {name}: status {code} (want {status})\n  stderr: {err!r}\n  want in stderr: {stderr_has!r}"
              f"\n  want in stdout: {stdout_has!r}")
    else:
        print(f"ok   {name}")
    return code, out, err


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    tmp = tempfile.mkdtemp(prefix="test-viewer-cli.")
    script = os.path.join(tmp, "script.txt")

    # help and usage errors: status 1 and one message quoting the bad value
    expect("help", ["--help"], 0, stdout_has="Exit status:")
    expect("help lists 5", ["--help"], 0, stdout_has="5  timeout")
    expect("quality abc", ["--quality", "abc", "fake:"], 1, "Invalid quality `abc' (1-100)")
    expect("quality 0", ["--quality", "0", "fake:"], 1, "Invalid quality `0' (1-100)")
    expect("quality 101", ["--quality", "101", "fake:"], 1, "Invalid quality `101' (1-100)")
    expect("port", ["--host", "h", "--port", "70000", "fake:"], 1, "Invalid port `70000' (1-65535)")
    expect("host alone", ["--host", "h", "fake:"], 1, "--host and --port go together")
    expect("format", ["--format", "jpg", "fake:"], 1, "Invalid format `jpg' (png or ppm)")
    expect("wire log", ["--wire-log", "", "fake:"], 1, "Invalid wire log `'")
    for bad in ("maybe", "0x10", "10x", "x10", "20000x10", "10x10x10"):
        expect(f"resize {bad}", ["--resize", bad, "fake:"], 1, f"Invalid resize `{bad}' (off, on or WxH, e.g. 1280x800)")

    # the agent: its state said on stderr as it changes; --resize WxH sent once welcomed (headless)
    log = os.path.join(tmp, "agent.log")
    agent_script = os.path.join(tmp, "agent.txt")
    write(agent_script, "wait-agent active\nwait-agent none\n")
    code, _, err = expect("agent lines", ["--timeout", "30", "--script", agent_script, "--resize", "1280x800",
                                          f"fake:frames=3,agent=3c,agent-lost-after=2,input-log={log}"], 0,
                          "tandem-viewer: agent: active (clipboard, windows, resize)")
    if "tandem-viewer: agent: none (hypervisor path: heartbeat lost)" not in err:
        failures.append("agent lost line")
        print(f"FAIL agent lost line: {err}")
    else:
        print("ok   agent lost line")
    with open(log) as f:
        lines = f.read().splitlines()
    if "resize 1280 800" not in lines:
        failures.append("resize WxH")
        print(f"FAIL resize WxH: {lines}")
    else:
        print("ok   --resize WxH sent once welcomed")
    write(agent_script, "wait-agent none\n")
    expect("no agent line", ["--timeout", "30", "--script", agent_script, "fake:frames=2,agent=0"], 0,
           "tandem-viewer: agent: none (hypervisor path: agent closed)")
    expect("interval", ["--filmstrip-interval", "1s", "fake:"], 1, "Invalid filmstrip interval `1s'")
    expect("timeout", ["--timeout", "soon", "fake:"], 1, "Invalid timeout `soon'")
    expect("timeout 0", ["--timeout", "0", "fake:"], 1, "Invalid timeout `0'")
    expect("no ticket", [], 1, "No ticket")
    expect("two tickets", ["--ticket-file", "/dev/null", "fake:"], 1, "Give the ticket once")
    expect("extra argument", ["fake:", "more"], 1, "Unexpected argument `more'")
    expect("unknown option", ["--frobnicate", "fake:"], 1, "frobnicate")
    expect("bad ticket", ["not-a-ticket"], 1, "Invalid ticket")
    write(script, "wait-frame\n\ntpye root\n")
    expect("script error", ["--script", script, "fake:"], 1, f"{script}:3: unknown command `tpye'")
    expect("script missing", ["--script", os.path.join(tmp, "none.txt"), "fake:"], 1, "none.txt")

    # ticket files
    ticket_file = os.path.join(tmp, "ticket")
    write(script, "wait-frame\nexpect-mode 64 48\n")
    write(ticket_file, "  fake:frames=1\n\n")
    expect("ticket file", ["--script", script, "--ticket-file", ticket_file], 0, "running headless")
    expect("ticket stdin", ["--script", script, "--ticket-file", "-"], 0, stdin="fake:frames=1\n")
    write(ticket_file, "\n")
    expect("empty ticket file", ["--ticket-file", ticket_file], 1, "empty")
    expect("missing ticket file", ["--ticket-file", os.path.join(tmp, "nope")], 1, "No such file")

    # exit statuses
    expect("done", ["--script", script, "fake:frames=1"], 0)
    expect("rejected", ["--script", script, "fake:reject=4"], 2, "ticket-expired (reject code 4)")
    expect("refused", ["--script", script, "fake:fail=1"], 3, "Connection refused")
    expect("dropped", ["--script", script, "fake:frames=1,drop-after=1"], 3, "Connection failed")
    write(script, "wait-frame\nexpect-mode 640 480\n")
    expect("expect fails", ["--script", script, "fake:frames=1"], 4,
           f"{script}:2: expect-mode failed: expected 640x480, the mode is 64x48")
    expect("timeout", ["--timeout", "0.3", "fake:hang=1"], 5, "Timed out")
    # the connection quality indicator: said at the start and when it changes, and in the summary
    code, _, err = expect("link", ["fake:frames=60,interval=100,slow-after=25,bye-after=60"], 3,
                          "link: tcp, good (rtt 20.0 ms, loss 0.0%)")
    if "link: tcp, poor (rtt 400.0 ms, loss 6.0%)" not in err or "link summary: tcp, poor" not in err \
            or err.count("link: tcp, good") != 1:
        failures.append("link changes")
        print(f"FAIL link changes: {err!r}")
    write(script, "exit 42\n")
    expect("exit code", ["--script", script, "fake:frames=1"], 42)

    # options reach the session; script input reaches it too
    log = os.path.join(tmp, "input.log")
    write(script, "wait-frame\ntype Hi\nclick left\n")
    expect("options", ["--script", script, "--host", "example", "--port", "7443", "--quality", "50",
                       "--lossless", "--insecure", f"fake:frames=1,input-log={log}"], 0)
    with open(log) as f:
        lines = f.read().splitlines()
    want = ["connect host=example port=7443 quality=50 lossless=1 insecure=1",
            "key 0x2a down", "key 0x23 down", "key 0x23 up", "key 0x2a up", "key 0x17 down", "key 0x17 up",
            "button 0 down", "button 0 up"]
    if lines != want:
        failures.append("input log")
        print(f"FAIL input log: {lines}")
    else:
        print("ok   input log")

    # --out: a filmstrip of PPM frames (every frame with interval 0) and last.ppm
    out = os.path.join(tmp, "out")
    write(script, "wait-still 300\n")
    expect("filmstrip", ["--script", script, "--out", out, "--format", "ppm", "--filmstrip-interval", "0",
                         "fake:frames=3,interval=5"], 0)
    names = sorted(os.listdir(out))
    if names != ["frame-00000.ppm", "frame-00001.ppm", "frame-00002.ppm", "last.ppm"]:
        failures.append("filmstrip files")
        print(f"FAIL filmstrip files: {names}")
    else:
        print("ok   filmstrip files")
    with open(os.path.join(out, "last.ppm"), "rb") as f:
        if not f.read().startswith(b"P6\n64 48\n255\n"):
            failures.append("last.ppm")
            print("FAIL last.ppm header")

    # SIGTERM: a clean stop, status 0, last.png written
    out2 = os.path.join(tmp, "out2")
    p = subprocess.Popen([VIEWER, "--out", out2, "fake:frames=2"], env=env_headless(),
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(out2, "frame-00000.png")) and time.monotonic() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    code = p.wait(timeout=30)
    err = p.stderr.read()
    if code != 0 or not os.path.exists(os.path.join(out2, "last.png")) or "signal 15" not in err:
        failures.append("sigterm")
        print(f"FAIL sigterm: status {code}, stderr {err!r}, files {os.listdir(out2)}")
    else:
        print("ok   sigterm")

    subprocess.run(["rm", "-rf", tmp], check=True)
    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
