#!/usr/bin/python3
"""tandem-media-decode, the reference decode the media end-to-end tests compare the viewer's
--media-out files with: a VP8 clip gives one YUV4MPEG2 frame per IVF frame at the clip's size with
the IVF's pts (us) from 0; an Opus clip gives a WAV at 48 kHz with every packet's 20 ms (pre-skip
kept, as the viewer plays it), a pts line per packet, and the tone's frequency; the same clip
decodes to the same bytes; a file that is no clip is refused."""
import math
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import mediafiles  # noqa: E402

DECODE, GEN = sys.argv[1], sys.argv[2]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f" {detail}"))
    if not ok:
        failures.append(name)


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ivf = os.path.join(tmp, "test.ivf")
        run(GEN, "vp8", ivf, "--seconds", "1", "--size", "160x120", "--fps", "25")
        out = os.path.join(tmp, "vp8")
        os.mkdir(out)
        code, stdout, err = run(DECODE, ivf, out)
        check("vp8: decoded", code == 0 and stdout.strip() == "frames 25", f"{code} {stdout} {err}")
        if code == 0:
            header, (w, h), frames, rest = mediafiles.y4m_frames(read(os.path.join(out, "stream.y4m")))
            check("vp8: y4m as the viewer writes it", header == b"YUV4MPEG2 W160 H120 F30:1 Ip A1:1 C420jpeg",
                  header)
            check("vp8: 25 whole frames of 160x120", (w, h, len(frames), rest) == (160, 120, 25, b""),
                  f"{w}x{h} {len(frames)} frames, {len(rest)} bytes left")
            check("vp8: the pattern moves", len(set(frames)) > 20, f"{len(set(frames))} distinct frames")
            pts = read(os.path.join(out, "stream.pts")).decode().split()
            check("vp8: pts of 25 fps from 0", pts == [str(i * 40000) for i in range(25)], pts[:4])
            again = os.path.join(tmp, "again")
            os.mkdir(again)
            run(DECODE, ivf, again)
            check("vp8: the same bytes again",
                  read(os.path.join(out, "stream.y4m")) == read(os.path.join(again, "stream.y4m")))

        opus = os.path.join(tmp, "test.opus")
        run(GEN, "opus", opus, "--seconds", "1", "--tone", "1000", "--channels", "1")
        out = os.path.join(tmp, "opus")
        os.mkdir(out)
        code, stdout, err = run(DECODE, opus, out)
        check("opus: decoded", code == 0 and stdout.startswith("packets "), f"{code} {stdout} {err}")
        if code == 0:
            wav = read(os.path.join(out, "stream.wav"))
            riff, size, fmt, _, audio, ch, rate, _, _, bits, data, dsize = struct.unpack("<4sI8sIHHIIHH4sI", wav[:44])
            check("opus: WAV s16le 48 kHz mono", (riff, fmt, audio, ch, rate, bits, data) ==
                  (b"RIFF", b"WAVEfmt ", 1, 1, 48000, 16, b"data"), (ch, rate, bits))
            check("opus: WAV sizes", dsize == len(wav) - 44 and size == len(wav) - 8, (dsize, len(wav)))
            lines = [tuple(map(int, l.split())) for l in read(os.path.join(out, "stream.pts")).decode().splitlines()]
            check("opus: a pts line per 20 ms packet", lines and all(l == (i * 20000, 960) for i, l in enumerate(lines)),
                  lines[:3])
            check("opus: the samples the pts lines say", dsize == 2 * sum(n for _, n in lines), (dsize, len(lines)))
            check("opus: a second or a packet more", 48000 <= dsize // 2 <= 48000 + 2 * 960, dsize // 2)
            s = struct.unpack(f"<{dsize // 2}h", wav[44:])[4800:43200]  # 0.1 s .. 0.9 s
            ups = sum(1 for a, b in zip(s, s[1:]) if a < 0 <= b)
            hz = ups / (len(s) / 48000)
            check("opus: the 1000 Hz tone", abs(hz - 1000) < 10, hz)
            check("opus: loud enough", max(s) > 3000, max(s))

        junk = os.path.join(tmp, "junk")
        with open(junk, "wb") as f:
            f.write(b"not a clip at all" * 10)
        code, _, err = run(DECODE, junk, tmp)
        check("junk: refused with the reason", code == 1 and "not IVF VP8" in err, err)
        code, _, err = run(DECODE, ivf, os.path.join(tmp, "nowhere"))
        check("no such OUTDIR: refused", code == 1 and "Cannot create" in err, err)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
