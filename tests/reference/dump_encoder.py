"""Writes the image-encoder parity fixture: a random-weight tiny SAM checkpoint (torch.save of
the official state dict), input images, and the encoder's outputs at S=1024 (SAM) and S=512
(SAMed: pos_embed and rel_pos resized at load time) as .npy, channels-last [B, g, g, 256].

usage: /usr/bin/python3 dump_encoder.py OUTDIR [PRESET SIZE...]   (default: tiny 1024 512)
Files: PRESET_parity.pth, PRESET_image_SIZE.npy, PRESET_embedding_SIZE.npy.
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


def main(out, preset="tiny", sizes=(1024, 512)):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    sam = sm.Sam(preset, 1024)
    sm.randomize(sam, seed=11)
    sd = sam.state_dict()
    torch.save(sd, os.path.join(out, f"{preset}_parity.pth"))
    with torch.no_grad():
        for size in sizes:
            enc = sm.ImageEncoderViT(preset, size)
            enc.load_state_dict({k[len("image_encoder."):]: v for k, v in
                                 sm.resize_state_dict(sd, size, preset).items()
                                 if k.startswith("image_encoder.")})
            g = torch.Generator().manual_seed(size)
            img = torch.randn(1, 3, size, size, generator=g)
            emb = enc(img).permute(0, 2, 3, 1).contiguous()
            np.save(os.path.join(out, f"{preset}_image_{size}.npy"), img.numpy())
            np.save(os.path.join(out, f"{preset}_embedding_{size}.npy"), emb.numpy())
    print(f"dump_encoder.py: wrote the {preset} encoder fixture to {out}")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        main(sys.argv[1], sys.argv[2], tuple(int(x) for x in sys.argv[3:]))
    else:
        main(sys.argv[1])
