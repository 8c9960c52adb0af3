/* Embedding lookup (rows of a table by index) and its backward, a deterministic scatter-add
 * written as a gather per table entry (shaders/embedding_bwd.comp). Indices are a float tensor:
 * they are data (e.g. prompt labels) that may change between runs of one recorded graph. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

/* The backward scans every index per table entry; lavapipe ends loops after 65535 iterations. */
#define MAX_INDICES 16384

static uint32_t wg_size(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU ? 8 : 64;
}

static int emb_backward(ve_graph *g, const ve_tape_entry *e) {
    ve_tid table = e->in[0], idx = e->in[1], dy = ve_grad_of(g, e->out[0]);
    if (dy == VE_NONE) return VE_OK;
    int acc;
    ve_tid dt = ve_grad_dest(g, table, &acc);
    if (dt == VE_NONE) return VE_OK;
    int64_t v = ve_tensor_dim(g, table, 0), c = ve_tensor_dim(g, table, 1);
    int64_t n = ve_tensor_numel(g, idx);
    const uint32_t vec = c % 4 == 0;
    uint64_t units = (uint64_t)(v * (vec ? c / 4 : c));
    ve_node_desc d = {.kernel = "embedding_bwd", .op = "embedding_bwd", .n_bind = 3};
    d.bind[0] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){idx, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){dt, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)n, (uint32_t)v, (uint32_t)c, acc != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = vec;
    ve_groups_1d(g, (units + d.spec[0] - 1) / d.spec[0], d.groups);
    d.flops = (double)(v * n * c);
    d.bytes = 4.0 * (double)(n * c + v * c * (acc ? 2 : 1));
    return ve_node_add(g, &d) ? ve_fail_context("embedding backward: ") : VE_OK;
}

ve_tid ve_embedding(ve_graph *g, ve_tid table, ve_tid idx) {
    int nd = g ? ve_tensor_ndim(g, idx) : 0;
    if (nd < 1 || nd >= VE_MAX_DIMS || ve_tensor_ndim(g, table) != 2) {
        ve_fail("embedding: table %d must be [V, C] and idx %d have 1-%d dims", (int)table,
                (int)idx, VE_MAX_DIMS - 1);
        return VE_NONE;
    }
    int64_t v = ve_tensor_dim(g, table, 0), c = ve_tensor_dim(g, table, 1);
    int64_t n = ve_tensor_numel(g, idx);
    if (n > MAX_INDICES || v > (1 << 24) || n * c > (int64_t)UINT32_MAX / 2 || c > 65536) {
        ve_fail("embedding: table '%s' [%lld, %lld], %lld indices: at most %d indices, 2^24 "
                "rows, 65536 columns",
                ve_tensor_name(g, table), (long long)v, (long long)c, (long long)n, MAX_INDICES);
        return VE_NONE;
    }
    if (ve_requires_grad(g, idx)) {
        ve_fail("embedding: indices '%s' cannot require a gradient", ve_tensor_name(g, idx));
        return VE_NONE;
    }
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, idx, i);
    shape[nd] = c;
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "embedding", nd + 1, shape);
    if (y == VE_NONE) return VE_NONE;
    ve_node_desc d = {.kernel = "embedding", .op = "embedding", .n_bind = 3};
    d.bind[0] = (ve_binding){table, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){idx, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)n, (uint32_t)v, (uint32_t)c};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = c % 4 == 0;
    ve_groups_1d(g, ((uint64_t)n + d.spec[0] - 1) / d.spec[0], d.groups);
    d.bytes = 8.0 * (double)(n * c);
    ve_tid in[2] = {table, idx};
    if (ve_node_add(g, &d) || ve_tape_record(g, emb_backward, 2, in, 1, &y, NULL, 0)) {
        ve_fail_context("embedding: ");
        return VE_NONE;
    }
    return y;
}
