/* Random Fourier positional encoding (SAM's prompt encoder), forward only: G is a frozen
 * buffer and the coordinates are data, so nothing upstream needs a gradient (an input that
 * requires one is refused rather than silently getting none). The kernel forms the argument in
 * fp32 as PyTorch rounds it and evaluates sin/cos with its own range reduction (see
 * shaders/fourier_pe.comp). */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

static uint32_t wg_size(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU ? 8 : 64;
}

/* coords: VE_NONE for the grid. */
static ve_tid pe(ve_graph *g, ve_tid coords, ve_tid gauss, int64_t n, int64_t h, int64_t w, int nd,
                 int64_t *shape) {
    int64_t f = ve_tensor_dim(g, gauss, 1);
    if (ve_tensor_ndim(g, gauss) != 2 || ve_tensor_dim(g, gauss, 0) != 2 || n < 1 ||
        n * f > (int64_t)UINT32_MAX / 4) {
        ve_fail("fourier_pe: gauss '%s' must be [2, F]; %lld positions", ve_tensor_name(g, gauss),
                (long long)n);
        return VE_NONE;
    }
    if (ve_requires_grad(g, gauss) || (coords != VE_NONE && ve_requires_grad(g, coords))) {
        ve_fail("fourier_pe: forward only, but '%s' requires a gradient",
                ve_requires_grad(g, gauss) ? ve_tensor_name(g, gauss) : ve_tensor_name(g, coords));
        return VE_NONE;
    }
    shape[nd - 1] = 2 * f;
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "fourier_pe", nd, shape);
    if (y == VE_NONE) return VE_NONE;
    uint64_t units = (uint64_t)(n * f);
    ve_node_desc d = {.kernel = "fourier_pe", .op = "fourier_pe", .n_bind = 3};
    d.bind[0] = (ve_binding){coords != VE_NONE ? coords : gauss, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){gauss, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)units, (uint32_t)f, (uint32_t)h, (uint32_t)w};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = coords == VE_NONE;
    ve_groups_1d(g, (units + d.spec[0] - 1) / d.spec[0], d.groups);
    d.flops = 40.0 * (double)units;
    d.bytes = 4.0 * (double)(2 * n + 2 * n * f);
    if (ve_node_add(g, &d)) {
        ve_fail_context("fourier_pe: ");
        return VE_NONE;
    }
    return y;
}

ve_tid ve_fourier_pe(ve_graph *g, ve_tid coords, ve_tid gauss) {
    int nd = g ? ve_tensor_ndim(g, coords) : 0;
    if (nd < 1 || ve_tensor_dim(g, coords, -1) != 2) {
        ve_fail("fourier_pe: coords %d must be [.., 2]", (int)coords);
        return VE_NONE;
    }
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, coords, i);
    return pe(g, coords, gauss, ve_tensor_numel(g, coords) / 2, 0, 0, nd, shape);
}

ve_tid ve_fourier_pe_grid(ve_graph *g, ve_tid gauss, int64_t h, int64_t w) {
    if (!g || h < 1 || w < 1 || h > (1 << 24) || w > (1 << 24)) {
        ve_fail("fourier_pe_grid: bad grid %lld x %lld", (long long)h, (long long)w);
        return VE_NONE;
    }
    int64_t shape[3] = {h, w, 0};
    return pe(g, VE_NONE, gauss, h * w, h, w, 3, shape);
}
