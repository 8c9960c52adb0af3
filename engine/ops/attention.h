/* Internal to the fused attention op (attention.c: forward, attention_bwd.c: backward): the op's
 * saved parameters and the push constants of shaders/attention_common.glsl. */
#ifndef VE_OPS_ATTENTION_H
#define VE_OPS_ATTENTION_H

#include "node.h"

/* Validated parameters, saved on the tape (fits VE_TAPE_CTX_BYTES). Columns are in floats. */
typedef struct {
    ve_tid q, k, v, rh, rw, out, lse;
    ve_tid bias; /* rel pos: attention_bias.comp's output (VE_NONE without) */
    int32_t qc, kc, vc;
    int32_t batch, q_tokens, k_tokens, grid_h, grid_w, heads, head_dim, window;
    float scale;
} ve_attn_ctx;

/* Must match `P` in shaders/attention_common.glsl, word for word. */
typedef struct {
    uint32_t nq, qw, nk, kw, nb, nwin, nwx, win, grid_w, heads, q_tokens, k_tokens;
    uint32_t q_rs, q_c0, k_rs, k_c0, v_rs, v_c0, lh, lw, scale, n_groups, acc0, acc1, aux;
    uint32_t bq4;
} ve_attn_push;

/* Fills p for c; key_side: workgroups tile keys (attention_bwd_dkdv), else queries; per_lane:
 * keys or queries per invocation. */
void ve_attn_push_init(const ve_graph *g, const ve_attn_ctx *c, int key_side, uint32_t per_lane,
                       ve_attn_push *p);
/* Sets p's workgroups per (image, window, head) and in all for n items, per_lane each. */
void ve_attn_set_blocks(const ve_graph *g, const ve_attn_ctx *c, uint32_t n, uint32_t per_lane,
                        ve_attn_push *p);
/* Queries (or keys) per invocation of the register-tiled kernels: 1 on GPUs, more on lavapipe. */
uint32_t ve_attn_per_lane(const ve_graph *g, const ve_attn_ctx *c);
/* Lanes per workgroup: 8 on lavapipe (its SIMD width), 64 on GPUs. */
uint32_t ve_attn_wg(const ve_graph *g);
/* Key rows and columns of a key block (kh = 1, kw = k_tokens without a grid). */
void ve_attn_key_block(const ve_attn_ctx *c, int64_t *kh, int64_t *kw);
/* Sets the common spec constants (0 workgroup, 1 head_dim / 4, 2 rel pos) and groups, copies
 * the push constants, appends the node. */
int ve_attn_node(ve_graph *g, ve_node_desc *d, const ve_attn_ctx *c, const ve_attn_push *p);

int ve_attn_backward(ve_graph *g, const ve_tape_entry *e);

#endif
