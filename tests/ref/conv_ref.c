/* Direct (not im2col) convolutions for the vision ops' tests: patch embedding on a
 * channels-first image, Conv2d and ConvTranspose2d (kernel = stride) on channels-last maps,
 * PyTorch weight layouts, double accumulation; and SAM's LayerNorm2d on channels-first maps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

void ref_conv2d_fwd(const float *x, const float *w, const float *bias, float *y, int64_t b,
                    int64_t h, int64_t wd, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                    int64_t pad) {
    int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
    for (int64_t n = 0; n < b; n++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++)
                for (int64_t co = 0; co < cout; co++) {
                    double s = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cin; ci++)
                        for (int64_t ky = 0; ky < k; ky++)
                            for (int64_t kx = 0; kx < k; kx++) {
                                int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                s += (double)x[((n * h + iy) * wd + ix) * cin + ci] *
                                     w[((co * cin + ci) * k + ky) * k + kx];
                            }
                    y[((n * oh + oy) * ow + ox) * cout + co] = (float)s;
                }
}

void ref_conv2d_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw,
                    float *dbias, int64_t b, int64_t h, int64_t wd, int64_t cin, int64_t cout,
                    int64_t k, int64_t stride, int64_t pad) {
    int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
    size_t nx = (size_t)(b * h * wd * cin), nw = (size_t)(cout * cin * k * k);
    double *ax = calloc(nx, sizeof(double)), *aw = calloc(nw, sizeof(double));
    double *ab = calloc((size_t)cout, sizeof(double));
    for (int64_t n = 0; n < b; n++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++)
                for (int64_t co = 0; co < cout; co++) {
                    double g = dy[((n * oh + oy) * ow + ox) * cout + co];
                    ab[co] += g;
                    for (int64_t ci = 0; ci < cin; ci++)
                        for (int64_t ky = 0; ky < k; ky++)
                            for (int64_t kx = 0; kx < k; kx++) {
                                int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                int64_t xi = ((n * h + iy) * wd + ix) * cin + ci;
                                int64_t wi = ((co * cin + ci) * k + ky) * k + kx;
                                ax[xi] += g * w[wi];
                                aw[wi] += g * x[xi];
                            }
                }
    for (size_t i = 0; dx && i < nx; i++)
        dx[i] = (float)ax[i];
    for (size_t i = 0; dw && i < nw; i++)
        dw[i] = (float)aw[i];
    for (int64_t i = 0; dbias && i < cout; i++)
        dbias[i] = (float)ab[i];
    free(ax);
    free(aw);
    free(ab);
}

void ref_patch_embed_fwd(const float *img, const float *w, const float *bias, float *y, int64_t b,
                         int64_t c, int64_t h, int64_t wd, int64_t d, int64_t p) {
    int64_t hp = h / p, wp = wd / p;
    for (int64_t n = 0; n < b; n++)
        for (int64_t py = 0; py < hp; py++)
            for (int64_t px = 0; px < wp; px++)
                for (int64_t o = 0; o < d; o++) {
                    double s = bias ? bias[o] : 0.0;
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t ky = 0; ky < p; ky++)
                            for (int64_t kx = 0; kx < p; kx++)
                                s += (double)
                                         img[((n * c + ci) * h + py * p + ky) * wd + px * p + kx] *
                                     w[((o * c + ci) * p + ky) * p + kx];
                    y[((n * hp + py) * wp + px) * d + o] = (float)s;
                }
}

void ref_patch_embed_bwd(const float *img, const float *w, const float *dy, float *dimg, float *dw,
                         float *dbias, int64_t b, int64_t c, int64_t h, int64_t wd, int64_t d,
                         int64_t p) {
    int64_t hp = h / p, wp = wd / p;
    size_t ni = (size_t)(b * c * h * wd), nw = (size_t)(d * c * p * p);
    double *ai = calloc(ni, sizeof(double)), *aw = calloc(nw, sizeof(double));
    double *ab = calloc((size_t)d, sizeof(double));
    for (int64_t n = 0; n < b; n++)
        for (int64_t py = 0; py < hp; py++)
            for (int64_t px = 0; px < wp; px++)
                for (int64_t o = 0; o < d; o++) {
                    double g = dy[((n * hp + py) * wp + px) * d + o];
                    ab[o] += g;
                    for (int64_t ci = 0; ci < c; ci++)
                        for (int64_t ky = 0; ky < p; ky++)
                            for (int64_t kx = 0; kx < p; kx++) {
                                int64_t ii = ((n * c + ci) * h + py * p + ky) * wd + px * p + kx;
                                int64_t wi = ((o * c + ci) * p + ky) * p + kx;
                                ai[ii] += g * w[wi];
                                aw[wi] += g * img[ii];
                            }
                }
    for (size_t i = 0; dimg && i < ni; i++)
        dimg[i] = (float)ai[i];
    for (size_t i = 0; dw && i < nw; i++)
        dw[i] = (float)aw[i];
    for (int64_t i = 0; dbias && i < d; i++)
        dbias[i] = (float)ab[i];
    free(ai);
    free(aw);
    free(ab);
}

/* y[n, k*i + dy, k*j + dx, co] = bias[co] + sum_ci x[n, i, j, ci] w[ci, co, dy, dx]. */
void ref_conv_transpose2d_fwd(const float *x, const float *w, const float *bias, float *y,
                              int64_t b, int64_t h, int64_t wd, int64_t cin, int64_t cout,
                              int64_t k) {
    for (int64_t n = 0; n < b; n++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < wd; j++)
                for (int64_t dy = 0; dy < k; dy++)
                    for (int64_t dx = 0; dx < k; dx++)
                        for (int64_t co = 0; co < cout; co++) {
                            double s = bias ? bias[co] : 0.0;
                            for (int64_t ci = 0; ci < cin; ci++)
                                s += (double)x[((n * h + i) * wd + j) * cin + ci] *
                                     w[((ci * cout + co) * k + dy) * k + dx];
                            y[((n * k * h + k * i + dy) * k * wd + k * j + dx) * cout + co] =
                                (float)s;
                        }
}

void ref_conv_transpose2d_bwd(const float *x, const float *w, const float *gy, float *gx, float *gw,
                              float *gbias, int64_t b, int64_t h, int64_t wd, int64_t cin,
                              int64_t cout, int64_t k) {
    size_t nx = (size_t)(b * h * wd * cin), nw = (size_t)(cin * cout * k * k);
    double *ax = calloc(nx, sizeof(double)), *aw = calloc(nw, sizeof(double));
    double *ab = calloc((size_t)cout, sizeof(double));
    for (int64_t n = 0; n < b; n++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < wd; j++)
                for (int64_t dy = 0; dy < k; dy++)
                    for (int64_t dx = 0; dx < k; dx++)
                        for (int64_t co = 0; co < cout; co++) {
                            double g =
                                gy[((n * k * h + k * i + dy) * k * wd + k * j + dx) * cout + co];
                            ab[co] += g;
                            for (int64_t ci = 0; ci < cin; ci++) {
                                int64_t xi = ((n * h + i) * wd + j) * cin + ci;
                                int64_t wi = ((ci * cout + co) * k + dy) * k + dx;
                                ax[xi] += g * w[wi];
                                aw[wi] += g * x[xi];
                            }
                        }
    for (size_t i = 0; gx && i < nx; i++)
        gx[i] = (float)ax[i];
    for (size_t i = 0; gw && i < nw; i++)
        gw[i] = (float)aw[i];
    for (int64_t i = 0; gbias && i < cout; i++)
        gbias[i] = (float)ab[i];
    free(ax);
    free(aw);
    free(ab);
}

void ref_layernorm2d_nchw_fwd(const float *x, const float *w, const float *bias, float *y,
                              int64_t b, int64_t c, int64_t hw, float eps) {
    for (int64_t n = 0; n < b; n++)
        for (int64_t p = 0; p < hw; p++) {
            const float *xp = x + n * c * hw + p;
            double u = 0, s = 0;
            for (int64_t i = 0; i < c; i++)
                u += xp[i * hw];
            u /= (double)c;
            for (int64_t i = 0; i < c; i++)
                s += (xp[i * hw] - u) * (xp[i * hw] - u);
            s /= (double)c;
            double r = 1.0 / sqrt(s + (double)eps);
            for (int64_t i = 0; i < c; i++)
                y[n * c * hw + i * hw + p] = (float)(w[i] * (xp[i * hw] - u) * r + bias[i]);
        }
}
