/* SAM's mask decoder (SAM_SPEC.md section 4) as a graph of engine ops: the two-way transformer
 * over [iou token; M mask tokens; sparse prompts] and the image embedding, the upscaling, the
 * hypernetwork MLPs and the IoU head. Outputs all M low-res mask logits and IoU predictions;
 * the caller selects SAM's (multimask 1..3, single 0) or keeps all (SAMed).
 *
 * The engine has no concatenation op: the token set is assembled, and the mask/IoU token rows
 * split off and the hypernetwork outputs stacked, with ve_embedding gathers whose index tables
 * are structural constants (sam_consts, written by sam_mask_decoder_write_consts after the graph
 * is compiled). Gathers are differentiable in their table, so gradients reach iou_token,
 * mask_tokens and the prompts exactly. */
#ifndef SAM_MASK_DECODER_H
#define SAM_MASK_DECODER_H

#include "graph.h"
#include "sam/consts.h"
#include "sam/params.h"
#include "sam/preset.h"
#include "sam/prompt_encoder.h"

#define SAM_MLP_MAX_LAYERS 16

typedef struct {
    ve_tid q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
    ve_tid lora_a[2], lora_b[2]; /* SAMed_s adapters on q_proj [0] and v_proj [1], or VE_NONE */
    int internal; /* projection width: prompt_dim, or prompt_dim / downsample for cross-attention */
} sam_dec_attn;

typedef struct {
    sam_dec_attn self_attn, t2i, i2t; /* token self, token -> image, image -> token */
    ve_tid norm_w[4], norm_b[4];      /* norm1..norm4 */
    ve_tid lin1_w, lin1_b, lin2_w, lin2_b;
} sam_twoway_layer;

typedef struct {
    int n; /* layers; ReLU between them */
    ve_tid w[SAM_MLP_MAX_LAYERS], b[SAM_MLP_MAX_LAYERS];
} sam_mlp;

typedef struct {
    sam_preset p;
    int grid; /* embedding grid side g */
    sam_twoway_layer layer[SAM_MAX_BLOCKS];
    sam_dec_attn final_attn;
    ve_tid norm_final_w, norm_final_b;
    ve_tid iou_token, mask_tokens;                   /* [1, C], [M, C] */
    ve_tid up0_w, up0_b, up1_w, up1_b, up3_w, up3_b; /* output_upscaling.{0,1,3} */
    sam_mlp *hyper;                                  /* M hypernetwork MLPs (malloc'd) */
    sam_mlp iou_head;
    sam_consts consts; /* gather index tables made by build */
} sam_mask_decoder;

typedef struct {
    ve_tid masks; /* [B, M, 4g, 4g] low-res logits, channels-first planes */
    ve_tid iou;   /* [B, M] */
} sam_decoder_out;

/* Declares mask_decoder.* (M = p->mask_outputs mask tokens) for input side img_size.
 * trainable: VE_TRAINABLE tensors (SAMed fine-tunes the decoder). Free with
 * sam_mask_decoder_free. */
int sam_mask_decoder_declare(ve_graph *g, const sam_preset *p, int img_size, int trainable,
                             sam_params *ps, sam_mask_decoder *d);
/* image_emb [B, g, g, C] channels-last (sam_image_encoder_build's output, or an input) and the
 * prompts of the same batch -> out. Build once per graph. */
int sam_mask_decoder_build(ve_graph *g, sam_mask_decoder *d, ve_tid image_emb,
                           const sam_prompts *pr, sam_decoder_out *out);
/* After ve_graph_compile: writes the gather index tables (once; runs do not change them). */
int sam_mask_decoder_write_consts(ve_graph *g, const sam_mask_decoder *d);
void sam_mask_decoder_free(sam_mask_decoder *d);

/* SAMed_s (sam_lora_image_encoder_mask_decoder.py): the two-way transformer frozen, LoRA of rank
 * `rank` on q_proj and v_proj of every attention in it (keys of sam/lora_keys.h, declared after
 * the base tensors; A and B trainable), the rest of the decoder (tokens, upscaling,
 * hypernetworks, IoU head) trainable. */
int sam_mask_decoder_declare_lora(ve_graph *g, const sam_preset *p, int img_size, int rank,
                                  sam_params *ps, sam_mask_decoder *d);

#endif
