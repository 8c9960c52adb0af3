/* Plain-C references for add, mul and scale (b of a's shape, or [b_cols] repeated over rows). */
#include <stdlib.h>

#include "ref.h"

static size_t bidx(size_t i, size_t b_cols) {
    return b_cols ? i % b_cols : i;
}

void ref_add_fwd(const float *a, const float *b, float *y, size_t n, size_t b_cols) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[bidx(i, b_cols)];
}

/* Column sums of v (rows of b_cols) into out, in double. */
static void col_sums(const float *v, const float *w, float *out, size_t n, size_t b_cols) {
    double *acc = calloc(b_cols, sizeof *acc);
    for (size_t i = 0; i < n; i++)
        acc[i % b_cols] += (double)v[i] * (w ? (double)w[i] : 1.0);
    for (size_t c = 0; c < b_cols; c++)
        out[c] = (float)acc[c];
    free(acc);
}

void ref_add_bwd(const float *dy, float *da, float *db, size_t n, size_t b_cols) {
    for (size_t i = 0; da && i < n; i++)
        da[i] = dy[i];
    if (!db) return;
    if (b_cols)
        col_sums(dy, NULL, db, n, b_cols);
    else
        for (size_t i = 0; i < n; i++)
            db[i] = dy[i];
}

void ref_mul_fwd(const float *a, const float *b, float *y, size_t n, size_t b_cols) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] * b[bidx(i, b_cols)];
}

void ref_mul_bwd(const float *a, const float *b, const float *dy, float *da, float *db, size_t n,
                 size_t b_cols) {
    for (size_t i = 0; da && i < n; i++)
        da[i] = dy[i] * b[bidx(i, b_cols)];
    if (!db) return;
    if (b_cols)
        col_sums(dy, a, db, n, b_cols);
    else
        for (size_t i = 0; i < n; i++)
            db[i] = dy[i] * a[i];
}

void ref_scale_fwd(const float *a, float s, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = s * a[i];
}

void ref_scale_bwd(const float *dy, float s, float *da, size_t n) {
    for (size_t i = 0; i < n; i++)
        da[i] = s * dy[i];
}
