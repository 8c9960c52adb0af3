/* Softmax over the last dim (max-subtracted) and its backward dx = y * (dy - sum(dy * y)).
 * One invocation per row with texel loads (the fast design on lavapipe). */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

#define WG_ROW 256 /* threads per row in the workgroup-per-row kernels */
/* Longest row one invocation handles on CPU-like devices: lavapipe silently ends a shader's
 * loops after about 65535 iterations in all (3 passes over the row here). */
#define ROW_MAX 16384
/* Longest row at all: the workgroup-per-row kernels loop 3 * cols / 256 times per thread. */
#define ROW_LIMIT ((int64_t)1 << 22)

/* One workgroup per row (shared-memory reductions) on GPUs and for very long rows; otherwise
 * one invocation per row in workgroups of 8 (lavapipe's SIMD width). */
static void row_kernel(const ve_graph *g, int64_t rows, int64_t cols, const char *cpu_kernel,
                       const char *wg_kernel, ve_node_desc *d) {
    const int wg =
        cols > ROW_MAX || ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_GPU;
    d->kernel = wg ? wg_kernel : cpu_kernel;
    d->n_spec = 2;
    d->spec[0] = wg ? WG_ROW : 8;
    d->spec[1] = cols % 4 == 0;
    if (wg)
        for (int i = 0; i < d->n_bind; i++)
            d->bind[i].type = VE_BIND_STORAGE;
    ve_groups_1d(g, wg ? (uint64_t)rows : ceil_div((uint64_t)rows, 8), d->groups);
}

static int softmax_backward(ve_graph *g, const ve_tape_entry *e) {
    ve_tid y = e->out[0], dy = ve_grad_of(g, y);
    int acc;
    ve_tid dx = ve_grad_dest(g, e->in[0], &acc);
    if (dy == VE_NONE || dx == VE_NONE) return VE_OK;
    int64_t rows, cols;
    ve_tensor_rows_cols(g, y, &rows, &cols);
    ve_node_desc d = {.op = "softmax_bwd", .n_bind = 3};
    d.bind[0] = (ve_binding){y, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){dx, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols, acc != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    row_kernel(g, rows, cols, "softmax_bwd", "softmax_bwd_wg", &d);
    d.flops = 4.0 * (double)rows * (double)cols;
    d.bytes = 4.0 * (double)rows * (double)cols * (acc ? 4.0 : 3.0);
    if (ve_node_add(g, &d)) return ve_fail_context("softmax backward: ");
    return VE_OK;
}

ve_tid ve_softmax(ve_graph *g, ve_tid x) {
    if (x < 0) {
        ve_fail("softmax: missing input tensor");
        return VE_NONE;
    }
    int64_t rows, cols;
    ve_tensor_rows_cols(g, x, &rows, &cols);
    if (ve_tensor_numel(g, x) >= ((int64_t)1 << 32) || cols > ROW_LIMIT) {
        ve_fail("softmax: x '%s' (%lld x %lld): over 2^32 elements or rows over %lld",
                ve_tensor_name(g, x), (long long)rows, (long long)cols, (long long)ROW_LIMIT);
        return VE_NONE;
    }
    int nd = ve_tensor_ndim(g, x);
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "softmax", nd, shape);
    if (y == VE_NONE) {
        ve_fail_context("softmax: ");
        return VE_NONE;
    }
    ve_node_desc d = {.op = "softmax", .n_bind = 2};
    d.bind[0] = (ve_binding){x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)rows, (uint32_t)cols};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    row_kernel(g, rows, cols, "softmax_fwd", "softmax_fwd_wg", &d);
    d.flops = 5.0 * (double)rows * (double)cols;
    d.bytes = 8.0 * (double)rows * (double)cols;
    if (ve_node_add(g, &d)) {
        ve_fail_context("softmax: ");
        return VE_NONE;
    }
    if (ve_tape_record(g, softmax_backward, 1, &x, 1, &y, NULL, 0)) return VE_NONE;
    return y;
}
