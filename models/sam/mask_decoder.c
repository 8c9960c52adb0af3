#include "sam/mask_decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sam/lora_keys.h"
#include "sam/two_way_transformer.h"
#include "status.h"

/* Fixed by the official architecture (not preset values): the upscaling's LayerNorm2d eps, the
 * upscaled channel counts C/4 and C/8, the 2x2 stride-2 transposed convolutions, and 3-layer
 * hypernetwork MLPs. */
#define UP_LN_EPS 1e-6f
#define HYPER_LAYERS 3

static ve_tid param(ve_graph *g, sam_params *ps, const char *key, int nd, int64_t a, int64_t b,
                    int64_t c, int64_t d, int trainable) {
    int64_t s[4] = {a, b, c, d};
    return sam_param_new(g, ps, key, nd, s, SAM_LOAD_EXACT, trainable);
}

#define P(field, nd, a, b, cc, dd, ...)                                                            \
    do {                                                                                           \
        snprintf(key, sizeof key, __VA_ARGS__);                                                    \
        if ((field = param(g, ps, key, nd, a, b, cc, dd, tr)) == VE_NONE) return VE_FAIL;          \
    } while (0)

static int declare_attn(ve_graph *g, sam_params *ps, int tr, const char *pre, int64_t c,
                        int64_t internal, sam_dec_attn *a) {
    char key[128];
    a->internal = (int)internal;
    a->lora_a[0] = a->lora_a[1] = a->lora_b[0] = a->lora_b[1] = VE_NONE;
    P(a->q_w, 2, internal, c, 0, 0, "%s.q_proj.weight", pre);
    P(a->q_b, 1, internal, 0, 0, 0, "%s.q_proj.bias", pre);
    P(a->k_w, 2, internal, c, 0, 0, "%s.k_proj.weight", pre);
    P(a->k_b, 1, internal, 0, 0, 0, "%s.k_proj.bias", pre);
    P(a->v_w, 2, internal, c, 0, 0, "%s.v_proj.weight", pre);
    P(a->v_b, 1, internal, 0, 0, 0, "%s.v_proj.bias", pre);
    P(a->out_w, 2, c, internal, 0, 0, "%s.out_proj.weight", pre);
    P(a->out_b, 1, c, 0, 0, 0, "%s.out_proj.bias", pre);
    return VE_OK;
}

/* MLP(in, hidden, out, n): layers in -> hidden -> ... -> out. */
static int declare_mlp(ve_graph *g, sam_params *ps, int tr, const char *pre, int64_t in,
                       int64_t hidden, int64_t out, int n, sam_mlp *m) {
    char key[128];
    m->n = n;
    for (int i = 0; i < n; i++) {
        int64_t a = i ? hidden : in, b = i + 1 < n ? hidden : out;
        P(m->w[i], 2, b, a, 0, 0, "%s.layers.%d.weight", pre, i);
        P(m->b[i], 1, b, 0, 0, 0, "%s.layers.%d.bias", pre, i);
    }
    return VE_OK;
}

static int check_preset(const sam_preset *p, int img_size) {
    const int c = p->prompt_dim, ds = p->decoder_downsample, h = p->decoder_heads;
    if (img_size % p->patch_size)
        return ve_fail("mask decoder: input size %d is not a multiple of the patch size %d",
                       img_size, p->patch_size);
    if (c % 32 || ds < 1 || c % ds || (c / ds) % (4 * h) || c % (4 * h))
        return ve_fail("mask decoder: prompt_dim %d, %d heads, downsample %d: need prompt_dim a "
                       "multiple of 32 and head widths (prompt_dim [/ downsample] / heads) "
                       "multiples of 4",
                       c, h, ds);
    if (p->decoder_depth > SAM_MAX_BLOCKS || p->iou_head_depth > SAM_MLP_MAX_LAYERS)
        return ve_fail("mask decoder: depth %d (at most %d), IoU head depth %d (at most %d)",
                       p->decoder_depth, SAM_MAX_BLOCKS, p->iou_head_depth, SAM_MLP_MAX_LAYERS);
    return VE_OK;
}

/* tr_tf: the two-way transformer's tensors trainable; tr_rest: the other decoder tensors. */
static int declare(ve_graph *g, const sam_preset *p, int img_size, int tr_tf, int tr_rest,
                   sam_params *ps, sam_mask_decoder *d) {
    memset(d, 0, sizeof *d);
    d->p = *p;
    if (check_preset(p, img_size)) return VE_FAIL;
    d->grid = img_size / p->patch_size;
    int tr = tr_tf;
    const int64_t c = p->prompt_dim, m = p->mask_outputs, cross = c / p->decoder_downsample;
    char key[128], pre[96];
    for (int i = 0; i < p->decoder_depth; i++) {
        sam_twoway_layer *l = &d->layer[i];
        const char *t = "mask_decoder.transformer.layers";
        /* The official module order (TwoWayAttentionBlock): saved files keep it. */
        snprintf(pre, sizeof pre, "%s.%d.self_attn", t, i);
        if (declare_attn(g, ps, tr, pre, c, c, &l->self_attn)) return VE_FAIL;
        P(l->norm_w[0], 1, c, 0, 0, 0, "%s.%d.norm1.weight", t, i);
        P(l->norm_b[0], 1, c, 0, 0, 0, "%s.%d.norm1.bias", t, i);
        snprintf(pre, sizeof pre, "%s.%d.cross_attn_token_to_image", t, i);
        if (declare_attn(g, ps, tr, pre, c, cross, &l->t2i)) return VE_FAIL;
        P(l->norm_w[1], 1, c, 0, 0, 0, "%s.%d.norm2.weight", t, i);
        P(l->norm_b[1], 1, c, 0, 0, 0, "%s.%d.norm2.bias", t, i);
        const int64_t hid = p->decoder_mlp_dim;
        P(l->lin1_w, 2, hid, c, 0, 0, "%s.%d.mlp.lin1.weight", t, i);
        P(l->lin1_b, 1, hid, 0, 0, 0, "%s.%d.mlp.lin1.bias", t, i);
        P(l->lin2_w, 2, c, hid, 0, 0, "%s.%d.mlp.lin2.weight", t, i);
        P(l->lin2_b, 1, c, 0, 0, 0, "%s.%d.mlp.lin2.bias", t, i);
        for (int j = 2; j < 4; j++) {
            P(l->norm_w[j], 1, c, 0, 0, 0, "%s.%d.norm%d.weight", t, i, j + 1);
            P(l->norm_b[j], 1, c, 0, 0, 0, "%s.%d.norm%d.bias", t, i, j + 1);
        }
        snprintf(pre, sizeof pre, "%s.%d.cross_attn_image_to_token", t, i);
        if (declare_attn(g, ps, tr, pre, c, cross, &l->i2t)) return VE_FAIL;
    }
    if (declare_attn(g, ps, tr, "mask_decoder.transformer.final_attn_token_to_image", c, cross,
                     &d->final_attn))
        return VE_FAIL;
    P(d->norm_final_w, 1, c, 0, 0, 0, "mask_decoder.transformer.norm_final_attn.weight");
    P(d->norm_final_b, 1, c, 0, 0, 0, "mask_decoder.transformer.norm_final_attn.bias");
    tr = tr_rest;
    P(d->iou_token, 2, 1, c, 0, 0, "mask_decoder.iou_token.weight");
    P(d->mask_tokens, 2, m, c, 0, 0, "mask_decoder.mask_tokens.weight");
    P(d->up0_w, 4, c, c / 4, 2, 2, "mask_decoder.output_upscaling.0.weight");
    P(d->up0_b, 1, c / 4, 0, 0, 0, "mask_decoder.output_upscaling.0.bias");
    P(d->up1_w, 1, c / 4, 0, 0, 0, "mask_decoder.output_upscaling.1.weight");
    P(d->up1_b, 1, c / 4, 0, 0, 0, "mask_decoder.output_upscaling.1.bias");
    P(d->up3_w, 4, c / 4, c / 8, 2, 2, "mask_decoder.output_upscaling.3.weight");
    P(d->up3_b, 1, c / 8, 0, 0, 0, "mask_decoder.output_upscaling.3.bias");
    d->hyper = calloc((size_t)m, sizeof *d->hyper);
    if (!d->hyper) return ve_fail("mask decoder: out of host memory");
    for (int i = 0; i < m; i++) {
        snprintf(pre, sizeof pre, "mask_decoder.output_hypernetworks_mlps.%d", i);
        if (declare_mlp(g, ps, tr, pre, c, c, c / 8, HYPER_LAYERS, &d->hyper[i])) return VE_FAIL;
    }
    return declare_mlp(g, ps, tr, "mask_decoder.iou_prediction_head", c, p->iou_head_hidden, m,
                       p->iou_head_depth, &d->iou_head);
}
#undef P

int sam_mask_decoder_declare(ve_graph *g, const sam_preset *p, int img_size, int trainable,
                             sam_params *ps, sam_mask_decoder *d) {
    return declare(g, p, img_size, trainable, trainable, ps, d);
}

/* A [r, C] and B [internal, r] on q_proj and v_proj of one attention. */
static int declare_adapters(ve_graph *g, sam_params *ps, int64_t r, int64_t c,
                            sam_dec_attn_kind kind, int layer, sam_dec_attn *a) {
    for (int k = 0; k < 2; k++) {
        char ka[16], kb[16];
        sam_lora_decoder_keys(kind, layer, k, ka, kb);
        int64_t sa[2] = {r, c}, sb[2] = {a->internal, r};
        a->lora_a[k] = sam_param_new(g, ps, ka, 2, sa, SAM_LOAD_EXACT, 1);
        a->lora_b[k] = sam_param_new(g, ps, kb, 2, sb, SAM_LOAD_EXACT, 1);
        if (a->lora_a[k] == VE_NONE || a->lora_b[k] == VE_NONE) return VE_FAIL;
    }
    return VE_OK;
}

int sam_mask_decoder_declare_lora(ve_graph *g, const sam_preset *p, int img_size, int rank,
                                  sam_params *ps, sam_mask_decoder *d) {
    if (rank < 1) return ve_fail("mask decoder LoRA: rank %d (at least 1)", rank);
    if (declare(g, p, img_size, 0, 1, ps, d) != VE_OK) return VE_FAIL;
    const int64_t c = p->prompt_dim;
    /* SAMed_s's module order: each layer's self, token-to-image, image-to-token, then final. */
    for (int i = 0; i < p->decoder_depth; i++) {
        sam_twoway_layer *l = &d->layer[i];
        if (declare_adapters(g, ps, rank, c, SAM_DEC_SELF, i, &l->self_attn) ||
            declare_adapters(g, ps, rank, c, SAM_DEC_T2I, i, &l->t2i) ||
            declare_adapters(g, ps, rank, c, SAM_DEC_I2T, i, &l->i2t))
            return VE_FAIL;
    }
    return declare_adapters(g, ps, rank, c, SAM_DEC_FINAL, 0, &d->final_attn);
}

/* A gather index table [n] (rows of the source, -1 for a zero row), recorded as a constant. */
static ve_tid index_const(ve_graph *g, sam_mask_decoder *d, const char *name, int64_t n,
                          const float *v) {
    int64_t s[1] = {n};
    return sam_const_new(g, &d->consts, name, 1, s, v);
}

/* tokens [B * n_tok, C] = [iou_token; mask_tokens; sparse[b]] per image, as a sum of gathers. */
static ve_tid assemble_tokens(ve_graph *g, sam_mask_decoder *d, const sam_prompts *pr, int64_t b,
                              int64_t n_tok, float *buf) {
    const int64_t m = d->p.mask_outputs, t = pr->tokens, c = d->p.prompt_dim;
    ve_tid x = VE_NONE;
    for (int part = 0; part < 3; part++) {
        if (part == 2 && t == 0) break;
        for (int64_t i = 0; i < b * n_tok; i++) {
            const int64_t bi = i / n_tok, j = i % n_tok;
            float v = -1.0f;
            if (part == 0 && j == 0) v = 0.0f;
            if (part == 1 && j >= 1 && j < 1 + m) v = (float)(j - 1);
            if (part == 2 && j >= 1 + m) v = (float)(bi * t + j - 1 - m);
            buf[i] = v;
        }
        static const char *const names[3] = {"decoder.idx_iou", "decoder.idx_mask",
                                             "decoder.idx_sparse"};
        ve_tid src = part == 0 ? d->iou_token : part == 1 ? d->mask_tokens : pr->sparse;
        if (part == 2) {
            int64_t s[2] = {b * t, c};
            src = ve_reshape(g, src, 2, s);
        }
        ve_tid e = ve_embedding(g, src, index_const(g, d, names[part], b * n_tok, buf));
        x = x == VE_NONE ? e : ve_add(g, x, e);
        if (x == VE_NONE) return VE_NONE;
    }
    return x;
}

/* The upscaled map [B, 4g, 4g, C/8] from the final keys [B * g * g, C]. */
static ve_tid upscale(ve_graph *g, const sam_mask_decoder *d, ve_tid keys, int64_t b) {
    int64_t s[4] = {b, d->grid, d->grid, d->p.prompt_dim};
    ve_tid x = ve_conv_transpose2d(g, ve_reshape(g, keys, 4, s), d->up0_w, d->up0_b);
    x = ve_gelu(g, ve_layernorm(g, x, d->up1_w, d->up1_b, UP_LN_EPS));
    return ve_gelu(g, ve_conv_transpose2d(g, x, d->up3_w, d->up3_b));
}

int sam_mask_decoder_build(ve_graph *g, sam_mask_decoder *d, ve_tid image_emb,
                           const sam_prompts *pr, sam_decoder_out *out) {
    const int64_t b = pr->s.batch, c = d->p.prompt_dim, gs = d->grid, hw = gs * gs;
    const int64_t m = d->p.mask_outputs, n_tok = 1 + m + pr->tokens, up_c = c / 8;
    out->masks = out->iou = VE_NONE;
    if (ve_tensor_ndim(g, image_emb) != 4 || ve_tensor_dim(g, image_emb, 0) != b ||
        ve_tensor_dim(g, image_emb, 1) != gs || ve_tensor_dim(g, image_emb, 2) != gs ||
        ve_tensor_dim(g, image_emb, 3) != c)
        return ve_fail("mask decoder: image embedding %s must be [%lld, %lld, %lld, %lld]",
                       ve_tensor_name(g, image_emb), (long long)b, (long long)gs, (long long)gs,
                       (long long)c);
    /* Index buffer for the gathers: the largest table is the token assembly's. */
    float *buf = malloc(sizeof(float) * (size_t)(b * (n_tok > m ? n_tok : m)));
    if (!buf) return ve_fail("mask decoder: out of host memory");
    int rc = VE_FAIL;
    ve_tid tokens = assemble_tokens(g, d, pr, b, n_tok, buf);
    int64_t s2[2] = {b * hw, c};
    ve_tid src = ve_reshape(g, image_emb, 2, s2);
    if (pr->dense != VE_NONE)
        src = ve_add(g, src, ve_reshape(g, pr->dense, 2, s2));
    else
        src = ve_add(g, src, pr->no_mask_row); /* no_mask_embed broadcast over every pixel */
    int64_t s1[1] = {hw * c};
    ve_tid key_pe = ve_reshape(g, pr->dense_pe, 1, s1);
    ve_tid hs, keys;
    if (tokens == VE_NONE || src == VE_NONE || key_pe == VE_NONE ||
        sam_two_way_transformer(g, d, tokens, src, key_pe, b, n_tok, hw, &hs, &keys) != VE_OK)
        goto done;
    /* IoU head on each image's iou token (row b * n_tok). */
    for (int64_t i = 0; i < b; i++)
        buf[i] = (float)(i * n_tok);
    ve_tid iou_in = ve_embedding(g, hs, index_const(g, d, "decoder.idx_iou_out", b, buf));
    out->iou = sam_mlp_build(g, &d->iou_head, iou_in);
    /* Hypernetworks: MLP_i on mask token i of every image, stacked into hyper [B, M, C/8]. */
    ve_tid hyper = VE_NONE;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < b; j++)
            buf[j] = (float)(j * n_tok + 1 + i);
        ve_tid x = ve_embedding(g, hs, index_const(g, d, "decoder.idx_mask_out", b, buf));
        x = sam_mlp_build(g, &d->hyper[i], x);
        for (int64_t j = 0; j < b * m; j++)
            buf[j] = j % m == i ? (float)(j / m) : -1.0f;
        x = ve_embedding(g, x, index_const(g, d, "decoder.idx_stack", b * m, buf));
        hyper = hyper == VE_NONE ? x : ve_add(g, hyper, x);
        if (hyper == VE_NONE) goto done;
    }
    /* masks[b, i, p] = hyper[b, i] . up[b, p]: one batched matmul gives channels-first planes. */
    ve_tid up = upscale(g, d, keys, b);
    int64_t sh[3] = {b, m, up_c}, su[3] = {b, 16 * hw, up_c}, sm[4] = {b, m, 4 * gs, 4 * gs};
    ve_matmul_opts mo = {.trans_a = 0, .trans_b = 1, .bias = VE_NONE};
    ve_tid masks = ve_matmul(g, ve_reshape(g, hyper, 3, sh), ve_reshape(g, up, 3, su), &mo);
    out->masks = ve_reshape(g, masks, 4, sm);
    if (out->masks != VE_NONE && out->iou != VE_NONE) rc = VE_OK;
done:
    free(buf);
    return rc == VE_OK ? VE_OK : ve_fail_context("mask decoder: ");
}

int sam_mask_decoder_write_consts(ve_graph *g, const sam_mask_decoder *d) {
    return sam_consts_write(g, &d->consts);
}

void sam_mask_decoder_free(sam_mask_decoder *d) {
    free(d->hyper);
    d->hyper = NULL;
    sam_consts_free(&d->consts);
}
