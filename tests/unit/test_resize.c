/* Bilinear resize (PyTorch align_corners=False, sizes given) forward and adjoint against
 * tests/ref/resize_ref.c: up and down, non-integer ratios, size-1 planes and outputs (clamped
 * borders), SAM's shapes (64 -> 32 pos_embed, 128 -> 512 logits), accumulation, both kernel
 * families; finite differences of the reference adjoint; the host-side 1-D row resize
 * (rel_pos tables) against the reference formula and against hand-computed values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Forward: 4 products with the reference's exact weights, fp32 against double: a few ulps. So
 * tight that a source index rounded to fp32 (instead of ATen's double) fails at large sizes.
 * The adjoint sums up to (2 / scale + 1)^2 terms. */
#define RTOL_Y 1e-6
#define RTOL 1e-5
#define FLOOR 1e-6

static ve_device *dev;
static uint64_t rs;

static void run_case(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, int twice) {
    char what[160];
    snprintf(what, sizeof what, "resize_bilinear %lld x [%lld,%lld] -> [%lld,%lld]%s%s",
             (long long)planes, (long long)h, (long long)w, (long long)oh, (long long)ow,
             twice ? " twice" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t xs[3] = {planes, h, w}, ys[3] = {planes, oh, ow};
    size_t nx = tu_numel(3, xs), ny = tu_numel(3, ys);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 3, xs);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_resize_bilinear(g, x, oh, ow);
    tu_check(y != VE_NONE, what);
    if (y == VE_NONE) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        ve_graph_destroy(g);
        return;
    }
    ve_keep(g, y);
    ve_tid top = twice ? ve_add(g, y, ve_resize_bilinear(g, x, oh, ow)) : y;
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 3, ys);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    tu_compile(g);
    float *xv = tu_rand(&rs, nx, -1, 1), *dyv = tu_rand(&rs, ny, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *ry = malloc(sizeof(float) * ny), *rdx = malloc(sizeof(float) * nx);
    ref_resize_bilinear_fwd(xv, ry, planes, h, w, oh, ow);
    ref_resize_bilinear_bwd(dyv, rdx, planes, h, w, oh, ow);
    if (twice)
        for (size_t i = 0; i < nx; i++)
            rdx[i] *= 2;
    char w2[240];
    float *got = tu_read(g, y);
    snprintf(w2, sizeof w2, "%s: y", what);
    tu_check(tu_close(w2, got, ry, ny, RTOL_Y, FLOOR), w2);
    free(got);
    got = tu_read(g, ve_grad(g, x));
    snprintf(w2, sizeof w2, "%s: dx", what);
    tu_check(tu_close(w2, got, rdx, nx, RTOL, FLOOR), w2);
    free(got);
    free(xv);
    free(dyv);
    free(ry);
    free(rdx);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t p, h, w, oh, ow;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *f = ctx;
    ref_resize_bilinear_fwd(in[0], out, f->p, f->h, f->w, f->oh, f->ow);
}

static void test_fd(void) {
    const fd_ctx cs[] = {{1, 3, 4, 7, 5}, {2, 5, 6, 2, 3}, {1, 1, 3, 4, 1}, {1, 4, 4, 8, 8}};
    for (int i = 0; i < 4; i++) {
        const fd_ctx *f = &cs[i];
        size_t nx = (size_t)(f->p * f->h * f->w), ny = (size_t)(f->p * f->oh * f->ow);
        float *x = tu_rand(&rs, nx, -1, 1), *r = tu_rand(&rs, ny, -1, 1);
        float *dx = malloc(sizeof(float) * nx);
        ref_resize_bilinear_bwd(r, dx, f->p, f->h, f->w, f->oh, f->ow);
        float *in[1] = {x}, *gr[1] = {dx};
        size_t sz[1] = {nx};
        tu_check(tu_fd_check("ref resize_bilinear backward", fd_fwd, (void *)f, 1, in, sz, ny, r,
                             gr, 1e-2, 1e-3, 0),
                 "fd check of ref_resize_bilinear_bwd");
        free(x);
        free(r);
        free(dx);
    }
}

/* The engine's host row resize against the reference, and the reference against values
 * computed by hand from SAM_SPEC.md's formula. */
static void test_rows_host(void) {
    /* 3 rows -> 5: scale 0.6; o = 0: s = -0.2 -> 0 (row 0); o = 1: s = 0.4 -> 0.6 r0 + 0.4 r1;
     * o = 2: s = 1.0 -> r1; o = 3: s = 1.6 -> 0.4 r1 + 0.6 r2; o = 4: s = 2.2 -> last row. */
    const float src[3] = {1, 2, 4};
    const float want[5] = {1, 1.4f, 2, 3.2f, 4};
    float got[5];
    ref_resize_rows_linear(src, 3, 1, got, 5);
    tu_check(tu_close("ref_resize_rows_linear 3 -> 5 by hand", got, want, 5, 1e-6, 1e-6),
             "ref row resize matches hand-computed values");
    /* 4 -> 2 is exactly the mean of row pairs (s = 0.5, 2.5). */
    const float src2[8] = {1, 10, 3, 30, 5, 50, 7, 70}, want2[4] = {2, 20, 6, 60};
    float got2[4];
    tu_check(ve_resize_rows_linear_host(src2, 4, 2, got2, 2) == VE_OK &&
                 tu_close("resize_rows_linear 4 -> 2", got2, want2, 4, 0, 0),
             "row resize 4 -> 2 is the pair mean");
    const int64_t cases[][3] = {{127, 64, 63}, {27, 64, 127}, {63, 16, 27},
                                {1, 5, 7},     {7, 3, 1},     {5, 1, 5}};
    for (int i = 0; i < 6; i++) {
        int64_t r = cases[i][0], c = cases[i][1], o = cases[i][2];
        float *s = tu_rand(&rs, (size_t)(r * c), -1, 1);
        float *a = malloc(sizeof(float) * (size_t)(o * c)),
              *b = malloc(sizeof(float) * (size_t)(o * c));
        char what[96];
        snprintf(what, sizeof what, "resize_rows_linear %lld x %lld -> %lld", (long long)r,
                 (long long)c, (long long)o);
        tu_check(ve_resize_rows_linear_host(s, r, c, a, o) == VE_OK, what);
        ref_resize_rows_linear(s, r, c, b, o);
        /* fp32 weights both; the engine sums two fp32 products in fp32: 1 ulp. */
        tu_check(tu_close(what, a, b, (size_t)(o * c), 2.4e-7, 1e-6), what);
        free(s);
        free(a);
        free(b);
    }
    tu_check(ve_resize_rows_linear_host(src, 0, 1, got, 5) == VE_FAIL,
             "resize_rows_linear refuses empty tables");
}

int main(void) {
    dev = tu_device();
    rs = tu_seed(11);
    test_fd();
    test_rows_host();
    {
        ve_graph *g = ve_graph_create(dev);
        int64_t xs[3] = {1, 1, 1};
        ve_tid x = ve_tensor(g, VE_INPUT, "x", 3, xs);
        tu_check(ve_resize_bilinear(g, x, 1000, 1000) == VE_NONE &&
                     strstr(ve_error(), "resize_bilinear"),
                 "resize_bilinear refuses up-scaling its backward cannot gather");
        ve_graph_destroy(g);
    }
    const int64_t cs[][6] = {
        {2, 5, 7, 11, 13, 0},       {1, 9, 8, 4, 3, 1},   {3, 1, 1, 3, 5, 0},
        {1, 6, 4, 1, 1, 0},         {1, 7, 7, 7, 7, 1},   {2, 64, 64, 32, 32, 0},
        {1, 13, 17, 31, 16, 0},     {1, 3, 5, 40, 23, 1}, {1, 127, 255, 63, 100, 0},
        {1, 100, 333, 300, 999, 0},
    };
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (int i = 0; i < 10; i++)
            run_case(cs[i][0], cs[i][1], cs[i][2], cs[i][3], cs[i][4], (int)cs[i][5]);
        if (cls == 0) run_case(3, 128, 128, 512, 512, 0); /* SAM's logits upsampling */
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
