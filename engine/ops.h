/* The ops models build graphs from. Each appends forward node(s) and, when an input needs a
 * gradient, records its backward for ve_graph_backward. Returns the output tensor, or VE_NONE
 * with ve_error() naming the op and the offending shapes.
 *
 * Shapes: row-major, last dimension contiguous. "rows x cols" means cols = last dim and rows =
 * the product of the leading dims. */
#ifndef VE_OPS_H
#define VE_OPS_H

#include "graph.h"

/* ---- matmul (engine/ops/matmul.c) ---- */

typedef struct {
    int trans_a;  /* A stored [.., K, M] and used transposed */
    int trans_b;  /* B stored [.., N, K] and used transposed (PyTorch Linear weights) */
    ve_tid bias;  /* VE_NONE or [N], added to every output row */
} ve_matmul_opts;

/* C[b] = op(A[b]) @ op(B[b]) (+ bias). A: [batch.., M, K] (rows x K per batch), B: [batch.., K, N]
 * or [K, N] shared by every batch (weights). C: [batch.., M, N]. */
ve_tid ve_matmul(ve_graph *g, ve_tid a, ve_tid b, const ve_matmul_opts *o);
/* PyTorch Linear: x [.., in] @ W[out, in]^T + bias[out]. */
ve_tid ve_linear(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias);

/* Kernel-level matmul without autograd, for backward passes and tests: general strides.
 * C[b][m][n] (+)= sum_k A[b][m][k] B[b][k][n] (+ bias[n]); element (b,m,k) of op(A) lives at
 * a_off + b*a_sb + m*a_sm + k*a_sk (likewise B, C). accumulate: C += instead of C =. */
typedef struct {
    int64_t batch, m, n, k;
    int64_t a_off, a_sb, a_sm, a_sk;
    int64_t b_off, b_sb, b_sk, b_sn;
    int64_t c_off, c_sb, c_sm, c_sn;
    ve_tid bias;
    int accumulate;
} ve_matmul_desc;
int ve_matmul_node(ve_graph *g, ve_tid a, ve_tid b, ve_tid c, const ve_matmul_desc *d);
/* Which kernel ve_matmul_node picks for d on g's device (for benches and tests): "texel NN",
 * "texel NT", "texel TN", "texel TT" (CPU family; T = that operand's rows are contiguous, i.e.
 * stored transposed; the problem may have been turned into C^T = B^T A^T first), or "tiled"
 * (GPU family, and the CPU fallback for layouts texels cannot read). */
const char *ve_matmul_node_kernel(ve_graph *g, ve_tid a, ve_tid b, const ve_matmul_desc *d);

/* ---- elementwise (engine/ops/elementwise.c, activation.c) ---- */

/* b has a's shape, or is [cols] broadcast over a's rows. */
ve_tid ve_add(ve_graph *g, ve_tid a, ve_tid b);
ve_tid ve_mul(ve_graph *g, ve_tid a, ve_tid b);
ve_tid ve_scale(ve_graph *g, ve_tid a, float s);
ve_tid ve_gelu(ve_graph *g, ve_tid x); /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
ve_tid ve_relu(ve_graph *g, ve_tid x);

/* ---- copy and layout (engine/ops/copy.c, permute.c) ---- */

ve_tid ve_copy(ve_graph *g, ve_tid x);
/* y = x.permute(perm) made contiguous; perm has x's ndim entries. */
ve_tid ve_permute(ve_graph *g, ve_tid x, const int *perm);
/* dst (+)= src, same element count, contiguous. No autograd: a building block for backward. */
int ve_copy_node(ve_graph *g, ve_tid src, ve_tid dst, int accumulate);
/* Every element of t = value. No autograd. */
int ve_fill_node(ve_graph *g, ve_tid t, float value);

/* Pads (zeros) or crops the grid of a channels-last [B, H, W, C] tensor to [B, h, w, C],
 * keeping the top-left corner (window attention pads to a multiple of the window). */
ve_tid ve_grid_resize(ve_graph *g, ve_tid x, int64_t h, int64_t w);

/* ---- normalisation and softmax (engine/ops/layernorm.c, softmax.c) ---- */

/* LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * w + b; w, b [cols] or VE_NONE. */
ve_tid ve_layernorm(ve_graph *g, ve_tid x, ve_tid w, ve_tid b, float eps);
/* Softmax over the last dim. */
ve_tid ve_softmax(ve_graph *g, ve_tid x);

/* ---- reductions (engine/ops/reduce.c) ---- */

ve_tid ve_sum_rows(ve_graph *g, ve_tid x);  /* [rows, cols] -> [rows]: sum over the last dim */
ve_tid ve_mean_rows(ve_graph *g, ve_tid x); /* mean over the last dim */
ve_tid ve_sum(ve_graph *g, ve_tid x);       /* all elements -> [1] */
ve_tid ve_mean(ve_graph *g, ve_tid x);      /* all elements -> [1] */
/* out[c] (+)= sum over rows of x[r][c] (bias gradients, broadcast backward). No autograd. */
int ve_sum_cols_node(ve_graph *g, ve_tid x, ve_tid out, int accumulate);

/* ---- optimiser (engine/ops/adamw.c) ---- */

typedef struct {
    float beta1, beta2, eps, weight_decay;
} ve_adamw_opts;
/* Appends one AdamW step over the contiguous buffer of every trainable that received a gradient
 * (call after ve_graph_backward). Trainables without a gradient are skipped, decay included. */
int ve_adamw(ve_graph *g, const ve_adamw_opts *o);
/* Before each run: the learning rate and the 1-based step number (PyTorch 1.13 AdamW). Writes
 * the derived per-step values (decay factor, bias corrections, computed in double as PyTorch
 * does) to the graph's step-values buffer. */
int ve_adamw_set_step(ve_graph *g, const ve_adamw_opts *o, double lr, int64_t step);

#endif
