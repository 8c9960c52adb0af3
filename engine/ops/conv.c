/* Convolutions on channels-last maps [B, H, W, C], built from im2col and the matmul:
 *   ve_im2col: k x k neighbourhoods (zero padded) as rows in (ky, kx, c) order; its backward
 *     (col2im) is a deterministic gather over the taps that read each pixel.
 *   ve_conv2d: im2col + ve_linear with the PyTorch weight [Cout, Cin, k, k] permuted to
 *     [Cout, k, k, Cin] (so one row of im2col meets one weight row); 1x1 is a plain ve_linear.
 *   ve_conv_transpose2d (kernel = stride = k): x @ w[Cin, k*k*Cout] then a pixel shuffle,
 *     which in channels-last is a 4-D permute [B*H, W, k, k*Cout] -> [B*H, k, W, k*Cout].
 * Every composite's backward comes from its parts' autograd. */
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

/* Lavapipe loops end silently after 65535 iterations: bound col2im's k*k*C/4 per invocation. */
#define COL2IM_MAX_TRIPS 32768

typedef struct {
    int k, stride, pad;
} conv_ctx;

static uint32_t wg_size(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU ? 8 : 64;
}

static void geometry(const ve_graph *g, ve_tid x, const conv_ctx *c, uint32_t v[8]) {
    int64_t h = ve_tensor_dim(g, x, 1), w = ve_tensor_dim(g, x, 2), ch = ve_tensor_dim(g, x, 3);
    v[0] = (uint32_t)h;
    v[1] = (uint32_t)w;
    v[2] = (uint32_t)ch;
    v[3] = (uint32_t)((h + 2 * c->pad - c->k) / c->stride + 1);
    v[4] = (uint32_t)((w + 2 * c->pad - c->k) / c->stride + 1);
    v[5] = (uint32_t)c->k;
    v[6] = (uint32_t)c->stride;
    v[7] = (uint32_t)c->pad;
}

static int col2im_node(ve_graph *g, ve_tid x, const conv_ctx *c, ve_tid dcols, ve_tid dx, int acc) {
    uint32_t geo[8];
    geometry(g, x, c, geo);
    const uint32_t vec = geo[2] % 4 == 0;
    uint64_t units = (uint64_t)ve_tensor_numel(g, x) / (vec ? 4 : 1);
    ve_node_desc d = {.kernel = "col2im", .op = "im2col_bwd", .n_bind = 2};
    d.bind[0] = (ve_binding){dcols, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dx, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    d.push[0] = (uint32_t)units;
    memcpy(d.push + 1, geo, sizeof geo);
    d.push[9] = acc != 0;
    d.push_bytes = 10 * 4;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = vec;
    ve_groups_1d(g, (units + d.spec[0] - 1) / d.spec[0], d.groups);
    d.flops = (double)ve_tensor_numel(g, dcols);
    d.bytes = 4.0 * (double)(ve_tensor_numel(g, dcols) + ve_tensor_numel(g, x) * (acc ? 2 : 1));
    return ve_node_add(g, &d);
}

static int im2col_backward(ve_graph *g, const ve_tape_entry *e) {
    conv_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, e, &dy, &dx, &acc)) return VE_OK;
    return col2im_node(g, e->in[0], &c, dy, dx, acc) ? ve_fail_context("im2col backward: ") : VE_OK;
}

ve_tid ve_im2col(ve_graph *g, ve_tid x, int k, int stride, int pad) {
    if (!g || ve_tensor_ndim(g, x) != 4 || k < 1 || stride < 1 || pad < 0 || pad >= k) {
        ve_fail("im2col: x %d must be [B, H, W, C]; k %d, stride %d >= 1, 0 <= pad %d < k", (int)x,
                k, stride, pad);
        return VE_NONE;
    }
    conv_ctx c = {k, stride, pad};
    int64_t b = ve_tensor_dim(g, x, 0), h = ve_tensor_dim(g, x, 1), w = ve_tensor_dim(g, x, 2);
    int64_t ch = ve_tensor_dim(g, x, 3);
    int64_t oh = h + 2 * pad - k, ow = w + 2 * pad - k;
    int64_t trips = (int64_t)k * k * (ch % 4 == 0 ? ch / 4 : ch);
    if (oh < 0 || ow < 0 || trips > COL2IM_MAX_TRIPS || ch > 65536) {
        ve_fail("im2col: x '%s' [%lld, %lld, %lld, %lld] with k %d, pad %d: map smaller than "
                "the kernel, or k*k*C too large for one invocation",
                ve_tensor_name(g, x), (long long)b, (long long)h, (long long)w, (long long)ch, k,
                pad);
        return VE_NONE;
    }
    oh = oh / stride + 1;
    ow = ow / stride + 1;
    int64_t shape[4] = {b, oh, ow, (int64_t)k * k * ch};
    if (b * oh * ow * shape[3] > (int64_t)UINT32_MAX / 2) {
        ve_fail("im2col: output of x '%s' has over 2^31 elements", ve_tensor_name(g, x));
        return VE_NONE;
    }
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "im2col", 4, shape);
    if (y == VE_NONE) return VE_NONE;
    uint32_t geo[8];
    geometry(g, x, &c, geo);
    uint64_t segs = (uint64_t)(b * oh * ow * k * k);
    ve_node_desc d = {.kernel = "im2col", .op = "im2col", .n_bind = 2};
    d.bind[0] = (ve_binding){x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    d.push[0] = (uint32_t)segs;
    memcpy(d.push + 1, geo, sizeof geo);
    d.push_bytes = 9 * 4;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = ch % 4 == 0;
    ve_groups_1d(g, (segs + d.spec[0] - 1) / d.spec[0], d.groups);
    d.bytes = 8.0 * (double)ve_tensor_numel(g, y);
    if (ve_node_add(g, &d) || ve_tape_record(g, im2col_backward, 1, &x, 1, &y, &c, sizeof c)) {
        ve_fail_context("im2col: ");
        return VE_NONE;
    }
    return y;
}

ve_tid ve_conv2d(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias, int stride, int pad) {
    if (!g || ve_tensor_ndim(g, x) != 4 || ve_tensor_ndim(g, w) != 4 ||
        ve_tensor_dim(g, w, 2) != ve_tensor_dim(g, w, 3) ||
        ve_tensor_dim(g, w, 1) != ve_tensor_dim(g, x, 3)) {
        ve_fail("conv2d: x %d must be [B, H, W, Cin] and w %d [Cout, Cin, k, k]", (int)x, (int)w);
        return VE_NONE;
    }
    int64_t cout = ve_tensor_dim(g, w, 0), cin = ve_tensor_dim(g, w, 1);
    int k = (int)ve_tensor_dim(g, w, 2);
    ve_tid y;
    if (k == 1 && stride == 1 && pad == 0) {
        int64_t ws[2] = {cout, cin};
        ve_tid w2 = ve_reshape(g, w, 2, ws);
        y = w2 == VE_NONE ? VE_NONE : ve_linear(g, x, w2, bias);
    } else {
        static const int perm[4] = {0, 2, 3, 1}; /* [Cout, Cin, k, k] -> [Cout, k, k, Cin] */
        int64_t ws[2] = {cout, (int64_t)k * k * cin};
        ve_tid cols = ve_im2col(g, x, k, stride, pad);
        ve_tid wp = cols == VE_NONE ? VE_NONE : ve_permute(g, w, perm);
        ve_tid w2 = wp == VE_NONE ? VE_NONE : ve_reshape(g, wp, 2, ws);
        y = w2 == VE_NONE ? VE_NONE : ve_linear(g, cols, w2, bias);
    }
    if (y == VE_NONE) ve_fail_context("conv2d: ");
    return y;
}

ve_tid ve_conv_transpose2d(ve_graph *g, ve_tid x, ve_tid w, ve_tid bias) {
    if (!g || ve_tensor_ndim(g, x) != 4 || ve_tensor_ndim(g, w) != 4 ||
        ve_tensor_dim(g, w, 2) != ve_tensor_dim(g, w, 3) ||
        ve_tensor_dim(g, w, 0) != ve_tensor_dim(g, x, 3)) {
        ve_fail("conv_transpose2d: x %d must be [B, H, W, Cin] and w %d [Cin, Cout, k, k]", (int)x,
                (int)w);
        return VE_NONE;
    }
    int64_t b = ve_tensor_dim(g, x, 0), h = ve_tensor_dim(g, x, 1), wd = ve_tensor_dim(g, x, 2);
    int64_t cin = ve_tensor_dim(g, w, 0), cout = ve_tensor_dim(g, w, 1), k = ve_tensor_dim(g, w, 2);
    static const int wperm[4] = {0, 2, 3, 1}; /* [Cin, Cout, k, k] -> [Cin, k, k, Cout] */
    static const int shuffle[4] = {0, 2, 1, 3};
    int64_t ws[2] = {cin, k * k * cout};
    int64_t ts[4] = {b * h, wd, k, k * cout}; /* x @ w rows (b, i, j), cols (dy, dx, co) */
    int64_t ys[4] = {b, k * h, k * wd, cout};
    ve_matmul_opts mo = {.bias = VE_NONE};
    ve_tid wp = ve_permute(g, w, wperm);
    ve_tid w2 = wp == VE_NONE ? VE_NONE : ve_reshape(g, wp, 2, ws);
    ve_tid t = w2 == VE_NONE ? VE_NONE : ve_matmul(g, x, w2, &mo);
    ve_tid t4 = t == VE_NONE ? VE_NONE : ve_reshape(g, t, 4, ts);
    ve_tid s = t4 == VE_NONE ? VE_NONE : ve_permute(g, t4, shuffle); /* [B*H, k, W, k*Cout] */
    ve_tid y = s == VE_NONE ? VE_NONE : ve_reshape(g, s, 4, ys);
    if (y != VE_NONE && bias != VE_NONE) y = ve_add(g, y, bias);
    if (y == VE_NONE) ve_fail_context("conv_transpose2d: ");
    return y;
}
