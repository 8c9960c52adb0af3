"""PyTorch CPU timing of SAM's image encoder: the competitor `vksamed bench encoder` runs.

Usage: /usr/bin/python3 bench_encoder_torch.py PRESET SIZE BATCH ITERS THREADS

Builds sam_model.ImageEncoderViT with random weights, runs one warm-up forward (timed on its
own), then ITERS timed forwards under torch.no_grad with torch.set_num_threads(THREADS). Prints
exactly one machine-readable line last:
  BENCH_TORCH ok first_ms=F median_ms=F min_ms=F iters=N threads=T torch=VERSION
or, when torch cannot run:
  BENCH_TORCH unavailable reason=TEXT
"""
import os
import sys


def main():
    if len(sys.argv) != 6:
        print("usage: bench_encoder_torch.py PRESET SIZE BATCH ITERS THREADS", file=sys.stderr)
        return 2
    preset, size, batch, iters, threads = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                           int(sys.argv[4]), int(sys.argv[5]))
    try:
        import torch
    except ImportError as e:
        print("BENCH_TORCH unavailable reason=%s" % str(e).replace(" ", "_"))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sam_model
    from bench_timing import time_calls

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = sam_model.ImageEncoderViT(preset, size).eval()
    sam_model.randomize(model, 1)
    x = torch.randn(batch, 3, size, size)
    return time_calls(torch, lambda: model(x), iters)


if __name__ == "__main__":
    sys.exit(main())
