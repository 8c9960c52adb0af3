/* SAM preset detection from a checkpoint's shapes (SAM_SPEC sections 1 and 6): embed dim from
 * the patch embedding (or a LoRA A matrix), depth from the highest block index, global blocks
 * from the rel_pos table lengths, mask tokens from the decoder. Heads cannot be read from any
 * shape, so they come from the official preset with that embed dim and depth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sam/preset_detect.h"
#include "status.h"

#define WINDOW 14

static const struct {
    const char *name;
    int embed, depth, heads;
} k_presets[] = {
    {"vit_b", 768, 12, 12},
    {"vit_l", 1024, 24, 16},
    {"vit_h", 1280, 32, 16},
    {"tiny", 64, 6, 2},
    {"brain", 128, 4, 4},
};

/* The tensor called name, which must be 2-D of (d0, d1) where those are >= 0. */
static const ve_ckpt_tensor *need2(const ve_checkpoint *ck, const char *name, int64_t d0,
                                   int64_t d1) {
    const ve_ckpt_tensor *t = ve_checkpoint_find(ck, name);
    if (!t) {
        ve_fail("SAM checkpoint: '%s' is missing", name);
        return NULL;
    }
    if (t->ndim != 2 || (d0 >= 0 && t->shape[0] != d0) || (d1 >= 0 && t->shape[1] != d1)) {
        ve_fail("SAM checkpoint: '%s' has %d dims (%lld x %lld), expected %lld x %lld", name,
                t->ndim, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0),
                (long long)d0, (long long)d1);
        return NULL;
    }
    return t;
}

/* Block index from "image_encoder.blocks.<i>.", or -1. */
static int block_index(const char *name) {
    static const char prefix[] = "image_encoder.blocks.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) return -1;
    const char *p = name + sizeof prefix - 1;
    char *end;
    long i = strtol(p, &end, 10);
    if (end == p || *end != '.' || *p < '0' || *p > '9') return -1;
    return i > 1000000 ? 1000000 : (int)i;
}

static int image_encoder(const ve_checkpoint *ck, sam_ckpt_info *info) {
    const ve_ckpt_tensor *pe = ve_checkpoint_find(ck, "image_encoder.patch_embed.proj.weight");
    if (!pe) return VE_OK;
    if (pe->ndim != 4 || pe->shape[1] != 3 || pe->shape[0] <= 0 || pe->shape[0] > 65536)
        return ve_fail("SAM checkpoint: image_encoder.patch_embed.proj.weight is not D x 3 x P "
                       "x P");
    info->has_image_encoder = 1;
    info->embed_dim = (int)pe->shape[0];
    for (int i = 0; i < ve_checkpoint_count(ck); i++) {
        int b = block_index(ve_checkpoint_tensor(ck, i)->name);
        if (b >= SAM_MAX_DEPTH)
            return ve_fail("SAM checkpoint: '%s': block index beyond %d",
                           ve_checkpoint_tensor(ck, i)->name, SAM_MAX_DEPTH - 1);
        if (b + 1 > info->depth) info->depth = b + 1;
    }
    int64_t d = info->embed_dim;
    for (int b = 0; b < info->depth; b++) {
        char name[96];
        snprintf(name, sizeof name, "image_encoder.blocks.%d.attn.qkv.weight", b);
        if (!need2(ck, name, 3 * d, d)) return VE_FAIL;
        snprintf(name, sizeof name, "image_encoder.blocks.%d.attn.rel_pos_h", b);
        const ve_ckpt_tensor *rel = need2(ck, name, -1, -1);
        if (!rel) return VE_FAIL;
        if (rel->shape[0] != 2 * WINDOW - 1) info->global_blocks[info->n_global++] = b;
    }
    return VE_OK;
}

/* SAMed LoRA: w_a_000.. (r x D) and w_b_000.. (D x r), q and v of each block. */
static int lora(const ve_checkpoint *ck, sam_ckpt_info *info) {
    int n_a = 0, n_b = 0;
    for (int i = 0; i < ve_checkpoint_count(ck); i++) {
        const char *name = ve_checkpoint_tensor(ck, i)->name;
        if (!strncmp(name, "w_a_", 4)) n_a++;
        if (!strncmp(name, "w_b_", 4)) n_b++;
    }
    if (n_a == 0 && n_b == 0) return VE_OK;
    if (n_a != n_b || n_a % 2)
        return ve_fail("SAMed LoRA: %d w_a_* and %d w_b_* tensors (expected one q and one v "
                       "pair per block)",
                       n_a, n_b);
    const ve_ckpt_tensor *a0 = need2(ck, "w_a_000", -1, -1);
    if (!a0) return VE_FAIL;
    int64_t r = a0->shape[0], d = a0->shape[1];
    for (int i = 0; i < n_a; i++) {
        char name[16];
        snprintf(name, sizeof name, "w_a_%03d", i);
        if (!need2(ck, name, r, d)) return VE_FAIL;
        snprintf(name, sizeof name, "w_b_%03d", i);
        if (!need2(ck, name, d, r)) return VE_FAIL;
    }
    if (info->has_image_encoder && (d != info->embed_dim || n_a / 2 != info->depth))
        return ve_fail("SAMed LoRA: %d blocks of dim %lld, the image encoder has %d of %d", n_a / 2,
                       (long long)d, info->depth, info->embed_dim);
    info->is_lora = 1;
    info->lora_rank = (int)r;
    info->lora_pairs = n_a;
    info->embed_dim = (int)d;
    info->depth = n_a / 2;
    return VE_OK;
}

int sam_detect_preset(const ve_checkpoint *ck, sam_ckpt_info *info) {
    memset(info, 0, sizeof *info);
    if (image_encoder(ck, info) != VE_OK || lora(ck, info) != VE_OK) return VE_FAIL;
    info->has_prompt_encoder =
        ve_checkpoint_find(ck, "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix") !=
        NULL;
    if (ve_checkpoint_find(ck, "mask_decoder.mask_tokens.weight")) {
        const ve_ckpt_tensor *m = need2(ck, "mask_decoder.mask_tokens.weight", -1, -1);
        if (!m) return VE_FAIL;
        info->has_mask_decoder = 1;
        info->n_mask_tokens = (int)m->shape[0];
    }
    if (!info->has_image_encoder && !info->is_lora && !info->has_mask_decoder)
        return ve_fail("not a SAM checkpoint: no image_encoder.*, w_a_* or mask_decoder.* "
                       "tensors");
    info->preset = info->embed_dim ? "custom" : "none";
    for (size_t p = 0; p < sizeof k_presets / sizeof k_presets[0]; p++)
        if (k_presets[p].embed == info->embed_dim && k_presets[p].depth == info->depth) {
            info->preset = k_presets[p].name;
            info->heads = k_presets[p].heads;
        }
    return VE_OK;
}
