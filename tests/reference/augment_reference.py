#!/usr/bin/python3
"""Reference outputs for engine/data's augmentation (tests/unit/test_data_augment.c).

Writes random planes and what scipy.ndimage (zoom order 3 and 0, rotate order 0) and SAMed's
RandomGenerator (numpy rot90 + flip, rotate, zooms) make of them, as .npy files into the folder
given on the command line. Exits 77 (skipped) without numpy/scipy.

usage: augment_reference.py OUT_DIR
"""
import os
import sys

try:
    import numpy as np
    from scipy import ndimage
except ImportError:
    print("augment_reference: numpy/scipy not installed; skipped")
    sys.exit(77)

# name, input shape, output shape: every size path of scipy's zoom
CUBIC = [
    ("up", (224, 224), (512, 512)),
    ("quirk", (32, 40), (224, 224)),  # 31 / 223 * 223 rounds past 31: scipy's last row is 0
    ("odd", (37, 53), (64, 48)),
    ("down", (300, 300), (224, 224)),
    ("same", (50, 50), (50, 50)),
    ("thin", (1, 7), (5, 9)),
    ("tiny", (7, 6), (1, 3)),
]
NEAREST = [
    ("up", (224, 224), (512, 512)),
    ("low", (512, 512), (128, 128)),
    ("quirk", (32, 40), (224, 224)),
    ("odd", (37, 53), (64, 48)),
    ("down3", (100, 100), (33, 33)),
]
ROTATE = [("square", (64, 64)), ("oblong", (61, 47))]
ANGLES = list(range(-20, 20))
PIPE_S, PIPE_LOW = 96, 24
# kind (0 none, 1 rot90 + flip, 2 rotate), k, flip axis, angle
PIPE_PARAMS = ([(1, k, a, 0) for k in range(4) for a in range(2)] +
               [(2, 0, -1, a) for a in (-20, -7, 13, 19)] + [(0, 0, -1, 0)])


def zoom_to(x, shape, order):
    out = ndimage.zoom(x, (shape[0] / x.shape[0], shape[1] / x.shape[1]), order=order)
    assert out.shape == tuple(shape), (x.shape, shape, out.shape)
    return out


def samed(image, label, p):
    """SAMed's RandomGenerator (datasets/dataset_synapse.py) with the draws given."""
    kind, k, axis, angle = p
    if kind == 1:
        image, label = np.rot90(image, k), np.rot90(label, k)
        image, label = np.flip(image, axis=axis).copy(), np.flip(label, axis=axis).copy()
    elif kind == 2:
        image = ndimage.rotate(image, angle, order=0, reshape=False)
        label = ndimage.rotate(label, angle, order=0, reshape=False)
    x, y = image.shape
    if x != PIPE_S or y != PIPE_S:
        image = ndimage.zoom(image, (PIPE_S / x, PIPE_S / y), order=3)
        label = ndimage.zoom(label, (PIPE_S / x, PIPE_S / y), order=0)
    lh, lw = label.shape
    low = ndimage.zoom(label, (PIPE_LOW / lh, PIPE_LOW / lw), order=0)
    return image, low


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240611)

    def save(name, a):
        np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a))

    for name, si, so in CUBIC:
        x = rng.random(si, dtype=np.float32)
        save("cubic_%s_in" % name, x)
        save("cubic_%s_out" % name, zoom_to(x, so, 3).astype(np.float32))
    for name, si, so in NEAREST:
        x = rng.integers(0, 9, si, dtype=np.uint8)
        save("nearest_%s_in" % name, x)
        save("nearest_%s_out" % name, zoom_to(x, so, 0))
    for name, s in ROTATE:
        # distinct values, so equal outputs mean the same source pixel
        x = (np.arange(s[0] * s[1], dtype=np.float32) + 1).reshape(s)
        save("rotate_%s_out" % name,
             np.stack([ndimage.rotate(x, a, order=0, reshape=False) for a in ANGLES]))
    image = rng.random((90, 70), dtype=np.float32)
    label = rng.integers(0, 9, (90, 70), dtype=np.uint8)
    outs = [samed(image, label, p) for p in PIPE_PARAMS]
    save("pipe_in_image", image)
    save("pipe_in_label", label)
    save("pipe_params", np.array(PIPE_PARAMS, dtype=np.int32))
    save("pipe_out_image", np.stack([o[0] for o in outs]).astype(np.float32))
    save("pipe_out_label", np.stack([o[1] for o in outs]))
    print("augment_reference: wrote", out)


if __name__ == "__main__":
    main()
