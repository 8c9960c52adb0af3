/* Zero padding and cropping of channels-last grids [B, H, W, C] (window attention pads the
 * token grid to a multiple of the window, then crops back). One kernel does both; each is the
 * other's backward. */
#include "node.h"
#include "ops.h"
#include "status.h"

typedef struct {
    int64_t in_h, in_w;
} grid_ctx;

/* dst (+)= src copied onto dst's grid, zeros where src has no token. */
static int grid_copy_node(ve_graph *g, ve_tid src, ve_tid dst, int accumulate) {
    int64_t b = ve_tensor_dim(g, src, 0), c = ve_tensor_dim(g, src, 3);
    int64_t ih = ve_tensor_dim(g, src, 1), iw = ve_tensor_dim(g, src, 2);
    int64_t oh = ve_tensor_dim(g, dst, 1), ow = ve_tensor_dim(g, dst, 2);
    int vec = c % 4 == 0;
    uint64_t units = (uint64_t)(b * oh * ow * (vec ? c / 4 : c));
    if (units > UINT32_MAX / 2 || (uint64_t)ve_tensor_numel(g, src) > UINT32_MAX / 2)
        return ve_fail("grid copy: %s is too large for 32-bit indexing", ve_tensor_name(g, src));
    int cpu = ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU;
    uint32_t wg = cpu ? 8 : 64, ch = cpu ? 32 : 2;
    ve_node_desc d = {.kernel = "grid_copy", .op = "grid_copy", .n_bind = 3, .n_spec = 3};
    /* Bound both ways: texel reads for whole vec4s, scalar reads otherwise. */
    d.bind[0] = (ve_binding){src, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){src, VE_READ, VE_BIND_STORAGE};
    d.bind[2] = (ve_binding){dst, accumulate ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    d.spec[0] = wg;
    d.spec[1] = ch;
    d.spec[2] = (uint32_t)vec;
    uint32_t push[7] = {(uint32_t)(vec ? c / 4 : c),
                        (uint32_t)ih,
                        (uint32_t)iw,
                        (uint32_t)oh,
                        (uint32_t)ow,
                        (uint32_t)units,
                        accumulate ? 1u : 0u};
    for (int i = 0; i < 7; i++)
        d.push[i] = push[i];
    d.push_bytes = sizeof push;
    ve_groups_1d(g, (units + (uint64_t)wg * ch - 1) / ((uint64_t)wg * ch), d.groups);
    d.bytes = 4.0 * (double)ve_tensor_numel(g, dst) * (accumulate ? 3.0 : 2.0);
    return ve_node_add(g, &d);
}

static int grid_backward(ve_graph *g, const ve_tape_entry *e) {
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, e, &dy, &dx, &acc)) return VE_OK;
    /* The adjoint of a pad is a crop and vice versa: copy dy back onto x's grid. */
    return grid_copy_node(g, dy, dx, acc);
}

ve_tid ve_grid_resize(ve_graph *g, ve_tid x, int64_t h, int64_t w) {
    if (ve_tensor_ndim(g, x) != 4 || h < 1 || w < 1) {
        ve_fail("grid pad/crop: %s must be [B, H, W, C] (has %d dims), target %lldx%lld",
                ve_tensor_name(g, x), ve_tensor_ndim(g, x), (long long)h, (long long)w);
        return VE_NONE;
    }
    int64_t shape[4] = {ve_tensor_dim(g, x, 0), h, w, ve_tensor_dim(g, x, 3)};
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "grid", 4, shape);
    if (y == VE_NONE || grid_copy_node(g, x, y, 0) != VE_OK) return VE_NONE;
    if (ve_tape_record(g, grid_backward, 1, &x, 1, &y, NULL, 0) != VE_OK) return VE_NONE;
    return y;
}
