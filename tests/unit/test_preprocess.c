/* SAM preprocessing on the host: sizes as the official ResizeLongestSide computes them, the
 * separable bilinear against a direct 2-D formula (align_corners false), normalisation and zero
 * padding. No device needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sam/preprocess.h"
#include "status.h"
#include "test_util.h"

/* PyTorch's bilinear source coordinate, align_corners false, clamped at 0. */
static double src_of(int o, int in, int out, int *i0, int *i1) {
    double sc = (double)(float)((double)in / out);
    double x = ((double)o + 0.5) * sc - 0.5;
    if (x < 0) x = 0;
    *i0 = (int)x;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    return x - *i0;
}

static void run(uint64_t *rs, int h, int w, int s) {
    char what[64];
    snprintf(what, sizeof what, "preprocess %dx%d -> %d", w, h, s);
    float *rgb = tu_rand(rs, (size_t)3 * h * w, 0, 255), *out = malloc(sizeof(float) * 3 * s * s);
    float *want = calloc((size_t)3 * s * s, sizeof(float));
    int nh, nw;
    sam_resized_size(h, w, s, &nh, &nw);
    tu_check(sam_preprocess(rgb, h, w, s, SAM_PIXEL_MEAN, SAM_PIXEL_STD, out) == VE_OK, what);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < nh; y++)
            for (int x = 0; x < nw; x++) {
                int y0, y1, x0, x1;
                double fy = src_of(y, h, nh, &y0, &y1), fx = src_of(x, w, nw, &x0, &x1);
                const float *p = rgb + (size_t)c * h * w;
                double v = (1 - fy) * ((1 - fx) * p[y0 * w + x0] + fx * p[y0 * w + x1]) +
                           fy * ((1 - fx) * p[y1 * w + x0] + fx * p[y1 * w + x1]);
                want[((size_t)c * s + y) * s + x] =
                    (float)((v - SAM_PIXEL_MEAN[c]) / SAM_PIXEL_STD[c]);
            }
    tu_check(tu_close(what, out, want, (size_t)3 * s * s, 1e-5, 1.0), what);
    free(rgb);
    free(out);
    free(want);
}

int main(void) {
    int nh, nw;
    sam_resized_size(181, 217, 1024, &nh, &nw); /* a DATA.md slice: 217 wide, 181 high */
    tu_check(nw == 1024 && nh == (int)(181 * 1024.0 / 217 + 0.5), "longest side to S");
    sam_resized_size(256, 256, 512, &nh, &nw);
    tu_check(nh == 512 && nw == 512, "square upscale");
    uint64_t rs = tu_seed(3);
    run(&rs, 181, 217, 256);
    run(&rs, 64, 40, 100);
    run(&rs, 300, 120, 128); /* downscale */
    run(&rs, 1, 1, 16);
    return tu_exit();
}
