/* ve_matmul and ve_linear: shapes to strides, the forward node, and the backward
 *   dA = dC op(B)^T,  dB = op(A)^T dC,  dbias = column sums of dC,
 * each expressed as one more strided ve_matmul_node (no transposed copies). */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

typedef struct {
    int trans_a, trans_b;
} mm_ctx;

/* The forward problem for tensors a, b. Weights [K, N] shared by a batch of A: when A is not
 * transposed, the batch folds into M (one big matmul, and the weight gradient is one product
 * too). Fills the output shape. */
static int forward_desc(ve_graph *g, ve_tid a, ve_tid b, const mm_ctx *x, ve_matmul_desc *d,
                        int *out_ndim, int64_t *out_shape) {
    int na = ve_tensor_ndim(g, a), nb = ve_tensor_ndim(g, b);
    if (na < 2 || nb < 2)
        return ve_fail("matmul: a (%s) and b (%s) need at least 2 dims, have %d and %d",
                       ve_tensor_name(g, a), ve_tensor_name(g, b), na, nb);
    int64_t ar = ve_tensor_dim(g, a, -2), ac = ve_tensor_dim(g, a, -1);
    int64_t br = ve_tensor_dim(g, b, -2), bc = ve_tensor_dim(g, b, -1);
    int64_t m = x->trans_a ? ac : ar, k = x->trans_a ? ar : ac;
    int64_t kb = x->trans_b ? bc : br, n = x->trans_b ? br : bc;
    if (k != kb)
        return ve_fail("matmul: inner dims differ: a %s [.., %lld, %lld]%s, b %s [.., %lld, "
                       "%lld]%s",
                       ve_tensor_name(g, a), (long long)ar, (long long)ac,
                       x->trans_a ? " transposed" : "", ve_tensor_name(g, b), (long long)br,
                       (long long)bc, x->trans_b ? " transposed" : "");
    int64_t batch = ve_tensor_numel(g, a) / (ar * ac);
    int shared = nb == 2;
    if (!shared) {
        int same = nb == na;
        for (int i = 0; same && i < na - 2; i++)
            same = ve_tensor_dim(g, a, i) == ve_tensor_dim(g, b, i);
        if (!same)
            return ve_fail("matmul: batch dims of a (%s, %d dims) and b (%s, %d dims) differ",
                           ve_tensor_name(g, a), na, ve_tensor_name(g, b), nb);
    }
    *d = (ve_matmul_desc){
        .batch = batch,
        .m = m,
        .n = n,
        .k = k,
        .a_sb = m * k,
        .a_sm = x->trans_a ? 1 : k,
        .a_sk = x->trans_a ? m : 1,
        .b_sb = shared ? 0 : k * n,
        .b_sk = x->trans_b ? 1 : n,
        .b_sn = x->trans_b ? k : 1,
        .c_sb = m * n,
        .c_sm = n,
        .c_sn = 1,
        .bias = VE_NONE,
    };
    if (shared && batch > 1 && !x->trans_a) {
        d->m = batch * m;
        d->batch = 1;
        d->a_sb = d->b_sb = d->c_sb = 0;
    }
    *out_ndim = na;
    for (int i = 0; i < na - 2; i++)
        out_shape[i] = ve_tensor_dim(g, a, i);
    out_shape[na - 2] = m;
    out_shape[na - 1] = n;
    return VE_OK;
}

static int matmul_backward(ve_graph *g, const ve_tape_entry *e) {
    mm_ctx x;
    memcpy(&x, e->ctx, sizeof x);
    ve_tid a = e->in[0], b = e->in[1], bias = e->n_in > 2 ? e->in[2] : VE_NONE;
    ve_tid dc = ve_grad_of(g, e->out[0]);
    if (dc == VE_NONE) return VE_OK;
    ve_matmul_desc d;
    int nd;
    int64_t shape[VE_MAX_DIMS];
    if (forward_desc(g, a, b, &x, &d, &nd, shape) != VE_OK) return VE_FAIL;

    int acc;
    ve_tid da = ve_grad_dest(g, a, &acc);
    if (da != VE_NONE) {
        /* dA[m][k] = sum_n dC[m][n] op(B)[k][n], written with A's own strides. */
        ve_matmul_desc t = {
            .batch = d.batch,
            .m = d.m,
            .n = d.k,
            .k = d.n,
            .a_off = d.c_off,
            .a_sb = d.c_sb,
            .a_sm = d.c_sm,
            .a_sk = d.c_sn,
            .b_off = d.b_off,
            .b_sb = d.b_sb,
            .b_sk = d.b_sn,
            .b_sn = d.b_sk,
            .c_off = d.a_off,
            .c_sb = d.a_sb,
            .c_sm = d.a_sm,
            .c_sn = d.a_sk,
            .bias = VE_NONE,
            .accumulate = acc,
        };
        if (ve_matmul_node(g, dc, b, da, &t) != VE_OK) return ve_fail_context("matmul dA: ");
    }
    ve_tid db = ve_grad_dest(g, b, &acc);
    if (db != VE_NONE) {
        /* dB[k][n] = sum_m op(A)[m][k] dC[m][n], written with B's own strides. A B shared by an
         * unfolded batch (transposed A) gets the sum over the batch: one node per batch entry,
         * accumulating. */
        int per_batch = d.batch > 1 && d.b_sb == 0;
        int64_t nb = per_batch ? d.batch : 1;
        for (int64_t z = 0; z < nb; z++) {
            ve_matmul_desc t = {
                .batch = per_batch ? 1 : d.batch,
                .m = d.k,
                .n = d.n,
                .k = d.m,
                .a_off = d.a_off + z * d.a_sb,
                .a_sb = d.a_sb,
                .a_sm = d.a_sk,
                .a_sk = d.a_sm,
                .b_off = d.c_off + z * d.c_sb,
                .b_sb = d.c_sb,
                .b_sk = d.c_sm,
                .b_sn = d.c_sn,
                .c_off = d.b_off,
                .c_sb = d.b_sb,
                .c_sm = d.b_sk,
                .c_sn = d.b_sn,
                .bias = VE_NONE,
                .accumulate = z > 0 ? 1 : acc,
            };
            if (ve_matmul_node(g, a, dc, db, &t) != VE_OK) return ve_fail_context("matmul dB: ");
        }
    }
    if (bias != VE_NONE) {
        ve_tid dbias = ve_grad_dest(g, bias, &acc);
        if (dbias != VE_NONE && ve_sum_cols_node(g, dc, dbias, acc) != VE_OK)
            return ve_fail_context("matmul dbias: ");
    }
    return VE_OK;
}

ve_tid ve_matmul(ve_graph *g, ve_tid a, ve_tid b, const ve_matmul_opts *o) {
    mm_ctx x = {o ? o->trans_a != 0 : 0, o ? o->trans_b != 0 : 0};
    ve_tid bias = o ? o->bias : VE_NONE;
    ve_matmul_desc d;
    int nd;
    int64_t shape[VE_MAX_DIMS];
    if (!g || forward_desc(g, a, b, &x, &d, &nd, shape) != VE_OK) return VE_NONE;
    if (bias != VE_NONE && ve_tensor_numel(g, bias) != d.n) {
        ve_fail("matmul: bias %s has %lld elements, output has %lld columns",
                ve_tensor_name(g, bias), (long long)ve_tensor_numel(g, bias), (long long)d.n);
        return VE_NONE;
    }
    d.bias = bias;
    ve_tid c = ve_tensor(g, VE_ACTIVATION, "matmul", nd, shape);
    if (c == VE_NONE || ve_matmul_node(g, a, b, c, &d) != VE_OK) return VE_NONE;
    ve_tid in[3] = {a, b, bias};
    if (ve_tape_record(g, matmul_backward, bias != VE_NONE ? 3 : 2, in, 1, &c, &x, sizeof x) !=
        VE_OK)
        return VE_NONE;
    return c;
}

ve_tid ve_linear(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias) {
    ve_matmul_opts o = {.trans_a = 0, .trans_b = 1, .bias = bias};
    if (g && ve_tensor_ndim(g, w) != 2) {
        ve_fail("linear: weight %s must be [out, in], has %d dims", ve_tensor_name(g, w),
                ve_tensor_ndim(g, w));
        return VE_NONE;
    }
    return ve_matmul(g, x, w, &o);
}
