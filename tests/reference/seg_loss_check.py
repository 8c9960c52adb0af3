"""Checks tests/ref/seg_loss_ref.c (the C reference of ve_seg_loss) against PyTorch: CE from
torch.nn.CrossEntropyLoss, Dice written from SAMed's DiceLoss formula (softmax=True, smooth 1e-5,
classes over the whole batch, background included), the gradient from autograd.

Run by hand from the repository root: /usr/bin/python3 tests/reference/seg_loss_check.py
(needs torch and a C compiler; compiles the reference into a temporary shared library)."""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_ref():
    out = os.path.join(tempfile.mkdtemp(), "seg_loss_ref.so")
    subprocess.check_call(["cc", "-O2", "-shared", "-fPIC", "-I", os.path.join(ROOT, "tests/ref"),
                           os.path.join(ROOT, "tests/ref/seg_loss_ref.c"), "-o", out, "-lm"])
    lib = ctypes.CDLL(out)
    f = ctypes.POINTER(ctypes.c_float)
    i64, dbl = ctypes.c_int64, ctypes.c_double
    lib.ref_seg_loss_fwd.argtypes = [f, f, i64, i64, i64, dbl, dbl, f]
    lib.ref_seg_loss_bwd.argtypes = [f, f, f, f, i64, i64, i64, dbl, dbl]
    return lib


def ptr(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def torch_loss(z, lab, k, w_ce, w_dice):
    ce = torch.nn.CrossEntropyLoss()(z, lab.long())
    p = torch.softmax(z, dim=1)
    t = torch.nn.functional.one_hot(lab.long(), k).permute(0, 3, 1, 2).to(z.dtype)
    smooth = 1e-5
    dice = 0.0
    for c in range(k):
        inter = torch.sum(p[:, c] * t[:, c])
        union = torch.sum(p[:, c] * p[:, c]) + torch.sum(t[:, c] * t[:, c])
        dice = dice + 1 - (2 * inter + smooth) / (union + smooth)
    dice = dice / k
    return w_ce * ce + w_dice * dice, ce, dice


def main():
    lib = build_ref()
    rng = np.random.default_rng(7)
    worst_f = worst_b = 0.0
    cases = [(1, 2, 1, 1), (2, 9, 5, 7), (3, 4, 16, 17), (2, 9, 64, 64), (1, 32, 9, 9)]
    for b, k, h, w in cases:
        for w_ce, w_dice in ((0.2, 0.8), (0.5, 1.5)):
            z = rng.uniform(-3, 3, (b, k, h, w)).astype(np.float32)
            lab = rng.integers(0, k if h % 2 else k - 1, (b, h, w)).astype(np.float32)
            out = np.zeros(3, np.float32)
            lib.ref_seg_loss_fwd(ptr(z), ptr(lab), b, k, h * w, w_ce, w_dice, ptr(out))
            zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            lt = torch.tensor(lab, dtype=torch.float64)
            loss, ce, dice = torch_loss(zt, lt, k, w_ce, w_dice)
            dout = rng.uniform(-1, 1, 3).astype(np.float32)
            total = dout[0] * loss + dout[1] * ce + dout[2] * dice
            total.backward()
            want = np.array([loss.item(), ce.item(), dice.item()])
            ef = np.max(np.abs(out - want) / np.maximum(np.abs(want), 1e-6))
            dz = np.zeros_like(z)
            lib.ref_seg_loss_bwd(ptr(z), ptr(lab), ptr(dout), ptr(dz), b, k, h * w, w_ce, w_dice)
            gw = zt.grad.numpy()
            eb = np.max(np.abs(dz - gw)) / np.max(np.abs(gw))
            worst_f, worst_b = max(worst_f, ef), max(worst_b, eb)
            print(f"B{b} K{k} {h}x{w} w=({w_ce},{w_dice}): fwd rel err {ef:.2e}, "
                  f"bwd rel err {eb:.2e}")
    ok = worst_f < 1e-6 and worst_b < 1e-6
    print(f"torch {torch.__version__}: worst forward {worst_f:.2e}, backward {worst_b:.2e}: "
          f"{'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
