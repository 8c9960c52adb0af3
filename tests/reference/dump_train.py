"""Writes the training-step parity fixtures: SAMed training steps (SAM_SPEC.md section 5) of the
tiny preset in PyTorch, for the engine's test_train_parity. Two cases share every step but the
model set-up (three cases):

  LoRA (prefix train_):      S = 512, SAMed's LoRA (r = 4) on every encoder block's qkv, the base
                             encoder frozen, prompt encoder and mask decoder trainable
  full (prefix train_full_): S = 256, every parameter trainable (what training without a SAM
                             checkpoint does), the image encoder included; the token grid 16 is
                             not a multiple of the window 14, so windowed blocks pad it to 28
  SAMed_s (prefix train_s_): S = 256, the LoRA case's set-up plus SAMed_s's adapters on q_proj
                             and v_proj of every attention of the decoder's two-way transformer,
                             which is frozen (sam_lora_image_encoder_mask_decoder.py)

Both: batch 2, 9 mask outputs (8 classes + background), no prompts (sparse empty, dense =
no_mask_embed), all 9 low-res masks [2, 9, 4g, 4g] (g = S / 16) into loss = 0.2 * CE + 0.8 * Dice
(seg_loss_check.torch_loss, the formula the engine implements) against a label map [2, 4g, 4g],
backward, then AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.1) over exactly the
trainable tensors; a second step (lr 2e-3) checks the step counter (bias correction of step 2).
The same two steps run again in float64 from the same weights: the script fails when PyTorch's own
float32 result is not well inside the test's limits there (gradients 1e-4, updates 5e-4 relative
L2), i.e. when the fixture is too ill-conditioned to tell a wrong float32 gradient from rounding.

Files in OUTDIR (.npy are float32), P the case's prefix:
  train_base.pth           LoRA case: the SAM state dict (official keys), built as SAMed loads a
                           1024 checkpoint at S = 512 (resize_state_dict + load_matching, 9 mask
                           tokens): the same convention as dump_sam.py's samed_parity_512.pth
  train_lora.pth           LoRA case: SAMed's LoRA file: w_a_000.., w_b_000.. (q, v of each
                           block), then every prompt_encoder.* and mask_decoder.* tensor (equal to
                           the base's); A Kaiming-uniform, B random (scale 0.05) so that A gets
                           gradients
  train_s_base.pth, train_s_lora.pth   SAMed_s case: the base, and SAMed_s's LoRA file (w_a,
                           w_b, sa_a, sa_b, cti_a, cti_b, cit_a, cit_b, prompt_encoder.*,
                           mask_decoder.* outside the transformer, fati_qa/qb/va/vb)
  train_full_base.pth      full case: a random SAM state dict at S = 256 with 9 mask tokens
                           (token embeddings N(0, 1) as nn.Embedding's init, the rest as
                           sam_model.randomize)
  P images.npy             [2, 3, S, S] input (already normalised: SAMed's mean 0, std 1)
  P labels.npy             [2, 4g, 4g] class indices 0..8, every class in each image
  P logits.npy             [2, 9, 4g, 4g] the low-res mask logits of the first forward
  P loss.npy, P ce.npy, P dice.npy      [1] step 1 (P loss2.npy: step 2)
  P grads.txt              one line per trainable tensor in the model file's order (the Gaussian
                           PE matrix is a buffer, not listed): "+ key" has a gradient, "- key" has
                           none (PyTorch's None: unchanged by AdamW, decay included)
  P grad_<key>.npy         d loss / d tensor of step 1, for the "+" keys
  P after_<key>.npy        every trainable tensor after AdamW step 1 (lr 1e-3)
  P after2_<key>.npy       ... after step 2 (lr 2e-3; forward/backward again on the same batch)
  P zero_grads.txt         gradients that are 0 in exact arithmetic, one per line: "key" (the
                           whole tensor: the decoder's k_proj biases) or "key start count" (that
                           flat range: the key third of an encoder qkv bias), because softmax
                           ignores a shift shared by all keys. Both sides hold rounding noise
                           there (|g| ~ 1e-11), so compare it with an absolute tolerance; AdamW
                           turns noise g into a step of lr * g / (|g| + eps), up to lr, so the
                           after-step values there need an absolute tolerance of about lr per
                           step (or skip them)

usage: /usr/bin/python3 dump_train.py OUTDIR
"""
import copy
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

PRESET, BATCH, OUTPUTS, RANK = "tiny", 2, 9, 4  # 9 outputs: 8 classes + background
LORA_SIZE, FULL_SIZE, SAMED_S_SIZE = 512, 256, 256
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


def make_images(g, labels, size):
    """An image whose structures follow the labels (per-class intensity at S, nearest from the
    low-res map), smoothed noise on top, channels slightly different, mean 0 and std 1."""
    lab = torch.nn.functional.interpolate(labels[:, None], size=(size, size), mode="nearest")
    level = torch.randn(OUTPUTS, generator=g)
    base = level[lab.long()]
    noise = torch.randn(BATCH, 3, size // 4, size // 4, generator=g)
    noise = torch.nn.functional.interpolate(noise, size=(size, size), mode="bilinear",
                                            align_corners=False)
    img = base + 0.3 * noise + 0.1 * torch.randn(BATCH, 3, size, size, generator=g)
    return (img - img.mean()) / img.std()


def build_lora(out):
    """The LoRA case's base model (saved), then SAMed's LoRA on it (saved): returns sam and
    {key: param} of the trainables in the LoRA file's order."""
    torch.manual_seed(3)
    sam1024 = sm.Sam(PRESET, 1024)
    sm.randomize(sam1024, seed=31)
    sam = sm.Sam(PRESET, LORA_SIZE, OUTPUTS)
    fresh = sm.load_matching(sam, sm.resize_state_dict(sam1024.state_dict(), LORA_SIZE, PRESET))
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
    return sam, trainable


def build_samed_s(out):
    """The SAMed_s case: a base model at S = 256 (saved as SAMed loads a 1024 checkpoint), then
    LoRA on the encoder's qkv and on q_proj / v_proj of every attention of the frozen decoder
    transformer (saved in SAMed_s's layout, every B random at scale 0.05 so that the A get
    gradients): returns sam and {key: param} of the trainables in the LoRA file's order."""
    torch.manual_seed(5)
    sam1024 = sm.Sam(PRESET, 1024)
    sm.randomize(sam1024, seed=51)
    sam = sm.Sam(PRESET, SAMED_S_SIZE, OUTPUTS)
    sm.load_matching(sam, sm.resize_state_dict(sam1024.state_dict(), SAMED_S_SIZE, PRESET))
    torch.save(sam.state_dict(), os.path.join(out, "train_s_base.pth"))
    for p in sam.image_encoder.parameters():
        p.requires_grad_(False)
    w_a, w_b = sm.add_lora(sam, RANK)
    groups = sm.add_decoder_lora(sam, RANK)
    g = torch.Generator().manual_seed(52)
    bs = list(w_b) + [b for pairs in groups.values() for _, b in pairs]
    with torch.no_grad():
        for lin in bs:
            lin.weight.copy_(0.05 * torch.randn(lin.weight.shape, generator=g))
    lora = sm.samed_s_state_dict(sam, w_a, w_b, groups)
    torch.save(lora, os.path.join(out, "train_s_lora.pth"))
    params = dict(sam.named_parameters())
    adapters = {id(l.weight) for l in list(w_a) + list(w_b)}
    adapters |= {id(l.weight) for pairs in groups.values() for ab in pairs for l in ab}
    trainable = {}
    for k, v in lora.items():
        if id(v) in adapters:
            trainable[k] = v
        elif k in params:  # not the Gaussian PE buffer
            trainable[k] = params[k]
    assert not any("transformer" in k for k in trainable), "SAMed_s freezes the transformer"
    return sam, trainable


def build_full(out):
    """The full case's model at S = 256 (saved): every parameter trainable, in state dict order.
    Checks that the reference's windowed blocks pad the grid as the engine's do."""
    torch.manual_seed(4)
    sam = sm.Sam(PRESET, FULL_SIZE, OUTPUTS)
    sm.randomize(sam, seed=41)
    # The token embeddings at nn.Embedding's own N(0, 1) scale: at randomize's 0.05 the decoder's
    # 10 tokens collapse onto one vector after its first layer (spread 0.3 % of their mean), and
    # the q / k gradients of the attention that takes them as keys become differences of nearly
    # equal terms: PyTorch's own float32 result is then 1.1e-3 off the exact one (the limit).
    g = torch.Generator().manual_seed(42)
    with torch.no_grad():
        for m in sam.modules():
            if isinstance(m, torch.nn.Embedding):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
    torch.save(sam.state_dict(), os.path.join(out, "train_full_base.pth"))
    p = sm.load_preset(PRESET)
    grid, ws = FULL_SIZE // p["patch_size"], p["window_size"]
    _, padded = sm.window_partition(torch.zeros(1, grid, grid, 1), ws)
    assert padded == ((grid + ws - 1) // ws * ws,) * 2 and padded[0] != grid, (grid, ws, padded)
    print(f"dump_train.py: full case: token grid {grid} padded to {padded[0]} in the windowed "
          f"blocks (window {ws})")
    params = dict(sam.named_parameters())
    trainable = {k: params[k] for k in sam.state_dict() if k in params}
    assert len(trainable) == len(params)
    return sam, trainable


def step(sam, images, labels):
    """Forward, loss, backward in the images' dtype: returns (logits, loss, ce, dice)."""
    sam.zero_grad(set_to_none=True)
    emb = sam.image_encoder(images)
    sparse, dense = sam.prompt_encoder(batch=images.shape[0])
    pe = sam.prompt_encoder.get_dense_pe().to(images.dtype)  # a constant, float32 in sam_model
    logits, _ = sam.mask_decoder(emb, pe, sparse, dense)
    loss, ce, dice = torch_loss(logits, labels, OUTPUTS, W_CE, W_DICE)
    loss.backward()
    return logits, loss, ce, dice


def train(sam, trainable, images, labels):
    """Two training steps (AdamW lr 1e-3, then 2e-3) in the images' dtype: returns a dict of
    what the fixture saves: logits, loss, ce, dice, loss2 (tensors), grads (step 1: {key: tensor
    or None}), before, after, after2 ({key: tensor})."""
    r = {"before": {k: p.detach().clone() for k, p in trainable.items()}}
    r["logits"], r["loss"], r["ce"], r["dice"] = step(sam, images, labels)
    r["grads"] = {k: None if p.grad is None else p.grad.clone() for k, p in trainable.items()}
    opt = torch.optim.AdamW(list(trainable.values()), lr=LR1, betas=BETAS, eps=EPS,
                            weight_decay=WD)
    opt.step()
    r["after"] = {k: p.detach().clone() for k, p in trainable.items()}
    for k, g in r["grads"].items():
        assert g is not None or torch.equal(r["after"][k], r["before"][k]), k
    _, r["loss2"], _, _ = step(sam, images, labels)
    for grp in opt.param_groups:
        grp["lr"] = LR2
    opt.step()
    r["after2"] = {k: p.detach().clone() for k, p in trainable.items()}
    return r


def report_grads(grads):
    groups = {}
    for k, g in grads.items():
        if g is None:
            continue
        grp = k.rsplit("_", 1)[0] if "." not in k else ".".join(k.split(".")[:2])
        groups[grp] = max(groups.get(grp, 0.0), g.abs().max().item())
    for grp, m in groups.items():
        print(f"  max |grad| {grp:45s} {m:.3e}")


def zero_grads(grads):
    """The lines of zero_grads.txt: (key,) or (key, start, count), and the largest |gradient|
    PyTorch has there (rounding noise)."""
    lines, noise = [], 0.0
    for k, g in grads.items():
        if g is None:
            continue
        if k.endswith("k_proj.bias"):
            lines.append((k,))
            noise = max(noise, g.abs().max().item())
        elif k.startswith("image_encoder.") and k.endswith("attn.qkv.bias"):
            d = g.shape[0] // 3
            lines.append((k, d, d))
            noise = max(noise, g[d:2 * d].abs().max().item())
    return lines, noise


def check_conditioning(prefix, r32, r64, zero):
    """PyTorch's own float32 error against float64 (the same steps from the same weights), as
    the engine's test measures its error: relative L2 per tensor of the step 1 gradients and of
    each step's update, zero ranges left out. The fixture is only a test of a float32 engine
    when this stays well under the test's limit (1e-3): a tensor whose gradient is a difference
    of nearly equal terms would fail any float32 implementation."""
    ranges = {z[0]: (z[1], z[2]) if len(z) == 3 else None for z in zero}

    def rel(a, b, k):
        a, b = a.double().flatten().clone(), b.double().flatten().clone()
        if k in ranges:
            if ranges[k] is None:
                return 0.0
            s, n = ranges[k]
            a[s:s + n] = b[s:s + n] = 0
        return ((a - b).norm() / b.norm()).item()

    worst = {}
    for k, g in r32["grads"].items():
        if g is None:
            continue
        b32, a32 = r32["before"][k], r32["after"][k]
        errs = (("gradient", rel(g, r64["grads"][k], k)),
                ("update 1", rel(a32 - b32, r64["after"][k] - b32, k)),
                ("update 2", rel(r32["after2"][k] - a32, r64["after2"][k] - a32, k)))
        for what, e in errs:
            if e > worst.get(what, (-1.0, ""))[0]:
                worst[what] = (e, k)
    print("  PyTorch float32 against float64 (worst relative L2): " +
          ", ".join(f"{w} {e:.2g} ({k})" for w, (e, k) in worst.items()))
    # Limits: a tenth of the test's for gradients (1e-6 typical), half for updates (Adam's
    # g / (|g| + eps) magnifies the error of elements with |g| near eps: 2e-4 typical).
    bad = [(w, e, k, lim) for w, (e, k) in worst.items()
           for lim in [1e-4 if w == "gradient" else 5e-4] if e > lim]
    if bad:
        w, e, k, lim = bad[0]
        sys.exit(f"dump_train.py: {prefix}*: ill-conditioned fixture: PyTorch's own float32 {w} "
                 f"of {k} is {e:.3g} off float64's (limit {lim:g})")


def run_case(out, prefix, sam, trainable, size, seed):
    """The batch, two training steps and every file of one case (names start with prefix);
    the same steps in float64 check that the fixture is well-conditioned."""
    for k, v in trainable.items():
        assert v.requires_grad, k
    g = torch.Generator().manual_seed(seed)
    labels = make_labels(g, 4 * size // 16)
    images = make_images(g, labels, size)
    save(out, prefix + "images", images)
    save(out, prefix + "labels", labels)

    names = {id(p): n for n, p in sam.named_parameters()}
    sam64 = copy.deepcopy(sam).double()
    params64 = dict(sam64.named_parameters())
    trainable64 = {k: params64[names[id(p)]] for k, p in trainable.items()}
    r = train(sam, trainable, images, labels)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the prompt encoder's empty sparse prompts
    try:
        sam64.prompt_encoder.pe_layer.float()  # sam_model computes the dense PE in float32
        r64 = train(sam64, trainable64, images.double(), labels.double())
    finally:
        torch.set_default_dtype(default)

    save(out, prefix + "logits", r["logits"])
    for name in ("loss", "ce", "dice", "loss2"):
        save(out, prefix + name, r[name].reshape(1))
    print(f"dump_train.py: {prefix}*: loss {r['loss'].item():.6f} (ce {r['ce'].item():.6f}, "
          f"dice {r['dice'].item():.6f}), step 2 loss {r['loss2'].item():.6f}")
    report_grads(r["grads"])
    with open(os.path.join(out, prefix + "grads.txt"), "w") as f:
        for k, grad in r["grads"].items():
            f.write(f"{'+' if grad is not None else '-'} {k}\n")
            if grad is not None:
                save(out, f"{prefix}grad_{k}", grad)
    zero, noise = zero_grads(r["grads"])
    with open(os.path.join(out, prefix + "zero_grads.txt"), "w") as f:
        f.writelines(" ".join(str(x) for x in z) + "\n" for z in zero)
    no_grad = [k for k, grad in r["grads"].items() if grad is None]
    print(f"  {len(trainable) - len(no_grad)} tensors with a gradient, {len(no_grad)} without "
          f"(e.g. {', '.join(no_grad[:2])}); {len(zero)} zero in exact arithmetic (noise "
          f"{noise:.2g})")
    for k in trainable:
        save(out, f"{prefix}after_{k}", r["after"][k])
        save(out, f"{prefix}after2_{k}", r["after2"][k])
    check_conditioning(prefix, r, r64, zero)


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    sam, trainable = build_lora(out)
    run_case(out, "train_", sam, trainable, LORA_SIZE, 33)
    sam, trainable = build_full(out)
    run_case(out, "train_full_", sam, trainable, FULL_SIZE, 34)
    sam, trainable = build_samed_s(out)
    run_case(out, "train_s_", sam, trainable, SAMED_S_SIZE, 35)
    print(f"dump_train.py: wrote the training fixtures to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: dump_train.py OUTDIR", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
