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
    int trans_a; /* A stored [.., K, M] and used transposed */
    int trans_b; /* B stored [.., N, K] and used transposed (PyTorch Linear weights) */
    ve_tid bias; /* VE_NONE or [N], added to every output row */
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
/* ve_adamw whose update is skipped on the device when guard (a scalar, e.g. the loss) is NaN or
 * infinite: parameters and moments stay as they were, in the same recorded submission (the host
 * learns of it when it reads the guard after the run). */
int ve_adamw_guarded(ve_graph *g, const ve_adamw_opts *o, ve_tid guard);
/* After ve_adamw: the flat gradient buffer it reads ([n], every trainable's gradient in the
 * order of its parameters), for data parallelism to all-reduce between the backward and the
 * update. */
int ve_adamw_grads(ve_graph *g, ve_tid *grads, int64_t *n);
/* After ve_adamw: the first and second moments (flat, in the order of ve_trainable_flat's
 * buffer), persistent, for saving and restoring a training state. */
int ve_adamw_moments(ve_graph *g, ve_tid *exp_avg, ve_tid *exp_avg_sq);
/* Before each run: the learning rate and the 1-based step number (PyTorch 1.13 AdamW). Writes
 * the derived per-step values (decay factor, bias corrections, computed in double as PyTorch
 * does) to the graph's step-values buffer. */
int ve_adamw_set_step(ve_graph *g, const ve_adamw_opts *o, double lr, int64_t step);

/* ---- SAM vision ops (engine/ops/patchify.c, conv.c, resize.c, fourier_pe.c, embedding.c) ----
 *
 * Layouts: feature maps are channels-last tokens [B, H, W, C], the ViT's layout, kept through
 * the neck and the decoder's upscaling so the model needs no permutes. Two exceptions, as the
 * data comes: images are channels-first [B, C, H, W] (ve_patchify / ve_patch_embed only), and
 * masks/logits are channels-first planes [.., H, W] (ve_resize_bilinear).
 *
 * LayerNorm2d (SAM's neck and decoder upscaling: normalise over channels at each pixel, eps
 * 1e-6) on a channels-last map IS ve_layernorm over the last dim: no separate op
 * (tests/unit/test_layernorm2d.c checks it against sam_model.LayerNorm2d's formula). */

/* img [B, C, H, W] -> patches [B, H/p, W/p, C*p*p], each row in (c, ky, kx) order (a Conv2d
 * weight [D, C, p, p] flattened). H and W must be multiples of p. Backward: the exact inverse. */
ve_tid ve_patchify(ve_graph *g, ve_tid img, int p);
/* Conv2d(C, D, kernel p, stride p) on an image: img [B, C, H, W], w [D, C, p, p], bias [D] or
 * VE_NONE -> tokens [B, H/p, W/p, D]. ve_patchify + ve_linear: gradients for w and bias (and
 * the image, cheaply, when it requires one). */
ve_tid ve_patch_embed(ve_graph *g, ve_tid img, ve_tid w, ve_tid bias);

/* x [B, H, W, C] -> [B, OH, OW, k*k*C], OH = (H + 2 pad - k) / stride + 1, each row the k x k
 * neighbourhood in (ky, kx, c) order, zeros outside x. Backward: the adjoint (a gather). */
ve_tid ve_im2col(ve_graph *g, ve_tid x, int k, int stride, int pad);
/* Conv2d on channels-last maps: x [B, H, W, Cin], w [Cout, Cin, k, k] (PyTorch's layout), bias
 * [Cout] or VE_NONE -> [B, OH, OW, Cout]. k = 1, stride 1, pad 0: one ve_linear. Otherwise
 * ve_im2col + ve_linear with w permuted to [Cout, k, k, Cin] (a small copy per run; gradients
 * flow back through it). The im2col buffer is B*OH*OW*k*k*Cin floats (bindings are limited to
 * maxStorageBufferRange: SAM's neck at 1024 x 1024 is 38 MB an image). */
ve_tid ve_conv2d(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias, int stride, int pad);
/* ConvTranspose2d with kernel = stride = k, no padding (the mask decoder's upscaling, k = 2):
 * x [B, H, W, Cin], w [Cin, Cout, k, k] (PyTorch's layout), bias [Cout] or VE_NONE
 * -> [B, k*H, k*W, Cout]. x @ w viewed as [Cin, k*k*Cout] (w permuted to [Cin, k, k, Cout]),
 * then a pixel shuffle (a ve_permute) and the bias (ve_add): gradients for x, w, bias. */
ve_tid ve_conv_transpose2d(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias);

/* Bilinear resize of the last two dims: x [.., H, W] -> [.., out_h, out_w], PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False, antialias=False) with sizes given (scale
 * in / out in fp32, source index clamped at 0 and at the last sample). Backward: the exact
 * adjoint, as a deterministic gather. Refuses up-scaling so steep that the backward's gather
 * would loop too long (over about 80x on both axes). */
ve_tid ve_resize_bilinear(ve_graph *g, ve_tid x, int64_t out_h, int64_t out_w);
/* Host-side, for load-time weight resizing (rel_pos tables): src [rows, cols] -> dst
 * [out_rows, cols], 1-D linear along the rows, align_corners=False (SAM_SPEC.md section 2):
 * s = (i + 0.5) * rows / out_rows - 0.5 clamped at 0, in fp32. Returns VE_OK or VE_FAIL. */
int ve_resize_rows_linear_host(const float *src, int64_t rows, int64_t cols, float *dst,
                               int64_t out_rows);

/* Random Fourier positional encoding (SAM's prompt encoder), forward only (G is a frozen
 * buffer; coordinates are data): coords [.., 2] in [0, 1], gauss [2, F] -> [.., 2F] =
 * [sin f, cos f], f = 2 pi ((2 c - 1) @ G), the argument rounded in fp32 as PyTorch does, sin
 * and cos accurate to ~1e-7 at any argument SAM produces. */
ve_tid ve_fourier_pe(ve_graph *g, ve_tid coords, ve_tid gauss);
/* The dense PE of an h x w grid: [h, w, 2F] (channels-last), pixel centres ((j + 0.5) / w,
 * (i + 0.5) / h), x first. */
ve_tid ve_fourier_pe_grid(ve_graph *g, ve_tid gauss, int64_t h, int64_t w);

/* Embedding lookup: table [V, C], idx [..] (indices stored as floats, exact up to 2^24; a
 * tensor, so they can change between runs without re-recording) -> [.., C]. An index outside
 * [0, V) gives a zero row and no gradient. Backward: dtable[v] (+)= sum of dy over the n with
 * idx[n] = v, deterministic (summed in n order), cost V * N * C: meant for small N (tokens);
 * N is limited to 16384. */
ve_tid ve_embedding(ve_graph *g, ve_tid table, ve_tid idx);

/* ---- fused attention (engine/ops/attention.c, attention_bwd.c) ---- */

/* One operand of attention: rows of tensor t (last dim = row length), heads * head_dim columns
 * starting at column col of each row. SAM's qkv Linear output [tokens, 3D] gives q = {qkv, 0},
 * k = {qkv, D}, v = {qkv, 2D} without copies. The row length and col must be multiples of 4
 * (texel reads). */
typedef struct {
    ve_tid t;
    int64_t col;
} ve_attn_operand;

typedef struct {
    int64_t batch;              /* independent images */
    int64_t q_tokens, k_tokens; /* per image (= grid_h * grid_w for the encoder), <= 32768 */
    int heads, head_dim;        /* head_dim a multiple of 4, at most 128 */
    float scale;                /* multiplies q.k */
    /* Encoder only (else 0 / VE_NONE): the token grid (raster order, row-major) and windows. */
    int64_t grid_h, grid_w;      /* q_tokens == k_tokens == grid_h * grid_w */
    int window;                  /* 0: global over the grid; else window x window blocks of the grid
                                    (grid_h, grid_w multiples of it: the caller pads), attended in
                                    place: no partition or unpartition copies */
    ve_tid rel_pos_h, rel_pos_w; /* both VE_NONE, or both [2L-1, head_dim] with L = window or the
                                    grid side (<= 64); bias = q_unscaled.Rh[qy-ky+L-1] +
                                    q_unscaled.Rw[qx-kx+L-1], (y, x) inside the window or grid;
                                    one table shared by all heads */
} ve_attention_opts;

/* softmax(scale * q k^T + bias) v per image, head (and window), computed with an online softmax:
 * the attention matrix is never stored. Returns out [batch*q_tokens, heads*head_dim], heads
 * merged (ready for the output projection). Saves each (query, head)'s log-sum-exp for the
 * backward, which writes dq, dk, dv into the columns of the operands' gradients (accumulating
 * correctly when they share one qkv tensor) and the rel-pos tables' gradients when needed. */
ve_tid ve_attention(ve_graph *g, ve_attn_operand q, ve_attn_operand k, ve_attn_operand v,
                    const ve_attention_opts *o);

/* ---- LoRA linear (engine/ops/lora.c) ---- */

/* One low-rank adapter on a linear: a [r, in], b [out_a, r] (PyTorch Linear weights, no bias),
 * adding (x a^T) b^T to the output columns col .. col + out_a - 1. */
typedef struct {
    ve_tid a;
    ve_tid b;
    int64_t col;
} ve_lora_adapter;
#define VE_LORA_MAX_ADAPTERS 2 /* one tape entry holds x, w, bias and two (a, b) pairs */

/* y = x w^T + bias, then y[:, col : col + out_a] += (x a^T) b^T for each adapter (no scaling:
 * SAMed's qkv is two adapters, q at col 0 and v at col 2D, out_a = D, r = 4). x [.., in],
 * w [out, in], bias [out] or VE_NONE -> y [.., out]. The adapter products are written straight
 * into y's column range (no full-size extra pass). Backward: dx, da, db always when needed; dw
 * and dbias only when they need gradients (a frozen w costs no kernels: LoRA's saving). */
ve_tid ve_linear_lora(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias, int n_adapters,
                      const ve_lora_adapter *ad);
/* Host-side init of an adapter's a [r, in]: Kaiming-uniform with a = sqrt(5), i.e.
 * U(-1/sqrt(in), 1/sqrt(in)), from a splitmix64 stream advanced in *rng_state (b starts at 0). */
void ve_lora_init_host(float *a, int64_t r, int64_t in, uint64_t *rng_state);

/* ---- SAMed's segmentation loss (engine/ops/seg_loss.c) ---- */

typedef struct {
    float ce_weight, dice_weight; /* SAMed: 0.2 and 0.8 (what a NULL opts gives) */
} ve_seg_loss_opts;

/* loss = ce_weight * CE + dice_weight * Dice, fused (softmax computed once per pixel, per-class
 * sums reduced in blocks then finished; the backward recomputes the softmax in one kernel).
 * logits [B, K, H, W] (class planes, background included, 2 <= K <= 32), labels [B, H, W]:
 * class indices as floats (a value not within 0.5 of a class 0..K-1 gives that pixel no CE term
 * and no one-hot, but it still counts in CE's mean). CE: mean over the B*H*W pixels of
 * -log softmax(logits)[label] (PyTorch CrossEntropyLoss). Dice (SAMed's DiceLoss, softmax=True):
 * mean over the K classes of 1 - (2 sum p_c t_c + 1e-5) / (sum p_c^2 + sum t_c^2 + 1e-5), sums
 * over the whole batch, t the one-hot label. Returns loss [1]; *ce_out and *dice_out (each may
 * be NULL) get the two terms ([1] each, differentiable too). Labels get no gradient. B*H*W is
 * limited to about 4M pixels (2^22). */
ve_tid ve_seg_loss(ve_graph *g, ve_tid logits, ve_tid labels, const ve_seg_loss_opts *o,
                   ve_tid *ce_out, ve_tid *dice_out);
/* Dice's smoothing term (the 1e-5 above). */
#define VE_SEG_LOSS_EPS 1e-5f
/* The per-class sums the loss keeps for its backward, [2K]: I_c = sum p_c t_c, then
 * U_c = sum p_c^2 + sum t_c^2 + VE_SEG_LOSS_EPS (VE_NONE when the graph has no seg_loss). Data
 * parallelism sums them over the ranks between the forward and the backward (ve_graph_cut). */
ve_tid ve_seg_loss_class_sums(const ve_graph *g);

#endif
