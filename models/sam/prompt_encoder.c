#include "sam/prompt_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "status.h"

/* LayerNorm2d's eps inside mask_downscaling (the official class default). */
#define LN2D_EPS 1e-6f

static const char *const table_key[SAM_PT_N] = {
    "prompt_encoder.point_embeddings.0.weight", "prompt_encoder.point_embeddings.1.weight",
    "prompt_encoder.point_embeddings.2.weight", "prompt_encoder.point_embeddings.3.weight",
    "prompt_encoder.not_a_point_embed.weight",
};

static ve_tid param(ve_graph *g, sam_params *ps, const char *key, int nd, int64_t a, int64_t b,
                    int64_t c, int64_t d, int trainable) {
    int64_t s[4] = {a, b, c, d};
    return sam_param_new(g, ps, key, nd, s, SAM_LOAD_EXACT, trainable);
}

int sam_prompt_encoder_declare(ve_graph *g, const sam_preset *p, int img_size, int trainable,
                               sam_params *ps, sam_prompt_encoder *e) {
    memset(e, 0, sizeof *e);
    e->p = *p;
    if (img_size % p->patch_size)
        return ve_fail("prompt encoder: input size %d is not a multiple of the patch size %d",
                       img_size, p->patch_size);
    if (p->prompt_dim % 4 || p->mask_in_chans % 4)
        return ve_fail("prompt encoder: prompt_dim %d and mask_in_chans %d must be multiples of 4",
                       p->prompt_dim, p->mask_in_chans);
    e->img_size = img_size;
    e->grid = img_size / p->patch_size;
    e->dense_pe = VE_NONE;
    const int64_t c = p->prompt_dim, mc = p->mask_in_chans, mq = mc / 4;
    const char *pre = "prompt_encoder.mask_downscaling";
    char key[96];
#define P(field, nd, a, b, cc, d, tr, ...)                                                         \
    do {                                                                                           \
        snprintf(key, sizeof key, __VA_ARGS__);                                                    \
        if ((field = param(g, ps, key, nd, a, b, cc, d, tr)) == VE_NONE) return VE_FAIL;           \
    } while (0)
    /* A registered buffer in PyTorch: never trained. */
    P(e->gauss, 2, 2, c / 2, 0, 0, 0,
      "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    for (int i = 0; i < SAM_PT_N; i++)
        P(e->table[i], 2, 1, c, 0, 0, trainable, "%s", table_key[i]);
    P(e->ds0_w, 4, mq, 1, 2, 2, trainable, "%s.0.weight", pre);
    P(e->ds0_b, 1, mq, 0, 0, 0, trainable, "%s.0.bias", pre);
    P(e->ds1_w, 1, mq, 0, 0, 0, trainable, "%s.1.weight", pre);
    P(e->ds1_b, 1, mq, 0, 0, 0, trainable, "%s.1.bias", pre);
    P(e->ds3_w, 4, mc, mq, 2, 2, trainable, "%s.3.weight", pre);
    P(e->ds3_b, 1, mc, 0, 0, 0, trainable, "%s.3.bias", pre);
    P(e->ds4_w, 1, mc, 0, 0, 0, trainable, "%s.4.weight", pre);
    P(e->ds4_b, 1, mc, 0, 0, 0, trainable, "%s.4.bias", pre);
    P(e->ds6_w, 4, c, mc, 1, 1, trainable, "%s.6.weight", pre);
    P(e->ds6_b, 1, c, 0, 0, 0, trainable, "%s.6.bias", pre);
    /* After mask_downscaling: the official state dict's order (saved files keep it). */
    P(e->no_mask, 2, 1, c, 0, 0, trainable, "prompt_encoder.no_mask_embed.weight");
#undef P
    return VE_OK;
}

static ve_tid input(ve_graph *g, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                    int64_t d) {
    int64_t s[4] = {a, b, c, d};
    return ve_tensor(g, VE_INPUT, name, nd, s);
}

static int tokens_of(const sam_prompt_shape *s) {
    return s->n_points + (s->n_points > 0 && !s->has_box) + 2 * (s->has_box != 0);
}

/* mask [B, 1, 4g, 4g] -> [B, g, g, C]. With one channel, channels-first is channels-last. */
static ve_tid mask_downscaling(ve_graph *g, const sam_prompt_encoder *e, ve_tid mask, int64_t b) {
    const int64_t side = 4 * (int64_t)e->grid;
    int64_t s[4] = {b, side, side, 1};
    ve_tid x = ve_reshape(g, mask, 4, s);
    x = ve_conv2d(g, x, e->ds0_w, e->ds0_b, 2, 0);
    x = ve_gelu(g, ve_layernorm(g, x, e->ds1_w, e->ds1_b, LN2D_EPS));
    x = ve_conv2d(g, x, e->ds3_w, e->ds3_b, 2, 0);
    x = ve_gelu(g, ve_layernorm(g, x, e->ds4_w, e->ds4_b, LN2D_EPS));
    return ve_conv2d(g, x, e->ds6_w, e->ds6_b, 1, 0);
}

ve_tid sam_prompt_encoder_dense_pe(ve_graph *g, sam_prompt_encoder *e) {
    e->dense_pe = ve_fourier_pe_grid(g, e->gauss, e->grid, e->grid);
    if (e->dense_pe != VE_NONE) ve_keep(g, e->dense_pe);
    return e->dense_pe;
}

int sam_prompt_encoder_build(ve_graph *g, const sam_prompt_encoder *e, const sam_prompt_shape *s,
                             sam_prompts *out) {
    memset(out, 0, sizeof *out);
    out->coords = out->keep = out->mask = out->sparse = out->dense = VE_NONE;
    for (int i = 0; i < SAM_PT_N; i++)
        out->idx[i] = VE_NONE;
    if (s->batch < 1 || s->n_points < 0)
        return ve_fail("prompt encoder: batch %d, %d points", s->batch, s->n_points);
    out->s = *s;
    const int64_t b = s->batch, c = e->p.prompt_dim, t = tokens_of(s), gs = e->grid;
    out->tokens = (int)t;
    int64_t row[1] = {c};
    out->no_mask_row = ve_reshape(g, e->no_mask, 1, row);
    out->dense_pe = e->dense_pe != VE_NONE ? e->dense_pe : ve_fourier_pe_grid(g, e->gauss, gs, gs);
    if (out->no_mask_row == VE_NONE || out->dense_pe == VE_NONE) goto fail;
    if (t > 0) {
        out->coords = input(g, "prompt.coords", 3, b, t, 2, 0);
        out->keep = input(g, "prompt.keep", 3, b, t, c, 0);
        if (out->coords == VE_NONE || out->keep == VE_NONE) goto fail;
        ve_tid x = ve_mul(g, ve_fourier_pe(g, out->coords, e->gauss), out->keep);
        for (int i = 0; i < SAM_PT_N && x != VE_NONE; i++) {
            int box_table = i == SAM_PT_CORNER0 || i == SAM_PT_CORNER1;
            if (box_table ? !s->has_box : s->n_points == 0) continue;
            char name[32];
            snprintf(name, sizeof name, "prompt.idx%d", i);
            if ((out->idx[i] = input(g, name, 2, b, t, 0, 0)) == VE_NONE) goto fail;
            x = ve_add(g, x, ve_embedding(g, e->table[i], out->idx[i]));
        }
        if ((out->sparse = x) == VE_NONE) goto fail;
    }
    if (s->has_mask) {
        out->mask = input(g, "prompt.mask", 4, b, 1, 4 * gs, 4 * gs);
        if (out->mask == VE_NONE) goto fail;
        if ((out->dense = mask_downscaling(g, e, out->mask, b)) == VE_NONE) goto fail;
    }
    return VE_OK;
fail:
    return ve_fail_context("prompt encoder: ");
}

int sam_prompts_write(ve_graph *g, const sam_prompt_encoder *e, const sam_prompts *pr,
                      const float *points, const float *labels, const float *boxes,
                      const float *mask) {
    const sam_prompt_shape *s = &pr->s;
    if ((s->n_points > 0) != (points && labels) || (s->has_box != 0) != (boxes != NULL) ||
        (s->has_mask != 0) != (mask != NULL))
        return ve_fail("prompts: the data given (points %s, box %s, mask %s) does not match the "
                       "graph's prompts (%d points, box %d, mask %d)",
                       points ? "yes" : "no", boxes ? "yes" : "no", mask ? "yes" : "no",
                       s->n_points, s->has_box, s->has_mask);
    if (s->has_mask &&
        ve_tensor_write(g, pr->mask, mask, (size_t)ve_tensor_numel(g, pr->mask)) != VE_OK)
        return VE_FAIL;
    const int64_t b = s->batch, t = pr->tokens, c = e->p.prompt_dim;
    if (t == 0) return VE_OK;
    float *coords = malloc(sizeof(float) * (size_t)(b * t * 2));
    float *keep = malloc(sizeof(float) * (size_t)(b * t * c));
    float *idx = malloc(sizeof(float) * (size_t)(SAM_PT_N * b * t));
    if (!coords || !keep || !idx) {
        free(coords);
        free(keep);
        free(idx);
        return ve_fail("prompts: out of host memory");
    }
    for (int64_t i = 0; i < SAM_PT_N * b * t; i++)
        idx[i] = -1.0f;
    /* The official arithmetic in fp32: (pixel + 0.5) / S. The padding point sits at 0 (its
     * encoding is zeroed anyway). */
    const float size = (float)e->img_size;
    for (int64_t bi = 0; bi < b; bi++) {
        for (int64_t j = 0; j < t; j++) {
            const int64_t r = bi * t + j;
            float x = 0, y = 0, k = 1;
            int table = -1;
            if (j < s->n_points) {
                x = (points[2 * (bi * s->n_points + j)] + 0.5f) / size;
                y = (points[2 * (bi * s->n_points + j) + 1] + 0.5f) / size;
                const float l = labels[bi * s->n_points + j];
                table = l == 1.0f    ? SAM_PT_POS
                        : l == 0.0f  ? SAM_PT_NEG
                        : l == -1.0f ? SAM_PT_NOT_A_POINT
                                     : -1;
            } else if (!s->has_box) {
                table = SAM_PT_NOT_A_POINT; /* the appended padding point */
            } else {
                const int corner = (int)(j - s->n_points);
                x = (boxes[4 * bi + 2 * corner] + 0.5f) / size;
                y = (boxes[4 * bi + 2 * corner + 1] + 0.5f) / size;
                table = corner ? SAM_PT_CORNER1 : SAM_PT_CORNER0;
            }
            if (table == SAM_PT_NOT_A_POINT) k = 0;
            if (table >= 0) idx[table * b * t + r] = 0.0f;
            coords[2 * r] = x;
            coords[2 * r + 1] = y;
            for (int64_t ci = 0; ci < c; ci++)
                keep[r * c + ci] = k;
        }
    }
    int rc = ve_tensor_write(g, pr->coords, coords, (size_t)(b * t * 2));
    if (rc == VE_OK) rc = ve_tensor_write(g, pr->keep, keep, (size_t)(b * t * c));
    for (int i = 0; i < SAM_PT_N && rc == VE_OK; i++)
        if (pr->idx[i] != VE_NONE)
            rc = ve_tensor_write(g, pr->idx[i], idx + i * b * t, (size_t)(b * t));
    free(coords);
    free(keep);
    free(idx);
    return rc;
}
