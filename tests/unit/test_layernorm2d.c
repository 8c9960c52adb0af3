/* LayerNorm2d (SAM's neck and decoder upscaling) needs no op of its own: on a channels-last map
 * [B, H, W, C] it is ve_layernorm over the last dim with eps 1e-6. Checked here against
 * sam_model.LayerNorm2d's formula on the channels-first map (tests/ref/conv_ref.c), including
 * inputs with a large common offset (its two-pass variance), for both kernel families. */
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"
#include "ref.h"
#include "test_util.h"

static void run_case(ve_device *dev, uint64_t *rs, int64_t b, int64_t h, int64_t w, int64_t c,
                     float offset) {
    char what[160];
    snprintf(what, sizeof what, "layernorm2d [%lld,%lld,%lld,%lld] offset %g%s", (long long)b,
             (long long)h, (long long)w, (long long)c, (double)offset,
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t xs[4] = {b, h, w, c};
    size_t n = tu_numel(4, xs), hw = (size_t)(h * w);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 4, xs);
    ve_tid wt = ve_tensor(g, VE_PARAM, "w", 1, &c), bt = ve_tensor(g, VE_PARAM, "b", 1, &c);
    ve_tid y = ve_layernorm(g, x, wt, bt, 1e-6f);
    ve_keep(g, y);
    tu_compile(g);
    float *xl = tu_rand(rs, n, offset - 1, offset + 1);
    float *wv = tu_rand(rs, (size_t)c, 0.5f, 1.5f), *bv = tu_rand(rs, (size_t)c, -1, 1);
    tu_write(g, x, xl);
    tu_write(g, wt, wv);
    tu_write(g, bt, bv);
    tu_run(g);
    /* The same values channels-first, through SAM's formula, then back to channels-last. */
    float *xf = malloc(sizeof(float) * n), *yf = malloc(sizeof(float) * n);
    float *want = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < b; i++)
        for (size_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++)
                xf[(size_t)(i * c + ch) * hw + p] = xl[((size_t)i * hw + p) * (size_t)c + ch];
    ref_layernorm2d_nchw_fwd(xf, wv, bv, yf, b, c, (int64_t)hw, 1e-6f);
    for (int64_t i = 0; i < b; i++)
        for (size_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++)
                want[((size_t)i * hw + p) * (size_t)c + ch] = yf[(size_t)(i * c + ch) * hw + p];
    float *got = tu_read(g, y);
    /* A common offset costs ~1 ulp(offset) / std in every normalised value, as in PyTorch. */
    double rtol = 2e-5 + 4.0 * 1.2e-7 * (double)offset / 0.577;
    tu_check(tu_close(what, got, want, n, rtol, 1e-6), what);
    free(got);
    free(xl);
    free(wv);
    free(bv);
    free(xf);
    free(yf);
    free(want);
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t rs = tu_seed(5);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        run_case(dev, &rs, 1, 8, 8, 256, 0); /* SAM's neck */
        run_case(dev, &rs, 2, 6, 5, 64, 3);  /* decoder upscaling */
        run_case(dev, &rs, 1, 3, 7, 4, 0);   /* mask downscaling */
        run_case(dev, &rs, 2, 3, 1, 16, 50);
        run_case(dev, &rs, 1, 1, 1, 5, 0);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
