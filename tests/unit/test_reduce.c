/* Reductions: column sums (ve_sum_cols_node, with and without accumulate; several row blocks),
 * row sums and means (rows longer than one segment: several passes), whole-tensor sums and
 * means, forward and backward (with fan-out, so the broadcast backward accumulates) against
 * tests/ref/reduce_ref.c, on both kernel families; finite-difference check of the reference
 * backward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

#define RTOL 1e-5
#define FLOOR 1e-6

static void test_sum_cols(ve_device *dev, int64_t rows, int64_t cols, int acc, uint64_t *seed) {
    char what[128];
    snprintf(what, sizeof what, "sum_cols %lldx%lld acc=%d", (long long)rows, (long long)cols, acc);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", rows, cols);
    ve_tid out = ve_tensor(g, VE_STATE, "out", 1, &cols);
    tu_check(ve_sum_cols_node(g, x, out, acc) == VE_OK, what);
    tu_compile(g);
    float *xv = tu_rand(seed, (size_t)(rows * cols), -1, 1);
    /* Without accumulate the previous contents (garbage here) must be overwritten. */
    float *init = tu_rand(seed, (size_t)cols, -2, 2);
    float *want = malloc(sizeof(float) * (size_t)cols);
    tu_write(g, x, xv);
    tu_write(g, out, init);
    tu_run(g);
    float *got = tu_read(g, out);
    ref_sum_cols_fwd(xv, want, rows, cols);
    for (int64_t c = 0; c < cols && acc; c++)
        want[c] += init[c];
    tu_check(tu_close(what, got, want, (size_t)cols, RTOL, FLOOR), what);
    free(xv);
    free(init);
    free(want);
    free(got);
    ve_graph_destroy(g);
}

/* sum_rows / mean_rows forward and backward. fanout: y = sum_rows(x) + mean_rows(x), so the
 * second backward kernel to write dx accumulates. */
static void test_rows(ve_device *dev, int ndim, const int64_t *shape, int mean, int fanout,
                      uint64_t *seed) {
    char what[160];
    int64_t cols = shape[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++)
        rows *= shape[i];
    snprintf(what, sizeof what, "%s %dd %lldx%lld%s", mean ? "mean_rows" : "sum_rows", ndim,
             (long long)rows, (long long)cols, fanout ? " fanout" : "");
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", ndim, shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = mean ? ve_mean_rows(g, x) : ve_sum_rows(g, x);
    tu_check(y != VE_NONE && ve_tensor_numel(g, y) == rows, what);
    tu_check(ve_tensor_ndim(g, y) == (ndim > 1 ? ndim - 1 : 1), "row reduction drops the last dim");
    ve_keep(g, y);
    ve_tid top = y;
    if (fanout) top = ve_add(g, ve_sum_rows(g, x), y);
    int64_t ny = rows;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &ny);
    int64_t yshape[VE_MAX_DIMS] = {1};
    for (int i = 0; i < ve_tensor_ndim(g, top); i++)
        yshape[i] = ve_tensor_dim(g, top, i);
    ve_tid dy_view = ve_reshape(g, dy, ve_tensor_ndim(g, top), yshape);
    if (ve_graph_backward_seed(g, top, dy_view) != VE_OK)
        fprintf(stderr, "%s: %s\n", what, ve_error());
    ve_tid gx = ve_grad(g, x);
    tu_compile(g);
    size_t n = (size_t)(rows * cols);
    float *xv = tu_rand(seed, n, -1, 1), *dyv = tu_rand(seed, (size_t)rows, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *yv = tu_read(g, y), *gxv = tu_read(g, gx);
    float *want = malloc(sizeof(float) * (size_t)rows), *wgx = malloc(sizeof(float) * n);
    double scale = mean ? 1.0 / (double)cols : 1.0;
    ref_sum_rows_fwd(xv, want, rows, cols, scale);
    tu_check(tu_close(what, yv, want, (size_t)rows, RTOL, FLOOR), what);
    ref_sum_rows_bwd(dyv, wgx, rows, cols, fanout ? 1.0 + scale : scale);
    tu_check(tu_close(what, gxv, wgx, n, RTOL, FLOOR), what);
    free(xv);
    free(dyv);
    free(yv);
    free(gxv);
    free(want);
    free(wgx);
    ve_graph_destroy(g);
}

/* ve_sum / ve_mean over n elements, forward and backward. */
static void test_all(ve_device *dev, int64_t n, int mean, int fanout, float lo, float hi,
                     uint64_t *seed) {
    char what[128];
    snprintf(what, sizeof what, "%s n=%lld [%g,%g)%s", mean ? "mean" : "sum", (long long)n,
             (double)lo, (double)hi, fanout ? " fanout" : "");
    ve_graph *g = ve_graph_create(dev);
    int64_t shape[2] = {n % 7 == 0 ? 7 : 1, n % 7 == 0 ? n / 7 : n};
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 2, shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = mean ? ve_mean(g, x) : ve_sum(g, x);
    tu_check(y != VE_NONE && ve_tensor_numel(g, y) == 1, what);
    ve_keep(g, y);
    ve_tid top = fanout ? ve_add(g, ve_sum(g, x), y) : y;
    int64_t one = 1;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 1, &one);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    ve_tid gx = ve_grad(g, x);
    tu_compile(g);
    float *xv = tu_rand(seed, (size_t)n, lo, hi), dyv = tu_uniform(seed, 0.5f, 2.0f);
    tu_write(g, x, xv);
    tu_write(g, dy, &dyv);
    tu_run(g);
    float *yv = tu_read(g, y), *gxv = tu_read(g, gx);
    float want;
    double scale = mean ? 1.0 / (double)n : 1.0;
    ref_sum_rows_fwd(xv, &want, 1, n, scale);
    tu_check(tu_close(what, yv, &want, 1, RTOL, FLOOR), what);
    float *wgx = malloc(sizeof(float) * (size_t)n);
    ref_sum_rows_bwd(&dyv, wgx, 1, n, fanout ? 1.0 + scale : scale);
    tu_check(tu_close(what, gxv, wgx, (size_t)n, RTOL, FLOOR), what);
    free(xv);
    free(yv);
    free(gxv);
    free(wgx);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t rows, cols;
    double scale;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *c = ctx;
    ref_sum_rows_fwd(in[0], out, c->rows, c->cols, c->scale);
}

static void test_fd(uint64_t *seed) {
    const int64_t shapes[][2] = {{1, 1}, {3, 5}, {4, 17}, {1, 33}};
    for (int i = 0; i < 4; i++)
        for (int mean = 0; mean < 2; mean++) {
            fd_ctx c = {shapes[i][0], shapes[i][1], mean ? 1.0 / (double)shapes[i][1] : 1.0};
            size_t n = (size_t)(c.rows * c.cols);
            float *x = tu_rand(seed, n, -1, 1), *r = tu_rand(seed, (size_t)c.rows, -1, 1);
            float *dx = malloc(sizeof(float) * n);
            ref_sum_rows_bwd(r, dx, c.rows, c.cols, c.scale);
            float *in[1] = {x}, *gr[1] = {dx};
            size_t sz[1] = {n};
            tu_check(tu_fd_check("ref sum_rows backward", fd_fwd, &c, 1, in, sz, (size_t)c.rows, r,
                                 gr, 1e-2, 1e-3, 0),
                     "fd check of ref_sum_rows_bwd");
            free(x);
            free(r);
            free(dx);
        }
}

static void test_errors(ve_device *dev) {
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor_2d(g, VE_INPUT, "x", 4, 6);
    int64_t five = 5;
    ve_tid out = ve_tensor(g, VE_STATE, "out", 1, &five);
    tu_check(ve_sum_cols_node(g, x, out, 0) == VE_FAIL && strstr(ve_error(), "sum_cols"),
             "sum_cols refuses a wrong output size, naming the op");
    ve_error_clear();
    tu_check(ve_sum(g, VE_NONE) == VE_NONE && strstr(ve_error(), "sum"), "sum of no tensor fails");
    ve_graph_destroy(g);
}

int main(void) {
    ve_device *dev = tu_device();
    uint64_t seed = tu_seed(42);
    test_fd(&seed);
    test_errors(dev);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        const int64_t sc[][2] = {{1, 1},      {1, 5},    {7, 3},     {256, 768}, {257, 767},
                                 {1000, 769}, {3, 3072}, {70000, 5}, {513, 64},  {99, 1}};
        for (int i = 0; i < 10; i++)
            test_sum_cols(dev, sc[i][0], sc[i][1], i % 2, &seed);
        test_sum_cols(dev, 600, 8, 1, &seed);
        test_sum_cols(dev, 600, 8, 0, &seed);
        const int64_t s1[] = {5}, s2a[] = {1, 1}, s2b[] = {7, 3}, s2c[] = {33, 767},
                      s2d[] = {9, 3072}, s3[] = {3, 5, 769}, s2e[] = {2, 70001}, s2f[] = {64, 256},
                      s2g[] = {1, 200001};
        const struct {
            int nd;
            const int64_t *s;
        } rs[] = {{1, s1}, {2, s2a}, {2, s2b}, {2, s2c}, {2, s2d},
                  {3, s3}, {2, s2e}, {2, s2f}, {2, s2g}};
        for (int i = 0; i < 9; i++)
            for (int mean = 0; mean < 2; mean++)
                test_rows(dev, rs[i].nd, rs[i].s, mean, (i + mean) % 3 == 0, &seed);
        const int64_t ns[] = {1, 3, 4, 1023, 1024, 1025, 4099, 786432, 3000001};
        for (int i = 0; i < 9; i++)
            for (int mean = 0; mean < 2; mean++)
                test_all(dev, ns[i], mean, (i + mean) % 3 == 1, mean ? 0.0f : -1.0f, 1.0f, &seed);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
