"""Reading the viewer's --media-out files (and tandem-media-decode's, the same format)."""


def y4m_frames(data):
    """A YUV4MPEG2 C420 file's bytes -> (header line, (width, height), [frame bytes], bytes left
    after the last whole frame)."""
    header, _, rest = data.partition(b"\n")
    fields = dict((f[:1], f[1:]) for f in header.split(b" ")[1:])
    w, h = int(fields[b"W"]), int(fields[b"H"])
    size = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    frames = []
    while rest.startswith(b"FRAME\n"):
        frames.append(rest[6:6 + size])
        rest = rest[6 + size:]
    return header, (w, h), frames, rest
