/* Random Fourier positional encoding: the argument f = float(2 pi) * ((2c - 1) @ G) rounded in
 * fp32 step by step as PyTorch's ops round it (no fused multiply-add), sin and cos in double. */
#include <math.h>

#include "ref.h"

static void encode(float cx, float cy, const float *g, float *out, int64_t f) {
    float ax = 2.0f * cx, ay = 2.0f * cy;
    ax = ax - 1.0f;
    ay = ay - 1.0f;
    for (int64_t k = 0; k < f; k++) {
        float px = ax * g[k], py = ay * g[f + k];
        float m = px + py;
        float arg = (float)(2.0 * M_PI) * m;
        out[k] = (float)sin((double)arg);
        out[f + k] = (float)cos((double)arg);
    }
}

void ref_fourier_pe_fwd(const float *coords, const float *g, float *y, int64_t n, int64_t f) {
    for (int64_t i = 0; i < n; i++)
        encode(coords[2 * i], coords[2 * i + 1], g, y + i * 2 * f, f);
}

void ref_fourier_pe_grid(const float *g, float *y, int64_t h, int64_t w, int64_t f) {
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            float cx = ((float)j + 0.5f) / (float)w, cy = ((float)i + 0.5f) / (float)h;
            encode(cx, cy, g, y + (i * w + j) * 2 * f, f);
        }
}
