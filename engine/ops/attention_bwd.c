/* Fused attention backward (FlashAttention-2 style: P is recomputed from the saved log-sum-exp
 * and, with rel pos, the forward's bias tensor; never stored). Kernels, each appended only when
 * something downstream needs it:
 *   attention_bwd_prep  per (query, head): delta = dO.O, next to the log-sum-exp (STATS)
 *   attention_bwd_dq    per (tile of queries, head): dq; with rel pos, row/column sums of dS (DREL)
 *   attention_bwd_relq  per (query, head): the rel-pos share of dq (from DREL)
 *   attention_bwd_dkdv  per (tile of keys, head): dk, dv
 *   attention_bwd_drel  per (block of queries, table row): d rel_pos_h / d rel_pos_w
 * STATS and DREL use the layouts of attention_common.glsl (4 consecutive queries a texel).
 *
 * Gradient destinations: q, k, v are usually disjoint columns of one qkv tensor. ve_grad_dest is
 * asked once per distinct tensor; when that is its first write (accumulate 0) and our parts tile
 * its columns exactly (SAM's qkv: [0,D) [D,2D) [2D,3D)), each part simply overwrites its columns.
 * Otherwise (parts overlap, e.g. decoder self-attention with q = k = v, or leave columns out) the
 * gradient is zero-filled first and every part accumulates. */
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "ops.h"
#include "status.h"

#define DREL_BLOCK 256 /* query tokens per partial sum of a rel-pos table's gradient */

typedef struct {
    ve_tid t, dest; /* operand tensor, its gradient (VE_NONE: none needed) */
    int32_t col;
    int acc;
} grad_part;

static int cmp_col(const void *a, const void *b) {
    const int32_t x = **(const int32_t *const *)a, y = **(const int32_t *const *)b;
    return (x > y) - (x < y);
}

/* Resolves the destinations and accumulate flags of dq, dk, dv (see the file comment). */
static int grad_parts(ve_graph *g, const ve_attn_ctx *c, grad_part part[3]) {
    const ve_tid t[3] = {c->q, c->k, c->v};
    const int32_t col[3] = {c->qc, c->kc, c->vc};
    const int64_t width = (int64_t)c->heads * c->head_dim;
    for (int i = 0; i < 3; i++)
        part[i] = (grad_part){t[i], VE_NONE, col[i], 0};
    for (int i = 0; i < 3; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= t[j] != t[i];
        if (!first) continue;
        int acc;
        ve_tid dest = ve_grad_dest(g, t[i], &acc);
        if (dest == VE_NONE) continue;
        const int32_t *cols[3];
        int n = 0;
        for (int j = i; j < 3; j++)
            if (t[j] == t[i]) cols[n++] = &col[j];
        if (!acc) {
            qsort(cols, (size_t)n, sizeof cols[0], cmp_col);
            int64_t end = 0;
            int tiles = 1;
            for (int j = 0; j < n; j++) {
                tiles &= *cols[j] == end;
                end = *cols[j] + width;
            }
            tiles &= end == ve_tensor_dim(g, t[i], -1);
            if (!tiles) {
                if (ve_fill_node(g, dest, 0.0f)) return VE_FAIL;
                acc = 1;
            }
        }
        for (int j = i; j < 3; j++)
            if (t[j] == t[i]) {
                part[j].dest = dest;
                part[j].acc = acc;
            }
    }
    return VE_OK;
}

static ve_tid tmp2d(ve_graph *g, const char *name, int64_t rows, int64_t cols) {
    return ve_tensor_2d(g, VE_ACTIVATION, name, rows, cols);
}

/* For a binding the shader declares writable but this variant never writes: a tensor of its
 * own, bound as written, since the validation layers' hazard tracking goes by the declaration
 * (a tensor the node also reads would be a read-after-write hazard inside the dispatch). */
static ve_binding unused(ve_graph *g) {
    return (ve_binding){tmp2d(g, "attention.unused", 1, 4), VE_WRITE, VE_BIND_STORAGE};
}

/* d rel-pos table (axis 0: h, 1: w) from DREL and q, per block of DREL_BLOCK query tokens. */
static int drel_table(ve_graph *g, const ve_attn_ctx *c, ve_tid drel, int axis, ve_tid dest,
                      int acc) {
    int64_t kh, kw;
    ve_attn_key_block(c, &kh, &kw);
    const int64_t len = axis ? kw : kh, rows = (int64_t)c->batch * c->q_tokens;
    const int64_t nblk = (rows + DREL_BLOCK - 1) / DREL_BLOCK, nr = 2 * len - 1;
    ve_tid out = dest;
    if (nblk > 1) out = tmp2d(g, "attention.drel_partial", nblk, nr * c->head_dim);
    if (out == VE_NONE) return VE_FAIL;
    ve_attn_push p;
    ve_attn_push_init(g, c, 0, 1, &p);
    p.nq = (uint32_t)nr;
    p.nk = (uint32_t)rows;
    p.nb = (uint32_t)nblk;
    p.aux = DREL_BLOCK;
    p.kw = (uint32_t)(kh + kw);
    p.v_c0 = axis ? (uint32_t)kh : 0;
    p.acc0 = nblk > 1 ? 0 : (uint32_t)acc;
    p.n_groups = 0;
    ve_node_desc d = {.kernel = "attention_bwd_drel", .op = "attention_bwd", .n_bind = 3};
    d.bind[0] = (ve_binding){drel, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){c->q, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){out, p.acc0 ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    d.n_spec = 4;
    d.spec[3] = (uint32_t)axis;
    const uint64_t n = (uint64_t)(nr * nblk);
    ve_groups_1d(g, (n + ve_attn_wg(g) - 1) / ve_attn_wg(g), d.groups);
    d.flops = 2.0 * (double)rows * c->heads * len * c->head_dim;
    d.bytes = 4.0 * (double)rows * c->heads * (kh + kw + c->head_dim);
    if (ve_attn_node(g, &d, c, &p)) return VE_FAIL;
    if (nblk > 1) return ve_sum_cols_node(g, out, dest, acc);
    return VE_OK;
}

int ve_attn_backward(ve_graph *g, const ve_tape_entry *e) {
    ve_attn_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    const ve_tid dy = ve_grad_of(g, e->out[0]);
    if (dy == VE_NONE) return VE_OK;
    const int rel = c.rh != VE_NONE;
    grad_part part[3];
    if (grad_parts(g, &c, part)) return ve_fail_context("attention backward: ");
    int acc_h = 0, acc_w = 0;
    const ve_tid drh = rel ? ve_grad_dest(g, c.rh, &acc_h) : VE_NONE;
    const ve_tid drw = rel ? ve_grad_dest(g, c.rw, &acc_w) : VE_NONE;
    const int need_q = part[0].dest != VE_NONE, need_k = part[1].dest != VE_NONE,
              need_v = part[2].dest != VE_NONE, need_tab = drh != VE_NONE || drw != VE_NONE;
    if (!need_q && !need_k && !need_v && !need_tab) return VE_OK;

    int64_t kh, kw;
    ve_attn_key_block(&c, &kh, &kw);
    const int64_t rows = (int64_t)c.batch * c.q_tokens, rh_rows = rows * c.heads;
    const double hd = c.head_dim;
    const uint32_t per_lane = ve_attn_per_lane(g, &c);
    ve_attn_push p;
    ve_attn_push_init(g, &c, 0, per_lane, &p);
    /* stats and drel: the layouts of stats_texel() and bias_texel() (attention_common.glsl) */
    const int64_t tiles = (int64_t)c.batch * p.nwin * c.heads, padded = (int64_t)p.bq4 * 4;
    ve_tid stats = tmp2d(g, "attention.stats", tiles * 2, padded);
    const ve_tid bias = c.bias;
    ve_tid drel = rel && (need_q || need_tab)
                      ? tmp2d(g, "attention.drel", tiles * (kh + kw), padded)
                      : VE_NONE;
    if (stats == VE_NONE || (drel == VE_NONE && rel && (need_q || need_tab)))
        return ve_fail_context("attention backward: ");
    ve_attn_push pp = p;
    ve_attn_set_blocks(g, &c, (uint32_t)padded, 1, &pp);
    const double pairs = (double)c.batch * p.nwin * (double)p.nq * (double)p.nk * c.heads;

    ve_node_desc d = {.kernel = "attention_bwd_prep", .op = "attention_bwd", .n_bind = 4};
    d.bind[0] = (ve_binding){c.out, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){c.lse, VE_READ, VE_BIND_STORAGE};
    d.bind[3] = (ve_binding){stats, VE_WRITE, VE_BIND_STORAGE};
    d.flops = 2.0 * (double)rh_rows * hd;
    d.bytes = 4.0 * (double)rh_rows * (2.0 * hd + 3.0);
    if (ve_attn_node(g, &d, &c, &pp)) return ve_fail_context("attention backward (prep): ");

    if (need_q || (rel && need_tab)) {
        d = (ve_node_desc){.kernel = "attention_bwd_dq", .op = "attention_bwd", .n_bind = 8};
        d.bind[0] = (ve_binding){c.q, VE_READ, VE_BIND_TEXEL};
        d.bind[1] = (ve_binding){c.k, VE_READ, VE_BIND_TEXEL};
        d.bind[2] = (ve_binding){c.v, VE_READ, VE_BIND_TEXEL};
        d.bind[3] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
        d.bind[4] = (ve_binding){stats, VE_READ, VE_BIND_TEXEL};
        /* Without rel pos the bias binding is never read: stats stands in. */
        d.bind[5] = (ve_binding){rel ? bias : stats, VE_READ, VE_BIND_TEXEL};
        d.bind[6] =
            need_q ? (ve_binding){part[0].dest, part[0].acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE}
                   : unused(g);
        d.bind[7] = rel ? (ve_binding){drel, VE_WRITE, VE_BIND_STORAGE} : unused(g);
        d.n_spec = 5;
        d.spec[3] = (uint32_t)need_q;
        d.spec[4] = per_lane;
        p.acc0 = (uint32_t)part[0].acc;
        d.flops = pairs * (need_q ? 6.0 : 4.0) * hd;
        d.bytes = 4.0 * (double)rh_rows * hd * 3.0;
        if (ve_attn_node(g, &d, &c, &p)) return ve_fail_context("attention backward (dq): ");
        if (rel && need_q) {
            ve_attn_set_blocks(g, &c, p.nq, 1, &p);
            d = (ve_node_desc){.kernel = "attention_bwd_relq", .op = "attention_bwd", .n_bind = 4};
            d.bind[0] = (ve_binding){drel, VE_READ, VE_BIND_STORAGE};
            d.bind[1] = (ve_binding){c.rh, VE_READ, VE_BIND_TEXEL};
            d.bind[2] = (ve_binding){c.rw, VE_READ, VE_BIND_TEXEL};
            d.bind[3] = (ve_binding){part[0].dest, VE_RW, VE_BIND_STORAGE};
            d.flops = 2.0 * (double)rh_rows * (double)(kh + kw) * hd;
            d.bytes = 4.0 * (double)rh_rows * ((double)(kh + kw) + 2.0 * hd);
            if (ve_attn_node(g, &d, &c, &p))
                return ve_fail_context("attention backward (rel-pos dq): ");
        }
    }

    if (need_k || need_v) {
        ve_attn_push pk;
        ve_attn_push_init(g, &c, 1, per_lane, &pk);
        const int same = need_k && need_v && part[1].dest == part[2].dest;
        d = (ve_node_desc){.kernel = "attention_bwd_dkdv", .op = "attention_bwd", .n_bind = 8};
        d.bind[0] = (ve_binding){c.q, VE_READ, VE_BIND_TEXEL};
        d.bind[1] = (ve_binding){c.k, VE_READ, VE_BIND_TEXEL};
        d.bind[2] = (ve_binding){c.v, VE_READ, VE_BIND_TEXEL};
        d.bind[3] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
        d.bind[4] = (ve_binding){stats, VE_READ, VE_BIND_TEXEL};
        d.bind[5] = (ve_binding){rel ? bias : stats, VE_READ, VE_BIND_TEXEL};
        /* dK's binding carries dv too when k and v share a gradient tensor (one binding, so the
         * shader's two writes to it are ordered). */
        const int acc_k = need_k && (part[1].acc || (same && part[2].acc));
        d.bind[6] = need_k ? (ve_binding){part[1].dest, acc_k ? VE_RW : VE_WRITE, VE_BIND_STORAGE}
                           : unused(g);
        d.bind[7] = need_v && !same ? (ve_binding){part[2].dest, part[2].acc ? VE_RW : VE_WRITE,
                                                   VE_BIND_STORAGE}
                                    : unused(g);
        d.n_spec = 7;
        d.spec[6] = per_lane;
        d.spec[3] = (uint32_t)need_k;
        d.spec[4] = (uint32_t)need_v;
        d.spec[5] = (uint32_t)same;
        pk.acc0 = (uint32_t)part[1].acc;
        pk.acc1 = (uint32_t)part[2].acc;
        d.flops = pairs * 8.0 * hd;
        d.bytes = 4.0 * (double)c.batch * c.k_tokens * c.heads * hd * 4.0;
        if (ve_attn_node(g, &d, &c, &pk)) return ve_fail_context("attention backward (dk, dv): ");
    }

    if (drh != VE_NONE && drel_table(g, &c, drel, 0, drh, acc_h))
        return ve_fail_context("attention backward (d rel_pos_h): ");
    if (drw != VE_NONE && drel_table(g, &c, drel, 1, drw, acc_w))
        return ve_fail_context("attention backward (d rel_pos_w): ");
    return VE_OK;
}
