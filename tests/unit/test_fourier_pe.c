/* Random Fourier positional encoding, forward only: ve_fourier_pe on coordinates and
 * ve_fourier_pe_grid (the dense PE) against tests/ref/fourier_pe_ref.c (fp32 argument as
 * PyTorch rounds it, sin/cos in double) to 1e-6 absolute, with G ~ N(0, 1) and with large
 * entries (arguments up to ~75), odd F, both kernel families; refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

static ve_device *dev;
static uint64_t rs;

/* Roughly N(0, 1) (Irwin-Hall), times gscale. */
static float *gauss(int64_t f, float gscale) {
    float *g = malloc(sizeof(float) * (size_t)(2 * f));
    for (int64_t i = 0; i < 2 * f; i++) {
        float s = 0;
        for (int j = 0; j < 12; j++)
            s += tu_uniform(&rs, 0, 1);
        g[i] = (s - 6.0f) * gscale;
    }
    return g;
}

static void check(const char *what, ve_graph *g, ve_tid y, const float *want, size_t n) {
    float *got = tu_read(g, y);
    double maxd = 0;
    for (size_t i = 0; i < n; i++)
        maxd = fmax(maxd, fabs((double)got[i] - want[i]));
    /* |values| <= 1: an absolute 1e-6 bound (a few fp32 ulps of the result). */
    int ok = tu_close(what, got, want, n, 1e-6, 1.0);
    printf("%s: max |engine - double ref| = %.2e\n", what, maxd);
    tu_check(ok, what);
    free(got);
}

static void run_coords(int64_t n, int64_t f, float gscale) {
    char what[160];
    snprintf(what, sizeof what, "fourier_pe %lld coords F %lld |G| x%g%s", (long long)n,
             (long long)f, (double)gscale,
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t cs[2] = {n, 2}, gs[2] = {2, f};
    ve_graph *g = ve_graph_create(dev);
    ve_tid c = ve_tensor(g, VE_INPUT, "coords", 2, cs);
    ve_tid gt = ve_tensor(g, VE_PARAM, "G", 2, gs);
    ve_tid y = ve_fourier_pe(g, c, gt);
    tu_check(y != VE_NONE && ve_tensor_dim(g, y, 1) == 2 * f, what);
    ve_keep(g, y);
    tu_compile(g);
    float *cv = tu_rand(&rs, (size_t)(2 * n), 0, 1), *gv = gauss(f, gscale);
    cv[0] = 0; /* the ends of [0, 1] */
    if (n > 1) cv[3] = 1;
    tu_write(g, c, cv);
    tu_write(g, gt, gv);
    tu_run(g);
    float *want = malloc(sizeof(float) * (size_t)(2 * n * f));
    ref_fourier_pe_fwd(cv, gv, want, n, f);
    check(what, g, y, want, (size_t)(2 * n * f));
    free(cv);
    free(gv);
    free(want);
    ve_graph_destroy(g);
}

static void run_grid(int64_t h, int64_t w, int64_t f, float gscale) {
    char what[160];
    snprintf(what, sizeof what, "fourier_pe_grid %lld x %lld F %lld |G| x%g%s", (long long)h,
             (long long)w, (long long)f, (double)gscale,
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t gs[2] = {2, f};
    ve_graph *g = ve_graph_create(dev);
    ve_tid gt = ve_tensor(g, VE_PARAM, "G", 2, gs);
    ve_tid y = ve_fourier_pe_grid(g, gt, h, w);
    tu_check(y != VE_NONE && ve_tensor_ndim(g, y) == 3 && ve_tensor_dim(g, y, 0) == h &&
                 ve_tensor_dim(g, y, 2) == 2 * f,
             what);
    ve_keep(g, y);
    tu_compile(g);
    float *gv = gauss(f, gscale);
    tu_write(g, gt, gv);
    tu_run(g);
    size_t n = (size_t)(h * w * 2 * f);
    float *want = malloc(sizeof(float) * n);
    ref_fourier_pe_grid(gv, want, h, w, f);
    check(what, g, y, want, n);
    free(gv);
    free(want);
    ve_graph_destroy(g);
}

int main(void) {
    dev = tu_device();
    rs = tu_seed(23);
    {
        ve_graph *g = ve_graph_create(dev);
        int64_t cs[2] = {4, 2}, gs[2] = {2, 8}, bad[2] = {3, 8};
        ve_tid c = ve_tensor(g, VE_INPUT, "coords", 2, cs);
        ve_tid gt = ve_tensor(g, VE_PARAM, "G", 2, gs), gb = ve_tensor(g, VE_PARAM, "Gb", 2, bad);
        tu_check(ve_fourier_pe(g, c, gb) == VE_NONE && strstr(ve_error(), "fourier_pe"),
                 "fourier_pe refuses G not [2, F]");
        ve_set_requires_grad(g, c, 1);
        tu_check(ve_fourier_pe(g, c, gt) == VE_NONE && strstr(ve_error(), "forward only"),
                 "fourier_pe refuses inputs that need a gradient (forward only)");
        ve_graph_destroy(g);
    }
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        run_coords(1, 128, 1.0f);
        run_coords(37, 128, 1.0f);
        run_coords(500, 7, 3.0f);    /* |G| up to ~18: arguments up to ~200 */
        run_grid(32, 32, 128, 1.0f); /* SAMed's dense PE */
        run_grid(5, 3, 5, 2.0f);
        run_grid(1, 1, 1, 1.0f);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
