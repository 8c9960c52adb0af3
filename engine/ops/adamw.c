/* AdamW, PyTorch 1.13 semantics (torch/optim/adamw.py, _single_tensor_adamw), as one dispatch
 * over the contiguous buffer of every trainable that received a gradient.
 *
 * The per-step scalars live in the graph's step-values buffer, so a recorded step is replayed
 * with only ve_adamw_set_step in between. They are computed in double from the hyperparameters as
 * Python would, then rounded to float where PyTorch hands them to its fp32 kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "ops.h"
#include "status.h"

/* Step-values slots, as shaders/adamw.comp reads them. */
enum {
    S_DECAY,
    S_BETA1,
    S_ONE_M_BETA1,
    S_BETA2,
    S_ONE_M_BETA2,
    S_NEG_STEP_SIZE,
    S_BC2_SQRT,
    S_EPS,
    S_COUNT
};

static int adamw_node(ve_graph *g, const ve_device_info *info, ve_tid params, ve_tid grads,
                      ve_tid m, ve_tid v, ve_tid sv, ve_tid guard, int64_t n) {
    const int gpu = info->device_class == VE_CLASS_GPU;
    /* Lavapipe: workgroups of 8 (its SIMD width), a few dozen texels per invocation. */
    const uint32_t wg = gpu ? 64 : 8, per = gpu ? 1 : 16;
    const uint64_t n4 = ((uint64_t)n + 3) / 4;
    ve_node_desc d = {.kernel = "adamw", .op = "adamw", .n_bind = 9};
    /* Read through texel views, written through storage buffers (see shaders/adamw.comp). */
    d.bind[0] = (ve_binding){params, VE_WRITE, VE_BIND_STORAGE};
    d.bind[1] = (ve_binding){grads, VE_READ, VE_BIND_TEXEL};
    d.bind[2] = (ve_binding){m, VE_WRITE, VE_BIND_STORAGE};
    d.bind[3] = (ve_binding){v, VE_WRITE, VE_BIND_STORAGE};
    d.bind[4] = (ve_binding){sv, VE_READ, VE_BIND_TEXEL};
    d.bind[5] = (ve_binding){params, VE_READ, VE_BIND_TEXEL};
    d.bind[6] = (ve_binding){m, VE_READ, VE_BIND_TEXEL};
    d.bind[7] = (ve_binding){v, VE_READ, VE_BIND_TEXEL};
    /* Without a guard the step values stand in (the shader does not read them there). */
    d.bind[8] = (ve_binding){guard != VE_NONE ? guard : sv, VE_READ, VE_BIND_STORAGE};
    d.push[0] = (uint32_t)n4;
    d.push_bytes = 4;
    d.n_spec = 3;
    d.spec[0] = wg;
    d.spec[1] = per;
    d.spec[2] = guard != VE_NONE;
    ve_groups_1d(g, (n4 + (uint64_t)wg * per - 1) / ((uint64_t)wg * per), d.groups);
    d.flops = 14.0 * (double)n;
    d.bytes = 28.0 * (double)n;
    return ve_node_add(g, &d);
}

int ve_adamw(ve_graph *g, const ve_adamw_opts *o) {
    return ve_adamw_guarded(g, o, VE_NONE);
}

int ve_adamw_guarded(ve_graph *g, const ve_adamw_opts *o, ve_tid guard) {
    ve_tid params, grads;
    int64_t n;
    if (!o) return ve_fail("adamw: no options");
    if (guard != VE_NONE && ve_tensor_numel(g, guard) < 1)
        return ve_fail("adamw: the guard tensor is empty");
    if (ve_trainable_flat(g, &params, &grads, &n)) return ve_fail_context("adamw: ");
    const ve_device_info *info = ve_device_get_info(ve_graph_device(g));
    ve_tid m = ve_tensor(g, VE_STATE, "adamw.exp_avg", 1, &n);
    ve_tid v = ve_tensor(g, VE_STATE, "adamw.exp_avg_sq", 1, &n);
    ve_tid sv = ve_graph_step_values(g);
    if (m == VE_NONE || v == VE_NONE || sv == VE_NONE) return ve_fail_context("adamw: ");
    /* One dispatch, unless the flat buffer is over the device's binding limit: then chunks of
     * views (multiples of 1024 elements keep every view offset aligned). */
    uint64_t limit = info->max_storage_buffer_range / 4;
    if (info->max_texel_buffer_elements * 4 < limit) limit = info->max_texel_buffer_elements * 4;
    if (limit > ((uint64_t)1 << 31)) limit = (uint64_t)1 << 31;
    const int64_t chunk = (int64_t)(limit / 1024 * 1024);
    for (int64_t off = 0; off < n; off += chunk) {
        int64_t len = n - off < chunk ? n - off : chunk;
        ve_tid cp = params, cg = grads, cm = m, cv = v;
        if (len != n) {
            cp = ve_view(g, params, off, 1, &len);
            cg = ve_view(g, grads, off, 1, &len);
            cm = ve_view(g, m, off, 1, &len);
            cv = ve_view(g, v, off, 1, &len);
            if (cp == VE_NONE || cg == VE_NONE || cm == VE_NONE || cv == VE_NONE)
                return ve_fail_context("adamw: ");
        }
        if (adamw_node(g, info, cp, cg, cm, cv, sv, guard, len) != VE_OK)
            return ve_fail_context("adamw: ");
    }
    return VE_OK;
}

int ve_adamw_grads(ve_graph *g, ve_tid *grads, int64_t *n) {
    ve_tid params;
    if (ve_adamw_moments(g, &params, &params) != VE_OK) return VE_FAIL;
    return ve_trainable_flat(g, &params, grads, n);
}

int ve_adamw_moments(ve_graph *g, ve_tid *exp_avg, ve_tid *exp_avg_sq) {
    *exp_avg = ve_tensor_find(g, "adamw.exp_avg");
    *exp_avg_sq = ve_tensor_find(g, "adamw.exp_avg_sq");
    if (*exp_avg == VE_NONE || *exp_avg_sq == VE_NONE)
        return ve_fail("adamw: the graph has no optimiser (ve_adamw was not called)");
    return VE_OK;
}

/* The double a Python user meant by a hyperparameter that reached us as a float: the shortest
 * decimal that rounds to it (0.9f -> 0.9), so 1 - beta1 is computed as PyTorch computes it. */
static double intended(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

int ve_adamw_set_step(ve_graph *g, const ve_adamw_opts *o, double lr, int64_t step) {
    if (!o || step < 1 || !isfinite(lr))
        return ve_fail("adamw: bad step %lld or learning rate %g (steps count from 1)",
                       (long long)step, lr);
    const double beta1 = intended(o->beta1), beta2 = intended(o->beta2);
    const double eps = intended(o->eps), wd = intended(o->weight_decay);
    const double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    float vals[16] = {0};
    vals[S_DECAY] = (float)(1.0 - lr * wd);
    vals[S_BETA1] = (float)beta1;
    vals[S_ONE_M_BETA1] = (float)(1.0 - beta1);
    vals[S_BETA2] = (float)beta2;
    vals[S_ONE_M_BETA2] = (float)(1.0 - beta2);
    vals[S_NEG_STEP_SIZE] = (float)(-(lr / bc1));
    vals[S_BC2_SQRT] = (float)sqrt(bc2);
    vals[S_EPS] = (float)eps;
    _Static_assert(S_COUNT <= 16, "step values hold 16 floats");
    if (ve_tensor_write(g, ve_graph_step_values(g), vals, 16))
        return ve_fail_context("adamw: step values: ");
    return VE_OK;
}
