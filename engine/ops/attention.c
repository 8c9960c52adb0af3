/* Fused attention forward (ve_attention): shaders/attention_fwd.comp, with an online softmax, so
 * the (up to 4096 x 4096 per head) attention matrix is never stored. Windows are addressed in
 * place on the padded token grid (no partition copies). The decomposed relative-position bias of
 * SAM's image encoder is computed per query (kh + kw dots) by attention_bias.comp into a tensor
 * the forward and the backward read (attention.bias). The backward is in attention_bwd.c.
 *
 * One kernel family for both device classes: workgroups of 8 lanes that walk the same keys,
 * texel-buffer reads (the fast design on lavapipe), and on lavapipe a register tile of 4
 * queries (or keys) per invocation so every fetched texel serves 4 of them (brain step: forward
 * 1.8x, backward 2.0x faster than one per invocation). GPUs get 64-lane workgroups of the same
 * kernels with one query per invocation. A shared-memory tiled (FlashAttention-style) family for
 * GPUs is future work. */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "ops.h"
#include "status.h"

#define MAX_HEAD_DIM 128 /* MAXD4 * 4 in the shaders */
#define MAX_L 64         /* MAXL: rel-pos key blocks of at most 64 x 64 */
/* Per invocation the kernels loop over all keys (or queries) of a block: keep that well below
 * lavapipe's silent 65535-iteration limit (engine/node.h). */
#define MAX_TOKENS 32768

uint32_t ve_attn_wg(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU ? 64 : 8;
}

void ve_attn_key_block(const ve_attn_ctx *c, int64_t *kh, int64_t *kw) {
    if (c->grid_h == 0) {
        *kh = 1;
        *kw = c->k_tokens;
    } else if (c->window) {
        *kh = *kw = c->window;
    } else {
        *kh = c->grid_h;
        *kw = c->grid_w;
    }
}

static int64_t row_len(const ve_graph *g, ve_tid t) {
    return ve_tensor_dim(g, t, -1);
}

uint32_t ve_attn_per_lane(const ve_graph *g, const ve_attn_ctx *c) {
    if (ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU) return 1;
    (void)c; /* 4 measured best for head_dim 32 and 64 (2: 1.2-1.4x slower) */
    return 4;
}

void ve_attn_set_blocks(const ve_graph *g, const ve_attn_ctx *c, uint32_t n, uint32_t per_lane,
                        ve_attn_push *p) {
    const uint32_t per_group = ve_attn_wg(g) * per_lane;
    p->nb = (n + per_group - 1) / per_group;
    p->n_groups = (uint32_t)c->batch * p->nwin * p->heads * p->nb;
}

void ve_attn_push_init(const ve_graph *g, const ve_attn_ctx *c, int key_side, uint32_t per_lane,
                       ve_attn_push *p) {
    memset(p, 0, sizeof *p);
    int64_t kh, kw;
    ve_attn_key_block(c, &kh, &kw);
    p->nk = (uint32_t)(kh * kw);
    p->kw = (uint32_t)kw;
    if (c->grid_h == 0) {
        p->nq = p->qw = (uint32_t)c->q_tokens;
        p->nwin = p->nwx = 1;
    } else {
        p->nq = p->nk;
        p->qw = p->kw;
        p->grid_w = (uint32_t)c->grid_w;
        p->win = (uint32_t)c->window;
        p->nwx = c->window ? (uint32_t)(c->grid_w / c->window) : 1;
        p->nwin = c->window ? p->nwx * (uint32_t)(c->grid_h / c->window) : 1;
        p->lh = (uint32_t)kh - 1;
        p->lw = (uint32_t)kw - 1;
    }
    p->heads = (uint32_t)c->heads;
    p->q_tokens = (uint32_t)c->q_tokens;
    p->k_tokens = (uint32_t)c->k_tokens;
    p->q_rs = (uint32_t)(row_len(g, c->q) / 4);
    p->k_rs = (uint32_t)(row_len(g, c->k) / 4);
    p->v_rs = (uint32_t)(row_len(g, c->v) / 4);
    p->q_c0 = (uint32_t)c->qc / 4;
    p->k_c0 = (uint32_t)c->kc / 4;
    p->v_c0 = (uint32_t)c->vc / 4;
    p->scale = ve_f2u(c->scale);
    p->bq4 = (p->nq + 3) / 4;
    ve_attn_set_blocks(g, c, key_side ? p->nk : p->nq, per_lane, p);
}

int ve_attn_node(ve_graph *g, ve_node_desc *d, const ve_attn_ctx *c, const ve_attn_push *p) {
    d->spec[0] = ve_attn_wg(g);
    d->spec[1] = (uint32_t)c->head_dim / 4;
    d->spec[2] = c->rh != VE_NONE;
    if (d->n_spec < 3) d->n_spec = 3;
    memcpy(d->push, p, sizeof *p);
    d->push_bytes = sizeof *p;
    if (p->n_groups) ve_groups_1d(g, p->n_groups, d->groups);
    return ve_node_add(g, d);
}

/* Validates one operand: rows, column range, texel alignment. */
static int check_operand(const ve_graph *g, const char *what, ve_attn_operand a, int64_t rows,
                         int64_t width) {
    if (a.t < 0 || ve_tensor_ndim(g, a.t) == 0)
        return ve_fail("attention: missing %s tensor", what);
    const int64_t r = row_len(g, a.t), n = ve_tensor_numel(g, a.t);
    if (n / r != rows || a.col < 0 || a.col + width > r)
        return ve_fail("attention: %s '%s' is %lld x %lld: needs %lld rows and columns %lld..%lld",
                       what, ve_tensor_name(g, a.t), (long long)(n / r), (long long)r,
                       (long long)rows, (long long)a.col, (long long)(a.col + width - 1));
    if (r % 4 != 0 || a.col % 4 != 0 || n / 4 > INT32_MAX)
        return ve_fail("attention: %s '%s' row length %lld and column %lld must be multiples of "
                       "4 (texel reads), and it under 2^33 elements",
                       what, ve_tensor_name(g, a.t), (long long)r, (long long)a.col);
    return VE_OK;
}

static int check_table(const ve_graph *g, const char *what, ve_tid t, int64_t len, int hd) {
    if (ve_tensor_ndim(g, t) == 0 || ve_tensor_numel(g, t) != (2 * len - 1) * hd ||
        row_len(g, t) != hd)
        return ve_fail("attention: %s must be [%lld, %d] (2L-1 x head_dim, L = %lld)", what,
                       (long long)(2 * len - 1), hd, (long long)len);
    return VE_OK;
}

static int check_opts(const ve_graph *g, ve_attn_operand q, ve_attn_operand k, ve_attn_operand v,
                      const ve_attention_opts *o) {
    if (!g || !o) return ve_fail("attention: NULL graph or options");
    if (o->batch < 1 || o->q_tokens < 1 || o->k_tokens < 1 || o->heads < 1 ||
        o->q_tokens > MAX_TOKENS || o->k_tokens > MAX_TOKENS || o->batch > 65535 ||
        o->heads > 1024 || o->head_dim < 4 || o->head_dim > MAX_HEAD_DIM || o->head_dim % 4 != 0 ||
        !isfinite(o->scale))
        return ve_fail("attention: batch %lld, q_tokens %lld, k_tokens %lld, heads %d, head_dim "
                       "%d, scale %g: need tokens 1..%d, head_dim a multiple of 4 up to %d",
                       (long long)o->batch, (long long)o->q_tokens, (long long)o->k_tokens,
                       o->heads, o->head_dim, (double)o->scale, MAX_TOKENS, MAX_HEAD_DIM);
    const int has_grid = o->grid_h || o->grid_w || o->window;
    const int has_rel = o->rel_pos_h != VE_NONE || o->rel_pos_w != VE_NONE;
    if (has_grid) {
        if (o->grid_h < 1 || o->grid_w < 1 || o->window < 0 ||
            o->grid_h * o->grid_w != o->q_tokens || o->k_tokens != o->q_tokens ||
            (o->window && (o->grid_h % o->window || o->grid_w % o->window)))
            return ve_fail("attention: grid %lld x %lld, window %d, tokens %lld / %lld: need "
                           "q_tokens == k_tokens == grid_h * grid_w, sides multiples of the "
                           "window (pad first)",
                           (long long)o->grid_h, (long long)o->grid_w, o->window,
                           (long long)o->q_tokens, (long long)o->k_tokens);
    } else if (has_rel) {
        return ve_fail("attention: relative position needs a token grid (grid_h, grid_w)");
    }
    if (has_rel) {
        if (o->rel_pos_h == VE_NONE || o->rel_pos_w == VE_NONE)
            return ve_fail("attention: give both rel_pos_h and rel_pos_w, or neither");
        const int64_t lh = o->window ? o->window : o->grid_h;
        const int64_t lw = o->window ? o->window : o->grid_w;
        if (lh > MAX_L || lw > MAX_L)
            return ve_fail("attention: relative position over a %lld x %lld block: at most %d",
                           (long long)lh, (long long)lw, MAX_L);
        if (check_table(g, "rel_pos_h", o->rel_pos_h, lh, o->head_dim) ||
            check_table(g, "rel_pos_w", o->rel_pos_w, lw, o->head_dim))
            return VE_FAIL;
    }
    const int64_t w = (int64_t)o->heads * o->head_dim;
    if (check_operand(g, "q", q, o->batch * o->q_tokens, w) ||
        check_operand(g, "k", k, o->batch * o->k_tokens, w) ||
        check_operand(g, "v", v, o->batch * o->k_tokens, w))
        return VE_FAIL;
    if (o->batch * o->q_tokens * w / 4 > INT32_MAX)
        return ve_fail("attention: output over 2^33 elements");
    return VE_OK;
}

/* The rel-pos bias terms of every (query, head) (attention_bias.comp), read by the forward and
 * the backward: [image, window, head][kh + kw][queries of the block padded to 4]. */
static int bias_node(ve_graph *g, ve_attn_ctx *c) {
    ve_attn_push p;
    ve_attn_push_init(g, c, 0, 1, &p);
    const int64_t nq4 = (p.nq + 3) / 4, kh = p.nk / p.kw, kw = p.kw;
    c->bias = ve_tensor_2d(g, VE_ACTIVATION, "attention.bias",
                           (int64_t)c->batch * p.nwin * c->heads * (kh + kw), nq4 * 4);
    if (c->bias == VE_NONE) return VE_FAIL;
    ve_attn_set_blocks(g, c, (uint32_t)(nq4 * 4), 1, &p);
    ve_node_desc d = {.kernel = "attention_bias", .op = "attention", .n_bind = 4};
    d.bind[0] = (ve_binding){c->q, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){c->rh, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){c->rw, VE_READ, VE_BIND_TEXEL};
    d.bind[3] = (ve_binding){c->bias, VE_WRITE, VE_BIND_STORAGE};
    const double rows = (double)c->batch * c->q_tokens * c->heads;
    d.flops = 2.0 * rows * (double)(kh + kw) * c->head_dim;
    d.bytes = 4.0 * rows * ((double)(kh + kw) + c->head_dim);
    return ve_attn_node(g, &d, c, &p);
}

ve_tid ve_attention(ve_graph *g, ve_attn_operand q, ve_attn_operand k, ve_attn_operand v,
                    const ve_attention_opts *o) {
    if (check_opts(g, q, k, v, o)) return VE_NONE;
    const int rel = o->rel_pos_h != VE_NONE;
    ve_attn_ctx c = {.q = q.t,
                     .k = k.t,
                     .v = v.t,
                     .rh = rel ? o->rel_pos_h : VE_NONE,
                     .rw = rel ? o->rel_pos_w : VE_NONE,
                     .qc = (int32_t)q.col,
                     .kc = (int32_t)k.col,
                     .vc = (int32_t)v.col,
                     .batch = (int32_t)o->batch,
                     .q_tokens = (int32_t)o->q_tokens,
                     .k_tokens = (int32_t)o->k_tokens,
                     .grid_h = (int32_t)o->grid_h,
                     .grid_w = (int32_t)o->grid_w,
                     .heads = o->heads,
                     .head_dim = o->head_dim,
                     .window = o->window,
                     .scale = o->scale};
    const int64_t rows = o->batch * o->q_tokens, heads = o->heads;
    c.out = ve_tensor_2d(g, VE_ACTIVATION, "attention", rows, heads * o->head_dim);
    c.lse = ve_tensor_2d(g, VE_ACTIVATION, "attention.lse", rows, heads);
    if (c.out == VE_NONE || c.lse == VE_NONE) {
        ve_fail_context("attention: ");
        return VE_NONE;
    }
    c.bias = VE_NONE;
    if (rel && bias_node(g, &c)) {
        ve_fail_context("attention (rel-pos bias): ");
        return VE_NONE;
    }
    const uint32_t per_lane = ve_attn_per_lane(g, &c);
    ve_attn_push p;
    ve_attn_push_init(g, &c, 0, per_lane, &p);
    ve_node_desc d = {.kernel = "attention_fwd", .op = "attention", .n_bind = 6, .n_spec = 4};
    d.bind[0] = (ve_binding){c.q, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){c.k, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){c.v, VE_READ, VE_BIND_TEXEL};
    d.bind[3] = (ve_binding){rel ? c.bias : c.q, VE_READ, VE_BIND_TEXEL};
    d.bind[4] = (ve_binding){c.out, VE_WRITE, VE_BIND_STORAGE};
    d.bind[5] = (ve_binding){c.lse, VE_WRITE, VE_BIND_STORAGE};
    d.spec[3] = per_lane;
    const double pairs = (double)o->batch * p.nwin * (double)p.nq * (double)p.nk * (double)heads;
    d.flops = pairs * 4.0 * o->head_dim;
    d.bytes = 4.0 * ((double)rows * heads * o->head_dim * 2.0 +
                     (double)o->batch * o->k_tokens * heads * o->head_dim * 2.0);
    if (ve_attn_node(g, &d, &c, &p)) {
        ve_fail_context("attention: ");
        return VE_NONE;
    }
    /* Each distinct tensor once: q, k, v usually share SAM's qkv tensor. */
    ve_tid in[5];
    int n_in = 0;
    const ve_tid cand[5] = {c.q, c.k, c.v, c.rh, c.rw};
    for (int i = 0; i < 5; i++) {
        int dup = cand[i] == VE_NONE;
        for (int j = 0; j < n_in; j++)
            dup |= in[j] == cand[i];
        if (!dup) in[n_in++] = cand[i];
    }
    if (ve_tape_record(g, ve_attn_backward, n_in, in, 1, &c.out, &c, sizeof c)) return VE_NONE;
    return c.out;
}
