/* Softmax over the last dim: forward and backward against tests/ref/softmax_ref.c on awkward
 * shapes, large and offset logits (max subtraction), fan-out (accumulating dx), both kernel
 * families; finite-difference check of the reference backward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

#define RTOL 1e-5
#define FLOOR 1e-6

static void run_case(ve_device *dev, int nd, const int64_t *shape, float lo, float hi, int fanout,
                     uint64_t *seed) {
    int64_t rows = 1, cols = shape[nd - 1];
    for (int i = 0; i < nd - 1; i++)
        rows *= shape[i];
    char what[200];
    snprintf(what, sizeof what, "softmax %lldx%lld [%g,%g)%s%s", (long long)rows, (long long)cols,
             (double)lo, (double)hi, fanout ? " fanout" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    const size_t n = (size_t)(rows * cols);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", nd, shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_softmax(g, x);
    tu_check(y != VE_NONE, what);
    ve_keep(g, y);
    ve_tid top = fanout ? ve_add(g, ve_softmax(g, x), y) : y;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", nd, shape);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    ve_tid gx = ve_grad(g, x);
    tu_compile(g);
    float *xv = tu_rand(seed, n, lo, hi), *dyv = tu_rand(seed, n, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *want = malloc(sizeof(float) * n), *wdx = malloc(sizeof(float) * n);
    ref_softmax_fwd(xv, want, rows, cols);
    /* The reference backward from the reference y: the engine's y differs by rounding only. */
    ref_softmax_bwd(want, dyv, wdx, rows, cols);
    for (size_t i = 0; i < n && fanout; i++)
        wdx[i] *= 2.0f;
    float *got = tu_read(g, y);
    char w2[240];
    snprintf(w2, sizeof w2, "%s: y", what);
    tu_check(tu_close(w2, got, want, n, RTOL, FLOOR), w2);
    free(got);
    got = tu_read(g, gx);
    snprintf(w2, sizeof w2, "%s: dx", what);
    /* dx = y * (dy - sum(dy * y)) cancels when y is nearly one-hot: its rounding error scales
     * with |dy| (up to 1 here), not with |dx|, hence the floor. */
    tu_check(tu_close(w2, got, wdx, n, RTOL, 1e-2), w2);
    free(got);
    free(xv);
    free(dyv);
    free(want);
    free(wdx);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t rows, cols;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *c = ctx;
    ref_softmax_fwd(in[0], out, c->rows, c->cols);
}

static void test_fd(uint64_t *seed) {
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {2, 8}, {4, 3}, {1, 40}};
    for (int i = 0; i < 5; i++) {
        fd_ctx c = {shapes[i][0], shapes[i][1]};
        size_t n = (size_t)(c.rows * c.cols);
        float *x = tu_rand(seed, n, -3, 3), *r = tu_rand(seed, n, -1, 1);
        float *y = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n);
        ref_softmax_fwd(x, y, c.rows, c.cols);
        ref_softmax_bwd(y, r, dx, c.rows, c.cols);
        float *in[1] = {x}, *gr[1] = {dx};
        size_t sz[1] = {n};
        tu_check(
            tu_fd_check("ref softmax backward", fd_fwd, &c, 1, in, sz, n, r, gr, 1e-3, 2e-3, 0),
            "fd check of ref_softmax_bwd");
        free(x);
        free(r);
        free(y);
        free(dx);
    }
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(11);
    test_fd(&seed);
    const int64_t shapes[][2] = {{1, 1},     {1, 3},     {5, 5},     {7, 767},
                                 {3, 769},   {4, 3072},  {33, 196},  {300, 256},
                                 {2, 20001}, {1, 16384}, {3, 16383}, {9, 4}};
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (int i = 0; i < ns; i++) {
            /* Logit ranges: ordinary, wide (exp underflows for most entries), and offset by 1000
             * (exp overflows without the max subtraction). */
            float lo = i % 3 == 0 ? -4.0f : i % 3 == 1 ? -40.0f : 995.0f;
            run_case(dev, 2, shapes[i], lo, lo + (i % 3 == 1 ? 80.0f : 8.0f), i % 4 == 1, &seed);
        }
        const int64_t s3[3] = {2, 3, 64};
        run_case(dev, 3, s3, -2.0f, 2.0f, 1, &seed);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
