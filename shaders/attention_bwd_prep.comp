#version 450
// Attention backward, step 1, one invocation per (query, head): delta = dO . O (the softmax
// backward's row term) next to the saved log-sum-exp, and with rel pos the query's bias terms
// q.Rh[qy - ky + Lh - 1] (ky < kh) and q.Rw[...] (kx < kw), which the other backward kernels
// read instead of recomputing them per (query, key) pair.
#include "attention_common.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer O;
layout(set = 0, binding = 2) uniform samplerBuffer DO;
layout(std430, set = 0, binding = 3) readonly buffer L { float lse[]; };
layout(set = 0, binding = 4) uniform samplerBuffer RH; // Q stands in without rel pos
layout(set = 0, binding = 5) uniform samplerBuffer RW;
layout(std430, set = 0, binding = 6) writeonly buffer S { vec2 stats[]; }; // (lse, delta)
layout(std430, set = 0, binding = 7) writeonly buffer B { float bias[]; }; // [row, head][kh + kw]

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (qi >= p.nq)
        return;
    const uint qrow = q_token(t, qi), rh = qrow * p.heads + t.h;
    const int orow = int(qrow * p.heads * HD4 + t.h * HD4);
    vec4 d = vec4(0.0);
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            d += texelFetch(O, orow + int(i)) * texelFetch(DO, orow + int(i));
    stats[rh] = vec2(lse[rh], (d.x + d.y) + (d.z + d.w));
    if (REL == 1) {
        vec4 q[MAXD4];
        [[unroll]] for (uint i = 0; i < MAXD4; i++)
            if (i < HD4)
                q[i] = texelFetch(Q, q_texel(t, qrow) + int(i));
        const uint qy = qi / p.qw, qx = qi - qy * p.qw, kh = p.nk / p.kw;
        const uint b0 = rh * (kh + p.kw);
        for (uint y = 0; y < kh; y++) {
            const int r = (int(qy) - int(y) + int(p.lh)) * int(HD4);
            vec4 s = vec4(0.0);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    s += q[i] * texelFetch(RH, r + int(i));
            bias[b0 + y] = (s.x + s.y) + (s.z + s.w);
        }
        for (uint x = 0; x < p.kw; x++) {
            const int r = (int(qx) - int(x) + int(p.lw)) * int(HD4);
            vec4 s = vec4(0.0);
            [[unroll]] for (uint i = 0; i < MAXD4; i++)
                if (i < HD4)
                    s += q[i] * texelFetch(RW, r + int(i));
            bias[b0 + kh + x] = (s.x + s.y) + (s.z + s.w);
        }
    }
}
