/* LayerNorm: forward and backward (dx, dw, db) against tests/ref/layernorm_ref.c on awkward
 * shapes, with and without weight and bias, frozen or trainable, eps 1e-5 and 1e-6, offset inputs
 * (two-pass variance), fan-out (accumulating gradients), both kernel families; finite-difference
 * check of the reference backward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* dw and db are sums over up to a few hundred rows, dx has two row reductions inside. */
#define RTOL 2e-5
#define FLOOR 1e-6

typedef struct {
    int nd;
    int64_t shape[3];
    int has_w, has_b, w_grad, b_grad, fanout;
    float eps, offset, spread;
} ln_case;

static void run_case(ve_device *dev, const ln_case *c, uint64_t *seed) {
    int64_t rows = 1, cols = c->shape[c->nd - 1];
    for (int i = 0; i < c->nd - 1; i++)
        rows *= c->shape[i];
    char what[200];
    snprintf(what, sizeof what, "layernorm %lldx%lld w=%d%s b=%d%s eps=%g off=%g%s%s",
             (long long)rows, (long long)cols, c->has_w, c->w_grad ? "(grad)" : "", c->has_b,
             c->b_grad ? "(grad)" : "", (double)c->eps, (double)c->offset,
             c->fanout ? " fanout" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    const size_t n = (size_t)(rows * cols);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", c->nd, c->shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid w = c->has_w ? ve_tensor(g, VE_PARAM, "w", 1, &cols) : VE_NONE;
    ve_tid b = c->has_b ? ve_tensor(g, VE_PARAM, "b", 1, &cols) : VE_NONE;
    if (c->has_w) ve_set_requires_grad(g, w, c->w_grad);
    if (c->has_b) ve_set_requires_grad(g, b, c->b_grad);
    ve_tid y = ve_layernorm(g, x, w, b, c->eps);
    tu_check(y != VE_NONE, what);
    ve_keep(g, y);
    ve_tid top = c->fanout ? ve_add(g, y, ve_layernorm(g, x, w, b, c->eps)) : y;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", c->nd, c->shape);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    ve_tid gx = ve_grad(g, x), gw = ve_grad(g, w), gb = ve_grad(g, b);
    tu_check(gx != VE_NONE, "layernorm: x gets a gradient");
    tu_check((gw != VE_NONE) == (c->has_w && c->w_grad), "layernorm: dw only when needed");
    tu_check((gb != VE_NONE) == (c->has_b && c->b_grad), "layernorm: db only when needed");
    tu_compile(g);

    float *xv = tu_rand(seed, n, c->offset - c->spread, c->offset + c->spread);
    float *dyv = tu_rand(seed, n, -1, 1);
    float *wv = tu_rand(seed, (size_t)cols, 0.5f, 1.5f), *bv = tu_rand(seed, (size_t)cols, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    if (c->has_w) tu_write(g, w, wv);
    if (c->has_b) tu_write(g, b, bv);
    tu_run(g);

    float *want = malloc(sizeof(float) * n), *wdx = malloc(sizeof(float) * n);
    float *wdw = malloc(sizeof(float) * (size_t)cols), *wdb = malloc(sizeof(float) * (size_t)cols);
    const float *wp = c->has_w ? wv : NULL;
    ref_layernorm_fwd(xv, wp, c->has_b ? bv : NULL, want, NULL, NULL, rows, cols, c->eps);
    ref_layernorm_bwd(xv, wp, dyv, wdx, wdw, wdb, rows, cols, c->eps);
    /* Inputs far from zero: the float mean is known to ~1 ulp(offset), which is that much of
     * the row's standard deviation in every xhat, in PyTorch's fp32 result as in ours (the
     * reference is double). 4 ulp(offset) / std bounds it; a one-pass variance would be off by
     * orders of magnitude more. */
    const double std = c->spread / 1.7320508;
    const double rtol = RTOL + 4.0 * 1.2e-7 * (double)c->offset / std;
    const float k = c->fanout ? 2.0f : 1.0f;
    for (size_t i = 0; i < n; i++)
        wdx[i] *= k;
    for (int64_t i = 0; i < cols; i++) {
        wdw[i] *= k;
        wdb[i] *= k;
    }
    float *got = tu_read(g, y);
    char w2[240];
    snprintf(w2, sizeof w2, "%s: y", what);
    tu_check(tu_close(w2, got, want, n, rtol, FLOOR), w2);
    free(got);
    got = tu_read(g, gx);
    snprintf(w2, sizeof w2, "%s: dx", what);
    tu_check(tu_close(w2, got, wdx, n, rtol, FLOOR), w2);
    free(got);
    if (gw != VE_NONE) {
        got = tu_read(g, gw);
        snprintf(w2, sizeof w2, "%s: dw", what);
        tu_check(tu_close(w2, got, wdw, (size_t)cols, rtol, FLOOR), w2);
        free(got);
    }
    if (gb != VE_NONE) {
        got = tu_read(g, gb);
        snprintf(w2, sizeof w2, "%s: db", what);
        tu_check(tu_close(w2, got, wdb, (size_t)cols, rtol, FLOOR), w2);
        free(got);
    }
    free(xv);
    free(dyv);
    free(wv);
    free(bv);
    free(want);
    free(wdx);
    free(wdw);
    free(wdb);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t rows, cols;
    int has_w, has_b;
    float eps;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *c = ctx;
    ref_layernorm_fwd(in[0], c->has_w ? in[1] : NULL, c->has_b ? in[2] : NULL, out, NULL, NULL,
                      c->rows, c->cols, c->eps);
}

static void test_fd(uint64_t *seed) {
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {2, 8}, {4, 3}};
    for (int i = 0; i < 4; i++)
        for (int wb = 0; wb < 4; wb++) {
            fd_ctx c = {shapes[i][0], shapes[i][1], wb & 1, (wb >> 1) & 1, i % 2 ? 1e-6f : 1e-5f};
            size_t n = (size_t)(c.rows * c.cols), nc = (size_t)c.cols;
            float *x = tu_rand(seed, n, -1, 1), *w = tu_rand(seed, nc, 0.5f, 1.5f);
            float *b = tu_rand(seed, nc, -1, 1), *r = tu_rand(seed, n, -1, 1);
            float *dx = malloc(sizeof(float) * n), *dw = malloc(sizeof(float) * nc);
            float *db = malloc(sizeof(float) * nc);
            ref_layernorm_bwd(x, c.has_w ? w : NULL, r, dx, dw, db, c.rows, c.cols, c.eps);
            float *in[3] = {x, w, b}, *gr[3] = {dx, c.has_w ? dw : NULL, c.has_b ? db : NULL};
            size_t sz[3] = {n, nc, nc};
            tu_check(tu_fd_check("ref layernorm backward", fd_fwd, &c, 3, in, sz, n, r, gr, 1e-3,
                                 2e-3, 0),
                     "fd check of ref_layernorm_bwd");
            free(x);
            free(w);
            free(b);
            free(r);
            free(dx);
            free(dw);
            free(db);
        }
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", 4, 6);
    int64_t five = 5;
    ve_tid w = ve_tensor(g, VE_PARAM, "w", 1, &five);
    tu_check(ve_layernorm(g, x, w, VE_NONE, 1e-5f) == VE_NONE && strstr(ve_error(), "layernorm"),
             "layernorm refuses a weight of the wrong size, naming the op");
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(7);
    test_fd(&seed);
    test_errors(dev);
    const int64_t shapes[][3] = {{1, 1},     {1, 3},     {5, 5},     {7, 767},
                                 {3, 769},   {4, 3072},  {33, 768},  {300, 256},
                                 {2, 20001}, {1, 16384}, {3, 16383}, {9, 4}};
    int ns = (int)(sizeof shapes / sizeof shapes[0]);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (int i = 0; i < ns; i++) {
            ln_case c = {.nd = 2, .shape = {shapes[i][0], shapes[i][1]}};
            c.has_w = (i % 4) != 3;
            c.has_b = (i % 4) != 2 && (i % 4) != 3;
            c.w_grad = c.has_w && i % 5 != 1;
            c.b_grad = c.has_b && i % 5 != 4;
            c.fanout = i % 3 == 2;
            c.eps = i % 2 ? 1e-6f : 1e-5f;
            c.offset = i % 3 == 1 ? 3.0f : 0.0f;
            c.spread = 1.0f;
            run_case(dev, &c, &seed);
        }
        /* 3-D input, offset much larger than the spread (a one-pass variance would lose it),
         * and every w/b combination on one shape. */
        ln_case c3 = {.nd = 3,
                      .shape = {2, 5, 96},
                      .has_w = 1,
                      .has_b = 1,
                      .w_grad = 1,
                      .b_grad = 1,
                      .eps = 1e-6f,
                      .offset = 100.0f,
                      .spread = 0.5f};
        run_case(dev, &c3, &seed);
        for (int wb = 0; wb < 4; wb++) {
            ln_case c = {.nd = 2,
                         .shape = {300, 96},
                         .has_w = wb & 1,
                         .has_b = wb >> 1,
                         .eps = 1e-5f,
                         .spread = 2.0f};
            c.w_grad = c.has_w;
            c.b_grad = c.has_b;
            c.fanout = wb == 3;
            run_case(dev, &c, &seed);
        }
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
