/* scipy.ndimage.zoom on one plane, order 3 (prefiltered cubic B-spline) and order 0, with
 * scipy 1.10's conventions (augment.h). The cubic zoom is separable: rows first into a
 * temporary, then columns, in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "io/image.h"
#include "status.h"

static int check_sides(const char *what, int h, int w, int oh, int ow) {
    if (h < 1 || w < 1 || oh < 1 || ow < 1 || h > VE_IMAGE_MAX_SIDE || w > VE_IMAGE_MAX_SIDE ||
        oh > VE_IMAGE_MAX_SIDE || ow > VE_IMAGE_MAX_SIDE)
        return ve_fail("%s: %d x %d -> %d x %d: sides must be 1..%d", what, h, w, oh, ow,
                       VE_IMAGE_MAX_SIDE);
    return VE_OK;
}

/* The input coordinate of output index o: scipy's zoom factor (n_in - 1) / (n_out - 1), or 1
 * when n_out is 1, times o. Returns -1 when it falls outside [0, n_in - 1] (mode 'constant'). */
static double coordinate(int o, int n_in, int n_out) {
    double zoom = n_out > 1 ? (double)(n_in - 1) / (double)(n_out - 1) : 1.0;
    double cc = (double)o * zoom;
    return cc < 0 || cc > (double)(n_in - 1) ? -1.0 : cc;
}

/* scipy's mirror extension of a coefficient index (len > 1), as in its spline evaluation. */
static int mirror(int64_t idx, int64_t len) {
    if (len <= 1) return 0;
    int64_t s2 = 2 * len - 2;
    if (idx < 0) {
        idx = s2 * (-idx / s2) + idx;
        idx = idx <= 1 - len ? idx + s2 : -idx;
    } else if (idx >= len) {
        idx -= s2 * (idx / s2);
        if (idx >= len) idx = s2 - idx;
    }
    return (int)idx;
}

/* In-place cubic B-spline prefilter of n values spaced by stride, mirror boundaries (pole
 * z = sqrt(3) - 2, gain 6), as scipy's spline_filter1d. */
static void prefilter_line(double *c, int64_t n, int64_t stride) {
    if (n < 2) return;
    const double z = sqrt(3.0) - 2.0;
    for (int64_t i = 0; i < n; i++)
        c[i * stride] *= 6.0;
    /* causal initialisation for a mirror-symmetric signal */
    double zi = z, zn1 = pow(z, (double)(n - 1));
    double c0 = c[0] + zn1 * c[(n - 1) * stride];
    for (int64_t i = 1; i < n - 1; i++) {
        c0 += zi * (c[i * stride] + zn1 * c[(n - 1 - i) * stride]);
        zi *= z;
    }
    c[0] = c0 / (1.0 - zn1 * zn1);
    for (int64_t i = 1; i < n; i++)
        c[i * stride] += z * c[(i - 1) * stride];
    /* anti-causal */
    int64_t l = (n - 1) * stride;
    c[l] = (z * c[l - stride] + c[l]) * z / (z * z - 1.0);
    for (int64_t i = n - 2; i >= 0; i--)
        c[i * stride] = z * (c[(i + 1) * stride] - c[i * stride]);
}

/* The 4 coefficient indices and cubic B-spline weights for coordinate cc (>= 0) on n samples. */
static void taps(double cc, int n, int idx[4], double wt[4]) {
    double f = floor(cc), t = cc - f, u = 1.0 - t;
    wt[0] = u * u * u / 6.0;
    wt[1] = (4.0 - 6.0 * t * t + 3.0 * t * t * t) / 6.0;
    wt[2] = (1.0 + 3.0 * t + 3.0 * t * t - 3.0 * t * t * t) / 6.0;
    wt[3] = t * t * t / 6.0;
    for (int k = 0; k < 4; k++)
        idx[k] = mirror((int64_t)f - 1 + k, n);
}

typedef struct {
    int valid;
    int idx[4];
    double wt[4];
} tap_set;

static tap_set *make_taps(int n_in, int n_out) {
    tap_set *t = calloc((size_t)n_out, sizeof *t);
    for (int o = 0; t && o < n_out; o++) {
        double cc = coordinate(o, n_in, n_out);
        t[o].valid = cc >= 0;
        if (t[o].valid) taps(cc, n_in, t[o].idx, t[o].wt);
    }
    return t;
}

int ve_zoom_cubic(const float *src, int h, int w, float *dst, int oh, int ow) {
    if (check_sides("cubic zoom", h, w, oh, ow) != VE_OK) return VE_FAIL;
    size_t px = (size_t)h * (size_t)w;
    double *c = malloc(px * sizeof *c), *tmp = malloc((size_t)h * (size_t)ow * sizeof *tmp);
    tap_set *ty = make_taps(h, oh), *tx = make_taps(w, ow);
    int rc = c && tmp && ty && tx ? VE_OK : ve_fail("cubic zoom: out of memory");
    if (rc == VE_OK) {
        for (size_t i = 0; i < px; i++)
            c[i] = src[i];
        for (int x = 0; x < w; x++) /* along axis 0, then axis 1, as scipy */
            prefilter_line(c + x, h, w);
        for (int y = 0; y < h; y++)
            prefilter_line(c + (size_t)y * w, w, 1);
        for (int y = 0; y < h; y++) {
            const double *row = c + (size_t)y * w;
            for (int x = 0; x < ow; x++) {
                const tap_set *t = &tx[x];
                tmp[(size_t)y * ow + x] = t->wt[0] * row[t->idx[0]] + t->wt[1] * row[t->idx[1]] +
                                          t->wt[2] * row[t->idx[2]] + t->wt[3] * row[t->idx[3]];
            }
        }
        for (int y = 0; y < oh; y++) {
            const tap_set *t = &ty[y];
            float *out = dst + (size_t)y * ow;
            for (int x = 0; x < ow; x++) {
                double v = 0.0;
                if (t->valid && tx[x].valid)
                    for (int k = 0; k < 4; k++)
                        v += t->wt[k] * tmp[(size_t)t->idx[k] * ow + x];
                out[x] = (float)v;
            }
        }
    }
    free(c);
    free(tmp);
    free(ty);
    free(tx);
    return rc;
}

/* The input index of each output index for order 0, -1 outside. */
static int *nearest_index(int n_in, int n_out) {
    int *ix = malloc((size_t)n_out * sizeof *ix);
    for (int o = 0; ix && o < n_out; o++) {
        double cc = coordinate(o, n_in, n_out);
        ix[o] = cc < 0 ? -1 : (int)floor(cc + 0.5);
    }
    return ix;
}

int ve_zoom_nearest_u8(const uint8_t *src, int h, int w, uint8_t *dst, int oh, int ow) {
    if (check_sides("nearest zoom", h, w, oh, ow) != VE_OK) return VE_FAIL;
    int *iy = nearest_index(h, oh), *ix = nearest_index(w, ow);
    int rc = iy && ix ? VE_OK : ve_fail("nearest zoom: out of memory");
    for (int y = 0; rc == VE_OK && y < oh; y++)
        for (int x = 0; x < ow; x++)
            dst[(size_t)y * ow + x] =
                iy[y] < 0 || ix[x] < 0 ? 0 : src[(size_t)iy[y] * w + (size_t)ix[x]];
    free(iy);
    free(ix);
    return rc;
}
