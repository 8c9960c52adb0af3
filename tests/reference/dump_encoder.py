"""Writes the image-encoder parity fixture: a random-weight tiny SAM checkpoint (torch.save of
the official state dict), input images, and the encoder's outputs at S=1024 (SAM) and S=512
(SAMed: pos_embed and rel_pos resized at load time) as .npy, channels-last [B, g, g, 256].

usage: /usr/bin/python3 dump_encoder.py OUTDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
except ImportError as e:  # the C test then reports itself skipped
    print(f"dump_encoder.py: {e}: install python3-torch and python3-numpy")
    sys.exit(0)

import sam_model as sm


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    sam = sm.Sam("tiny", 1024)
    sm.randomize(sam, seed=11)
    sd = sam.state_dict()
    torch.save(sd, os.path.join(out, "tiny_parity.pth"))
    with torch.no_grad():
        for size in (1024, 512):
            enc = sm.ImageEncoderViT("tiny", size)
            enc.load_state_dict({k[len("image_encoder."):]: v for k, v in
                                 sm.resize_state_dict(sd, size, "tiny").items()
                                 if k.startswith("image_encoder.")})
            g = torch.Generator().manual_seed(size)
            img = torch.randn(1, 3, size, size, generator=g)
            emb = enc(img).permute(0, 2, 3, 1).contiguous()
            np.save(os.path.join(out, f"image_{size}.npy"), img.numpy())
            np.save(os.path.join(out, f"embedding_{size}.npy"), emb.numpy())
    print(f"dump_encoder.py: wrote the encoder fixture to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
