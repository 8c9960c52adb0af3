#version 450
// Attention backward, step 1, one invocation per (query, head): delta = dO.O (the softmax
// backward's row term) next to the saved log-sum-exp, in the layout of stats_texel()
// (attention_common.glsl); the slots that pad a block's queries to a multiple of 4 get zeros.
// (The rel-pos bias terms the other backward kernels need were saved by the forward:
// attention_bias.comp.)
#include "attention_common.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer O;
layout(set = 0, binding = 1) uniform samplerBuffer DO;
layout(std430, set = 0, binding = 2) readonly buffer L { float lse[]; };
layout(std430, set = 0, binding = 3) writeonly buffer S { float stats[]; };

void main() {
    Tile t;
    if (!tile_of(t))
        return;
    const uint qi = t.blk * gl_WorkGroupSize.x + gl_LocalInvocationID.x, nq4 = bias_q4();
    if (qi >= nq4 * 4)
        return;
    const uint s0 = uint(stats_texel(t, 0)) * 4 + qi;
    if (qi >= p.nq) {
        stats[s0] = stats[s0 + nq4 * 4] = 0.0;
        return;
    }
    const uint qrow = q_token(t, qi), rh = qrow * p.heads + t.h;
    const int orow = int(qrow * p.heads * HD4 + t.h * HD4);
    vec4 d = vec4(0.0);
    [[unroll]] for (uint i = 0; i < MAXD4; i++)
        if (i < HD4)
            d += texelFetch(O, orow + int(i)) * texelFetch(DO, orow + int(i));
    stats[s0] = lse[rh];
    stats[s0 + nq4 * 4] = (d.x + d.y) + (d.z + d.w);
}
