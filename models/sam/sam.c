/* What a SAM checkpoint (and SAMed LoRA file) describe, and SAMed's input preprocessing: the
 * helpers shared by the predictor (sam/predictor.h) and the apps. */
#include "sam/sam.h"

#include <stdlib.h>

#include "ops.h"
#include "sam/preset_detect.h"
#include "status.h"

int sam_resolve_preset(const ve_checkpoint *base, const ve_checkpoint *lora, sam_preset *out) {
    sam_ckpt_info bi, li = {0};
    if (sam_detect_preset(base, &bi) != VE_OK)
        return ve_fail_context("%s: ", ve_checkpoint_path(base));
    if (!bi.has_image_encoder)
        return ve_fail("%s: no image_encoder.* tensors (a SAM checkpoint is needed as the base)",
                       ve_checkpoint_path(base));
    if (sam_preset_builtin(bi.preset, out) != VE_OK)
        return ve_fail("%s: an image encoder of embed dim %d and depth %d matches no builtin "
                       "preset (vit_b, vit_l, vit_h, tiny)",
                       ve_checkpoint_path(base), bi.embed_dim, bi.depth);
    int tokens = bi.has_mask_decoder ? bi.n_mask_tokens : 0;
    if (lora) {
        if (sam_detect_preset(lora, &li) != VE_OK)
            return ve_fail_context("%s: ", ve_checkpoint_path(lora));
        if (!li.is_lora)
            return ve_fail("%s: no w_a_* / w_b_* tensors: not a SAMed LoRA file",
                           ve_checkpoint_path(lora));
        if (li.embed_dim != bi.embed_dim || li.lora_pairs != 2 * bi.depth)
            return ve_fail("%s: LoRA for %d blocks of dim %d, but %s's encoder has %d blocks of "
                           "dim %d",
                           ve_checkpoint_path(lora), li.lora_pairs / 2, li.embed_dim,
                           ve_checkpoint_path(base), bi.depth, bi.embed_dim);
        if (li.has_mask_decoder) tokens = li.n_mask_tokens;
    }
    if (tokens < 1)
        return ve_fail("%s: no mask decoder (mask_decoder.mask_tokens.weight) to load",
                       ve_checkpoint_path(lora ? lora : base));
    out->mask_outputs = tokens;
    return VE_OK;
}

int sam_samed_preprocess(const float *rgb01, int h, int w, int s, float *out) {
    float *tmp = malloc(sizeof(float) * (size_t)s * (size_t)w);
    if (!tmp) return ve_fail("out of host memory preprocessing a %dx%d image", w, h);
    int rc = VE_OK;
    /* Separable: rows (h -> S) on whole planes, then each row (w -> S). */
    for (int c = 0; c < 3 && rc == VE_OK; c++) {
        rc = ve_resize_rows_linear_host(rgb01 + (size_t)c * h * w, h, w, tmp, s);
        for (int y = 0; y < s && rc == VE_OK; y++)
            rc = ve_resize_rows_linear_host(tmp + (size_t)y * w, w, 1,
                                            out + ((size_t)c * s + y) * s, s);
    }
    free(tmp);
    return rc;
}
