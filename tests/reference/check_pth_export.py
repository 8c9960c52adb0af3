#!/usr/bin/python3
"""Proves that a SAMed user can load what ve_pth_write writes (tests/unit/test_pth_write.c).

Usage (Debian's /usr/bin/python3 + python3-torch):
  check_pth_export.py prepare DIR   a SAMed LoRA state dict of the `tiny` preset (random weights):
                                    DIR/samed/keys.txt (names in order) + DIR/samed/NNNN.npy
  check_pth_export.py check DIR     after test_pth_write wrote DIR/*.pth and meta.safetensors:
    formula.pth        torch.load (also weights_only=True): names, order, values; and the same
                       bytes as torch.save of the same dict to a file named archive.pth
    zip64_*.pth        Python's zipfile (CRCs) on the ZIP64 variants, torch.load on zip64_all
    samed_lora.pth     loaded exactly as SAMed's LoRA_Sam.load_lora_parameters does into a fresh
                       LoRA'd model, whose every tensor must then equal the prepared model's;
                       and byte-identical to torch.save of the same plain dict
    meta.safetensors   the header parsed by hand (length + json.loads): metadata and tensors
Without torch, prepare writes nothing and check reports itself skipped (exit 77).
"""
import json
import os
import shutil
import struct
import sys
import tempfile
import zipfile

try:
    import numpy as np
    import torch
    from torch.nn.parameter import Parameter
except ImportError:
    print("SKIP: %s has no torch/numpy: apt-get install python3-torch" % sys.executable)
    sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] == "prepare" else 77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_model as sm  # noqa: E402

PRESET, RANK, SEED = "tiny", 4, 97

# The same tensors and metadata as test_pth_write.c (k_formula, formula_value, k_meta_*).
FORMULA = [
    ("w_a_000", (4, 64)), ("scalar", ()), ("vec", (70,)), ("mat", (2, 3)),
    ("décodeur.poids ✓", (3, 4, 5)), ("four_d", (2, 3, 4, 5)), ("empty", (0, 3)),
    ("big", (300, 256)), ("five_d", (2, 1, 3, 1, 2)), ("t9", (7,)), ("t10", (1,)),
    ("t11", (3, 3)),
]
META = {
    "format": "pt",
    "step": "1200",
    "rng": "a \"quoted\" \\back\\slash\nnew line\ttab\x01 control /slash",
    "config": "préset: brain ✓ 🧠\nlr: 0.005",
    "empty": "",
    "clé ✓": "value of a non-ASCII key",
}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def formula():
    d = {}
    for t, (name, shape) in enumerate(FORMULA):
        k = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
        v = ((t * 131 + k * 7) % 1000).astype(np.float32) / np.float32(64) - np.float32(7.8125)
        d[name] = torch.from_numpy(v.reshape(shape))
    return d


def torch_save_bytes(d):
    """What torch.save writes for d into a file named archive.pth (torch 1.13 names the zip's
    folder after the file's stem; ve_pth_write always uses "archive")."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "archive.pth")
        torch.save(d, path)
        with open(path, "rb") as f:
            return f.read()


def same_tensors(got, want):
    return (list(got) == list(want) and
            all(got[k].dtype == torch.float32 and got[k].shape == want[k].shape and
                torch.equal(got[k], want[k]) for k in want))


def lora_model(seed):
    """The tiny SAM with SAMed's LoRA layers; random weights when seed is not None."""
    sam = sm.Sam(PRESET)
    w_a, w_b = sm.add_lora(sam, RANK)
    if seed is not None:
        sm.randomize(sam, seed)
    return sam, w_a, w_b


def load_lora_parameters(sam, w_As, w_Bs, filename):
    """SAMed's LoRA_Sam.load_lora_parameters (sam_lora_image_encoder.py), step for step."""
    assert filename.endswith(".pt") or filename.endswith(".pth")
    state_dict = torch.load(filename)
    for i, w_A_linear in enumerate(w_As):
        w_A_linear.weight = Parameter(state_dict[f"w_a_{i:03d}"])
    for i, w_B_linear in enumerate(w_Bs):
        w_B_linear.weight = Parameter(state_dict[f"w_b_{i:03d}"])
    sam_dict = sam.state_dict()
    sam_keys = sam_dict.keys()
    prompt_encoder_keys = [k for k in sam_keys if "prompt_encoder" in k]
    prompt_encoder_values = [state_dict[k] for k in prompt_encoder_keys]
    sam_dict.update({k: v for k, v in zip(prompt_encoder_keys, prompt_encoder_values)})
    mask_decoder_keys = [k for k in sam_keys if "mask_decoder" in k]
    mask_decoder_values = [state_dict[k] for k in mask_decoder_keys]
    sam_dict.update({k: v for k, v in zip(mask_decoder_keys, mask_decoder_values)})
    sam.load_state_dict(sam_dict)
    return state_dict


def prepare(out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "samed"))
    sam, w_a, w_b = lora_model(SEED)
    sd = sm.lora_state_dict(sam, w_a, w_b)
    with open(os.path.join(out, "samed", "keys.txt"), "w") as f:
        for i, (k, v) in enumerate(sd.items()):
            np.save(os.path.join(out, "samed", "%04d.npy" % i),
                    np.ascontiguousarray(v.detach().numpy(), dtype=np.float32))
            f.write(k + "\n")
    print("prepared %d SAMed tensors in %s" % (len(sd), out))


def check_formula(out):
    want = formula()
    path = os.path.join(out, "formula.pth")
    check(same_tensors(torch.load(path), want), "formula.pth: torch.load names, order, values")
    check(same_tensors(torch.load(path, weights_only=True), want),
          "formula.pth: torch.load(weights_only=True)")
    with open(path, "rb") as f:
        ours = f.read()
    theirs = torch_save_bytes(want)
    if ours != theirs:
        at = next((i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]),
                  min(len(ours), len(theirs)))
        print("  first difference at byte %d (ours %d bytes, torch %d)" % (at, len(ours),
                                                                          len(theirs)))
    check(ours == theirs, "formula.pth: the same bytes as torch.save (%d bytes)" % len(ours))
    for name in ("formula.pth", "zip64_all.pth", "zip64_some.pth"):
        path = os.path.join(out, name)
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            names = z.namelist()
        check(bad is None and names[0] == "archive/data.pkl" and names[-1] == "archive/version",
              "%s: zipfile reads every entry, CRCs match" % name)
        # zip64_some.pth puts lone offsets into ZIP64 fields, which torch's miniz accepts only
        # past 4 GiB (it checks offset field + size against the archive size).
        if name == "zip64_all.pth":
            check(same_tensors(torch.load(path), want), "%s: torch.load values" % name)


def check_samed(out):
    path = os.path.join(out, "samed_lora.pth")
    sam_ref, wa_ref, wb_ref = lora_model(SEED)
    want = {k: v.detach() for k, v in sm.lora_state_dict(sam_ref, wa_ref, wb_ref).items()}
    # A fresh model with other weights: everything the file holds must replace them.
    sam, w_a, w_b = lora_model(SEED + 1)
    state_dict = load_lora_parameters(sam, w_a, w_b, path)
    check(type(state_dict) is dict and same_tensors(state_dict, want),
          "samed_lora.pth: a plain dict with every key, in SAMed's order, values exact")
    got = {k: v.detach() for k, v in sm.lora_state_dict(sam, w_a, w_b).items()}
    check(same_tensors(got, want),
          "samed_lora.pth: load_lora_parameters gives the exported LoRA, prompt encoder and "
          "mask decoder (%d tensors)" % len(want))
    # The image encoder keeps its own weights (SAMed loads it from the SAM checkpoint).
    enc = [k for k in sam.state_dict() if k.startswith("image_encoder.") and "a_q" not in k and
           "b_q" not in k and "a_v" not in k and "b_v" not in k]
    check(all(not torch.equal(sam.state_dict()[k], sam_ref.state_dict()[k]) or
              sam.state_dict()[k].numel() <= 1 for k in enc if "weight" in k),
          "samed_lora.pth: image encoder base weights untouched")
    with open(path, "rb") as f:
        ours = f.read()
    check(ours == torch_save_bytes(want), "samed_lora.pth: the same bytes as torch.save")


def check_meta(out):
    path = os.path.join(out, "meta.safetensors")
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    check(header.get("__metadata__") == META, "meta.safetensors: metadata as json.loads sees it")
    want = formula()
    data = raw[8 + n:]
    ok = list(k for k in header if k != "__metadata__") == list(want)
    for k, t in want.items():
        h = header.get(k, {})
        b, e = h.get("data_offsets", (0, 0))
        got = np.frombuffer(data[b:e], dtype="<f4").reshape(h.get("shape", ()))
        ok = ok and h["dtype"] == "F32" and np.array_equal(got, t.numpy())
    check(ok, "meta.safetensors: tensors, order and values")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "check"):
        sys.exit(__doc__)
    out = sys.argv[2]
    if sys.argv[1] == "prepare":
        prepare(out)
        return
    if not os.path.exists(os.path.join(out, "samed", "keys.txt")):
        print("SKIP: nothing prepared in %s" % out)
        sys.exit(77)
    check_formula(out)
    check_samed(out)
    check_meta(out)
    print("%d failed" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
