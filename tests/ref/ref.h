/* Plain-C references for the unit tests: float arrays in, double accumulation inside.
 * Each engineer keeps a clearly commented section of their own below. */
#ifndef REF_H
#define REF_H

#include <stddef.h>
#include <stdint.h>

/* ---- LayerNorm, softmax, reductions, AdamW (layernorm_ref.c, softmax_ref.c, reduce_ref.c,
 * adamw_ref.c). x is rows x cols, row-major. ---- */

/* y = (x - mean) * rstd * w + b per row, var = mean((x - mean)^2); w, b may be NULL.
 * mean, rstd ([rows]) may be NULL. */
void ref_layernorm_fwd(const float *x, const float *w, const float *b, float *y, float *mean,
                       float *rstd, int64_t rows, int64_t cols, float eps);
/* dx, dw, db (each may be NULL) from dy; dw and db are overwritten. */
void ref_layernorm_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw,
                       float *db, int64_t rows, int64_t cols, float eps);

void ref_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols);
void ref_softmax_bwd(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols);

/* out[r] = scale * sum_c x[r][c] (scale 1 for sum_rows, 1/cols for mean_rows). */
void ref_sum_rows_fwd(const float *x, float *out, int64_t rows, int64_t cols, double scale);
void ref_sum_rows_bwd(const float *dy, float *dx, int64_t rows, int64_t cols, double scale);
/* out[c] = sum_r x[r][c]. */
void ref_sum_cols_fwd(const float *x, float *out, int64_t rows, int64_t cols);

/* One PyTorch 1.13 AdamW step (_single_tensor_adamw) on fp32 arrays; hyperparameters are the
 * Python (double) values, scalars rounded to float where PyTorch hands them to fp32 kernels. */
void ref_adamw_step(float *param, const float *grad, float *m, float *v, int64_t n, double lr,
                    double beta1, double beta2, double eps, double weight_decay, int64_t step);

/* ---- matmul (matmul_ref.c) ---- */

/* The ve_matmul_desc contract: C[z][m][n] (+)= sum_k A(z,m,k) B(z,k,n) (+ bias[n]) where
 * element (z,m,k) of A is a[a_off + z*a_sb + m*a_sm + k*a_sk], likewise B and C. */
typedef struct {
    int64_t batch, m, n, k;
    int64_t a_off, a_sb, a_sm, a_sk;
    int64_t b_off, b_sb, b_sk, b_sn;
    int64_t c_off, c_sb, c_sm, c_sn;
    int accumulate;
} ref_matmul_layout;
void ref_matmul_strided(const float *a, const float *b, const float *bias, float *c,
                        const ref_matmul_layout *s);
/* The ve_matmul op on contiguous tensors: A [batch][m][k] ([batch][k][m] when trans_a),
 * B [batch][k][n] ([n][k] when trans_b; one B for all batches when b_shared), bias [n] or NULL,
 * C [batch][m][n]. The backward overwrites da, db, dbias (each may be NULL). */
void ref_matmul_fwd(const float *a, const float *b, const float *bias, float *c, int64_t batch,
                    int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, int b_shared);
void ref_matmul_bwd(const float *a, const float *b, const float *dc, float *da, float *db,
                    float *dbias, int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a,
                    int trans_b, int b_shared);

/* ---- elementwise, activations, permute (elementwise_ref.c, activation_ref.c,
 * permute_ref.c). n elements; b_cols == 0: b has n elements, else b has b_cols elements
 * repeated over rows of b_cols (n a multiple of it). Backward overwrites its outputs (any may be
 * NULL). ---- */

void ref_add_fwd(const float *a, const float *b, float *y, size_t n, size_t b_cols);
void ref_add_bwd(const float *dy, float *da, float *db, size_t n, size_t b_cols);
void ref_mul_fwd(const float *a, const float *b, float *y, size_t n, size_t b_cols);
void ref_mul_bwd(const float *a, const float *b, const float *dy, float *da, float *db, size_t n,
                 size_t b_cols);
void ref_scale_fwd(const float *a, float s, float *y, size_t n);
void ref_scale_bwd(const float *dy, float s, float *da, size_t n);

/* Exact GELU 0.5 x (1 + erf(x / sqrt 2)) in double (via erfc: accurate in the negative tail). */
void ref_gelu_fwd(const float *x, float *y, size_t n);
void ref_gelu_bwd(const float *x, const float *dy, float *dx, size_t n);
void ref_relu_fwd(const float *x, float *y, size_t n);
void ref_relu_bwd(const float *x, const float *dy, float *dx, size_t n);

/* y = x.permute(perm) contiguous; shape is x's (ndim <= 4). bwd: dx = dy permuted back. */
void ref_permute_fwd(const float *x, float *y, int ndim, const int64_t *shape, const int *perm);
void ref_permute_bwd(const float *dy, float *dx, int ndim, const int64_t *shape,
                     const int *perm);

/* ---- fused attention (attention_ref.c) ---- */

/* The ve_attention contract (engine/ops.h) on plain arrays. q, k, v point at the operand's first
 * column; row r of q is q + r * q_stride (likewise k, v); heads are head_dim-column blocks.
 * grid_h == 0: attention over all k_tokens (decoder style). Otherwise tokens are a grid_h x
 * grid_w raster, attending inside window x window blocks (window 0: the whole grid);
 * rel_h [2*Lh-1][head_dim] and rel_w [2*Lw-1][head_dim] (NULL for none), Lh, Lw = window or the
 * grid sides. out [batch*q_tokens][heads*head_dim]; lse [batch*q_tokens][heads] (may be NULL). */
typedef struct {
    int64_t batch, q_tokens, k_tokens;
    int heads, head_dim;
    float scale;
    int64_t grid_h, grid_w;
    int window;
    int64_t q_stride, k_stride, v_stride;
} ref_attn_shape;
void ref_attention_fwd(const ref_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *rel_h, const float *rel_w, float *out, float *lse);
/* ADDS the gradients to dq, dk, dv (operand layouts), drel_h, drel_w (each may be NULL), so q,
 * k, v sharing one array (SAM's qkv) get their sum. */
void ref_attention_bwd(const ref_attn_shape *s, const float *q, const float *k, const float *v,
                       const float *rel_h, const float *rel_w, const float *dout, float *dq,
                       float *dk, float *dv, float *drel_h, float *drel_w);

/* ---- grid pad/crop (grid_ref.c): channels-last [b, ih, iw, c] -> [b, oh, ow, c], zeros
 * outside the input, top-left kept. ---- */
void ref_grid_resize_fwd(const float *x, float *y, int64_t b, int64_t ih, int64_t iw, int64_t c,
                         int64_t oh, int64_t ow);
void ref_grid_resize_bwd(const float *dy, float *dx, int64_t b, int64_t ih, int64_t iw,
                         int64_t c, int64_t oh, int64_t ow);

/* ---- SAM vision ops (conv_ref.c, resize_ref.c, fourier_pe_ref.c, embedding_ref.c).
 * Feature maps channels-last [B, H, W, C], images and planes channels-first, PyTorch weight
 * layouts. Backward functions overwrite their outputs (any may be NULL). ---- */

/* Conv2d: x [B, H, W, Cin], w [Cout, Cin, k, k], bias [Cout] or NULL -> y [B, OH, OW, Cout]. */
void ref_conv2d_fwd(const float *x, const float *w, const float *bias, float *y, int64_t b,
                    int64_t h, int64_t wd, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                    int64_t pad);
void ref_conv2d_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw,
                    float *dbias, int64_t b, int64_t h, int64_t wd, int64_t cin, int64_t cout,
                    int64_t k, int64_t stride, int64_t pad);
/* Conv2d(C, D, p, stride p) on img [B, C, H, W] -> y [B, H/p, W/p, D]; w [D, C, p, p]. */
void ref_patch_embed_fwd(const float *img, const float *w, const float *bias, float *y,
                         int64_t b, int64_t c, int64_t h, int64_t wd, int64_t d, int64_t p);
void ref_patch_embed_bwd(const float *img, const float *w, const float *dy, float *dimg,
                         float *dw, float *dbias, int64_t b, int64_t c, int64_t h, int64_t wd,
                         int64_t d, int64_t p);
/* ConvTranspose2d, kernel = stride = k: x [B, H, W, Cin], w [Cin, Cout, k, k] -> y [B, kH, kW,
 * Cout]. */
void ref_conv_transpose2d_fwd(const float *x, const float *w, const float *bias, float *y,
                              int64_t b, int64_t h, int64_t wd, int64_t cin, int64_t cout,
                              int64_t k);
void ref_conv_transpose2d_bwd(const float *x, const float *w, const float *gy, float *gx,
                              float *gw, float *gbias, int64_t b, int64_t h, int64_t wd,
                              int64_t cin, int64_t cout, int64_t k);
/* SAM's LayerNorm2d on channels-first x [B, C, H*W] (sam_model.LayerNorm2d's formula). */
void ref_layernorm2d_nchw_fwd(const float *x, const float *w, const float *bias, float *y,
                              int64_t b, int64_t c, int64_t hw, float eps);

/* Bilinear resize of planes [planes, h, w] -> [planes, oh, ow], align_corners=False, and its
 * adjoint; the 1-D linear resize of a [rows, cols] table along its rows. */
void ref_resize_bilinear_fwd(const float *x, float *y, int64_t planes, int64_t h, int64_t w,
                             int64_t oh, int64_t ow);
void ref_resize_bilinear_bwd(const float *dy, float *dx, int64_t planes, int64_t h, int64_t w,
                             int64_t oh, int64_t ow);
void ref_resize_rows_linear(const float *src, int64_t rows, int64_t cols, float *dst,
                            int64_t out_rows);

/* Fourier PE: coords [n, 2], g [2, f] -> y [n, 2f]; the grid version y [h, w, 2f]. */
void ref_fourier_pe_fwd(const float *coords, const float *g, float *y, int64_t n, int64_t f);
void ref_fourier_pe_grid(const float *g, float *y, int64_t h, int64_t w, int64_t f);

/* Embedding: table [v, c], idx [n] (floats; outside [0, v) -> zero row, no gradient). */
void ref_embedding_fwd(const float *table, const float *idx, float *y, int64_t v, int64_t c,
                       int64_t n);
void ref_embedding_bwd(const float *idx, const float *dy, float *dtable, int64_t v, int64_t c,
                       int64_t n);

/* ---- LoRA linear (lora_ref.c) ----
 * x [rows, in], w [out, in], bias [out] or NULL, y [rows, out]; each adapter a [r, in],
 * b [out_a, r], adding (x a^T) b^T to columns col .. col + out_a - 1 of y. The backward
 * overwrites dx, dw, dbias, da[i], db[i] (any may be NULL; da, db arrays of n_ad pointers). */
typedef struct {
    const float *a, *b;
    int64_t r, out_a, col;
} ref_lora_adapter;
void ref_lora_fwd(const float *x, const float *w, const float *bias, int n_ad,
                  const ref_lora_adapter *ad, float *y, int64_t rows, int64_t in, int64_t out);
void ref_lora_bwd(const float *x, const float *w, const float *dy, int n_ad,
                  const ref_lora_adapter *ad, float *dx, float *dw, float *dbias, float **da,
                  float **db, int64_t rows, int64_t in, int64_t out);

/* ---- SAMed's segmentation loss (seg_loss_ref.c) ----
 * logits [b, k, hw] (class planes), labels [b, hw] (class indices as floats; a value that does
 * not round to 0..k-1 gives no CE term and no one-hot). out = {w_ce CE + w_dice Dice, CE, Dice}
 * with CE the mean over b*hw pixels of -log softmax[label] and Dice the mean over the k classes
 * of 1 - (2 sum p t + eps) / (sum p^2 + sum t^2 + eps) over the whole batch. The backward
 * overwrites dlogits from the gradients dout of the three outputs. */
#define REF_SEG_LOSS_EPS 1e-5
void ref_seg_loss_fwd(const float *logits, const float *labels, int64_t b, int64_t k, int64_t hw,
                      double w_ce, double w_dice, float out[3]);
void ref_seg_loss_bwd(const float *logits, const float *labels, const float dout[3], float *dlogits,
                      int64_t b, int64_t k, int64_t hw, double w_ce, double w_dice);

#endif
