#version 450
// Decomposed rel-pos bias of SAM's image encoder, one invocation per (query, head): the query's
// q.Rh[qy - ky + lh] for every key row ky < kh and q.Rw[qx - kx + lw] for every key column
// kx < kw (unscaled q), written to the layout of bias_texel() (attention_common.glsl) that
// attention_fwd and the backward kernels read. The slots that pad a block's queries to a
// multiple of 4 get zeros.
#include "attention_common.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer RH;
layout(set = 0, binding = 2) uniform samplerBuffer RW;
layout(std430, set = 0, binding = 3) writeonly buffer B { float bias[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint nq4 = bias_q4(), kh = p.nk / p.kw;
    if (qi >= nq4 * 4)
        return;
    const uint b0 = uint(bias_texel(t, 0)) * 4 + qi, stride = nq4 * 4;
    if (qi >= p.nq) {
        for (uint r = 0; r < kh + p.kw; r++)
            bias[b0 + r * stride] = 0.0;
        return;
    }
    const uint qrow = q_token(t, qi), qy = qi / p.qw, qx = qi - qy * p.qw;
    vec4 q[MAXD4];
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            q[i] = texelFetch(Q, q_texel(t, qrow) + int(i));
    for (uint y = 0; y < kh; y++) {
        const int r = (int(qy) - int(y) + int(p.lh)) * int(HD4);
        vec4 s = vec4(0.0);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                s += q[i] * texelFetch(RH, r + int(i));
        bias[b0 + y * stride] = (s.x + s.y) + (s.z + s.w);
    }
    for (uint x = 0; x < p.kw; x++) {
        const int r = (int(qx) - int(x) + int(p.lw)) * int(HD4);
        vec4 s = vec4(0.0);
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                s += q[i] * texelFetch(RW, r + int(i));
        bias[b0 + (kh + x) * stride] = (s.x + s.y) + (s.z + s.w);
    }
}
