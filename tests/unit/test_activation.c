/* GELU (exact, erf-based) and ReLU: forward and backward against the plain-C references on
 * random shapes, per-element relative accuracy of GELU over [-10, 10] (both tails), gradient
 * accumulation when x feeds two activations, and finite-difference checks of the references. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* GELU's erf is a fitted polynomial times exp (shaders/erf.glsl): about 3e-7 relative, so 1e-6
 * against the double reference; its derivative adds x * pdf(x) with a little cancellation near
 * the minimum of GELU, 2e-6 (of the largest value). ReLU is exact. */
#define RTOL_GELU 1e-6
#define RTOL_DGELU 2e-6
#define FLOOR 1e-6

typedef enum { ACT_GELU, ACT_RELU } act_kind;
static const char *act_name[] = {"gelu", "relu"};

static ve_device *dev;
static uint64_t rs;

/* ReLU inputs stay at least 0.05 away from the kink (and finite differences with h = 1e-2
 * never cross it). */
static float *act_input(act_kind k, size_t n, float lo, float hi) {
    float *x = tu_rand(&rs, n, lo, hi);
    for (size_t i = 0; k == ACT_RELU && i < n; i++)
        if (fabsf(x[i]) < 0.05f) x[i] = x[i] < 0 ? -0.05f - x[i] : 0.05f + x[i];
    return x;
}

static void ref_fwd(act_kind k, const float *x, float *y, size_t n) {
    if (k == ACT_GELU)
        ref_gelu_fwd(x, y, n);
    else
        ref_relu_fwd(x, y, n);
}

static void ref_bwd(act_kind k, const float *x, const float *dy, float *dx, size_t n) {
    if (k == ACT_GELU)
        ref_gelu_bwd(x, dy, dx, n);
    else
        ref_relu_bwd(x, dy, dx, n);
}

static ve_tid act(ve_graph *g, act_kind k, ve_tid x) {
    return k == ACT_GELU ? ve_gelu(g, x) : ve_relu(g, x);
}

/* y = act(x) (twice: y = act(x) + act(x) when twice, so dx accumulates), seeded backward. */
static void run_case(act_kind k, int nd, const int64_t *shape, float lo, float hi, int twice) {
    char what[160];
    int len = snprintf(what, sizeof what, "%s [", act_name[k]);
    for (int i = 0; i < nd; i++)
        len += snprintf(what + len, sizeof what - (size_t)len, i ? ",%lld" : "%lld",
                        (long long)shape[i]);
    snprintf(what + len, sizeof what - (size_t)len, "] in [%g, %g)%s", lo, hi,
             twice ? " twice" : "");
    size_t n = tu_numel(nd, shape);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", nd, shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = act(g, k, x);
    if (twice) y = ve_add(g, y, act(g, k, x));
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", nd, shape);
    tu_check(y != VE_NONE && ve_graph_backward_seed(g, y, dy) == VE_OK, what);
    ve_keep(g, y);
    tu_compile(g);
    float *xv = act_input(k, n, lo, hi), *dyv = tu_rand(&rs, n, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);

    float *want = malloc(sizeof(float) * n), *wdx = malloc(sizeof(float) * n);
    ref_fwd(k, xv, want, n);
    ref_bwd(k, xv, dyv, wdx, n);
    for (size_t i = 0; twice && i < n; i++) {
        want[i] *= 2; /* exact in float */
        wdx[i] *= 2;
    }
    char w2[200];
    float *got = tu_read(g, y);
    snprintf(w2, sizeof w2, "%s forward", what);
    tu_check(tu_close(w2, got, want, n, k == ACT_GELU ? RTOL_GELU : 0, FLOOR), w2);
    free(got);
    got = tu_read(g, ve_grad(g, x));
    snprintf(w2, sizeof w2, "%s grad x", what);
    tu_check(tu_close(w2, got, wdx, n, k == ACT_GELU ? RTOL_DGELU : 0, FLOOR), w2);
    free(got);
    free(xv), free(dyv), free(want), free(wdx);
    ve_graph_destroy(g);
}

/* GELU on a fine grid of [-10, 10]: every element within 1e-6 of the reference relative to
 * itself (GELU(-10) is -7.6e-23: the negative tail must not cancel to 0). The derivative is
 * checked relative to max(|value|, 0.1): it crosses 0 at x = -0.7518, where Phi(x) and x pdf(x)
 * cancel. */
static void test_gelu_grid(void) {
    const int64_t n = 200001;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_gelu(g, x);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &n);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, "gelu grid backward");
    ve_keep(g, y);
    tu_compile(g);
    float *xv = malloc(sizeof(float) * n), *ones = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) {
        xv[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
        ones[i] = 1.0f;
    }
    tu_write(g, x, xv);
    tu_write(g, dy, ones);
    tu_run(g);
    float *got = tu_read(g, y), *gdx = tu_read(g, ve_grad(g, x));
    double worst = 0, worst_d = 0;
    int64_t wi = 0, wdi = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = xv[i], want = v * 0.5 * erfc(-v / sqrt(2.0));
        double e = fabs(got[i] - want) / fabs(want);
        if (want != 0 && e > worst) worst = e, wi = i;
        double d = 0.5 * erfc(-v / sqrt(2.0)) + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
        double ed = fabs(gdx[i] - d) / fmax(fabs(d), 0.1);
        if (ed > worst_d) worst_d = ed, wdi = i;
    }
    printf("gelu grid: worst relative error %.3g at x = %.6g, derivative %.3g at x = %.6g\n", worst,
           xv[wi], worst_d, xv[wdi]);
    tu_check(worst <= 1e-6, "gelu: per-element relative error <= 1e-6 on [-10, 10]");
    tu_check(worst_d <= 2e-6, "gelu': per-element error <= 2e-6 of max(|value|, 0.1)");
    free(xv), free(ones), free(got), free(gdx);
    ve_graph_destroy(g);
}

/* Far outside [-10, 10]: GELU(x) is x or -0, never NaN (x * x overflows fp32 at 1.9e19). */
static void test_gelu_extremes(void) {
    static const float xv[8] = {-1e30f, -1e4f, -20.0f, -14.5f, 14.5f, 20.0f, 1e4f, 1e30f};
    const int64_t n = 8;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 1, &n), y = ve_gelu(g, x);
    ve_keep(g, y);
    tu_compile(g);
    tu_write(g, x, xv);
    tu_run(g);
    float *got = tu_read(g, y), want[8];
    ref_gelu_fwd(xv, want, 8);
    int ok = 1;
    for (int i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-6f * fabsf(want[i]) + 1e-37f)) {
            fprintf(stderr, "FAIL gelu(%g) = %g, want %g\n", xv[i], got[i], want[i]);
            ok = 0;
        }
    tu_check(ok, "gelu at extreme inputs");
    free(got);
    ve_graph_destroy(g);
}

typedef struct {
    act_kind k;
    size_t n;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    fd_ctx *c = ctx;
    ref_fwd(c->k, in[0], out, c->n);
}

static void fd_case(act_kind k, float lo, float hi) {
    fd_ctx c = {k, 64};
    float *x = act_input(k, c.n, lo, hi), *r = tu_rand(&rs, c.n, -1, 1);
    float *gx = malloc(sizeof(float) * c.n);
    ref_bwd(k, x, r, gx, c.n);
    float *in[1] = {x}, *grads[1] = {gx};
    char what[64];
    snprintf(what, sizeof what, "fd %s [%g, %g)", act_name[k], lo, hi);
    tu_check(tu_fd_check(what, fd_fwd, &c, 1, in, &c.n, c.n, r, grads, 1e-2, 1e-3, 0), what);
    free(x), free(r), free(gx);
}

static void run_all(void) {
    rs = tu_seed(7);
    fd_case(ACT_GELU, -4, 4);
    fd_case(ACT_GELU, -10, 10);
    fd_case(ACT_RELU, -2, 2);

    static const int64_t fixed[][4] = {{1}, {2}, {3}, {4}, {5}, {1, 1, 1, 1}, {5, 1, 3}, {7, 2049}};
    static const int fixed_nd[] = {1, 1, 1, 1, 1, 4, 3, 2};
    for (size_t f = 0; f < sizeof fixed_nd / sizeof *fixed_nd; f++)
        for (int k = ACT_GELU; k <= ACT_RELU; k++)
            run_case(k, fixed_nd[f], fixed[f], -4, 4, 0);
    for (int i = 0; i < 12; i++) {
        int64_t shape[4];
        int nd = tu_rand_shape(&rs, shape, 300000);
        for (int k = ACT_GELU; k <= ACT_RELU; k++)
            run_case(k, nd, shape, i % 3 ? -4 : -10, i % 3 ? 4 : 10, i % 4 == 3);
    }
    int64_t big[2] = {1024, 768}, s2[2] = {33, 17};
    run_case(ACT_GELU, 2, big, -5, 5, 0);
    run_case(ACT_RELU, 2, big, -5, 5, 0);
    run_case(ACT_GELU, 2, s2, -5, 5, 1);
    run_case(ACT_RELU, 2, s2, -5, 5, 1);
    test_gelu_grid();
    test_gelu_extremes();

    ve_graph *g = ve_graph_create(dev);
    tu_check(ve_gelu(g, 99) == VE_NONE && strstr(ve_error(), "gelu"), "gelu refuses bad tensor");
    tu_check(ve_relu(g, VE_NONE) == VE_NONE && strstr(ve_error(), "relu"),
             "relu refuses a missing tensor");
    ve_graph_destroy(g);
}

/* Both kernel families run on lavapipe: the CPU one (workgroups of 8, long loops per lane) and
 * the GPU one (workgroups of 64, little work per lane). */
int main(void) {
    dev = tu_device();
    run_all();
    ve_device_set_class(dev, VE_CLASS_GPU);
    run_all();
    tu_device_done(dev);
    return tu_exit();
}
