"""The data side of a `vksamed train` config for PyTorch baselines (train_brain_torch.py): the
config read with python3-yaml (the keys of docs/config.md that a NIfTI run uses, defaults
filled, paths resolved like the engine's), NIfTI-1 volumes read with gzip + numpy (no nibabel
in Debian's python stack), and the config's train / test slices built the engine's way:
slices along data.axis (axis 2: data[z][y][x] -> plane [y][x]), intensities min-max scaled
(or windowed) per volume, labels mapped through label_groups, each run of consecutive slice
indices one case (DATA.md, engine/data/slices_nifti.c).

Errors raise DataError with a message naming the file and key.
"""
import gzip
import os
import struct

import numpy as np

import sam_model


class DataError(Exception):
    pass


# NIfTI-1 datatype code -> numpy dtype (without byte order)
NIFTI_TYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4"}


def read_nifti(path):
    """A NIfTI-1 file (.nii or .nii.gz, single file 'n+1') as a numpy array indexed
    [d3][d2][d1] (the file's first dimension fastest: data[z][y][x] for a 3-D volume), with
    scl_slope / scl_inter applied when the slope is set and not (1, 0)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read: {e}")
    if len(raw) < 348:
        raise DataError(f"{path}: {len(raw)} bytes, shorter than a NIfTI-1 header (348)")
    end = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    if struct.unpack(end + "i", raw[:4])[0] != 348:
        raise DataError(f"{path}: sizeof_hdr is not 348: not a NIfTI-1 file")
    if raw[344:347] != b"n+1":
        raise DataError(f"{path}: magic {raw[344:348]!r}, not 'n+1' (single-file NIfTI-1)")
    dim = struct.unpack(end + "8h", raw[40:56])
    datatype = struct.unpack(end + "h", raw[70:72])[0]
    vox_offset, slope, inter = struct.unpack(end + "3f", raw[108:120])
    ndim = dim[0]
    if not 1 <= ndim <= 7 or any(d < 1 for d in dim[1:ndim + 1]):
        raise DataError(f"{path}: bad dim {dim}")
    if datatype not in NIFTI_TYPES:
        raise DataError(f"{path}: datatype {datatype} not supported "
                        f"(supported: {sorted(NIFTI_TYPES)})")
    dtype = np.dtype(end + NIFTI_TYPES[datatype])
    shape = dim[1:ndim + 1]
    n = int(np.prod(shape))
    off = int(vox_offset)
    if off < 348 or off + n * dtype.itemsize > len(raw):
        raise DataError(f"{path}: vox_offset {vox_offset} and {shape} x {dtype.itemsize} bytes "
                        f"do not fit in {len(raw)} bytes")
    data = np.frombuffer(raw, dtype, n, off).reshape(shape[::-1])
    if slope != 0 and not (slope == 1 and inter == 0):
        data = data.astype(np.float64) * slope + inter
    return data


def parse_slices(text, where):
    """ "10-39,50,60-62" -> [10, ..., 39, 50, 60, 61, 62]; None / "all" -> None (every slice)."""
    if text is None or text == "all":
        return None
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            a, _, b = part.partition("-")
            lo, hi = int(a), int(b) if b else int(a)
        except ValueError:
            raise DataError(f"{where}: bad item {part!r} (want N or A-B)")
        if lo < 0 or hi < lo:
            raise DataError(f"{where}: bad range {part!r}")
        out += range(lo, hi + 1)
    if len(set(out)) != len(out):
        raise DataError(f"{where}: a slice index is listed twice")
    return out


def label_lut(groups, classes, where):
    """label_groups {class: [value or "a-b", ...]} -> a 256-entry lookup table (unlisted: 0);
    None: identity."""
    lut = np.zeros(256, np.uint8)
    if groups is None:
        return np.arange(256, dtype=np.uint8)
    seen = set()
    for cls, values in groups.items():
        if not isinstance(cls, int) or not 1 <= cls <= classes:
            raise DataError(f"{where}: class {cls!r} not in 1..{classes}")
        for v in values:
            span = [v] if isinstance(v, int) else parse_slices(v, f"{where}: class {cls}")
            if not span:
                raise DataError(f"{where}: class {cls}: empty value {v!r}")
            for x in span:
                if not 0 <= x <= 255 or x in seen:
                    raise DataError(f"{where}: value {x} out of 0..255 or in two classes")
                seen.add(x)
                lut[x] = cls
    return lut


def resolve(base, path):
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


TRAIN_DEFAULTS = {"epochs": 200, "stop_epoch": None, "base_lr": 0.005, "warmup": 250,
                  "batch": 12, "max_minutes": 0, "weight_decay": 0.1, "betas": [0.9, 0.999],
                  "eps": 1e-8, "ce_weight": 0.2, "dice_weight": 0.8, "augment": True,
                  "seed": 1234}


def load_config(path):
    """The config as a dict: preset (dict), image_size, classes, finetune, the train keys
    (defaults of docs/config.md filled), and data: format, axis, intensity, lut, train, test
    (lists of {image, label, slices})."""
    import yaml

    try:
        with open(path) as f:
            c = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: {e}")
    if not isinstance(c, dict) or any(not isinstance(c.get(k) or {}, dict)
                                      for k in ("model", "train", "data")):
        raise DataError(f"{path}: not a mapping with model, train and data sections")
    base = os.path.dirname(os.path.abspath(path))
    model, train, data = (c.get(k) or {} for k in ("model", "train", "data"))
    preset = model.get("preset")
    if preset is None:
        raise DataError(f"{path}: model.preset missing")
    if "/" in preset or preset.endswith((".yaml", ".yml")):
        preset = resolve(base, preset)
    try:
        p = sam_model.load_preset(preset)
    except ValueError as e:
        raise DataError(f"{path}: model.preset: {e}")
    if model.get("checkpoint") or model.get("lora"):
        raise DataError(f"{path}: model.checkpoint / model.lora: this baseline trains from "
                        "scratch only")
    if model.get("finetune", "full") not in (None, "full"):
        raise DataError(f"{path}: model.finetune {model['finetune']!r}: only full is supported")
    if "classes" not in model:
        raise DataError(f"{path}: model.classes missing")
    cfg = {"preset": p, "image_size": model.get("image_size") or p["image_size"],
           "classes": model["classes"]}
    unknown = set(train) - set(TRAIN_DEFAULTS) - {"save_every", "nan"}
    if unknown:
        raise DataError(f"{path}: train.{sorted(unknown)[0]}: unknown key")
    for k, v in TRAIN_DEFAULTS.items():
        cfg[k] = train.get(k) if train.get(k) is not None else v
    cfg["stop_epoch"] = cfg["stop_epoch"] or cfg["epochs"]
    if data.get("format") != "nifti":
        raise DataError(f"{path}: data.format {data.get('format')!r}: only nifti is supported")
    cfg["axis"] = data.get("axis", 2)
    cfg["intensity"] = data.get("intensity") or "minmax"
    cfg["lut"] = label_lut(data.get("label_groups"), cfg["classes"], f"{path}: data.label_groups")
    for split in ("train", "test"):
        vols = data.get(split) or []
        if not isinstance(vols, list) or not vols:
            raise DataError(f"{path}: data.{split}: a list of {{image, label, slices}} needed")
        cfg[split] = [{"image": resolve(base, v["image"]), "label": resolve(base, v["label"]),
                       "slices": parse_slices(v.get("slices"), f"{path}: data.{split}")}
                      for v in vols]
    return cfg


def runs(indices):
    """Consecutive runs of a slice list: [[10..39], [50..79], ...]."""
    out = []
    for k in indices:
        if out and k == out[-1][-1] + 1:
            out[-1].append(k)
        else:
            out.append([k])
    return out


def load_split(cfg, split):
    """The slices of data.<split>: (images [float32 h x w in [0, 1]], labels [uint8 h x w],
    cases [case index per slice], case_names)."""
    images, labels, cases, names = [], [], [], []
    for v in cfg[split]:
        img, lab = read_nifti(v["image"]), read_nifti(v["label"])
        if img.ndim != 3 or img.shape != lab.shape:
            raise DataError(f"{v['label']}: shape {lab.shape[::-1]} differs from "
                            f"{v['image']}'s {img.shape[::-1]} (or not 3-D)")
        img = img.astype(np.float64)
        if cfg["intensity"] == "minmax":
            lo, hi = float(img.min()), float(img.max())
        else:
            lo, hi = (float(x) for x in cfg["intensity"])
            img = np.clip(img, lo, hi)
        img = ((img - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)
        if lab.dtype.kind == "f" and np.any(lab != np.round(lab)):
            raise DataError(f"{v['label']}: label values are not integers")
        lab = lab.astype(np.int64)
        if lab.min() < 0 or lab.max() > 255:
            raise DataError(f"{v['label']}: label values outside 0..255")
        lab = cfg["lut"][lab]
        # numpy index [d3][d2][d1]: file axis a is numpy axis 2 - a
        nax = 2 - cfg["axis"]
        n = img.shape[nax]
        idx = v["slices"] if v["slices"] is not None else list(range(n))
        if max(idx) >= n:
            raise DataError(f"{v['image']}: slice {max(idx)} beyond the {n} along axis "
                            f"{cfg['axis']}")
        for run in runs(idx):
            names.append(f"{os.path.basename(v['image'])} {cfg['axis']}={run[0]}-{run[-1]}")
            for k in run:
                images.append(np.ascontiguousarray(np.take(img, k, axis=nax)))
                labels.append(np.ascontiguousarray(np.take(lab, k, axis=nax)))
                cases.append(len(names) - 1)
    return images, labels, cases, names
