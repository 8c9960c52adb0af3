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

int sam_encoder_weights_load(ve_graph *g, const sam_image_encoder *e, const sam_params *ps,
                             const sam_weight_source *src) {
    for (int i = 0; i < ps->n; i++)
        if (load_param(g, ps, &ps->p[i], src, 0) != VE_OK) return VE_FAIL;
    if (src->lora && !src->rng) return sam_lora_merge_encoder(g, e, src->lora);
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
