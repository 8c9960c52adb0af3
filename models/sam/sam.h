/* SAM for inference, the parts beside the predictor (sam/predictor.h, the one prompting path):
 * which preset a checkpoint (and SAMed LoRA file) describe, and SAMed's input preprocessing. */
#ifndef SAM_SAM_H
#define SAM_SAM_H

#include "io/checkpoint.h"
#include "sam/preset.h"

/* The preset a checkpoint (and LoRA file, or NULL) describe: the builtin preset matching the
 * base checkpoint's encoder, with mask_outputs = the mask tokens of the decoder that will be
 * loaded (the LoRA file's when it has one). Fails naming the file when the base has no image
 * encoder, its size matches no builtin preset, no file has a mask decoder, or the LoRA file does
 * not fit the encoder (pairs != 2 * depth). */
int sam_resolve_preset(const ve_checkpoint *base, const ve_checkpoint *lora, sam_preset *out);

/* SAMed's input on the host: rgb01 (3 planes h x w of values in [0, 1]) stretched to 3 planes
 * of S x S, mean 0 std 1 (no padding: SAMed feeds square inputs). Bilinear, align_corners false:
 * SAMed itself zooms with cubic splines (scipy.ndimage.zoom order 3, corner-aligned), which this
 * approximates. */
int sam_samed_preprocess(const float *rgb01, int h, int w, int s, float *out);

#endif
