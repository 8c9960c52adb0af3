#include "sam/image_encoder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "status.h"

static ve_tid param(ve_graph *g, sam_params *ps, const char *key, int nd, int64_t a, int64_t b,
                    int64_t c, int64_t d, sam_load_kind kind, int trainable) {
    int64_t s[4] = {a, b, c, d};
    return sam_param_new(g, ps, key, nd, s, kind, trainable);
}

int sam_image_encoder_declare(ve_graph *g, const sam_preset *p, int img_size, sam_params *ps,
                              sam_image_encoder *e) {
    return sam_image_encoder_declare_train(g, p, img_size, NULL, ps, e);
}

int sam_image_encoder_declare_train(ve_graph *g, const sam_preset *p, int img_size,
                                    const sam_encoder_train *t, sam_params *ps,
                                    sam_image_encoder *e) {
    static const sam_encoder_train frozen = {0, 0, NULL};
    if (!t) t = &frozen;
    const int tr = t->trainable != 0;
    memset(e, 0, sizeof *e);
    e->p = *p;
    if (img_size % p->patch_size)
        return ve_fail("image encoder: input size %d is not a multiple of the patch size %d",
                       img_size, p->patch_size);
    e->img_size = img_size;
    e->grid = img_size / p->patch_size;
    const int64_t d = p->embed_dim, hd = p->embed_dim / p->heads, k = p->patch_size;
    char key[96];
#define P(field, nd, a, b, c, dd, kind, ...)                                                       \
    do {                                                                                           \
        snprintf(key, sizeof key, __VA_ARGS__);                                                    \
        if ((field = param(g, ps, key, nd, a, b, c, dd, kind, tr)) == VE_NONE) return VE_FAIL;     \
    } while (0)
    P(e->patch_w, 4, d, 3, k, k, SAM_LOAD_EXACT, "image_encoder.patch_embed.proj.weight");
    P(e->patch_b, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "image_encoder.patch_embed.proj.bias");
    P(e->pos_embed, 4, 1, e->grid, e->grid, d, SAM_LOAD_POS_EMBED, "image_encoder.pos_embed");
    for (int i = 0; i < p->depth; i++) {
        sam_block *b = &e->blk[i];
        b->window = p->window_size;
        for (int j = 0; j < p->n_global; j++)
            if (p->global_blocks[j] == i) b->window = 0;
        int64_t side = b->window ? b->window : e->grid;
        const char *pre = "image_encoder.blocks";
        P(b->norm1_w, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.norm1.weight", pre, i);
        P(b->norm1_b, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.norm1.bias", pre, i);
        P(b->rel_h, 2, 2 * side - 1, hd, 0, 0, SAM_LOAD_REL_POS, "%s.%d.attn.rel_pos_h", pre, i);
        P(b->rel_w, 2, 2 * side - 1, hd, 0, 0, SAM_LOAD_REL_POS, "%s.%d.attn.rel_pos_w", pre, i);
        P(b->qkv_w, 2, 3 * d, d, 0, 0, SAM_LOAD_EXACT, "%s.%d.attn.qkv.weight", pre, i);
        P(b->qkv_b, 1, 3 * d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.attn.qkv.bias", pre, i);
        P(b->proj_w, 2, d, d, 0, 0, SAM_LOAD_EXACT, "%s.%d.attn.proj.weight", pre, i);
        P(b->proj_b, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.attn.proj.bias", pre, i);
        P(b->norm2_w, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.norm2.weight", pre, i);
        P(b->norm2_b, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.norm2.bias", pre, i);
        int64_t hidden = d * p->mlp_ratio;
        P(b->lin1_w, 2, hidden, d, 0, 0, SAM_LOAD_EXACT, "%s.%d.mlp.lin1.weight", pre, i);
        P(b->lin1_b, 1, hidden, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.mlp.lin1.bias", pre, i);
        P(b->lin2_w, 2, d, hidden, 0, 0, SAM_LOAD_EXACT, "%s.%d.mlp.lin2.weight", pre, i);
        P(b->lin2_b, 1, d, 0, 0, 0, SAM_LOAD_EXACT, "%s.%d.mlp.lin2.bias", pre, i);
    }
    /* LoRA adapters, declared after the base tensors (trainable: in SAMed's w_a / w_b order). */
    for (int i = 0; i < p->depth; i++)
        for (int k = 0; k < 2; k++)
            e->blk[i].lora_a[k] = e->blk[i].lora_b[k] = VE_NONE;
    if (t->lora_rank > 0) {
        const int64_t r = t->lora_rank;
        int j = 0;
        for (int i = 0; i < p->depth; i++) {
            if (t->lora_blocks && !t->lora_blocks[i]) continue;
            for (int k = 0; k < 2; k++) {
                int64_t sa[2] = {r, d}, sb[2] = {d, r};
                snprintf(key, sizeof key, "w_a_%03d", 2 * j + k);
                e->blk[i].lora_a[k] = sam_param_new(g, ps, key, 2, sa, SAM_LOAD_EXACT, 1);
                snprintf(key, sizeof key, "w_b_%03d", 2 * j + k);
                e->blk[i].lora_b[k] = sam_param_new(g, ps, key, 2, sb, SAM_LOAD_EXACT, 1);
                if (e->blk[i].lora_a[k] == VE_NONE || e->blk[i].lora_b[k] == VE_NONE)
                    return VE_FAIL;
            }
            j++;
        }
    }
    const int64_t c = p->neck_dim;
    P(e->neck0_w, 4, c, d, 1, 1, SAM_LOAD_EXACT, "image_encoder.neck.0.weight");
    P(e->neck1_w, 1, c, 0, 0, 0, SAM_LOAD_EXACT, "image_encoder.neck.1.weight");
    P(e->neck1_b, 1, c, 0, 0, 0, SAM_LOAD_EXACT, "image_encoder.neck.1.bias");
    P(e->neck2_w, 4, c, c, 3, 3, SAM_LOAD_EXACT, "image_encoder.neck.2.weight");
    P(e->neck3_w, 1, c, 0, 0, 0, SAM_LOAD_EXACT, "image_encoder.neck.3.weight");
    P(e->neck3_b, 1, c, 0, 0, 0, SAM_LOAD_EXACT, "image_encoder.neck.3.bias");
#undef P
    return VE_OK;
}

static ve_tid reshape2(ve_graph *g, ve_tid t, int64_t rows, int64_t cols) {
    int64_t s[2] = {rows, cols};
    return ve_reshape(g, t, 2, s);
}

static ve_tid reshape4(ve_graph *g, ve_tid t, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t s[4] = {a, b, c, d};
    return ve_reshape(g, t, 4, s);
}

/* x [tokens, D] -> qkv [tokens, 3D], with SAMed's LoRA on q and v when the block has it (padded
 * tokens are zeros, so their adapter terms are zero too, as in SAMed). */
static ve_tid qkv_linear(ve_graph *g, const sam_block *b, ve_tid x, ve_tid bias) {
    if (b->lora_a[0] == VE_NONE) return ve_linear(g, x, b->qkv_w, bias);
    const int64_t d = ve_tensor_dim(g, x, -1);
    ve_lora_adapter ad[2] = {{b->lora_a[0], b->lora_b[0], 0}, {b->lora_a[1], b->lora_b[1], 2 * d}};
    return ve_linear_lora(g, x, b->qkv_w, bias, 2, ad);
}

/* x [B, G, G, D] -> x + attn(norm1(x)) + mlp(norm2(...)), the official block. */
static ve_tid block(ve_graph *g, const sam_image_encoder *e, const sam_block *b, ve_tid x,
                    int64_t batch) {
    const sam_preset *p = &e->p;
    const int64_t d = p->embed_dim, grid = e->grid;
    const float eps = p->encoder_ln_eps;
    ve_tid h = ve_layernorm(g, x, b->norm1_w, b->norm1_b, eps);
    /* Window blocks pad the grid with zeros to a multiple of the window; the padded tokens
     * take part as keys (their qkv is exactly the bias) and are cropped after the projection.
     * So qkv runs on the real tokens without its bias, is padded with zeros and gets the bias
     * after; the crop comes before the (per-token) projection: the same values, ~28 GFLOP
     * less at vit_b 512 (grid 32 padded to 42). */
    int64_t side = grid;
    if (b->window) side = (grid + b->window - 1) / b->window * b->window;
    const int64_t tokens = batch * side * side;
    ve_tid qkv;
    if (side == grid) {
        qkv = qkv_linear(g, b, reshape2(g, h, tokens, d), b->qkv_b);
    } else {
        qkv = qkv_linear(g, b, reshape2(g, h, batch * grid * grid, d), VE_NONE);
        qkv = ve_grid_resize(g, reshape4(g, qkv, batch, grid, grid, 3 * d), side, side);
        qkv = ve_add(g, reshape2(g, qkv, tokens, 3 * d), b->qkv_b);
    }
    ve_attention_opts o = {.batch = batch,
                           .q_tokens = side * side,
                           .k_tokens = side * side,
                           .heads = p->heads,
                           .head_dim = (int)(d / p->heads),
                           .scale = 1.0f / sqrtf((float)(d / p->heads)),
                           .grid_h = side,
                           .grid_w = side,
                           .window = b->window,
                           .rel_pos_h = b->rel_h,
                           .rel_pos_w = b->rel_w};
    ve_tid a = ve_attention(g, (ve_attn_operand){qkv, 0}, (ve_attn_operand){qkv, d},
                            (ve_attn_operand){qkv, 2 * d}, &o);
    if (side != grid) a = ve_grid_resize(g, reshape4(g, a, batch, side, side, d), grid, grid);
    a = reshape4(g, ve_linear(g, reshape2(g, a, batch * grid * grid, d), b->proj_w, b->proj_b),
                 batch, grid, grid, d);
    x = ve_add(g, x, a);
    ve_tid m = ve_layernorm(g, x, b->norm2_w, b->norm2_b, eps);
    m = ve_linear(g, ve_gelu(g, ve_linear(g, m, b->lin1_w, b->lin1_b)), b->lin2_w, b->lin2_b);
    return ve_add(g, x, m);
}

ve_tid sam_image_encoder_build(ve_graph *g, const sam_image_encoder *e, ve_tid image) {
    if (ve_tensor_ndim(g, image) != 4 || ve_tensor_dim(g, image, 1) != 3 ||
        ve_tensor_dim(g, image, 2) != e->img_size || ve_tensor_dim(g, image, 3) != e->img_size) {
        ve_fail("image encoder: input %s must be [B, 3, %d, %d]", ve_tensor_name(g, image),
                e->img_size, e->img_size);
        return VE_NONE;
    }
    const int64_t batch = ve_tensor_dim(g, image, 0), grid = e->grid, d = e->p.embed_dim;
    ve_tid x = ve_patch_embed(g, image, e->patch_w, e->patch_b);
    /* pos_embed is shared by every image: broadcast over the batch as one long row. */
    int64_t n_pos = grid * grid * d;
    x = ve_add(g, reshape2(g, x, batch, n_pos), ve_reshape(g, e->pos_embed, 1, &n_pos));
    x = reshape4(g, x, batch, grid, grid, d);
    for (int i = 0; i < e->p.depth && x != VE_NONE; i++)
        x = block(g, e, &e->blk[i], x, batch);
    if (x == VE_NONE) return VE_NONE;
    x = ve_conv2d(g, x, e->neck0_w, VE_NONE, 1, 0);
    x = ve_layernorm(g, x, e->neck1_w, e->neck1_b, 1e-6f);
    x = ve_conv2d(g, x, e->neck2_w, VE_NONE, 1, 1);
    return ve_layernorm(g, x, e->neck3_w, e->neck3_b, 1e-6f);
}
