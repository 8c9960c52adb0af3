/* The predictor's weights: the encoder's loaded into its graph (LoRA qkv merged on the host), the
 * prompt encoder's and mask decoder's captured once as host copies for the decoder graphs. */
#include "sam/predictor_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sam/lora_merge.h"
#include "sam/mask_decoder.h"
#include "sam/prompt_encoder.h"
#include "status.h"

/* One parameter from its source: lora where it holds the key (never for the encoder), else
 * base, or random. */
static int load_param(ve_graph *g, const sam_params *ps, const sam_param *p,
                      const sam_weight_source *src, int from_lora) {
    if (src->rng) return sam_param_init(g, ps, p, src->rng);
    if (from_lora && src->lora && ve_checkpoint_find(src->lora, p->key))
        return sam_param_load(g, p, src->lora);
    return sam_param_load(g, p, src->base);
}

/* W [3D, D] += B_q A_q on rows 0..D-1 and B_v A_v on rows 2D..3D-1 (A [r, D], B [D, r]). */
static int merge_block(ve_graph *g, const sam_image_encoder *e, ve_checkpoint *base,
                       ve_checkpoint *lora, int blk) {
    const int64_t d = e->p.embed_dim;
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
    if (rc == VE_OK) rc = ve_tensor_write(g, e->blk[blk].qkv_w, w, (size_t)(3 * d * d));
    free(w);
    free(a);
    free(b);
    return rc;
}

int sam_encoder_weights_load(ve_graph *g, const sam_image_encoder *e, const sam_params *ps,
                             const sam_weight_source *src) {
    for (int i = 0; i < ps->n; i++)
        if (load_param(g, ps, &ps->p[i], src, 0) != VE_OK) return VE_FAIL;
    for (int i = 0; i < e->p.depth && src->lora && !src->rng; i++)
        if (merge_block(g, e, src->base, src->lora, i) != VE_OK) return VE_FAIL;
    return VE_OK;
}

int sam_decoder_weights_capture(ve_device *dev, const sam_preset *p, int img_size,
                                const sam_weight_source *src, sam_host_weights *out) {
    memset(out, 0, sizeof *out);
    const int64_t g1 = img_size / p->patch_size;
    ve_graph *g = ve_graph_create(dev);
    sam_params ps = {0};
    sam_prompt_encoder pe;
    sam_mask_decoder dec = {0};
    sam_prompts pr;
    sam_decoder_out o;
    sam_prompt_shape shape = {1, 1, 0, 0};
    int64_t es[4] = {1, g1, g1, p->prompt_dim};
    ve_tid emb = g ? ve_tensor(g, VE_INPUT, "image_embedding", 4, es) : VE_NONE;
    int rc = emb != VE_NONE && sam_prompt_encoder_declare(g, p, img_size, 0, &ps, &pe) == VE_OK &&
                     sam_mask_decoder_declare(g, p, img_size, 0, &ps, &dec) == VE_OK &&
                     sam_prompt_encoder_build(g, &pe, &shape, &pr) == VE_OK &&
                     sam_mask_decoder_build(g, &dec, emb, &pr, &o) == VE_OK &&
                     ve_graph_compile(g, NULL) == VE_OK
                 ? VE_OK
                 : VE_FAIL;
    for (int i = 0; i < ps.n && rc == VE_OK; i++)
        rc = load_param(g, &ps, &ps.p[i], src, 1);
    if (rc == VE_OK && src->lora && !src->rng) rc = sam_lora_merge_decoder(g, &dec, src->lora);
    if (rc == VE_OK && !(out->t = calloc((size_t)ps.n, sizeof *out->t)))
        rc = ve_fail("out of host memory for the decoder weights");
    for (int i = 0; i < ps.n && rc == VE_OK; i++) {
        sam_host_tensor *h = &out->t[out->n++];
        snprintf(h->key, sizeof h->key, "%s", ps.p[i].key);
        h->n = (size_t)ve_tensor_numel(g, ps.p[i].t);
        h->v = malloc(sizeof(float) * h->n);
        rc = h->v ? ve_tensor_read(g, ps.p[i].t, h->v, h->n)
                  : ve_fail("out of host memory for %s", h->key);
    }
    sam_mask_decoder_free(&dec);
    sam_params_free(&ps);
    if (g) ve_graph_destroy(g);
    if (rc != VE_OK) sam_host_weights_free(out);
    return rc;
}

int sam_decoder_weights_write(ve_graph *g, const sam_params *ps, const sam_host_weights *w) {
    for (int i = 0; i < ps->n; i++) {
        const sam_host_tensor *h = NULL;
        /* The graphs declare in the same order: try index i first. */
        if (i < w->n && !strcmp(w->t[i].key, ps->p[i].key)) h = &w->t[i];
        for (int k = 0; k < w->n && !h; k++)
            if (!strcmp(w->t[k].key, ps->p[i].key)) h = &w->t[k];
        if (!h || h->n != (size_t)ve_tensor_numel(g, ps->p[i].t))
            return ve_fail("SAM predictor: no kept weights for %s", ps->p[i].key);
        if (ve_tensor_write(g, ps->p[i].t, h->v, h->n) != VE_OK) return VE_FAIL;
    }
    return VE_OK;
}

void sam_host_weights_free(sam_host_weights *w) {
    for (int i = 0; i < w->n; i++)
        free(w->t[i].v);
    free(w->t);
    memset(w, 0, sizeof *w);
}
