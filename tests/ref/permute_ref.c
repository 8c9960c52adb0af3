/* Plain-C reference for permute: y[i_0..] = x at index i_k along x's dim perm[k]. */
#include "ref.h"

/* Visits the output elements in order: forward gathers y from x, backward scatters dy to dx. */
static void permute_walk(const float *src, float *dst, int ndim, const int64_t *shape,
                         const int *perm, int forward) {
    int64_t stride[4], oshape[4], idx[4] = {0, 0, 0, 0}, n = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = n;
        n *= shape[i];
    }
    for (int k = 0; k < ndim; k++)
        oshape[k] = shape[perm[k]];
    for (int64_t o = 0; o < n; o++) {
        int64_t xi = 0;
        for (int k = 0; k < ndim; k++)
            xi += idx[k] * stride[perm[k]];
        if (forward)
            dst[o] = src[xi];
        else
            dst[xi] = src[o];
        for (int k = ndim - 1; k >= 0; k--) {
            if (++idx[k] < oshape[k]) break;
            idx[k] = 0;
        }
    }
}

void ref_permute_fwd(const float *x, float *y, int ndim, const int64_t *shape, const int *perm) {
    permute_walk(x, y, ndim, shape, perm, 1);
}

void ref_permute_bwd(const float *dy, float *dx, int ndim, const int64_t *shape, const int *perm) {
    permute_walk(dy, dx, ndim, shape, perm, 0);
}
