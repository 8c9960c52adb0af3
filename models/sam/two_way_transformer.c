#include "sam/two_way_transformer.h"

#include <math.h>

#include "ops.h"
#include "status.h"

/* The transformer's nn.LayerNorm layers use PyTorch's default eps. */
#define DEC_LN_EPS 1e-5f

static ve_tid rows(ve_graph *g, ve_tid t, int64_t r, int64_t c) {
    int64_t s[2] = {r, c};
    return ve_reshape(g, t, 2, s);
}

/* x [B * hw, C] + pe [hw * C] broadcast over the batch. */
static ve_tid add_pe(ve_graph *g, ve_tid x, ve_tid pe, int64_t batch, int64_t hw, int64_t c) {
    return rows(g, ve_add(g, rows(g, x, batch, hw * c), pe), batch * hw, c);
}

/* x w^T + b, plus SAMed_s's adapter (x A^T) B^T when there is one (fused into the linear). */
static ve_tid proj(ve_graph *g, ve_tid x, ve_tid w, ve_tid b, ve_tid la, ve_tid lb) {
    if (la == VE_NONE) return ve_linear(g, x, w, b);
    ve_lora_adapter ad = {la, lb, 0};
    return ve_linear_lora(g, x, w, b, 1, &ad);
}

/* DecoderAttention: project q [B*nq, C], k and v [B*nk, C] to the internal width, attend per
 * image and head (softmax(q k^T / sqrt(head_dim)) v), project back to C. */
static ve_tid attend(ve_graph *g, const sam_dec_attn *a, int heads, ve_tid q, ve_tid k, ve_tid v,
                     int64_t batch, int64_t nq, int64_t nk) {
    q = proj(g, q, a->q_w, a->q_b, a->lora_a[0], a->lora_b[0]);
    k = ve_linear(g, k, a->k_w, a->k_b);
    v = proj(g, v, a->v_w, a->v_b, a->lora_a[1], a->lora_b[1]);
    if (q == VE_NONE || k == VE_NONE || v == VE_NONE) return VE_NONE;
    const int hd = a->internal / heads;
    ve_attention_opts o = {.batch = batch,
                           .q_tokens = nq,
                           .k_tokens = nk,
                           .heads = heads,
                           .head_dim = hd,
                           .scale = 1.0f / sqrtf((float)hd),
                           .rel_pos_h = VE_NONE,
                           .rel_pos_w = VE_NONE};
    ve_tid o_ = ve_attention(g, (ve_attn_operand){q, 0}, (ve_attn_operand){k, 0},
                             (ve_attn_operand){v, 0}, &o);
    return ve_linear(g, o_, a->out_w, a->out_b);
}

ve_tid sam_mlp_build(ve_graph *g, const sam_mlp *m, ve_tid x) {
    for (int i = 0; i < m->n && x != VE_NONE; i++) {
        x = ve_linear(g, x, m->w[i], m->b[i]);
        if (i + 1 < m->n) x = ve_relu(g, x);
    }
    return x;
}

int sam_two_way_transformer(ve_graph *g, const sam_mask_decoder *d, ve_tid tokens, ve_tid keys,
                            ve_tid key_pe, int64_t batch, int64_t n_tok, int64_t hw,
                            ve_tid *tokens_out, ve_tid *keys_out) {
    const sam_preset *p = &d->p;
    const int heads = p->decoder_heads;
    const int64_t c = p->prompt_dim;
    const ve_tid tok_pe = tokens;
    ve_tid q = tokens;
    for (int i = 0; i < p->decoder_depth; i++) {
        const sam_twoway_layer *l = &d->layer[i];
        /* 1. Self-attention; the first block attends the raw tokens and has no residual. */
        if (i == 0) {
            q = attend(g, &l->self_attn, heads, q, q, q, batch, n_tok, n_tok);
        } else {
            ve_tid qp = ve_add(g, q, tok_pe);
            q = ve_add(g, q, attend(g, &l->self_attn, heads, qp, qp, q, batch, n_tok, n_tok));
        }
        q = ve_layernorm(g, q, l->norm_w[0], l->norm_b[0], DEC_LN_EPS);
        /* 2. Tokens attend to the image (keys do not change before step 4). */
        ve_tid kp = add_pe(g, keys, key_pe, batch, hw, c);
        ve_tid a = attend(g, &l->t2i, heads, ve_add(g, q, tok_pe), kp, keys, batch, n_tok, hw);
        q = ve_layernorm(g, ve_add(g, q, a), l->norm_w[1], l->norm_b[1], DEC_LN_EPS);
        /* 3. MLP (ReLU). */
        ve_tid m =
            ve_linear(g, ve_relu(g, ve_linear(g, q, l->lin1_w, l->lin1_b)), l->lin2_w, l->lin2_b);
        q = ve_layernorm(g, ve_add(g, q, m), l->norm_w[2], l->norm_b[2], DEC_LN_EPS);
        /* 4. The image attends to the tokens. */
        a = attend(g, &l->i2t, heads, kp, ve_add(g, q, tok_pe), q, batch, hw, n_tok);
        keys = ve_layernorm(g, ve_add(g, keys, a), l->norm_w[3], l->norm_b[3], DEC_LN_EPS);
        if (q == VE_NONE || keys == VE_NONE) return ve_fail_context("two-way block %d: ", i);
    }
    ve_tid kp = add_pe(g, keys, key_pe, batch, hw, c);
    ve_tid a = attend(g, &d->final_attn, heads, ve_add(g, q, tok_pe), kp, keys, batch, n_tok, hw);
    q = ve_layernorm(g, ve_add(g, q, a), d->norm_final_w, d->norm_final_b, DEC_LN_EPS);
    if (q == VE_NONE) return ve_fail_context("two-way final attention: ");
    *tokens_out = q;
    *keys_out = keys;
    return VE_OK;
}
