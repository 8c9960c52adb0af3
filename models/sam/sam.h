/* The whole SAM for inference as one object: declares and builds the image encoder, the prompt
 * encoder and the mask decoder (all frozen) plus SAM's postprocessing in one graph, loads a
 * checkpoint (optionally with a SAMed LoRA file merged in), runs one image with its prompts and
 * hands back host arrays. Callers (apps) never see the graph. Batch 1. */
#ifndef SAM_SAM_H
#define SAM_SAM_H

#include <stddef.h>

#include "device.h"
#include "io/checkpoint.h"
#include "sam/preset.h"
#include "sam/prompt_encoder.h"

/* What one graph computes (fixed when it is built). */
typedef struct {
    int img_size;     /* model input side S (a multiple of the patch size) */
    int in_h, in_w;   /* the image's resized size inside the S x S input: masks are cropped to
                         it (S, S when the image fills the input, as SAMed's does) */
    int out_h, out_w; /* the original image's size: masks come back at this size */
    int n_points;     /* point prompts; 0 for none */
    int has_box, has_mask;
} sam_shape;

typedef struct sam_model sam_model;

/* The preset a checkpoint (and LoRA file, or NULL) describe: the builtin preset matching the
 * base checkpoint's encoder, with mask_outputs = the mask tokens of the decoder that will be
 * loaded (the LoRA file's when it has one). Fails naming the file when the base has no image
 * encoder, its size matches no builtin preset, no file has a mask decoder, or the LoRA file does
 * not fit the encoder (pairs != 2 * depth). */
int sam_resolve_preset(const ve_checkpoint *base, const ve_checkpoint *lora, sam_preset *out);

/* Declares, builds and compiles the graph on dev. NULL (ve_error) on failure. */
sam_model *sam_model_create(ve_device *dev, const sam_preset *p, const sam_shape *s);
void sam_model_destroy(sam_model *m);

/* Loads the weights: everything from base; with lora, its prompt_encoder.* / mask_decoder.*
 * tensors replace the base's (keys it lacks come from base) and each block's LoRA pair is merged
 * into its qkv weight on the host: W[0:D] += B_q A_q, W[2D:3D] += B_v A_v, with w_a/w_b index 2i
 * = q of block i and 2i + 1 = v (SAM_SPEC.md section 6; no alpha / r scaling, as SAMed). */
int sam_model_load(sam_model *m, ve_checkpoint *base, ve_checkpoint *lora);

/* One run. image: 3 planes of S x S, already preprocessed (normalised, padded). points [n, 2]
 * (x, y) and labels [n] in pixels of the S x S input, box [4] likewise, mask [4g, 4g] low-res
 * logits: NULL for what the shape does not have. */
int sam_model_run(sam_model *m, const float *image, const float *points, const float *labels,
                  const float *box, const float *mask);

int sam_model_grid(const sam_model *m);      /* embedding grid side g = S / patch */
int sam_model_outputs(const sam_model *m);   /* mask tokens M */
int sam_model_embed_dim(const sam_model *m); /* image embedding channels C */

/* After a run: the masks' logits at the original size [M, out_h, out_w]; the low-res logits
 * [M, 4g, 4g]; the predicted IoUs [M]; the image embedding [C, g, g] (the official layout).
 * n is the element count and must match. */
int sam_model_read_masks(sam_model *m, float *dst, size_t n);
int sam_model_read_lowres(sam_model *m, float *dst, size_t n);
int sam_model_read_iou(sam_model *m, float *dst, size_t n);
int sam_model_read_embedding(sam_model *m, float *dst, size_t n);

/* SAMed's input on the host: rgb01 (3 planes h x w of values in [0, 1]) stretched to 3 planes
 * of S x S, mean 0 std 1 (no padding: SAMed feeds square inputs). Bilinear, align_corners false:
 * SAMed itself zooms with cubic splines (scipy.ndimage.zoom order 3, corner-aligned), which this
 * approximates. */
int sam_samed_preprocess(const float *rgb01, int h, int w, int s, float *out);

#endif
