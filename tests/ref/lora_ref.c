/* Plain-C reference of the LoRA linear: y = x W^T + bias, y[:, cols] += (x A^T) B^T per
 * adapter, and every gradient. Double accumulation. */
#include <stdlib.h>

#include "ref.h"

void ref_lora_fwd(const float *x, const float *w, const float *bias, int n_ad,
                  const ref_lora_adapter *ad, float *y, int64_t rows, int64_t in, int64_t out) {
    for (int64_t m = 0; m < rows; m++)
        for (int64_t o = 0; o < out; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int64_t k = 0; k < in; k++)
                s += (double)x[m * in + k] * (double)w[o * in + k];
            y[m * out + o] = (float)s;
        }
    for (int i = 0; i < n_ad; i++) {
        const ref_lora_adapter *p = &ad[i];
        double *xa = malloc(sizeof *xa * (size_t)p->r);
        for (int64_t m = 0; m < rows; m++) {
            for (int64_t j = 0; j < p->r; j++) {
                double s = 0;
                for (int64_t k = 0; k < in; k++)
                    s += (double)x[m * in + k] * (double)p->a[j * in + k];
                xa[j] = (float)s; /* the engine keeps x A^T in fp32 */
            }
            for (int64_t o = 0; o < p->out_a; o++) {
                double s = 0;
                for (int64_t j = 0; j < p->r; j++)
                    s += xa[j] * (double)p->b[o * p->r + j];
                float *dst = &y[m * out + p->col + o];
                *dst = (float)((double)*dst + s);
            }
        }
        free(xa);
    }
}

void ref_lora_bwd(const float *x, const float *w, const float *dy, int n_ad,
                  const ref_lora_adapter *ad, float *dx, float *dw, float *dbias, float **da,
                  float **db, int64_t rows, int64_t in, int64_t out) {
    if (dx)
        for (int64_t m = 0; m < rows; m++)
            for (int64_t k = 0; k < in; k++) {
                double s = 0;
                for (int64_t o = 0; o < out; o++)
                    s += (double)dy[m * out + o] * (double)w[o * in + k];
                dx[m * in + k] = (float)s;
            }
    if (dw)
        for (int64_t o = 0; o < out; o++)
            for (int64_t k = 0; k < in; k++) {
                double s = 0;
                for (int64_t m = 0; m < rows; m++)
                    s += (double)dy[m * out + o] * (double)x[m * in + k];
                dw[o * in + k] = (float)s;
            }
    if (dbias)
        for (int64_t o = 0; o < out; o++) {
            double s = 0;
            for (int64_t m = 0; m < rows; m++)
                s += dy[m * out + o];
            dbias[o] = (float)s;
        }
    for (int i = 0; i < n_ad; i++) {
        const ref_lora_adapter *p = &ad[i];
        size_t nr = (size_t)(rows * p->r);
        double *ga = calloc(nr, sizeof *ga), *xa = calloc(nr, sizeof *xa);
        /* ga = dy[:, cols] B, xa = x A^T */
        for (int64_t m = 0; m < rows; m++)
            for (int64_t j = 0; j < p->r; j++) {
                double s = 0, t = 0;
                for (int64_t o = 0; o < p->out_a; o++)
                    s += (double)dy[m * out + p->col + o] * (double)p->b[o * p->r + j];
                for (int64_t k = 0; k < in; k++)
                    t += (double)x[m * in + k] * (double)p->a[j * in + k];
                ga[m * p->r + j] = s;
                xa[m * p->r + j] = t;
            }
        if (dx)
            for (int64_t m = 0; m < rows; m++)
                for (int64_t k = 0; k < in; k++) {
                    double s = dx[m * in + k];
                    for (int64_t j = 0; j < p->r; j++)
                        s += ga[m * p->r + j] * (double)p->a[j * in + k];
                    dx[m * in + k] = (float)s;
                }
        if (da && da[i])
            for (int64_t j = 0; j < p->r; j++)
                for (int64_t k = 0; k < in; k++) {
                    double s = 0;
                    for (int64_t m = 0; m < rows; m++)
                        s += ga[m * p->r + j] * (double)x[m * in + k];
                    da[i][j * in + k] = (float)s;
                }
        if (db && db[i])
            for (int64_t o = 0; o < p->out_a; o++)
                for (int64_t j = 0; j < p->r; j++) {
                    double s = 0;
                    for (int64_t m = 0; m < rows; m++)
                        s += (double)dy[m * out + p->col + o] * xa[m * p->r + j];
                    db[i][o * p->r + j] = (float)s;
                }
        free(ga);
        free(xa);
    }
}
