#!/usr/bin/python3
"""Cross-checks the .npy reader and writer (engine/io/npy_*.c) against numpy itself.

  npy_reference.py make DIR   writes DIR/numpy_<name>.npy with numpy.save, one per dtype the
                              reader accepts, plus ones it must refuse, and DIR/manifest.txt
                              (name, shape, sum of the values as float64, first values).
  npy_reference.py check DIR  numpy.load's every DIR/ours_*.npy that test_npy wrote and compares
                              it with DIR/ours_manifest.txt.

Without numpy, `make` writes nothing and exits 0 (test_npy then skips its numpy half) and
`check` exits 77 (ctest: skipped).
"""
import os
import sys

try:
    import numpy as np
except ImportError:
    np = None


def make(d):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("numpy_") or f == "manifest.txt":
            os.remove(os.path.join(d, f))
    rng = np.random.default_rng(7)
    base = rng.integers(-100, 100, size=(3, 5, 7))
    arrays = {
        "f4": rng.standard_normal((4, 9)).astype("<f4"),
        "f8": rng.standard_normal((2, 3, 5)).astype("<f8"),
        "f4_big": rng.standard_normal((6,)).astype(">f4"),
        "u1": rng.integers(0, 256, size=(5, 7)).astype("|u1"),
        "i1": base.astype("|i1"),
        "i2": (base * 300).astype("<i2"),
        "u2": rng.integers(0, 65536, size=(3, 3)).astype("<u2"),
        "i4": (base * 100000).astype("<i4"),
        "i8": (base * 1000).astype("<i8"),
        "i2_big": (base * 300).astype(">i2"),
        "bool": (base > 0),
        "scalar": np.array(2.5, dtype="<f4"),
        "empty": np.zeros((0, 4), dtype="<f4"),
        "c_of_transposed": np.ascontiguousarray(rng.standard_normal((3, 4)).T.astype("<f4")),
    }
    with open(os.path.join(d, "manifest.txt"), "w") as m:
        for name, a in arrays.items():
            np.save(os.path.join(d, f"numpy_{name}.npy"), a)
            flat = a.astype(np.float64).ravel()
            first = " ".join(repr(float(np.float32(x))) for x in flat[:4])
            shape = ",".join(str(s) for s in a.shape)
            m.write(f"{name} {a.ndim} {shape or '-'} {float(flat.sum())!r} {first}\n")
    # Files the reader must refuse (no manifest line): Fortran order, objects, structured.
    np.save(os.path.join(d, "numpy_bad_fortran.npy"),
            np.asfortranarray(rng.standard_normal((3, 4)).astype("<f4")))
    np.save(os.path.join(d, "numpy_bad_object.npy"), np.array([1, "a", None], dtype=object),
            allow_pickle=True)
    np.save(os.path.join(d, "numpy_bad_structured.npy"),
            np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
    np.save(os.path.join(d, "numpy_bad_complex.npy"), np.zeros(3, dtype="<c8"))
    print(f"npy_reference: wrote {len(arrays) + 4} numpy files into {d}")


def check(d):
    path = os.path.join(d, "ours_manifest.txt")
    if not os.path.exists(path):
        print(f"npy_reference: {path} missing (test_npy did not run?)")
        return 1
    bad = 0
    n = 0
    for line in open(path):
        name, ndim, shape, total = line.split()[:4]
        want_shape = () if shape == "-" else tuple(int(s) for s in shape.split(","))
        a = np.load(os.path.join(d, name), allow_pickle=False)
        ok = (a.dtype == np.dtype("<f4") and a.ndim == int(ndim) and a.shape == want_shape
              and a.flags["C_CONTIGUOUS"]
              and abs(float(a.astype(np.float64).sum()) - float(total))
              <= 1e-6 * max(1.0, abs(float(total))))
        print(f"  {name}: dtype {a.dtype} shape {a.shape} sum {float(a.sum()):.6g}"
              f" {'ok' if ok else 'MISMATCH, want shape %s sum %s' % (want_shape, total)}")
        bad += not ok
        n += 1
    print(f"npy_reference: numpy.load read {n} files, {bad} mismatches")
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit("usage: npy_reference.py make|check DIR")
    if np is None:
        print("npy_reference: numpy not installed (apt-get install python3-numpy); skipped")
        sys.exit(0 if sys.argv[1] == "make" else 77)
    sys.exit(make(sys.argv[2]) if sys.argv[1] == "make" else check(sys.argv[2]))
