/* What a SAM or SAMed checkpoint holds, read from its tensor names and shapes alone. */
#ifndef SAM_PRESET_DETECT_H
#define SAM_PRESET_DETECT_H

#include "io/checkpoint.h"

#define SAM_MAX_DEPTH 64

typedef struct {
    /* "vit_b", "vit_l", "vit_h", "tiny" when the embed dim and depth match one (spec section
     * 1), else "custom" (heads unknown: shapes cannot tell them). */
    const char *preset;
    int embed_dim, depth, heads; /* heads from the preset table; 0 for "custom" */
    int has_image_encoder, has_prompt_encoder, has_mask_decoder;
    int n_global, global_blocks[SAM_MAX_DEPTH]; /* blocks whose rel_pos tables are not 2*14-1 */
    int n_mask_tokens;                          /* 0 without a mask decoder */
    int is_lora, lora_rank, lora_pairs;         /* SAMed LoRA: w_a_* / w_b_* count per kind */
} sam_ckpt_info;

/* Fills *info; fails (ve_error) when the file is neither a SAM state dict nor a SAMed LoRA
 * file, or when the shapes contradict each other (naming the key). */
int sam_detect_preset(const ve_checkpoint *ck, sam_ckpt_info *info);

#endif
