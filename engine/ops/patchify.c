/* Patch embedding: patchify (image [B, C, H, W] -> rows of (c, ky, kx) patches, a bijection)
 * and ve_patch_embed = patchify + ve_linear with the conv weight viewed as [D, C*p*p]. The
 * patchify backward is the inverse gather (same kernel, UNPATCH = 1). */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

typedef struct {
    int p;
} patch_ctx;

static uint32_t wg_size(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU ? 8 : 64;
}

/* img-shaped tensor <-> patch-shaped tensor; unpatch: src = patches, dst = image. */
static int patch_node(ve_graph *g, ve_tid img, ve_tid src, ve_tid dst, int p, int unpatch,
                      int acc) {
    int64_t b = ve_tensor_dim(g, img, 0), c = ve_tensor_dim(g, img, 1);
    int64_t h = ve_tensor_dim(g, img, 2), w = ve_tensor_dim(g, img, 3);
    uint64_t runs = (uint64_t)(b * c * h * (w / p));
    ve_node_desc d = {.kernel = "patchify", .op = unpatch ? "patchify_bwd" : "patchify"};
    d.n_bind = 2;
    d.bind[0] = (ve_binding){src, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dst, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)runs,    (uint32_t)p,       (uint32_t)c, (uint32_t)h,
                       (uint32_t)(w / p), (uint32_t)(h / p), acc != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 3;
    d.spec[0] = wg_size(g);
    d.spec[1] = p % 4 == 0;
    d.spec[2] = (uint32_t)unpatch;
    ve_groups_1d(g, (runs + d.spec[0] - 1) / d.spec[0], d.groups);
    d.bytes = 4.0 * (double)ve_tensor_numel(g, img) * (acc ? 3.0 : 2.0);
    return ve_node_add(g, &d);
}

static int patchify_backward(ve_graph *g, const ve_tape_entry *e) {
    patch_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, e, &dy, &dx, &acc)) return VE_OK;
    return patch_node(g, e->in[0], dy, dx, c.p, 1, acc) ? ve_fail_context("patchify backward: ")
                                                        : VE_OK;
}

ve_tid ve_patchify(ve_graph *g, ve_tid img, int p) {
    if (!g || ve_tensor_ndim(g, img) != 4 || p < 1) {
        ve_fail("patchify: image must be [B, C, H, W] and p >= 1 (tensor %d, %d dims, p %d)",
                (int)img, g ? ve_tensor_ndim(g, img) : 0, p);
        return VE_NONE;
    }
    int64_t b = ve_tensor_dim(g, img, 0), c = ve_tensor_dim(g, img, 1);
    int64_t h = ve_tensor_dim(g, img, 2), w = ve_tensor_dim(g, img, 3);
    if (h % p || w % p || ve_tensor_numel(g, img) > (int64_t)UINT32_MAX / 2 || p > 4096) {
        ve_fail("patchify: image '%s' [%lld, %lld, %lld, %lld]: H and W must be multiples of "
                "p = %d (at most 4096), under 2^31 elements",
                ve_tensor_name(g, img), (long long)b, (long long)c, (long long)h, (long long)w, p);
        return VE_NONE;
    }
    int64_t shape[4] = {b, h / p, w / p, c * p * p};
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "patchify", 4, shape);
    patch_ctx ctx = {p};
    if (y == VE_NONE || patch_node(g, img, img, y, p, 0, 0) ||
        ve_tape_record(g, patchify_backward, 1, &img, 1, &y, &ctx, sizeof ctx)) {
        ve_fail_context("patchify: ");
        return VE_NONE;
    }
    return y;
}

ve_tid ve_patch_embed(ve_graph *g, ve_tid img, ve_tid w, ve_tid bias) {
    if (!g || ve_tensor_ndim(g, w) != 4 || ve_tensor_ndim(g, img) != 4 ||
        ve_tensor_dim(g, w, 2) != ve_tensor_dim(g, w, 3) ||
        ve_tensor_dim(g, w, 1) != ve_tensor_dim(g, img, 1)) {
        ve_fail("patch_embed: weight %d must be [D, C, p, p] with C = the image's channels "
                "(image %d [B, C, H, W])",
                (int)w, (int)img);
        return VE_NONE;
    }
    int64_t d = ve_tensor_dim(g, w, 0), k = ve_tensor_numel(g, w) / d;
    int64_t wshape[2] = {d, k};
    ve_tid patches = ve_patchify(g, img, (int)ve_tensor_dim(g, w, 2));
    ve_tid w2 = patches == VE_NONE ? VE_NONE : ve_reshape(g, w, 2, wshape);
    ve_tid y = w2 == VE_NONE ? VE_NONE : ve_linear(g, patches, w2, bias);
    if (y == VE_NONE) ve_fail_context("patch_embed: ");
    return y;
}
