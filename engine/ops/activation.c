/* Activations: exact GELU (0.5 x (1 + erf(x / sqrt 2)), erf from shaders/erf.glsl) and ReLU.
 * Backward reads the saved input x: dx (+)= dy * gelu'(x), dx (+)= dy where x > 0. */
#include "elementwise.h"
#include "ops.h"
#include "status.h"

typedef struct {
    const char *name, *bwd_kernel, *bwd_op;
    double flops, bwd_flops; /* per element, rough: the erf polynomial and two exp2 */
} act_kind;

static const act_kind GELU = {"gelu", "gelu_bwd", "gelu_bwd", 30, 40};
static const act_kind RELU = {"relu", "relu_bwd", "relu_bwd", 1, 1};

static int act_backward(ve_graph *g, const ve_tape_entry *t, const act_kind *k) {
    ve_tid dy, dx;
    int acc;
    if (!ve_unary_grads(g, t, &dy, &dx, &acc)) return VE_OK;
    ve_ew_desc e = {.kernel = k->bwd_kernel,
                    .op = k->bwd_op,
                    .n_in = 2,
                    .in = {t->in[0], dy},
                    .out = dx,
                    .accumulate = acc,
                    .flops = k->bwd_flops};
    return ve_ew_node(g, &e) ? ve_fail_context("%s backward: ", k->name) : VE_OK;
}

static int gelu_backward(ve_graph *g, const ve_tape_entry *t) {
    return act_backward(g, t, &GELU);
}
static int relu_backward(ve_graph *g, const ve_tape_entry *t) {
    return act_backward(g, t, &RELU);
}

static ve_tid activation(ve_graph *g, ve_tid x, const act_kind *k, ve_backward_fn bwd) {
    if (ve_tensor_ndim(g, x) == 0) {
        ve_fail("%s: invalid tensor %d", k->name, (int)x);
        return VE_NONE;
    }
    ve_tid y = ve_ew_like(g, x, k->name);
    ve_ew_desc e = {
        .kernel = k->name, .op = k->name, .n_in = 1, .in = {x}, .out = y, .flops = k->flops};
    if (y == VE_NONE || ve_ew_node(g, &e) || ve_tape_record(g, bwd, 1, &x, 1, &y, NULL, 0)) {
        ve_fail_context("%s: ", k->name);
        return VE_NONE;
    }
    return y;
}

ve_tid ve_gelu(ve_graph *g, ve_tid x) {
    return activation(g, x, &GELU, gelu_backward);
}

ve_tid ve_relu(ve_graph *g, ve_tid x) {
    return activation(g, x, &RELU, relu_backward);
}
