"""Checks the plain-C references of the SAM vision ops (tests/ref/conv_ref.c, resize_ref.c,
fourier_pe_ref.c, embedding_ref.c) against PyTorch, once, by hand:

    /usr/bin/python3 tests/reference/check_vision_refs.py

Builds the references into a temporary shared library, calls them through ctypes and compares
with torch (sam_model's modules where they exist). Prints the worst relative difference of each
and exits non-zero on a mismatch. Not part of ctest (it needs torch)."""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import sam_model  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SRCS = ["conv_ref.c", "resize_ref.c", "fourier_pe_ref.c", "embedding_ref.c"]


def build():
    out = os.path.join(tempfile.mkdtemp(), "libvisionref.so")
    srcs = [os.path.join(ROOT, "tests", "ref", s) for s in SRCS]
    subprocess.check_call(["cc", "-O2", "-std=c17", "-D_GNU_SOURCE", "-shared", "-fPIC", "-o", out]
                          + srcs + ["-lm"])
    return ctypes.CDLL(out)


LIB = build()
I = ctypes.c_int64
failures = []


def ptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def f32(t):
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


def report(name, got, want, tol):
    want = want.detach().numpy() if torch.is_tensor(want) else want
    err = float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-6))
    ok = err <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max rel diff {err:.2e} (tol {tol:.0e})")
    if not ok:
        failures.append(name)


def conv2d(b, h, w, cin, cout, k, s, p, bias):
    x = torch.randn(b, cin, h, w, requires_grad=True)
    conv = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
    y = conv(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    xl, wv = f32(x.permute(0, 2, 3, 1)), f32(conv.weight)
    bv = f32(conv.bias) if bias else None
    ry = np.zeros(f32(y.permute(0, 2, 3, 1)).shape, np.float32)
    LIB.ref_conv2d_fwd(ptr(xl), ptr(wv), ptr(bv) if bias else None, ptr(ry), I(b), I(h), I(w),
                       I(cin), I(cout), I(k), I(s), I(p))
    name = f"conv2d {cin}->{cout} k{k} s{s} p{p}"
    report(name + " y", ry, y.permute(0, 2, 3, 1), 1e-5)
    dyl = f32(dy.permute(0, 2, 3, 1))
    dx, dw, db = np.zeros_like(xl), np.zeros_like(wv), np.zeros(cout, np.float32)
    LIB.ref_conv2d_bwd(ptr(xl), ptr(wv), ptr(dyl), ptr(dx), ptr(dw), ptr(db), I(b), I(h), I(w),
                       I(cin), I(cout), I(k), I(s), I(p))
    report(name + " dx", dx, x.grad.permute(0, 2, 3, 1), 1e-5)
    report(name + " dw", dw, conv.weight.grad, 1e-5)
    if bias:
        report(name + " dbias", db, conv.bias.grad, 1e-5)


def conv_transpose2d(b, h, w, cin, cout, k):
    x = torch.randn(b, cin, h, w, requires_grad=True)
    conv = torch.nn.ConvTranspose2d(cin, cout, k, stride=k)
    y = conv(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    xl, wv, bv = f32(x.permute(0, 2, 3, 1)), f32(conv.weight), f32(conv.bias)
    ry = np.zeros(f32(y.permute(0, 2, 3, 1)).shape, np.float32)
    LIB.ref_conv_transpose2d_fwd(ptr(xl), ptr(wv), ptr(bv), ptr(ry), I(b), I(h), I(w), I(cin),
                                 I(cout), I(k))
    name = f"conv_transpose2d {cin}->{cout} k{k}"
    report(name + " y", ry, y.permute(0, 2, 3, 1), 1e-5)
    dyl = f32(dy.permute(0, 2, 3, 1))
    dx, dw, db = np.zeros_like(xl), np.zeros_like(wv), np.zeros(cout, np.float32)
    LIB.ref_conv_transpose2d_bwd(ptr(xl), ptr(wv), ptr(dyl), ptr(dx), ptr(dw), ptr(db), I(b),
                                 I(h), I(w), I(cin), I(cout), I(k))
    report(name + " dx", dx, x.grad.permute(0, 2, 3, 1), 1e-5)
    report(name + " dw", dw, conv.weight.grad, 1e-5)
    report(name + " dbias", db, conv.bias.grad, 1e-5)


def patch_embed(b, c, s, d, p):
    pe = sam_model.PatchEmbed(d)
    if p != sam_model.PATCH or c != 3:
        pe.proj = torch.nn.Conv2d(c, d, p, stride=p)
    img = torch.rand(b, c, s, s, requires_grad=True)
    y = pe(img)
    dy = torch.randn_like(y)
    y.backward(dy)
    iv, wv, bv = f32(img), f32(pe.proj.weight), f32(pe.proj.bias)
    ry = np.zeros(y.shape, np.float32)
    LIB.ref_patch_embed_fwd(ptr(iv), ptr(wv), ptr(bv), ptr(ry), I(b), I(c), I(s), I(s), I(d), I(p))
    report(f"patch_embed p{p} y", ry, y, 1e-5)
    di, dw, db = np.zeros_like(iv), np.zeros_like(wv), np.zeros(d, np.float32)
    LIB.ref_patch_embed_bwd(ptr(iv), ptr(wv), ptr(f32(dy)), ptr(di), ptr(dw), ptr(db), I(b), I(c),
                            I(s), I(s), I(d), I(p))
    report(f"patch_embed p{p} dimage", di, img.grad, 1e-5)
    report(f"patch_embed p{p} dw", dw, pe.proj.weight.grad, 1e-5)
    report(f"patch_embed p{p} dbias", db, pe.proj.bias.grad, 1e-5)


def layernorm2d(b, c, h, w):
    m = sam_model.LayerNorm2d(c)
    with torch.no_grad():
        m.weight.copy_(torch.rand(c) + 0.5)
        m.bias.copy_(torch.randn(c))
    x = torch.randn(b, c, h, w) + 2
    xv, ry = f32(x), np.zeros((b, c, h, w), np.float32)
    LIB.ref_layernorm2d_nchw_fwd(ptr(xv), ptr(f32(m.weight)), ptr(f32(m.bias)), ptr(ry), I(b), I(c),
                                 I(h * w), ctypes.c_float(1e-6))
    report(f"layernorm2d C {c}", ry, m(x), 2e-5)


def bilinear(planes, h, w, oh, ow):
    x = torch.randn(1, planes, h, w, requires_grad=True)
    y = F.interpolate(x, (oh, ow), mode="bilinear", align_corners=False)
    dy = torch.randn_like(y)
    y.backward(dy)
    xv, ry = f32(x), np.zeros((planes, oh, ow), np.float32)
    LIB.ref_resize_bilinear_fwd(ptr(xv), ptr(ry), I(planes), I(h), I(w), I(oh), I(ow))
    name = f"bilinear {h}x{w} -> {oh}x{ow}"
    report(name + " y", ry, y[0], 1e-6)
    dx = np.zeros((planes, h, w), np.float32)
    LIB.ref_resize_bilinear_bwd(ptr(f32(dy)), ptr(dx), I(planes), I(h), I(w), I(oh), I(ow))
    report(name + " dx", dx, x.grad[0], 1e-5)


def rows_linear(rows, cols, out):
    t = torch.randn(rows, cols)
    got = np.zeros((out, cols), np.float32)
    LIB.ref_resize_rows_linear(ptr(f32(t)), I(rows), I(cols), ptr(got), I(out))
    report(f"rel_pos resize {rows} -> {out}", got, sam_model.resize_rel_pos(t, out), 1e-6)


def fourier(n, h, w):
    pe = sam_model.PositionEmbeddingRandom()
    g = f32(pe.positional_encoding_gaussian_matrix)
    coords = torch.rand(n, 2)
    got = np.zeros((n, 256), np.float32)
    LIB.ref_fourier_pe_fwd(ptr(f32(coords)), ptr(g), ptr(got), I(n), I(128))
    # PyTorch's fp32 argument may differ from the reference's by an ulp (its matmul may fuse
    # or reorder the two products): up to ~4e-6 at arguments near 40.
    report("fourier_pe coords", got, pe._pe_encoding(coords), 1e-5)
    grid = np.zeros((h, w, 256), np.float32)
    LIB.ref_fourier_pe_grid(ptr(g), ptr(grid), I(h), I(w), I(128))
    report("fourier_pe grid", grid, pe((h, w)).permute(1, 2, 0), 1e-5)


def embedding(v, c, n):
    table = torch.randn(v, c, requires_grad=True)
    idx = torch.randint(0, v, (n,))
    y = F.embedding(idx, table)
    dy = torch.randn_like(y)
    y.backward(dy)
    tv, iv = f32(table), idx.numpy().astype(np.float32)
    ry, dt = np.zeros((n, c), np.float32), np.zeros((v, c), np.float32)
    LIB.ref_embedding_fwd(ptr(tv), ptr(iv), ptr(ry), I(v), I(c), I(n))
    LIB.ref_embedding_bwd(ptr(iv), ptr(f32(dy)), ptr(dt), I(v), I(c), I(n))
    report("embedding y", ry, y, 0)
    report("embedding dtable", dt, table.grad, 1e-6)


def main():
    torch.manual_seed(0)
    conv2d(2, 9, 7, 5, 6, 3, 1, 1, False)
    conv2d(1, 12, 12, 256, 256, 3, 1, 1, False)
    conv2d(1, 8, 6, 4, 16, 2, 2, 0, True)
    conv2d(2, 5, 5, 16, 8, 1, 1, 0, True)
    conv_transpose2d(2, 4, 5, 256, 64, 2)
    conv_transpose2d(1, 3, 3, 7, 5, 3)
    patch_embed(1, 3, 64, 32, 16)
    patch_embed(2, 2, 9, 5, 3)
    layernorm2d(2, 256, 5, 4)
    bilinear(3, 64, 64, 32, 32)
    bilinear(2, 128, 128, 512, 512)
    bilinear(2, 13, 17, 31, 9)
    bilinear(1, 1, 5, 3, 12)
    rows_linear(127, 64, 63)
    rows_linear(27, 64, 127)
    rows_linear(5, 3, 13)
    fourier(64, 32, 32)
    embedding(9, 256, 40)
    print("all match" if not failures else f"{len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
