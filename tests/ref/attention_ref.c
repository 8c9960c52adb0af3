/* Plain-C reference of the fused attention op (engine/ops/attention.c): the attention matrix is
 * materialised one query row at a time, every sum in double. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

/* The keys one query attends to: token indices and their (y, x) inside the attended block
 * (window, grid, or a 1 x k_tokens row for attention without a grid). Returns the count. */
static int64_t keys_of(const ref_attn_shape *s, int64_t tq, int64_t *ktok, int *ky, int *kx,
                       int *qy, int *qx) {
    if (s->grid_h == 0) {
        for (int64_t j = 0; j < s->k_tokens; j++) {
            ktok[j] = j;
            ky[j] = 0;
            kx[j] = (int)j;
        }
        *qy = *qx = 0;
        return s->k_tokens;
    }
    const int64_t y = tq / s->grid_w, x = tq % s->grid_w;
    const int64_t bh = s->window ? s->window : s->grid_h, bw = s->window ? s->window : s->grid_w;
    const int64_t y0 = y - y % bh, x0 = x - x % bw;
    *qy = (int)(y - y0);
    *qx = (int)(x - x0);
    int64_t n = 0;
    for (int64_t a = 0; a < bh; a++)
        for (int64_t c = 0; c < bw; c++, n++) {
            ktok[n] = (y0 + a) * s->grid_w + x0 + c;
            ky[n] = (int)a;
            kx[n] = (int)c;
        }
    return n;
}

static double dot(const float *a, const float *b, int n) {
    double r = 0;
    for (int i = 0; i < n; i++)
        r += (double)a[i] * b[i];
    return r;
}

typedef struct {
    int64_t n, *tok;
    int *ky, *kx, qy, qx, lh, lw;
    double *s, *p;
} row_ws;

static void ws_init(row_ws *w, const ref_attn_shape *s) {
    int64_t n = s->k_tokens;
    w->tok = malloc(sizeof *w->tok * (size_t)n);
    w->ky = malloc(sizeof *w->ky * (size_t)n);
    w->kx = malloc(sizeof *w->kx * (size_t)n);
    w->s = malloc(sizeof *w->s * (size_t)n);
    w->p = malloc(sizeof *w->p * (size_t)n);
    if (!w->tok || !w->ky || !w->kx || !w->s || !w->p) abort();
    w->lh = (int)(s->window ? s->window : s->grid_h);
    w->lw = (int)(s->window ? s->window : s->grid_w);
}

static void ws_free(row_ws *w) {
    free(w->tok);
    free(w->ky);
    free(w->kx);
    free(w->s);
    free(w->p);
}

/* Scores and probabilities of query (b, tq, h); returns the log-sum-exp. */
static double row_probs(const ref_attn_shape *s, const float *q, const float *k, const float *rel_h,
                        const float *rel_w, int64_t b, int64_t tq, int h, row_ws *w) {
    const int d = s->head_dim;
    w->n = keys_of(s, tq, w->tok, w->ky, w->kx, &w->qy, &w->qx);
    const float *qr = q + (b * s->q_tokens + tq) * s->q_stride + (int64_t)h * d;
    double m = -INFINITY;
    for (int64_t j = 0; j < w->n; j++) {
        const float *kr = k + (b * s->k_tokens + w->tok[j]) * s->k_stride + (int64_t)h * d;
        double v = s->scale * dot(qr, kr, d);
        if (rel_h) v += dot(qr, rel_h + (int64_t)(w->qy - w->ky[j] + w->lh - 1) * d, d);
        if (rel_w) v += dot(qr, rel_w + (int64_t)(w->qx - w->kx[j] + w->lw - 1) * d, d);
        w->s[j] = v;
        if (v > m) m = v;
    }
    double sum = 0;
    for (int64_t j = 0; j < w->n; j++)
        sum += w->p[j] = exp(w->s[j] - m);
    for (int64_t j = 0; j < w->n; j++)
        w->p[j] /= sum;
    return m + log(sum);
}

void ref_attention_fwd(const ref_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *rel_h, const float *rel_w, float *out, float *lse) {
    const int d = s->head_dim, H = s->heads;
    row_ws w;
    ws_init(&w, s);
    double *acc = malloc(sizeof *acc * (size_t)d);
    if (!acc) abort();
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t tq = 0; tq < s->q_tokens; tq++)
            for (int h = 0; h < H; h++) {
                double l = row_probs(s, q, k, rel_h, rel_w, b, tq, h, &w);
                for (int c = 0; c < d; c++)
                    acc[c] = 0;
                for (int64_t j = 0; j < w.n; j++) {
                    const float *vr =
                        v + (b * s->k_tokens + w.tok[j]) * s->v_stride + (int64_t)h * d;
                    for (int c = 0; c < d; c++)
                        acc[c] += w.p[j] * vr[c];
                }
                const int64_t row = b * s->q_tokens + tq;
                for (int c = 0; c < d; c++)
                    out[row * H * d + (int64_t)h * d + c] = (float)acc[c];
                if (lse) lse[row * H + h] = (float)l;
            }
    free(acc);
    ws_free(&w);
}

void ref_attention_bwd(const ref_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *rel_h, const float *rel_w, const float *dout, float *dq,
                       float *dk, float *dv, float *drel_h, float *drel_w) {
    const int d = s->head_dim, H = s->heads;
    row_ws w;
    ws_init(&w, s);
    /* Key-side and table gradients are sums over many queries: accumulated in double here,
     * added to the caller's arrays at the end. */
    const size_t nkv = (size_t)(s->batch * s->k_tokens) * (size_t)(H * d);
    const size_t nrh = w.lh ? (size_t)(2 * w.lh - 1) * (size_t)d : 0;
    const size_t nrw = w.lw ? (size_t)(2 * w.lw - 1) * (size_t)d : 0;
    double *dqa = malloc(sizeof(double) * (size_t)d);
    double *ds = malloc(sizeof(double) * (size_t)(s->k_tokens ? s->k_tokens : 1));
    double *dka = calloc(nkv, sizeof(double)), *dva = calloc(nkv, sizeof(double));
    double *dha = calloc(nrh > 0 ? nrh : 1, sizeof(double));
    double *dwa = calloc(nrw > 0 ? nrw : 1, sizeof(double));
    if (!dqa || !ds || !dka || !dva || !dha || !dwa) abort();
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t tq = 0; tq < s->q_tokens; tq++)
            for (int h = 0; h < H; h++) {
                row_probs(s, q, k, rel_h, rel_w, b, tq, h, &w);
                const int64_t row = b * s->q_tokens + tq;
                const float *qr = q + row * s->q_stride + (int64_t)h * d;
                const float *dor = dout + row * H * d + (int64_t)h * d;
                double delta = 0;
                for (int64_t j = 0; j < w.n; j++) {
                    const float *vr =
                        v + (b * s->k_tokens + w.tok[j]) * s->v_stride + (int64_t)h * d;
                    ds[j] = dot(dor, vr, d);
                    delta += w.p[j] * ds[j];
                }
                for (int c = 0; c < d; c++)
                    dqa[c] = 0;
                for (int64_t j = 0; j < w.n; j++) {
                    const int64_t kt = b * s->k_tokens + w.tok[j];
                    const float *kr = k + kt * s->k_stride + (int64_t)h * d;
                    const double g = w.p[j] * (ds[j] - delta); /* d loss / d score */
                    const int64_t ih = (int64_t)(w.qy - w.ky[j] + w.lh - 1) * d;
                    const int64_t iw = (int64_t)(w.qx - w.kx[j] + w.lw - 1) * d;
                    const size_t o = (size_t)(kt * H * d + (int64_t)h * d);
                    for (int c = 0; c < d; c++) {
                        dqa[c] += g * s->scale * kr[c];
                        if (rel_h) dqa[c] += g * rel_h[ih + c];
                        if (rel_w) dqa[c] += g * rel_w[iw + c];
                        dka[o + (size_t)c] += g * s->scale * qr[c];
                        dva[o + (size_t)c] += w.p[j] * dor[c];
                        if (rel_h) dha[ih + c] += g * qr[c];
                        if (rel_w) dwa[iw + c] += g * qr[c];
                    }
                }
                if (dq)
                    for (int c = 0; c < d; c++)
                        dq[row * s->q_stride + (int64_t)h * d + c] += (float)dqa[c];
            }
    for (int64_t t = 0; t < s->batch * s->k_tokens; t++)
        for (int64_t c = 0; c < (int64_t)H * d; c++) {
            if (dk) dk[t * s->k_stride + c] += (float)dka[t * H * d + c];
            if (dv) dv[t * s->v_stride + c] += (float)dva[t * H * d + c];
        }
    for (size_t i = 0; rel_h && drel_h && i < nrh; i++)
        drel_h[i] += (float)dha[i];
    for (size_t i = 0; rel_w && drel_w && i < nrw; i++)
        drel_w[i] += (float)dwa[i];
    free(dqa);
    free(ds);
    free(dka);
    free(dva);
    free(dha);
    free(dwa);
    ws_free(&w);
}
