#version 450
// Attention backward, rel-pos share of dq, one invocation per (query, head):
// dq += sum_ky dRelH[ky] Rh[qy - ky + Lh - 1] + sum_kx dRelW[kx] Rw[qx - kx + Lw - 1]
// (the bias uses the unscaled q). Always accumulates: attention_bwd_dq wrote dq first. DREL is in
// the bias layout (attention_common.glsl).
#include "attention_common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer DR { float drel[]; };
layout(set = 0, binding = 1) uniform samplerBuffer RH;
layout(set = 0, binding = 2) uniform samplerBuffer RW;
layout(std430, set = 0, binding = 3) buffer DQ { vec4 dq[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (qi >= p.nq)
        return;
    const uint qrow = q_token(t, qi), kh = p.nk / p.kw;
    const uint qy = qi / p.qw, qx = qi - qy * p.qw, b0 = uint(bias_texel(t, 0)) * 4 + qi;
    const uint bs = bias_q4() * 4;
    vec4 acc[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            acc[i] = vec4(0.0);
    for (uint y = 0; y < kh; y++) {
        const float w = drel[b0 + y * bs];
        const int r = (int(qy) - int(y) + int(p.lh)) * int(HD4);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                acc[i] += w * texelFetch(RH, r + int(i));
    }
    for (uint x = 0; x < p.kw; x++) {
        const float w = drel[b0 + (kh + x) * bs];
        const int r = (int(qx) - int(x) + int(p.lw)) * int(HD4);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                acc[i] += w * texelFetch(RW, r + int(i));
    }
    const uint o = qrow * p.q_rs + p.q_c0 + t.h * HD4;
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            dq[o + i] += acc[i];
}
