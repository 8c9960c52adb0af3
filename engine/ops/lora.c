/* ve_linear_lora: a Linear with low-rank adapters added into column ranges of its output, one
 * tape entry for the whole op, and the Kaiming-uniform init of the adapters' A.
 *
 * Forward: y = x W^T + bias (one matmul node), then per adapter xa = x A^T ([rows, r], saved for
 * the backward) and y[:, cols] += xa B^T written straight into y's columns (c_off = col, row
 * stride = out, accumulate). Backward, every product a strided matmul node:
 *   ga = dy[:, cols] B          ([rows, r], when dx or dA is needed)
 *   dx = dy W + sum ga A,  dA = ga^T x,  dB = dy[:, cols]^T xa,  dW = dy^T x,  dbias = sum dy.
 * dW and dbias only when they need gradients: a frozen W costs no kernel.
 *
 * Measured (tests/unit/test_lora.c with VKSAMED_LORA_BENCH=1; lavapipe, 2 cores; vit_b qkv at
 * S = 512: 1764 x 768 -> 2304, q and v adapters r 4, frozen W, forward + backward with dx):
 * this op 252 ms, ve_linear + separate adapter ve_linear's + ve_add 333 ms, the base alone
 * 215 ms. Of the adapters' ~37 ms, dB is ~11 (5.5 ms each: ve_matmul_node runs it as
 * 768 x 4, wasting 31/32 of the CPU tile; as 4 x 768 it would take 0.9 ms). */
#include <math.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

typedef struct {
    int64_t rows, in, out;
    int n_ad;
    int64_t col[VE_LORA_MAX_ADAPTERS], r[VE_LORA_MAX_ADAPTERS], out_a[VE_LORA_MAX_ADAPTERS];
    ve_tid xa[VE_LORA_MAX_ADAPTERS]; /* x A^T from the forward, stored column-major */
} lora_ctx;

/* The [rows, r] temporaries (x A^T, dy B) are stored column-major, [r][ld] with ld = rows
 * rounded up to 4 (texel-readable; the padding is never read): ve_matmul_node then computes
 * them as the transposed problem, r rows by `rows` columns. The CPU kernel's tile is 16 x 128,
 * so r = 4 output columns would waste 31/32 of it, r = 4 rows 3/4. */
static int64_t col_major_ld(int64_t rows) {
    return (rows + 3) / 4 * 4;
}

static ve_tid col_major_tmp(ve_graph *g, const char *name, int64_t rows, int64_t r) {
    return ve_tensor_2d(g, VE_ACTIVATION, name, r, col_major_ld(rows));
}

/* C[m][n] (+)= sum_k A[m][k] B[k][n] with the given strides, batch 1, no bias. */
static int mm(ve_graph *g, ve_tid a, ve_tid b, ve_tid c, int64_t m, int64_t n, int64_t k,
              int64_t a_off, int64_t a_sm, int64_t a_sk, int64_t b_sk, int64_t b_sn, int64_t c_off,
              int64_t c_sm, int64_t c_sn, ve_tid bias, int acc) {
    ve_matmul_desc d = {
        .batch = 1,
        .m = m,
        .n = n,
        .k = k,
        .a_off = a_off,
        .a_sm = a_sm,
        .a_sk = a_sk,
        .b_sk = b_sk,
        .b_sn = b_sn,
        .c_off = c_off,
        .c_sm = c_sm,
        .c_sn = c_sn,
        .bias = bias,
        .accumulate = acc,
    };
    return ve_matmul_node(g, a, b, c, &d);
}

static int lora_backward(ve_graph *g, const ve_tape_entry *e) {
    lora_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid x = e->in[0], w = e->in[1], bias = e->in[2];
    ve_tid dy = ve_grad_of(g, e->out[0]);
    if (dy == VE_NONE) return VE_OK;
    const int64_t rows = c.rows, in = c.in, out = c.out, ld = col_major_ld(rows);
    int need_x = ve_requires_grad(g, x);

    /* ga = dy[:, cols] B (column-major): dy's column range is an offset and a row stride. */
    ve_tid ga[VE_LORA_MAX_ADAPTERS];
    for (int i = 0; i < c.n_ad; i++) {
        ve_tid a = e->in[3 + 2 * i], b = e->in[4 + 2 * i];
        ga[i] = VE_NONE;
        if (!need_x && !ve_requires_grad(g, a)) continue;
        ga[i] = col_major_tmp(g, "lora_ga", rows, c.r[i]);
        if (ga[i] == VE_NONE || mm(g, dy, b, ga[i], rows, c.r[i], c.out_a[i], c.col[i], out, 1,
                                   c.r[i], 1, 0, 1, ld, VE_NONE, 0) != VE_OK)
            return ve_fail_context("linear_lora backward (dy B, adapter %d): ", i);
    }

    int acc;
    ve_tid dx = ve_grad_dest(g, x, &acc);
    if (dx != VE_NONE) {
        /* dx = dy W (W [out, in] is already [K, N]) + ga A per adapter. */
        if (mm(g, dy, w, dx, rows, in, out, 0, out, 1, in, 1, 0, in, 1, VE_NONE, acc) != VE_OK)
            return ve_fail_context("linear_lora backward (dx): ");
        for (int i = 0; i < c.n_ad; i++)
            if (mm(g, ga[i], e->in[3 + 2 * i], dx, rows, in, c.r[i], 0, 1, ld, in, 1, 0, in, 1,
                   VE_NONE, 1) != VE_OK)
                return ve_fail_context("linear_lora backward (dx, adapter %d): ", i);
    }
    for (int i = 0; i < c.n_ad; i++) {
        ve_tid a = e->in[3 + 2 * i], b = e->in[4 + 2 * i];
        ve_tid da = ve_grad_dest(g, a, &acc);
        /* dA[j][k] = sum_rows ga[row][j] x[row][k] */
        if (da != VE_NONE &&
            mm(g, ga[i], x, da, c.r[i], in, rows, 0, ld, 1, in, 1, 0, in, 1, VE_NONE, acc) != VE_OK)
            return ve_fail_context("linear_lora backward (dA, adapter %d): ", i);
        ve_tid db = ve_grad_dest(g, b, &acc);
        /* dB[o][j] = sum_rows dy[row][col + o] xa[row][j] */
        if (db != VE_NONE && mm(g, dy, c.xa[i], db, c.out_a[i], c.r[i], rows, c.col[i], 1, out, 1,
                                ld, 0, c.r[i], 1, VE_NONE, acc) != VE_OK)
            return ve_fail_context("linear_lora backward (dB, adapter %d): ", i);
    }
    ve_tid dw = ve_grad_dest(g, w, &acc);
    /* dW[o][k] = sum_rows dy[row][o] x[row][k] */
    if (dw != VE_NONE &&
        mm(g, dy, x, dw, out, in, rows, 0, 1, out, in, 1, 0, in, 1, VE_NONE, acc) != VE_OK)
        return ve_fail_context("linear_lora backward (dW): ");
    if (bias != VE_NONE) {
        ve_tid dbias = ve_grad_dest(g, bias, &acc);
        if (dbias != VE_NONE && ve_sum_cols_node(g, dy, dbias, acc) != VE_OK)
            return ve_fail_context("linear_lora backward (dbias): ");
    }
    return VE_OK;
}

static int check_shapes(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias, int n_ad,
                        const ve_lora_adapter *ad, lora_ctx *c) {
    if (!g) return ve_fail("linear_lora: NULL graph");
    if (n_ad < 0 || n_ad > VE_LORA_MAX_ADAPTERS || (n_ad > 0 && !ad))
        return ve_fail("linear_lora: %d adapters (0..%d, non-NULL array)", n_ad,
                       VE_LORA_MAX_ADAPTERS);
    if (ve_tensor_ndim(g, x) < 1 || ve_tensor_ndim(g, w) != 2)
        return ve_fail("linear_lora: x (%s, %d dims) needs >= 1 dim, w (%s, %d dims) must be "
                       "[out, in]",
                       ve_tensor_name(g, x), ve_tensor_ndim(g, x), ve_tensor_name(g, w),
                       ve_tensor_ndim(g, w));
    c->in = ve_tensor_dim(g, x, -1);
    c->out = ve_tensor_dim(g, w, 0);
    c->rows = ve_tensor_numel(g, x) / c->in;
    if (ve_tensor_dim(g, w, 1) != c->in)
        return ve_fail("linear_lora: x %s has %lld features, w %s is [%lld, %lld]",
                       ve_tensor_name(g, x), (long long)c->in, ve_tensor_name(g, w),
                       (long long)c->out, (long long)ve_tensor_dim(g, w, 1));
    if (bias != VE_NONE && ve_tensor_numel(g, bias) != c->out)
        return ve_fail("linear_lora: bias %s has %lld elements, out is %lld",
                       ve_tensor_name(g, bias), (long long)ve_tensor_numel(g, bias),
                       (long long)c->out);
    c->n_ad = n_ad;
    for (int i = 0; i < n_ad; i++) {
        ve_tid a = ad[i].a, b = ad[i].b;
        if (ve_tensor_ndim(g, a) != 2 || ve_tensor_ndim(g, b) != 2)
            return ve_fail("linear_lora: adapter %d: a (%d dims) and b (%d dims) must be 2-D", i,
                           ve_tensor_ndim(g, a), ve_tensor_ndim(g, b));
        c->r[i] = ve_tensor_dim(g, a, 0);
        c->out_a[i] = ve_tensor_dim(g, b, 0);
        c->col[i] = ad[i].col;
        if (ve_tensor_dim(g, a, 1) != c->in || ve_tensor_dim(g, b, 1) != c->r[i])
            return ve_fail("linear_lora: adapter %d: a %s [%lld, %lld] and b %s [%lld, %lld] "
                           "do not fit in = %lld",
                           i, ve_tensor_name(g, a), (long long)c->r[i],
                           (long long)ve_tensor_dim(g, a, 1), ve_tensor_name(g, b),
                           (long long)c->out_a[i], (long long)ve_tensor_dim(g, b, 1),
                           (long long)c->in);
        if (c->col[i] < 0 || c->col[i] + c->out_a[i] > c->out)
            return ve_fail("linear_lora: adapter %d writes columns %lld..%lld of %lld", i,
                           (long long)c->col[i], (long long)(c->col[i] + c->out_a[i] - 1),
                           (long long)c->out);
    }
    return VE_OK;
}

ve_tid ve_linear_lora(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias, int n_adapters,
                      const ve_lora_adapter *ad) {
    lora_ctx c;
    memset(&c, 0, sizeof c);
    if (check_shapes(g, x, w, bias, n_adapters, ad, &c) != VE_OK) return VE_NONE;
    int nd = ve_tensor_ndim(g, x);
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    shape[nd - 1] = c.out;
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "linear_lora", nd, shape);
    if (y == VE_NONE ||
        mm(g, x, w, y, c.rows, c.out, c.in, 0, c.in, 1, 1, c.in, 0, c.out, 1, bias, 0) != VE_OK) {
        ve_fail_context("linear_lora (x %s, w %s): ", ve_tensor_name(g, x), ve_tensor_name(g, w));
        return VE_NONE;
    }
    for (int i = 0; i < n_adapters; i++) {
        int64_t r = c.r[i], ld = col_major_ld(c.rows);
        c.xa[i] = col_major_tmp(g, "lora_xa", c.rows, r);
        if (c.xa[i] == VE_NONE ||
            mm(g, x, ad[i].a, c.xa[i], c.rows, r, c.in, 0, c.in, 1, 1, c.in, 0, 1, ld, VE_NONE,
               0) != VE_OK ||
            mm(g, c.xa[i], ad[i].b, y, c.rows, c.out_a[i], r, 0, 1, ld, 1, r, c.col[i], c.out, 1,
               VE_NONE, 1) != VE_OK) {
            ve_fail_context("linear_lora adapter %d: ", i);
            return VE_NONE;
        }
    }
    ve_tid in[3 + 2 * VE_LORA_MAX_ADAPTERS] = {x, w, bias};
    for (int i = 0; i < n_adapters; i++) {
        in[3 + 2 * i] = ad[i].a;
        in[4 + 2 * i] = ad[i].b;
    }
    if (ve_tape_record(g, lora_backward, 3 + 2 * n_adapters, in, 1, &y, &c, sizeof c) != VE_OK)
        return VE_NONE;
    return y;
}

/* splitmix64: a tiny, well-mixed stream; the 24 high bits give a uniform float in [0, 1). */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ve_lora_init_host(float *a, int64_t r, int64_t in, uint64_t *rng_state) {
    /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in)
     * = 1 / sqrt(fan_in). */
    double bound = 1.0 / sqrt((double)in);
    for (int64_t i = 0; i < r * in; i++) {
        double u = (double)(splitmix64(rng_state) >> 40) / (double)(1ull << 24);
        a[i] = (float)((2.0 * u - 1.0) * bound);
    }
}
