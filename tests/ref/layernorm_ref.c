/* Plain-C LayerNorm over the last dim, in double: the reference the engine is tested against. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "ref.h"

/* Two-pass statistics of one row, as PyTorch defines them (biased variance). */
static void row_stats(const float *x, int64_t cols, float eps, double *mean, double *rstd) {
    double s = 0.0;
    for (int64_t c = 0; c < cols; c++)
        s += x[c];
    double m = s / (double)cols, v = 0.0;
    for (int64_t c = 0; c < cols; c++) {
        double d = x[c] - m;
        v += d * d;
    }
    v /= (double)cols;
    *mean = m;
    *rstd = 1.0 / sqrt(v + (double)eps);
}

void ref_layernorm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                       float *rstd, int64_t rows, int64_t cols, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        double m, rs;
        row_stats(xr, cols, eps, &m, &rs);
        if (mean) mean[r] = (float)m;
        if (rstd) rstd[r] = (float)rs;
        for (int64_t c = 0; c < cols; c++) {
            double v = (xr[c] - m) * rs;
            if (w) v *= w[c];
            if (b) v += b[c];
            y[r * cols + c] = (float)v;
        }
    }
}

void ref_layernorm_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw,
                       float *db, int64_t rows, int64_t cols, float eps) {
    double *acc_w = calloc((size_t)cols, sizeof(double));
    double *acc_b = calloc((size_t)cols, sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        double m, rs, sg = 0.0, sgx = 0.0;
        row_stats(xr, cols, eps, &m, &rs);
        for (int64_t c = 0; c < cols; c++) {
            double xh = (xr[c] - m) * rs, g = dyr[c] * (w ? (double)w[c] : 1.0);
            sg += g;
            sgx += g * xh;
            acc_w[c] += dyr[c] * xh;
            acc_b[c] += dyr[c];
        }
        sg /= (double)cols;
        sgx /= (double)cols;
        if (dx) {
            for (int64_t c = 0; c < cols; c++) {
                double xh = (xr[c] - m) * rs, g = dyr[c] * (w ? (double)w[c] : 1.0);
                dx[r * cols + c] = (float)(rs * (g - sg - xh * sgx));
            }
        }
    }
    for (int64_t c = 0; c < cols; c++) {
        if (dw) dw[c] = (float)acc_w[c];
        if (db) db[c] = (float)acc_b[c];
    }
    free(acc_w);
    free(acc_b);
}
