"""PyTorch CPU timing of one SAMed training step: the competitor of the engine's training bench.

Usage: /usr/bin/python3 bench_train_torch.py PRESET SIZE BATCH ITERS THREADS [CLASSES] [MODE]

PRESET is a name in models/presets or a .yaml path; CLASSES (default 8) classes + background
give CLASSES + 1 mask outputs; MODE is "lora" (default: SAMed, LoRA r=4 on every encoder block's
qkv, base encoder frozen, prompt encoder and mask decoder trained) or "full" (every parameter
trained, as when training from scratch). One step: forward without prompts, loss 0.2 * CE +
0.8 * Dice on the low-res logits (SIZE/4 x SIZE/4) against a random label map, backward, AdamW
(lr 1e-4, betas (0.9, 0.999), weight decay 0.1). One warm-up step (timed on its own), then ITERS
timed steps, torch.set_num_threads(THREADS). Memory: ru_maxrss (the process's peak resident set)
before the model is built (torch imported) and at the end. Prints exactly one machine-readable
line last:
  BENCH_TORCH ok first_ms=F median_ms=F min_ms=F iters=N threads=T peak_rss_mb=F base_rss_mb=F
  torch=VERSION        (one line)
or, when torch cannot run:
  BENCH_TORCH unavailable reason=TEXT
"""
import os
import resource
import sys
import time

USAGE = "usage: bench_train_torch.py PRESET SIZE BATCH ITERS THREADS [CLASSES] [MODE]"


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def parse(argv):
    if not 6 <= len(argv) <= 8:
        raise ValueError("expected 5 to 7 arguments")
    preset = argv[1]
    size, batch, iters, threads = (int(a) for a in argv[2:6])
    classes = int(argv[6]) if len(argv) > 6 else 8
    mode = argv[7] if len(argv) > 7 else "lora"
    if mode not in ("lora", "full"):
        raise ValueError(f"MODE must be lora or full, not {mode!r}")
    if size < 16 or batch < 1 or iters < 1 or threads < 1 or classes < 1:
        raise ValueError("SIZE >= 16, BATCH, ITERS, THREADS and CLASSES >= 1")
    return preset, size, batch, iters, threads, classes, mode


def build(sm, preset, size, classes, mode):
    """The model and the tensors AdamW trains."""
    model = sm.Sam(preset, size, classes + 1)
    sm.randomize(model, 1)
    if mode == "full":
        return model, [p for p in model.parameters()]
    for p in model.image_encoder.parameters():
        p.requires_grad_(False)
    sm.add_lora(model, 4)
    return model, [p for p in model.parameters() if p.requires_grad]


def main():
    try:
        preset, size, batch, iters, threads, classes, mode = parse(sys.argv)
    except ValueError as e:
        print(f"bench_train_torch.py: {e}\n{USAGE}", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError as e:
        print("BENCH_TORCH unavailable reason=%s" % str(e).replace(" ", "_"))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sam_model as sm
    from seg_loss_check import torch_loss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base_rss = rss_mb()
    try:
        model, trainable = build(sm, preset, size, classes, mode)
    except (OSError, ValueError) as e:
        print(f"bench_train_torch.py: {e}", file=sys.stderr)
        return 2
    opt = torch.optim.AdamW(trainable, lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1)
    images = torch.randn(batch, 3, size, size)
    low = size // 4
    labels = torch.randint(0, classes + 1, (batch, low, low)).float()

    def step():
        opt.zero_grad(set_to_none=True)
        emb = model.image_encoder(images)
        sparse, dense = model.prompt_encoder(batch=batch)
        logits, _ = model.mask_decoder(emb, model.prompt_encoder.get_dense_pe(), sparse, dense)
        loss, _, _ = torch_loss(logits, labels, classes + 1, 0.2, 0.8)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    loss = step()
    first = time.perf_counter() - t0
    if not torch.isfinite(loss):
        print("BENCH_TORCH unavailable reason=non-finite_loss")
        return 1
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    ntrain = sum(p.numel() for p in trainable)
    print(f"torch train step {preset} S={size} batch {batch} {mode} ({ntrain / 1e6:.3f} M trained, "
          f"{classes + 1} outputs): median {med * 1e3:.1f} ms, {batch / med:.2f} images/s")
    print("BENCH_TORCH ok first_ms=%.3f median_ms=%.3f min_ms=%.3f iters=%d threads=%d "
          "peak_rss_mb=%.1f base_rss_mb=%.1f torch=%s"
          % (first * 1e3, med * 1e3, times[0] * 1e3, n, torch.get_num_threads(), rss_mb(),
             base_rss, torch.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
