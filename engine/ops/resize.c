/* Bilinear resize of planes (PyTorch F.interpolate, align_corners=False, no antialias, sizes
 * given) and its adjoint; and the host-side 1-D linear resize of weight tables (rel_pos) done
 * at load time. Source indices and weights as ATen computes them on the CPU (torch 1.13, checked
 * weight for weight by tests/reference/check_vision_refs.py): scale = in / out in fp32, the
 * source index scale (o + 0.5) - 0.5 in double, the weight rounded once to fp32. The kernels
 * get the scale in fixed point and do the same exactly in integers
 * (shaders/resize_axis.glsl). */
#include <math.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

#define RUN 16 /* outputs per invocation along a row (must match resize_bilinear.comp) */
/* The backward gathers (2 / scale + 6) candidates per axis; lavapipe ends loops silently after
 * 65535 iterations, so the product is bounded. */
#define BWD_MAX_TRIPS 30000

typedef struct {
    int64_t h, w, oh, ow;
} resize_ctx;

static uint32_t wg_size(const ve_graph *g) {
    return ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU ? 8 : 64;
}

/* scale = in / out in fp32 as m / 2^sh * 2: m its 24-bit mantissa (the kernels form
 * src + 0.5 = m (2o + 1) / 2^sh). Needs 1 <= sh <= 32: 2^-8 <= scale < 2^24. */
static int resize_fixed(int64_t in, int64_t out, uint32_t *m, uint32_t *sh) {
    int ex;
    float f = frexpf((float)in / (float)out, &ex); /* scale = f 2^ex, f in [0.5, 1) */
    *m = (uint32_t)ldexpf(f, 24);
    int s = 25 - ex;
    *sh = (uint32_t)s;
    return s >= 1 && s <= 32;
}

static int64_t candidates(int64_t in, int64_t out) {
    return (int64_t)(2.0 * (double)out / (double)in) + 6;
}

static int bwd_node(ve_graph *g, const resize_ctx *c, ve_tid dy, ve_tid dx, int acc) {
    int64_t planes = ve_tensor_numel(g, dx) / (c->h * c->w);
    uint64_t units = (uint64_t)ve_tensor_numel(g, dx);
    ve_node_desc d = {.kernel = "resize_bilinear_bwd", .op = "resize_bilinear_bwd", .n_bind = 2};
    d.bind[0] = (ve_binding){dy, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){dx, acc ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t my, shy, mx, shx;
    resize_fixed(c->h, c->oh, &my, &shy);
    resize_fixed(c->w, c->ow, &mx, &shx);
    uint32_t push[] = {(uint32_t)units,
                       (uint32_t)c->h,
                       (uint32_t)c->w,
                       (uint32_t)c->oh,
                       (uint32_t)c->ow,
                       ve_f2u((float)c->h / (float)c->oh),
                       ve_f2u((float)c->w / (float)c->ow),
                       my,
                       shy,
                       mx,
                       shx,
                       acc != 0};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 1;
    d.spec[0] = wg_size(g);
    ve_groups_1d(g, (units + d.spec[0] - 1) / d.spec[0], d.groups);
    d.flops = 3.0 * (double)planes * (double)(c->oh * c->ow) * 4.0;
    d.bytes = 4.0 * (double)planes * (double)(c->oh * c->ow + c->h * c->w * (acc ? 2 : 1));
    return ve_node_add(g, &d);
}

static int resize_backward(ve_graph *g, const ve_tape_entry *e) {
    resize_ctx c;
    memcpy(&c, e->ctx, sizeof c);
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, e, &dy, &dx, &acc)) return VE_OK;
    return bwd_node(g, &c, dy, dx, acc) ? ve_fail_context("resize_bilinear backward: ") : VE_OK;
}

ve_tid ve_resize_bilinear(ve_graph *g, ve_tid x, int64_t out_h, int64_t out_w) {
    int nd = g ? ve_tensor_ndim(g, x) : 0;
    if (nd < 2 || out_h < 1 || out_w < 1) {
        ve_fail("resize_bilinear: x %d needs at least 2 dims ([.., H, W]), sizes %lld x %lld "
                "must be positive",
                (int)x, (long long)out_h, (long long)out_w);
        return VE_NONE;
    }
    resize_ctx c = {ve_tensor_dim(g, x, -2), ve_tensor_dim(g, x, -1), out_h, out_w};
    int64_t planes = ve_tensor_numel(g, x) / (c.h * c.w);
    uint32_t my, shy, mx, shx;
    if (!resize_fixed(c.h, out_h, &my, &shy) || !resize_fixed(c.w, out_w, &mx, &shx) ||
        planes * out_h * out_w > (int64_t)UINT32_MAX / 2 ||
        ve_tensor_numel(g, x) > (int64_t)UINT32_MAX / 2 ||
        candidates(c.h, out_h) * candidates(c.w, out_w) > BWD_MAX_TRIPS) {
        ve_fail("resize_bilinear: x '%s' (%lld planes of %lld x %lld) to %lld x %lld: over "
                "2^31 elements, or a scale too steep (up-scaling: for the backward's gather)",
                ve_tensor_name(g, x), (long long)planes, (long long)c.h, (long long)c.w,
                (long long)out_h, (long long)out_w);
        return VE_NONE;
    }
    int64_t shape[VE_MAX_DIMS];
    for (int i = 0; i < nd - 2; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    shape[nd - 2] = out_h;
    shape[nd - 1] = out_w;
    ve_tid y = ve_tensor(g, VE_ACTIVATION, "resize_bilinear", nd, shape);
    if (y == VE_NONE) return VE_NONE;
    uint64_t units = (uint64_t)(planes * out_h * ((out_w + RUN - 1) / RUN));
    ve_node_desc d = {.kernel = "resize_bilinear", .op = "resize_bilinear", .n_bind = 2};
    d.bind[0] = (ve_binding){x, VE_READ, VE_BIND_TEXEL};
    d.bind[1] = (ve_binding){y, VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[] = {(uint32_t)units,
                       (uint32_t)c.h,
                       (uint32_t)c.w,
                       (uint32_t)out_h,
                       (uint32_t)out_w,
                       my,
                       shy,
                       mx,
                       shx};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 2;
    d.spec[0] = wg_size(g);
    d.spec[1] = RUN;
    ve_groups_1d(g, (units + d.spec[0] - 1) / d.spec[0], d.groups);
    d.flops = 6.0 * (double)ve_tensor_numel(g, y);
    d.bytes = 4.0 * (double)(ve_tensor_numel(g, x) + ve_tensor_numel(g, y));
    if (ve_node_add(g, &d) || ve_tape_record(g, resize_backward, 1, &x, 1, &y, &c, sizeof c)) {
        ve_fail_context("resize_bilinear: ");
        return VE_NONE;
    }
    return y;
}

int ve_resize_rows_linear_host(const float *src, int64_t rows, int64_t cols, float *dst,
                               int64_t out_rows) {
    if (!src || !dst || rows < 1 || cols < 1 || out_rows < 1)
        return ve_fail("resize_rows_linear: bad arguments (rows %lld, cols %lld, out %lld)",
                       (long long)rows, (long long)cols, (long long)out_rows);
    const double scale = (float)rows / (float)out_rows; /* fp32, then exact products in double */
    for (int64_t o = 0; o < out_rows; o++) {
        double s = scale * ((double)o + 0.5) - 0.5;
        if (s < 0.0) s = 0.0;
        int64_t i0 = (int64_t)floor(s);
        if (i0 > rows - 1) i0 = rows - 1;
        int64_t i1 = i0 + (i0 < rows - 1 ? 1 : 0);
        double d = s - (double)i0;
        float l1 = (float)(d < 0.0 ? 0.0 : d > 1.0 ? 1.0 : d);
        float l0 = 1.0f - l1;
        /* fp32 as ATen: t0 w0, then += t1 w1 (separate statements: no fused multiply-add even
         * where a compiler contracts within an expression). */
        for (int64_t c = 0; c < cols; c++) {
            float a = l0 * src[i0 * cols + c];
            float b = l1 * src[i1 * cols + c];
            dst[o * cols + c] = a + b;
        }
    }
    return VE_OK;
}
