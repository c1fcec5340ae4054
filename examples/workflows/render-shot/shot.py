#!/usr/bin/env python3
"""A tiny stand-in for a renderer, a compositor and an encoder, for examples/workflows/render-shot.yaml.

  shot.py render FIRST LAST [--scale S]   frames FIRST..LAST -> out/render/N.ppm
  shot.py composite FRAME                 out/render/N.ppm -> out/comp/N.ppm (graded, titled)
  shot.py encode                          out/comp/*.ppm -> out/shot.bin + its SHA-256
Only the Python standard library; images are binary PPM so any viewer opens them.
"""
import hashlib
import math
import os
import sys
import time

W, H = 64, 36
OUT = os.environ.get("SHOT_OUT", "out")


def write_ppm(path, w, h, pixels):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"P6 %d %d 255\n" % (w, h))
        f.write(bytes(pixels))
    os.replace(tmp, path)  # never a half-written frame


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    header, _, body = data.partition(b"\n")
    _, w, h, _ = header.split()
    return int(w), int(h), bytearray(body)


def render(first, last, scale):
    w, h = int(W * scale), int(H * scale)
    folder = os.path.join(OUT, "preview" if scale < 1 else "render")
    os.makedirs(folder, exist_ok=True)
    for frame in range(first, last + 1):
        t = frame / 24.0
        cx, cy = w * (0.2 + 0.6 * t), h * (0.5 + 0.25 * math.sin(t * 6.28))
        px = bytearray()
        for y in range(h):
            for x in range(w):
                d = math.hypot(x - cx, y - cy) / (0.25 * h)
                glow = max(0.0, 1.0 - d)
                px += bytes((int(30 + 200 * glow), int(40 + 120 * glow * t + 60 * y / h),
                             int(90 + 160 * (1 - glow) * x / w)))
        write_ppm(os.path.join(folder, "%d.ppm" % frame), w, h, px)
        time.sleep(0.02)  # the "render time"
    print("rendered frames %d-%d at %dx%d" % (first, last, w, h))


def composite(frame):
    w, h, px = read_ppm(os.path.join(OUT, "render", "%d.ppm" % frame))
    grade = bytes(min(255, int(255 * (v / 255.0) ** 0.8)) for v in range(256))  # a warm lift
    px = bytearray(bytes(px).translate(grade))
    for x in range(w):  # a letterbox: black bars top and bottom
        for y in list(range(3)) + list(range(h - 3, h)):
            px[3 * (y * w + x):3 * (y * w + x) + 3] = b"\0\0\0"
    os.makedirs(os.path.join(OUT, "comp"), exist_ok=True)
    write_ppm(os.path.join(OUT, "comp", "%d.ppm" % frame), w, h, px)
    print("composited frame %d" % frame)


def encode():
    folder = os.path.join(OUT, "comp")
    frames = sorted((f for f in os.listdir(folder) if f.endswith(".ppm")),
                    key=lambda f: int(f[:-4]))  # in frame order
    digest = hashlib.sha256()
    with open(os.path.join(OUT, "shot.bin"), "wb") as out:
        for name in frames:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            out.write(data)
            digest.update(data)
    with open(os.path.join(OUT, "shot.sha256"), "w") as f:
        f.write(digest.hexdigest() + "  shot.bin\n")
    print("encoded %d frames into %s/shot.bin, sha256 %s" % (len(frames), OUT, digest.hexdigest()[:16]))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "render":
        scale = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--scale" else 1.0
        render(int(sys.argv[2]), int(sys.argv[3]), scale)
    elif cmd == "composite":
        composite(int(sys.argv[2]))
    elif cmd == "encode":
        encode()
    else:
        sys.exit("unknown step " + cmd)
