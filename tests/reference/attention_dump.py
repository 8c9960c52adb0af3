"""Dumps sam_model.EncoderAttention inputs and outputs for tests/unit/test_attention.c, which
compares its plain-C attention reference against them. Usage: attention_dump.py OUT_DIR.

Two cases, raw little-endian float32 files <tag>_{x,w,b,rh,rw,out}.bin:
  win:  16x16x32 input, 2 heads, window 14 (padded to 28x28 as Block does, then cropped)
  glob: 8x8x32 input, 2 heads, global attention
The module's proj is set to the identity so `out` is the attention itself (heads merged); rel
pos tables are random (they start at zero in the module). Exits non-zero without torch."""
import os
import sys

try:
    import torch
except ImportError:
    print("attention_dump.py: torch is not installed", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_model  # noqa: E402


def dump(out_dir, tag, grid, dim, heads, window):
    g = torch.Generator().manual_seed(1234 + grid)
    attn = sam_model.EncoderAttention(dim, heads, window if window else grid)
    with torch.no_grad():
        attn.qkv.weight.copy_(torch.rand(3 * dim, dim, generator=g) * 0.4 - 0.2)
        attn.qkv.bias.copy_(torch.rand(3 * dim, generator=g) - 0.5)
        attn.rel_pos_h.copy_(torch.rand(attn.rel_pos_h.shape, generator=g) - 0.5)
        attn.rel_pos_w.copy_(torch.rand(attn.rel_pos_w.shape, generator=g) - 0.5)
        attn.proj.weight.copy_(torch.eye(dim))
        attn.proj.bias.zero_()
        x = torch.rand(1, grid, grid, dim, generator=g) * 2 - 1
        if window:
            xw, pad_hw = sam_model.window_partition(x, window)
            y = sam_model.window_unpartition(attn(xw), window, pad_hw, (grid, grid))
        else:
            y = attn(x)
    for name, t in (("x", x), ("w", attn.qkv.weight), ("b", attn.qkv.bias),
                    ("rh", attn.rel_pos_h), ("rw", attn.rel_pos_w), ("out", y)):
        t.detach().contiguous().float().numpy().tofile(os.path.join(out_dir, f"{tag}_{name}.bin"))


def main():
    out_dir = sys.argv[1]
    dump(out_dir, "win", 16, 32, 2, 14)
    dump(out_dir, "glob", 8, 32, 2, 0)


if __name__ == "__main__":
    main()
