/* Dice and HD95 (engine/eval/seg_metrics.c) against: hand-computed cases (single voxels,
 * spacing, the percentile's interpolation, SAMed's empty-mask rules, 2-D vs 3-D erosion); a
 * brute-force O(n^2) reference on random blobs of many shapes, size-1 dimensions included; and
 * medpy's definitions restated on scipy (tests/reference/medpy_reference.py, written into
 * VE_METRICS_DIR by a ctest fixture; without it that part is skipped and the test exits 77).
 * Also times a brain-task case (10 x 181 x 217, 8 classes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/seg_metrics.h"
#include "io/npy.h"
#include "status.h"
#include "test_util.h"

#ifndef VE_METRICS_DIR
#define VE_METRICS_DIR "metrics_files"
#endif

static int near(double got, double want, double tol) {
    int ok = fabs(got - want) <= tol;
    if (!ok) fprintf(stderr, "  got %.17g want %.17g\n", got, want);
    return ok;
}

/* ---- brute force: surfaces by explicit neighbour tests, all pairs, full sort ---- */

static int is_surface(const uint8_t *m, int d, int h, int w, int z, int y, int x, int erode_d) {
    static const int off[6][3] = {{1, 0, 0},  {-1, 0, 0}, {0, 1, 0},
                                  {0, -1, 0}, {0, 0, 1},  {0, 0, -1}};
    if (!m[((size_t)z * h + y) * w + x]) return 0;
    for (int k = erode_d ? 0 : 2; k < 6; k++) {
        int zz = z + off[k][0], yy = y + off[k][1], xx = x + off[k][2];
        if (zz < 0 || zz >= d || yy < 0 || yy >= h || xx < 0 || xx >= w) return 1;
        if (!m[((size_t)zz * h + yy) * w + xx]) return 1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Appends to out the distance from each surface voxel of a to the nearest of b. */
static size_t directed(const uint8_t *a, const uint8_t *b, int d, int h, int w, const double *s,
                       int erode_d, double *out) {
    size_t k = 0;
    for (int z = 0; z < d; z++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (!is_surface(a, d, h, w, z, y, x, erode_d)) continue;
                double best = INFINITY;
                for (int zz = 0; zz < d; zz++)
                    for (int yy = 0; yy < h; yy++)
                        for (int xx = 0; xx < w; xx++) {
                            if (!is_surface(b, d, h, w, zz, yy, xx, erode_d)) continue;
                            double dz = (z - zz) * s[0], dy = (y - yy) * s[1], dx = (x - xx) * s[2];
                            double dist = sqrt(dz * dz + dy * dy + dx * dx);
                            if (dist < best) best = dist;
                        }
                out[k++] = best;
            }
    return k;
}

static double brute_hd95(const uint8_t *p, const uint8_t *g, int d, int h, int w, const double *s,
                         int erode_d) {
    size_t n = (size_t)d * h * w;
    double *all = malloc(2 * n * sizeof *all);
    size_t k = directed(p, g, d, h, w, s, erode_d, all);
    k += directed(g, p, d, h, w, s, erode_d, all + k);
    qsort(all, k, sizeof *all, cmp_double);
    double vi = (double)(k - 1) * 0.95, lo = floor(vi);
    double a = all[(size_t)lo], b = all[(size_t)lo + 1 < k ? (size_t)lo + 1 : k - 1];
    free(all);
    return a + (b - a) * (vi - lo);
}

/* ---- (a) hand-computed cases ---- */

static void test_hand(void) {
    const double one[3] = {1, 1, 1};
    uint8_t p[125] = {0}, g[125] = {0};
    p[(1 * 5 + 1) * 5 + 1] = 1; /* (z, y, x) = (1, 1, 1) */
    g[(3 * 5 + 2) * 5 + 1] = 1; /* (3, 2, 1): dz 2, dy 1 */
    tu_check(near(ve_hd95(p, g, 5, 5, 5, one), sqrt(5.0), 1e-12), "two voxels: sqrt 5");
    const double aniso[3] = {2.0, 1.0, 3.0};
    tu_check(near(ve_hd95(p, g, 5, 5, 5, aniso), sqrt(17.0), 1e-12),
             "two voxels, spacing (2, 1, 3): sqrt(4^2 + 1)");
    tu_check(near(ve_hd95(p, p, 5, 5, 5, one), 0.0, 0.0), "identical: 0");

    /* A line (1 x 1 x 22) is all surface: P = {0}, G = {0..20}: distances {0} and {0..20},
     * 22 values; numpy: index 21 * 0.95 = 19.95 between sorted[19] = 18 and sorted[20] = 19. */
    uint8_t lp[22] = {1}, lg[22];
    for (int i = 0; i < 22; i++)
        lg[i] = i <= 20;
    tu_check(near(ve_hd95(lp, lg, 1, 1, 22, one), 18.95, 1e-12), "line: percentile 18.95");
    const double half[3] = {1, 1, 0.5};
    tu_check(near(ve_hd95(lp, lg, 1, 1, 22, half), 9.475, 1e-12), "line, spacing 0.5: 9.475");
    const double sp2[2] = {1, 0.5};
    tu_check(near(ve_hd95_2d(lp, lg, 1, 22, sp2), 9.475, 1e-12), "line as 2-D: 9.475");

    /* Cubes: P = [1,4]^3, G = P shifted by 1 along x. P's surface (56 voxels): x = 1 face (16)
     * at distance 1, the x = 4 face's centre (4) inside G at 1, the rest on G's surface at 0;
     * G likewise: 112 values, 72 zeros then 40 ones, index 105.45: 1. */
    uint8_t cp[512] = {0}, cg[512] = {0};
    for (int z = 1; z <= 4; z++)
        for (int y = 1; y <= 4; y++)
            for (int x = 1; x <= 4; x++) {
                cp[(z * 8 + y) * 8 + x] = 1;
                cg[(z * 8 + y) * 8 + x + 1] = 1;
            }
    tu_check(near(ve_hd95(cp, cg, 8, 8, 8, one), 1.0, 1e-12), "cube shifted by 1: 1");
    tu_check(near(ve_dice(cp, cg, 512), 2.0 * 48 / 128, 1e-15), "cube dice 96/128");

    /* Dice: |P| 4, |G| 6, overlap 3 -> 0.6; both empty -> 0 */
    uint8_t dp[10] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, dg[10] = {0, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    tu_check(near(ve_dice(dp, dg, 10), 0.6, 1e-15), "dice 0.6");
    uint8_t z10[10] = {0};
    tu_check(ve_dice(z10, z10, 10) == 0.0, "dice of two empty masks: 0");

    /* SAMed's rules per class on label volumes */
    uint8_t pred[27] = {0}, gt[27] = {0};
    pred[13] = 1; /* class 1 predicted, absent in gt */
    gt[0] = 2;    /* class 2 in gt, not predicted */
    pred[5] = gt[5] = 3;
    pred[6] = gt[7] = 3; /* class 3: dice 2/4, both present */
    ve_seg_metric m;
    tu_check(ve_seg_metric_class(pred, gt, 3, 3, 3, one, 1, &m) == VE_OK && m.dice == 1.0 &&
                 m.hd95 == 0.0,
             "predicted but absent in gt: 1, 0");
    tu_check(ve_seg_metric_class(pred, gt, 3, 3, 3, one, 2, &m) == VE_OK && m.dice == 0.0 &&
                 m.hd95 == 0.0,
             "absent from the prediction: 0, 0");
    tu_check(ve_seg_metric_class(pred, gt, 3, 3, 3, one, 4, &m) == VE_OK && m.dice == 0.0 &&
                 m.hd95 == 0.0,
             "absent from both: 0, 0");
    tu_check(ve_seg_metric_class(pred, gt, 3, 3, 3, one, 3, &m) == VE_OK &&
                 near(m.dice, 0.5, 1e-15) &&
                 near(m.hd95,
                      brute_hd95((uint8_t[27]){[5] = 1, [6] = 1}, (uint8_t[27]){[5] = 1, [7] = 1},
                                 3, 3, 3, one, 1),
                      1e-12),
             "class present in both: dc and hd95");

    /* failures: NaN / VE_FAIL with a message */
    tu_check(isnan(ve_hd95(z10, dg, 1, 1, 10, one)) && strstr(ve_error(), "empty"),
             "hd95 of an empty mask: NaN, message");
    const double bad[3] = {1, 0, 1};
    tu_check(isnan(ve_hd95(dp, dg, 1, 1, 10, bad)) && strstr(ve_error(), "spacing[1]"),
             "hd95 with zero spacing: NaN, names the spacing");
    tu_check(ve_seg_metric_class(pred, gt, 0, 3, 3, one, 1, &m) == VE_FAIL &&
                 strstr(ve_error(), "class 1"),
             "seg metric with a zero size fails, names the class");
}

/* ---- (b) brute force on random blobs ---- */

/* A few random boxes of value 1 (maybe none). */
static void random_blobs(uint64_t *st, uint8_t *m, int d, int h, int w, int count) {
    memset(m, 0, (size_t)d * h * w);
    for (int b = 0; b < count; b++) {
        int z0 = tu_int(st, 0, d - 1), y0 = tu_int(st, 0, h - 1), x0 = tu_int(st, 0, w - 1);
        int z1 = tu_int(st, z0, d - 1), y1 = tu_int(st, y0, h - 1), x1 = tu_int(st, x0, w - 1);
        for (int z = z0; z <= z1; z++)
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                    m[((size_t)z * h + y) * w + x] = 1;
    }
    /* speckle: a few single voxels on or off */
    for (int k = tu_int(st, 0, 3); k > 0; k--)
        m[tu_int(st, 0, d * h * w - 1)] ^= 1;
}

static void test_brute_force(void) {
    static const int shapes[][3] = {{1, 1, 1}, {1, 1, 9}, {1, 7, 1},  {5, 1, 1},
                                    {1, 6, 8}, {4, 1, 7}, {6, 5, 1},  {2, 2, 2},
                                    {3, 4, 5}, {7, 9, 8}, {10, 6, 7}, {5, 12, 11}};
    uint64_t st = tu_seed(11);
    int bad = 0, bad2 = 0, runs = 0, differ = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int rep = 0; rep < 6; rep++) {
            int d = shapes[s][0], h = shapes[s][1], w = shapes[s][2];
            size_t n = (size_t)d * h * w;
            uint8_t *p = malloc(n), *g = malloc(n);
            double sp[3] = {rep % 2 ? 1.0 : 0.5 + tu_uniform(&st, 0, 2),
                            rep % 2 ? 1.0 : 0.5 + tu_uniform(&st, 0, 2),
                            rep % 2 ? 1.0 : 0.5 + tu_uniform(&st, 0, 2)};
            do {
                random_blobs(&st, p, d, h, w, tu_int(&st, 1, 3));
                random_blobs(&st, g, d, h, w, tu_int(&st, 1, 3));
            } while (!ve_dice(p, p, n) || !ve_dice(g, g, n)); /* both non-empty */
            double got = ve_hd95(p, g, d, h, w, sp), want = brute_hd95(p, g, d, h, w, sp, 1);
            if (!(fabs(got - want) <= 1e-9)) {
                bad++;
                fprintf(stderr, "  3-D %dx%dx%d rep %d: got %.17g want %.17g\n", d, h, w, rep, got,
                        want);
            }
            if (d == 1) { /* medpy on the 2-D array */
                double got2 = ve_hd95_2d(p, g, h, w, sp + 1);
                double want2 = brute_hd95(p, g, 1, h, w, sp, 0);
                if (!(fabs(got2 - want2) <= 1e-9)) {
                    bad2++;
                    fprintf(stderr, "  2-D %dx%d rep %d: got %.17g want %.17g\n", h, w, rep, got2,
                            want2);
                }
                differ += fabs(got2 - got) > 1e-9;
            }
            runs++;
            free(p);
            free(g);
        }
    printf("brute force: %d cases, 3-D mismatches %d, 2-D mismatches %d, 2-D != 3-D in %d\n", runs,
           bad, bad2, differ);
    tu_check(bad == 0, "hd95 equals the brute force on random blobs (3-D)");
    tu_check(bad2 == 0, "hd95_2d equals the brute force with 2-D erosion");
    tu_check(differ > 0, "2-D and 3-D erosion give different results somewhere");
}

/* ---- (c) medpy on scipy ---- */

static uint8_t *load_labels(const char *name, const char *which, size_t want) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s_%s.npy", VE_METRICS_DIR, name, which);
    ve_npy_array a;
    if (ve_npy_load(path, &a) != VE_OK || (size_t)a.numel != want) {
        fprintf(stderr, "FAIL: %s: %s\n", path, ve_error());
        ve_npy_free(&a);
        return NULL;
    }
    uint8_t *m = malloc(want);
    for (size_t i = 0; i < want; i++)
        m[i] = (uint8_t)a.data[i];
    ve_npy_free(&a);
    return m;
}

/* Returns 0 when the fixture is missing. */
static int test_medpy(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.txt", VE_METRICS_DIR);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("no %s (tests/reference/medpy_reference.py not run): medpy part skipped\n", path);
        return 0;
    }
    char name[64];
    int ndim, d, h, w, c, lines = 0, bad = 0;
    double s[3], dice, hd;
    while (fscanf(f, "%63s %d %d %d %d %lf %lf %lf %d %lf %lf", name, &ndim, &d, &h, &w, &s[0],
                  &s[1], &s[2], &c, &dice, &hd) == 11) {
        size_t n = (size_t)d * h * w;
        uint8_t *pred = load_labels(name, "pred", n), *gt = load_labels(name, "gt", n);
        if (!pred || !gt) {
            bad++;
        } else if (ndim == 3) {
            ve_seg_metric m;
            int rc = ve_seg_metric_class(pred, gt, d, h, w, s, c, &m);
            if (rc != VE_OK || fabs(m.dice - dice) > 1e-12 || !(fabs(m.hd95 - hd) <= 1e-9)) {
                bad++;
                fprintf(stderr, "  %s class %d: got %.17g %.17g want %.17g %.17g\n", name, c,
                        m.dice, m.hd95, dice, hd);
            }
        } else { /* 2-D: SAMed's rules with medpy's 2-D hd95 */
            size_t np = 0, ng = 0;
            for (size_t i = 0; i < n; i++) {
                np += pred[i] == c;
                ng += gt[i] == c;
                pred[i] = pred[i] == c;
                gt[i] = gt[i] == c;
            }
            double gd = np && ng ? ve_dice(pred, gt, n) : np ? 1.0 : 0.0;
            double gh = np && ng ? ve_hd95_2d(pred, gt, h, w, s + 1) : 0.0;
            if (fabs(gd - dice) > 1e-12 || !(fabs(gh - hd) <= 1e-9)) {
                bad++;
                fprintf(stderr, "  %s (2-D) class %d: got %.17g %.17g want %.17g %.17g\n", name, c,
                        gd, gh, dice, hd);
            }
        }
        free(pred);
        free(gt);
        lines++;
    }
    fclose(f);
    printf("medpy reference: %d class results, %d mismatches\n", lines, bad);
    tu_check(lines >= 40, "medpy manifest has the expected cases");
    tu_check(bad == 0, "dice and hd95 equal medpy's (scipy) within 1e-9");
    return 1;
}

/* ---- timing: one brain-task case ---- */

static void test_timing(void) {
    const int d = 10, h = 181, w = 217;
    size_t n = (size_t)d * h * w;
    uint8_t *gt = malloc(n), *pred = malloc(n);
    /* 8 classes as ellipsoid-ish regions; the prediction shifted by 2 voxels with speckle */
    for (int z = 0; z < d; z++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double r = hypot((y - 90.0) / 80.0, (x - 108.0) / 95.0);
                double a = atan2(y - 90.0, x - 108.0) + 0.05 * z;
                int lab = r > 1.0 ? 0 : 1 + (int)floor((a + M_PI) / (2 * M_PI) * 8) % 8;
                if (r < 0.25) lab = 6;
                gt[((size_t)z * h + y) * w + x] = (uint8_t)lab;
            }
    uint64_t st = tu_seed(5);
    for (size_t i = 0; i < n; i++) {
        size_t x = i % (size_t)w;
        pred[i] = x + 2 < (size_t)w ? gt[i + 2] : 0;
        if (tu_int(&st, 0, 199) == 0) pred[i] = (uint8_t)tu_int(&st, 0, 8);
    }
    const double one[3] = {1, 1, 1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double dsum = 0, hsum = 0;
    int ok = 1;
    for (int c = 1; c <= 8; c++) {
        ve_seg_metric m;
        ok &= ve_seg_metric_class(pred, gt, d, h, w, one, c, &m) == VE_OK;
        dsum += m.dice;
        hsum += m.hd95;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("timing: 10 x 181 x 217, 8 classes: %.1f ms (mean dice %.4f, mean hd95 %.3f)\n", ms,
           dsum / 8, hsum / 8);
    tu_check(ok && dsum > 0 && hsum > 0, "brain-sized case computes");
    tu_check(ms < 5000, "brain-sized case well under seconds");
    free(gt);
    free(pred);
}

int main(void) {
    test_hand();
    test_brute_force();
    int have_medpy = test_medpy();
    test_timing();
    int rc = tu_exit();
    return rc ? rc : have_medpy ? 0 : 77;
}
