#!/usr/bin/python3
"""Small files in SAMed's Synapse layout for tests/unit/test_data_slices.c.

npz/: training slices as numpy.savez writes them (image.npy float32 [H, W], label.npy), a
SAMed-style list file, and broken ones (label 300, label 2.5, NaN image, shapes that differ, a
missing entry, a compressed archive), each named by a one-line list file bad_*.txt.
h5/: test volumes as h5py writes them (datasets image float32 [D, H, W], label [D, H, W]),
test_vol.txt, and broken ones likewise. Values follow formulas the C test recomputes.
Exits 77 (skipped) without numpy or h5py.

usage: slice_files.py OUT_DIR
"""
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    print("slice_files: numpy/h5py not installed; skipped")
    sys.exit(77)


def image2d(h, w, k):
    y, x = np.mgrid[0:h, 0:w]
    return ((y * 10 + x) / 1000.0 + 0.25 * k).astype(np.float32)


def label2d(h, w, k):
    y, x = np.mgrid[0:h, 0:w]
    return (y + x + k) % 9


def volume(d, h, w):
    z, y, x = np.mgrid[0:d, 0:h, 0:w]
    return ((z * 100 + y * 10 + x) / 1000.0).astype(np.float32), (z + y + x) % 9


def write_list(path, lines):
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))


def npz_files(out):
    os.makedirs(out, exist_ok=True)
    h, w = 12, 10
    np.savez(os.path.join(out, "case0005_slice000.npz"), image=image2d(h, w, 0),
             label=label2d(h, w, 0).astype(np.float32))
    np.savez(os.path.join(out, "case0005_slice001.npz"), image=image2d(h, w, 1),
             label=label2d(h, w, 1).astype(np.uint8))
    # SAMed's list: stems, a CRLF line ending and a blank line; order as listed
    with open(os.path.join(out, "train.txt"), "w") as f:
        f.write("case0005_slice001\r\n\ncase0005_slice000\n")
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    lab = label2d(h, w, 0).astype(np.float32)
    l300, l25 = lab.copy(), lab.copy()
    l300[3, 4] = 300
    l25[5, 6] = 2.5
    img_nan = image2d(h, w, 0)
    img_nan[7, 2] = np.nan
    cases = {
        "label300": dict(image=image2d(h, w, 0), label=l300),
        "label25": dict(image=image2d(h, w, 0), label=l25),
        "nan": dict(image=img_nan, label=lab),
        "shape": dict(image=image2d(h, w, 0), label=lab.T.copy()),
        "nolabel": dict(image=image2d(h, w, 0)),
    }
    for name, arrays in cases.items():
        np.savez(os.path.join(bad, name + ".npz"), **arrays)
        write_list(os.path.join(bad, name + ".txt"), [name])
    np.savez_compressed(os.path.join(bad, "compressed.npz"), image=image2d(h, w, 0), label=lab)
    write_list(os.path.join(bad, "compressed.txt"), ["compressed"])


def h5_files(out):
    os.makedirs(out, exist_ok=True)
    for name, d, dtype in (("case0001", 3, np.uint8), ("case0002", 2, np.float32)):
        img, lab = volume(d, 8, 6)
        with h5py.File(os.path.join(out, name + ".npy.h5"), "w") as f:
            f.create_dataset("image", data=img)
            f.create_dataset("label", data=lab.astype(dtype))
    write_list(os.path.join(out, "test_vol.txt"), ["case0002", "case0001"])
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    img, lab = volume(2, 8, 6)
    lab = lab.astype(np.float32)
    l25 = lab.copy()
    l25[1, 2, 3] = 2.5
    img_nan = img.copy()
    img_nan[1, 4, 5] = np.inf
    cases = {
        "label25": dict(image=img, label=l25),
        "nan": dict(image=img_nan, label=lab),
        "shape": dict(image=img, label=lab[:, :7, :]),
        "nolabel": dict(image=img),
        "flat": dict(image=img[0], label=lab[0]),
    }
    for name, arrays in cases.items():
        with h5py.File(os.path.join(bad, name + ".npy.h5"), "w") as f:
            for k, v in arrays.items():
                f.create_dataset(k, data=v)
        write_list(os.path.join(bad, name + ".txt"), [name])
    with open(os.path.join(bad, "nothdf5.npy.h5"), "w") as f:
        f.write("not an HDF5 file\n")
    write_list(os.path.join(bad, "nothdf5.txt"), ["nothdf5"])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    npz_files(os.path.join(sys.argv[1], "npz"))
    h5_files(os.path.join(sys.argv[1], "h5"))
    print("slice_files: wrote", sys.argv[1])


if __name__ == "__main__":
    main()
