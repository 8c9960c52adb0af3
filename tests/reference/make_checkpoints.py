#!/usr/bin/python3
"""Writes the checkpoints test_checkpoint reads, and a manifest of what they hold.

Usage: make_checkpoints.py OUTDIR   (run with Debian's /usr/bin/python3 + python3-torch)

Real torch.save files (from random weights with SAM's official key names and shapes at the
`tiny` size), the same tensors as safetensors (written here by hand: the safetensors package may
be missing), a SAMed LoRA file, nn.Parameter-wrapped and non-contiguous tensors, 16-bit dtypes,
and hostile files for the error paths (crafted bytes; nothing is ever unpickled here).

manifest.txt lines (names never hold blanks):
  N file count
  T file name dtype ndim dims... sum k idx val ...   (values: f32 row-major, as %.9g)
  P file preset embed depth n_mask_tokens lora_rank  (lora_rank 0: not a LoRA file)
"""
import collections
import io
import json
import os
import struct
import sys
import zipfile

try:
    import torch
except ImportError:
    print("SKIP: %s has no torch: apt-get install python3-torch" % sys.executable)
    sys.exit(0)

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
MANIFEST = os.path.join(OUT, "manifest.txt")
if os.path.exists(MANIFEST):
    os.remove(MANIFEST)
torch.manual_seed(1234)
lines = []


# ---- SAM's state dict: key -> shape, in the official modules' registration order ----
def image_encoder(d, depth, heads, global_blocks, window=14, grid=64, patch=16, out=256):
    hd = d // heads
    s = collections.OrderedDict()
    s["image_encoder.pos_embed"] = (1, grid, grid, d)
    s["image_encoder.patch_embed.proj.weight"] = (d, 3, patch, patch)
    s["image_encoder.patch_embed.proj.bias"] = (d,)
    for i in range(depth):
        b = "image_encoder.blocks.%d." % i
        l = grid if i in global_blocks else window
        s[b + "norm1.weight"] = (d,)
        s[b + "norm1.bias"] = (d,)
        s[b + "attn.rel_pos_h"] = (2 * l - 1, hd)
        s[b + "attn.rel_pos_w"] = (2 * l - 1, hd)
        s[b + "attn.qkv.weight"] = (3 * d, d)
        s[b + "attn.qkv.bias"] = (3 * d,)
        s[b + "attn.proj.weight"] = (d, d)
        s[b + "attn.proj.bias"] = (d,)
        s[b + "norm2.weight"] = (d,)
        s[b + "norm2.bias"] = (d,)
        s[b + "mlp.lin1.weight"] = (4 * d, d)
        s[b + "mlp.lin1.bias"] = (4 * d,)
        s[b + "mlp.lin2.weight"] = (d, 4 * d)
        s[b + "mlp.lin2.bias"] = (d,)
    s["image_encoder.neck.0.weight"] = (out, d, 1, 1)
    s["image_encoder.neck.1.weight"] = (out,)
    s["image_encoder.neck.1.bias"] = (out,)
    s["image_encoder.neck.2.weight"] = (out, out, 3, 3)
    s["image_encoder.neck.3.weight"] = (out,)
    s["image_encoder.neck.3.bias"] = (out,)
    return s


def prompt_encoder(c=256, mask_in=16):
    s = collections.OrderedDict()
    p = "prompt_encoder."
    s[p + "pe_layer.positional_encoding_gaussian_matrix"] = (2, c // 2)
    for i in range(4):
        s[p + "point_embeddings.%d.weight" % i] = (1, c)
    s[p + "not_a_point_embed.weight"] = (1, c)
    m = p + "mask_downscaling."
    s[m + "0.weight"] = (mask_in // 4, 1, 2, 2)
    s[m + "0.bias"] = (mask_in // 4,)
    s[m + "1.weight"] = (mask_in // 4,)
    s[m + "1.bias"] = (mask_in // 4,)
    s[m + "3.weight"] = (mask_in, mask_in // 4, 2, 2)
    s[m + "3.bias"] = (mask_in,)
    s[m + "4.weight"] = (mask_in,)
    s[m + "4.bias"] = (mask_in,)
    s[m + "6.weight"] = (c, mask_in, 1, 1)
    s[m + "6.bias"] = (c,)
    s[p + "no_mask_embed.weight"] = (1, c)
    return s


def attention(s, prefix, c, internal):
    for n in ("q", "k", "v"):
        s[prefix + n + "_proj.weight"] = (internal, c)
        s[prefix + n + "_proj.bias"] = (internal,)
    s[prefix + "out_proj.weight"] = (c, internal)
    s[prefix + "out_proj.bias"] = (c,)


def mask_decoder(n_mask, c=256, mlp=2048):
    s = collections.OrderedDict()
    t = "mask_decoder.transformer."
    for i in range(2):
        l = t + "layers.%d." % i
        attention(s, l + "self_attn.", c, c)
        s[l + "norm1.weight"], s[l + "norm1.bias"] = (c,), (c,)
        attention(s, l + "cross_attn_token_to_image.", c, c // 2)
        s[l + "norm2.weight"], s[l + "norm2.bias"] = (c,), (c,)
        s[l + "mlp.lin1.weight"], s[l + "mlp.lin1.bias"] = (mlp, c), (mlp,)
        s[l + "mlp.lin2.weight"], s[l + "mlp.lin2.bias"] = (c, mlp), (c,)
        for k in (3, 4):
            s[l + "norm%d.weight" % k], s[l + "norm%d.bias" % k] = (c,), (c,)
        attention(s, l + "cross_attn_image_to_token.", c, c // 2)
    attention(s, t + "final_attn_token_to_image.", c, c // 2)
    s[t + "norm_final_attn.weight"], s[t + "norm_final_attn.bias"] = (c,), (c,)
    m = "mask_decoder."
    s[m + "iou_token.weight"] = (1, c)
    s[m + "mask_tokens.weight"] = (n_mask, c)
    s[m + "output_upscaling.0.weight"] = (c, c // 4, 2, 2)
    s[m + "output_upscaling.0.bias"] = (c // 4,)
    s[m + "output_upscaling.1.weight"] = (c // 4,)
    s[m + "output_upscaling.1.bias"] = (c // 4,)
    s[m + "output_upscaling.3.weight"] = (c // 4, c // 8, 2, 2)
    s[m + "output_upscaling.3.bias"] = (c // 8,)
    for i in range(n_mask):
        h = m + "output_hypernetworks_mlps.%d.layers." % i
        for k, (o, n) in enumerate(((c, c), (c, c), (c // 8, c))):
            s[h + "%d.weight" % k], s[h + "%d.bias" % k] = (o, n), (o,)
    for k, (o, n) in enumerate(((256, c), (256, 256), (n_mask, 256))):
        p = m + "iou_prediction_head.layers.%d." % k
        s[p + "weight"], s[p + "bias"] = (o, n), (o,)
    return s


def randomise(shapes):
    return collections.OrderedDict((k, torch.randn(v) * 0.05) for k, v in shapes.items())


# ---- the manifest ----
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}


def record(fname, sd):
    lines.append("N %s %d" % (fname, len(sd)))
    for name, t in sd.items():
        f = t.detach().float().contiguous().reshape(-1)
        n = f.numel()
        picks = sorted({0, n - 1, n // 2, (n * 7) // 13})
        picks = [i for i in picks if 0 <= i < n]
        vals = " ".join("%d %.9g" % (i, f[i].item()) for i in picks)
        lines.append("T %s %s %s %d %s %.17g %d %s" % (
            fname, name, DTYPES[t.dtype], t.dim(), " ".join(str(x) for x in t.shape),
            f.double().sum().item(), len(picks), vals))


def save_pth(fname, sd):
    torch.save(sd, os.path.join(OUT, fname))
    record(fname, sd)


def save_safetensors(fname, sd, metadata=None):
    """The format by hand: u64 LE header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in sd.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 \
            else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    record(fname, sd)


# ---- the files ----
tiny = randomise(image_encoder(64, 6, 2, (2, 5)))
tiny.update(randomise(prompt_encoder()))
tiny.update(randomise(mask_decoder(4)))
tiny._metadata = collections.OrderedDict([("", {"version": 1})])  # as a module's state_dict
save_pth("tiny.pth", tiny)
save_safetensors("tiny.safetensors", tiny, {"format": "pt"})
lines.append("P tiny.pth tiny 64 6 4 0")
lines.append("P tiny.safetensors tiny 64 6 4 0")

# SAMed's save_lora_parameters: torch.save of a plain dict, all w_a, then all w_b, then the
# prompt encoder and mask decoder (here with 8 classes + background = 9 mask tokens).
lora = {}
for i in range(12):
    lora["w_a_%03d" % i] = torch.randn(4, 64) * 0.1
for i in range(12):
    lora["w_b_%03d" % i] = torch.randn(64, 4) * 0.1
lora.update(randomise(prompt_encoder()))
lora.update(randomise(mask_decoder(9)))
save_pth("lora.pth", lora)
lines.append("P lora.pth tiny 64 6 9 4")

# nn.Parameter values go through torch._utils._rebuild_parameter.
params = collections.OrderedDict()
for k in ("image_encoder.pos_embed", "image_encoder.blocks.0.attn.qkv.weight",
          "mask_decoder.mask_tokens.weight"):
    params[k] = torch.nn.Parameter(tiny[k].clone())
save_pth("param.pth", params)

# Views: transposed, offset, strided, two views of one storage, a 0-d scalar, 5-D, large dims
# (BININT2 / BININT opcodes), and 16/64-bit dtypes.
base = torch.randn(6, 40)
views = collections.OrderedDict()
views["transposed"] = torch.randn(7, 5).t()
views["offset_slice"] = torch.randn(50)[13:41]
views["strided"] = base[1:5, 3:37:3]
views["shared_a"] = base[2]
views["shared_b"] = base[:, 7]
views["scalar"] = torch.tensor(3.25)
views["five_d"] = torch.randn(2, 1, 3, 2, 4).permute(4, 2, 0, 3, 1)
views["wide"] = torch.randn(3, 300)
views["long"] = torch.randn(70000)
views["half"] = torch.randn(5, 9).half()
views["half_t"] = torch.randn(9, 5).half().t()
views["bf16"] = torch.randn(33).bfloat16()
views["f64"] = torch.randn(4, 4).double()
views["empty"] = torch.randn(0, 3)
assert not views["transposed"].is_contiguous() and not views["strided"].is_contiguous()
save_pth("views.pth", views)
contig = collections.OrderedDict((k, v) for k, v in views.items()
                                 if v.dtype in (torch.float32, torch.float16, torch.bfloat16))
save_safetensors("views.safetensors", contig)


# ---- hostile files: zips written with zipfile, pickles as raw bytes ----
def write_zip(fname, entries, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(os.path.join(OUT, fname), "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)


def entries_of(fname):
    with zipfile.ZipFile(os.path.join(OUT, fname)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


# os.system("ls") the way a malicious pickle spells it.
write_zip("evil_global.pth", [("evil/data.pkl", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00ls"
                                                 b"q\x01\x85q\x02Rq\x03."),
                              ("evil/version", b"3\n")])
# 0xff is no pickle opcode at all; INST is one a state dict never needs.
write_zip("bad_opcode.pth", [("bad/data.pkl", b"\x80\x02}q\x00(\xff"), ("bad/version", b"3\n")])
write_zip("inst_opcode.pth", [("bad/data.pkl", b"\x80\x02}q\x00(ios\nsystem\n"),
                              ("bad/version", b"3\n")])

# A one-tensor file with the storage offset of its tensor rewritten past the storage's end.
small = {"w": torch.randn(10)[2:6]}
torch.save(small, os.path.join(OUT, "small.pth"))
ents = entries_of("small.pth")
pkl_name = [n for n, _ in ents if n.endswith("/data.pkl")][0]
pkl = dict(ents)[pkl_name]
at = pkl.index(b"Q" + b"K\x02")  # BINPERSID then BININT1 2 (the offset)
bad = pkl[:at + 1] + b"K\x09" + pkl[at + 3:]
write_zip("offset_beyond.pth", [(n, bad if n == pkl_name else d) for n, d in ents])
# The same file without its storage entry.
write_zip("missing_data.pth", [(n, d) for n, d in ents if "/data/" not in n])
# Deflated entries (a re-zipped .pth).
write_zip("deflated.pth", ents, zipfile.ZIP_DEFLATED)
# Newer torch: the folder is `archive/` and a `byteorder` entry says "little"; "big" is refused.
write_zip("archive_prefix.pth", [("archive/" + n.split("/", 1)[1], d) for n, d in ents] +
          [("archive/byteorder", b"little")])
record("archive_prefix.pth", small)
write_zip("big_endian.pth", [("archive/" + n.split("/", 1)[1], d) for n, d in ents] +
          [("archive/byteorder", b"big")])
# A checkpoint dict around the state dict: tensors one level down.
torch.save({"model": small, "epoch": 3}, os.path.join(OUT, "nested.pth"))

with open(MANIFEST + ".tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(MANIFEST + ".tmp", MANIFEST)
print("wrote %d manifest lines to %s" % (len(lines), OUT))
