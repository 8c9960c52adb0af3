/* Convolutions on channels-last maps: ve_conv2d (k x k with stride and padding via im2col, 1x1
 * via linear) and ve_conv_transpose2d (kernel = stride) against the direct references in
 * tests/ref/conv_ref.c, forward and backward (dx, dw, dbias), awkward shapes (size 1, odd,
 * channels not multiples of 4), SAM's neck and upscaling shapes, accumulation (x used twice),
 * both kernel families; finite differences of the references; refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Sums of up to k*k*Cin = 2304 products (forward, dx) and B*OH*OW terms (dw, dbias). */
#define RTOL 3e-5
#define FLOOR 1e-6

static ve_device *dev;
static uint64_t rs;

typedef struct {
    int64_t b, h, w, cin, cout, k, stride, pad;
    int bias, twice;
} conv_case;

static void compare(const char *what, const char *part, ve_graph *g, ve_tid t, const float *want,
                    size_t n) {
    char w2[240];
    snprintf(w2, sizeof w2, "%s: %s", what, part);
    tu_check(t != VE_NONE, w2);
    if (t == VE_NONE) return;
    float *got = tu_read(g, t);
    tu_check(tu_close(w2, got, want, n, RTOL, FLOOR), w2);
    free(got);
}

static void scale(float *v, size_t n, float s) {
    for (size_t i = 0; i < n; i++)
        v[i] *= s;
}

/* transpose = 0: conv2d; 1: conv_transpose2d (k = stride, pad 0). */
static void run_case(const conv_case *c, int transpose) {
    char what[200];
    snprintf(what, sizeof what, "%s x[%lld,%lld,%lld,%lld] cout %lld k %lld s %lld p %lld%s%s%s",
             transpose ? "conv_transpose2d" : "conv2d", (long long)c->b, (long long)c->h,
             (long long)c->w, (long long)c->cin, (long long)c->cout, (long long)c->k,
             (long long)c->stride, (long long)c->pad, c->bias ? " bias" : "",
             c->twice ? " twice" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t oh, ow;
    if (transpose) {
        oh = c->k * c->h;
        ow = c->k * c->w;
    } else {
        oh = (c->h + 2 * c->pad - c->k) / c->stride + 1;
        ow = (c->w + 2 * c->pad - c->k) / c->stride + 1;
    }
    int64_t xs[4] = {c->b, c->h, c->w, c->cin};
    int64_t ws[4] = {transpose ? c->cin : c->cout, transpose ? c->cout : c->cin, c->k, c->k};
    int64_t ys[4] = {c->b, oh, ow, c->cout};
    size_t nx = tu_numel(4, xs), nw = tu_numel(4, ws), ny = tu_numel(4, ys), nb = (size_t)c->cout;
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 4, xs);
    ve_tid w = ve_tensor(g, VE_PARAM, "w", 4, ws);
    ve_tid bias = c->bias ? ve_tensor(g, VE_PARAM, "bias", 1, &c->cout) : VE_NONE;
    ve_set_requires_grad(g, x, 1);
    ve_set_requires_grad(g, w, 1);
    if (c->bias) ve_set_requires_grad(g, bias, 1);
    ve_tid y = transpose ? ve_conv_transpose2d(g, x, w, bias)
                         : ve_conv2d(g, x, w, bias, (int)c->stride, (int)c->pad);
    tu_check(y != VE_NONE, what);
    if (y == VE_NONE) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        ve_graph_destroy(g);
        return;
    }
    tu_check(ve_tensor_numel(g, y) == (int64_t)ny && ve_tensor_dim(g, y, 1) == oh &&
                 ve_tensor_dim(g, y, 3) == c->cout,
             "conv: output shape");
    ve_keep(g, y);
    ve_tid top = y;
    if (c->twice) {
        ve_tid y2 = transpose ? ve_conv_transpose2d(g, x, w, bias)
                              : ve_conv2d(g, x, w, bias, (int)c->stride, (int)c->pad);
        top = ve_add(g, y, y2);
    }
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 4, ys);
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    tu_compile(g);
    float *xv = tu_rand(&rs, nx, -1, 1), *wv = tu_rand(&rs, nw, -1, 1);
    float *bv = tu_rand(&rs, nb, -1, 1), *dyv = tu_rand(&rs, ny, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, w, wv);
    if (c->bias) tu_write(g, bias, bv);
    tu_write(g, dy, dyv);
    tu_run(g);

    float *ry = malloc(sizeof(float) * ny), *rdx = malloc(sizeof(float) * nx);
    float *rdw = malloc(sizeof(float) * nw), *rdb = malloc(sizeof(float) * nb);
    const float *bp = c->bias ? bv : NULL;
    if (transpose) {
        ref_conv_transpose2d_fwd(xv, wv, bp, ry, c->b, c->h, c->w, c->cin, c->cout, c->k);
        ref_conv_transpose2d_bwd(xv, wv, dyv, rdx, rdw, rdb, c->b, c->h, c->w, c->cin, c->cout,
                                 c->k);
    } else {
        ref_conv2d_fwd(xv, wv, bp, ry, c->b, c->h, c->w, c->cin, c->cout, c->k, c->stride, c->pad);
        ref_conv2d_bwd(xv, wv, dyv, rdx, rdw, rdb, c->b, c->h, c->w, c->cin, c->cout, c->k,
                       c->stride, c->pad);
    }
    if (c->twice) {
        scale(rdx, nx, 2);
        scale(rdw, nw, 2);
        scale(rdb, nb, 2);
    }
    compare(what, "y", g, y, ry, ny);
    compare(what, "dx", g, ve_grad(g, x), rdx, nx);
    compare(what, "dw", g, ve_grad(g, w), rdw, nw);
    if (c->bias) compare(what, "dbias", g, ve_grad(g, bias), rdb, nb);
    free(xv);
    free(wv);
    free(bv);
    free(dyv);
    free(ry);
    free(rdx);
    free(rdw);
    free(rdb);
    ve_graph_destroy(g);
}

/* ---- finite differences of the references ---- */

typedef struct {
    conv_case c;
    int transpose;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *f = ctx;
    const conv_case *c = &f->c;
    if (f->transpose)
        ref_conv_transpose2d_fwd(in[0], in[1], in[2], out, c->b, c->h, c->w, c->cin, c->cout, c->k);
    else
        ref_conv2d_fwd(in[0], in[1], in[2], out, c->b, c->h, c->w, c->cin, c->cout, c->k, c->stride,
                       c->pad);
}

static void test_fd(void) {
    const conv_case cs[] = {{1, 4, 3, 2, 3, 3, 1, 1, 1, 0},
                            {2, 5, 5, 3, 2, 3, 2, 1, 1, 0},
                            {1, 4, 6, 2, 2, 2, 2, 0, 1, 0}};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 3; i++) {
            fd_ctx f = {cs[i], t};
            if (t) f.c.k = 2;
            const conv_case *c = &f.c;
            size_t nx = (size_t)(c->b * c->h * c->w * c->cin);
            size_t nw = (size_t)(c->cin * c->cout * c->k * c->k), nb = (size_t)c->cout;
            int64_t oh = t ? 2 * c->h : (c->h + 2 * c->pad - c->k) / c->stride + 1;
            int64_t ow = t ? 2 * c->w : (c->w + 2 * c->pad - c->k) / c->stride + 1;
            size_t ny = (size_t)(c->b * oh * ow * c->cout);
            float *x = tu_rand(&rs, nx, -1, 1), *w = tu_rand(&rs, nw, -1, 1);
            float *b = tu_rand(&rs, nb, -1, 1), *r = tu_rand(&rs, ny, -1, 1);
            float *dx = malloc(sizeof(float) * nx), *dw = malloc(sizeof(float) * nw);
            float *db = malloc(sizeof(float) * nb);
            if (t)
                ref_conv_transpose2d_bwd(x, w, r, dx, dw, db, c->b, c->h, c->w, c->cin, c->cout,
                                         c->k);
            else
                ref_conv2d_bwd(x, w, r, dx, dw, db, c->b, c->h, c->w, c->cin, c->cout, c->k,
                               c->stride, c->pad);
            float *in[3] = {x, w, b}, *gr[3] = {dx, dw, db};
            size_t sz[3] = {nx, nw, nb};
            tu_check(tu_fd_check(t ? "ref conv_transpose2d backward" : "ref conv2d backward",
                                 fd_fwd, &f, 3, in, sz, ny, r, gr, 1e-2, 1e-3, 0),
                     "fd check of the conv references");
            free(x);
            free(w);
            free(b);
            free(r);
            free(dx);
            free(dw);
            free(db);
        }
}

static void test_errors(void) {
    ve_graph *g = ve_graph_create(dev);
    int64_t xs[4] = {1, 4, 4, 8}, ws[4] = {5, 7, 3, 3}, small[4] = {1, 2, 2, 8};
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 4, xs), w = ve_tensor(g, VE_PARAM, "w", 4, ws);
    tu_check(ve_conv2d(g, x, w, VE_NONE, 1, 1) == VE_NONE && strstr(ve_error(), "conv2d"),
             "conv2d refuses a weight whose Cin differs, naming the op");
    ve_tid xs2 = ve_tensor(g, VE_INPUT, "xs", 4, small);
    tu_check(ve_im2col(g, xs2, 5, 1, 1) == VE_NONE && strstr(ve_error(), "im2col"),
             "im2col refuses a map smaller than the kernel");
    tu_check(ve_conv_transpose2d(g, x, w, VE_NONE) == VE_NONE &&
                 strstr(ve_error(), "conv_transpose2d"),
             "conv_transpose2d refuses a weight whose Cin differs");
    ve_graph_destroy(g);
}

int main(void) {
    dev = tu_device();
    rs = tu_seed(31);
    test_fd();
    test_errors();
    /* b, h, w, cin, cout, k, stride, pad, bias, twice */
    const conv_case convs[] = {
        {1, 5, 7, 3, 5, 3, 1, 1, 0, 0},       {2, 4, 4, 8, 4, 3, 1, 1, 0, 1},
        {1, 1, 1, 1, 1, 3, 1, 1, 0, 0},       {1, 6, 5, 4, 16, 2, 2, 0, 1, 0},
        {2, 5, 3, 5, 3, 1, 1, 0, 1, 1},       {1, 9, 9, 13, 7, 3, 2, 1, 1, 0},
        {1, 8, 12, 1, 4, 2, 2, 0, 1, 0},      {3, 7, 1, 6, 2, 1, 1, 0, 0, 0},
        {1, 3, 4, 5, 2, 3, 1, 2, 0, 0},       {1, 10, 10, 64, 256, 1, 1, 0, 0, 0},
        {1, 12, 12, 256, 256, 3, 1, 1, 0, 0},
    };
    const conv_case tconvs[] = {
        {1, 3, 5, 7, 5, 2, 0, 0, 1, 0},    {2, 4, 4, 8, 4, 2, 0, 0, 1, 1},
        {1, 1, 1, 1, 1, 2, 0, 0, 0, 0},    {1, 3, 2, 5, 3, 3, 0, 0, 1, 0},
        {1, 8, 8, 256, 64, 2, 0, 0, 1, 0}, {2, 6, 6, 64, 32, 2, 0, 0, 1, 0},
    };
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++)
            if (cls == 0 || convs[i].cin < 256) run_case(&convs[i], 0);
        for (size_t i = 0; i < sizeof tconvs / sizeof tconvs[0]; i++)
            if (cls == 0 || tconvs[i].cin < 256) run_case(&tconvs[i], 1);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
