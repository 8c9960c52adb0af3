#include "sam/lora_merge.h"

#include <stdio.h>
#include <stdlib.h>

#include "sam/lora_keys.h"
#include "status.h"

/* Whether lora holds SAMed_s decoder adapters (sa_a_000 present). */
static int has_decoder_adapters(const ve_checkpoint *lora) {
    return lora && ve_checkpoint_find(lora, "sa_a_000") != NULL;
}

/* A [r, in] and B [out, r] of one adapter, read from lora (malloc'd, *r set). */
static int read_pair(ve_checkpoint *lora, const char *ka, const char *kb, int64_t out, int64_t in,
                     float **a, float **b, int64_t *r) {
    const ve_ckpt_tensor *at = ve_checkpoint_find(lora, ka), *bt = ve_checkpoint_find(lora, kb);
    if (!at || !bt || at->ndim != 2 || bt->ndim != 2 || at->shape[1] != in || bt->shape[0] != out ||
        bt->shape[1] != at->shape[0] || at->shape[0] < 1)
        return ve_fail("%s: LoRA adapter %s / %s missing or not [r, %lld] / [%lld, r]",
                       ve_checkpoint_path(lora), ka, kb, (long long)in, (long long)out);
    *r = at->shape[0];
    *a = malloc(sizeof(float) * (size_t)(*r * in));
    *b = malloc(sizeof(float) * (size_t)(*r * out));
    if (!*a || !*b) return ve_fail("out of host memory merging %s", ka);
    if (ve_checkpoint_read_f32(lora, at, *a, (size_t)(*r * in)) != VE_OK ||
        ve_checkpoint_read_f32(lora, bt, *b, (size_t)(*r * out)) != VE_OK)
        return VE_FAIL;
    return VE_OK;
}

/* Rows row0 .. row0 + rows - 1 of w [out, in] in g += B A for the adapter (ka, kb), B [rows, r]
 * (rows 0: all of w's rows). */
static int merge_rows(ve_graph *g, ve_tid w, int64_t row0, int64_t rows, ve_checkpoint *lora,
                      const char *ka, const char *kb) {
    const int64_t out = ve_tensor_dim(g, w, 0), in = ve_tensor_dim(g, w, 1);
    if (!rows) rows = out;
    float *wv = malloc(sizeof(float) * (size_t)(out * in)), *a = NULL, *b = NULL;
    int64_t r = 0;
    int rc = wv ? ve_tensor_read(g, w, wv, (size_t)(out * in)) : ve_fail("out of host memory");
    if (rc == VE_OK) rc = read_pair(lora, ka, kb, rows, in, &a, &b, &r);
    for (int64_t i = 0; i < rows && rc == VE_OK; i++)
        for (int64_t j = 0; j < in; j++) {
            double acc = 0;
            for (int64_t t = 0; t < r; t++)
                acc += (double)b[i * r + t] * a[t * in + j];
            wv[(row0 + i) * in + j] += (float)acc;
        }
    if (rc == VE_OK) rc = ve_tensor_write(g, w, wv, (size_t)(out * in));
    free(wv);
    free(a);
    free(b);
    return rc;
}

int sam_lora_merge_encoder(ve_graph *g, const sam_image_encoder *e, ve_checkpoint *lora) {
    const int64_t d = e->p.embed_dim;
    for (int i = 0; i < e->p.depth; i++)
        for (int k = 0; k < 2; k++) { /* q: rows 0 .. D-1, v: rows 2D .. 3D-1 */
            char ka[16], kb[16];
            snprintf(ka, sizeof ka, "w_a_%03d", 2 * i + k);
            snprintf(kb, sizeof kb, "w_b_%03d", 2 * i + k);
            if (merge_rows(g, e->blk[i].qkv_w, k ? 2 * d : 0, d, lora, ka, kb) != VE_OK)
                return ve_fail_context("block %d: ", i);
        }
    return VE_OK;
}

static int merge_attn(ve_graph *g, const sam_dec_attn *at, ve_checkpoint *lora,
                      sam_dec_attn_kind kind, int layer) {
    for (int k = 0; k < 2; k++) {
        char ka[16], kb[16];
        sam_lora_decoder_keys(kind, layer, k, ka, kb);
        if (merge_rows(g, k ? at->v_w : at->q_w, 0, 0, lora, ka, kb) != VE_OK) return VE_FAIL;
    }
    return VE_OK;
}

int sam_lora_merge_decoder(ve_graph *g, const sam_mask_decoder *d, ve_checkpoint *lora) {
    if (!has_decoder_adapters(lora)) return VE_OK;
    for (int i = 0; i < d->p.decoder_depth; i++) {
        const sam_twoway_layer *l = &d->layer[i];
        if (merge_attn(g, &l->self_attn, lora, SAM_DEC_SELF, i) ||
            merge_attn(g, &l->t2i, lora, SAM_DEC_T2I, i) ||
            merge_attn(g, &l->i2t, lora, SAM_DEC_I2T, i))
            return VE_FAIL;
    }
    return merge_attn(g, &d->final_attn, lora, SAM_DEC_FINAL, 0);
}
