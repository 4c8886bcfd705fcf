#!/usr/bin/python3
"""Integration: org.tandem.Media1 in the demo guest under TCG (image built with TANDEM_GUESTD, so
it has dbus-daemon, tandem-guestd's Media1, tandem-media-send and the clips in
/usr/share/tandem/media made by tandem-media-gen), the real hostd and headless viewers; one boot,
four phases, each asserted from what tandem-media-send prints in the guest:
  1. no viewer connected: "render-locally no-viewer", exit 3;
  2. a viewer decoding media (--media-out): the VP8 clip is redirected; the viewer's frames are
     the reference decode's (tandem-media-decode of the same clip, regenerated here with the
     image's tandem-media-gen command and checked to be the image's bytes): same count, same pts,
     PSNR >= 45 dB each (the minimum is printed);
  3. a viewer offering Opus only (--media-codecs opus): the VP8 clip gets "render-locally
     codec-unsupported"; the Opus clip is redirected and decoded sample-exact against the
     reference (WAV data and pts lines equal);
  4. hostd gone (the agent path down): "render-locally agent-path-down".
The comparing viewers use --transport tcp: the media channel's latest-wins UDP may drop a packet
under load, which the viewer conceals (not the point here)."""

import hashlib
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

import hostdtest as ht
import mediafiles
import tandemtest as tt
import viewertest as vt

GEN, DECODE = sys.argv[1], sys.argv[2]
MEDIA = "/usr/share/tandem/media"
# scripts/build-image.sh's commands for the image's clips.
CLIPS = {"test.ivf": ["vp8", "--seconds", "2", "--size", "320x240"],
         "test.opus": ["opus", "--seconds", "2", "--tone", "440"]}


def serial(dom):
    with open(dom.serial_log, errors="replace") as f:
        return f.read()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def reference(tmp):
    """Regenerates the image's clips and decodes them: {name: (md5, decode dir)}."""
    refs = {}
    for name, args in CLIPS.items():
        clip = os.path.join(tmp, name)
        subprocess.run([GEN, args[0], clip, *args[1:]], check=True, capture_output=True, timeout=120)
        out = os.path.join(tmp, name + ".decoded")
        os.mkdir(out)
        subprocess.run([DECODE, clip, out], check=True, capture_output=True, timeout=120)
        refs[name] = (hashlib.md5(read(clip)).hexdigest(), out)
    return refs


def y4m_frames(path):
    _, size, frames, rest = mediafiles.y4m_frames(read(path))
    assert not rest, f"{path}: {len(rest)} bytes after the last whole frame"
    return size, frames


def psnr(a, b):
    if a == b:
        return math.inf
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    return 10 * math.log10(255 * 255 * len(a) / se) if se else math.inf


def sent(dom, tag, mark):
    """What tandem-media-send printed before `echo MARK-TAG=$?': (redirect|render-locally, the
    stream or reason, exit status)."""
    dom.wait_serial(f"{mark}-{tag}=", timeout=240)
    m = re.search(r"(redirect stream|render-locally) (\S+)\s(?:(?!" + mark + r"-).)*?" + mark + "-" + tag + r"=(\d+)",
                  serial(dom), re.S)
    assert m, f"tandem-media-send ({tag}) said neither:\n{tt.tail(dom.serial_log, 20)}"
    return m.group(1), m.group(2), int(m.group(3))


def send(clip, tag, mark):
    return f"tandem-media-send {MEDIA}/{clip} >/dev/ttyS0 2>&1; echo {mark}-{tag}=$? >/dev/ttyS0"


def media_viewer(hostd, dom, command, out, *args):
    """A headless viewer writing media to out types command in the guest, waits until a stream
    ran and stopped, and leaves; its stderr."""
    script = f"wait-frame\nwait-agent active\ntype {command}\\n\nwait-media-stop\nexit 0\n"
    proc = vt.viewer(hostd.ticket(dom.name), script,
                     args=["--lossless", "--transport", "tcp", "--media-out", out, *args], timeout=600)
    code, log = vt.finish(proc, timeout=400)
    assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
    return log


def started(log, kind, codec):
    starts = re.findall(rf"media: start (\d+) source=guest kind={kind} codec={codec}", log)
    assert len(starts) == 1, f"the viewer started {len(starts)} {codec} streams:\n{log}"
    return starts[0]


def check_video(out, stream, ref):
    (size, frames), (rsize, rframes) = y4m_frames(os.path.join(out, f"stream-{stream}.y4m")), \
        y4m_frames(os.path.join(ref, "stream.y4m"))
    assert size == rsize, f"viewer {size}, reference {rsize}"
    assert len(frames) == len(rframes), f"viewer decoded {len(frames)} frames, the reference {len(rframes)}"
    pts, rpts = read(os.path.join(out, f"stream-{stream}.pts")).split(), read(os.path.join(ref, "stream.pts")).split()
    assert pts == rpts, f"pts differ: viewer {pts[:5]}..., reference {rpts[:5]}..."
    worst = min(psnr(a, b) for a, b in zip(frames, rframes))
    assert worst >= 45, f"a frame at {worst:.1f} dB"
    return len(frames), worst


def check_audio(out, stream, ref):
    wav, rwav = read(os.path.join(out, f"stream-{stream}.wav")), read(os.path.join(ref, "stream.wav"))
    pts, rpts = read(os.path.join(out, f"stream-{stream}.pts")), read(os.path.join(ref, "stream.pts"))
    assert wav[:44] == rwav[:44], f"WAV headers differ: {wav[:44]!r} {rwav[:44]!r}"
    assert len(wav) == len(rwav), f"viewer {len(wav) - 44} bytes of samples, reference {len(rwav) - 44}"
    diff = next((i for i in range(44, len(wav)) if wav[i] != rwav[i]), None)
    assert diff is None, f"samples differ from byte {diff}"
    assert pts == rpts, "pts lines differ"
    return (len(wav) - 44) // 4, len(pts.splitlines())


def main():
    tt.require_image()
    keys = vt.Keys()
    mark = secrets.token_hex(4)
    tmp = tempfile.mkdtemp(prefix="media-guest-")
    try:
        refs = reference(tmp)
        with tt.Domain("media-guest") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
            dom.start(paused=True)
            at_prompt = os.path.join(dom.dir, "at-login-prompt")
            # Phase 1: log in, say the clips' digests, start tandem-media-send 15 s later in the
            # background, and leave: it runs with no viewer connected.
            script = (
                "wait-frame\n"
                "wait-agent active\n"
                f"wait-file {at_prompt}\n"
                "type root\\n\nsleep 1500\n"
                f"type md5sum {MEDIA}/test.ivf {MEDIA}/test.opus >/dev/ttyS0; echo {mark}-md5 >/dev/ttyS0\\n\n"
                f"type (sleep 15; {send('test.ivf', 'one', mark)}) &\\n\nsleep 1500\n"
                "exit 0\n")
            proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"], timeout=600)
            dom.resume()
            dom.wait_serial("login:", timeout=240)
            open(at_prompt, "w").close()
            code, log = vt.finish(proc, timeout=400)
            assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
            dom.wait_serial(f"{mark}-md5", timeout=120)
            text = serial(dom)
            assert "org.tandem.Media1 on the system bus" in text, tt.tail(dom.serial_log, 40)
            for name, (md5, _) in refs.items():
                m = re.search(r"([0-9a-f]{32})\s+" + re.escape(f"{MEDIA}/{name}"), text)
                assert m, f"no digest of {name} from the guest (a clip missing?):\n{tt.tail(dom.serial_log, 10)}"
                assert m.group(1) == md5, f"{name}: the image's is not what {CLIPS[name]} makes here"
            print("the image's clips are the bytes tandem-media-gen makes here")
            how, what, code = sent(dom, "one", mark)
            assert (how, what, code) == ("render-locally", "no-viewer", 3), (how, what, code)
            print("no viewer: render-locally no-viewer, exit 3")

            # Phase 2: a viewer decoding media: the VP8 clip is redirected to it.
            out = os.path.join(tmp, "vp8")
            os.mkdir(out)
            log = media_viewer(hostd, dom, f"{send('test.ivf', 'two', mark)}", out)
            how, what, code = sent(dom, "two", mark)
            assert how == "redirect stream" and code == 0, (how, what, code, tt.tail(dom.serial_log, 10))
            stream = started(log, "video", "vp8")
            assert re.search(rf"media: stop {stream} why=closed", log), log
            frames, worst = check_video(out, stream, refs["test.ivf"][1])
            print(f"viewer: VP8 redirected (guest stream {what}, viewer stream {stream}): {frames} frames as the "
                  f"reference decode, pts kept, PSNR min {worst:.1f} dB")

            # Phase 3: a viewer that offers Opus only: the VP8 clip cannot go to it, the Opus clip
            # does; then (in the background, 30 s on) the VP8 clip again, for phase 4.
            out = os.path.join(tmp, "opus")
            os.mkdir(out)
            log = media_viewer(hostd, dom, f"{send('test.ivf', 'three', mark)}; {send('test.opus', 'four', mark)}; "
                               f"(sleep 30; {send('test.ivf', 'five', mark)}) &", out, "--media-codecs", "opus")
            # Phase 4 at once: hostd gone before the background tandem-media-send starts.
            hostd.stop()
            how, what, code = sent(dom, "three", mark)
            assert (how, what, code) == ("render-locally", "codec-unsupported", 3), (how, what, code)
            print("viewer without VP8: render-locally codec-unsupported, exit 3")
            how, what, code = sent(dom, "four", mark)
            assert how == "redirect stream" and code == 0, (how, what, code, tt.tail(dom.serial_log, 10))
            stream = started(log, "audio", "opus")
            samples, packets = check_audio(out, stream, refs["test.opus"][1])
            print(f"viewer: Opus redirected: {packets} packets, {samples} samples, sample-exact, pts kept")

            how, what, code = sent(dom, "five", mark)
            assert (how, what, code) == ("render-locally", "agent-path-down", 3), (how, what, code)
            print("hostd gone: render-locally agent-path-down, exit 3")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
