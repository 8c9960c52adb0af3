#include "sam/sam.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sam/image_encoder.h"
#include "sam/mask_decoder.h"
#include "sam/params.h"
#include "sam/preset_detect.h"
#include "status.h"

struct sam_model {
    ve_graph *g;
    sam_preset p;
    sam_shape s;
    int grid;
    sam_params ps;
    sam_image_encoder enc;
    sam_prompt_encoder pe;
    sam_mask_decoder dec;
    sam_prompts pr;
    sam_decoder_out out;
    ve_tid image, emb, masks;
};

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

static int build(sam_model *m) {
    ve_graph *g = m->g;
    const sam_shape *s = &m->s;
    const int64_t S = s->img_size, M = m->p.mask_outputs;
    int64_t is[4] = {1, 3, S, S};
    m->image = ve_tensor(g, VE_INPUT, "image", 4, is);
    if (m->image == VE_NONE ||
        sam_image_encoder_declare(g, &m->p, s->img_size, &m->ps, &m->enc) != VE_OK ||
        (m->emb = sam_image_encoder_build(g, &m->enc, m->image)) == VE_NONE)
        return VE_FAIL;
    sam_prompt_shape ps = {1, s->n_points, s->has_box, s->has_mask};
    if (sam_prompt_encoder_declare(g, &m->p, s->img_size, 0, &m->ps, &m->pe) != VE_OK ||
        sam_mask_decoder_declare(g, &m->p, s->img_size, 0, &m->ps, &m->dec) != VE_OK ||
        sam_prompt_encoder_build(g, &m->pe, &ps, &m->pr) != VE_OK ||
        sam_mask_decoder_build(g, &m->dec, m->emb, &m->pr, &m->out) != VE_OK)
        return VE_FAIL;
    /* The official postprocessing: logits up to S x S, crop the padding (the planes viewed as a
     * channels-last grid with one channel), then to the original size. */
    ve_tid x = ve_resize_bilinear(g, m->out.masks, S, S);
    if (x != VE_NONE && (s->in_h != S || s->in_w != S)) {
        int64_t v[4] = {M, S, S, 1}, b[4] = {1, M, s->in_h, s->in_w};
        x = ve_reshape(g, x, 4, v);
        if (x != VE_NONE) x = ve_grid_resize(g, x, s->in_h, s->in_w);
        if (x != VE_NONE) x = ve_reshape(g, x, 4, b);
    }
    if (x != VE_NONE && (s->out_h != s->in_h || s->out_w != s->in_w))
        x = ve_resize_bilinear(g, x, s->out_h, s->out_w);
    if (x == VE_NONE) return VE_FAIL;
    m->masks = x;
    ve_keep(g, m->emb);
    ve_keep(g, m->out.masks);
    ve_keep(g, m->out.iou);
    ve_keep(g, m->masks);
    return ve_graph_compile(g, NULL);
}

sam_model *sam_model_create(ve_device *dev, const sam_preset *p, const sam_shape *s) {
    if (s->img_size < p->patch_size || s->img_size % p->patch_size || s->in_h < 1 || s->in_w < 1 ||
        s->in_h > s->img_size || s->in_w > s->img_size || s->out_h < 1 || s->out_w < 1 ||
        s->n_points < 0) {
        ve_fail("SAM: bad shape: input %d (multiple of %d), resized %dx%d, output %dx%d, %d "
                "points",
                s->img_size, p->patch_size, s->in_h, s->in_w, s->out_h, s->out_w, s->n_points);
        return NULL;
    }
    sam_model *m = calloc(1, sizeof *m);
    if (!m) {
        ve_fail("SAM: out of host memory");
        return NULL;
    }
    m->p = *p;
    m->s = *s;
    m->grid = s->img_size / p->patch_size;
    m->g = ve_graph_create(dev);
    if (!m->g || build(m) != VE_OK) {
        ve_fail_context("building SAM (%s, input %d): ", p->name, s->img_size);
        sam_model_destroy(m);
        return NULL;
    }
    return m;
}

void sam_model_destroy(sam_model *m) {
    if (!m) return;
    sam_mask_decoder_free(&m->dec);
    sam_params_free(&m->ps);
    if (m->g) ve_graph_destroy(m->g);
    free(m);
}

/* W [3D, D] += B_q A_q on rows 0..D-1 and B_v A_v on rows 2D..3D-1 (A [r, D], B [D, r]). */
static int merge_block(sam_model *m, ve_checkpoint *base, ve_checkpoint *lora, int blk) {
    const int64_t d = m->p.embed_dim;
    char key[96];
    snprintf(key, sizeof key, "image_encoder.blocks.%d.attn.qkv.weight", blk);
    const ve_ckpt_tensor *wt = ve_checkpoint_find(base, key);
    if (!wt || wt->numel != 3 * d * d)
        return ve_fail("%s: missing or misshapen %s", ve_checkpoint_path(base), key);
    float *w = malloc(sizeof(float) * (size_t)(3 * d * d));
    float *a = NULL, *b = NULL;
    int rc = w ? ve_checkpoint_read_f32(base, wt, w, (size_t)wt->numel)
               : ve_fail("out of host memory merging LoRA");
    for (int k = 0; k < 2 && rc == VE_OK; k++) {
        char an[16], bn[16];
        snprintf(an, sizeof an, "w_a_%03d", 2 * blk + k);
        snprintf(bn, sizeof bn, "w_b_%03d", 2 * blk + k);
        const ve_ckpt_tensor *at = ve_checkpoint_find(lora, an), *bt = ve_checkpoint_find(lora, bn);
        if (!at || !bt || at->ndim != 2 || bt->ndim != 2 || at->shape[1] != d ||
            bt->shape[0] != d || bt->shape[1] != at->shape[0]) {
            rc = ve_fail("%s: %s / %s missing or not [r, %lld] / [%lld, r]",
                         ve_checkpoint_path(lora), an, bn, (long long)d, (long long)d);
            break;
        }
        const int64_t r = at->shape[0];
        float *na = realloc(a, sizeof(float) * (size_t)(r * d));
        if (na) a = na;
        float *nb = realloc(b, sizeof(float) * (size_t)(r * d));
        if (nb) b = nb;
        if (!na || !nb) {
            rc = ve_fail("out of host memory merging LoRA");
            break;
        }
        rc = ve_checkpoint_read_f32(lora, at, a, (size_t)(r * d));
        if (rc == VE_OK) rc = ve_checkpoint_read_f32(lora, bt, b, (size_t)(r * d));
        float *rows = w + (k ? 2 * d * d : 0); /* q rows, or v rows */
        for (int64_t i = 0; i < d && rc == VE_OK; i++)
            for (int64_t j = 0; j < d; j++) {
                double acc = 0;
                for (int64_t t = 0; t < r; t++)
                    acc += (double)b[i * r + t] * a[t * d + j];
                rows[i * d + j] += (float)acc;
            }
    }
    if (rc == VE_OK) rc = ve_tensor_write(m->g, m->enc.blk[blk].qkv_w, w, (size_t)(3 * d * d));
    free(w);
    free(a);
    free(b);
    return rc;
}

/* Appends to *dst the parameters of src whose key lies in (or, with want = 0, outside) ck. */
static int pick(sam_params *dst, const sam_params *src, const ve_checkpoint *ck, int want,
                int image_encoder) {
    for (int i = 0; i < src->n; i++) {
        const int enc = !strncmp(src->p[i].key, "image_encoder.", 14);
        if (enc != image_encoder) continue;
        if (ck && (ve_checkpoint_find(ck, src->p[i].key) != NULL) != want) continue;
        if (dst->n == dst->cap) {
            int cap = dst->cap ? 2 * dst->cap : 64;
            sam_param *p = realloc(dst->p, sizeof *p * (size_t)cap);
            if (!p) return ve_fail("out of host memory");
            dst->p = p;
            dst->cap = cap;
        }
        dst->p[dst->n++] = src->p[i];
    }
    return VE_OK;
}

int sam_model_load(sam_model *m, ve_checkpoint *base, ve_checkpoint *lora) {
    int rc;
    if (!lora) {
        rc = sam_params_load(m->g, &m->ps, base);
    } else {
        /* The encoder from base; the prompt encoder and decoder from the LoRA file where it has
         * the key, else from base. */
        sam_params enc = {0}, from_lora = {0}, from_base = {0};
        rc = pick(&enc, &m->ps, NULL, 0, 1);
        if (rc == VE_OK) rc = pick(&from_lora, &m->ps, lora, 1, 0);
        if (rc == VE_OK) rc = pick(&from_base, &m->ps, lora, 0, 0);
        if (rc == VE_OK) rc = sam_params_load(m->g, &enc, base);
        if (rc == VE_OK) rc = sam_params_load(m->g, &from_lora, lora);
        if (rc == VE_OK) rc = sam_params_load(m->g, &from_base, base);
        for (int i = 0; i < m->p.depth && rc == VE_OK; i++)
            rc = merge_block(m, base, lora, i);
        sam_params_free(&enc);
        sam_params_free(&from_lora);
        sam_params_free(&from_base);
    }
    if (rc == VE_OK) rc = sam_mask_decoder_write_consts(m->g, &m->dec);
    return rc;
}

int sam_model_run(sam_model *m, const float *image, const float *points, const float *labels,
                  const float *box, const float *mask) {
    const size_t n = 3 * (size_t)m->s.img_size * (size_t)m->s.img_size;
    if (ve_tensor_write(m->g, m->image, image, n) != VE_OK ||
        sam_prompts_write(m->g, &m->pe, &m->pr, points, labels, box, mask) != VE_OK)
        return VE_FAIL;
    return ve_graph_run(m->g);
}

int sam_model_grid(const sam_model *m) {
    return m->grid;
}
int sam_model_outputs(const sam_model *m) {
    return m->p.mask_outputs;
}
int sam_model_embed_dim(const sam_model *m) {
    return m->p.prompt_dim;
}

int sam_model_read_masks(sam_model *m, float *dst, size_t n) {
    return ve_tensor_read(m->g, m->masks, dst, n);
}

int sam_model_read_lowres(sam_model *m, float *dst, size_t n) {
    return ve_tensor_read(m->g, m->out.masks, dst, n);
}

int sam_model_read_iou(sam_model *m, float *dst, size_t n) {
    return ve_tensor_read(m->g, m->out.iou, dst, n);
}

/* The engine's embedding is channels-last [g, g, C]: transposed to [C, g, g] here. */
int sam_model_read_embedding(sam_model *m, float *dst, size_t n) {
    const size_t gg = (size_t)m->grid * (size_t)m->grid, c = (size_t)m->p.prompt_dim;
    if (n != gg * c) return ve_fail("SAM: embedding has %zu elements, %zu requested", gg * c, n);
    float *tmp = malloc(sizeof(float) * n);
    if (!tmp) return ve_fail("out of host memory reading the embedding");
    int rc = ve_tensor_read(m->g, m->emb, tmp, n);
    for (size_t p = 0; p < gg && rc == VE_OK; p++)
        for (size_t ch = 0; ch < c; ch++)
            dst[ch * gg + p] = tmp[p * c + ch];
    free(tmp);
    return rc;
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
