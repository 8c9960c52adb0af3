"""Writes the full-pipeline parity fixture (image encoder -> prompt encoder -> mask decoder) for
tests/unit/test_sam_parity.c, from the PyTorch reference in sam_model.py.

Files in OUTDIR (all float32 .npy; feature maps channels-last as the engine keeps them):
  sam_parity_1024.pth       random-weight tiny SAM (4 mask tokens), torch.save of its state dict
  samed_parity_512.pth      the SAMed-shaped model (S=512, 9 mask tokens) built as SAMed does:
                            resize_state_dict + load_matching; the rest keeps its fresh init
  sam_image_<S>.npy         input image [B, 3, S, S]
  sam_embedding_<S>.npy     image embedding [B, g, g, 256]
  sam_<case>_points.npy     [B, N, 2] pixel coordinates   (cases with points)
  sam_<case>_labels.npy     [B, N]                         (cases with points)
  sam_<case>_boxes.npy      [B, 4]                         (cases with a box)
  sam_<case>_mask.npy       [B, 1, 4g, 4g] low-res logits  (cases with a mask input)
  sam_<case>_sparse.npy     [B, T, 256]                    (T > 0 only)
  sam_<case>_dense.npy      [B, g, g, 256]
  sam_<case>_masks.npy      [B, M, 4g, 4g]  all M low-res mask logits
  sam_<case>_iou.npy        [B, M]
  sam_<case>_dmasks.npy     [B, M, 4g, 4g] R of the loss sum(masks * R)  (both, samed)
  sam_<case>_grad_<key>.npy d loss / d param for the keys in sam_<case>_grads.txt
Cases: point, box, both, mask (S=1024, B=1, M=4) and samed (S=512, B=2, M=9, no prompts).

usage: /usr/bin/python3 dump_sam.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
except ImportError as e:  # the C test then reports itself skipped
    print(f"dump_sam.py: {e}: install python3-torch and python3-numpy")
    sys.exit(0)

import sam_model as sm


def save(out, name, t):
    np.save(os.path.join(out, name + ".npy"), t.detach().contiguous().numpy().astype(np.float32))


def run_case(out, sam, name, emb, points=None, boxes=None, mask=None, batch=1, grads=None):
    """grads: (keys with a gradient, keys without) of d(sum(masks * R))/d(param), R random."""
    pe, dec = sam.prompt_encoder, sam.mask_decoder
    with torch.set_grad_enabled(grads is not None):
        sam.zero_grad(set_to_none=True)
        sparse, dense = pe(points=points, boxes=boxes, masks=mask, batch=batch)
        masks, iou = dec(emb, pe.get_dense_pe(), sparse, dense)
        if grads is not None:
            r = torch.randn(masks.shape, generator=torch.Generator().manual_seed(77))
            (masks * r).sum().backward()
            save(out, f"sam_{name}_dmasks", r)
            params = dict(sam.named_parameters())
            for k in grads[0]:
                assert params[k].grad is not None, k
                save(out, f"sam_{name}_grad_{k}", params[k].grad)
            for k in grads[1]:
                assert params[k].grad is None, k
            # The list the C test walks: "+ key" has sam_<case>_grad_<key>.npy, "- key" none.
            with open(os.path.join(out, f"sam_{name}_grads.txt"), "w") as f:
                f.writelines([f"+ {k}\n" for k in grads[0]] + [f"- {k}\n" for k in grads[1]])
    if points is not None:
        save(out, f"sam_{name}_points", points[0])
        save(out, f"sam_{name}_labels", points[1])
    if boxes is not None:
        save(out, f"sam_{name}_boxes", boxes)
    if mask is not None:
        save(out, f"sam_{name}_mask", mask)
    if sparse.shape[1]:
        save(out, f"sam_{name}_sparse", sparse)
    save(out, f"sam_{name}_dense", dense.permute(0, 2, 3, 1))
    save(out, f"sam_{name}_masks", masks)
    save(out, f"sam_{name}_iou", iou)


# Gradients compared by test_sam_parity.c (it reads sam_<case>_grads.txt). SAMed trains the
# prompt encoder and the decoder; without prompts the point tables and mask convs get none, and
# a loss on the masks alone leaves the IoU head without one. (Not k_proj biases: softmax ignores
# a shift shared by all keys, so their true gradient is 0 and both sides hold only rounding.)
SAMED_GRADS = ([
    "mask_decoder.mask_tokens.weight",
    "mask_decoder.iou_token.weight",
    "mask_decoder.transformer.layers.0.self_attn.q_proj.weight",
    "mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.bias",
    "mask_decoder.transformer.layers.1.cross_attn_image_to_token.v_proj.weight",
    "mask_decoder.transformer.layers.1.mlp.lin1.weight",
    "mask_decoder.transformer.final_attn_token_to_image.out_proj.weight",
    "mask_decoder.transformer.norm_final_attn.weight",
    "mask_decoder.output_upscaling.0.weight",
    "mask_decoder.output_upscaling.1.bias",
    "mask_decoder.output_hypernetworks_mlps.8.layers.0.weight",
    "prompt_encoder.no_mask_embed.weight",
], [
    "mask_decoder.iou_prediction_head.layers.2.weight",
    "prompt_encoder.point_embeddings.1.weight",
    "prompt_encoder.mask_downscaling.0.weight",
])
BOTH_GRADS = ([
    "prompt_encoder.point_embeddings.1.weight",
    "prompt_encoder.point_embeddings.2.weight",
    "prompt_encoder.point_embeddings.3.weight",
    "prompt_encoder.not_a_point_embed.weight",
    "mask_decoder.transformer.layers.0.self_attn.v_proj.weight",
], [
    "prompt_encoder.mask_downscaling.0.weight",
])


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    sam = sm.Sam("tiny", 1024)
    sm.randomize(sam, seed=23)
    sd = sam.state_dict()
    torch.save(sd, os.path.join(out, "sam_parity_1024.pth"))
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        img = torch.randn(1, 3, 1024, 1024, generator=g)
        emb = sam.image_encoder(img)
        save(out, "sam_image_1024", img)
        save(out, "sam_embedding_1024", emb.permute(0, 2, 3, 1))
        # Fractional pixel coordinates; the padding point is appended (no box).
        pts = torch.tensor([[[300.25, 712.5], [811.0, 97.75]]])
        run_case(out, sam, "point", emb, points=(pts, torch.tensor([[1.0, 0.0]])))
        run_case(out, sam, "box", emb, boxes=torch.tensor([[120.5, 64.0, 903.25, 640.75]]))
        # Points + box: no padding point; an explicit -1 label (SAM's batch padding).
        pts = torch.tensor([[[512.0, 400.5], [10.0, 1000.0]]])
        run_case(out, sam, "both", emb, points=(pts, torch.tensor([[1.0, -1.0]])),
                 boxes=torch.tensor([[200.0, 150.5, 700.75, 820.0]]), grads=BOTH_GRADS)
        mask = 4.0 * torch.randn(1, 1, 256, 256, generator=g)
        pts = torch.tensor([[[640.5, 333.0]]])
        run_case(out, sam, "mask", emb, points=(pts, torch.tensor([[1.0]])), mask=mask)

    # SAMed: S=512, 9 mask tokens (8 classes + background), weights adapted as SAMed loads them.
    torch.manual_seed(1)
    samed = sm.Sam("tiny", 512, 9)
    fresh = sm.load_matching(samed, sm.resize_state_dict(sd, 512, "tiny"))
    assert "mask_decoder.mask_tokens.weight" in fresh, fresh
    torch.save(samed.state_dict(), os.path.join(out, "samed_parity_512.pth"))
    with torch.no_grad():
        img = torch.randn(2, 3, 512, 512, generator=g)
        emb = samed.image_encoder(img)
        save(out, "sam_image_512", img)
        save(out, "sam_embedding_512", emb.permute(0, 2, 3, 1))
        run_case(out, samed, "samed", emb, batch=2, grads=SAMED_GRADS)
    print(f"dump_sam.py: wrote the SAM pipeline fixture to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
