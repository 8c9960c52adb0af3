/* add, mul (same shape and [cols] broadcast) and scale: forward and backward against the
 * plain-C references on random shapes, gradient accumulation when a tensor feeds several ops,
 * finite-difference checks of the references, and shape errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "ref.h"
#include "status.h"
#include "test_util.h"

/* Forward add/mul/scale round the same float operation as the reference: exact but for FMA
 * contraction, so 1e-6. Gradients through column sums (float partial sums of <= 256 terms vs
 * double) get the elementwise 1e-5. */
#define RTOL_FWD 1e-6
#define RTOL_BWD 1e-5
#define FLOOR 1e-6

typedef enum { OP_ADD, OP_MUL, OP_SCALE } op_kind;
static const char *op_name[] = {"add", "mul", "scale"};

static ve_device *dev;
static uint64_t rs;

static void fwd_ref(op_kind op, const float *a, const float *b, float s, float *y, size_t n,
                    size_t bc) {
    if (op == OP_ADD)
        ref_add_fwd(a, b, y, n, bc);
    else if (op == OP_MUL)
        ref_mul_fwd(a, b, y, n, bc);
    else
        ref_scale_fwd(a, s, y, n);
}

/* y = op(a, b) (or op(a, a) when same), backward seeded with a random dy. b_grad: whether b
 * requires a gradient (otherwise it must get none). */
static void run_case(op_kind op, int nd, const int64_t *shape, int bcast, int same, int b_grad) {
    char what[160];
    int len = snprintf(what, sizeof what, "%s [", op_name[op]);
    for (int i = 0; i < nd; i++)
        len += snprintf(what + len, sizeof what - (size_t)len, i ? ",%lld" : "%lld",
                        (long long)shape[i]);
    snprintf(what + len, sizeof what - (size_t)len, "]%s%s%s", bcast ? " bcast" : "",
             same ? " x,x" : "", b_grad ? "" : " b frozen");

    size_t n = tu_numel(nd, shape), cols = (size_t)shape[nd - 1], bn = bcast ? cols : n;
    int64_t bshape1 = (int64_t)cols;
    float s = tu_uniform(&rs, -2.0f, 2.0f);
    ve_graph *g = ve_graph_create(dev);
    ve_tid a = ve_tensor(g, VE_INPUT, "a", nd, shape);
    ve_tid b = same ? a : ve_tensor(g, VE_INPUT, "b", bcast ? 1 : nd, bcast ? &bshape1 : shape);
    ve_set_requires_grad(g, a, 1);
    if (!same) ve_set_requires_grad(g, b, b_grad);
    ve_tid y = op == OP_ADD ? ve_add(g, a, b) : op == OP_MUL ? ve_mul(g, a, b) : ve_scale(g, a, s);
    if (y == VE_NONE) {
        fprintf(stderr, "FAIL %s: %s\n", what, ve_error());
        tu_check(0, what);
        ve_graph_destroy(g);
        return;
    }
    ve_keep(g, y);
    ve_tid dy = ve_tensor(g, VE_INPUT, "dy", nd, shape);
    tu_check(ve_graph_backward_seed(g, y, dy) == VE_OK, "backward_seed");
    ve_tid ga = ve_grad(g, a), gb = op == OP_SCALE || same ? VE_NONE : ve_grad(g, b);
    tu_check(ga != VE_NONE, "a has a gradient");
    if (op != OP_SCALE && !same)
        tu_check((gb != VE_NONE) == b_grad, "b has a gradient exactly when it requires one");
    tu_compile(g);

    float *av = tu_rand(&rs, n, -2, 2), *bv = same ? av : tu_rand(&rs, bn, -2, 2);
    float *dyv = tu_rand(&rs, n, -1, 1);
    tu_write(g, a, av);
    if (!same && op != OP_SCALE) tu_write(g, b, bv);
    tu_write(g, dy, dyv);
    tu_run(g);

    float *want = malloc(sizeof(float) * n), *wa = malloc(sizeof(float) * n);
    float *wb = malloc(sizeof(float) * n), *tmp = malloc(sizeof(float) * n);
    fwd_ref(op, av, bv, s, want, n, bcast ? cols : 0);
    float *got = tu_read(g, y);
    char w2[200];
    snprintf(w2, sizeof w2, "%s forward", what);
    tu_check(tu_close(w2, got, want, n, RTOL_FWD, FLOOR), w2);
    free(got);

    if (op == OP_SCALE)
        ref_scale_bwd(dyv, s, wa, n);
    else if (op == OP_ADD)
        ref_add_bwd(dyv, wa, wb, n, bcast ? cols : 0);
    else
        ref_mul_bwd(av, bv, dyv, wa, wb, n, bcast ? cols : 0);
    if (same) /* a feeds both operands: its gradient is the sum of both */
        for (size_t i = 0; i < n; i++)
            wa[i] += wb[i];
    got = tu_read(g, ga);
    snprintf(w2, sizeof w2, "%s grad a", what);
    tu_check(tu_close(w2, got, wa, n, RTOL_BWD, FLOOR), w2);
    free(got);
    if (gb != VE_NONE) {
        got = tu_read(g, gb);
        snprintf(w2, sizeof w2, "%s grad b", what);
        tu_check(tu_close(w2, got, wb, bn, RTOL_BWD, FLOOR), w2);
        free(got);
    }
    free(av);
    if (!same) free(bv);
    free(dyv);
    free(want);
    free(wa);
    free(wb);
    free(tmp);
    ve_graph_destroy(g);
}

/* z = s * ((a * b + b) + a), b [cols]: a and b each feed two ops, so mul, scale and column-sum
 * kernels must accumulate into their gradients. */
static void run_compound(int nd, const int64_t *shape) {
    size_t n = tu_numel(nd, shape), cols = (size_t)shape[nd - 1];
    int64_t c1 = (int64_t)cols;
    float s = 0.75f;
    ve_graph *g = ve_graph_create(dev);
    ve_tid a = ve_tensor(g, VE_INPUT, "a", nd, shape), b = ve_tensor(g, VE_INPUT, "b", 1, &c1);
    ve_set_requires_grad(g, a, 1);
    ve_set_requires_grad(g, b, 1);
    ve_tid z = ve_scale(g, ve_add(g, ve_add(g, ve_mul(g, a, b), b), a), s);
    ve_tid dz = ve_tensor(g, VE_INPUT, "dz", nd, shape);
    tu_check(z != VE_NONE && ve_graph_backward_seed(g, z, dz) == VE_OK, "compound graph");
    ve_keep(g, z);
    tu_compile(g);
    float *av = tu_rand(&rs, n, -2, 2), *bv = tu_rand(&rs, cols, -2, 2);
    float *dzv = tu_rand(&rs, n, -1, 1);
    tu_write(g, a, av);
    tu_write(g, b, bv);
    tu_write(g, dz, dzv);
    tu_run(g);

    float *t = malloc(sizeof(float) * n), *zr = malloc(sizeof(float) * n);
    ref_mul_fwd(av, bv, t, n, cols);
    ref_add_fwd(t, bv, zr, n, cols);
    ref_add_fwd(zr, av, t, n, 0);
    ref_scale_fwd(t, s, zr, n);
    float *got = tu_read(g, z);
    tu_check(tu_close("compound forward", got, zr, n, RTOL_FWD, FLOOR), "compound forward");
    free(got);
    /* dv = s dz; da = dv + dv * b; db = colsum(dv) + colsum(dv * a) */
    float *dv = malloc(sizeof(float) * n), *da = malloc(sizeof(float) * n);
    float *db1 = malloc(sizeof(float) * cols), *db2 = malloc(sizeof(float) * cols);
    ref_scale_bwd(dzv, s, dv, n);
    ref_mul_bwd(av, bv, dv, da, db2, n, cols);
    ref_add_bwd(dv, NULL, db1, n, cols);
    for (size_t i = 0; i < n; i++)
        da[i] += dv[i];
    for (size_t c = 0; c < cols; c++)
        db1[c] += db2[c];
    got = tu_read(g, ve_grad(g, a));
    tu_check(tu_close("compound grad a", got, da, n, RTOL_BWD, FLOOR), "compound grad a");
    free(got);
    got = tu_read(g, ve_grad(g, b));
    tu_check(tu_close("compound grad b", got, db1, cols, RTOL_BWD, FLOOR), "compound grad b");
    free(got);
    free(av), free(bv), free(dzv), free(t), free(zr), free(dv), free(da), free(db1), free(db2);
    ve_graph_destroy(g);
}

/* ---- finite differences of the reference backward ---- */

typedef struct {
    op_kind op;
    size_t n, bc;
    float s;
} fd_ctx;

static void fd_fwd(void *ctx, float *const *in, float *out) {
    fd_ctx *c = ctx;
    fwd_ref(c->op, in[0], in[1], c->s, out, c->n, c->bc);
}

static void fd_case(op_kind op, size_t rows, size_t cols, int bcast) {
    fd_ctx c = {op, rows * cols, bcast ? cols : 0, 1.3f};
    size_t bn = bcast ? cols : c.n;
    float *a = tu_rand(&rs, c.n, -2, 2), *b = tu_rand(&rs, bn, -2, 2),
          *r = tu_rand(&rs, c.n, -1, 1);
    float *ga = malloc(sizeof(float) * c.n), *gb = malloc(sizeof(float) * bn);
    if (op == OP_ADD)
        ref_add_bwd(r, ga, gb, c.n, c.bc);
    else if (op == OP_MUL)
        ref_mul_bwd(a, b, r, ga, gb, c.n, c.bc);
    else
        ref_scale_bwd(r, c.s, ga, c.n);
    float *in[2] = {a, b}, *grads[2] = {ga, op == OP_SCALE ? NULL : gb};
    size_t sizes[2] = {c.n, bn};
    char what[64];
    snprintf(what, sizeof what, "fd %s %zux%zu%s", op_name[op], rows, cols, bcast ? " bcast" : "");
    tu_check(tu_fd_check(what, fd_fwd, &c, 2, in, sizes, c.n, r, grads, 1e-2, 1e-3, 0), what);
    free(a), free(b), free(r), free(ga), free(gb);
}

static void test_errors(void) {
    ve_graph *g = ve_graph_create(dev);
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, four = 4;
    ve_tid a = ve_tensor(g, VE_INPUT, "a", 2, s23), b = ve_tensor(g, VE_INPUT, "b", 2, s32);
    ve_tid c = ve_tensor(g, VE_INPUT, "c", 1, &four);
    tu_check(ve_add(g, a, b) == VE_NONE && strstr(ve_error(), "add") && strstr(ve_error(), "3, 2"),
             "add refuses mismatched shapes, naming them");
    tu_check(ve_mul(g, a, c) == VE_NONE && strstr(ve_error(), "mul"),
             "mul refuses a broadcast of the wrong length");
    tu_check(ve_add(g, a, VE_NONE) == VE_NONE, "add refuses a missing operand");
    tu_check(ve_scale(g, 12345, 1.0f) == VE_NONE, "scale refuses an invalid tensor");
    ve_graph_destroy(g);
}

static void run_all(void) {
    rs = tu_seed(42);
    for (int op = OP_ADD; op <= OP_MUL; op++)
        for (int bc = 0; bc <= 1; bc++) {
            fd_case(op, 3, 5, bc);
            fd_case(op, 1, 4, bc);
        }
    fd_case(OP_SCALE, 4, 3, 0);

    static const int64_t fixed[][4] = {{1},       {3},    {4},       {5},    {1, 1, 1, 1},
                                       {5, 1, 3}, {2, 7}, {7, 2049}, {1, 8}, {3, 4, 5, 6}};
    static const int fixed_nd[] = {1, 1, 1, 1, 4, 3, 2, 2, 2, 4};
    for (size_t f = 0; f < sizeof fixed_nd / sizeof *fixed_nd; f++)
        for (int op = OP_ADD; op <= OP_SCALE; op++)
            for (int bc = 0; bc <= (op != OP_SCALE); bc++)
                run_case(op, fixed_nd[f], fixed[f], bc, 0, 1);
    for (int i = 0; i < 12; i++) {
        int64_t shape[4];
        int nd = tu_rand_shape(&rs, shape, 300000);
        for (int op = OP_ADD; op <= OP_SCALE; op++)
            run_case(op, nd, shape, op != OP_SCALE && i % 2, 0, i % 5 != 4);
    }
    /* a tensor used twice: the second gradient write must accumulate */
    int64_t s2[2] = {33, 17}, s1 = 7, big[2] = {1024, 768};
    run_case(OP_ADD, 2, s2, 0, 1, 1);
    run_case(OP_MUL, 2, s2, 0, 1, 1);
    run_case(OP_MUL, 1, &s1, 0, 1, 1);
    run_case(OP_ADD, 2, big, 1, 0, 1);
    run_case(OP_MUL, 2, big, 0, 0, 1);
    run_compound(2, s2);
    int64_t s3[3] = {5, 300, 12};
    run_compound(3, s3);
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
