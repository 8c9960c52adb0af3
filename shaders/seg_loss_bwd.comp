#version 450
// SAMed's loss, backward: d logits for PER groups of 4 pixels per invocation, the softmax
// recomputed from the logits. With G_ce = w_ce dloss + dce and G_d = w_dice dloss + ddice:
// dL/dp_c = G_d / K * d dice_c / d p_c = a_c t_c + b_c p_c, a_c = -2 G_d / (K U_c),
// b_c = 2 G_d (2 I_c + eps) / (K U_c^2); then through the softmax Jacobian
// dz_c = p_c (g_c - sum_k g_k p_k), plus the CE term G_ce (p_c - t_c) / N.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint K = 2;
layout(constant_id = 2) const uint VEC = 0;
layout(constant_id = 3) const uint PER = 1; // 4-pixel groups per invocation

layout(set = 0, binding = 0) uniform samplerBuffer Z;
layout(set = 0, binding = 1) uniform samplerBuffer L;
layout(std430, set = 0, binding = 2) readonly buffer Stats { float stats[]; }; // I_c, U_c
layout(std430, set = 0, binding = 3) readonly buffer GLoss { float g_loss[]; };
layout(std430, set = 0, binding = 4) readonly buffer GCe { float g_ce[]; };
layout(std430, set = 0, binding = 5) readonly buffer GDice { float g_dice[]; };
layout(std430, set = 0, binding = 6) buffer DZ { vec4 dz[]; }; // padded to 16 bytes

layout(push_constant) uniform P {
    uint batch, hw, have; // have: bit 0 dloss, 1 dce, 2 ddice bound for real
    uint accumulate;
    float inv_n, w_ce, w_dice, eps;
} p;

#include "seg_loss_common.glsl"

void store(uint e, uint n, vec4 v) {
    if (VEC == 1) {
        if (p.accumulate != 0)
            v += dz[e >> 2];
        dz[e >> 2] = v;
        return;
    }
    for (uint j = 0; j < 4; j++)
        if (j < n) {
            const uint k = e + j;
            float o = v[j];
            if (p.accumulate != 0)
                o += dz[k >> 2][k & 3];
            dz[k >> 2][k & 3] = o;
        }
}

void main() {
    const uint gid = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) *
                         gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint gpi = (p.hw + 3) / 4, units = p.batch * gpi;
    const uint u0 = gid * PER;
    if (u0 >= units)
        return;
    const float gl = (p.have & 1) != 0 ? g_loss[0] : 0.0;
    const float gce = p.w_ce * gl + ((p.have & 2) != 0 ? g_ce[0] : 0.0);
    const float gd = p.w_dice * gl + ((p.have & 4) != 0 ? g_dice[0] : 0.0);
    const float kce = gce * p.inv_n;
    float a[K], bb[K];
    for (uint c = 0; c < K; c++) {
        const float i = stats[c], u = stats[K + c], f = 2.0 * gd / (float(K) * u);
        a[c] = -f;
        bb[c] = f * (2.0 * i + p.eps) / u;
    }
    const uint u1 = min(units, u0 + PER);
    for (uint un = u0; un < u1; un++) {
        const uint b = un / gpi, i = (un % gpi) * 4, n = min(4u, p.hw - i);
        const uint zb = b * K * p.hw;
        const vec4 lab = mix(vec4(-1.0), load4(L, b * p.hw + i, n), lanes_below(n));
        vec4 z[K];
        for (uint c = 0; c < K; c++)
            z[c] = load4(Z, zb + c * p.hw + i, n);
        vec4 m = z[0];
        for (uint c = 1; c < K; c++)
            m = max(m, z[c]);
        vec4 s = vec4(0.0);
        for (uint c = 0; c < K; c++) {
            z[c] = exp(z[c] - m);
            s += z[c];
        }
        const vec4 inv = 1.0 / s;
        vec4 gp = vec4(0.0), hit = vec4(0.0);
        for (uint c = 0; c < K; c++) {
            const vec4 t = onehot(lab, c);
            z[c] *= inv; // p_c
            gp += (a[c] * t + bb[c] * z[c]) * z[c];
            hit += t;
        }
        for (uint c = 0; c < K; c++) {
            // hit: only pixels with a class label have a CE term
            const vec4 t = onehot(lab, c), g = a[c] * t + bb[c] * z[c];
            store(zb + c * p.hw + i, n, z[c] * (g - gp) + kce * (hit * z[c] - t));
        }
    }
}
