/* Plain-C softmax over the last dim, in double. */
#include <math.h>
#include <stddef.h>

#include "ref.h"

void ref_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        double mx = -INFINITY, s = 0.0;
        for (int64_t c = 0; c < cols; c++)
            mx = xr[c] > mx ? xr[c] : mx;
        for (int64_t c = 0; c < cols; c++)
            s += exp(xr[c] - mx);
        for (int64_t c = 0; c < cols; c++)
            y[r * cols + c] = (float)(exp(xr[c] - mx) / s);
    }
}

void ref_softmax_bwd(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++)
            s += (double)dyr[c] * yr[c];
        for (int64_t c = 0; c < cols; c++)
            dx[r * cols + c] = (float)(yr[c] * (dyr[c] - s));
    }
}
