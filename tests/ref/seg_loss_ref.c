/* Plain-C reference of SAMed's loss (0.2 CE + 0.8 Dice over the softmax), in double. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

/* Label of a pixel as a class index: the c with |v - c| < 0.5, or -1 when none in 0..k-1 (the
 * engine's convention). */
static int64_t label_of(float v, int64_t k) {
    const double r = floor((double)v + 0.5);
    return (fabs((double)v - r) < 0.5 && r >= 0.0 && r < (double)k) ? (int64_t)r : -1;
}

/* Softmax of pixel (b, i) into p[k]; returns log(sum exp(z - max)) + max. */
static double softmax_px(const float *z, int64_t b, int64_t k, int64_t hw, int64_t i, double *p) {
    const float *zp = z + b * k * hw + i;
    double m = zp[0], s = 0.0;
    for (int64_t c = 1; c < k; c++)
        m = fmax(m, (double)zp[c * hw]);
    for (int64_t c = 0; c < k; c++) {
        p[c] = exp((double)zp[c * hw] - m);
        s += p[c];
    }
    for (int64_t c = 0; c < k; c++)
        p[c] /= s;
    return m + log(s);
}

/* Per-class sums I_c = sum p_c t_c and U_c = sum p_c^2 + sum t_c + eps, and the CE sum. */
static double class_sums(const float *z, const float *lab, int64_t b, int64_t k, int64_t hw,
                         double *in, double *un, double eps) {
    double *p = malloc(sizeof(double) * (size_t)k), ce = 0.0;
    for (int64_t c = 0; c < k; c++)
        in[c] = un[c] = 0.0;
    for (int64_t bb = 0; bb < b; bb++)
        for (int64_t i = 0; i < hw; i++) {
            const double lse = softmax_px(z, bb, k, hw, i, p);
            const int64_t l = label_of(lab[bb * hw + i], k);
            for (int64_t c = 0; c < k; c++)
                un[c] += p[c] * p[c];
            if (l < 0) continue;
            in[l] += p[l];
            un[l] += 1.0;
            ce += lse - (double)z[bb * k * hw + l * hw + i];
        }
    for (int64_t c = 0; c < k; c++)
        un[c] += eps;
    free(p);
    return ce;
}

void ref_seg_loss_fwd(const float *logits, const float *labels, int64_t b, int64_t k, int64_t hw,
                      double w_ce, double w_dice, float out[3]) {
    const double eps = REF_SEG_LOSS_EPS;
    double *in = malloc(sizeof(double) * (size_t)(2 * k)), *un = in + k;
    const double ce = class_sums(logits, labels, b, k, hw, in, un, eps) / (double)(b * hw);
    double dice = 0.0;
    for (int64_t c = 0; c < k; c++)
        dice += 1.0 - (2.0 * in[c] + eps) / un[c];
    dice /= (double)k;
    out[0] = (float)(w_ce * ce + w_dice * dice);
    out[1] = (float)ce;
    out[2] = (float)dice;
    free(in);
}

void ref_seg_loss_bwd(const float *logits, const float *labels, const float dout[3], float *dlogits,
                      int64_t b, int64_t k, int64_t hw, double w_ce, double w_dice) {
    const double eps = REF_SEG_LOSS_EPS, n = (double)(b * hw);
    const double gce = w_ce * dout[0] + dout[1], gd = w_dice * dout[0] + dout[2];
    double *in = malloc(sizeof(double) * (size_t)(4 * k)), *un = in + k, *p = un + k, *g = p + k;
    class_sums(logits, labels, b, k, hw, in, un, eps);
    for (int64_t bb = 0; bb < b; bb++)
        for (int64_t i = 0; i < hw; i++) {
            softmax_px(logits, bb, k, hw, i, p);
            const int64_t l = label_of(labels[bb * hw + i], k);
            double gp = 0.0;
            for (int64_t c = 0; c < k; c++) {
                /* d dice_c / d p_c = -(2 t_c U_c - (2 I_c + eps) 2 p_c) / U_c^2, mean over k */
                const double t = c == l ? 1.0 : 0.0;
                g[c] = -gd / (double)k * (2.0 * t * un[c] - (2.0 * in[c] + eps) * 2.0 * p[c]) /
                       (un[c] * un[c]);
                gp += g[c] * p[c];
            }
            for (int64_t c = 0; c < k; c++) {
                const double t = c == l ? 1.0 : 0.0;
                dlogits[bb * k * hw + c * hw + i] =
                    (float)(p[c] * (g[c] - gp) + gce * ((l >= 0 ? p[c] : 0.0) - t) / n);
            }
        }
    free(in);
}
