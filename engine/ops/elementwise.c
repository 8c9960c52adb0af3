/* Elementwise binary ops and scaling: add, mul (b of a's shape or [cols] broadcast over a's
 * rows), scale, and the node helper every elementwise kernel uses.
 *
 * Backward: add passes dy through (scale kernel, s = 1) or column-sums it for a broadcast b;
 * mul multiplies dy by the other operand, column-summing dy * a for a broadcast b. */
#include <stdio.h>
#include <string.h>

#include "elementwise.h"
#include "ops.h"
#include "status.h"

/* Lavapipe: workgroups of 8 lanes, 64 vec4s each (LAVAPIPE_NOTES.md; add 1024x768 measured
 * 0.78 ms at 64 or 96, 1.2-1.3 ms at 16 or 32); GPUs: one vec4 per lane, 64 lanes. */
static void ew_shape(const ve_graph *g, uint32_t *wg, uint32_t *vec) {
    int cpu = ve_device_get_info(ve_graph_device(g))->device_class == VE_CLASS_CPU;
    *wg = cpu ? 8 : 64;
    *vec = cpu ? 64 : 1;
}

int ve_ew_node(ve_graph *g, const ve_ew_desc *e) {
    int64_t n = ve_tensor_numel(g, e->out);
    if (n <= 0 || n > (int64_t)UINT32_MAX - 4)
        return ve_fail("%s: output '%s' has %lld elements (kernels index with 32 bits)", e->op,
                       ve_tensor_name(g, e->out), (long long)n);
    uint32_t wg, vec;
    ew_shape(g, &wg, &vec);
    ve_node_desc d = {.kernel = e->kernel, .op = e->op, .n_bind = e->n_in + 1};
    for (int i = 0; i < e->n_in; i++)
        d.bind[i] = (ve_binding){e->in[i], VE_READ, VE_BIND_TEXEL};
    d.bind[e->n_in] = (ve_binding){e->out, e->accumulate ? VE_RW : VE_WRITE, VE_BIND_STORAGE};
    uint32_t push[4] = {(uint32_t)n, e->accumulate != 0, e->cols, ve_f2u(e->s)};
    memcpy(d.push, push, sizeof push);
    d.push_bytes = sizeof push;
    d.n_spec = 3;
    d.spec[0] = wg;
    d.spec[1] = vec;
    d.spec[2] = e->bcast;
    uint64_t n4 = ((uint64_t)n + 3) / 4, per_group = (uint64_t)wg * vec;
    ve_groups_1d(g, (n4 + per_group - 1) / per_group, d.groups);
    d.flops = e->flops * (double)n;
    d.bytes = 4.0 * (double)n * (e->n_in + 1 + (e->accumulate != 0));
    return ve_node_add(g, &d);
}

ve_tid ve_ew_like(ve_graph *g, ve_tid x, const char *name) {
    int64_t shape[VE_MAX_DIMS];
    int nd = ve_tensor_ndim(g, x);
    for (int i = 0; i < nd; i++)
        shape[i] = ve_tensor_dim(g, x, i);
    return ve_tensor(g, VE_ACTIVATION, name, nd, shape);
}

/* ---- add, mul ---- */

typedef struct {
    int bcast; /* b is [cols], repeated over a's rows */
} binary_ctx;

static int same_shape(const ve_graph *g, ve_tid a, ve_tid b) {
    int nd = ve_tensor_ndim(g, a);
    if (nd != ve_tensor_ndim(g, b)) return 0;
    for (int i = 0; i < nd; i++)
        if (ve_tensor_dim(g, a, i) != ve_tensor_dim(g, b, i)) return 0;
    return 1;
}

static void shape_str(const ve_graph *g, ve_tid t, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < ve_tensor_ndim(g, t) && len + 24 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld",
                                (long long)ve_tensor_dim(g, t, i));
}

/* Sets *bcast; fails unless b has a's shape or is [cols] with cols = a's last dim. */
static int binary_check(const ve_graph *g, const char *op, ve_tid a, ve_tid b, int *bcast) {
    if (ve_tensor_ndim(g, a) == 0 || ve_tensor_ndim(g, b) == 0)
        return ve_fail("%s: invalid tensor (a %d, b %d)", op, (int)a, (int)b);
    *bcast = 0;
    if (same_shape(g, a, b)) return VE_OK;
    if (ve_tensor_ndim(g, b) == 1 && ve_tensor_dim(g, b, 0) == ve_tensor_dim(g, a, -1)) {
        *bcast = 1;
        return VE_OK;
    }
    char sa[96], sb[96];
    shape_str(g, a, sa, sizeof sa);
    shape_str(g, b, sb, sizeof sb);
    return ve_fail("%s: b '%s' [%s] is neither a's shape nor [cols] for a '%s' [%s]", op,
                   ve_tensor_name(g, b), sb, ve_tensor_name(g, a), sa);
}

/* y (+)= a op b with b broadcast when bcast. */
static int binary_node(ve_graph *g, const char *kernel, const char *op, ve_tid a, ve_tid b,
                       int bcast, ve_tid y, int accumulate) {
    uint32_t cols = bcast ? (uint32_t)ve_tensor_numel(g, b) : 0;
    ve_ew_desc e = {.kernel = kernel,
                    .op = op,
                    .n_in = 2,
                    .in = {a, b},
                    .out = y,
                    .accumulate = accumulate,
                    .bcast = bcast ? (cols % 4 == 0 ? 1 : 2) : 0,
                    .cols = cols,
                    .flops = 1};
    return ve_ew_node(g, &e);
}

static int scale_node(ve_graph *g, const char *op, ve_tid x, ve_tid y, float s, int accumulate) {
    ve_ew_desc e = {.kernel = "scale",
                    .op = op,
                    .n_in = 1,
                    .in = {x},
                    .out = y,
                    .accumulate = accumulate,
                    .s = s,
                    .flops = 1};
    return ve_ew_node(g, &e);
}

static ve_tid binary(ve_graph *g, const char *kernel, ve_tid a, ve_tid b, ve_backward_fn bwd) {
    binary_ctx c;
    if (binary_check(g, kernel, a, b, &c.bcast)) return VE_NONE;
    ve_tid y = ve_ew_like(g, a, kernel);
    ve_tid in[2] = {a, b};
    if (y == VE_NONE || binary_node(g, kernel, kernel, a, b, c.bcast, y, 0) ||
        ve_tape_record(g, bwd, 2, in, 1, &y, &c, sizeof c)) {
        ve_fail_context("%s: ", kernel);
        return VE_NONE;
    }
    return y;
}

static int add_backward(ve_graph *g, const ve_tape_entry *t) {
    binary_ctx c;
    memcpy(&c, t->ctx, sizeof c);
    ve_tid dy = ve_grad_of(g, t->out[0]);
    if (dy == VE_NONE) return VE_OK;
    int acc;
    ve_tid da = ve_grad_dest(g, t->in[0], &acc);
    if (da != VE_NONE && scale_node(g, "add_bwd", dy, da, 1.0f, acc))
        return ve_fail_context("add backward: ");
    ve_tid db = ve_grad_dest(g, t->in[1], &acc);
    if (db == VE_NONE) return VE_OK;
    int rc = c.bcast ? ve_sum_cols_node(g, dy, db, acc) : scale_node(g, "add_bwd", dy, db, 1, acc);
    return rc ? ve_fail_context("add backward: ") : VE_OK;
}

static int mul_backward(ve_graph *g, const ve_tape_entry *t) {
    binary_ctx c;
    memcpy(&c, t->ctx, sizeof c);
    ve_tid a = t->in[0], b = t->in[1], dy = ve_grad_of(g, t->out[0]);
    if (dy == VE_NONE) return VE_OK;
    int acc;
    ve_tid da = ve_grad_dest(g, a, &acc);
    if (da != VE_NONE && binary_node(g, "mul", "mul_bwd", dy, b, c.bcast, da, acc))
        return ve_fail_context("mul backward: ");
    ve_tid db = ve_grad_dest(g, b, &acc);
    if (db == VE_NONE) return VE_OK;
    if (!c.bcast)
        return binary_node(g, "mul", "mul_bwd", dy, a, 0, db, acc)
                   ? ve_fail_context("mul backward: ")
                   : VE_OK;
    /* db[c] = sum over rows of dy * a. */
    ve_tid prod = ve_ew_like(g, a, "mul_bwd.dy_a");
    if (prod == VE_NONE || binary_node(g, "mul", "mul_bwd", dy, a, 0, prod, 0) ||
        ve_sum_cols_node(g, prod, db, acc))
        return ve_fail_context("mul backward: ");
    return VE_OK;
}

ve_tid ve_add(ve_graph *g, ve_tid a, ve_tid b) {
    return binary(g, "add", a, b, add_backward);
}

ve_tid ve_mul(ve_graph *g, ve_tid a, ve_tid b) {
    return binary(g, "mul", a, b, mul_backward);
}

/* ---- scale ---- */

typedef struct {
    float s;
} scale_ctx;

static int scale_backward(ve_graph *g, const ve_tape_entry *t) {
    scale_ctx c;
    memcpy(&c, t->ctx, sizeof c);
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, t, &dy, &dx, &acc)) return VE_OK;
    return scale_node(g, "scale_bwd", dy, dx, c.s, acc) ? ve_fail_context("scale backward: ")
                                                        : VE_OK;
}

ve_tid ve_scale(ve_graph *g, ve_tid a, float s) {
    if (ve_tensor_ndim(g, a) == 0) {
        ve_fail("scale: invalid tensor %d", (int)a);
        return VE_NONE;
    }
    scale_ctx c = {s};
    ve_tid y = ve_ew_like(g, a, "scale");
    if (y == VE_NONE || scale_node(g, "scale", a, y, s, 0) ||
        ve_tape_record(g, scale_backward, 1, &a, 1, &y, &c, sizeof c)) {
        ve_fail_context("scale: ");
        return VE_NONE;
    }
    return y;
}
