"""PyTorch CPU timing of one SAM prompt with a kept image embedding: the competitor
`vksamed bench prompt` runs.

Usage: /usr/bin/python3 bench_prompt_torch.py PRESET SIZE ITERS THREADS lowres|full

Builds sam_model.PromptEncoder and MaskDecoder (the official architecture) with random
weights, a random image embedding, and one foreground point; times ITERS calls under
torch.no_grad with torch.set_num_threads(THREADS) after one warm-up call (timed on its own):
  lowres: prompt encoder + mask decoder (all mask tokens' low-res logits and IoUs);
  full:   the same plus the official postprocessing to a SIZE x SIZE image (bilinear to S x S,
          crop to the resized image, bilinear to the original size).
Prints exactly one machine-readable line last:
  BENCH_TORCH ok first_ms=F median_ms=F min_ms=F iters=N threads=T torch=VERSION
or, when torch cannot run:
  BENCH_TORCH unavailable reason=TEXT
"""
import os
import sys


def main():
    if len(sys.argv) != 6 or sys.argv[5] not in ("lowres", "full"):
        print("usage: bench_prompt_torch.py PRESET SIZE ITERS THREADS lowres|full",
              file=sys.stderr)
        return 2
    preset, size, iters, threads, mode = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                          int(sys.argv[4]), sys.argv[5])
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print("BENCH_TORCH unavailable reason=%s" % str(e).replace(" ", "_"))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sam_model
    from bench_timing import time_calls

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    p = sam_model.load_preset(preset)
    dim, patch = p["prompt_dim"], p["patch_size"]
    pe = sam_model.PromptEncoder(size, dim, patch, p["mask_in_chans"]).eval()
    md = sam_model.MaskDecoder(p["mask_outputs"], dim, p["decoder_depth"], p["decoder_heads"],
                               p["decoder_mlp_dim"], p["decoder_downsample"],
                               p["iou_head_depth"], p["iou_head_hidden"]).eval()
    sam_model.randomize(pe, 1)
    sam_model.randomize(md, 2)
    g = size // patch
    emb = torch.randn(1, dim, g, g)
    points = (torch.tensor([[[0.4 * size, 0.55 * size]]]), torch.ones(1, 1))

    def once():
        sparse, dense = pe(points=points)
        masks, iou = md(emb, pe.get_dense_pe(), sparse, dense)
        if mode == "full":
            masks = F.interpolate(masks, (size, size), mode="bilinear", align_corners=False)
            masks = masks[..., :size, :size]
            masks = F.interpolate(masks, (size, size), mode="bilinear", align_corners=False)
        return masks, iou

    return time_calls(torch, lambda: once()[0], iters)


if __name__ == "__main__":
    sys.exit(main())
