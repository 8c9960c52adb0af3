"""Checks what `vksamed train` and `vksamed eval` leave in a run folder (tests/cli/train_test.sh).

  check_train_run.py RUN STEPS TEST_SLICES   every output exists and is well-formed
  check_train_run.py --same-weights A B      two safetensors files hold identical tensors
  check_train_run.py --lora FILE.pth BLOCKS  a SAMed LoRA export: keys, shapes, torch.load
  check_train_run.py --lora-s FILE.pth BLOCKS DECODER_DEPTH  a SAMed_s export: keys, order

Only the standard library and numpy are needed; torch.load is tried when torch is installed.
"""
import csv
import gzip
import json
import math
import os
import struct
import sys
import zipfile

import numpy as np


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    meta = head.pop("__metadata__", {})
    out = {}
    for k, v in head.items():
        a, b = v["data_offsets"]
        if v["dtype"] != "F32":
            fail(f"{path}: {k} is {v['dtype']}")
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"])
    return out, meta


def torch_load(path):
    try:
        import torch
    except ImportError:
        return None
    return torch.load(path, map_location="cpu")


def check_run(run, steps, test_slices):
    for f in ("config.yaml", "log.csv", "loss.png", "model.safetensors", "model.pth",
              "state.safetensors"):
        if not os.path.getsize(os.path.join(run, f)):
            fail(f"{run}/{f} is empty")
    rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
    if [int(r["step"]) for r in rows] != list(range(1, steps + 1)):
        fail(f"log.csv: steps {[r['step'] for r in rows][:5]}..., expected 1..{steps}")
    loss = [float(r["loss"]) for r in rows]
    if not all(math.isfinite(x) for x in loss):
        fail("log.csv: a loss is not finite")
    first, last = sum(loss[:5]) / 5, sum(loss[-5:]) / 5
    print(f"loss: first 5 steps {first:.4f}, last 5 steps {last:.4f}")
    if not last < first:
        fail("the loss did not go down")
    png = open(os.path.join(run, "loss.png"), "rb").read()
    if png[:8] != b"\x89PNG\r\n\x1a\n" or struct.unpack(">II", png[16:24]) != (800, 500):
        fail("loss.png is not an 800x500 PNG")
    model, _ = safetensors(os.path.join(run, "model.safetensors"))
    if "image_encoder.patch_embed.proj.weight" not in model or len(model) < 100:
        fail(f"model.safetensors: {len(model)} tensors, no image encoder")
    _, meta = safetensors(os.path.join(run, "state.safetensors"))
    if meta.get("step") != str(steps):
        fail(f"state.safetensors: step {meta.get('step')}, expected {steps}")
    zipfile.ZipFile(os.path.join(run, "model.pth")).testzip()
    sd = torch_load(os.path.join(run, "model.pth"))
    if sd is not None:
        for k, v in model.items():
            if not np.array_equal(sd[k].numpy(), v):
                fail(f"model.pth and model.safetensors differ at {k}")
        print(f"model.pth: torch.load gives the {len(sd)} tensors of model.safetensors")
    ev = os.path.join(run, "eval")
    m = list(csv.DictReader(open(os.path.join(ev, "metrics.csv"))))
    if len(m) != 3 * 8:
        fail(f"metrics.csv: {len(m)} rows, expected 3 cases x 8 classes")
    for r in m:
        d, h = float(r["dice"]), float(r["hd95"])
        if not (0 <= d <= 1 and h >= 0 and math.isfinite(h)):
            fail(f"metrics.csv: bad row {r}")
    j = json.load(open(os.path.join(ev, "metrics.json")))
    mean = np.mean([float(r["dice"]) for r in m])
    if abs(j["mean_dice"] - mean) > 1e-5 or len(j["cases"]) != 3:
        fail(f"metrics.json mean {j['mean_dice']} vs csv {mean}")
    pngs = [f for f in os.listdir(os.path.join(ev, "overlays")) if f.endswith(".png")]
    if len(pngs) != test_slices:
        fail(f"{len(pngs)} overlays, expected {test_slices}")
    nii = [f for f in os.listdir(ev) if f.startswith("pred_") and f.endswith(".nii.gz")]
    if len(nii) != 1:
        fail(f"predictions: {nii}")
    raw = gzip.open(os.path.join(ev, nii[0])).read()
    dims = struct.unpack("<8h", raw[40:56])
    if struct.unpack("<i", raw[:4])[0] != 348 or dims[1:4] != (181, 217, 181):
        fail(f"{nii[0]}: header size / dims {dims}")
    vol = np.frombuffer(raw[352:], dtype=np.uint8)
    if vol.size != 181 * 217 * 181 or vol.max() > 8:
        fail(f"{nii[0]}: {vol.size} voxels, max label {vol.max()}")
    print(f"eval: {len(m)} metric rows, mean Dice {mean:.4f}, {len(pngs)} overlays, {nii[0]}")


def check_same(a, b):
    ta, _ = safetensors(a)
    tb, _ = safetensors(b)
    if ta.keys() != tb.keys():
        fail("different tensor names")
    for k in ta:
        if not np.array_equal(ta[k], tb[k]):
            fail(f"{k} differs: max |diff| {np.abs(ta[k] - tb[k]).max()}")
    print(f"{len(ta)} tensors identical")


def load_export(path):
    """A .pth export: its zip structure checked, then torch.load's dict (None without torch)."""
    zipfile.ZipFile(path).testzip()
    sd = torch_load(path)
    if sd is None:
        print("torch not installed: zip structure only")
    return sd


def check_lora(path, blocks):
    sd = load_export(path)
    if sd is None:
        return
    keys = list(sd)
    want = [f"w_a_{i:03d}" for i in range(2 * blocks)] + [f"w_b_{i:03d}" for i in range(2 * blocks)]
    if keys[:4 * blocks] != want:
        fail(f"LoRA keys {keys[:6]}..., expected SAMed's order")
    if not any(k.startswith("mask_decoder.") for k in keys) or not any(
            k.startswith("prompt_encoder.") for k in keys):
        fail("no prompt_encoder.* / mask_decoder.* tensors")
    if float(sd["w_b_000"].abs().max()) == 0:
        fail("w_b_000 is still zero: the adapters did not train")
    print(f"{path}: {len(keys)} tensors in SAMed's layout, B trained")


def check_lora_s(path, blocks, dec_depth):
    """SAMed_s's save_lora_parameters layout: w_a, w_b, sa_a, sa_b, cti_a, cti_b, cit_a, cit_b,
    prompt_encoder.*, mask_decoder.* outside the transformer, fati_qa/qb/va/vb; B trained."""
    sd = load_export(path)
    if sd is None:
        return
    keys = list(sd)
    want = [f"w_{x}_{i:03d}" for x in "ab" for i in range(2 * blocks)]
    want += [f"{g}_{x}_{i:03d}" for g in ("sa", "cti", "cit") for x in "ab"
             for i in range(2 * dec_depth)]
    if keys[:len(want)] != want:
        fail(f"SAMed_s keys {keys[:6]}..., expected SAMed_s's order")
    rest = keys[len(want):]
    if rest[-4:] != ["fati_qa", "fati_qb", "fati_va", "fati_vb"]:
        fail(f"SAMed_s: last keys {rest[-4:]}, expected fati_qa, fati_qb, fati_va, fati_vb")
    mid = rest[:-4]
    if not mid or any(not (k.startswith("prompt_encoder.") or k.startswith("mask_decoder."))
                      or "transformer" in k for k in mid):
        fail("SAMed_s: the middle keys must be prompt_encoder.* and mask_decoder.* without the "
             "transformer")
    for k in ("w_b_000", "sa_b_000", "cit_b_001", "fati_vb"):
        if float(sd[k].abs().max()) == 0:
            fail(f"{k} is still zero: the adapters did not train")
    print(f"{path}: {len(keys)} tensors in SAMed_s's layout, B trained")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "--same-weights":
        check_same(a[1], a[2])
    elif a[0] == "--lora-s":
        check_lora_s(a[1], int(a[2]), int(a[3]))
    elif a[0] == "--lora":
        check_lora(a[1], int(a[2]))
    else:
        check_run(a[0], int(a[1]), int(a[2]))
