/* permute: forward and backward against the plain-C reference for every permutation of 1-4
 * dims on random shapes (size-1 dims, odd sizes, last dim kept or moved, vec4 and scalar
 * paths), gradient accumulation when x is permuted twice, finite differences of the reference,
 * and bad permutations. A permute moves values exactly: the comparisons are exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

static ve_device *dev;
static uint64_t rs;

static void rand_perm(int nd, int *perm) {
    for (int i = 0; i < nd; i++)
        perm[i] = i;
    for (int i = nd - 1; i > 0; i--) {
        int j = tu_int(&rs, 0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* y = permute(x, perm), and with twice y = permute(x, perm) + permute(x, perm) (dx accumulates).
 * Compared exactly: a permute only moves floats (and 2 v is exact). */
static void run_case(int nd, const int64_t *shape, const int *perm, int twice) {
    char what[160];
    int len = snprintf(what, sizeof what, "permute [");
    for (int i = 0; i < nd; i++)
        len += snprintf(what + len, sizeof what - (size_t)len, i ? ",%lld" : "%lld",
                        (long long)shape[i]);
    len += snprintf(what + len, sizeof what - (size_t)len, "] by (");
    for (int i = 0; i < nd; i++)
        len += snprintf(what + len, sizeof what - (size_t)len, i ? ",%d" : "%d", perm[i]);
    snprintf(what + len, sizeof what - (size_t)len, ")%s", twice ? " twice" : "");

    size_t n = tu_numel(nd, shape);
    int64_t yshape[4];
    for (int k = 0; k < nd; k++)
        yshape[k] = shape[perm[k]];
    ve_graph *g = ve_graph_create(dev);
    ve_tid x = ve_tensor(g, VE_INPUT, "x", nd, shape);
    ve_set_requires_grad(g, x, 1);
    ve_tid y = ve_permute(g, x, perm);
    if (twice) y = ve_add(g, y, ve_permute(g, x, perm));
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", nd, yshape);
    int ok = y != VE_NONE && ve_graph_backward_seed(g, y, dy) == VE_OK;
    tu_check(ok, what);
    if (!ok) {
        fprintf(stderr, "  %s\n", ve_error());
        ve_graph_destroy(g);
        return;
    }
    int shape_ok = ve_tensor_ndim(g, y) == nd;
    for (int k = 0; k < nd; k++)
        shape_ok = shape_ok && ve_tensor_dim(g, y, k) == yshape[k];
    tu_check(shape_ok, "permute output shape");
    ve_keep(g, y);
    tu_compile(g);
    float *xv = tu_rand(&rs, n, -1, 1), *dyv = tu_rand(&rs, n, -1, 1);
    tu_write(g, x, xv);
    tu_write(g, dy, dyv);
    tu_run(g);
    float *want = malloc(sizeof(float) * n), *wdx = malloc(sizeof(float) * n);
    ref_permute_fwd(xv, want, nd, shape, perm);
    ref_permute_bwd(dyv, wdx, nd, shape, perm);
    for (size_t i = 0; twice && i < n; i++) {
        want[i] *= 2;
        wdx[i] *= 2;
    }
    char w2[200];
    float *got = tu_read(g, y);
    snprintf(w2, sizeof w2, "%s forward", what);
    tu_check(tu_close(w2, got, want, n, 0, 1e-6), w2);
    free(got);
    got = tu_read(g, ve_grad(g, x));
    snprintf(w2, sizeof w2, "%s grad x", what);
    tu_check(tu_close(w2, got, wdx, n, 0, 1e-6), w2);
    free(got);
    free(xv), free(dyv), free(want), free(wdx);
    ve_graph_destroy(g);
}

typedef struct {
    int nd;
    const int64_t *shape;
    const int *perm;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    fd_ctx *c = ctx;
    ref_permute_fwd(in[0], out, c->nd, c->shape, c->perm);
}

static void fd_case(void) {
    static const int64_t shape[3] = {2, 3, 4};
    static const int perm[3] = {2, 0, 1};
    fd_ctx c = {3, shape, perm};
    size_t n = 24;
    float *x = tu_rand(&rs, n, -1, 1), *r = tu_rand(&rs, n, -1, 1), *gx = malloc(sizeof(float) * n);
    ref_permute_bwd(r, gx, 3, shape, perm);
    float *in[1] = {x}, *grads[1] = {gx};
    tu_check(tu_fd_check("fd permute", fd_fwd, &c, 1, in, &n, n, r, grads, 1e-2, 1e-3, 0),
             "fd permute [2,3,4] by (2,0,1)");
    free(x), free(r), free(gx);
}

static void test_errors(void) {
    ve_graph *g = ve_graph_create(dev);
    int64_t s[3] = {2, 3, 4};
    ve_tid x = ve_tensor(g, VE_INPUT, "x", 3, s);
    int dup[3] = {0, 0, 1}, out_of_range[3] = {0, 1, 3};
    tu_check(ve_permute(g, x, dup) == VE_NONE && strstr(ve_error(), "permute"),
             "permute refuses a repeated dim");
    tu_check(ve_permute(g, x, out_of_range) == VE_NONE, "permute refuses a dim out of range");
    tu_check(ve_permute(g, x, NULL) == VE_NONE, "permute refuses a missing perm");
    tu_check(ve_permute(g, VE_NONE, dup) == VE_NONE, "permute refuses a missing tensor");
    ve_graph_destroy(g);
}

static void run_all(void) {
    rs = tu_seed(3);
    fd_case();
    /* every permutation of 4 dims on shapes that exercise merging, size-1 dims and vec4 moves */
    static const int64_t shapes4[][4] = {{2, 3, 5, 7}, {3, 1, 4, 8}, {1, 6, 1, 12}, {4, 8, 4, 8}};
    for (size_t s = 0; s < sizeof shapes4 / sizeof *shapes4; s++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++) {
                    int d = 6 - a - b - c;
                    if (a == b || a == c || b == c || d < 0 || d > 3 || d == a || d == b || d == c)
                        continue;
                    int perm[4] = {a, b, c, d};
                    run_case(4, shapes4[s], perm, 0);
                }
    static const int64_t sizes[] = {1, 1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 31, 64, 65};
    for (int i = 0; i < 30; i++) {
        int nd = tu_int(&rs, 1, 4), perm[4];
        int64_t shape[4];
        do {
            for (int k = 0; k < nd; k++)
                shape[k] = sizes[tu_int(&rs, 0, (int)(sizeof sizes / sizeof *sizes) - 1)];
        } while (tu_numel(nd, shape) > 400000);
        rand_perm(nd, perm);
        run_case(nd, shape, perm, i % 4 == 0);
    }
    /* SAM-like layouts: window partition [B, H/w, w, W/w, w, C] is 6-d, so its 4-d cousins;
     * heads [B, N, heads, d] -> [B, heads, N, d]; NCHW <-> NHWC. */
    static const int64_t sam[][4] = {{1, 196, 12, 64}, {1, 64, 64, 32}, {1, 32, 64, 64}};
    static const int sam_perm[][4] = {{0, 2, 1, 3}, {0, 3, 1, 2}, {0, 2, 3, 1}};
    for (int i = 0; i < 3; i++)
        run_case(4, sam[i], sam_perm[i], 0);
    int64_t s3[3] = {5, 7, 9};
    int p3[3] = {1, 2, 0};
    run_case(3, s3, p3, 1);
    test_errors();
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
