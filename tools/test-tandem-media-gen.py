#!/usr/bin/python3
"""tandem-media-gen's command line (issue 7's fixed interface for the guest's test clips): each
codec's container (IVF VP8 with its frame count, Ogg Opus with OpusHead at 48 kHz, Annex B
H.264 starting with a constrained-baseline SPS), the options' effect, the same bytes for the
same arguments, and clear errors for bad values."""
import os
import struct
import subprocess
import sys
import tempfile

GEN = sys.argv[1]
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f" {detail}"))
    if not ok:
        failures.append(name)


def gen(*args):
    p = subprocess.run([GEN, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stderr


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ogg_pages(data):
    off = 0
    while off + 27 <= len(data) and data[off:off + 4] == b"OggS":
        n = data[off + 26]
        lacing = data[off + 27:off + 27 + n]
        size = sum(lacing)
        yield data[off:off + 27], data[off + 27 + n:off + 27 + n + size]
        off += 27 + n + size


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ivf = os.path.join(tmp, "test.ivf")
        code, err = gen("vp8", ivf, "--seconds", "2", "--size", "320x240")
        data = read(ivf) if code == 0 else b""
        check("vp8: IVF", code == 0 and data[:4] == b"DKIF" and data[8:12] == b"VP80", err)
        if data:
            w, h, den, num, frames = struct.unpack("<HHIII", data[12:28])
            check("vp8: 320x240, 60 frames at 30 fps", (w, h, den, num, frames) == (320, 240, 30, 1, 60),
                  str((w, h, den, num, frames)))
            off, count, keys = 32, 0, 0
            while off + 12 <= len(data):
                size, pts = struct.unpack("<IQ", data[off:off + 12])
                keys += (data[off + 12] & 1) == 0  # VP8 frame tag bit 0: 0 = keyframe
                off += 12 + size
                count += 1
            check("vp8: the frames as the header says, a keyframe a second", off == len(data) and count == 60 and keys == 2,
                  f"{count} frames, {keys} keyframes")
        ivf2 = os.path.join(tmp, "again.ivf")
        gen("vp8", ivf2, "--seconds", "2", "--size", "320x240")
        check("vp8: the same arguments, the same bytes", os.path.exists(ivf2) and read(ivf2) == data)

        opus = os.path.join(tmp, "test.opus")
        code, err = gen("opus", opus, "--seconds", "2", "--tone", "440")
        data = read(opus) if code == 0 else b""
        pages = list(ogg_pages(data))
        check("opus: Ogg pages to the end", code == 0 and len(pages) > 50 and
              sum(27 + h[26] + len(b) for h, b in pages) == len(data), err)
        if pages:
            head = pages[0][1]
            check("opus: OpusHead, 48 kHz stereo, then OpusTags", head[:8] == b"OpusHead" and head[9] == 2 and
                  struct.unpack("<I", head[12:16])[0] == 48000 and pages[1][1][:8] == b"OpusTags", repr(head))
            granule = struct.unpack("<q", pages[-1][0][6:14])[0]
            pre_skip = struct.unpack("<H", head[10:12])[0]
            check("opus: 2 s of samples (the last page's granule)", abs(granule - pre_skip - 96000) <= 960,
                  f"granule {granule}, pre-skip {pre_skip}")
            check("opus: first page BOS, last EOS", pages[0][0][5] & 2 and pages[-1][0][5] & 4)

        h264 = os.path.join(tmp, "test.h264")
        code, err = gen("h264", h264, "--seconds", "1", "--size", "160x120", "--fps", "10")
        data = read(h264) if code == 0 else b""
        if code != 0 and "no such encoder" in err:
            print("skip h264: no libx264 here")
        else:
            sps = data.find(b"\x00\x00\x00\x01\x67")
            check("h264: Annex B with an SPS", code == 0 and data[:4] == b"\x00\x00\x00\x01" and sps >= 0, err)
            if sps >= 0:
                profile, constraints = data[sps + 5], data[sps + 6]
                check("h264: constrained baseline (profile 66, constraint_set1)", profile == 66 and constraints & 0x40,
                      f"profile {profile}, constraints {constraints:#x}")
                check("h264: SPS at every keyframe (1 s at 10 fps, a keyframe a second: 1)",
                      data.count(b"\x00\x00\x00\x01\x67") >= 1)

        for args, what in ((["vp8", os.path.join(tmp, "x"), "--size", "321x240"], "an odd width"),
                           (["vp8", os.path.join(tmp, "x"), "--fps", "0"], "fps 0"),
                           (["opus", os.path.join(tmp, "x"), "--tone", "abc"], "a tone that is no number"),
                           (["mp3", os.path.join(tmp, "x")], "an unknown codec"),
                           (["vp8"], "no output")):
            code, err = gen(*args)
            check(f"refuses {what}", code == 1 and "tandem-media-gen" in err + "Usage" and
                  not os.path.exists(os.path.join(tmp, "x")), f"status {code}: {err}")

    if failures:
        print(f"{len(failures)} failed: {', '.join(failures)}")
        sys.exit(1)


main()
