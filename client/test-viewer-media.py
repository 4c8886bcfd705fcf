#!/usr/bin/python3
"""tandem-viewer --headless's media outputs (issue 7's fixed interface) end to end, on the
session test double: its `media=PATH` scenario hands wire media frames written by
fuzz-media-seeds (real VP8, H.264 and Opus packets from tandem-media-gen's code) to the real
client media code, so the command line, the viewer core, the script's wait-media-* commands and
the files and stderr lines of --media-out are the real ones; only hostd is not."""
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

VIEWER, SEEDS = sys.argv[1], sys.argv[2]
failures = []


def env_headless():
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def check(name, ok, detail=""):
    if ok:
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name} {detail}")


def viewer(tmp, media, script, *extra, timeout="20", ticket_extra=""):
    path = os.path.join(tmp, "script.txt")
    with open(path, "w") as f:
        f.write(script)
    out = os.path.join(tmp, "out-" + os.path.basename(media))
    p = subprocess.run([VIEWER, "--headless", "--media-out", out, "--script", path, "--timeout", timeout, *extra,
                        f"fake:media={media},frames=1{ticket_extra}"],
                       capture_output=True, text=True, env=env_headless(), timeout=60)
    return p.returncode, p.stderr, out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        seeds = os.path.join(tmp, "seeds")
        os.mkdir(seeds)
        subprocess.run([SEEDS, seeds], check=True)

        # VP8: 5 frames of 64x48, then hostd's media-stop (why malformed in this seed).
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-frames 5\nwait-media-stop\n")
        check("vp8: the script ends", code == 0, f"status {code}: {err}")
        check("vp8: the start line", "media: start 1 source=guest kind=video codec=vp8 64x48\n" in err, err)
        check("vp8: the stop line", "media: stop 1 why=malformed frames=5\n" in err, err)
        with open(os.path.join(out, "stream-1.y4m"), "rb") as f:
            y4m = f.read()
        header = b"YUV4MPEG2 W64 H48 F30:1 Ip A1:1 C420jpeg\n"
        frame = 6 + 64 * 48 * 3 // 2
        check("vp8: the y4m header", y4m.startswith(header), repr(y4m[:60]))
        check("vp8: 5 frames in the y4m", len(y4m) == len(header) + 5 * frame and
              all(y4m[len(header) + i * frame:][:6] == b"FRAME\n" for i in range(5)), str(len(y4m)))
        with open(os.path.join(out, "stream-1.pts")) as f:
            pts = f.read().split()
        check("vp8: the pts", pts == ["0", "100000", "200000", "300000", "400000"], str(pts))

        # Every other packet lost: fewer frames, and the script still sees the stop.
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8-loss"), "wait-media-stop\n")
        check("vp8 with loss: stops", code == 0 and "media: stop 1 why=malformed frames=" in err, err)

        # H.264 (when this libavcodec has the decoder).
        code, err, out = viewer(tmp, os.path.join(seeds, "h264"), "wait-media-frames 5\n")
        if "codec=h264" in err or code != 0:
            check("h264: 5 frames", code == 0 and os.path.getsize(os.path.join(out, "stream-1.y4m")) ==
                  len(header) + 5 * frame, err)

        # Opus: 0.5 s in 20 ms packets (and the encoder's tail), stereo 48 kHz.
        code, err, out = viewer(tmp, os.path.join(seeds, "opus"), "wait-media-audio 400\nwait-media-stop\n")
        check("opus: the script ends", code == 0, f"status {code}: {err}")
        check("opus: the start line",
              "media: start 1 source=guest kind=audio codec=opus 64x48 rate=48000 channels=2\n" in err, err)
        stop = re.search(r"^media: stop 1 why=malformed frames=(\d+)$", err, re.M)
        check("opus: the stop line", stop is not None, err)
        with open(os.path.join(out, "stream-1.wav"), "rb") as f:
            wav = f.read()
        riff, size, wave, fmt, _, pcm, ch, rate, _, _, bits, data, data_len = struct.unpack("<4sI4s4sIHHIIHH4sI", wav[:44])
        check("opus: the wav header", (riff, wave, fmt, data, pcm, ch, rate, bits) ==
              (b"RIFF", b"WAVE", b"fmt ", b"data", 1, 2, 48000, 16) and size == 36 + data_len and
              data_len == len(wav) - 44, str((riff, size, ch, rate, data_len, len(wav))))
        with open(os.path.join(out, "stream-1.pts")) as f:
            lines = [l.split() for l in f.read().splitlines()]
        check("opus: a pts line per packet (the stop's count), samples adding up to the wav's",
              stop and len(lines) == int(stop.group(1)) and len(lines) >= 25 and sum(int(l[1]) for l in lines) * 4 == data_len, str(lines[:3]))

        # Loss: every other VP8 packet missing -> keyframe requests go to hostd (at most 1/s).
        log = os.path.join(tmp, "input.log")
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8-loss"), "wait-media-stop\n", ticket_extra=f",input-log={log}")
        with open(log) as f:
            lines = f.read().splitlines()
        check("vp8 with loss: a keyframe request", lines.count("keyframe-request 1") == 1, str(lines))

        # --mic-wav: hostd's mic-start -> the file's second of tone as 20 ms Opus mic-packets.
        wav = os.path.join(tmp, "tone.wav")
        samples = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(16000))
        with open(wav, "wb") as f:
            f.write(b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " +
                    struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", len(samples)) + samples)
        mic = os.path.join(tmp, "mic-start")
        payload = struct.pack("<IBIB", 0x80000002, 0, 48000, 1)
        with open(mic, "wb") as f:
            f.write(struct.pack("<IHBB", len(payload), 0x75, 7, 0) + payload)
        log = os.path.join(tmp, "mic.log")
        code, err, out = viewer(tmp, mic, "sleep 1500\n", "--mic-wav", wav, ticket_extra=f",input-log={log}")
        with open(log) as f:
            lines = [l.split() for l in f.read().splitlines() if l.startswith("mic-packet")]
        check("--mic-wav: a microphone source, so hostd's mic-start is taken and turns it on",
              code == 0 and "microphone on" in err, err)
        check("--mic-wav: 50 mic-packets of 20 ms in order (the whole second, once)",
              len(lines) == 50 and all(l[1] == str(0x80000002) and l[2] == str(i) and l[3] == str(i * 20000)
                                       for i, l in enumerate(lines)), str(lines[:3]) + f" ... {len(lines)}")

        # The waits time out like the others (--timeout: status 5).
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-frames 100\n", timeout="1.5")
        check("wait-media-frames past what comes: timeout", code == 5, f"status {code}")
        # Script and option errors are usage errors.
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-audio soon\n")
        check("a bad wait-media-audio: usage", code == 1 and "wait-media-audio" in err, err)
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-stop\n", "--mic-wav",
                                os.path.join(tmp, "missing.wav"))
        check("--mic-wav of a missing file: usage", code == 1 and "missing.wav" in err, err)
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-stop\n", "--media-codecs", "opus,vp9")
        check("--media-codecs with an unknown codec: usage", code == 1 and "opus,vp9" in err, err)
        code, err, out = viewer(tmp, os.path.join(seeds, "vp8"), "wait-media-frames 1\nexit 0\n", "--media-codecs", "vp8")
        check("--media-codecs vp8: the VP8 stream decodes", code == 0 and "codec=vp8" in err, err)

    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        sys.exit(1)


main()
