/* LayerNorm over the last dim, with optional weight and bias, and its backward.
 *
 * Two kernel families, chosen by device class: on CPU-like devices (lavapipe) one invocation per
 * row with texel loads (3x faster there than the GPU design, see LAVAPIPE_NOTES.md); on GPUs one
 * workgroup per row with a shared-memory reduction (*_wg kernels). The forward also writes each
 * row's mean and rstd for the backward. dw and db are column sums (per row block, then summed by
 * ve_sum_cols_node), only appended when w or b needs a gradient. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

#define DW_BLOCK 256 /* rows per partial of the weight gradient */
#define WG_GPU 256   /* threads per row in the GPU kernels */
/* Longest row one invocation handles on CPU-like devices: lavapipe silently ends a shader's
 * loops after about 65535 iterations in all (3 passes over the row here), so longer rows use the
 * workgroup-per-row kernels there too. */
#define ROW_MAX 16384
/* Longest row at all: the workgroup-per-row kernels loop 3 * cols / 256 times per thread. */
#define ROW_LIMIT ((int64_t)1 << 22)

typedef struct {
    ve_tid x, w, b, mean, rstd;
    float eps;
} ln_ctx;

static int gpu_style(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU;
}

/* Workgroup-per-row kernels: on GPUs, and for very long rows everywhere. */
static int per_wg(const ve_graph *g, int64_t cols) {
    return gpu_style(g) || cols > ROW_MAX;
}

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* Lavapipe runs 8 lanes per SIMD op; GPUs want 64 when one invocation handles one row. */
static uint32_t row_wg(const ve_graph *g) {
    return gpu_style(g) ? 64 : 8;
}

static int ln_dx_node(ve_graph *g, const ln_ctx *c, ve_tid dy, ve_tid dx, int acc) {
    int64_t rows, cols;
    ve_tensor_rows_cols(g, c->x, &rows, &cols);
    const int has_w = c->w != VE_NONE, wg = per_wg(g, cols);
    ve_node_desc d = {.kernel = wg ? "layernorm_bwd_wg" : "layernorm_bwd", .op = "layernorm_bwd"};
    d.n_bind = 6;
    d.bind[0] = (ve_binding){c->x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){has_w ? c->w : c->x, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[3] = (ve_binding){c->mean, VE_READ, VE_BIND_STORAGE};
    d.bind[4] = (ve_binding){c->rstd, VE_READ, VE_BIND_STORAGE};
    d.bind[5] = (ve_binding){dx, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    if (wg)
        for (int i = 0; i < 3; i++)
            d.bind[i].type = VE_BIND_STORAGE;
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, acc != 0,
                       ve_f2u((float)(1.0 / (double)cols))};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 3;
    d.spec[0] = wg ? WG_GPU : row_wg(g);
    d.spec[1] = cols % 4 == 0;
    d.spec[2] = has_w;
    ve_groups_1d(g, wg ? (uint64_t)rows : ceil_div((uint64_t)rows, d.spec[0]), d.groups);
    d.flops = 10.0 * (double)rows * (double)cols;
    d.bytes = 4.0 * (double)rows * (double)cols * (acc ? 4.0 : 3.0);
    return ve_node_add(g, &d);
}

/* dw (+)= sum over rows of dy * xhat: per row block into partials, then ve_sum_cols_node. */
static int ln_dw_pass(ve_graph *g, const ln_ctx *c, ve_tid dy, ve_tid out, int64_t block, int acc) {
    int64_t rows, cols;
    ve_tensor_rows_cols(g, c->x, &rows, &cols);
    const uint32_t vec = cols % 4 == 0, wgs = row_wg(g);
    const uint64_t ncg = vec ? (uint64_t)cols / 4 : (uint64_t)cols;
    const uint64_t nblocks = ceil_div((uint64_t)rows, (uint64_t)block);
    ve_node_desc d = {.kernel = "layernorm_dw", .op = "layernorm_dw", .n_bind = 5};
    d.bind[0] = (ve_binding){c->x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){c->mean, VE_READ, VE_BIND_STORAGE};
    d.bind[3] = (ve_binding){c->rstd, VE_READ, VE_BIND_STORAGE};
    d.bind[4] = (ve_binding){out, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, (uint32_t)block, (uint32_t)ncg, acc != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wgs;
    d.spec[1] = vec;
    ve_groups_1d(g, ceil_div(ncg * nblocks, wgs), d.groups);
    d.flops = 4.0 * (double)rows * (double)cols;
    d.bytes = 4.0 * (2.0 * (double)rows * (double)cols + (double)(nblocks * (uint64_t)cols));
    return ve_node_add(g, &d);
}

static int ln_dw(ve_graph *g, const ln_ctx *c, ve_tid dy, ve_tid dw, int acc) {
    int64_t rows, cols;
    ve_tensor_rows_cols(g, c->x, &rows, &cols);
    if (rows <= DW_BLOCK) return ln_dw_pass(g, c, dy, dw, rows, acc);
    int64_t nb = (int64_t)ceil_div((uint64_t)rows, DW_BLOCK);
    ve_tid part = ve_tensor_2d(g, VE_ACTIVATION, "layernorm.dw_partial", nb, cols);
    if (part == VE_NONE || ln_dw_pass(g, c, dy, part, DW_BLOCK, 0)) return VE_FAIL;
    return ve_sum_cols_node(g, part, dw, acc);
}

static int ln_backward(ve_graph *g, const ve_tape_entry *e) {
    ln_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid dy = ve_grad_of(g, e->out[0]);
    if (dy == VE_NONE) return VE_OK;
    int acc;
    ve_tid dx = ve_grad_dest(g, c.x, &acc);
    if (dx != VE_NONE && ln_dx_node(g, &c, dy, dx, acc))
        return ve_fail_context("layernorm backward (dx): ");
    if (c.w != VE_NONE) {
        ve_tid dw = ve_grad_dest(g, c.w, &acc);
        if (dw != VE_NONE && ln_dw(g, &c, dy, dw, acc))
            return ve_fail_context("layernorm backward (dw): ");
    }
    if (c.b != VE_NONE) {
        ve_tid db = ve_grad_dest(g, c.b, &acc);
        if (db != VE_NONE && ve_sum_cols_node(g, dy, db, acc))
            return ve_fail_context("layernorm backward (db): ");
    }
    return VE_OK;
}

static int check_vec(const ve_graph *g, ve_tid t, int64_t cols, const char *what) {
    if (t != VE_NONE && ve_tensor_numel(g, t) != cols)
        return ve_fail("layernorm: %s '%s' has %lld elements, x has %lld columns", what,
                       ve_tensor_name(g, t), (long long)ve_tensor_numel(g, t), (long long)cols);
    return VE_OK;
}

ve_tid ve_layernorm(ve_graph *g, ve_tid x, ve_tid w, ve_tid b, float eps) {
    if (x < 0) {
        ve_fail("layernorm: missing input tensor");
        return VE_NONE;
    }
    int64_t rows, cols;
    ve_tensor_rows_cols(g, x, &rows, &cols);
    if (check_vec(g, w, cols, "weight") || check_vec(g, b, cols, "bias")) return VE_NONE;
    if (ve_tensor_numel(g, x) >= ((int64_t)1 << 32) || cols > ROW_LIMIT || !(eps >= 0.0f)) {
        ve_fail("layernorm: x '%s' (%lld x %lld): over 2^32 elements, rows over %lld, or bad "
                "eps %g",
                ve_tensor_name(g, x), (long long)rows, (long long)cols, (long long)ROW_LIMIT,
                (double)eps);
        return VE_NONE;
    }
    int nd = ve_tensor_ndim(g, x);
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "layernorm", nd, shape);
    ve_tid mean = ve_tensor(g, VE_ACTIVATION, "layernorm.mean", 1, &rows);
    ve_tid rstd = ve_tensor(g, VE_ACTIVATION, "layernorm.rstd", 1, &rows);
    if (y == VE_NONE || mean == VE_NONE || rstd == VE_NONE) {
        ve_fail_context("layernorm: ");
        return VE_NONE;
    }
    const int wg = per_wg(g, cols);
    ve_node_desc d = {.kernel = wg ? "layernorm_fwd_wg" : "layernorm_fwd", .op = "layernorm"};
    d.n_bind = 6;
    /* Without w or b, x stands in for them: the layout stays the same, the kernel skips them. */
    d.bind[0] = (ve_binding){x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){w != VE_NONE ? w : x, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){b != VE_NONE ? b : x, VE_READ, VE_BIND_TEXEL};
    d.bind[3] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    d.bind[4] = (ve_binding){mean, VE_WRITE, VE_BIND_STORAGE};
    d.bind[5] = (ve_binding){rstd, VE_WRITE, VE_BIND_STORAGE};
    if (wg)
        for (int i = 0; i < 3; i++)
            d.bind[i].type = VE_BIND_STORAGE;
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, ve_f2u(eps),
                       ve_f2u((float)(1.0 / (double)cols))};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 4;
    d.spec[0] = wg ? WG_GPU : row_wg(g);
    d.spec[1] = cols % 4 == 0;
    d.spec[2] = w != VE_NONE;
    d.spec[3] = b != VE_NONE;
    ve_groups_1d(g, wg ? (uint64_t)rows : ceil_div((uint64_t)rows, d.spec[0]), d.groups);
    d.flops = 8.0 * (double)rows * (double)cols;
    d.bytes = 4.0 * (2.0 * (double)rows * (double)cols + 2.0 * (double)cols);
    if (ve_node_add(g, &d)) {
        ve_fail_context("layernorm: ");
        return VE_NONE;
    }
    ln_ctx c = {x, w, b, mean, rstd, eps};
    ve_tid in[3];
    int n_in = 0;
    in[n_in++] = x;
    if (w != VE_NONE) in[n_in++] = w;
    if (b != VE_NONE) in[n_in++] = b;
    if (ve_tape_record(g, ln_backward, n_in, in, 1, &y, &c, sizeof c)) return VE_NONE;
    return y;
}
