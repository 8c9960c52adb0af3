#!/usr/bin/python3
"""Writes the bad data files of the bad-input table (tests/cli/bad_inputs.tsv): small PNG, NIfTI
and .npz inputs that are each wrong in one way (sizes that differ, a label value at or above the
class count, a NaN, an empty folder, a folder where a file belongs, a corrupt file), so every row
can check that vksamed names the file and the fault. Needs numpy only.

Usage: craft_bad_inputs.py OUTDIR
"""
import gzip
import io
import os
import struct
import sys
import zlib

import numpy as np

OUT = sys.argv[1]


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def put(data, *parts):
    with open(path(*parts), "wb") as f:
        f.write(data)


def png(a):
    """An 8-bit grey (2-D) or RGB (3-D) PNG of the uint8 array a."""
    a = np.asarray(a, np.uint8)
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    rows = b"".join(b"\0" + a[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def nifti(vol, code=16, dt="<f4"):
    """A little-endian single-file NIfTI-1 volume (x fastest) of vol[z][y][x]."""
    nz, ny, nx = vol.shape
    h = bytearray(348)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, nx, ny, nz, 1, 1, 1, 1)
    struct.pack_into("<2h", h, 70, code, np.dtype(dt).itemsize * 8)
    struct.pack_into("<8f", h, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", h, 108, 352.0)
    h[344:348] = b"n+1\0"
    return gzip.compress(bytes(h) + b"\0" * 4 + vol.astype(dt).tobytes())


def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


rng = np.random.default_rng(7)
img = (rng.random((24, 32)) * 255).astype(np.uint8)
lab = (rng.random((24, 32)) * 3).astype(np.uint8)

# PNG folder pairs
put(png(img), "png_sizes", "img", "a.png")
put(png(lab[:20]), "png_sizes", "lab", "a.png")
put(png(img), "png_label9", "img", "a.png")
put(png(np.where(lab == 2, 9, lab)), "png_label9", "lab", "a.png")
os.makedirs(os.path.join(OUT, "png_empty", "img"), exist_ok=True)
os.makedirs(os.path.join(OUT, "png_empty", "lab"), exist_ok=True)
put(png(img), "png_nolabel", "img", "a.png")
put(png(lab), "png_nolabel", "lab", "b.png")
put(png(img), "png_dir", "img", "a.png")
os.makedirs(os.path.join(OUT, "png_dir", "lab", "a.png"), exist_ok=True)  # a folder, not a file
put(png(img)[:60], "png_truncated", "img", "a.png")
put(png(lab), "png_truncated", "lab", "a.png")
put(png(img), "png_rgb_label", "img", "a.png")
put(png(np.stack([lab] * 3, axis=2)), "png_rgb_label", "lab", "a.png")

# NIfTI volume pairs
vol = rng.random((4, 12, 16)).astype(np.float32)
labv = (rng.random((4, 12, 16)) * 3).astype(np.uint8)
nan = vol.copy()
nan[2, 5, 7] = np.nan
put(nifti(nan), "nan_image.nii.gz")
put(nifti(vol), "image.nii.gz")
put(nifti(labv, 2, "u1"), "label.nii.gz")
put(nifti(labv[:, :10], 2, "u1"), "label_small.nii.gz")
put(nifti(vol)[:200], "truncated.nii.gz")

# Synapse .npz slices
put(npz(image=np.where(img > 250, np.nan, img / 255.0).astype(np.float32), label=lab),
    "syn_nan", "case0001_slice000.npz")
put(npz(image=(img / 255.0).astype(np.float32)), "syn_nolabel", "case0001_slice000.npz")
os.makedirs(os.path.join(OUT, "syn_empty"), exist_ok=True)

# A --mask-input of the wrong shape
buf = io.BytesIO()
np.save(buf, np.zeros((3, 3), np.float32))
put(buf.getvalue(), "mask_3x3.npy")
