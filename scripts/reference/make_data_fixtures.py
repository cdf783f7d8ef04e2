#!/usr/bin/env python3
"""Writes the tiny fixtures of Tests/DatasetsTests/Fixtures (a few KB in all).

PNGs are written by hand (zlib + struct) so every colour type and bit depth is exactly what the
name says; Pillow then reads each one back as a cross-check. JPEGs are encoded by Pillow, and the
values Pillow decodes are stored as the reference (the Swift reader must agree within a small
tolerance: JPEG decoders may round differently). Expected resize results come from Pillow's
BILINEAR resize (torchvision's Resize on PIL images), which Sources/Datasets/Resampling.swift
follows. Run with: /work/venv/bin/python scripts/reference/make_data_fixtures.py
"""
import gzip
import json
import os
import shutil
import struct
import zlib

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "DatasetsTests", "Fixtures")


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bytes(rows, width, height, bit_depth, colour_type, palette=None, transparency=None):
    """rows: list of raw scanline byte strings (without filter bytes)."""
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(palette))
    if transparency is not None:
        out += chunk(b"tRNS", bytes(transparency))
    out += chunk(b"IDAT", zlib.compress(raw, 9))
    out += chunk(b"IEND", b"")
    return out


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    rng = np.random.default_rng(2020)
    expected = {"pillow": PIL.__version__, "images": {}}
    images = os.path.join(ROOT, "images")

    def record(name, pixels):
        h, w, c = pixels.shape
        expected["images"][name] = {"width": w, "height": h, "channels": c, "pixels": pixels.reshape(-1).tolist()}

    # 8-bit grey, grey + alpha, RGB, RGBA: 7x5 random pixels (odd width checks row strides).
    for name, colour_type, c in [("grey.png", 0, 1), ("grey_alpha.png", 4, 2), ("rgba.png", 6, 4)]:
        px = rng.integers(0, 256, size=(5, 7, c), dtype=np.uint8)
        write(os.path.join(images, name), png_bytes([r.tobytes() for r in px], 7, 5, 8, colour_type))
        record(name, px)
    # RGB, 20x12: also the source of the resize + centre-crop reference.
    rgb = rng.integers(0, 256, size=(12, 20, 3), dtype=np.uint8)
    write(os.path.join(images, "rgb.png"), png_bytes([r.tobytes() for r in rgb], 20, 12, 8, 2))
    record("rgb.png", rgb)
    # Palette with transparency: decodes to RGBA.
    palette = rng.integers(0, 256, size=(4, 3), dtype=np.uint8)
    alpha = np.array([255, 128, 0, 255], dtype=np.uint8)
    idx = rng.integers(0, 4, size=(5, 6), dtype=np.uint8)
    write(os.path.join(images, "nested", "palette.png"),
          png_bytes([r.tobytes() for r in idx], 6, 5, 8, 3, palette.reshape(-1), alpha))
    record("nested/palette.png", np.concatenate([palette[idx], alpha[idx][..., None]], axis=2))
    # 16-bit grey and RGB: the reader keeps the high byte.
    g16 = rng.integers(0, 65536, size=(4, 5, 1), dtype=np.uint16)
    write(os.path.join(images, "grey16.png"), png_bytes([r.astype(">u2").tobytes() for r in g16], 5, 4, 16, 0))
    record("grey16.png", (g16 >> 8).astype(np.uint8))
    c16 = rng.integers(0, 65536, size=(4, 5, 3), dtype=np.uint16)
    write(os.path.join(images, "nested", "deeper", "rgb16.png"),
          png_bytes([r.astype(">u2").tobytes() for r in c16], 5, 4, 16, 2))
    record("nested/deeper/rgb16.png", (c16 >> 8).astype(np.uint8))
    # 1-bit grey: 0 -> 0, 1 -> 255.
    bits = rng.integers(0, 2, size=(3, 10), dtype=np.uint8)
    write(os.path.join(images, "grey1.png"), png_bytes([np.packbits(r).tobytes() for r in bits], 10, 3, 1, 0))
    record("grey1.png", (bits * 255)[..., None].astype(np.uint8))

    # Cross-check the hand-written PNGs with Pillow where its modes map one to one.
    for name in ["grey.png", "rgb.png", "rgba.png", "grey_alpha.png"]:
        with Image.open(os.path.join(images, name)) as im:
            got = np.asarray(im)
        want = np.array(expected["images"][name]["pixels"], dtype=np.uint8).reshape(got.shape)
        assert (got == want).all(), name

    # JPEGs from smooth gradients (little ringing), stored with Pillow's decode as reference.
    y, x = np.mgrid[0:16, 0:24]
    grey = (x * 8 + y * 4).astype(np.uint8)
    colour = np.stack([x * 10, y * 15, 255 - x * 5 - y * 5], axis=2).astype(np.uint8)
    for name, arr in [("grey.jpg", grey), ("upper.JPEG", colour)]:
        path = os.path.join(images, name)
        Image.fromarray(arr).save(path, format="JPEG", quality=90)
        with Image.open(path) as im:
            dec = np.asarray(im)
        record(name, dec if dec.ndim == 3 else dec[..., None])

    # Broken files: a JPEG whose header is followed by junk, a JPEG cut inside its scan, a PNG
    # cut in half, and a text file that readers must ignore (wrong extension).
    jpeg = open(os.path.join(images, "upper.JPEG"), "rb").read()
    write(os.path.join(images, "broken", "corrupt.jpg"), b"\xff\xd8\xff\xe0" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)))
    scan = jpeg.index(b"\xff\xda")  # start of scan: keep the headers, cut the compressed data
    write(os.path.join(images, "broken", "truncated.jpg"), jpeg[: scan + 40])
    png = open(os.path.join(images, "rgb.png"), "rb").read()
    write(os.path.join(images, "broken", "truncated.png"), png[: len(png) // 2])
    write(os.path.join(images, "notes.txt"), b"not an image\n")

    # Resize + centre crop of rgb.png (20x12) to 8: shorter side 12 -> 8, width int(8 * 20 / 12) = 13,
    # then torchvision's CenterCrop (offset round((13 - 8) / 2) = 2).
    with Image.open(os.path.join(images, "rgb.png")) as im:
        resized = im.resize((13, 8), Image.BILINEAR)
    left = int(round((13 - 8) / 2.0))
    crop = np.asarray(resized)[:, left:left + 8]
    expected["resize"] = {"source": "rgb.png", "size": 8, "pixels": crop.reshape(-1).tolist()}

    # CIFAR-10: 10 records, label i, pixel (i, c, y, x) = (17 i + 5 c + 3 y + x) mod 256.
    records = []
    for i in range(10):
        c, yy, xx = np.mgrid[0:3, 0:32, 0:32]
        records.append(bytes([i]) + ((17 * i + 5 * c + 3 * yy + xx) % 256).astype(np.uint8).tobytes())
    write(os.path.join(ROOT, "cifar", "data_batch_1.bin"), b"".join(records))

    # IDX: 5 images 28x28, pixel (i, y, x) = (40 i + 9 y + 5 x) mod 256, labels 3 1 4 1 5; gzip and plain.
    i, yy, xx = np.mgrid[0:5, 0:28, 0:28]
    digits = ((40 * i + 9 * yy + 5 * xx) % 256).astype(np.uint8)
    idx3 = struct.pack(">IIII", 0x803, 5, 28, 28) + digits.tobytes()
    idx1 = struct.pack(">II", 0x801, 5) + bytes([3, 1, 4, 1, 5])
    write(os.path.join(ROOT, "idx", "images-idx3-ubyte"), idx3)
    write(os.path.join(ROOT, "idx", "images-idx3-ubyte.gz"), gzip.compress(idx3, mtime=0))
    write(os.path.join(ROOT, "idx", "labels-idx1-ubyte.gz"), gzip.compress(idx1, mtime=0))
    up = np.asarray(Image.fromarray(digits[0]).resize((32, 32), Image.BILINEAR))
    expected["idxResize"] = {"size": 32, "pixels": up.reshape(-1).tolist()}

    with open(os.path.join(ROOT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(ROOT) for n in ns)
    print(f"wrote fixtures under {os.path.normpath(ROOT)}: {total} bytes")


if __name__ == "__main__":
    main()
