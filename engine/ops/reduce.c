/* Reductions: column sums (bias gradients, broadcast backward), row sums and means, whole-tensor
 * sums and means, and their broadcast backward.
 *
 * Accuracy: no float sum in a kernel has more than a few hundred terms. Column sums run in row
 * blocks (partials, then a sum of the partials); row sums (whole-tensor sums are row sums of a
 * 1 x n view) run in segments of at most ROW_SEG elements, each summed in chunks, then the
 * segment partials are summed the same way until one value per row is left.
 *
 * Lavapipe silently ends a shader's loops after about 65535 iterations in all (per invocation),
 * so every kernel here keeps its loops far below that: rows of blocks, rows of segments. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

#define COL_BLOCK 256 /* rows per partial of a column sum */
/* Elements per row segment: one invocation on CPU-like devices (64 chunks of 64 texels, well
 * inside lavapipe's loop limit), one workgroup of WG_ROW threads on GPUs. */
#define ROW_SEG_CPU 16384
#define ROW_SEG_GPU 65536
#define WG_ROW 256

static int gpu_style(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU;
}

/* Lavapipe runs 8 lanes per SIMD op and gains nothing from larger groups; GPUs want 64. */
static uint32_t wg_size(const ve_graph *g) {
    return gpu_style(g) ? 64 : 8;
}

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* The kernels index elements with 32-bit integers. */
static int check_size(const char *op, const ve_graph *g, ve_tid x) {
    if (ve_tensor_numel(g, x) >= ((int64_t)1 << 32))
        return ve_fail("%s: tensor '%s' has %lld elements, more than 2^32", op,
                       ve_tensor_name(g, x), (long long)ve_tensor_numel(g, x));
    return VE_OK;
}

static int sum_cols_pass(ve_graph *g, ve_tid x, ve_tid out, int64_t rows, int64_t cols,
                         int64_t block, int accumulate) {
    const uint32_t vec = cols % 4 == 0, wg = wg_size(g);
    const uint64_t ncg = vec ? (uint64_t)cols / 4 : (uint64_t)cols;
    const uint64_t nblocks = ceil_div((uint64_t)rows, (uint64_t)block);
    ve_node_desc d = {.kernel = "reduce_sum_cols", .op = "sum_cols", .n_bind = 2};
    d.bind[0] = (ve_binding){x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){out, accumulate ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, (uint32_t)block, (uint32_t)ncg,
                       accumulate != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg;
    d.spec[1] = vec;
    ve_groups_1d(g, ceil_div(ncg * nblocks, wg), d.groups);
    d.flops = (double)rows * (double)cols;
    d.bytes = 4.0 * ((double)rows * (double)cols + (double)(nblocks * (uint64_t)cols));
    return ve_node_add(g, &d);
}

int ve_sum_cols_node(ve_graph *g, ve_tid x, ve_tid out, int accumulate) {
    if (x < 0 || out < 0)
        return ve_fail("sum_cols: missing tensor (x %d, out %d)", (int)x, (int)out);
    int64_t rows, cols;
    ve_tensor_rows_cols(g, x, &rows, &cols);
    if (ve_tensor_numel(g, out) != cols)
        return ve_fail("sum_cols: x '%s' is %lld x %lld but out '%s' has %lld elements, not %lld",
                       ve_tensor_name(g, x), (long long)rows, (long long)cols,
                       ve_tensor_name(g, out), (long long)ve_tensor_numel(g, out), (long long)cols);
    if (check_size("sum_cols", g, x)) return VE_FAIL;
    ve_tid src = x;
    while (rows > COL_BLOCK) {
        int64_t nb = (int64_t)ceil_div((uint64_t)rows, COL_BLOCK);
        ve_tid part = ve_tensor_2d(g, VE_ACTIVATION, "sum_cols.partial", nb, cols);
        if (part == VE_NONE || sum_cols_pass(g, src, part, rows, cols, COL_BLOCK, 0))
            return ve_fail_context("sum_cols: ");
        src = part;
        rows = nb;
    }
    return sum_cols_pass(g, src, out, rows, cols, rows, accumulate);
}

/* out[r * nseg + s] = scale * (sum of segment s of row r), segments of seg elements. */
static int rows_pass(ve_graph *g, ve_tid x, ve_tid out, int64_t rows, int64_t cols, int64_t seg,
                     float scale, const char *op) {
    const int gpu = gpu_style(g);
    const uint64_t nseg = ceil_div((uint64_t)cols, (uint64_t)seg);
    const uint32_t wg = gpu ? WG_ROW : wg_size(g);
    ve_node_desc d = {.kernel = gpu ? "reduce_rows_wg" : "reduce_rows", .op = op, .n_bind = 2};
    d.bind[0] = (ve_binding){x, VE_READ, gpu ? VE_BIND_STORAGE : VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){out, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, (uint32_t)seg, (uint32_t)nseg,
                       ve_f2u(scale)};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg;
    d.spec[1] = cols % 4 == 0 && seg % 4 == 0;
    const uint64_t units = (uint64_t)rows * nseg;
    ve_groups_1d(g, gpu ? units : ceil_div(units, wg), d.groups);
    d.flops = (double)rows * (double)cols;
    d.bytes = 4.0 * ((double)rows * (double)cols + (double)units);
    return ve_node_add(g, &d);
}

/* out[r] = scale * sum of x[r][..]: segment passes until one value per row is left. */
static int rows_reduce(ve_graph *g, ve_tid x, ve_tid out, int64_t rows, int64_t cols, float scale,
                       const char *op) {
    const int64_t seg = gpu_style(g) ? ROW_SEG_GPU : ROW_SEG_CPU;
    ve_tid src = x;
    while (cols > seg) {
        int64_t nseg = (int64_t)ceil_div((uint64_t)cols, (uint64_t)seg);
        ve_tid part = ve_tensor_2d(g, VE_ACTIVATION, "reduce.partial", rows, nseg);
        if (part == VE_NONE || rows_pass(g, src, part, rows, cols, seg, 1.0f, op)) return VE_FAIL;
        src = part;
        cols = nseg;
    }
    return rows_pass(g, src, out, rows, cols, cols, scale, op);
}

/* dx[i] (+)= scale * dy[i / cols], i < n. */
static int bcast_node(ve_graph *g, ve_tid dy, ve_tid dx, int64_t n, int64_t cols, float scale,
                      int accumulate) {
    const uint32_t wg = wg_size(g);
    ve_node_desc d = {.kernel = "reduce_bcast", .op = "reduce_bwd", .n_bind = 2};
    d.bind[0] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dx, accumulate ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)n, (uint32_t)cols, ve_f2u(scale), accumulate != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    /* Lavapipe: a few dozen texels per invocation amortise the per-invocation cost. */
    const uint32_t per = gpu_style(g) ? 1 : 32;
    d.n_spec = 3;
    d.spec[0] = wg;
    d.spec[1] = cols == n; /* one dy value for all */
    d.spec[2] = per;
    ve_groups_1d(g, ceil_div(ceil_div((uint64_t)n, 4), (uint64_t)wg * per), d.groups);
    d.flops = (double)n;
    d.bytes = 4.0 * (double)n * (accumulate ? 2.0 : 1.0);
    return ve_node_add(g, &d);
}

typedef struct {
    int64_t n, cols;
    float scale;
} reduce_ctx;

static int reduce_backward(ve_graph *g, const ve_tape_entry *e) {
    reduce_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid dy = ve_grad_of(g, e->out[0]);
    int acc;
    ve_tid dx = ve_grad_dest(g, e->in[0], &acc);
    if (dy == VE_NONE || dx == VE_NONE) return VE_OK;
    if (bcast_node(g, dy, dx, c.n, c.cols, c.scale, acc))
        return ve_fail_context("sum/mean backward: ");
    return VE_OK;
}

static ve_tid row_reduce(ve_graph *g, ve_tid x, int mean, const char *op) {
    if (x < 0) {
        ve_fail("%s: missing input tensor", op);
        return VE_NONE;
    }
    if (check_size(op, g, x)) return VE_NONE;
    int64_t rows, cols;
    ve_tensor_rows_cols(g, x, &rows, &cols);
    /* Output: x's leading dims ([rows] for a matrix, [1] for a vector). */
    int nd = ve_tensor_ndim(g, x);
    int64_t shape[VE_MAX_DIMS] = {1};
    for (int i = 0; i < nd - 1; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    ve_tid out = ve_tensor(g, VE_ACTIVATION, op, nd > 1 ? nd - 1 : 1, shape);
    float scale = mean ? (float)(1.0 / (double)cols) : 1.0f;
    if (out == VE_NONE || rows_reduce(g, x, out, rows, cols, scale, op)) {
        ve_fail_context("%s: ", op);
        return VE_NONE;
    }
    reduce_ctx c = {rows * cols, cols, scale};
    if (ve_tape_record(g, reduce_backward, 1, &x, 1, &out, &c, sizeof c)) return VE_NONE;
    return out;
}

static ve_tid all_reduce(ve_graph *g, ve_tid x, int mean, const char *op) {
    if (x < 0) {
        ve_fail("%s: missing input tensor", op);
        return VE_NONE;
    }
    if (check_size(op, g, x)) return VE_NONE;
    const int64_t n = ve_tensor_numel(g, x), one = 1;
    const float scale = mean ? (float)(1.0 / (double)n) : 1.0f;
    ve_tid out = ve_tensor(g, VE_ACTIVATION, op, 1, &one);
    if (out == VE_NONE || rows_reduce(g, x, out, 1, n, scale, op)) {
        ve_fail_context("%s: ", op);
        return VE_NONE;
    }
    reduce_ctx c = {n, n, scale};
    if (ve_tape_record(g, reduce_backward, 1, &x, 1, &out, &c, sizeof c)) return VE_NONE;
    return out;
}

ve_tid ve_sum_rows(ve_graph *g, ve_tid x) {
    return row_reduce(g, x, 0, "sum_rows");
}
ve_tid ve_mean_rows(ve_graph *g, ve_tid x) {
    return row_reduce(g, x, 1, "mean_rows");
}
ve_tid ve_sum(ve_graph *g, ve_tid x) {
    return all_reduce(g, x, 0, "sum");
}
ve_tid ve_mean(ve_graph *g, ve_tid x) {
    return all_reduce(g, x, 1, "mean");
}
