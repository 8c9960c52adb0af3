"""vksamed-view under Xvfb, driven by its --script mode, checked from its screenshots.

usage: check_view.py sam|semantic VIEW VKSAMED CHECKPOINT IMAGE OUTDIR

Runs the viewer on a real slice with synthetic input (clicks, drags, keys, wheel), then checks
what it presented against what it should have:
  * each screenshot's image area, pixel for pixel, against the slice rendered here from the
    mask the viewer saved at that moment (so the window shows exactly the saved mask, under the
    same window / level and opacity);
  * each saved mask against `vksamed segment` run with the same prompts on the same image (the
    CLI's masks are checked against PyTorch in the cli_segment tests): the viewer's one
    prompting path gives the CLI's result;
  * the prompt marker drawn where the script clicked, undo / clear / multimask cycling / class
    toggles / slice scrolling / window-level changing what they should, the help panel shown,
    and one latency line per prompt.
The checkpoints have random weights, so WHERE a mask lies says nothing about the viewer; what is
asserted is that the viewer shows and saves the model's answer for the prompt at the clicked
pixel. PNGs are read by tests/cli/check_segment.py's reader (zlib + numpy, its filters
vectorised where they can be: the window screenshots are large)."""
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from check_segment import read_nifti_slice  # noqa: E402  (the CLI test's NIfTI reader)
from check_segment import read_png as read_png_hwc  # noqa: E402

SAM_COLOUR = np.array([30, 144, 255], np.float32)
FG_POINT = (0, 224, 0)
FAILS = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        FAILS.append(what)


def read_png(path):
    """The CLI test's PNG reader, grey images as [h, w]."""
    a = read_png_hwc(path)
    return a[..., 0] if a.shape[2] == 1 else a


def run_view(args, script_lines, outdir):
    script = os.path.join(outdir, "script.txt")
    with open(script, "w") as f:
        f.write("\n".join(script_lines) + "\n")
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"] + args + ["--script", script]
    env = dict(os.environ, SDL_RENDER_DRIVER="software")
    r = subprocess.run(cmd, cwd=outdir, env=env, capture_output=True, text=True, timeout=600)
    sys.stderr.write(r.stderr)
    check(r.returncode == 0, f"vksamed-view exits 0 (got {r.returncode})")
    layouts = {}
    for m in re.finditer(r"screenshot (\S+): (\d+)x(\d+), image at (\S+) (\S+) scale (\S+)",
                         r.stderr):
        layouts[m.group(1)] = tuple(float(v) for v in m.group(4, 5, 6))
    lat = re.findall(r"prompt \d+: ([0-9.]+) ms from the event to the frame presented "
                     r"\(model ([0-9.]+) ms, app ([0-9.]+) ms\)", r.stderr)
    return layouts, lat


def segment(vksamed, outdir, name, args):
    out = os.path.join(outdir, name)
    if "--classes" not in args:
        args = args + ["--size", "512"]
    r = subprocess.run([vksamed, "segment"] + args + ["--out", out + ".png", "--overlay",
                                                      out + ".overlay.png"],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"vksamed segment {name}: {r.stderr.strip()[:200]}")
    return read_png(out + ".png"), read_png(out + ".overlay.png")


def image_index(shape, layout, img_hw):
    """For each window pixel of the image's rectangle: the image pixel it shows (as the viewer
    maps them), and the rectangle."""
    ox, oy, s = layout
    h, w = img_hw
    x0, y0 = max(int(ox), 0), max(int(oy), 0)
    x1 = min(int(np.ceil(ox + w * s)), shape[1])
    y1 = min(int(np.ceil(oy + h * s)), shape[0])
    iy = np.clip(np.floor((np.arange(y0, y1) + 0.5 - oy) / s).astype(int), 0, h - 1)
    ix = np.clip(np.floor((np.arange(x0, x1) + 0.5 - ox) / s).astype(int), 0, w - 1)
    return (x0, y0, x1, y1), iy, ix


def expected_view(grey, labels, colours, layout, shot_shape, opacity=0.5, width=255.0,
                  level=127.5):
    """The image area as the viewer draws it (float32 like its C code)."""
    (x0, y0, x1, y1), iy, ix = image_index(shot_shape, layout, grey.shape)
    v = grey.astype(np.float32)[iy][:, ix]
    lo = np.float32(level) - np.float32(width) / np.float32(2)
    gain = np.float32(255.0) / np.float32(width)
    v = (v - lo) * gain
    v = np.repeat(v[:, :, None], 3, axis=2)
    lab = labels[iy][:, ix]
    a = np.float32(opacity)
    col = colours[lab]
    blended = (np.float32(1) - a) * np.clip(v, 0, 255) + a * col
    v = np.where((lab > 0)[:, :, None], blended, v)
    return np.floor(np.clip(v, 0, 255) + np.float32(0.5)).astype(np.uint8), (x0, y0, x1, y1)


def compare_view(shot, want, rect, what, exclude=None, max_bad=0.001):
    x0, y0, x1, y1 = rect
    got = shot[y0:y1, x0:x1].astype(int)
    bad = np.abs(got - want.astype(int)).max(axis=2) > 1
    if exclude is not None:
        bad &= ~exclude[y0:y1, x0:x1]
    frac = bad.mean()
    check(frac <= max_bad, f"{what}: {bad.sum()} of {bad.size} image pixels differ from the "
          f"expected rendering ({100 * frac:.3f}%)")


def near(shape, points, r):
    """Window pixels within r of any point."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    m = np.zeros(shape[:2], bool)
    for (x, y) in points:
        m |= (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    return m


def window_of(layout, x, y):
    ox, oy, s = layout
    return np.floor(ox + (x + 0.5) * s), np.floor(oy + (y + 0.5) * s)


def same_mask(a, b, what, max_bad=0.001):
    bad = (a != b).mean() if a.shape == b.shape else 1.0
    check(bad <= max_bad, f"{what} ({100 * bad:.3f}% of pixels differ)")


def scenario_sam(view, vksamed, ckpt, image, out):
    px, py = 90, 100
    box = (40, 50, 140, 170)
    lines = ["wait-embedding", "screenshot 0_empty.png", f"click {px} {py} left",
             "screenshot 1_point.png", "save 1_point", "key m", "save 2_cand",
             "screenshot 2_cand.png", "drag %d %d %d %d" % box, "save 3_box",
             "screenshot 3_box.png", "key ctrl+z", "screenshot 4_undo.png", "save 4_undo",
             "key c", "screenshot 5_clear.png", "key F1", "screenshot 6_help.png", "quit"]
    # S = 512 (not the tiny preset's 1024) keeps the test short; the viewer and the CLI agree.
    layouts, lat = run_view([view, "--checkpoint", ckpt, "--size", "512", "--window", "800x600",
                             image], lines, out)
    check(len(lat) == 4, f"one latency line per prompt change: {len(lat)} of 4 ({lat})")
    grey = read_png(image)
    grey = grey[:, :, 0] if grey.ndim == 3 else grey
    p = lambda name: os.path.join(out, name)
    L = layouts.get("0_empty.png")
    check(L is not None and all(layouts.get(k) == L for k in layouts), "one layout throughout")
    colours = np.stack([np.zeros(3, np.float32), SAM_COLOUR])
    none = np.zeros_like(grey)
    shots = {k: read_png(p(k)) for k in layouts}
    shape = shots["0_empty.png"].shape
    cx, cy = window_of(L, px, py)
    marker = near(shape, [(cx, cy)], 8)
    b0, b1 = window_of(L, box[0], box[1]), window_of(L, box[2], box[3])
    edge = np.zeros(shape[:2], bool)
    edge[int(b0[1]) - 4:int(b1[1]) + 4, int(b0[0]) - 4:int(b1[0]) + 4] = True
    edge[int(b0[1]) + 4:int(b1[1]) - 4, int(b0[0]) + 4:int(b1[0]) - 4] = False

    want, rect = expected_view(grey, none, colours, L, shape)
    compare_view(shots["0_empty.png"], want, rect, "before any prompt: the slice, no mask",
                 max_bad=0)
    # The click: a green marker centred on the clicked pixel, the saved mask on screen.
    green = np.all(shots["1_point.png"] == FG_POINT, axis=2)
    gy, gx = np.nonzero(green)
    check(green.sum() > 20 and abs(gx.mean() - cx) <= 1 and abs(gy.mean() - cy) <= 1,
          f"foreground marker at the click ({gx.mean() if green.any() else -1:.1f}, "
          f"{gy.mean() if green.any() else -1:.1f}) vs ({cx}, {cy})")
    masks = {k: read_png(p(k + ".mask.png")) for k in ("1_point", "2_cand", "3_box", "4_undo")}
    for k, shot in (("1_point", "1_point.png"), ("2_cand", "2_cand.png"),
                    ("3_box", "3_box.png")):
        m = (masks[k] > 0).astype(np.uint8)
        check(0 < m.sum() or k != "1_point", f"{k}: a mask ({m.sum()} pixels)")
        want, rect = expected_view(grey, m, colours, L, shape)
        compare_view(shots[shot], want, rect, f"{k}: the window shows the saved mask",
                     exclude=marker | (edge if k == "3_box" else False))
    # The same prompts through `vksamed segment`.
    seg1, _ = segment(vksamed, out, "seg_point_best", ["--checkpoint", ckpt, "--image", image,
                                                       "--point", f"{px},{py}", "--multimask"])
    same_mask(masks["1_point"], seg1, "one click = segment --point --multimask (best of 3)")
    seg0, _ = segment(vksamed, out, "seg_point_0", ["--checkpoint", ckpt, "--image", image,
                                                    "--point", f"{px},{py}"])
    same_mask(masks["2_cand"], seg0, "m (next candidate after the best, 3 -> 0) = mask 0")
    seg3, _ = segment(vksamed, out, "seg_box", ["--checkpoint", ckpt, "--image", image,
                                                "--point", f"{px},{py}", "--box",
                                                "%d,%d,%d,%d" % box])
    same_mask(masks["3_box"], seg3, "point + box = segment --point --box")
    same_mask(masks["4_undo"], masks["1_point"], "undo of the box: the one-point mask again",
              max_bad=0)
    r = rect
    same_mask(shots["4_undo.png"][r[1]:r[3], r[0]:r[2]], shots["1_point.png"][r[1]:r[3], r[0]:r[2]],
              "undo: the window as after the click", max_bad=0)
    same_mask(shots["5_clear.png"][r[1]:r[3], r[0]:r[2]], shots["0_empty.png"][r[1]:r[3], r[0]:r[2]],
              "clear: no mask, no marker", max_bad=0)
    yellow = np.all(shots["6_help.png"] == (255, 215, 0), axis=2).sum()
    check(yellow > 1000, f"F1 shows the help panel ({yellow} key-name pixels)")


def scenario_semantic(view, vksamed, ckpt, volume, out):
    lines = ["wait-embedding", "screenshot s90.png", "save s90", "key 1", "save s90_no1",
             "screenshot s90_no1.png", "key 0", "wheel 1", "wait-embedding", "save s91",
             "key Left", "key Up", "screenshot s91_wl.png", "quit"]
    layouts, lat = run_view([view, "--checkpoint", ckpt, "--classes", "8", "--window",
                             "1200x800", volume], lines, out)
    p = lambda name: os.path.join(out, name)
    shots = {k: read_png(p(k)) for k in layouts}
    check(len(shots) == 3, "three screenshots")
    m90, m90n, m91 = (read_png(p(k + ".mask.png")) for k in ("s90", "s90_no1", "s91"))
    check(m90.max() <= 8 and len(np.unique(m90)) > 1, f"label map values {np.unique(m90)}")
    check(np.array_equal(m90n, np.where(m90 == 1, 0, m90)), "key 1 hides class 1 (saved map)")
    for sl, m in ((90, m90), (91, m91)):
        segc, sego = segment(vksamed, out, f"seg{sl}", ["--checkpoint", ckpt, "--classes", "8",
                                                        "--image", volume, "--slice", str(sl)])
        over = read_png(p(f"s{sl}.overlay.png"))
        same_mask(over, sego, f"slice {sl}: overlay = segment --classes 8 --slice {sl} overlay")
        if sl == 90:
            colours = np.zeros((256, 3), np.float32)
            for k in range(1, 9):
                if (m == k).any():
                    colours[k] = segc[m == k][0]
            inconsistent = sum(int(np.any(segc[m == k] != colours[k])) for k in range(1, 9))
            check(inconsistent == 0, "segment's colour map agrees with the viewer's labels")
    # The slices as segment_io scales them: by the volume's min and max.
    sl90, lo, hi = read_nifti_slice(volume, 90)
    sl91, _, _ = read_nifti_slice(volume, 91)
    sl90 = np.clip((sl90 - lo) * np.float32(255.0 / (hi - lo)), 0, 255)
    sl91 = np.clip((sl91 - lo) * np.float32(255.0 / (hi - lo)), 0, 255)
    L = layouts["s90.png"]
    want, rect = expected_view(sl90, m90, colours, L, shots["s90.png"].shape)
    compare_view(shots["s90.png"], want, rect, "slice 90: the window shows every class",
                 max_bad=0.002)
    want, rect = expected_view(sl90, m90n, colours, L, shots["s90.png"].shape)
    compare_view(shots["s90_no1.png"], want, rect, "slice 90, class 1 hidden", max_bad=0.002)
    w = np.float32(255.0) / np.float32(1.15)
    want, rect = expected_view(sl91, m91, colours, layouts["s91_wl.png"],
                               shots["s91_wl.png"].shape, width=w, level=127.5 + 6)
    compare_view(shots["s91_wl.png"], want, rect, "slice 91 after wheel, narrower window and "
                 "higher level", max_bad=0.002)


def main():
    mode, view, vksamed, ckpt, image, out = sys.argv[1:7]
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    (scenario_sam if mode == "sam" else scenario_semantic)(view, vksamed, ckpt, image, out)
    print(f"{len(FAILS)} failed")
    sys.exit(1 if FAILS else 0)


main()
