/* Contiguous copy and fill: the building blocks autograd uses to seed and merge gradients. */
#include "elementwise.h"
#include "node.h"
#include "ops.h"
#include "status.h"

#define WG 256

int ve_fill_node(ve_graph *g, ve_tid t, float value) {
    int64_t n = ve_tensor_numel(g, t);
    if (n <= 0 || n > UINT32_MAX) return ve_fail("fill: tensor %s has %lld elements",
                                                 ve_tensor_name(g, t), (long long)n);
    /* Over the binding limit: fill it in chunks of views. */
    const int64_t chunk =
        (int64_t)(ve_device_get_info(ve_graph_device(g))->max_storage_buffer_range / 4 / 1024 *
                  1024);
    if (n > chunk) {
        for (int64_t off = 0; off < n; off += chunk) {
            int64_t len = n - off < chunk ? n - off : chunk;
            ve_tid v = ve_view(g, t, off, 1, &len);
            if (v == VE_NONE || ve_fill_node(g, v, value) != VE_OK) return VE_FAIL;
        }
        return VE_OK;
    }
    ve_node_desc d = {.kernel = "fill", .op = "fill", .n_bind = 1, .push_bytes = 8};
    d.bind[0] = (ve_binding){t, VE_WRITE, VE_BIND_STORAGE};
    d.push[0] = (uint32_t)n;
    d.push[1] = ve_f2u(value);
    ve_groups_1d(g, ((uint64_t)n + WG - 1) / WG, d.groups);
    d.bytes = 4.0 * (double)n;
    return ve_node_add(g, &d);
}

int ve_copy_node(ve_graph *g, ve_tid src, ve_tid dst, int accumulate) {
    int64_t n = ve_tensor_numel(g, src);
    if (n != ve_tensor_numel(g, dst) || n <= 0 || n > UINT32_MAX)
        return ve_fail("copy: %s has %lld elements, %s has %lld", ve_tensor_name(g, src),
                       (long long)n, ve_tensor_name(g, dst), (long long)ve_tensor_numel(g, dst));
    /* A copy is the scale kernel with s = 1 (exact), which reads through fast texel loads. */
    ve_ew_desc e = {.kernel = "scale", .op = "copy", .n_in = 1, .in = {src}, .out = dst,
                    .accumulate = accumulate, .s = 1.0f};
    return ve_ew_node(g, &e);
}

static int copy_backward(ve_graph *g, const ve_tape_entry *e) {
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, e, &dy, &dx, &acc)) return VE_OK;
    return ve_copy_node(g, dy, dx, acc);
}

ve_tid ve_copy(ve_graph *g, ve_tid x) {
    if (ve_tensor_numel(g, x) <= 0) {
        ve_fail("copy: invalid tensor");
        return VE_NONE;
    }
    int64_t shape[VE_MAX_DIMS];
    int nd = ve_tensor_ndim(g, x);
    for (int i = 0; i < nd; i++) shape[i] = ve_tensor_dim(g, x, i);
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "copy", nd, shape);
    if (y == VE_NONE || ve_copy_node(g, x, y, 0) != VE_OK) return VE_NONE;
    if (ve_tape_record(g, copy_backward, 1, &x, 1, &y, NULL, 0) != VE_OK) return VE_NONE;
    return y;
}
