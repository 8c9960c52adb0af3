/* Bilinear resize (PyTorch align_corners=False, sizes given) and its adjoint, and the 1-D
 * linear row resize of SAM_SPEC.md section 2. Source indices and weights exactly as ATen
 * computes them on the CPU (torch 1.13): scale = in / out in fp32, src = max(scale (o + 0.5) -
 * 0.5, 0) in double, weight l1 = fp32(src - i0), l0 = 1 - l1 in fp32 (SAM_SPEC's "in fp32" is
 * the scale; tests/reference/check_vision_refs.py matches torch weight for weight). The
 * interpolation itself in double. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

static void taps(int64_t o, int64_t n_in, int64_t n_out, int64_t *i0, int64_t *i1, double *l0,
                 double *l1) {
    double scale = (float)n_in / (float)n_out;
    double src = scale * ((double)o + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    int64_t a = (int64_t)floor(src);
    if (a > n_in - 1) a = n_in - 1;
    double d = src - (double)a;
    float l = (float)(d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d);
    *i0 = a;
    *i1 = a + (a < n_in - 1 ? 1 : 0);
    *l1 = l;
    *l0 = 1.0f - l; /* rounded to fp32 as ATen's weight */
}

void ref_resize_bilinear_fwd(const float *x, float *y, int64_t planes, int64_t h, int64_t w,
                             int64_t oh, int64_t ow) {
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0, y1;
            double a0, a1;
            taps(oy, h, oh, &y0, &y1, &a0, &a1);
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t x0, x1;
                double b0, b1;
                taps(ox, w, ow, &x0, &x1, &b0, &b1);
                const float *r0 = x + (p * h + y0) * w, *r1 = x + (p * h + y1) * w;
                y[(p * oh + oy) * ow + ox] =
                    (float)(a0 * (b0 * r0[x0] + b1 * r0[x1]) + a1 * (b0 * r1[x0] + b1 * r1[x1]));
            }
        }
}

void ref_resize_bilinear_bwd(const float *dy, float *dx, int64_t planes, int64_t h, int64_t w,
                             int64_t oh, int64_t ow) {
    size_t n = (size_t)(planes * h * w);
    double *acc = calloc(n, sizeof(double));
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0, y1;
            double a0, a1;
            taps(oy, h, oh, &y0, &y1, &a0, &a1);
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t x0, x1;
                double b0, b1;
                taps(ox, w, ow, &x0, &x1, &b0, &b1);
                double g = dy[(p * oh + oy) * ow + ox];
                double *r0 = acc + (p * h + y0) * w, *r1 = acc + (p * h + y1) * w;
                r0[x0] += g * a0 * b0;
                r0[x1] += g * a0 * b1;
                r1[x0] += g * a1 * b0;
                r1[x1] += g * a1 * b1;
            }
        }
    for (size_t i = 0; i < n; i++)
        dx[i] = (float)acc[i];
    free(acc);
}

void ref_resize_rows_linear(const float *src, int64_t rows, int64_t cols, float *dst,
                            int64_t out_rows) {
    for (int64_t o = 0; o < out_rows; o++) {
        int64_t i0, i1;
        double l0, l1;
        taps(o, rows, out_rows, &i0, &i1, &l0, &l1);
        for (int64_t c = 0; c < cols; c++)
            dst[o * cols + c] = (float)(l0 * src[i0 * cols + c] + l1 * src[i1 * cols + c]);
    }
}
