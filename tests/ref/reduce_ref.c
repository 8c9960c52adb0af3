/* Plain-C reductions over rows and columns, in double. */
#include <stddef.h>

#include "ref.h"

void ref_sum_rows_fwd(const float *x, float *out, int64_t rows, int64_t cols, double scale) {
    for (int64_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++)
            s += x[r * cols + c];
        out[r] = (float)(s * scale);
    }
}

void ref_sum_rows_bwd(const float *dy, float *dx, int64_t rows, int64_t cols, double scale) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dx[r * cols + c] = (float)(dy[r] * scale);
}

void ref_sum_cols_fwd(const float *x, float *out, int64_t rows, int64_t cols) {
    for (int64_t c = 0; c < cols; c++) {
        double s = 0.0;
        for (int64_t r = 0; r < rows; r++)
            s += x[r * cols + c];
        out[c] = (float)s;
    }
}
