/* The predictor's weights (models/sam/predictor.c): loading the image encoder's into its graph
 * (with a SAMed LoRA file's qkv adapters merged), and host copies of the prompt encoder's and
 * mask decoder's, captured once so that each new decoder graph (one per prompt shape) loads
 * without the checkpoint files. Weights come from checkpoints, or from the PyTorch-style random
 * initialisation (sam_param_init) when rng is not NULL. */
#ifndef SAM_PREDICTOR_WEIGHTS_H
#define SAM_PREDICTOR_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "graph.h"
#include "io/checkpoint.h"
#include "sam/image_encoder.h"
#include "sam/params.h"
#include "sam/preset.h"

/* Source of the weights: base (+ lora) checkpoints, or rng (random, base and lora NULL). */
typedef struct {
    ve_checkpoint *base, *lora;
    uint64_t *rng;
} sam_weight_source;

/* Writes the encoder's parameters ps into the compiled graph g: everything from base; with lora,
 * each block's q / v adapter pair merged into its qkv weight on the host (W[0:D] += B_q A_q,
 * W[2D:3D] += B_v A_v; w_a/w_b index 2i = q of block i, 2i + 1 = v; no alpha / r scaling, as
 * SAMed). */
int sam_encoder_weights_load(ve_graph *g, const sam_image_encoder *e, const sam_params *ps,
                             const sam_weight_source *src);

typedef struct {
    char key[96];
    float *v;
    size_t n;
} sam_host_tensor;

typedef struct {
    sam_host_tensor *t;
    int n;
} sam_host_weights;

/* Builds a throwaway prompt encoder + mask decoder graph for input side img_size, loads it
 * (prompt_encoder.* / mask_decoder.* from lora where it has the key, else base; SAMed_s decoder
 * adapters merged by sam_lora_merge_decoder) and reads every parameter back into out. */
int sam_decoder_weights_capture(ve_device *dev, const sam_preset *p, int img_size,
                                const sam_weight_source *src, sam_host_weights *out);
/* Writes the captured copies into the compiled graph g's parameters ps (by key; every one of ps
 * must have a copy of its size). */
int sam_decoder_weights_write(ve_graph *g, const sam_params *ps, const sam_host_weights *w);
void sam_host_weights_free(sam_host_weights *w);

#endif
