"""Writes the training-step parity fixture: one SAMed training step (SAM_SPEC.md section 5) of
the tiny preset in PyTorch, for the engine's test_train_parity.

The step: S = 512, batch 2, 9 mask outputs (8 classes + background), SAMed's LoRA (r = 4) on
every encoder block's qkv, the base encoder frozen, prompt encoder and mask decoder trainable,
no prompts (sparse empty, dense = no_mask_embed), all 9 low-res masks [2, 9, 128, 128] into
loss = 0.2 * CE + 0.8 * Dice (seg_loss_check.torch_loss, the formula the engine implements)
against a label map [2, 128, 128], backward, then AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8,
weight decay 0.1) over exactly the trainable tensors; a second step (lr 2e-3) checks the step
counter (bias correction of step 2).

Files in OUTDIR (.npy are float32):
  train_base.pth           the SAM state dict (official keys), built as SAMed loads a 1024
                           checkpoint at S = 512 (resize_state_dict + load_matching, 9 mask
                           tokens): the same convention as dump_sam.py's samed_parity_512.pth
  train_lora.pth           SAMed's LoRA file: w_a_000.., w_b_000.. (q, v of each block), then
                           every prompt_encoder.* and mask_decoder.* tensor (equal to the base's);
                           A Kaiming-uniform, B random (scale 0.05) so that A gets gradients
  train_images.npy         [2, 3, 512, 512] input (already normalised: SAMed's mean 0, std 1)
  train_labels.npy         [2, 128, 128] class indices 0..8, every class in each image
  train_logits.npy         [2, 9, 128, 128] the low-res mask logits of the first forward
  train_loss.npy, train_ce.npy, train_dice.npy           [1] step 1 (train_loss2.npy: step 2)
  train_grads.txt          one line per trainable tensor in LoRA-file order (the Gaussian PE
                           matrix is a buffer, not listed): "+ key" has a gradient, "- key" has
                           none (PyTorch's None: unchanged by AdamW, decay included)
  train_grad_<key>.npy     d loss / d tensor of step 1, for the "+" keys
  train_after_<key>.npy    every trainable tensor after AdamW step 1 (lr 1e-3)
  train_after2_<key>.npy   ... after step 2 (lr 2e-3; forward/backward again on the same batch)
  train_zero_grads.txt     "+" keys whose exact gradient is 0 (k_proj biases: softmax ignores a
                           shift shared by all keys): their gradient is rounding noise on both
                           sides (|g| ~ 1e-11 here), so compare it with an absolute tolerance;
                           AdamW turns noise g into a step of lr * g / (|g| + eps), up to lr, so
                           their after-step values need an absolute tolerance of about
                           lr * |noise| / eps per step (or skip them)

usage: /usr/bin/python3 dump_train.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy  # noqa: F401 (dump_sam.save and seg_loss_check write and use .npy)
    import torch
except ImportError as e:  # the C test then reports itself skipped
    print(f"dump_train.py: {e}: install python3-torch and python3-numpy")
    sys.exit(0)

import sam_model as sm
from dump_sam import save
from seg_loss_check import torch_loss

PRESET, SIZE, BATCH, OUTPUTS, RANK = "tiny", 512, 2, 9, 4  # 9 outputs: 8 classes + background
LR1, LR2, BETAS, EPS, WD = 1e-3, 2e-3, (0.9, 0.999), 1e-8, 0.1
W_CE, W_DICE = 0.2, 0.8


def make_labels(g, side):
    """Per image: the 8 classes as ellipses in 8 of the cells of a 3 x 3 layout (random order,
    jittered centres and radii), background between; the free cell of image 1 holds diagonal
    stripes of all classes. Every class is present in each image."""
    y, x = torch.meshgrid(torch.arange(side, dtype=torch.float32),
                          torch.arange(side, dtype=torch.float32), indexing="ij")
    labels = torch.zeros(BATCH, side, side)
    cell = side / 3
    for b in range(BATCH):
        classes = (torch.randperm(OUTPUTS - 1, generator=g) + 1).tolist()
        cells = torch.randperm(9, generator=g).tolist()
        for c, pos in zip(classes, cells):
            j = torch.rand(4, generator=g)
            cy, cx = (pos // 3 + 0.4 + 0.2 * j[0]) * cell, (pos % 3 + 0.4 + 0.2 * j[1]) * cell
            ry, rx = cell * (0.2 + 0.25 * j[2]), cell * (0.2 + 0.25 * j[3])
            labels[b][((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1] = c
        if b == 1:
            free = cells[-1]
            inside = ((y // cell) == free // 3) & ((x // cell) == free % 3)
            stripe = 1 + ((x + y) // 4).remainder(OUTPUTS - 1)
            labels[b][inside] = stripe[inside]
        present = set(labels[b].unique().long().tolist())
        assert present == set(range(OUTPUTS)), (b, present)
    return labels


def make_images(g, labels):
    """An image whose structures follow the labels (per-class intensity at S, nearest from the
    low-res map), smoothed noise on top, channels slightly different, mean 0 and std 1."""
    lab = torch.nn.functional.interpolate(labels[:, None], size=(SIZE, SIZE), mode="nearest")
    level = torch.randn(OUTPUTS, generator=g)
    base = level[lab.long()]
    noise = torch.randn(BATCH, 3, SIZE // 4, SIZE // 4, generator=g)
    noise = torch.nn.functional.interpolate(noise, size=(SIZE, SIZE), mode="bilinear",
                                            align_corners=False)
    img = base + 0.3 * noise + 0.1 * torch.randn(BATCH, 3, SIZE, SIZE, generator=g)
    return (img - img.mean()) / img.std()


def build(out):
    """The base model (saved), then SAMed's LoRA on it (saved): returns sam, {key: param}."""
    torch.manual_seed(3)
    sam1024 = sm.Sam(PRESET, 1024)
    sm.randomize(sam1024, seed=31)
    sam = sm.Sam(PRESET, SIZE, OUTPUTS)
    fresh = sm.load_matching(sam, sm.resize_state_dict(sam1024.state_dict(), SIZE, PRESET))
    assert "mask_decoder.mask_tokens.weight" in fresh, fresh
    torch.save(sam.state_dict(), os.path.join(out, "train_base.pth"))
    for p in sam.image_encoder.parameters():
        p.requires_grad_(False)
    w_a, w_b = sm.add_lora(sam, RANK)
    g = torch.Generator().manual_seed(32)
    with torch.no_grad():
        for lin in w_b:
            lin.weight.copy_(0.05 * torch.randn(lin.weight.shape, generator=g))
    lora = sm.lora_state_dict(sam, w_a, w_b)
    torch.save(lora, os.path.join(out, "train_lora.pth"))
    params = dict(sam.named_parameters())
    trainable = {}
    for k, v in lora.items():
        if k.startswith("w_a_") or k.startswith("w_b_"):
            trainable[k] = v
        elif k in params:  # not the Gaussian PE buffer
            trainable[k] = params[k]
    for k, v in trainable.items():
        assert v.requires_grad, k
    return sam, trainable


def step(sam, images, labels, batch=BATCH):
    """Forward, loss, backward: returns (logits, loss, ce, dice)."""
    sam.zero_grad(set_to_none=True)
    emb = sam.image_encoder(images)
    sparse, dense = sam.prompt_encoder(batch=batch)
    logits, _ = sam.mask_decoder(emb, sam.prompt_encoder.get_dense_pe(), sparse, dense)
    loss, ce, dice = torch_loss(logits, labels, OUTPUTS, W_CE, W_DICE)
    loss.backward()
    return logits, loss, ce, dice


def report_grads(trainable):
    groups = {}
    for k, p in trainable.items():
        if p.grad is None:
            continue
        grp = k[:4] if k.startswith("w_") else ".".join(k.split(".")[:2])
        groups[grp] = max(groups.get(grp, 0.0), p.grad.abs().max().item())
    for grp, m in groups.items():
        print(f"  max |grad| {grp:45s} {m:.3e}")


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(33)
    labels = make_labels(g, SIZE // 4)
    images = make_images(g, labels)
    save(out, "train_images", images)
    save(out, "train_labels", labels)
    sam, trainable = build(out)

    logits, loss, ce, dice = step(sam, images, labels)
    save(out, "train_logits", logits)
    for name, v in (("loss", loss), ("ce", ce), ("dice", dice)):
        save(out, "train_" + name, v.reshape(1))
    print(f"dump_train.py: loss {loss.item():.6f} (ce {ce.item():.6f}, dice {dice.item():.6f})")
    report_grads(trainable)
    zero = [k for k in trainable if k.endswith("k_proj.bias")]
    with open(os.path.join(out, "train_grads.txt"), "w") as f:
        for k, p in trainable.items():
            f.write(f"{'+' if p.grad is not None else '-'} {k}\n")
            if p.grad is not None:
                save(out, f"train_grad_{k}", p.grad)
    with open(os.path.join(out, "train_zero_grads.txt"), "w") as f:
        f.writelines(f"{k}\n" for k in zero if trainable[k].grad is not None)
    no_grad = [k for k, p in trainable.items() if p.grad is None]
    print(f"  {len(trainable) - len(no_grad)} tensors with a gradient, {len(no_grad)} without "
          f"(e.g. {', '.join(no_grad[:2])})")

    opt = torch.optim.AdamW(list(trainable.values()), lr=LR1, betas=BETAS, eps=EPS,
                            weight_decay=WD)
    before = {k: p.detach().clone() for k, p in trainable.items()}
    opt.step()
    for k, p in trainable.items():
        assert p.grad is not None or torch.equal(p, before[k]), k
        save(out, f"train_after_{k}", p)

    _, loss2, _, _ = step(sam, images, labels)
    save(out, "train_loss2", loss2.reshape(1))
    for grp in opt.param_groups:
        grp["lr"] = LR2
    opt.step()
    for k, p in trainable.items():
        save(out, f"train_after2_{k}", p)
    print(f"dump_train.py: step 2 loss {loss2.item():.6f}; wrote the training fixture to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: dump_train.py OUTDIR", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
