/* SAMed LoRA adapters merged into frozen weights for inference: W += B A (no alpha / r scaling,
 * as SAMed). The encoder's qkv adapters (w_a_* / w_b_*) and SAMed_s's mask-decoder adapters
 * (sa_*, cti_*, cit_*, fati_*: SAM_SPEC.md section 6, SAMed's
 * sam_lora_image_encoder_mask_decoder.py). */
#ifndef SAM_LORA_MERGE_H
#define SAM_LORA_MERGE_H

#include "graph.h"
#include "io/checkpoint.h"
#include "sam/image_encoder.h"
#include "sam/mask_decoder.h"

/* After the encoder's weights are loaded into g: each block's q and v adapters (w_a_NNN /
 * w_b_NNN, 2i: q of block i, 2i + 1: v) added to the q and v rows of its qkv weight. */
int sam_lora_merge_encoder(ve_graph *g, const sam_image_encoder *e, ve_checkpoint *lora);

/* After the decoder's weights are loaded into g: adds each adapter pair lora holds to its
 * q_proj / v_proj weight (read back from g, updated, written again). A file without decoder
 * adapters changes nothing; a partial or misshapen set fails naming the key. */
int sam_lora_merge_decoder(ve_graph *g, const sam_mask_decoder *d, ve_checkpoint *lora);

#endif
