/* SAM's prompt encoder (SAM_SPEC.md section 3) as a graph of engine ops: points, boxes and an
 * optional low-res mask become sparse tokens [B, T, C] and a dense map [B, g, g, C], plus the
 * dense positional encoding of the embedding grid that the mask decoder uses.
 *
 * Labels are per-call data, and the five point tables (point_embeddings.0..3, not_a_point_embed)
 * are separate trainable parameters (SAMed trains the prompt encoder), so each token's table
 * row is added with one ve_embedding lookup per table: the lookup's index tensor holds 0 where
 * the token uses that table and -1 (a zero row, no gradient) elsewhere. A table gets a gradient
 * exactly when PyTorch's would: the point tables whenever points are given, the box tables
 * whenever a box is, the mask convs only with a mask input (AdamW skips parameters without a
 * gradient). Padding points (label -1) have their Fourier encoding zeroed by a per-call 0/1
 * multiplier. */
#ifndef SAM_PROMPT_ENCODER_H
#define SAM_PROMPT_ENCODER_H

#include "graph.h"
#include "sam/params.h"
#include "sam/preset.h"

/* The tables, in the order of sam_prompts.idx. */
enum { SAM_PT_NEG = 0, SAM_PT_POS, SAM_PT_CORNER0, SAM_PT_CORNER1, SAM_PT_NOT_A_POINT, SAM_PT_N };

typedef struct {
    sam_preset p;
    int img_size, grid;     /* model input side S; embedding grid g = S / patch */
    ve_tid gauss;           /* [2, C/2] frozen buffer */
    ve_tid table[SAM_PT_N]; /* each [1, C] */
    ve_tid no_mask;         /* [1, C] */
    /* mask_downscaling.{0,1,3,4,6}: conv k2 s2, LN2d, (GELU), conv k2 s2, LN2d, (GELU), conv 1x1 */
    ve_tid ds0_w, ds0_b, ds1_w, ds1_b, ds3_w, ds3_b, ds4_w, ds4_b, ds6_w, ds6_b;
    ve_tid dense_pe; /* set by sam_prompt_encoder_dense_pe, else VE_NONE (built per graph) */
} sam_prompt_encoder;

/* What one graph's prompts look like (fixed when the graph is built; values change per run). */
typedef struct {
    int batch;
    int n_points; /* points per image given by the caller; 0 for none */
    int has_box;  /* one box per image */
    int has_mask; /* a low-res mask input [B, 1, 4g, 4g] */
} sam_prompt_shape;

typedef struct {
    sam_prompt_shape s;
    int tokens;           /* T = n_points (+1 padding point without a box) + 2 * has_box */
    ve_tid coords;        /* input [B, T, 2]: normalised (x, y), written by sam_prompts_write */
    ve_tid keep;          /* input [B, T, C]: 0 rows for padding points, else 1 */
    ve_tid idx[SAM_PT_N]; /* input [B, T] per table, VE_NONE for tables these prompts never use */
    ve_tid mask;          /* input [B, 1, 4g, 4g], or VE_NONE */
    ve_tid sparse;        /* [B, T, C], or VE_NONE when T = 0 (SAMed) */
    ve_tid dense;         /* [B, g, g, C] from the mask, or VE_NONE: no_mask_embed broadcast */
    ve_tid no_mask_row;   /* [C] view of no_mask_embed (the decoder adds it when dense is none) */
    ve_tid dense_pe;      /* [g, g, C]: the image positional encoding */
} sam_prompts;

/* Declares prompt_encoder.* for input side img_size. trainable: VE_TRAINABLE tensors (SAMed
 * fine-tunes them); the Gaussian matrix is a buffer and always frozen. */
int sam_prompt_encoder_declare(ve_graph *g, const sam_preset *p, int img_size, int trainable,
                               sam_params *ps, sam_prompt_encoder *e);
/* The grid's positional encoding [g, g, C] as a kept tensor of its own, for graphs that compute
 * it once (it depends only on the frozen Gaussian matrix): sam_prompt_encoder_build then uses it
 * instead of appending its own. VE_NONE on failure. */
ve_tid sam_prompt_encoder_dense_pe(ve_graph *g, sam_prompt_encoder *e);
/* Appends the prompt encoder for prompts of shape s; fills out. */
int sam_prompt_encoder_build(ve_graph *g, const sam_prompt_encoder *e, const sam_prompt_shape *s,
                             sam_prompts *out);
/* Writes one call's prompts into the compiled graph (host side; coordinates are data):
 * points [B, n_points, 2] (x, y) in pixels of the S x S model input, labels [B, n_points]
 * (1 foreground, 0 background, -1 padding; other values add no table row, as in the official
 * code), boxes [B, 4] (x0, y0, x1, y1) in pixels, mask [B, 1, 4g, 4g] low-res logits. Pass NULL
 * for what the prompt shape does not have. */
int sam_prompts_write(ve_graph *g, const sam_prompt_encoder *e, const sam_prompts *pr,
                      const float *points, const float *labels, const float *boxes,
                      const float *mask);

#endif
