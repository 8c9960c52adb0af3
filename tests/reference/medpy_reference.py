#!/usr/bin/python3
"""Reference Dice / HD95 for engine/eval/seg_metrics.c, computed the way medpy 0.4 does (medpy
itself is not packaged in Debian, so its two functions are restated here on scipy.ndimage):

  dc:   2 |P & G| / (|P| + |G|), 0 when both are empty.
  hd95: surface = mask ^ binary_erosion(mask, generate_binary_structure(ndim, 1), iterations=1);
        d(P->G) = distance_transform_edt(~G_surface, sampling=spacing)[P_surface], and back;
        numpy.percentile(hstack((d(P->G), d(G->P))), 95).

Per class, SAMed's calculate_metric_percase: both present: (dc, hd95); only in the prediction:
(1, 0); absent from the prediction: (0, 0).

  medpy_reference.py make DIR   writes DIR/<case>_pred.npy and DIR/<case>_gt.npy (uint8 label
                                arrays, 3-D (d, h, w) or 2-D (h, w)) and DIR/manifest.txt with
                                one line per case and class:
                                case ndim d h w s_d s_h s_w class dice hd95
                                (2-D cases: d 1, s_d 1; the values as repr floats).

Without numpy/scipy it writes nothing and exits 0 (test_seg_metrics then skips that part).
"""
import os
import sys

try:
    import numpy as np
    from scipy import ndimage
except ImportError:
    np = None


def surface_distances(result, reference, spacing):
    result = np.atleast_1d(result.astype(bool))
    reference = np.atleast_1d(reference.astype(bool))
    footprint = ndimage.generate_binary_structure(result.ndim, 1)
    result_border = result ^ ndimage.binary_erosion(result, structure=footprint, iterations=1)
    reference_border = reference ^ ndimage.binary_erosion(reference, structure=footprint,
                                                          iterations=1)
    dt = ndimage.distance_transform_edt(~reference_border, sampling=spacing)
    return dt[result_border]


def hd95(result, reference, spacing):
    d1 = surface_distances(result, reference, spacing)
    d2 = surface_distances(reference, result, spacing)
    return np.percentile(np.hstack((d1, d2)), 95)


def dc(result, reference):
    result = result.astype(bool)
    reference = reference.astype(bool)
    total = np.count_nonzero(result) + np.count_nonzero(reference)
    return 2.0 * np.count_nonzero(result & reference) / total if total else 0.0


def metric_percase(pred, gt, spacing):
    if pred.sum() > 0 and gt.sum() > 0:
        return dc(pred, gt), hd95(pred, gt, spacing)
    if pred.sum() > 0:
        return 1.0, 0.0
    return 0.0, 0.0


def blobs(rng, shape, classes):
    """Smooth random labels: a Gaussian-filtered noise field per class, argmax, with some
    background."""
    fields = [ndimage.gaussian_filter(rng.standard_normal(shape), sigma=1.5, mode="wrap")
              for _ in range(classes + 1)]
    return np.argmax(np.stack(fields), axis=0).astype(np.uint8)


def make(d):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.endswith(".npy") or f == "manifest.txt":
            os.remove(os.path.join(d, f))
    rng = np.random.default_rng(2023)
    cases = [  # name, shape, spacing
        ("cube", (9, 11, 10), (1.0, 1.0, 1.0)),
        ("aniso", (7, 13, 12), (2.5, 0.7, 1.3)),
        ("slab", (10, 24, 20), (1.0, 1.0, 1.0)),
        ("thin_d", (1, 15, 17), (3.0, 1.0, 1.0)),
        ("thin_h", (6, 1, 9), (1.0, 1.0, 0.5)),
        ("thin_w", (5, 8, 1), (1.0, 2.0, 1.0)),
        ("line", (1, 1, 23), (1.0, 1.0, 1.0)),
        ("tiny", (2, 2, 2), (1.0, 1.5, 1.0)),
        ("img", (19, 23), (1.0, 1.0)),
        ("img_aniso", (16, 21), (0.8, 1.7)),
        ("img_row", (1, 30), (1.0, 1.0)),
    ]
    lines = []
    for name, shape, spacing in cases:
        classes = 4
        gt = blobs(rng, shape, classes)
        pred = gt.copy()
        # disagreement: a shifted copy over a smooth half of the volume, an independent
        # labelling over a smooth quarter, random flips, a class dropped, one added
        shifted = np.roll(gt, 3, axis=len(shape) - 1)
        region = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=2.0, mode="wrap")
        other = blobs(rng, shape, classes)
        pred[region > 0] = shifted[region > 0]
        far = region < np.quantile(region, 0.25)
        pred[far] = other[far]
        flips = rng.random(shape) < 0.03
        pred[flips] = rng.integers(0, classes + 1, size=int(flips.sum()))
        pred[pred == 3] = 0  # class 3: absent from the prediction
        gt[gt == 4] = 0      # class 4: only in the prediction (when the flips made some)
        np.save(os.path.join(d, f"{name}_pred.npy"), pred)
        np.save(os.path.join(d, f"{name}_gt.npy"), gt)
        d3 = (1,) + shape if len(shape) == 2 else shape
        s3 = (1.0,) + spacing if len(spacing) == 2 else spacing
        for c in range(classes + 1):
            dice, h = metric_percase(pred == c, gt == c, spacing)
            lines.append(f"{name} {len(shape)} {d3[0]} {d3[1]} {d3[2]} {s3[0]!r} {s3[1]!r} "
                         f"{s3[2]!r} {c} {float(dice)!r} {float(h)!r}\n")
    with open(os.path.join(d, "manifest.txt"), "w") as m:
        m.writelines(lines)
    print(f"medpy_reference: {len(cases)} cases, {len(lines)} class results in {d}")


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "make":
        sys.exit(__doc__)
    if np is None:
        print("medpy_reference: numpy/scipy missing: no reference written")
        return
    make(sys.argv[2])


if __name__ == "__main__":
    main()
