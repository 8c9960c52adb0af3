#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz, run by tools/fuzz) from real
files on this machine; nothing binary is committed.

Usage: fuzz_seeds.py SOURCE_DIR OUT_DIR      (Debian's /usr/bin/python3 + numpy; torch optional)

OUT_DIR/<target>/ for the targets pth, pickle, safetensors, nifti, npy, npz, image, config:
  pth, safetensors  the checkpoints tests/reference/make_checkpoints.py writes (files over
                    MAX_SEED bytes left out), plus small torch.save dicts
  pickle            the data.pkl entry of every .pth seed
  nifti             mricron-data's templates (.nii.gz) and small volumes cut from them, plain
                    and gzip, in every datatype the reader takes, either byte order
  npy, npz          numpy.save / numpy.savez arrays of every dtype the reader takes
  image             insighttoolkit5-examples' PNGs (and small ones written here), small JPEGs
                    from /usr/share/doc
  config            configs/*.yaml
Missing Debian packages only shrink a corpus.
"""
import glob
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np

SRC, OUT = sys.argv[1], sys.argv[2]
MAX_SEED = 300 * 1024
TEMPLATES = "/usr/share/mricron/templates"
ITK_DATA = "/usr/share/doc/insighttoolkit5-examples/examples/Data"


def folder(name):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    return d


def put(target, name, data):
    with open(os.path.join(folder(target), name), "wb") as f:
        f.write(data)


# ---- checkpoints ----
ckpt_dir = os.path.join(OUT, "_checkpoints")
subprocess.run([sys.executable, os.path.join(SRC, "tests/reference/make_checkpoints.py"),
                ckpt_dir], check=True, stdout=subprocess.DEVNULL)
for p in sorted(glob.glob(os.path.join(ckpt_dir, "*"))):
    name = os.path.basename(p)
    if name == "manifest.txt":
        continue
    with open(p, "rb") as f:
        data = f.read()
    if data[:4] == b"PK\3\4":
        if len(data) <= MAX_SEED:
            put("pth", name, data)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for e in z.namelist():
                    if e.endswith("data.pkl"):
                        put("pickle", name + ".pkl", z.read(e))
        except zipfile.BadZipFile:
            pass
    elif len(data) <= MAX_SEED:
        put("safetensors", name, data)
    else:  # the header with the first tensors' data only
        n = struct.unpack_from("<Q", data)[0]
        hdr = json.loads(data[8:8 + n])
        keep = {k: v for k, v in hdr.items() if k == "__metadata__" or
                v["data_offsets"][1] <= 4096}
        h = json.dumps(keep).encode()
        h += b" " * (-len(h) % 8)
        end = max([v["data_offsets"][1] for k, v in keep.items() if k != "__metadata__"] + [0])
        put("safetensors", "cut_" + name, struct.pack("<Q", len(h)) + h + data[8 + n:8 + n + end])
shutil.rmtree(ckpt_dir)
ST_TYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "BF16": "<u2"}
header, blobs, off = {"__metadata__": {"format": "pt", "note": "seed"}}, [], 0
for i, (name, dt) in enumerate(ST_TYPES.items()):
    raw = np.arange(6, dtype=dt).tobytes()
    header["t%d" % i] = {"dtype": name, "shape": [2, 3] if i % 2 else [6],
                         "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
header["scalar"] = {"dtype": "F32", "shape": [], "data_offsets": [off, off + 4]}
blobs.append(struct.pack("<f", 1.5))
h = json.dumps(header).encode()
put("safetensors", "dtypes.safetensors", struct.pack("<Q", len(h)) + h + b"".join(blobs))
try:
    import torch

    small = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3),
             "b": torch.ones(3, dtype=torch.float16), "s": torch.tensor(2.5, dtype=torch.float64)}
    buf = io.BytesIO()
    torch.save(small, buf)
    put("pth", "small_dtypes.pth", buf.getvalue())
    for dt in [torch.bfloat16, torch.int64, torch.int32]:
        buf = io.BytesIO()
        torch.save({"t": torch.arange(4).to(dt), "v": torch.ones(4, 4).to(dt).t()[1:]}, buf)
        put("pth", "dtype_%s.pth" % str(dt)[6:], buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        put("pickle", "small_dtypes.pkl", z.read([e for e in z.namelist()
                                                   if e.endswith("data.pkl")][0]))
except ImportError:
    pass

# ---- NIfTI ----
NIFTI_TYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4"}
for i, p in enumerate(sorted(glob.glob(os.path.join(TEMPLATES, "*.nii.gz")))):
    with open(p, "rb") as f:
        gz = f.read()
    base = os.path.basename(p)[:-len(".nii.gz")]
    if len(gz) <= MAX_SEED:
        put("nifti", base + ".nii.gz", gz)
    if i >= 2:
        continue
    raw = gzip.decompress(gz)
    hdr = bytearray(raw[:348])
    nx, ny, nz = struct.unpack_from("<3h", hdr, 42)
    bitpix = struct.unpack_from("<h", hdr, 72)[0]
    vol = np.frombuffer(raw, dtype="<u%d" % max(1, bitpix // 8) if bitpix in (8, 16) else "<u1",
                        count=nx * ny * nz, offset=int(struct.unpack_from("<f", hdr, 108)[0]))
    vol = vol.reshape(nz, ny, nx)[nz // 2:nz // 2 + 3, ::16, ::16]
    for code, dt in NIFTI_TYPES.items():
        for endian in "<>":
            h = bytearray(hdr)
            if endian == ">":
                h[:] = b"\0" * 348
                struct.pack_into(">i", h, 0, 348)
                struct.pack_into(">8h", h, 40, 3, vol.shape[2], vol.shape[1], vol.shape[0],
                                 1, 1, 1, 1)
                struct.pack_into(">8f", h, 76, 1, 2, 2, 2, 1, 1, 1, 1)
                struct.pack_into(">2f", h, 112, 1.5, -3)  # scl_slope, scl_inter
                h[344:348] = b"n+1\0"
            else:
                struct.pack_into("<3h", h, 42, vol.shape[2], vol.shape[1], vol.shape[0])
            struct.pack_into(endian + "2h", h, 70, code, np.dtype(dt).itemsize * 8)
            struct.pack_into(endian + "f", h, 108, 352.0)
            data = bytes(h) + b"\0" * 4 + vol.astype(endian + dt).tobytes()
            name = "%s_%d%s" % (base, code, "be" if endian == ">" else "")
            put("nifti", name + ".nii", data)
            if code in (2, 16):
                put("nifti", name + ".nii.gz", gzip.compress(data))

# ---- npy and npz ----
rng = np.random.default_rng(1234)
NPY_TYPES = ["<f4", ">f4", "<f8", "|b1", "|i1", "|u1", "<i2", ">u2", "<i4", "<u4", "<i8", ">u8"]
for dt in NPY_TYPES:
    for shape in [(), (3,), (2, 3), (2, 1, 3)]:
        a = (rng.random(shape) * 100).astype(dt)
        buf = io.BytesIO()
        np.save(buf, a)
        put("npy", "a%s_%s.npy" % (dt[1:], len(shape)), buf.getvalue())
for version in [(2, 0), (3, 0)]:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ones((2, 2), "<f4"), version=version)
    put("npy", "v%d.npy" % version[0], buf.getvalue())
for i, dt in enumerate(["<f4", "<f8"]):
    for lab in ["|u1", "<f4", "<i8"]:
        buf = io.BytesIO()
        np.savez(buf, image=rng.random((6, 5)).astype(dt),
                 label=rng.integers(0, 3, (6, 5)).astype(lab))
        put("npz", "s%d_%s.npz" % (i, lab[1:]), buf.getvalue())


# ---- images ----
def png(w, h, colour, depth, rows, palette=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour,
                                                             0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(b"".join(b"\0" + r for r in rows))) + \
        chunk(b"IEND", b"")


for p in sorted(glob.glob(os.path.join(ITK_DATA, "*.png"))):
    if os.path.getsize(p) <= MAX_SEED:
        shutil.copy(p, folder("image"))
# JPEGs: whatever small ones Debian's documentation brings (none is required).
for p in [p for p in sorted(glob.glob("/usr/share/doc/*/*.jpg")) if os.path.getsize(p) <= 65536][:4]:
    shutil.copy(p, folder("image"))
for colour, n in [(0, 1), (2, 3), (4, 2), (6, 4)]:
    for depth in (8, 16):
        rows = [bytes((x * 37 + y) & 255 for x in range(4 * n * depth // 8)) for y in range(3)]
        put("image", "c%d_%d.png" % (colour, depth), png(4, 3, colour, depth, rows))
put("image", "palette.png", png(4, 2, 3, 8, [b"\0\1\2\0", b"\2\1\0\1"], b"\0\0\0\xff\0\0\0\xff\0"))

# ---- configs ----
for p in sorted(glob.glob(os.path.join(SRC, "configs", "*.yaml"))):
    shutil.copy(p, folder("config"))
