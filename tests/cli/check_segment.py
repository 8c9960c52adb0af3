"""Checks the files `vksamed segment` wrote (tests/cli_tests.cmake).

  --png PATH:WxH:CH      an 8-bit PNG of that size and channel count (CH 1: values 0 and 255 only)
  --npy PATH:d0,d1,..    a .npy of that shape
  --legend PATH:N        N lines "class k: colour #rrggbb, n pixels" whose counts sum to the
                         label map's pixels (with --png of the map first)
  --parity sam|samed     recompute the run in PyTorch (tests/reference/sam_model.py) from the
                         checkpoint(s) and the NIfTI slice: the low-res logits (--logits) must
                         match within 1e-4 * max|ref|, and the mask / label map (--mask) must be
                         the official postprocessing (bilinear to S x S, crop, bilinear to h x w)
                         of the engine's logits: threshold 0 (mask --pick) or argmax (samed);
                         with --embedding, the [1, C, g, g] embedding too.

Run with /usr/bin/python3 (numpy; torch for --parity). Prints what it checked; exit 1 on a
mismatch.
"""
import argparse
import gzip
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FAILS = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILS.append(what)


def read_png(path):
    """8-bit grey or RGB, non-interlaced (what engine/io writes): array [h, w, ch]. The
    none/sub/up filters are decoded with numpy per row; average and Paeth byte by byte."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"IDAT":
            idat += body
    w, h = int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    depth, ctype, interlace = ihdr[8], ihdr[9], ihdr[12]
    assert depth == 8 and ctype in (0, 2) and not interlace, f"{path}: unsupported PNG"
    ch = 3 if ctype == 2 else 1
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1)
        if f == 0:
            cur = line.copy()
        elif f == 1:  # sub: a running sum along x, per channel, modulo 256
            cur = (np.cumsum(line.reshape(w, ch), axis=0, dtype=np.int64) & 255)
            cur = cur.astype(np.uint8).reshape(stride)
        elif f == 2:
            cur = line + prev
        else:  # average / Paeth: sequential along x
            cur, up = bytearray(line.tobytes()), prev.tobytes()
            for x in range(stride):
                a = cur[x - ch] if x >= ch else 0
                b = up[x]
                if f == 3:
                    pr = (a + b) >> 1
                else:
                    c = up[x - ch] if x >= ch else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (cur[x] + pr) & 255
            cur = np.frombuffer(bytes(cur), np.uint8)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)


def read_nifti_slice(path, z):
    """Axial slice z of a uint8 / int16 / float32 NIfTI-1 volume (rows y, columns x) and the
    volume's min and max."""
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    dim = struct.unpack("<8h", raw[40:56])
    dtype = {2: np.uint8, 4: np.int16, 16: np.float32}[struct.unpack("<h", raw[70:72])[0]]
    off = int(struct.unpack("<f", raw[108:112])[0])
    slope, inter = struct.unpack("<ff", raw[112:120])
    nx, ny, nz = dim[1], dim[2], dim[3]
    vol = np.frombuffer(raw, dtype, nx * ny * nz, off).astype(np.float32).reshape(nz, ny, nx)
    if slope != 0:
        vol = vol * np.float32(slope) + np.float32(inter)
    return vol[z], vol.min(), vol.max()


def reference(args, torch, sm, F):
    """The PyTorch model and its low-res logits [1, M, 4g, 4g] for the run."""
    S = args.size
    grey, lo, hi = read_nifti_slice(args.nifti, args.slice)
    h, w = grey.shape
    # As the engine: (v - lo) * (255 / (hi - lo)) in fp32, grey to 3 channels.
    rgb = np.clip((grey - lo) * np.float32(255.0 / (hi - lo)), 0, 255).astype(np.float32)
    img = torch.from_numpy(np.stack([rgb] * 3))[None]
    sd = torch.load(args.ckpt)
    if args.parity == "sam":
        scale = S / max(h, w)
        nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
        x = F.interpolate(img, (nh, nw), mode="bilinear", align_corners=False)
        mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
        std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
        x = F.pad((x - mean) / std, (0, S - nw, 0, S - nh))
        model = sm.Sam("tiny", S, 4)
        missing = sm.load_matching(model, sm.resize_state_dict(sd, S, "tiny"))
        assert not missing, missing
        pts = [[float(v) for v in p.split(",")] for p in args.points.split(";")]
        coords = torch.tensor([[[p[0] * (nw / w), p[1] * (nh / h)] for p in pts]],
                              dtype=torch.float32)
        labels = torch.tensor([[p[2] for p in pts]], dtype=torch.float32)
        prompts = dict(points=(coords, labels))
    else:
        nh, nw = S, S
        x = F.interpolate(img / 255.0, (S, S), mode="bilinear", align_corners=False)
        extra = torch.load(args.lora) if args.lora else {}
        tokens = extra.get("mask_decoder.mask_tokens.weight", sd.get(
            "mask_decoder.mask_tokens.weight")).shape[0]
        model = sm.Sam("tiny", S, tokens)
        base = sm.resize_state_dict(sd, S, "tiny")
        # Adapters (w_a_000, sa_b_001, fati_qa, ...) have no dot; the rest are model keys.
        base.update({k: v for k, v in extra.items() if "." in k})
        missing = sm.load_matching(model, base)
        assert not missing, missing
        if args.lora:
            w_a, w_b = sm.add_lora(model)
            with torch.no_grad():
                for i, (a, b) in enumerate(zip(w_a, w_b)):
                    a.weight.copy_(extra[f"w_a_{i:03d}"])
                    b.weight.copy_(extra[f"w_b_{i:03d}"])
            if "sa_a_000" in extra:  # SAMed_s: adapters on the decoder's q / v projections
                groups = sm.add_decoder_lora(model)
                with torch.no_grad():
                    for g, pairs in groups.items():
                        for i, (a, b) in enumerate(pairs):
                            ka, kb = ((f"fati_{'qv'[i]}a", f"fati_{'qv'[i]}b") if g == "fati"
                                      else (f"{g}_a_{i:03d}", f"{g}_b_{i:03d}"))
                            a.weight.copy_(extra[ka])
                            b.weight.copy_(extra[kb])
        prompts = {}
    with torch.no_grad():
        emb = model.image_encoder(x)
        sparse, dense = model.prompt_encoder(**prompts)
        masks, _ = model.mask_decoder(emb, model.prompt_encoder.get_dense_pe(), sparse, dense)
    return masks, emb, (h, w), (nh, nw)


def parity(args):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(HERE, "..", "reference"))
    import sam_model as sm

    ref, emb, (h, w), (nh, nw) = reference(args, torch, sm, F)
    if args.embedding:
        e = torch.from_numpy(np.load(args.embedding))
        md, mr = (e - emb).abs().max().item(), emb.abs().max().item()
        check(e.shape == emb.shape and md <= 1e-4 * mr,
              f"embedding vs PyTorch [1, C, g, g]: max|diff| {md:.3g}, max|ref| {mr:.3g}")
    got = torch.from_numpy(np.load(args.logits))
    check(tuple(got.shape) == tuple(ref.shape), f"logits shape {tuple(got.shape)}")
    md = (got - ref).abs().max().item()
    mr = ref.abs().max().item()
    check(mr > 0 and md <= 1e-4 * mr,
          f"logits vs PyTorch: max|diff| {md:.3g}, max|ref| {mr:.3g} (limit 1e-4 x)")
    # The postprocessing of the engine's own logits.
    S = args.size
    up = F.interpolate(got, (S, S), mode="bilinear", align_corners=False)[..., :nh, :nw]
    full = F.interpolate(up, (h, w), mode="bilinear", align_corners=False)[0].numpy()
    png = read_png(args.mask)
    near = 1e-4 * np.abs(full).max()
    if args.parity == "sam":
        want = full[args.pick] > 0
        got_m = png[..., 0] == 255
        bad = (want != got_m) & (np.abs(full[args.pick]) > near)
        check(not bad.any(),
              f"mask = postprocessed logits {args.pick} > 0: {int(bad.sum())} pixels differ "
              f"({int(want.sum())} of {want.size} set)")
    else:
        legend = parse_legend(args.legend)
        lut = {tuple(c): k for k, (c, _) in enumerate(legend)}
        labels = np.vectorize(lambda r, g, b: lut.get((r, g, b), -1))(
            png[..., 0], png[..., 1], png[..., 2])
        want = full.argmax(0)
        srt = np.sort(full, 0)
        bad = (labels != want) & (srt[-1] - srt[-2] > near)
        check(not bad.any(), f"label map = argmax of postprocessed logits: {int(bad.sum())} of "
              f"{want.size} pixels differ; classes present {sorted(set(want.ravel().tolist()))}")


def parse_legend(path):
    out = []
    for line in open(path):
        k, rest = line.split(": colour #")
        col, n = rest.split(", ")
        out.append(([int(col[i:i + 2], 16) for i in (0, 2, 4)], int(n.split()[0])))
        assert k == f"class {len(out) - 1}", line
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--png", action="append", default=[])
    ap.add_argument("--npy", action="append", default=[])
    ap.add_argument("--legend")
    ap.add_argument("--parity", choices=("sam", "samed"))
    ap.add_argument("--ckpt")
    ap.add_argument("--lora")
    ap.add_argument("--nifti")
    ap.add_argument("--slice", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--points")
    ap.add_argument("--logits")
    ap.add_argument("--mask")
    ap.add_argument("--embedding")
    ap.add_argument("--pick", type=int, default=0)
    args = ap.parse_args()
    last = None
    for spec in args.png:
        path, size, ch = spec.split(":")
        w, h = (int(v) for v in size.split("x"))
        img = read_png(path)
        check(img.shape == (h, w, int(ch)), f"{os.path.basename(path)} is {img.shape[1]}x"
              f"{img.shape[0]}x{img.shape[2]}, want {w}x{h}x{ch}")
        if int(ch) == 1:
            vals = set(np.unique(img).tolist())
            check(vals <= {0, 255} and len(vals) == 2,
                  f"{os.path.basename(path)}: binary with both values, has {sorted(vals)[:5]}")
        last = img
    for spec in args.npy:
        path, shape = spec.split(":")
        a = np.load(path)
        want = tuple(int(v) for v in shape.split(","))
        check(a.shape == want and a.dtype == np.float32 and np.isfinite(a).all() and a.std() > 0,
              f"{os.path.basename(path)} shape {a.shape} {a.dtype}, want {want} float32, finite, "
              "not constant")
    if args.legend and not args.parity:
        path, n = args.legend.split(":")
        legend = parse_legend(path)
        total = sum(c for _, c in legend)
        check(len(legend) == int(n) and last is not None and total == last.shape[0] *
              last.shape[1], f"legend: {len(legend)} classes, {total} pixels")
    if args.parity:
        if args.legend:
            args.legend = args.legend.split(":")[0]
        parity(args)
    print(f"{'FAILED' if FAILS else 'passed'}: {len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
