/* Patch embedding: ve_patchify (exact, both directions) and ve_patch_embed (Conv2d(C, D, p,
 * stride p) on a channels-first image -> channels-last tokens) against the direct reference,
 * forward and backward (dimage, dw, dbias), patch sizes 1-16 (vec4 and scalar paths), odd
 * channel counts, accumulation, both kernel families; finite differences of the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Sums of C*p*p = 768 products (forward, dimage) and B*T terms (dw, dbias). */
#define RTOL 3e-5
#define FLOOR 1e-6

static ve_device *dev;
static uint64_t rs;

static void compare(const char *what, const char *part, ve_graph *g, ve_tid t, const float *want,
                    size_t n, double rtol) {
    char w2[240];
    snprintf(w2, sizeof w2, "%s: %s", what, part);
    tu_check(t != VE_NONE, w2);
    if (t == VE_NONE) return;
    float *got = tu_read(g, t);
    tu_check(tu_close(w2, got, want, n, rtol, FLOOR), w2);
    free(got);
}

/* patchify alone, twice (dimage accumulates): exact. */
static void run_patchify(int64_t b, int64_t c, int64_t h, int64_t w, int p) {
    char what[160];
    snprintf(what, sizeof what, "patchify [%lld,%lld,%lld,%lld] p %d", (long long)b, (long long)c,
             (long long)h, (long long)w, p);
    int64_t is[4] = {b, c, h, w}, ps[4] = {b, h / p, w / p, c * p * p};
    size_t n = tu_numel(4, is);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "img", 4, is);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_patchify(g, x, p);
    tu_check(y != VE_NONE && ve_tensor_dim(g, y, 3) == c * p * p, what);
    ve_keep(g, y);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 4, ps);
    ve_tid top = ve_add(g, y, ve_patchify(g, x, p));
    tu_check(ve_graph_backward_seed(g, top, dy) == VE_OK, what);
    tu_compile(g);
    float *xv = tu_rand(&rs, n, -1, 1), *dyv = tu_rand(&rs, n, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *want = malloc(sizeof(float) * n), *wdx = malloc(sizeof(float) * n);
    for (int64_t i0 = 0; i0 < b; i0++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int64_t yy = 0; yy < h; yy++)
                for (int64_t xx = 0; xx < w; xx++) {
                    int64_t src = ((i0 * c + ci) * h + yy) * w + xx;
                    int64_t dst = (((i0 * (h / p) + yy / p) * (w / p) + xx / p) * c + ci) * p * p +
                                  (yy % p) * p + xx % p;
                    want[dst] = xv[src];
                    wdx[src] = 2 * dyv[dst];
                }
    compare(what, "y", g, y, want, n, 0);
    compare(what, "dimage", g, ve_grad(g, x), wdx, n, 0);
    free(xv);
    free(dyv);
    free(want);
    free(wdx);
    ve_graph_destroy(g);
}

static void run_embed(int64_t b, int64_t c, int64_t h, int64_t w, int64_t d, int p, int bias,
                      int img_grad) {
    char what[200];
    snprintf(what, sizeof what, "patch_embed [%lld,%lld,%lld,%lld] D %lld p %d%s%s%s", (long long)b,
             (long long)c, (long long)h, (long long)w, (long long)d, p, bias ? " bias" : "",
             img_grad ? " dimage" : "",
             ve_device_get_info(dev)->device_class == VE_CLASS_GPU ? " [gpu kernels]" : "");
    int64_t is[4] = {b, c, h, w}, ws[4] = {d, c, p, p}, ys[4] = {b, h / p, w / p, d};
    size_t ni = tu_numel(4, is), nw = tu_numel(4, ws), ny = tu_numel(4, ys);
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "img", 4, is);
    ve_tid wt = ve_tensor(g, VE_PARAM, "w", 4, ws);
    ve_tid bt = bias ? ve_tensor(g, VE_PARAM, "bias", 1, &d) : VE_NONE;
    ve_set_requires_grad(g, x, img_grad);
    ve_set_requires_grad(g, wt, 1);
    if (bias) ve_set_requires_grad(g, bt, 1);
    ve_tid y = ve_patch_embed(g, x, wt, bt);
    tu_check(y != VE_NONE, what);
    if (y == VE_NONE) {
        fprintf(stderr, "%s: %s\n", what, ve_error());
        ve_graph_destroy(g);
        return;
    }
    tu_check(ve_tensor_ndim(g, y) == 4 && ve_tensor_dim(g, y, 1) == h / p &&
                 ve_tensor_dim(g, y, 3) == d,
             "patch_embed: tokens [B, H/p, W/p, D]");
    ve_keep(g, y);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", 4, ys);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, what);
    tu_check((ve_grad(g, x) != VE_NONE) == img_grad, "patch_embed: dimage only when needed");
    tu_compile(g);
    float *xv = tu_rand(&rs, ni, 0, 1), *wv = tu_rand(&rs, nw, -0.1f, 0.1f);
    float *bv = tu_rand(&rs, (size_t)d, -1, 1), *dyv = tu_rand(&rs, ny, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, wt, wv);
    if (bias) tu_write(g, bt, bv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *ry = malloc(sizeof(float) * ny), *rdi = malloc(sizeof(float) * ni);
    float *rdw = malloc(sizeof(float) * nw), *rdb = malloc(sizeof(float) * (size_t)d);
    ref_patch_embed_fwd(xv, wv, bias ? bv : NULL, ry, b, c, h, w, d, p);
    ref_patch_embed_bwd(xv, wv, dyv, rdi, rdw, rdb, b, c, h, w, d, p);
    compare(what, "y", g, y, ry, ny, RTOL);
    compare(what, "dw", g, ve_grad(g, wt), rdw, nw, RTOL);
    if (bias) compare(what, "dbias", g, ve_grad(g, bt), rdb, (size_t)d, RTOL);
    if (img_grad) compare(what, "dimage", g, ve_grad(g, x), rdi, ni, RTOL);
    free(xv);
    free(wv);
    free(bv);
    free(dyv);
    free(ry);
    free(rdi);
    free(rdw);
    free(rdb);
    ve_graph_destroy(g);
}

typedef struct {
    int64_t b, c, h, w, d, p;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    const fd_ctx *f = ctx;
    ref_patch_embed_fwd(in[0], in[1], in[2], out, f->b, f->c, f->h, f->w, f->d, f->p);
}

static void test_fd(void) {
    const fd_ctx cs[] = {{1, 3, 4, 6, 2, 2}, {2, 1, 3, 3, 3, 3}, {1, 2, 2, 2, 1, 1}};
    for (int i = 0; i < 3; i++) {
        const fd_ctx *f = &cs[i];
        size_t ni = (size_t)(f->b * f->c * f->h * f->w), nw = (size_t)(f->d * f->c * f->p * f->p);
        size_t ny = (size_t)(f->b * (f->h / f->p) * (f->w / f->p) * f->d), nb = (size_t)f->d;
        float *x = tu_rand(&rs, ni, -1, 1), *w = tu_rand(&rs, nw, -1, 1);
        float *b = tu_rand(&rs, nb, -1, 1), *r = tu_rand(&rs, ny, -1, 1);
        float *dx = malloc(sizeof(float) * ni), *dw = malloc(sizeof(float) * nw);
        float *db = malloc(sizeof(float) * nb);
        ref_patch_embed_bwd(x, w, r, dx, dw, db, f->b, f->c, f->h, f->w, f->d, f->p);
        float *in[3] = {x, w, b}, *gr[3] = {dx, dw, db};
        size_t sz[3] = {ni, nw, nb};
        tu_check(tu_fd_check("ref patch_embed backward", fd_fwd, (void *)f, 3, in, sz, ny, r, gr,
                             1e-2, 1e-3, 0),
                 "fd check of ref_patch_embed_bwd");
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
    int64_t is[4] = {1, 3, 30, 32}, ws[4] = {8, 3, 16, 16};
    ve_tid x = ve_tensor(g, VE_INPUT, "img", 4, is), w = ve_tensor(g, VE_PARAM, "w", 4, ws);
    tu_check(ve_patch_embed(g, x, w, VE_NONE) == VE_NONE && strstr(ve_error(), "patchify"),
             "patch_embed refuses an image not a multiple of the patch size");
    ve_graph_destroy(g);
}

int main(void) {
    dev = tu_device();
    rs = tu_seed(17);
    test_fd();
    test_errors();
    run_patchify(1, 3, 32, 48, 16);
    run_patchify(2, 1, 6, 9, 3);
    run_patchify(1, 2, 5, 7, 1);
    run_patchify(3, 5, 8, 4, 4);
    for (int cls = 0; cls < 2; cls++) {
        ve_device_set_class(dev, cls ? VE_CLASS_GPU : VE_CLASS_CPU);
        run_embed(1, 3, 32, 48, 64, 16, 1, 1); /* SAM's patch, K = 768 */
        run_embed(2, 3, 16, 16, 33, 16, 1, 0);
        run_embed(1, 1, 5, 5, 1, 1, 0, 1);
        run_embed(2, 3, 9, 6, 7, 3, 1, 1);
        run_embed(1, 5, 8, 12, 4, 4, 0, 0);
    }
    ve_device_set_class(dev, VE_CLASS_CPU);
    tu_device_done(dev);
    return tu_exit();
}
