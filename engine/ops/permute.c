/* Permute: y = x.permute(perm) made contiguous, for up to 4 dims. Backward: dx (+)= dy permuted
 * by the inverse permutation.
 *
 * Before dispatch the permutation is simplified: size-1 dims are dropped and output dims that
 * stay adjacent in x are merged, so e.g. a window partition needs fewer, longer dims, and a
 * permutation that keeps the last dim (a multiple of 4) moves whole vec4s. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

typedef struct {
    int ndim;
    int perm[VE_MAX_DIMS];
} permute_ctx;

/* dst (+)= src permuted by perm (src's dims), dst contiguous with src's numel. */
static int permute_node(ve_graph *g, ve_tid src, const int *perm, ve_tid dst, int accumulate,
                        const char *op) {
    int nd = ve_tensor_ndim(g, src);
    int64_t stride[VE_MAX_DIMS], n = ve_tensor_numel(g, src);
    if (n > (int64_t)UINT32_MAX - 4096)
        return ve_fail("%s: tensor '%s' has %lld elements (kernels index with 32 bits)", op,
                       ve_tensor_name(g, src), (long long)n);
    stride[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--)
        stride[i] = stride[i + 1] * ve_tensor_dim(g, src, i + 1);
    /* Output dims (outermost first) with src's stride; size-1 dims dropped, mergeable merged. */
    int64_t d[VE_MAX_DIMS], s[VE_MAX_DIMS];
    int m = 0;
    for (int k = 0; k < nd; k++) {
        int64_t dk = ve_tensor_dim(g, src, perm[k]), sk = stride[perm[k]];
        if (dk == 1) continue;
        if (m > 0 && s[m - 1] == sk * dk) {
            d[m - 1] *= dk;
            s[m - 1] = sk;
        } else {
            d[m] = dk;
            s[m++] = sk;
        }
    }
    if (m == 0) { /* one element */
        d[0] = 1;
        s[0] = 1;
        m = 1;
    }
    int vec = s[m - 1] == 1 && d[m - 1] % 4 == 0;
    for (int k = 0; k < m - 1; k++)
        vec = vec && s[k] % 4 == 0;
    uint32_t pd[4] = {1, 1, 1, 1}, ps[4] = {0, 0, 0, 0};
    for (int k = 0; k < m; k++) {
        pd[4 - m + k] = (uint32_t)(vec && k == m - 1 ? d[k] / 4 : d[k]);
        ps[4 - m + k] = (uint32_t)(vec && k < m - 1 ? s[k] / 4 : s[k]);
    }
    int cpu = ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU;
    uint32_t wg = cpu ? 8 : 64, ch = cpu ? 64 : 4; /* ch: a multiple of 4 (vec4 stores) */
    uint32_t units = (uint32_t)(vec ? n / 4 : n);
    ve_node_desc desc = {.kernel = "permute", .op = op, .n_bind = 2};
    desc.bind[0] = (ve_binding){src, VE_READ, VE_BIND_TEXEL};
    desc.bind[1] = (ve_binding){dst, accumulate ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[10] = {pd[0], pd[1], pd[2], pd[3], ps[0],
                         ps[1], ps[2], ps[3], units, accumulate != 0};
    memcpy(desc.push, push, sizeof push);
    desc.push_bytes = sizeof push;
    desc.n_spec = 3;
    desc.spec[0] = wg;
    desc.spec[1] = ch;
    desc.spec[2] = (uint32_t)vec;
    uint64_t per_group = (uint64_t)wg * ch;
    ve_groups_1d(g, (units + per_group - 1) / per_group, desc.groups);
    desc.bytes = 4.0 * (double)n * (2 + (accumulate != 0));
    return ve_node_add(g, &desc);
}

static int permute_backward(ve_graph *g, const ve_tape_entry *t) {
    permute_ctx c;
    memcpy(&c, t->ctx, sizeof c);
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, t, &dy, &dx, &acc)) return VE_OK;
    int inv[VE_MAX_DIMS];
    for (int k = 0; k < c.ndim; k++)
        inv[c.perm[k]] = k;
    return permute_node(g, dy, inv, dx, acc, "permute_bwd") ? ve_fail_context("permute backward: ")
                                                            : VE_OK;
}

ve_tid ve_permute(ve_graph *g, ve_tid x, const int *perm) {
    int nd = ve_tensor_ndim(g, x);
    if (nd == 0) {
        ve_fail("permute: invalid tensor %d", (int)x);
        return VE_NONE;
    }
    permute_ctx c = {.ndim = nd};
    int seen = 0;
    int64_t shape[VE_MAX_DIMS];
    for (int k = 0; k < nd; k++) {
        if (!perm || perm[k] < 0 || perm[k] >= nd || (seen >> perm[k] & 1)) {
            ve_fail("permute: '%s' has %d dims and perm is not a permutation of 0..%d",
                    ve_tensor_name(g, x), nd, nd - 1);
            return VE_NONE;
        }
        seen |= 1 << perm[k];
        c.perm[k] = perm[k];
        shape[k] = ve_tensor_dim(g, x, perm[k]);
    }
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "permute", nd, shape);
    if (y == VE_NONE || permute_node(g, x, c.perm, y, 0, "permute") ||
        ve_tape_record(g, permute_backward, 1, &x, 1, &y, &c, sizeof c)) {
        ve_fail_context("permute: ");
        return VE_NONE;
    }
    return y;
}
