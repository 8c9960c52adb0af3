/* Dice and HD95 as medpy computes them (see seg_metrics.h): surfaces by 6-neighbour erosion,
 * a separable exact squared-distance transform over the bounding box of both masks (rows by two
 * sweeps, then the Felzenszwalb-Huttenlocher lower envelope of parabolas along h and d), and
 * numpy's linear percentile by selection rather than a full sort. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seg_metrics.h"
#include "status.h"

/* Voxels a case may have (the work arrays are 8 bytes per voxel of the bounding box). */
#define MAX_VOXELS ((size_t)1 << 31)

typedef struct {
    int n[3];    /* full volume: d, h, w */
    int lo[3];   /* bounding box of P | G: first index per axis */
    int m[3];    /* its size per axis */
    double s[3]; /* spacing */
    int erode_d; /* 0: no erosion along d (medpy on a 2-D array) */
} grid;

static int check_case(const void *p, const void *g, int d, int h, int w, const double s[3]) {
    if (!p || !g || !s) return ve_fail("hd95: NULL mask or spacing");
    if (d < 1 || h < 1 || w < 1 || (size_t)d * (size_t)h > MAX_VOXELS / (size_t)w)
        return ve_fail("hd95: bad volume size %d x %d x %d", d, h, w);
    for (int k = 0; k < 3; k++)
        if (!isfinite(s[k]) || !(s[k] > 0.0))
            return ve_fail("hd95: spacing[%d] is %g (finite and positive expected)", k, s[k]);
    return VE_OK;
}

/* Bounding box of the voxels set in p or g; 0 when both are empty. */
static int bounding_box(const uint8_t *p, const uint8_t *g, grid *gr) {
    int hi[3] = {-1, -1, -1};
    for (int k = 0; k < 3; k++)
        gr->lo[k] = gr->n[k];
    size_t i = 0;
    for (int z = 0; z < gr->n[0]; z++)
        for (int y = 0; y < gr->n[1]; y++)
            for (int x = 0; x < gr->n[2]; x++, i++) {
                if (!p[i] && !g[i]) continue;
                int c[3] = {z, y, x};
                for (int k = 0; k < 3; k++) {
                    if (c[k] < gr->lo[k]) gr->lo[k] = c[k];
                    if (c[k] > hi[k]) hi[k] = c[k];
                }
            }
    for (int k = 0; k < 3; k++)
        gr->m[k] = hi[k] - gr->lo[k] + 1;
    return hi[0] >= 0;
}

/* The surface of mask (full volume) within the bounding box, into s (box-sized). A neighbour
 * outside the volume is unset (border_value 0); outside the box but inside the volume the mask
 * is unset anyway, so looking up the full volume is exact. Returns the surface voxel count. */
static size_t surface(const uint8_t *mask, const grid *gr, uint8_t *s) {
    const int D = gr->n[0], H = gr->n[1], W = gr->n[2];
    const size_t sy = (size_t)W, sz = (size_t)H * (size_t)W;
    size_t count = 0, j = 0;
    for (int bz = 0; bz < gr->m[0]; bz++)
        for (int by = 0; by < gr->m[1]; by++)
            for (int bx = 0; bx < gr->m[2]; bx++, j++) {
                int z = gr->lo[0] + bz, y = gr->lo[1] + by, x = gr->lo[2] + bx;
                size_t i = (size_t)z * sz + (size_t)y * sy + (size_t)x;
                if (!mask[i]) {
                    s[j] = 0;
                    continue;
                }
                int interior = x > 0 && mask[i - 1] && x < W - 1 && mask[i + 1] && y > 0 &&
                               mask[i - sy] && y < H - 1 && mask[i + sy];
                if (interior && gr->erode_d)
                    interior = z > 0 && mask[i - sz] && z < D - 1 && mask[i + sz];
                s[j] = !interior;
                count += s[j];
            }
    return count;
}

/* Work space for one line of the distance transform. */
typedef struct {
    double *f, *out, *zb; /* line values, results, envelope boundaries (n + 1) */
    int *v;               /* envelope parabola positions */
} line_buf;

/* out[q] = min_p (sp * (q - p))^2 + f[p] over the finite f[p] (INFINITY when none). */
static void edt_line(line_buf *b, int n, double sp) {
    const double *f = b->f;
    double *zb = b->zb;
    int *v = b->v, k = -1;
    for (int q = 0; q < n; q++) {
        if (!isfinite(f[q])) continue;
        double cut = -INFINITY;
        while (k >= 0) {
            int p = v[k];
            double xq = sp * q, xp = sp * p;
            cut = ((f[q] + xq * xq) - (f[p] + xp * xp)) / (2.0 * (xq - xp));
            if (cut > zb[k]) break;
            k--;
        }
        if (k < 0) cut = -INFINITY;
        v[++k] = q;
        zb[k] = cut;
    }
    if (k < 0) {
        for (int q = 0; q < n; q++)
            b->out[q] = INFINITY;
        return;
    }
    zb[k + 1] = INFINITY;
    for (int q = 0, j = 0; q < n; q++) {
        while (zb[j + 1] < sp * q)
            j++;
        double dx = sp * (q - v[j]);
        b->out[q] = dx * dx + f[v[j]];
    }
}

/* First pass, along w (contiguous): the squared distance to the nearest feature of the same
 * row, from one sweep each way; INFINITY for a row without features. */
static void edt_rows(const uint8_t *feat, int rows, int n, double sp, double *dt) {
    for (int r = 0; r < rows; r++) {
        const uint8_t *f = feat + (size_t)r * (size_t)n;
        double *out = dt + (size_t)r * (size_t)n;
        int last = -1;
        for (int q = 0; q < n; q++) {
            if (f[q]) last = q;
            out[q] = last < 0 ? INFINITY : sp * (q - last);
        }
        last = -1;
        for (int q = n - 1; q >= 0; q--) {
            if (f[q]) last = q;
            double dx = last < 0 ? INFINITY : sp * (last - q);
            if (dx < out[q]) out[q] = dx;
            out[q] *= out[q];
        }
    }
}

/* dt[i] = squared distance from box voxel i to the nearest voxel set in feat (box-sized), one
 * pass per axis: w, then h, then d. */
static void edt(const uint8_t *feat, const grid *gr, line_buf *b, double *dt) {
    const int M[3] = {gr->m[0], gr->m[1], gr->m[2]};
    const size_t stride[3] = {(size_t)M[1] * (size_t)M[2], (size_t)M[2], 1};
    const size_t total = (size_t)M[0] * stride[0];
    edt_rows(feat, M[0] * M[1], M[2], gr->s[2], dt);
    for (int axis = 1; axis >= 0; axis--) {
        int n = M[axis];
        size_t st = stride[axis];
        if (n == 1) continue; /* nothing moves along a size-1 axis */
        /* every line along axis: outer blocks of n * st voxels, st lines in each */
        for (size_t outer = 0; outer < total; outer += (size_t)n * st)
            for (size_t start = outer; start < outer + st; start++) {
                for (int q = 0; q < n; q++)
                    b->f[q] = dt[start + (size_t)q * st];
                edt_line(b, n, gr->s[axis]);
                for (int q = 0; q < n; q++)
                    dt[start + (size_t)q * st] = b->out[q];
            }
    }
}

static void swap_d(double *a, double *b) {
    double t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k-th smallest of a[0..n) to a[k], smaller ones before it and larger ones after
 * (three-way partitions, so repeated distances cost nothing). */
static void select_kth(double *a, size_t n, size_t k) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        double x0 = a[lo], x1 = a[lo + (hi - lo) / 2], x2 = a[hi - 1];
        double x = x0 < x1 ? (x1 < x2   ? x1
                              : x0 < x2 ? x2
                                        : x0)
                           : (x0 < x2   ? x0
                              : x1 < x2 ? x2
                                        : x1);
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (a[i] < x)
                swap_d(&a[lt++], &a[i++]);
            else if (a[i] > x)
                swap_d(&a[i], &a[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return;
    }
}

/* numpy.percentile(a, 95) with the default linear method (numpy >= 1.22 arithmetic). */
static double percentile95(double *a, size_t n) {
    if (!n) return NAN;
    double vi = (double)(n - 1) * 0.95;
    size_t lo = (size_t)floor(vi), hi = lo + 1 < n ? lo + 1 : n - 1;
    select_kth(a, n, lo);
    double x0 = a[lo], x1 = INFINITY;
    for (size_t i = lo + 1; i < n; i++)
        if (a[i] < x1) x1 = a[i];
    if (hi == lo) x1 = x0;
    double t = vi - (double)lo, diff = x1 - x0;
    return t >= 0.5 ? x1 - diff * (1.0 - t) : x0 + diff * t;
}

static double hd95_grid(const uint8_t *p, const uint8_t *g, grid *gr) {
    if (!bounding_box(p, g, gr)) {
        ve_fail("hd95: both masks are empty");
        return NAN;
    }
    size_t n = (size_t)gr->m[0] * (size_t)gr->m[1] * (size_t)gr->m[2];
    int longest = gr->m[0] > gr->m[1] ? gr->m[0] : gr->m[1];
    if (gr->m[2] > longest) longest = gr->m[2];
    uint8_t *sp = malloc(2 * n);
    double *dt = malloc(n * sizeof *dt);
    line_buf b = {
        malloc((size_t)longest * sizeof(double)), malloc((size_t)longest * sizeof(double)),
        malloc(((size_t)longest + 1) * sizeof(double)), malloc((size_t)longest * sizeof(int))};
    double *dist = NULL, result = NAN;
    if (!sp || !dt || !b.f || !b.out || !b.zb || !b.v) {
        ve_fail("hd95: out of memory for a %d x %d x %d box", gr->m[0], gr->m[1], gr->m[2]);
        goto done;
    }
    uint8_t *sg = sp + n;
    size_t np = surface(p, gr, sp), ng = surface(g, gr, sg);
    if (!np || !ng) {
        ve_fail("hd95: the %s mask is empty", np ? "second (reference)" : "first (result)");
        goto done;
    }
    if (!(dist = malloc((np + ng) * sizeof *dist))) {
        ve_fail("hd95: out of memory for %zu distances", np + ng);
        goto done;
    }
    size_t k = 0;
    edt(sg, gr, &b, dt); /* result surface -> reference surface */
    for (size_t i = 0; i < n; i++)
        if (sp[i]) dist[k++] = sqrt(dt[i]);
    edt(sp, gr, &b, dt); /* reference surface -> result surface */
    for (size_t i = 0; i < n; i++)
        if (sg[i]) dist[k++] = sqrt(dt[i]);
    result = percentile95(dist, k);
done:
    free(dist);
    free(b.f);
    free(b.out);
    free(b.zb);
    free(b.v);
    free(dt);
    free(sp);
    return result;
}

double ve_hd95(const uint8_t *p, const uint8_t *g, int d, int h, int w, const double spacing[3]) {
    if (check_case(p, g, d, h, w, spacing) != VE_OK) return NAN;
    grid gr = {{d, h, w}, {0}, {0}, {spacing[0], spacing[1], spacing[2]}, 1};
    return hd95_grid(p, g, &gr);
}

double ve_hd95_2d(const uint8_t *p, const uint8_t *g, int h, int w, const double spacing[2]) {
    double s3[3] = {1.0, spacing ? spacing[0] : 1.0, spacing ? spacing[1] : 1.0};
    if (check_case(p, g, 1, h, w, spacing ? s3 : NULL) != VE_OK) return NAN;
    grid gr = {{1, h, w}, {0}, {0}, {s3[0], s3[1], s3[2]}, 0};
    return hd95_grid(p, g, &gr);
}

double ve_dice(const uint8_t *p, const uint8_t *g, size_t n) {
    size_t both = 0, np = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        np += p[i] != 0;
        ng += g[i] != 0;
        both += p[i] && g[i];
    }
    return np + ng ? 2.0 * (double)both / (double)(np + ng) : 0.0;
}

int ve_seg_metric_class(const uint8_t *pred, const uint8_t *gt, int d, int h, int w,
                        const double spacing[3], int c, ve_seg_metric *out) {
    if (!out) return ve_fail("seg metric: no output");
    out->dice = out->hd95 = 0.0;
    if (check_case(pred, gt, d, h, w, spacing) != VE_OK)
        return ve_fail_context("seg metric, class %d: ", c);
    size_t n = (size_t)d * (size_t)h * (size_t)w;
    uint8_t *p = malloc(2 * n);
    if (!p) return ve_fail("seg metric, class %d: out of memory for %zu voxels", c, n);
    uint8_t *g = p + n;
    size_t np = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = pred[i] == c;
        g[i] = gt[i] == c;
        np += p[i];
        ng += g[i];
    }
    int rc = VE_OK;
    if (np && ng) {
        out->dice = ve_dice(p, g, n);
        out->hd95 = ve_hd95(p, g, d, h, w, spacing);
        if (isnan(out->hd95)) rc = ve_fail_context("seg metric, class %d: ", c);
    } else if (np) {
        out->dice = 1.0;
    }
    free(p);
    return rc;
}
