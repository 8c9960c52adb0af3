/* SAM's image encoder (ViT with windowed and global attention, decomposed relative positions,
 * and the convolutional neck) as a graph of engine ops. */
#ifndef SAM_IMAGE_ENCODER_H
#define SAM_IMAGE_ENCODER_H

#include "graph.h"
#include "sam/params.h"
#include "sam/preset.h"

typedef struct {
    ve_tid norm1_w, norm1_b, qkv_w, qkv_b, rel_h, rel_w, proj_w, proj_b;
    ve_tid norm2_w, norm2_b, lin1_w, lin1_b, lin2_w, lin2_b;
    int window; /* 0 for global blocks */
    /* SAMed's LoRA on q (0) and v (1) of qkv: a [r, D], b [D, r] (VE_NONE without LoRA). */
    ve_tid lora_a[2], lora_b[2];
} sam_block;

/* How the encoder trains: frozen (SAMed's default, all zero), fully (every tensor trainable),
 * and/or with LoRA adapters of rank lora_rank on the qkv of the blocks flagged in lora_blocks
 * (NULL: every block). Adapter keys are SAMed's: w_a_NNN / w_b_NNN with index 2j (q) and 2j + 1
 * (v) for the j-th adapted block. */
typedef struct {
    int trainable;
    int lora_rank;
    const unsigned char *lora_blocks;
} sam_encoder_train;

typedef struct {
    sam_preset p;
    int img_size, grid; /* input side S and token grid side S / patch */
    ve_tid patch_w, patch_b, pos_embed;
    sam_block blk[SAM_MAX_BLOCKS];
    ve_tid neck0_w, neck1_w, neck1_b, neck2_w, neck3_w, neck3_b;
} sam_image_encoder;

/* Declares the encoder's parameters for input side img_size (a multiple of the patch size):
 * pos_embed and rel_pos tables get this size's shapes and are resized from the checkpoint's at
 * load time. The encoder is frozen (VE_PARAM) as in SAMed. */
int sam_image_encoder_declare(ve_graph *g, const sam_preset *p, int img_size, sam_params *ps,
                              sam_image_encoder *e);
/* The same, for training as t says (NULL: frozen). */
int sam_image_encoder_declare_train(ve_graph *g, const sam_preset *p, int img_size,
                                    const sam_encoder_train *t, sam_params *ps,
                                    sam_image_encoder *e);
/* image [B, 3, S, S] (normalised) -> image embedding [B, S/16, S/16, prompt_dim] channels-last. */
ve_tid sam_image_encoder_build(ve_graph *g, const sam_image_encoder *e, ve_tid image);

#endif
