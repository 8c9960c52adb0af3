#!/usr/bin/python3
"""The PyTorch baseline of a `vksamed train` + `vksamed eval` run (the built-in brain task,
configs/brain.yaml): the same data, augmentation, model, loss, optimiser and schedule as the
engine's config says, trained on the CPU with Debian's python3-torch, then evaluated as
`vksamed eval` does. It is the competitor the README reports beside the engine: a loss that
falls slower per step in the engine than here points at an engine bug, not at speed.

usage: /usr/bin/python3 tests/reference/train_brain_torch.py CONFIG.yaml
           [--minutes M | --epochs E] [--threads T] [--out DIR] [--no-rotate]

- Data (brain_data.py): the config's NIfTI volumes, slices along data.axis, intensities
  min-max scaled per volume, labels mapped by data.label_groups (unlisted -> 0).
- Augmentation (train only, train.augment): SAMed's RandomGenerator (SAM_SPEC.md section 5):
  with p 0.5 rot90 + flip, else with p 0.5 rotate by an integer angle in [-20, 20) (order 0);
  then zoom to S (order 3 image, order 0 label) and the label nearest to S/4; the image repeated
  to 3 channels, no normalisation. --no-rotate: rot90 + flip or nothing. Applied by
  augment_reference.samed (scipy.ndimage), the reference the engine's augmentation is tested on.
- Model: sam_model.Sam(preset, image_size, classes + 1 mask tokens) with PyTorch's default
  initialisation (from scratch), every weight trained, no prompts, all masks output; loss
  ce_weight * CE + dice_weight * Dice (SAMed's DiceLoss with background, seg_loss_check) on the
  low-res logits; torch.optim.AdamW(base_lr, betas, eps, weight_decay); SAMed's schedule
  (warmup: lr = base * (it + 1) / warmup set after each step, the first step at base / warmup;
  then base * (1 - (it - warmup) / max_it) ^ 0.9 with max_it = epochs * steps per epoch); batch
  slices per step, shuffled per epoch, the last partial batch dropped. Stops after stop_epoch
  epochs, or after the step that passes --minutes (train.max_minutes), like the engine.
- Eval: each test slice zoomed (order 3) to S, predicted, the low-res masks upsampled bilinearly
  to S x S (SAM's postprocess), argmax, zoomed back nearest; per case (each run of consecutive
  slices) and class 1..classes, Dice and HD95 in 3-D with SAMed's special cases
  (medpy_reference.metric_percase, voxel spacing 1 as SAMed reports).

Writes into --out (default: the config's output + "_torch", under the current folder):
  log.csv       step,epoch,lr,loss,ce,dice,images_per_s,elapsed_s (the engine's log format)
  metrics.csv   case,class,dice,hd95 (as vksamed eval); metrics.json (mean, per class, per case)
  model.pth     the trained state dict (official key names: `vksamed eval --model` reads it)
Prints the per-class and mean Dice / HD95 and the training images/s. One brain: the numbers say
how well a method learns, not how a model generalises.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import augment_reference as aug  # noqa: E402
import brain_data  # noqa: E402
import medpy_reference  # noqa: E402
import sam_model  # noqa: E402
from seg_loss_check import torch_loss  # noqa: E402

CSV_HEADER = "step,epoch,lr,loss,ce,dice,images_per_s,elapsed_s"
EVAL_BATCH = 10


def samed_lr(base, warmup, max_it, step):
    """The rate of 1-based step `step` (engine: sam_samed_lr): SAMed sets the rate after each
    iteration it, the first step runs at base / warmup."""
    if step <= 1:
        return base / warmup if warmup > 0 else base
    it = step - 2
    if warmup > 0 and it < warmup:
        return base * (it + 1) / warmup
    f = 1.0 - (it - warmup if warmup > 0 else it) / max_it if max_it > 0 else 1.0
    return base * f ** 0.9 if f > 0 else 0.0


def draw(rng, rotate):
    """One draw of SAMed's RandomGenerator as augment_reference.samed's parameters
    (kind, k, flip axis, angle): u > 0.5 rot90 + flip, else u > 0.5 rotate, else nothing."""
    if rng.random() > 0.5:
        return (1, int(rng.integers(0, 4)), int(rng.integers(0, 2)), 0)
    if rotate and rng.random() > 0.5:
        return (2, 0, -1, int(rng.integers(-20, 20)))
    return (0, 0, -1, 0)


def make_batch(images, labels, idx, rng, augment, rotate):
    """Slices idx -> (B x 3 x S x S images, B x S/4 x S/4 labels) as float tensors."""
    ims, lows = [], []
    for i in idx:
        p = draw(rng, rotate) if augment else (0, 0, -1, 0)
        im, low = aug.samed(images[i], labels[i], p)
        ims.append(np.repeat(im[None].astype(np.float32), 3, axis=0))
        lows.append(low.astype(np.float32))
    return torch.from_numpy(np.stack(ims)), torch.from_numpy(np.stack(lows))


def forward(model, x):
    """All classes + 1 low-res mask logits of a prompt-free SAM forward (SAMed)."""
    emb = model.image_encoder(x)
    sparse, dense = model.prompt_encoder(batch=x.shape[0])
    logits, _ = model.mask_decoder(emb, model.prompt_encoder.get_dense_pe(), sparse, dense)
    return logits


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def train(cfg, model, images, labels, args, out):
    """Trains model in place; returns (steps, training seconds)."""
    S, B, K = cfg["image_size"], cfg["batch"], cfg["classes"] + 1
    aug.PIPE_S, aug.PIPE_LOW = S, S // 4  # augment_reference.samed's output sides
    n = len(images)
    bpe = n // B
    if bpe < 1:
        raise brain_data.DataError(f"{len(images)} training slices: fewer than a batch of {B}")
    max_it, total = cfg["epochs"] * bpe, cfg["stop_epoch"] * bpe
    rng = np.random.default_rng(cfg["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=samed_lr(cfg["base_lr"], cfg["warmup"],
                                                             max_it, 1),
                            betas=tuple(cfg["betas"]), eps=cfg["eps"],
                            weight_decay=cfg["weight_decay"])
    print(f"training {cfg['preset']['name']} at {S}, {K - 1} classes, full fine-tuning from "
          f"scratch ({sum(p.numel() for p in model.parameters()) / 1e6:.3f} M weights); {n} "
          f"slices, batch {B}: {bpe} steps per epoch, epochs {cfg['stop_epoch']} of "
          f"{cfg['epochs']} ({total} steps); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    limit = cfg["max_minutes"] * 60.0
    log = open(os.path.join(out, "log.csv"), "w")
    log.write(CSV_HEADER + "\n")
    step, t_start = 0, time.perf_counter()
    t_prev, stop = t_start, False
    for epoch in range(cfg["stop_epoch"]):
        perm = rng.permutation(n)
        ep_loss = []
        for b in range(bpe):
            x, y = make_batch(images, labels, perm[b * B:(b + 1) * B], rng, cfg["augment"],
                              not args.no_rotate)
            lr = samed_lr(cfg["base_lr"], cfg["warmup"], max_it, step + 1)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss, ce, dice = torch_loss(forward(model, x), y, K, cfg["ce_weight"],
                                        cfg["dice_weight"])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"step {step + 1} (epoch {epoch}, batch {b}): loss "
                                         f"{loss.item()}")
            loss.backward()
            opt.step()  # a parameter without a gradient (IoU head, unused prompt parts): skipped
            step += 1
            now = time.perf_counter()
            row = "%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g" % (
                step, epoch, lr, loss.item(), ce.item(), float(dice), B / (now - t_prev),
                now - t_start)
            log.write(row + "\n")
            log.flush()
            t_prev = now
            ep_loss.append(loss.item())
            if limit > 0 and now - t_start > limit:
                stop = True
                break
        el = time.perf_counter() - t_start
        print(f"epoch {epoch + 1:3d} step {step:5d} lr {lr:.2e} loss {np.mean(ep_loss):.4f} "
              f"(last {ep_loss[-1]:.4f}) | {step * B / el:.2f} img/s | {el:6.1f} s", flush=True)
        if stop:
            print(f"stopping after {el / 60:.1f} minutes at step {step}")
            break
    log.close()
    return step, time.perf_counter() - t_start


def predict(model, images, S):
    """Each test slice -> its label map at its own size, as vksamed eval predicts."""
    preds = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(images), EVAL_BATCH):
            chunk = images[i:i + EVAL_BATCH]
            x = np.stack([np.repeat((im if im.shape == (S, S) else aug.zoom_to(im, (S, S), 3))
                                    [None].astype(np.float32), 3, axis=0) for im in chunk])
            logits = forward(model, torch.from_numpy(x))
            up = F.interpolate(logits, (S, S), mode="bilinear", align_corners=False)
            am = up.argmax(dim=1).numpy().astype(np.uint8)
            for im, a in zip(chunk, am):
                preds.append(a if im.shape == (S, S) else aug.zoom_to(a, im.shape, 0))
    return preds


def evaluate(preds, labels, cases, names, classes):
    """[case][class-1] = (dice, hd95) over each case's slices stacked in 3-D, and
    [case][class-1] = whether the ground truth has that class."""
    res, present = [], []
    for k in range(len(names)):
        p = np.stack([preds[i] for i in range(len(cases)) if cases[i] == k])
        g = np.stack([labels[i] for i in range(len(cases)) if cases[i] == k])
        res.append([tuple(float(v) for v in
                          medpy_reference.metric_percase(p == c, g == c, (1.0, 1.0, 1.0)))
                    for c in range(1, classes + 1)])
        present.append([bool(np.any(g == c)) for c in range(1, classes + 1)])
    return res, present


def report(res, present, names, classes, out):
    print(f"{'case':<32}" + "".join(f"   class {c:<3}" for c in range(1, classes + 1)) +
          "        mean")
    for name, r in zip(names, res):
        print(f"{name:<32.32}" + "".join(f" {d:5.3f}/{h:5.1f}" for d, h in r) +
              f" {np.mean([d for d, _ in r]):5.3f}/{np.mean([h for _, h in r]):5.1f}")
    cd = [float(np.mean([r[c][0] for r in res])) for c in range(classes)]
    ch = [float(np.mean([r[c][1] for r in res])) for c in range(classes)]
    print(f"{'mean over cases':<32}" + "".join(f" {d:5.3f}/{h:5.1f}" for d, h in zip(cd, ch)) +
          f" {np.mean(cd):5.3f}/{np.mean(ch):5.1f}")
    print(f"mean Dice {np.mean(cd):.4f}, mean HD95 {np.mean(ch):.2f} (voxels) over {len(res)} "
          f"cases x {classes} classes (Dice/HD95 per cell; one brain: how well it learns, not "
          "how it generalises)")
    # SAMed's rule scores a class absent from a case's ground truth 0 when not predicted (1 when
    # predicted): with absent cells the mean cannot reach 1, so also show the cells with a truth.
    cells = [r[c][0] for r, p in zip(res, present) for c in range(classes) if p[c]]
    n_cells = len(res) * classes
    print(f"{n_cells - len(cells)} of {n_cells} case/class cells have no ground truth (SAMed "
          f"scores them 0 unless predicted, then 1): mean Dice over the {len(cells)} with "
          f"ground truth {np.mean(cells) if cells else 0.0:.4f}")
    write_atomic(os.path.join(out, "metrics.csv"), "case,class,dice,hd95\n" + "".join(
        f'"{n}",{c + 1},{r[c][0]:.6f},{r[c][1]:.6f}\n' for n, r in zip(names, res)
        for c in range(classes)))
    return {"cases": [{"case": n, "dice": [d for d, _ in r], "hd95": [h for _, h in r]}
                      for n, r in zip(names, res)],
            "class_dice": cd, "class_hd95": ch, "mean_dice": float(np.mean(cd)),
            "mean_hd95": float(np.mean(ch)),
            "mean_dice_cells_with_truth": float(np.mean(cells)) if cells else 0.0,
            "cells_without_truth": n_cells - len(cells)}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--minutes", type=float, help="wall-time limit (train.max_minutes)")
    ap.add_argument("--epochs", type=int, help="train.epochs (and stop_epoch) override")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--out", help="output folder (default: the config's output + '_torch')")
    ap.add_argument("--no-rotate", action="store_true", help="augment by rot90 + flip only")
    a = ap.parse_args()
    if a.minutes is not None and a.minutes <= 0 or a.epochs is not None and a.epochs < 1 or \
            a.threads < 1:
        ap.error("--minutes > 0, --epochs >= 1 and --threads >= 1")
    return a


def main():
    args = parse_args()
    try:
        cfg = brain_data.load_config(args.config)
        if args.epochs:
            cfg["epochs"] = cfg["stop_epoch"] = args.epochs
        if args.minutes:
            cfg["max_minutes"] = args.minutes
        out = args.out
        if not out:
            import yaml
            with open(args.config) as f:
                out = (yaml.safe_load(f).get("output") or "runs/run") + "_torch"
        tr_images, tr_labels, _, _ = brain_data.load_split(cfg, "train")
        te_images, te_labels, te_cases, te_names = brain_data.load_split(cfg, "test")
        os.makedirs(out, exist_ok=True)
    except (brain_data.DataError, OSError) as e:
        print(f"train_brain_torch.py: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(cfg["seed"])
    model = sam_model.Sam(cfg["preset"], cfg["image_size"], cfg["classes"] + 1)
    try:
        steps, secs = train(cfg, model, tr_images, tr_labels, args, out)
    except (brain_data.DataError, FloatingPointError) as e:
        print(f"train_brain_torch.py: {e}", file=sys.stderr)
        return 1
    ips = steps * cfg["batch"] / secs
    print(f"trained {steps} steps in {secs:.1f} s: {ips:.2f} images/s (data and augmentation "
          f"included, {args.threads} threads)")
    torch.save(model.state_dict(), os.path.join(out, "model.pth.tmp"))
    os.replace(os.path.join(out, "model.pth.tmp"), os.path.join(out, "model.pth"))
    t0 = time.perf_counter()
    preds = predict(model, te_images, cfg["image_size"])
    res, present = evaluate(preds, te_labels, te_cases, te_names, cfg["classes"])
    m = report(res, present, te_names, cfg["classes"], out)
    m.update({"steps": steps, "train_seconds": secs, "images_per_s": ips,
              "threads": args.threads, "torch": torch.__version__,
              "eval_seconds": time.perf_counter() - t0})
    write_atomic(os.path.join(out, "metrics.json"), json.dumps(m, indent=2) + "\n")
    print(f"wrote {out}/log.csv, metrics.csv, metrics.json, model.pth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
