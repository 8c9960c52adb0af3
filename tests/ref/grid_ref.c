#include "ref.h"

void ref_grid_resize_fwd(const float *x, float *y, int64_t b, int64_t ih, int64_t iw, int64_t c,
                         int64_t oh, int64_t ow) {
    for (int64_t n = 0; n < b; n++)
        for (int64_t yy = 0; yy < oh; yy++)
            for (int64_t xx = 0; xx < ow; xx++)
                for (int64_t k = 0; k < c; k++)
                    y[((n * oh + yy) * ow + xx) * c + k] =
                        yy < ih && xx < iw ? x[((n * ih + yy) * iw + xx) * c + k] : 0.0f;
}

void ref_grid_resize_bwd(const float *dy, float *dx, int64_t b, int64_t ih, int64_t iw, int64_t c,
                         int64_t oh, int64_t ow) {
    /* The adjoint: every input token takes its output token's gradient, or 0 if cropped. */
    ref_grid_resize_fwd(dy, dx, b, oh, ow, c, ih, iw);
}
