/* Embedding lookup and its scatter-add backward (double accumulation). */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

static int64_t row_of(float idx, int64_t v) {
    return idx >= 0.0f && idx < (float)v ? (int64_t)floorf(idx) : -1;
}

void ref_embedding_fwd(const float *table, const float *idx, float *y, int64_t v, int64_t c,
                       int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        int64_t r = row_of(idx[i], v);
        for (int64_t j = 0; j < c; j++)
            y[i * c + j] = r < 0 ? 0.0f : table[r * c + j];
    }
}

void ref_embedding_bwd(const float *idx, const float *dy, float *dtable, int64_t v, int64_t c,
                       int64_t n) {
    double *acc = calloc((size_t)(v * c), sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        int64_t r = row_of(idx[i], v);
        for (int64_t j = 0; r >= 0 && j < c; j++)
            acc[r * c + j] += dy[i * c + j];
    }
    for (int64_t i = 0; i < v * c; i++)
        dtable[i] = (float)acc[i];
    free(acc);
}
